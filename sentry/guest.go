package sentry

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/vfs"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zchost"
	"github.com/zcstack/zcstack/zcsocket"
)

// The task is the guest memory of syscalls/.
var _ syscalls.Memory = (*kernel.Task)(nil)

// The zerocopy state of a socket is the socket syscalls/ works on.
var (
	_ syscalls.Socket = (*zcsocket.State)(nil)
	_ syscalls.Socket = (*zchost.State)(nil)
)

// call returns the syscalls/ context of a syscall of t on the socket file
// whose zerocopy state is zc. gVisor runs only 64-bit tasks; its socket
// message syscalls fail for others before they get here.
func call(t *kernel.Task, file *vfs.FileDescription, zc syscalls.Socket) syscalls.Call {
	return syscalls.Call{
		Mem:         t,
		ABI:         syscalls.ABI64,
		Sock:        zc,
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
