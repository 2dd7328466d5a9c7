package zerocopy

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// ParseSockaddr decodes a sockaddr_in or sockaddr_in6 as the kernel writes
// one (and AppendSockaddr does): ok is false for a buffer too short for
// its family or another family (AF_UNSPEC among them). IPv4-mapped IPv6
// addresses stay mapped; flowinfo and scope id are dropped.
func ParseSockaddr(b []byte) (netip.AddrPort, bool) {
	if len(b) < 2 {
		return netip.AddrPort{}, false
	}
	switch binary.LittleEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:])), true
	case unix.AF_INET6:
		if len(b) < unix.SizeofSockaddrInet6 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), binary.BigEndian.Uint16(b[2:])), true
	}
	return netip.AddrPort{}, false
}

// ParseErrCmsgData decodes the data of an IP_RECVERR or IPV6_RECVERR control
// message as Linux's ip_recv_error and ipv6_recv_error write it (and
// ErrMsg.Build does): the sock_extended_err, then the offender
// (SO_EE_OFFENDER), the zero Addr when its family is AF_UNSPEC or the data
// ends before it. ok is false if data is shorter than a sock_extended_err.
func ParseErrCmsgData(data []byte) (ee unix.SockExtendedErr, offender netip.Addr, ok bool) {
	if len(data) < SizeofSockExtendedErr {
		return ee, offender, false
	}
	ee = unix.SockExtendedErr{
		Errno:  binary.LittleEndian.Uint32(data[0:]),
		Origin: data[4],
		Type:   data[5],
		Code:   data[6],
		Pad:    data[7],
		Info:   binary.LittleEndian.Uint32(data[8:]),
		Data:   binary.LittleEndian.Uint32(data[12:]),
	}
	if ap, ok := ParseSockaddr(data[SizeofSockExtendedErr:]); ok {
		offender = ap.Addr()
	}
	return ee, offender, true
}
