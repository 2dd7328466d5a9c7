package syscalls

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// guest lays out a test program's structures in a pageMem.
type guest struct {
	t    testing.TB
	mem  *pageMem
	abi  ABI
	next hostarch.Addr
}

// guestBase is where guest allocations start; nothing is mapped below it.
const guestBase = 0x100000

func newGuest(t testing.TB, abi ABI) *guest {
	return &guest{t: t, mem: newPageMem(), abi: abi, next: guestBase}
}

// alloc maps n bytes (at least one page's worth of room) and returns their
// address, 16-byte aligned, zeroed.
func (g *guest) alloc(n int) hostarch.Addr {
	a := g.next
	g.mem.mapRange(a, max(n, 1), false)
	g.next = (a + hostarch.Addr(max(n, 1)) + 15) &^ 15
	return a
}

// beforeHole returns an address with n mapped bytes followed by an
// unmapped page.
func (g *guest) beforeHole(n int) hostarch.Addr {
	end, _ := (g.next + hostarch.Addr(n)).RoundUp()
	end += hostarch.PageSize
	a := end - hostarch.Addr(n)
	if n > 0 {
		g.mem.mapRange(a, n, false)
	}
	g.next = end + hostarch.PageSize
	return a
}

// hole returns the address of an unmapped page.
func (g *guest) hole() hostarch.Addr {
	a, _ := g.next.RoundUp()
	g.next = a + 2*hostarch.PageSize
	return a
}

// put allocates and stores b.
func (g *guest) put(b []byte) hostarch.Addr {
	a := g.alloc(len(b))
	g.mem.write(a, b)
	return a
}

// word appends a pointer- or size_t-sized value in the guest's ABI.
func (g *guest) word(b []byte, v uint64) []byte {
	if g.abi == ABICompat {
		return binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return binary.LittleEndian.AppendUint64(b, v)
}

// msg is a struct msghdr's fields.
type msg struct {
	name       hostarch.Addr
	namelen    int32
	iov        hostarch.Addr
	iovlen     uint64
	control    hostarch.Addr
	controllen uint64
	flags      uint32
}

// msghdr encodes m.
func (g *guest) msghdr(m msg) []byte {
	var b []byte
	b = g.word(b, uint64(m.name))
	b = binary.LittleEndian.AppendUint32(b, uint32(m.namelen))
	if g.abi == ABI64 {
		b = append(b, 0, 0, 0, 0)
	}
	b = g.word(b, uint64(m.iov))
	b = g.word(b, m.iovlen)
	b = g.word(b, uint64(m.control))
	b = g.word(b, m.controllen)
	b = binary.LittleEndian.AppendUint32(b, m.flags)
	if g.abi == ABI64 {
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

// iovecs encodes (base, len) pairs.
func (g *guest) iovecs(pairs ...uint64) []byte {
	var b []byte
	for _, v := range pairs {
		b = g.word(b, v)
	}
	return b
}

// cmsg encodes a control message with cmsg_len = header + len(data),
// padded to the alignment.
func (g *guest) cmsg(level, typ int32, data []byte) []byte {
	return g.cmsgLen(uint64(g.abi.layout().cmsgLen(len(data))), level, typ, data)
}

// cmsgLen encodes a control message with the given cmsg_len, padded.
func (g *guest) cmsgLen(clen uint64, level, typ int32, data []byte) []byte {
	b := g.word(nil, clen)
	b = binary.LittleEndian.AppendUint32(b, uint32(level))
	b = binary.LittleEndian.AppendUint32(b, uint32(typ))
	b = append(b, data...)
	for len(b)%g.abi.layout().cmsgAlign != 0 {
		b = append(b, 0)
	}
	return b
}

// zcInfo is a zc_info with room for n elements, size n.
func zcInfo(n int) []byte {
	return zerocopy.AppendZCInfo(nil, n)
}

// fakeSocket is a Socket for tests.
type fakeSocket struct {
	family int
	zc     bool
	q      *zerocopy.ErrorQueue
}

func (s *fakeSocket) Family() int                      { return s.family }
func (s *fakeSocket) ZerocopyEnabled() bool            { return s.zc }
func (s *fakeSocket) ErrorQueue() *zerocopy.ErrorQueue { return s.q }

// drain returns every completion in q, in order.
func drain(q *zerocopy.ErrorQueue) []zerocopy.Completion {
	var cs []zerocopy.Completion
	for {
		e, ok := q.Pop()
		if !ok {
			return cs
		}
		if c, ok := e.Completion(); ok {
			cs = append(cs, c)
		}
	}
}

// clone returns a copy of m that outlives the send.
func (m *Send) clone() *Send {
	c := *m
	c.Name = bytes.Clone(m.Name)
	c.Iov = slices.Clone(m.Iov)
	c.Control = bytes.Clone(m.Control)
	return &c
}
