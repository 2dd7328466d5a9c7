package sentry

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/vfs"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zerocopy"
)

// The task is the guest memory of syscalls/.
var _ syscalls.Memory = (*kernel.Task)(nil)

// guestSocket is a zcSocket as syscalls/ sees it. It is a separate type so
// that zcSocket, which gVisor sees as a socket.Socket, gets no methods
// beyond gVisor's.
type guestSocket zcSocket

var _ syscalls.Socket = (*guestSocket)(nil)

// Family implements syscalls.Socket.Family.
func (g *guestSocket) Family() int {
	return g.family
}

// ZerocopyEnabled implements syscalls.Socket.ZerocopyEnabled.
func (g *guestSocket) ZerocopyEnabled() bool {
	_, on := (*zcSocket)(g).zerocopyEnabled()
	return on
}

// ErrorQueue implements syscalls.Socket.ErrorQueue.
func (g *guestSocket) ErrorQueue() *zerocopy.ErrorQueue {
	if zc := g.zc.Load(); zc != nil {
		return zc.queue
	}
	return nil
}

// call returns the syscalls/ context of a syscall of t on s. gVisor runs
// only 64-bit tasks; its socket message syscalls fail for others before they
// get here.
func (s *zcSocket) call(t *kernel.Task, file *vfs.FileDescription) *syscalls.Call {
	return &syscalls.Call{
		Mem:         t,
		ABI:         syscalls.ABI64,
		Sock:        (*guestSocket)(s),
		NonBlocking: file.StatusFlags()&linux.SOCK_NONBLOCK != 0,
	}
}

// sysErr converts the errno values syscalls/ makes to gVisor's errors; other
// errors (those of the send) pass unchanged.
func sysErr(err error) error {
	if errno, ok := err.(unix.Errno); ok {
		return linuxerr.ErrorFromUnix(errno)
	}
	return err
}
