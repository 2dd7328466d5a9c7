package zerocopy

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Sizes of the data of the control message recvmsg(MSG_ERRQUEUE) returns:
// struct sock_extended_err (16 bytes) followed by the offender's sockaddr_in
// (16) or sockaddr_in6 (28), as ip_recv_error and ipv6_recv_error lay them
// out (struct sock_exterr_skb's ee and offender). With a 64-bit cmsghdr,
// cmsg_len is 48 and 60; with the 12-byte compat one, 44 and 56.
const (
	SizeofSockExtendedErr = 16
	ErrCmsgDataLen4       = SizeofSockExtendedErr + unix.SizeofSockaddrInet4
	ErrCmsgDataLen6       = SizeofSockExtendedErr + unix.SizeofSockaddrInet6
)

// ErrCmsgLevelType returns the level and type of the error-queue control
// message on a socket of family: SOL_IP/IP_RECVERR for AF_INET,
// SOL_IPV6/IPV6_RECVERR for AF_INET6.
func ErrCmsgLevelType(family int) (level, typ int32) {
	if family == unix.AF_INET6 {
		return unix.SOL_IPV6, unix.IPV6_RECVERR
	}
	return unix.SOL_IP, unix.IP_RECVERR
}

// AppendErrCmsgData appends the data of the error-queue control message
// Linux builds for e on a socket of family: the sock_extended_err, then the
// offender as a sockaddr_in (AF_INET) or sockaddr_in6 (AF_INET6) with port 0,
// all zero (AF_UNSPEC) when e has none, as for zerocopy completions. An IPv4
// offender on an AF_INET6 socket is shown v4-mapped. Byte order is little
// endian, that of x86-64 and arm64.
func AppendErrCmsgData(b []byte, family int, e *Entry) []byte {
	ee := &e.Err
	b = binary.LittleEndian.AppendUint32(b, ee.Errno)
	b = append(b, ee.Origin, ee.Type, ee.Code, ee.Pad)
	b = binary.LittleEndian.AppendUint32(b, ee.Info)
	b = binary.LittleEndian.AppendUint32(b, ee.Data)
	if e.Offender.IsValid() {
		return AppendSockaddr(b, family, e.Offender, 0)
	}
	if family == unix.AF_INET6 {
		return append(b, make([]byte, unix.SizeofSockaddrInet6)...)
	}
	return append(b, make([]byte, unix.SizeofSockaddrInet4)...)
}

// AppendSockaddr appends a sockaddr_in for AF_INET (address 0.0.0.0 if a is
// not IPv4) or a sockaddr_in6 for AF_INET6 (IPv4 addresses v4-mapped,
// flowinfo and scope id 0), port in network byte order.
func AppendSockaddr(b []byte, family int, a netip.Addr, port uint16) []byte {
	if family == unix.AF_INET6 {
		b = binary.LittleEndian.AppendUint16(b, unix.AF_INET6)
		b = binary.BigEndian.AppendUint16(b, port)
		b = append(b, 0, 0, 0, 0) // sin6_flowinfo
		a16 := a.As16()
		b = append(b, a16[:]...)
		return append(b, 0, 0, 0, 0) // sin6_scope_id
	}
	b = binary.LittleEndian.AppendUint16(b, unix.AF_INET)
	b = binary.BigEndian.AppendUint16(b, port)
	var a4 [4]byte
	if u := a.Unmap(); u.Is4() {
		a4 = u.As4()
	}
	b = append(b, a4[:]...)
	return append(b, make([]byte, 8)...) // sin_zero
}
