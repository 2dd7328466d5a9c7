package syscalls

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"
)

func TestImportIovecs(t *testing.T) {
	const base = 0x1000
	ar := func(start, n uint64) hostarch.AddrRange {
		return hostarch.AddrRange{Start: hostarch.Addr(start), End: hostarch.Addr(start + n)}
	}
	for _, tt := range []struct {
		name  string
		abi   ABI
		pairs []uint64
		hole  bool // the array ends right before a hole, its last entry cut
		want  []hostarch.AddrRange
		total int64
		err   error
	}{
		{name: "none", pairs: nil},
		{name: "two", pairs: []uint64{base, 3, base + 8, 0}, want: []hostarch.AddrRange{ar(base, 3), ar(base+8, 0)}, total: 3},
		{name: "one truncated before access_ok", pairs: []uint64{base, 1<<63 - 1},
			want: []hostarch.AddrRange{ar(base, MaxRWCount)}, total: MaxRWCount},
		{name: "two, access_ok on the full length", pairs: []uint64{base, 1<<63 - 1, base, 1}, err: unix.EFAULT},
		{name: "total capped", pairs: []uint64{base, 0x70000000, base, 0x70000000, base, 5},
			want: []hostarch.AddrRange{ar(base, 0x70000000), ar(base, MaxRWCount-0x70000000), ar(base, 0)}, total: MaxRWCount},
		{name: "end at TASK_SIZE_MAX", pairs: []uint64{0x7ffffffff000 - 4, 4, base, 1},
			want: []hostarch.AddrRange{ar(0x7ffffffff000-4, 4), ar(base, 1)}, total: 5},
		{name: "past TASK_SIZE_MAX", pairs: []uint64{0x7ffffffff000 - 4, 5, base, 1}, err: unix.EFAULT},
		{name: "wraps", pairs: []uint64{^uint64(0), 2, base, 1}, err: unix.EFAULT},
		{name: "negative", pairs: []uint64{base, 1, base, 1 << 63}, err: unix.EINVAL},
		{name: "negative before the fault", pairs: []uint64{base, 1 << 63, base, 1}, hole: true, err: unix.EINVAL},
		{name: "fault before the negative", pairs: []uint64{base, 1, base, 1 << 63}, hole: true, err: unix.EFAULT},
		{name: "compat negative", abi: ABICompat, pairs: []uint64{base, 0x80000000}, err: unix.EINVAL},
		{name: "compat largest", abi: ABICompat, pairs: []uint64{base, 0x7fffffff, base, 1},
			want: []hostarch.AddrRange{ar(base, MaxRWCount), ar(base, 0)}, total: MaxRWCount},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuest(t, tt.abi)
			b := g.iovecs(tt.pairs...)
			var addr hostarch.Addr
			if tt.hole {
				cut := len(b) - 1
				addr = g.beforeHole(cut)
				g.mem.write(addr, b[:cut])
			} else {
				addr = g.put(b)
			}
			iov, total, err := new(scratch).importIovecs(g.mem, tt.abi, addr, len(tt.pairs)/2)
			if err != tt.err || total != tt.total || (err == nil && len(tt.want) > 0 && !reflect.DeepEqual(iov, tt.want)) {
				t.Errorf("got (%v, %d, %v), want (%v, %d, %v)", iov, total, err, tt.want, tt.total, tt.err)
			}
		})
	}
}

// TestReadMsgControl: what a tracer reads of a msghdr, with Linux's limits
// and faults.
func TestReadMsgControl(t *testing.T) {
	g := newGuest(t, ABI64)
	ctl := g.cmsg(unix.SOL_SOCKET, 78, zcInfo(1))
	for _, tt := range []struct {
		name  string
		hdr   func() hostarch.Addr
		limit uint64
		ctl   []byte
		err   error
	}{
		{"control", func() hostarch.Addr {
			return g.put(g.msghdr(msg{control: g.put(ctl), controllen: uint64(len(ctl)), flags: 0x40}))
		}, 4096, ctl, nil},
		{"no control", func() hostarch.Addr { return g.put(g.msghdr(msg{controllen: 8, flags: 0x40})) }, 4096, nil, nil},
		{"over the limit", func() hostarch.Addr {
			return g.put(g.msghdr(msg{control: g.put(ctl), controllen: uint64(len(ctl)), flags: 0x40}))
		}, 8, nil, unix.EMSGSIZE},
		{"control unmapped", func() hostarch.Addr {
			return g.put(g.msghdr(msg{control: g.hole(), controllen: 16, flags: 0x40}))
		}, 4096, nil, unix.EFAULT},
		{"msghdr unmapped", g.hole, 4096, nil, unix.EFAULT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _, flags, err := ReadMsgControl(g.mem, tt.hdr(), tt.limit)
			if err != tt.err || !reflect.DeepEqual(got, tt.ctl) {
				t.Fatalf("got %x, %v; want %x, %v", got, err, tt.ctl, tt.err)
			}
			if err != unix.EFAULT && flags != 0x40 {
				t.Errorf("flags %#x", flags)
			}
		})
	}
}
