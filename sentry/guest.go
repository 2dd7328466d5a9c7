package sentry

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/safemem"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/usermem"

	"github.com/zcstack/zcstack/syscalls"
)

// guestMem is a task's memory for syscalls/: the task's copy methods, and
// a check of write access through its memory manager.
type guestMem struct{ *kernel.Task }

var _ syscalls.Memory = guestMem{}

// CheckWritable implements syscalls.Memory.CheckWritable: it has the task's
// memory manager map the n bytes at addr for writing, as a copy-out would
// (faulting pages in, breaking copy-on-write), and writes nothing. It goes
// through the sentry's internal mappings, not the guest's address space, so
// that no buffered copy writes the range.
func (m guestMem) CheckWritable(addr hostarch.Addr, n uint64) error {
	ar, ok := addr.ToRange(n)
	if !ok {
		return linuxerr.EFAULT
	}
	_, err := m.MemoryManager().CopyOutFrom(m.Task, hostarch.AddrRangeSeqOf(ar), noWrite{}, usermem.IOOpts{})
	return err
}

// noWrite is a source for CopyOutFrom that reports its destination filled
// without writing it.
type noWrite struct{}

// ReadToBlocks implements safemem.Reader.ReadToBlocks.
func (noWrite) ReadToBlocks(dsts safemem.BlockSeq) (uint64, error) {
	return dsts.NumBytes(), nil
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
