package stack

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/waiter"
)

// blocker makes a socket call block the way a blocking Linux socket does:
// callers retry their non-blocking operation while it returns EAGAIN and
// call wait between tries.
type blocker struct {
	so    *Socket
	mask  waiter.EventMask
	flags int
	dl    *deadline
	// w is allocated when the call first has to wait, so that calls that
	// do not block do not allocate.
	w *blockerWait
}

type blockerWait struct {
	entry waiter.Entry
	ch    chan struct{}
}

// wait returns EAGAIN if the call may not block (O_NONBLOCK, MSG_DONTWAIT)
// or the deadline has passed, and EBADF if the socket was closed.
// Otherwise the first call registers for the events and returns at once,
// so that the caller retries before sleeping and no event is missed; later
// calls wait for an event.
func (b *blocker) wait() error {
	if b.so.nonblock.Load() || b.flags&unix.MSG_DONTWAIT != 0 {
		return unix.EAGAIN
	}
	if b.w == nil {
		b.w = new(blockerWait)
		b.w.entry, b.w.ch = waiter.NewChannelEntry(b.mask | waiter.EventHUp | waiter.EventErr)
		b.so.queue.EventRegister(&b.w.entry)
		return nil
	}
	if b.so.closed.Load() {
		return unix.EBADF
	}
	return b.dl.wait(b.w.ch)
}

// done unregisters b.
func (b *blocker) done() {
	if b.w != nil {
		b.so.queue.EventUnregister(&b.w.entry)
	}
}

// deadline is a settable timeout for blocking calls.
type deadline struct {
	mu sync.Mutex
	// +checklocks:mu
	at time.Time
	// changed is closed and replaced when at changes.
	// +checklocks:mu
	changed chan struct{}
}

func (d *deadline) init() {
	d.mu.Lock()
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	d.at = t
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// wait waits for ch, the deadline or a change of the deadline. It returns
// EAGAIN if the deadline has passed.
func (d *deadline) wait(ch <-chan struct{}) error {
	d.mu.Lock()
	at, changed := d.at, d.changed
	d.mu.Unlock()
	if at.IsZero() {
		select {
		case <-ch:
		case <-changed:
		}
		return nil
	}
	dur := time.Until(at)
	if dur <= 0 {
		return unix.EAGAIN
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ch:
	case <-changed:
	case <-t.C:
		return unix.EAGAIN
	}
	return nil
}
