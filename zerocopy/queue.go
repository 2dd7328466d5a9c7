package zerocopy

import (
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// DefaultQueueLimit is the default number of error-queue entries past which
// new MSG_ZEROCOPY sends fail with ENOBUFS and new non-zerocopy errors are
// dropped. Coalescing keeps a socket whose completions are read at all far
// below it; it stands in for Linux's optmem_max and sk_rcvbuf accounting.
const DefaultQueueLimit = 1024

// Entry is one message of a socket's error queue, as recvmsg(MSG_ERRQUEUE)
// returns it (struct sock_exterr_skb).
type Entry struct {
	// Err is the sock_extended_err of the IP_RECVERR/IPV6_RECVERR cmsg.
	Err unix.SockExtendedErr
	// Offender is the address of the node that reported the error
	// (SO_EE_OFFENDER); the zero Addr when there is none, as for local
	// errors and zerocopy completions.
	Offender netip.Addr
	// Dst is the destination of the packet that caused the error: the
	// msg_name of recvmsg(MSG_ERRQUEUE).
	Dst netip.AddrPort
	// Payload is the start of the packet that caused the error: the data of
	// recvmsg(MSG_ERRQUEUE). Zerocopy completions have none.
	Payload []byte
}

// Completion returns the zerocopy completion e holds, if it holds one.
func (e *Entry) Completion() (Completion, bool) {
	return CompletionOf(e.Err)
}

// IsICMP reports whether e is an ICMP error (Linux is_icmp_err_skb): what
// sets SO_ERROR when it reaches the head of the queue.
func (e *Entry) IsICMP() bool {
	return e.Err.Origin == unix.SO_EE_ORIGIN_ICMP || e.Err.Origin == unix.SO_EE_ORIGIN_ICMP6
}

// ErrorQueue is a socket's error queue (Linux sk_error_queue): an ordered
// queue of zerocopy completions and other socket errors. It is safe for
// concurrent use and hands out each entry exactly once.
//
// Completions coalesce with the tail entry as in Linux (see Complete). Memory
// is bounded without losing completions: the queue never drops one, and
// Admit refuses new MSG_ZEROCOPY sends with ENOBUFS while the queue is full.
type ErrorQueue struct {
	notify func()

	mu sync.Mutex
	// limit is the length past which Admit and Push refuse.
	// +checklocks:mu
	limit int
	// ring holds the entries from head on, n of them, wrapping around.
	// +checklocks:mu
	ring []Entry
	// +checklocks:mu
	head int
	// +checklocks:mu
	n int
	// dropped counts non-zerocopy errors refused because the queue was full.
	// +checklocks:mu
	dropped uint64
}

// NewErrorQueue returns an empty queue that holds up to limit entries
// (DefaultQueueLimit if limit <= 0) before it refuses new zerocopy sends.
// notify, if not nil, is called without locks held each time an entry is
// added or extended, as Linux calls sk_error_report: that is where POLLERR
// waiters are woken.
func NewErrorQueue(limit int, notify func()) *ErrorQueue {
	if limit <= 0 {
		limit = DefaultQueueLimit
	}
	return &ErrorQueue{limit: limit, notify: notify}
}

// at returns the i-th entry from the head.
//
// +checklocks:q.mu
func (q *ErrorQueue) at(i int) *Entry {
	return &q.ring[(q.head+i)%len(q.ring)]
}

// growLocked makes room for one more entry.
//
// +checklocks:q.mu
func (q *ErrorQueue) growLocked() {
	if q.n < len(q.ring) {
		return
	}
	ring := make([]Entry, max(8, 2*len(q.ring)))
	for i := 0; i < q.n; i++ {
		ring[i] = *q.at(i)
	}
	q.ring, q.head = ring, 0
}

// pushBackLocked appends e.
//
// +checklocks:q.mu
func (q *ErrorQueue) pushBackLocked(e Entry) {
	q.growLocked()
	q.n++
	*q.at(q.n - 1) = e
}

// pushFrontLocked puts e before the head.
//
// +checklocks:q.mu
func (q *ErrorQueue) pushFrontLocked(e Entry) {
	q.growLocked()
	q.head = (q.head - 1 + len(q.ring)) % len(q.ring)
	q.n++
	*q.at(0) = e
}

// extendsTailLocked reports whether c would coalesce with the tail entry.
//
// +checklocks:q.mu
func (q *ErrorQueue) extendsTailLocked(c Completion) bool {
	if q.n == 0 {
		return false
	}
	tail, ok := q.at(q.n - 1).Completion()
	return ok && canMerge(tail, c)
}

// canMerge reports whether next can be appended to prev, following Linux's
// skb_zerocopy_notify_extend: next starts right after prev (modulo 2^32) and
// the merged range holds fewer than 2^32 ids. Unlike Linux, ranges merge only
// if their Copied flags agree, so that no flag is lost.
func canMerge(prev, next Completion) bool {
	return next.Lo == prev.Hi+1 && prev.Copied == next.Copied && prev.Len()+next.Len() < 1<<32
}

// Complete queues the completion c, coalescing it with the tail entry when
// canMerge allows (net/core/skbuff.c __msg_zerocopy_callback). It never drops
// c, whatever the queue's length: admission control is Admit's job.
func (q *ErrorQueue) Complete(c Completion) {
	q.mu.Lock()
	if q.extendsTailLocked(c) {
		q.at(q.n - 1).Err.Data = c.Hi
	} else {
		q.pushBackLocked(Entry{Err: c.ExtendedErr()})
	}
	q.mu.Unlock()
	q.wake()
}

// Admit reports whether a zerocopy send whose completion will be c may go
// ahead: ENOBUFS if the queue is full and c would not coalesce with its tail
// (Linux: sock_omalloc of the ubuf_info fails over optmem_max).
func (q *ErrorQueue) Admit(c Completion) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n >= q.limit && !q.extendsTailLocked(c) {
		return unix.ENOBUFS
	}
	return nil
}

// Push queues a non-zerocopy error (an ICMP or local error). It returns false
// and drops e if the queue is full, as Linux's sock_queue_err_skb does when
// the error queue exceeds the receive buffer.
func (q *ErrorQueue) Push(e Entry) bool {
	q.mu.Lock()
	if q.n >= q.limit {
		q.dropped++
		q.mu.Unlock()
		return false
	}
	q.pushBackLocked(e)
	q.mu.Unlock()
	q.wake()
	return true
}

// Pop removes and returns the head entry: recvmsg(MSG_ERRQUEUE).
func (q *ErrorQueue) Pop() (Entry, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return Entry{}, false
	}
	h := q.at(0)
	e := *h
	*h = Entry{}
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	return e, true
}

// Peek returns a copy of the head entry without removing it.
func (q *ErrorQueue) Peek() (Entry, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return Entry{}, false
	}
	return *q.at(0), true
}

// Take removes up to len(dst) zerocopy completions from the queue, oldest
// first, and stores them in dst; other entries stay where they are. It
// returns how many it took. This is the series' SCM_ZC_NOTIFICATION handler
// in __sock_cmsg_send.
func (q *ErrorQueue) Take(dst []Completion) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	taken, kept := 0, 0
	for i := 0; i < q.n; i++ {
		e := q.at(i)
		if taken < len(dst) {
			if c, ok := e.Completion(); ok {
				dst[taken] = c
				taken++
				continue
			}
		}
		if kept != i {
			*q.at(kept) = *e
		}
		kept++
	}
	for i := kept; i < q.n; i++ {
		*q.at(i) = Entry{}
	}
	q.n = kept
	return taken
}

// Requeue puts completions that Take returned back at the front of the
// queue, in their order, for when the send that took them fails or their
// copy-back faults: nothing taken is ever lost. It never drops, whatever the
// queue's length.
func (q *ErrorQueue) Requeue(cs []Completion) {
	if len(cs) == 0 {
		return
	}
	q.mu.Lock()
	for i := len(cs) - 1; i >= 0; i-- {
		q.pushFrontLocked(Entry{Err: cs[i].ExtendedErr()})
	}
	q.mu.Unlock()
	q.wake()
}

// PushFront puts an entry that Pop returned back at the front of the queue,
// for when the recvmsg(MSG_ERRQUEUE) that popped it faults before the
// program could see it (Linux loses it). It never drops.
func (q *ErrorQueue) PushFront(e Entry) {
	q.mu.Lock()
	q.pushFrontLocked(e)
	q.mu.Unlock()
	q.wake()
}

// Len returns the number of entries.
func (q *ErrorQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// Ready reports whether the queue holds an entry: POLLERR.
func (q *ErrorQueue) Ready() bool {
	return q.Len() > 0
}

// Dropped returns how many non-zerocopy errors Push refused.
func (q *ErrorQueue) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

func (q *ErrorQueue) wake() {
	if q.notify != nil {
		q.notify()
	}
}
