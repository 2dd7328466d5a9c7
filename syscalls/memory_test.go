package syscalls

import (
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/hostarch"
)

func TestPageMem(t *testing.T) {
	const p = hostarch.PageSize
	m := newPageMem()
	m.mapRange(0x10000, 2*p, false) // 0x10000-0x11fff writable
	m.mapRange(0x13000, p, true)    // 0x12000 hole, 0x13000 read-only
	for _, tt := range []struct {
		name string
		addr hostarch.Addr
		n    int
		out  bool
		want int
		err  bool
	}{
		{"in across pages", 0x10ff0, 32, false, 32, false},
		{"in into hole", 0x11ff0, 32, false, 16, true},
		{"in from hole", 0x12000, 1, false, 0, true},
		{"in read-only", 0x13000, 16, false, 16, false},
		{"out read-only", 0x13000, 16, true, 0, true},
		{"out across pages", 0x10ff8, 16, true, 16, false},
		{"out into hole", 0x11ffc, 8, true, 4, true},
		{"wraps", ^hostarch.Addr(0) - 3, 8, false, 0, true},
		{"empty at hole", 0x12000, 0, true, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, tt.n)
			var n int
			var err error
			if tt.out {
				n, err = m.CopyOutBytes(tt.addr, b)
			} else {
				n, err = m.CopyInBytes(tt.addr, b)
			}
			if n != tt.want || (err != nil) != tt.err {
				t.Errorf("got (%d, %v), want %d bytes, error %v", n, err, tt.want, tt.err)
			}
			if err != nil && err != linuxerr.EFAULT {
				t.Errorf("error %v, want gVisor's EFAULT", err)
			}
		})
	}
}

func TestCopyErrorsAreEFAULT(t *testing.T) {
	m := newPageMem()
	if err := copyIn(m, 0x1000, make([]byte, 1)); err != unix.EFAULT {
		t.Errorf("copyIn: %v (%T), want unix.EFAULT", err, err)
	}
	if err := copyOut(m, 0x1000, make([]byte, 1)); err != unix.EFAULT {
		t.Errorf("copyOut: %v (%T), want unix.EFAULT", err, err)
	}
	if err := copyIn(m, 0x1000, nil); err != nil {
		t.Errorf("empty copyIn: %v", err)
	}
}
