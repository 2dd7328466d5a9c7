package zerocopy

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// SizeofSockExtendedErr is sizeof(struct sock_extended_err).
const SizeofSockExtendedErr = 16

// ErrCmsgDataLen6 is the most data an error-queue control message holds:
// struct sock_extended_err followed by the offender's sockaddr_in6 (an
// AF_INET socket's has a sockaddr_in), as struct sock_exterr_skb lays them
// out. With a 64-bit cmsghdr, cmsg_len is 60 (48 for AF_INET).
const ErrCmsgDataLen6 = SizeofSockExtendedErr + unix.SizeofSockaddrInet6

// ErrMsg is the message recvmsg(MSG_ERRQUEUE) returns for an error-queue
// entry, as Linux's ip_recv_error and ipv6_recv_error build it. Every
// writer of an error-queue read takes it from here and only copies it out.
type ErrMsg struct {
	// Payload is the data: the start of the packet that caused the error,
	// none for a zerocopy completion.
	Payload []byte
	// Name is msg_name: the sockaddr of the packet's destination, empty
	// if the entry has none (a zerocopy completion).
	Name []byte
	// Level and Type are those of the one control message: SOL_IP and
	// IP_RECVERR on an AF_INET socket, SOL_IPV6 and IPV6_RECVERR on an
	// AF_INET6 one.
	Level, Type int32
	// Data is the control message's data: the sock_extended_err, then the
	// offender's address.
	Data []byte

	buf [ErrCmsgDataLen6 + unix.SizeofSockaddrInet6]byte
}

// IPLevel returns the IP level of a socket of family: SOL_IPV6 for
// AF_INET6, else SOL_IP. Its error-queue message and its IP control
// messages are at that level.
func IPLevel(family int) int32 {
	if family == unix.AF_INET6 {
		return unix.SOL_IPV6
	}
	return unix.SOL_IP
}

// Build sets m to the message of e on a socket of family. m aliases e's
// payload and its own storage.
func (m *ErrMsg) Build(family int, e *Entry) {
	m.Payload = e.Payload
	m.Level, m.Type = IPLevel(family), unix.IP_RECVERR
	if family == unix.AF_INET6 {
		m.Type = unix.IPV6_RECVERR
	}
	m.Data = appendErrCmsgData(m.buf[:0], family, e)
	m.Name = m.buf[len(m.Data):len(m.Data)]
	if e.Dst.IsValid() {
		m.Name = AppendSockaddr(m.Name, family, e.Dst.Addr(), e.Dst.Port())
	}
}

// Flags returns the msg_flags of the message received into room bytes of
// data: MSG_ERRQUEUE, MSG_TRUNC if the payload did not fit and MSG_CTRUNC
// if ctrunc (the control message did not).
func (m *ErrMsg) Flags(room int64, ctrunc bool) uint32 {
	flags := uint32(unix.MSG_ERRQUEUE)
	if int64(len(m.Payload)) > room {
		flags |= unix.MSG_TRUNC
	}
	if ctrunc {
		flags |= unix.MSG_CTRUNC
	}
	return flags
}

// appendErrCmsgData appends the data of the error-queue control message
// Linux builds for e on a socket of family: the sock_extended_err, then the
// offender as a sockaddr_in (AF_INET) or sockaddr_in6 (AF_INET6) with port 0,
// all zero (AF_UNSPEC) when e has none, as for zerocopy completions. An IPv4
// offender on an AF_INET6 socket is shown v4-mapped. Byte order is little
// endian, that of x86-64 and arm64.
func appendErrCmsgData(b []byte, family int, e *Entry) []byte {
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
