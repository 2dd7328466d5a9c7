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
	return completionOf(e.Err)
}

// IsICMP reports whether e is an ICMP error (Linux is_icmp_err_skb): what
// sets the socket error when it reaches the head of the queue.
func (e *Entry) IsICMP() bool {
	return e.Err.Origin == unix.SO_EE_ORIGIN_ICMP || e.Err.Origin == unix.SO_EE_ORIGIN_ICMP6
}

// item is one entry of the queue's ring: a completion, held as a
// Completion so that coalescing and Take need no conversion, or another
// error (err not nil).
type item struct {
	c   Completion
	err *Entry
}

// entry returns the item as recvmsg(MSG_ERRQUEUE) sees it.
func (it *item) entry() Entry {
	if it.err != nil {
		return *it.err
	}
	return Entry{Err: it.c.ExtendedErr()}
}

// isICMP is Entry.IsICMP; completions are not ICMP errors.
func (it *item) isICMP() bool {
	return it.err != nil && it.err.IsICMP()
}

// itemOf is the inverse of entry.
func itemOf(e *Entry) item {
	if c, ok := e.Completion(); ok {
		return item{c: c}
	}
	ec := *e
	return item{err: &ec}
}

// QueueConfig configures an ErrorQueue. Every field may be left zero.
type QueueConfig struct {
	// Limit is the length past which new zerocopy sends and Push are refused
	// (DefaultQueueLimit if 0 or less).
	Limit int
	// ErrorReport wakes the socket's POLLERR waiters, as Linux's
	// sk_error_report: it is called without the queue's locks held each
	// time an entry is added or extended, and after a Pop that leaves
	// entries behind.
	ErrorReport func()
	// Refill moves into the queue the errors that the layer below holds
	// (netstack's or the host kernel's error queue). Pop and Take call it
	// without the queue's locks held before they read, so that no read
	// can miss them: Take with all set, since it looks for completions
	// behind other errors; Pop without, when the layer below may move only
	// what it takes for the queue to hold an entry. (The host kernel sets
	// and clears the socket error as its own queue is read, so it moves as
	// few as it can: the socket error then follows the guest's reads.)
	Refill func(all bool)
	// SetSockErr is called without locks held after a Pop that changes
	// the socket error (sk_err, SO_ERROR) as Linux's sock_dequeue_err_skb
	// does: to the errno of the new head if that is an ICMP error, else
	// to 0 if the popped entry was one.
	SetSockErr func(errno uint32)
	// Stats, if not nil, counts the queue's completions.
	Stats *Stats
}

// ErrorQueue is a socket's error queue (Linux sk_error_queue): an ordered
// queue of zerocopy completions and other socket errors. It is safe for
// concurrent use and hands out each entry exactly once.
//
// Completions coalesce with the tail entry as in Linux (see Complete). Memory
// is bounded without losing completions: the queue never drops one, and
// new MSG_ZEROCOPY sends fail with ENOBUFS while the queue is full (Sender.Reserve).
type ErrorQueue struct {
	cfg QueueConfig

	mu sync.Mutex
	// ring holds the entries from head on, n of them, wrapping around.
	// +checklocks:mu
	ring []item
	// +checklocks:mu
	head int
	// +checklocks:mu
	n int
	// dropped counts non-zerocopy errors refused because the queue was full.
	// +checklocks:mu
	dropped uint64
}

// NewErrorQueue returns an empty queue.
func NewErrorQueue(cfg QueueConfig) *ErrorQueue {
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultQueueLimit
	}
	return &ErrorQueue{cfg: cfg}
}

// atLocked returns the i-th entry from the head.
//
// +checklocks:q.mu
func (q *ErrorQueue) atLocked(i int) *item {
	return &q.ring[(q.head+i)%len(q.ring)]
}

// growLocked makes room for one more entry.
//
// +checklocks:q.mu
func (q *ErrorQueue) growLocked() {
	if q.n < len(q.ring) {
		return
	}
	ring := make([]item, max(8, 2*len(q.ring)))
	for i := 0; i < q.n; i++ {
		ring[i] = *q.atLocked(i)
	}
	q.ring, q.head = ring, 0
}

// pushBackLocked appends it.
//
// +checklocks:q.mu
func (q *ErrorQueue) pushBackLocked(it item) {
	q.growLocked()
	q.n++
	*q.atLocked(q.n - 1) = it
	if s := q.cfg.Stats; s != nil {
		s.observeDepth(q.n)
	}
}

// pushFrontLocked puts it before the head.
//
// +checklocks:q.mu
func (q *ErrorQueue) pushFrontLocked(it item) {
	q.growLocked()
	q.head = (q.head - 1 + len(q.ring)) % len(q.ring)
	q.n++
	*q.atLocked(0) = it
}

// extendsTailLocked reports whether c would coalesce with the tail entry.
//
// +checklocks:q.mu
func (q *ErrorQueue) extendsTailLocked(c Completion) bool {
	if q.n == 0 {
		return false
	}
	tail := q.atLocked(q.n - 1)
	return tail.err == nil && canMerge(tail.c, c)
}

// canMerge reports whether next can be appended to prev, following Linux's
// skb_zerocopy_notify_extend: next starts right after prev (modulo 2^32) and
// the merged range holds fewer than 2^32 ids. Unlike Linux, ranges merge only
// if their Copied flags agree, so that no flag is lost.
func canMerge(prev, next Completion) bool {
	return next.Lo == prev.Hi+1 && prev.Copied == next.Copied && prev.Len()+next.Len() < 1<<32
}

// Complete queues the completion c, coalescing it with the tail entry when
// canMerge allows (net/core/skbuff.c __msg_zerocopy_callback), and wakes
// POLLERR waiters. It never drops c, whatever the queue's length: admission
// control is Sender.Reserve's job.
func (q *ErrorQueue) Complete(c Completion) {
	q.complete(c)
	q.errorReport()
}

// complete is Complete without the wake-up, for callers that hold a lock of
// their own and wake once they have released it.
func (q *ErrorQueue) complete(c Completion) {
	q.mu.Lock()
	merged := q.extendsTailLocked(c)
	if merged {
		q.atLocked(q.n - 1).c.Hi = c.Hi
	} else {
		q.pushBackLocked(item{c: c})
	}
	q.mu.Unlock()
	if s := q.cfg.Stats; s != nil {
		s.Completions.Add(c.Len())
		if merged {
			s.Coalesced.Add(1)
		}
	}
}

// admit reports whether a zerocopy send whose completion will be c may go
// ahead: ENOBUFS if the queue is full and c would not coalesce with its tail
// (Linux: sock_omalloc of the ubuf_info fails over optmem_max).
func (q *ErrorQueue) admit(c Completion) error {
	q.mu.Lock()
	full := q.n >= q.cfg.Limit && !q.extendsTailLocked(c)
	q.mu.Unlock()
	if full {
		if s := q.cfg.Stats; s != nil {
			s.NoBufs.Add(1)
		}
		return unix.ENOBUFS
	}
	return nil
}

// Push queues a non-zerocopy error (an ICMP or local error) and wakes POLLERR
// waiters. It returns false and drops e if the queue is full, as Linux's
// sock_queue_err_skb does when the error queue exceeds the receive buffer.
func (q *ErrorQueue) Push(e Entry) bool {
	if !q.push(e) {
		return false
	}
	q.errorReport()
	return true
}

// push is Push without the wake-up.
func (q *ErrorQueue) push(e Entry) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n >= q.cfg.Limit {
		q.dropped++
		return false
	}
	q.pushBackLocked(itemOf(&e))
	return true
}

// PurgeErrors removes every entry but the zerocopy completions, as Linux's
// skb_errqueue_purge does when IP_RECVERR or IPV6_RECVERR is turned off: it
// keeps the entries of origin SO_EE_ORIGIN_ZEROCOPY (and
// SO_EE_ORIGIN_TIMESTAMPING, which never arise here).
func (q *ErrorQueue) PurgeErrors() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removeLocked(func(it *item) bool {
		return it.err != nil && it.err.Err.Origin != OriginZerocopy && it.err.Err.Origin != unix.SO_EE_ORIGIN_TIMESTAMPING
	})
}

// removeLocked removes the entries for which remove returns true, keeping
// the others in order, and returns how many it removed.
//
// +checklocks:q.mu
func (q *ErrorQueue) removeLocked(remove func(it *item) bool) int {
	kept := 0
	for i := 0; i < q.n; i++ {
		it := q.atLocked(i)
		if remove(it) {
			continue
		}
		if kept != i {
			*q.atLocked(kept) = *it
		}
		kept++
	}
	removed := q.n - kept
	for i := kept; i < q.n; i++ {
		*q.atLocked(i) = item{}
	}
	q.n = kept
	return removed
}

// Pop removes and returns the head entry, as recvmsg(MSG_ERRQUEUE) does
// with sock_dequeue_err_skb: the socket error follows the new head (see
// QueueConfig.SetSockErr), and waiters are woken again if entries remain.
func (q *ErrorQueue) Pop() (Entry, bool) {
	q.refill(false)
	q.mu.Lock()
	if q.n == 0 {
		q.mu.Unlock()
		return Entry{}, false
	}
	h := q.atLocked(0)
	it := *h
	*h = item{}
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	more := q.n > 0
	setErr, errno := false, uint32(0)
	if more && q.atLocked(0).isICMP() {
		setErr, errno = true, q.atLocked(0).err.Err.Errno
	} else if it.isICMP() {
		setErr = true
	}
	q.mu.Unlock()
	if setErr && q.cfg.SetSockErr != nil {
		q.cfg.SetSockErr(errno)
	}
	if more {
		q.errorReport()
	}
	return it.entry(), true
}

// Take removes up to len(dst) zerocopy completions from the queue, oldest
// first, and stores them in dst; other entries stay where they are. It
// returns how many it took. This is the series' SCM_ZC_NOTIFICATION handler
// in __sock_cmsg_send.
func (q *ErrorQueue) Take(dst []Completion) int {
	q.refill(true)
	q.mu.Lock()
	defer q.mu.Unlock()
	taken := 0
	q.removeLocked(func(it *item) bool {
		if taken == len(dst) || it.err != nil {
			return false
		}
		dst[taken] = it.c
		taken++
		return true
	})
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
		q.pushFrontLocked(item{c: cs[i]})
	}
	q.mu.Unlock()
	q.errorReport()
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

// errorReport wakes POLLERR waiters (QueueConfig.ErrorReport).
func (q *ErrorQueue) errorReport() {
	if q.cfg.ErrorReport != nil {
		q.cfg.ErrorReport()
	}
}

// Refill moves everything the layer below holds into the queue now
// (QueueConfig.Refill with all set): before a change that would drop what is
// left below, such as the host's purge when IP_RECVERR goes off, so that
// the entries keep their form (Linux does not coalesce the completions that
// a purge leaves side by side).
func (q *ErrorQueue) Refill() { q.refill(true) }

// refill runs QueueConfig.Refill.
func (q *ErrorQueue) refill(all bool) {
	if q.cfg.Refill != nil {
		q.cfg.Refill(all)
	}
}
