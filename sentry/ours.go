package sentry

import (
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/vfs"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zchost"
	"github.com/zcstack/zcstack/zcsocket"
)

// ourSocket is a socket file description of ours: a TCP or UDP socket of
// gVisor's netstack (zcSocket) or of its hostinet (hostSocket). The
// syscall overrides serve both through it.
type ourSocket interface {
	socket.Socket
	// zerocopy returns the socket's zerocopy state if it has one (it has
	// had SO_ZEROCOPY set), making it if create; else nil.
	zerocopy(create bool) zerocopyState
	// setZerocopy is setsockopt(SOL_SOCKET, SO_ZEROCOPY) of the value v.
	setZerocopy(v int32) error
	// sendMsg and sendMMsg are sendmsg(2) and sendmmsg(2) on a socket with
	// SO_ZEROCOPY, through c.
	sendMsg(t *kernel.Task, file *vfs.FileDescription, c syscalls.Call, msgAddr hostarch.Addr, flags uint32) (int, error)
	sendMMsg(t *kernel.Task, file *vfs.FileDescription, c syscalls.Call, vecAddr hostarch.Addr, vlen, flags uint32) (int, error)
	// sendTo is sendto(2) with MSG_ZEROCOPY, whose flags are flags, on a
	// socket with SO_ZEROCOPY; orig is gVisor's sendto, and args its
	// arguments without MSG_ZEROCOPY.
	sendTo(t *kernel.Task, file *vfs.FileDescription, flags uint32, orig kernel.SyscallFn, sysno uintptr, args arch.SyscallArguments) (int, error)
	// setSockErr sets the socket error (SO_ERROR) to errno, as the error
	// that ends a partial recvmmsg does.
	setSockErr(errno uint32)
	// recvErrOn reports IP_RECVERR (level SOL_IP) or IPV6_RECVERR
	// (SOL_IPV6).
	recvErrOn(level int32) bool
}

// zerocopyState is the zerocopy state of a socket of ours: the socket that
// syscalls/ serves, whose error queue reads move the errors of the layer
// below in, and the purge that turning IP_RECVERR off makes.
type zerocopyState interface {
	syscalls.Socket
	PurgeErrors()
}

var (
	_ zerocopyState = (*zcsocket.State)(nil)
	_ zerocopyState = (*zchost.State)(nil)
)

// socketOf returns the socket of ours that file is, if it is one.
func socketOf(file *vfs.FileDescription) (ourSocket, bool) {
	s, ok := file.Impl().(ourSocket)
	return s, ok
}

// zerocopyOn reports SO_ZEROCOPY of s and returns its zerocopy state when it
// is set.
func zerocopyOn(s ourSocket) (zerocopyState, bool) {
	zc := s.zerocopy(false)
	return zc, zc != nil && zc.ZerocopyEnabled()
}
