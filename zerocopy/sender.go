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
// queues the completion at once, flagged copied. A send whose buffer the
// layer below keeps after it returns (the host kernel, sending from the
// caller's pages) is held (Hold): it still gets its id when it returns, but
// its completion waits for Release, as Linux's waits for the last reference
// to the send's ubuf_info.
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
	// unreleased holds the ids of the held sends that have left the line
	// and wait for Release.
	// +checklocks:mu
	unreleased map[Ticket]uint32
}

// Ticket is a send's place in line.
type Ticket uint64

// place is the state of one send in line.
type place struct {
	done, sent bool
	// held is set by Hold; released and copied by Release.
	held, released, copied bool
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
	p := &s.line[t-s.first]
	p.done, p.sent = true, sent
	queued := false
	n := 0
	for ; n < len(s.line) && s.line[n].done; n++ {
		if p := &s.line[n]; p.sent {
			id := s.next
			s.next++
			if st := s.queue.cfg.Stats; st != nil {
				st.Sends.Add(1)
			}
			switch {
			case !p.held || p.released:
				s.queue.complete(Completion{Lo: id, Hi: id, Copied: !p.held || p.copied})
				queued = true
			default:
				if s.unreleased == nil {
					s.unreleased = make(map[Ticket]uint32)
				}
				s.unreleased[s.first] = id
			}
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

// Hold marks the send t, which has not returned yet, as one whose buffer
// the layer below still uses when it returns: its completion is queued only
// once Release reports the buffer free.
func (s *Sender) Hold(t Ticket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line[t-s.first].held = true
}

// Release reports that the layer below no longer uses the buffer of the held
// send t, which has returned, and whether it copied the data after all
// (SO_EE_CODE_ZEROCOPY_COPIED). If t took an id, its completion is queued,
// and POLLERR waiters woken once the Sender's lock is released: at once if
// its id is known, else when it is (see Done). Held sends are completed in
// the order of their releases, not of their ids: the order in which Linux's
// stack frees them. A send that took no id needs no Release.
func (s *Sender) Release(t Ticket, copied bool) {
	s.mu.Lock()
	if t >= s.first {
		p := &s.line[t-s.first]
		p.released, p.copied = true, copied
		s.mu.Unlock()
		return
	}
	id, ok := s.unreleased[t]
	if ok {
		delete(s.unreleased, t)
		s.queue.complete(Completion{Lo: id, Hi: id, Copied: copied})
	}
	s.mu.Unlock()
	if ok {
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
