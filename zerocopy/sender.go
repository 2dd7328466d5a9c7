package zerocopy

import "sync"

// Sender numbers the MSG_ZEROCOPY sends of one socket and queues their
// completions (Linux sk_zckey, msg_zerocopy_realloc and
// msg_zerocopy_put_abort): each send call that sends data takes the next
// 32-bit id, wrapping after 2^32-1; a call that sends nothing takes none.
//
// A send takes a place in line (Reserve) before it runs and leaves it (Done)
// when it returns; no lock is held while it runs, so a send blocked in the
// stack holds up no other. Ids go to the places in line order, skipping
// those whose send took none, so they stay dense, and completions are queued
// in id order. The stack copies the payload before the send returns, so Done
// queues the completion at once, flagged copied.
type Sender struct {
	queue *ErrorQueue
	// holdErrors makes Push queue errors behind the sends in line.
	holdErrors bool

	mu sync.Mutex
	// next is the id the next send that sends data takes.
	// +checklocks:mu
	next uint32
	// first is the ticket of line[0].
	// +checklocks:mu
	first Ticket
	// line holds the places of the sends that have not returned, and of
	// those that have but wait for an earlier one.
	// +checklocks:mu
	line []place
	// held are errors pushed while sends were in line, in order.
	// +checklocks:mu
	held []heldErr
}

// Ticket is a send's place in line.
type Ticket uint64

// place is the state of one send in line.
type place struct {
	done, sent bool
}

// heldErr is an error that waits for the sends in line before it: it is
// queued once first reaches after.
type heldErr struct {
	after Ticket
	e     Entry
}

// NewSender returns a Sender that queues completions on q. If holdErrors is
// set, errors pushed with Push while sends are in progress are queued after
// those sends' completions: Linux's order on a datagram socket, where a
// datagram's completion comes before the ICMP error it causes.
func NewSender(q *ErrorQueue, holdErrors bool) *Sender {
	return &Sender{queue: q, holdErrors: holdErrors}
}

// nextID returns the id the next zerocopy send that sends data will take
// once the sends in progress have returned.
func (s *Sender) nextID() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Reserve takes a place in line for a MSG_ZEROCOPY send that may take an
// id, or refuses with ENOBUFS when the error queue is full (admit). The
// caller must call Done with the ticket when the send returns.
func (s *Sender) Reserve() (Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next + uint32(len(s.line))
	if err := s.queue.admit(Completion{Lo: id, Hi: id, Copied: true}); err != nil {
		return 0, err
	}
	t := s.first + Ticket(len(s.line))
	s.line = append(s.line, place{})
	return t, nil
}

// Done leaves the place t: sent reports whether the send sent data (for a
// stream, any byte, even if it then failed), and so takes an id. The
// completions of t and of the later places that are done already are
// queued, in order, unless an earlier place is still in line; POLLERR
// waiters are woken once the Sender's lock is released.
func (s *Sender) Done(t Ticket, sent bool) {
	s.mu.Lock()
	s.line[t-s.first] = place{done: true, sent: sent}
	queued := false
	n := 0
	for ; n < len(s.line) && s.line[n].done; n++ {
		if s.line[n].sent {
			id := s.next
			s.next++
			s.queue.complete(Completion{Lo: id, Hi: id, Copied: true})
			if st := s.queue.cfg.Stats; st != nil {
				st.Sends.Add(1)
			}
			queued = true
		}
		s.first++
		queued = s.releaseLocked() || queued
	}
	s.line = s.line[:copy(s.line, s.line[n:])]
	s.mu.Unlock()
	if queued {
		s.queue.errorReport()
	}
}

// Push queues the errors that next returns, in order, until it returns
// false, and wakes POLLERR waiters once if it queued any. See NewSender
// for when they wait for the sends in progress. next runs with the
// Sender's lock held, which keeps the errors of concurrent calls in order:
// it must not call the Sender or its queue.
func (s *Sender) Push(next func() (Entry, bool)) {
	hold := s.holdErrors
	s.mu.Lock()
	queued := false
	for e, ok := next(); ok; e, ok = next() {
		if hold && len(s.line) > 0 {
			s.held = append(s.held, heldErr{after: s.first + Ticket(len(s.line)), e: e})
			continue
		}
		queued = s.queue.push(e) || queued
	}
	s.mu.Unlock()
	if queued {
		s.queue.errorReport()
	}
}

// PurgeErrors removes every error but the zerocopy completions from the
// queue and from the errors held behind sends in progress, as Linux's
// skb_errqueue_purge does when IP_RECVERR or IPV6_RECVERR is turned off.
func (s *Sender) PurgeErrors() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.held)
	s.held = s.held[:0]
	s.queue.PurgeErrors()
}

// releaseLocked queues the held errors whose sends have all left the line
// and reports whether it queued any.
//
// +checklocks:s.mu
func (s *Sender) releaseLocked() bool {
	queued := false
	n := 0
	for ; n < len(s.held) && s.held[n].after <= s.first; n++ {
		queued = s.queue.push(s.held[n].e) || queued
		s.held[n] = heldErr{}
	}
	if n > 0 {
		s.held = s.held[:copy(s.held, s.held[n:])]
	}
	return queued
}
