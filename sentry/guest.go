package sentry

import (
	"math"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/usermem"

	"github.com/zcstack/zcstack/syscalls"
)

// guestMem is a task's memory for syscalls/: the task's copy methods, and
// a check of write access through its memory manager.
type guestMem struct{ *kernel.Task }

var _ syscalls.Memory = guestMem{}

// CheckWritable implements syscalls.Memory.CheckWritable with the task's
// memory manager's EnsurePMAsExist: the n bytes at addr are mapped for
// writing, as a copy-out would map them (faulting pages in, breaking
// copy-on-write), and nothing is written.
func (m guestMem) CheckWritable(addr hostarch.Addr, n uint64) error {
	if n > math.MaxInt64 {
		return linuxerr.EFAULT
	}
	_, err := m.MemoryManager().EnsurePMAsExist(m.Task, addr, int64(n), usermem.IOOpts{})
	return err
}

// call returns the syscalls/ context of a syscall of t on the socket file
// whose zerocopy state is zc. gVisor runs only 64-bit tasks; its socket
// message syscalls fail for others before they get here.
func call(t *kernel.Task, file *vfs.FileDescription, zc syscalls.Socket) syscalls.Call {
	return syscalls.Call{
		Mem:         guestMem{t},
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
