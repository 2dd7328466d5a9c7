package sentry

import (
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/vfs"

	"github.com/zcstack/zcstack/syscalls"
)

// ourSocket is a socket file description of ours: a TCP or UDP socket of
// gVisor's netstack (zcSocket) or of its hostinet (hostSocket). The
// syscall overrides serve both through it.
type ourSocket interface {
	socket.Socket
	// zerocopy returns the socket's zerocopy state, the socket of
	// syscalls/, if it has one (it has had SO_ZEROCOPY set), making it if
	// create; else nil.
	zerocopy(create bool) syscalls.Socket
	// setZerocopy is setsockopt(SOL_SOCKET, SO_ZEROCOPY) of the value v.
	setZerocopy(v int32) error
	// send sends one message that syscalls/ read (its SendFunc) on a socket
	// that has its zerocopy state.
	send(t *kernel.Task, file *vfs.FileDescription, op string, m *syscalls.Send) (int, error)
	// sendTo is sendto(2) with MSG_ZEROCOPY, whose flags are flags, on a
	// socket with SO_ZEROCOPY; orig is gVisor's sendto of args without
	// MSG_ZEROCOPY.
	sendTo(t *kernel.Task, file *vfs.FileDescription, flags uint32, orig func() (int, error), args arch.SyscallArguments) (int, error)
	// refill moves the errors of the layer below (netstack's error queue,
	// the host socket's) into the zerocopy state's, before a read of it.
	refill()
	// setSockErr sets the socket error (SO_ERROR) to errno, as the error
	// that ends a partial recvmmsg does.
	setSockErr(errno uint32)
}

// socketOf returns the socket of ours that file is, if it is one.
func socketOf(file *vfs.FileDescription) (ourSocket, bool) {
	s, ok := file.Impl().(ourSocket)
	return s, ok
}

// zerocopyOn reports SO_ZEROCOPY of s and returns its zerocopy state when it
// is set.
func zerocopyOn(s ourSocket) (syscalls.Socket, bool) {
	zc := s.zerocopy(false)
	return zc, zc != nil && zc.ZerocopyEnabled()
}
