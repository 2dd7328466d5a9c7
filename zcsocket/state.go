package zcsocket

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zerocopy"
)

// udpHeaderLen is what Linux counts on top of the payload when it decides
// whether a UDP send takes a zerocopy id (__ip_append_data: an empty
// datagram takes one).
const udpHeaderLen = 8

// Config describes the socket a State serves.
type Config struct {
	// Family is AF_INET or AF_INET6 and Type SOCK_STREAM or SOCK_DGRAM.
	Family, Type int
	// QueueLimit bounds the error queue (zerocopy.QueueConfig.Limit).
	QueueLimit int
	// Stats, if not nil, counts the socket's zerocopy events.
	Stats *zerocopy.Stats
	// ErrorReport wakes the socket's POLLERR waiters (Linux
	// sk_error_report). It is called without the State's locks held.
	ErrorReport func()
}

// State is the zerocopy state of one netstack socket: SO_ZEROCOPY, the
// MSG_ZEROCOPY id counter (zerocopy.Sender) and the error queue
// (zerocopy.ErrorQueue), which once the State exists is the only error
// queue the socket's user reads: every read of it first moves netstack's
// errors in. It is safe for concurrent use.
type State struct {
	ep     tcpip.Endpoint
	family int
	stype  int

	// zerocopy is SOCK_ZEROCOPY: SO_ZEROCOPY's value.
	zerocopy atomic.Bool `state:".(bool)"`
	// queue is saved in sender's image.
	queue  *zerocopy.ErrorQueue `state:"nosave"`
	sender *zerocopy.Sender     `state:".(string)"`
	// nextErr is netstackErr, made once so that a drain does not
	// allocate it.
	nextErr func() (zerocopy.Entry, bool) `state:"nosave"`

	// loaded is the image of sender and queue read from a checkpoint,
	// until Restore rebuilds them.
	loaded *zerocopy.Image `state:"nosave"`
}

// New returns the zerocopy state of the socket whose endpoint is ep, with
// SO_ZEROCOPY off and an empty error queue.
func New(ep tcpip.Endpoint, cfg Config) *State {
	s := &State{ep: ep, family: cfg.Family, stype: cfg.Type}
	s.init(cfg)
	return s
}

// init makes the empty queue and sender with cfg's limit and hooks.
func (s *State) init(cfg Config) {
	s.nextErr = s.netstackErr
	s.queue = zerocopy.NewErrorQueue(zerocopy.QueueConfig{
		Limit:       cfg.QueueLimit,
		ErrorReport: cfg.ErrorReport,
		Refill:      func(bool) { s.drain() },
		SetSockErr:  s.SetSockErr,
		Stats:       cfg.Stats,
	})
	// A datagram's completion comes before the ICMP error it causes.
	s.sender = zerocopy.NewSender(s.queue, s.stype == unix.SOCK_DGRAM)
}

// Family returns the socket's address family.
func (s *State) Family() int { return s.family }

// ZerocopyEnabled reports SO_ZEROCOPY.
func (s *State) ZerocopyEnabled() bool { return s.zerocopy.Load() }

// SetZerocopy sets SO_ZEROCOPY.
func (s *State) SetZerocopy(on bool) { s.zerocopy.Store(on) }

// ZerocopyValue checks a value for setsockopt(SO_ZEROCOPY) on a TCP or UDP
// socket: 0 or 1 (sk_setsockopt), else EINVAL.
func ZerocopyValue(v int32) (on bool, err error) {
	if v != 0 && v != 1 {
		return false, unix.EINVAL
	}
	return v == 1, nil
}

// ErrorQueue returns the socket's error queue. Its reads (Pop, Take) move
// netstack's pending errors in first.
func (s *State) ErrorQueue() *zerocopy.ErrorQueue { return s.queue }

// drain moves the errors netstack has queued (IP_RECVERR, IPV6_RECVERR) to
// the error queue, in order, behind the completions of the sends they
// follow. It is the queue's Refill, which always moves them all, and Send
// drains around each zerocopy send.
func (s *State) drain() {
	if s.ep.SocketOptions().PeekErr() == nil {
		return
	}
	s.sender.Push(s.nextErr)
}

// netstackErr dequeues the next error of netstack's queue.
func (s *State) netstackErr() (zerocopy.Entry, bool) {
	se := s.ep.SocketOptions().DequeueErr()
	if se == nil {
		return zerocopy.Entry{}, false
	}
	e := entryFromSockError(se)
	if se.Payload != nil {
		se.Payload.Release()
	}
	return e, true
}

// PurgeErrors removes the ICMP and local errors from the error queue and
// keeps the zerocopy completions, as Linux's skb_errqueue_purge does when
// IP_RECVERR or IPV6_RECVERR is turned off. Netstack's own queue, which
// holds only such errors, is emptied by netstack when the option goes off.
func (s *State) PurgeErrors() { s.sender.PurgeErrors() }

// Send runs send, one send call of payload bytes, and accounts it as a
// MSG_ZEROCOPY send if zeroCopy (the call's MSG_ZEROCOPY) is set and the
// socket has SO_ZEROCOPY; Linux ignores MSG_ZEROCOPY otherwise. send
// returns how many payload bytes the stack accepted, and may block: no lock
// is held while it runs.
//
// A zerocopy send takes an id if it sends data or, on a datagram socket,
// if it sends an empty datagram (Linux counts the UDP header); a stream
// send of no bytes takes none. It fails with ENOBUFS before send runs if the
// error queue is full. Errors netstack queued before the send go to the
// error queue before its completion; on a datagram socket those it queues
// while the send runs (loopback delivers an ICMP error inline) go after
// it, as Linux orders a completion and the ICMP error its datagram caused.
func (s *State) Send(zeroCopy bool, payload int64, send func() (int, error)) (int, error) {
	length := payload
	if s.stype == unix.SOCK_DGRAM {
		length += udpHeaderLen
	}
	if !zeroCopy || length == 0 || !s.zerocopy.Load() {
		return send()
	}
	s.drain()
	t, err := s.sender.Reserve()
	if err != nil {
		return 0, err
	}
	n, err := send()
	s.drain()
	s.sender.Done(t, err == nil || n > 0)
	return n, err
}

// Readiness returns EventErr if mask has it and the error queue, or
// netstack's queue that drains into it, holds an entry: Linux's
// tcp_poll and datagram_poll report POLLERR while sk_error_queue is not
// empty. It wakes no one and calls nothing with a lock held, so it may be
// called from poll and epoll with their locks held.
func (s *State) Readiness(mask waiter.EventMask) waiter.EventMask {
	if mask&waiter.EventErr != 0 && (s.queue.Ready() || s.ep.SocketOptions().PeekErr() != nil) {
		return waiter.EventErr
	}
	return 0
}

// SetSockErr sets the socket error (SO_ERROR, and what the next send or
// receive reports) to errno, or clears it for 0, as Linux does after an
// error-queue read (sock_dequeue_err_skb) and after a recvmmsg that fails
// part-way. gVisor holds the socket error as a netstack error: errnos that
// none of the errors netstack reports for ICMP messages, local errors or
// recvmmsg translates to leave it unchanged.
func (s *State) SetSockErr(errno uint32) {
	if err, ok := sockError(errno); ok {
		s.ep.SocketOptions().SetLastError(err)
	}
}
