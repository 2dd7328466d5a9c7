package zchost

import "github.com/zcstack/zcstack/zerocopy"

// hostIDs maps the MSG_ZEROCOPY ids of a host socket (its sk_zckey) to the
// guest sends that took them. Host ids are given in the order of the host
// sends, which State.mu serializes, so the map is a window [base, next) of
// consecutive ids, each owned by the send that took it until its completion
// is read.
type hostIDs struct {
	// next is the id the host gives the next MSG_ZEROCOPY send that sends
	// data: sk_zckey.
	next uint32
	// owners[head+i] owns id base+i; nil once completed.
	owners []*Tx
	head   int
	base   uint32
}

// len returns the number of ids in the window, completed or not.
func (h *hostIDs) len() int { return len(h.owners) - h.head }

// take gives the next host id to tx.
func (h *hostIDs) take(tx *Tx) {
	if h.len() == 0 {
		h.base = h.next
		h.owners, h.head = h.owners[:0], 0
	}
	h.owners = append(h.owners, tx)
	h.next++
}

// complete appends to done, in id order, the owner of each id of c that is
// in the window and not completed yet, and forgets the id. Ids outside the
// window are not the sends' (they completed before, or were never taken)
// and are ignored.
func (h *hostIDs) complete(c zerocopy.Completion, done []*Tx) []*Tx {
	// The range covers the offsets [lo, lo+count) from base, modulo 2^32:
	// up to two runs of the window, the wrapped one first (lower ids).
	n := uint64(h.len())
	lo, count := uint64(c.Lo-h.base), c.Len()
	if lo+count > 1<<32 {
		done = h.completeRun(0, min(lo+count-1<<32, n), done)
	}
	if lo < n {
		done = h.completeRun(lo, min(lo+count, n), done)
	}
	// Slide the window past completed ids.
	for h.head < len(h.owners) && h.owners[h.head] == nil {
		h.head++
		h.base++
	}
	if h.head > len(h.owners)/2 {
		n := copy(h.owners, h.owners[h.head:])
		clear(h.owners[n:])
		h.owners, h.head = h.owners[:n], 0
	}
	return done
}

// completeRun completes the offsets [from, to) of the window.
func (h *hostIDs) completeRun(from, to uint64, done []*Tx) []*Tx {
	for i := from; i < to; i++ {
		p := &h.owners[h.head+int(i)]
		if *p != nil {
			done = append(done, *p)
			*p = nil
		}
	}
	return done
}

// forEach calls fn for the owner of each id not completed yet.
func (h *hostIDs) forEach(fn func(tx *Tx)) {
	for _, tx := range h.owners[h.head:] {
		if tx != nil {
			fn(tx)
		}
	}
}
