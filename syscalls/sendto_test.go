package syscalls

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"
)

// TestSendTo: sendto's buffer and address checks in Linux's order, and the
// message the send gets.
func TestSendTo(t *testing.T) {
	const base = 0x10000
	mem := newPageMem()
	mem.mapRange(base, hostarch.PageSize, false)
	mem.mapRange(base+2*hostarch.PageSize, hostarch.PageSize, false)
	sa := []byte{2, 0, 0, 9, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	mem.write(base, sa)
	hole := hostarch.Addr(base + hostarch.PageSize)
	kernel := hostarch.Addr(0xffff800000000000)
	for _, tc := range []struct {
		name        string
		buf         hostarch.Addr
		n           uint64
		flags       uint32
		addr        hostarch.Addr
		addrLen     int32
		nonBlocking bool
		err         error
		want        Send
	}{
		{"no address", base, 10, unix.MSG_ZEROCOPY, 0, 99, false, nil,
			Send{Iov: []hostarch.AddrRange{{Start: base, End: base + 10}}, Len: 10, Flags: unix.MSG_ZEROCOPY}},
		{"address", base, 10, 0, base, 16, false, nil,
			Send{Name: sa, Iov: []hostarch.AddrRange{{Start: base, End: base + 10}}, Len: 10}},
		{"zero-length address is none", base, 0, 0, base, 0, false, nil,
			Send{Iov: []hostarch.AddrRange{{Start: base, End: base}}}},
		{"non-blocking file, internal flags cleared", base, 1, msgInternalSendmsgFlags | unix.MSG_MORE, 0, 0, true, nil,
			Send{Iov: []hostarch.AddrRange{{Start: base, End: base + 1}}, Len: 1, Flags: unix.MSG_MORE | unix.MSG_DONTWAIT}},
		{"length truncated", base, 1 << 40, 0, 0, 0, false, nil,
			Send{Iov: []hostarch.AddrRange{{Start: base, End: base + MaxRWCount}}, Len: MaxRWCount}},
		{"negative address length", base, 10, 0, base, -1, false, unix.EINVAL, Send{}},
		{"address longer than sockaddr_storage", base, 10, 0, base, 129, false, unix.EINVAL, Send{}},
		{"unreadable address", base, 10, 0, hole, 16, false, unix.EFAULT, Send{}},
		{"buffer outside the user range before the address", kernel, 10, 0, base, -1, false, unix.EFAULT, Send{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Call{Mem: mem, ABI: ABI64, NonBlocking: tc.nonBlocking}
			var got Send
			sent := false
			n, err := c.SendTo(tc.buf, tc.n, tc.flags, tc.addr, tc.addrLen, func(m *Send) (int, error) {
				sent = true
				got = Send{Name: bytes.Clone(m.Name), Iov: append([]hostarch.AddrRange(nil), m.Iov...), Len: m.Len, Flags: m.Flags}
				return 7, nil
			})
			if err != tc.err || sent != (tc.err == nil) {
				t.Fatalf("err %v (sent %v), want %v", err, sent, tc.err)
			}
			if err != nil {
				return
			}
			if n != 7 || !bytes.Equal(got.Name, tc.want.Name) || got.Len != tc.want.Len || got.Flags != tc.want.Flags ||
				len(got.Iov) != 1 || got.Iov[0] != tc.want.Iov[0] {
				t.Errorf("send got %+v (n %d), want %+v", got, n, tc.want)
			}
		})
	}
}

// FuzzSendTo: any arguments over the fuzz guest give an errno or a message
// that fits Linux's bounds.
func FuzzSendTo(f *testing.F) {
	f.Add([]byte{2, 0, 0, 9, 127, 0, 0, 1}, uint16(1), uint64(10), uint16(1), int32(16), uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, buf uint16, n uint64, addr uint16, addrLen int32, flags uint32) {
		c := Call{Mem: fuzzMem(data), ABI: ABI64}
		_, err := c.SendTo(fuzzPtr(buf), n, flags, fuzzPtr(addr), addrLen, func(m *Send) (int, error) {
			if len(m.Name) > SizeofSockaddrStorage || m.Len > MaxRWCount || m.Flags&msgInternalSendmsgFlags != 0 {
				t.Errorf("message out of bounds: %d-byte name, %d bytes, flags %#x", len(m.Name), m.Len, m.Flags)
			}
			return 0, nil
		})
		if err != nil && err != unix.EINVAL && err != unix.EFAULT {
			t.Errorf("errno %v", err)
		}
	})
}
