package zerocopy

import "sync"

// Sender numbers the MSG_ZEROCOPY sends of one socket and queues their
// completions. Its counter is Linux's sk_zckey: each send call that sends
// data with MSG_ZEROCOPY takes the next 32-bit id, wrapping after 2^32-1; a
// call that fails or sends nothing takes none (msg_zerocopy_put_abort gives
// the id back).
//
// Sends through one Sender are serialized, as lock_sock serializes them in
// Linux, so that ids are handed out in the order sends complete.
type Sender struct {
	queue *ErrorQueue

	mu sync.Mutex
	// +checklocks:mu
	next uint32
}

// NewSender returns a Sender that queues completions on q.
func NewSender(q *ErrorQueue) *Sender {
	return &Sender{queue: q}
}

// Queue returns the error queue completions go to.
func (s *Sender) Queue() *ErrorQueue {
	return s.queue
}

// NextID returns the id the next zerocopy send will take.
func (s *Sender) NextID() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Send runs send, one MSG_ZEROCOPY send call, and accounts for it. length is
// the length Linux tests: the payload for a stream, so that an empty TCP send
// takes no id (tcp_sendmsg_locked), and the payload plus the 8-byte UDP header
// for a datagram, so that an empty UDP datagram takes one (__ip_append_data).
// send returns how many payload bytes the stack accepted. A call with length
// 0 runs send and takes no id. Otherwise Send refuses with ENOBUFS when the
// error queue is full (Admit), and if send succeeds, or sends some bytes
// before it fails, it takes the next id and queues its completion.
//
// This is the one place where completions are produced. gVisor's endpoints
// copy the payload before Write returns (tcp readFromPayloader, udp
// TryNewPacketBufferFromPayloader), so the caller's buffer is free when send
// returns and the completion is queued at once, flagged copied, as Linux
// flags loopback sends. A path that really sends from the caller's memory
// would queue it when the stack releases the buffer instead.
func (s *Sender) Send(length int, send func() (int, error)) (int, error) {
	if length == 0 {
		return send()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Completion{Lo: s.next, Hi: s.next, Copied: true}
	if err := s.queue.Admit(c); err != nil {
		return 0, err
	}
	n, err := send()
	if err == nil || n > 0 {
		s.next++
		s.queue.Complete(c)
	}
	return n, err
}
