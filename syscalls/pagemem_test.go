package syscalls

import (
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/hostarch"
)

// pageMem is a guest address space for tests: a sparse map of 4 KiB pages,
// some read-only, with holes between them. Copies stop at the first byte
// they cannot access and return the bytes copied and EFAULT, as gVisor's
// MemoryManager does (a *errors.Error, not a unix.Errno).
type pageMem struct {
	pages map[uint64]*memPage
}

type memPage struct {
	data     [hostarch.PageSize]byte
	readOnly bool
}

func newPageMem() *pageMem {
	return &pageMem{pages: make(map[uint64]*memPage)}
}

// mapRange maps the pages that cover [addr, addr+n) that are not mapped
// yet, zeroed.
func (m *pageMem) mapRange(addr hostarch.Addr, n int, readOnly bool) {
	for p := uint64(addr) / hostarch.PageSize; p <= (uint64(addr)+uint64(n)-1)/hostarch.PageSize; p++ {
		if m.pages[p] == nil {
			m.pages[p] = &memPage{readOnly: readOnly}
		}
	}
}

// protect makes the page that holds addr read-only or writable.
func (m *pageMem) protect(addr hostarch.Addr, readOnly bool) {
	m.pages[uint64(addr)/hostarch.PageSize].readOnly = readOnly
}

func (m *pageMem) copy(addr hostarch.Addr, b []byte, out bool) (int, error) {
	done := 0
	for done < len(b) {
		a := uint64(addr) + uint64(done)
		if a < uint64(addr) {
			return done, linuxerr.EFAULT
		}
		p, ok := m.pages[a/hostarch.PageSize]
		if !ok || (out && p.readOnly) {
			return done, linuxerr.EFAULT
		}
		off := a % hostarch.PageSize
		var k int
		if out {
			k = copy(p.data[off:], b[done:])
		} else {
			k = copy(b[done:], p.data[off:])
		}
		done += k
	}
	return done, nil
}

// CopyInBytes implements Memory.CopyInBytes.
func (m *pageMem) CopyInBytes(addr hostarch.Addr, dst []byte) (int, error) {
	return m.copy(addr, dst, false)
}

// CopyOutBytes implements Memory.CopyOutBytes.
func (m *pageMem) CopyOutBytes(addr hostarch.Addr, src []byte) (int, error) {
	return m.copy(addr, src, true)
}

// CheckWritable implements Memory.CheckWritable.
func (m *pageMem) CheckWritable(addr hostarch.Addr, n uint64) error {
	for p := uint64(addr) / hostarch.PageSize; p <= (uint64(addr)+n-1)/hostarch.PageSize; p++ {
		if pg, ok := m.pages[p]; !ok || pg.readOnly {
			return linuxerr.EFAULT
		}
	}
	return nil
}

// write stores b at addr, bypassing protections; the pages must be mapped.
func (m *pageMem) write(addr hostarch.Addr, b []byte) {
	for i := range b {
		a := uint64(addr) + uint64(i)
		m.pages[a/hostarch.PageSize].data[a%hostarch.PageSize] = b[i]
	}
}

// read returns n bytes at addr, bypassing protections; the pages must be
// mapped.
func (m *pageMem) read(addr hostarch.Addr, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		a := uint64(addr) + uint64(i)
		b[i] = m.pages[a/hostarch.PageSize].data[a%hostarch.PageSize]
	}
	return b
}
