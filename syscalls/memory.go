package syscalls

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"
)

// Memory is a guest's address space. gVisor's *kernel.Task satisfies it
// (these are marshal.CopyContext's copy methods). A copy that faults returns
// the bytes copied before the fault and an error; every such error is
// EFAULT to the guest.
type Memory interface {
	// CopyInBytes copies len(dst) bytes from the guest at addr into dst.
	CopyInBytes(addr hostarch.Addr, dst []byte) (int, error)
	// CopyOutBytes copies src to the guest at addr.
	CopyOutBytes(addr hostarch.Addr, src []byte) (int, error)
}

// copyIn fills dst from addr, or returns EFAULT.
func copyIn(mem Memory, addr hostarch.Addr, dst []byte) error {
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
