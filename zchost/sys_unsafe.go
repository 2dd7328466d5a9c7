package zchost

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errPayloadMax bounds the payload of a host error-queue entry that is
// read: the start of the packet an ICMP error quotes, at most 576 bytes of
// IPv4 or 1280 of IPv6 from Linux, and never more than the ICMP message.
const errPayloadMax = 64 << 10

// payloads holds the buffers error-queue reads take their payload in.
var payloads = sync.Pool{New: func() any { return new([errPayloadMax]byte) }}

// scratch is the memory of the State's host calls, which State.mu
// serializes: the msghdr and what the host writes for a receive live here,
// not on the stack, so that a call allocates nothing. ctl has room for the
// IP_RECVERR message after every control message ip_recv_error may put
// before it (as hostinet's maxControlLen).
type scratch struct {
	msg     unix.Msghdr
	iov     unix.Iovec
	name    [unix.SizeofSockaddrInet6]byte
	ctl     [1024]byte
	payload *[errPayloadMax]byte
}

// sendmsg is one non-blocking sendmsg(2) on the host socket fd.
func (sc *scratch) sendmsg(fd int, iov []unix.Iovec, to, control []byte, flags int) (int, error) {
	sc.msg = unix.Msghdr{}
	if len(iov) > 0 {
		sc.msg.Iov = &iov[0]
		sc.msg.SetIovlen(len(iov))
	}
	if len(to) > 0 {
		sc.msg.Name = &to[0]
		sc.msg.Namelen = uint32(len(to))
	}
	if len(control) > 0 {
		sc.msg.Control = &control[0]
		sc.msg.SetControllen(len(control))
	}
	n, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&sc.msg)), uintptr(flags))
	sc.msg = unix.Msghdr{}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// recvmsg is one recvmsg(2) on the host socket fd into the scratch's
// payload, name and control buffers, which it returns filled.
func (sc *scratch) recvmsg(fd, flags int) (n int, ctl, name []byte, err error) {
	sc.iov = unix.Iovec{Base: &sc.payload[0]}
	sc.iov.SetLen(len(sc.payload))
	sc.msg = unix.Msghdr{
		Name:    &sc.name[0],
		Namelen: uint32(len(sc.name)),
		Iov:     &sc.iov,
		Iovlen:  1,
		Control: &sc.ctl[0],
	}
	sc.msg.SetControllen(len(sc.ctl))
	r, _, errno := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&sc.msg)), uintptr(flags))
	if errno != 0 {
		return 0, nil, nil, errno
	}
	return int(r), sc.ctl[:sc.msg.Controllen], sc.name[:min(int(sc.msg.Namelen), len(sc.name))], nil
}
