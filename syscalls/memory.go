package syscalls

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"
)

// Reader reads a guest's memory, as gVisor's *kernel.Task does. A copy that
// faults returns the bytes copied before the fault and an error; every such
// error is EFAULT to the guest.
type Reader interface {
	// CopyInBytes copies len(dst) bytes from the guest at addr into dst.
	CopyInBytes(addr hostarch.Addr, dst []byte) (int, error)
}

// Memory is a guest's address space: the copy methods of gVisor's
// *kernel.Task (marshal.CopyContext's) and a check of write access.
type Memory interface {
	Reader
	// CopyOutBytes copies src to the guest at addr.
	CopyOutBytes(addr hostarch.Addr, src []byte) (int, error)
	// CheckWritable returns an error unless the n bytes at addr can be
	// written, without writing them.
	CheckWritable(addr hostarch.Addr, n uint64) error
}

// copyIn fills dst from addr, or returns EFAULT.
func copyIn(mem Reader, addr hostarch.Addr, dst []byte) error {
	if len(dst) == 0 {
		return nil
	}
	if _, err := mem.CopyInBytes(addr, dst); err != nil {
		return unix.EFAULT
	}
	return nil
}

// copyOut writes src at addr, or returns EFAULT.
func copyOut(mem Memory, addr hostarch.Addr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	if _, err := mem.CopyOutBytes(addr, src); err != nil {
		return unix.EFAULT
	}
	return nil
}

// checkWritable checks n bytes at addr for writing, or returns EFAULT.
func checkWritable(mem Memory, addr hostarch.Addr, n uint64) error {
	if n == 0 {
		return nil
	}
	if err := mem.CheckWritable(addr, n); err != nil {
		return unix.EFAULT
	}
	return nil
}
