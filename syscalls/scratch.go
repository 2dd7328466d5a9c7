package syscalls

import (
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// scratch is the memory one socket call works in: the guest structures it
// reads (msghdr, iovecs, name, control buffer) and the bytes it writes
// back. A call takes one from scratchPool when it starts and puts it back
// when it returns, so that a call allocates nothing once the pool holds
// scratches large enough for it. Nothing of a scratch outlives the call.
type scratch struct {
	hdr  [unix.SizeofMsghdr]byte
	word [8]byte
	name [SizeofSockaddrStorage]byte
	// iovec holds the raw iovec array, segs its decoded entries and iov
	// the checked ranges.
	iovec []byte
	segs  []seg
	iov   []hostarch.AddrRange
	// ctl is the control buffer of a send; rest its messages other than
	// SCM_ZC_NOTIFICATION; win the window of compat's guestReader.
	ctl  control
	rest []byte
	win  []byte
	// cmsg holds a control message being written.
	cmsg []byte
	send Send
	// errMsg is the error-queue message a receive writes.
	errMsg zerocopy.ErrMsg
}

// seg is one iovec as the guest wrote it.
type seg struct{ base, len uint64 }

// scratchKeep bounds the buffers a scratch keeps for the next call: a call
// with a larger control buffer or more iovecs lets its buffers go.
const scratchKeep = 64 << 10

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch {
	return scratchPool.Get().(*scratch)
}

// release drops what the call put in s and returns it to the pool.
func (s *scratch) release() {
	if cap(s.iovec) > scratchKeep {
		s.iovec, s.segs, s.iov = nil, nil, nil
	}
	if cap(s.ctl.buf) > scratchKeep {
		s.ctl.buf, s.ctl.msgs = nil, nil
	}
	if cap(s.rest) > scratchKeep {
		s.rest = nil
	}
	if cap(s.cmsg) > scratchKeep {
		s.cmsg = nil
	}
	s.send = Send{}
	s.errMsg = zerocopy.ErrMsg{}
	scratchPool.Put(s)
}

// grow returns b resized to n bytes, reallocated if it has less room. Its
// contents are undefined.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}
