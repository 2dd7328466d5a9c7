package zchost

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// Bounds on the host ids of a socket whose completions have not been read,
// each of which keeps its send's memory pinned: past refillHostIDs a new
// MSG_ZEROCOPY send first reads the host's error queue, so that a guest
// that does not read its completions does not keep memory pinned past
// what the host still sends; past maxHostIDs, if the host still holds that
// many after the read, the send fails with ENOBUFS, as Linux fails one
// whose socket's option memory (optmem_max) is used up. The host's own
// limits (optmem_max, the send buffer) keep a socket far below it.
const (
	refillHostIDs = 64
	maxHostIDs    = 1 << 16
)

// Config describes the host socket a State serves.
type Config struct {
	// Family is AF_INET or AF_INET6 and Type SOCK_STREAM or SOCK_DGRAM.
	Family, Type int
	// FD returns the host socket's descriptor, or a negative number when
	// it has none (gVisor's hostinet restores connected sockets without
	// one).
	FD func() int
	// Zerocopy is SO_ZEROCOPY at the start: off for a new socket; as it
	// was for a socket restored from a checkpoint, whose host socket is a
	// new one (a listener's) or none.
	Zerocopy bool
	// QueueLimit bounds the error queue (zerocopy.QueueConfig.Limit).
	QueueLimit int
	// Stats, if not nil, counts the socket's zerocopy events.
	Stats *zerocopy.Stats
	// ErrorReport wakes the socket's POLLERR waiters (Linux
	// sk_error_report). It may be called with State.mu held and must not
	// call the State.
	ErrorReport func()
}

// State is the zerocopy state of one host socket: SO_ZEROCOPY, the guest's
// MSG_ZEROCOPY ids (zerocopy.Sender), the host's (hostIDs) and the guest's
// error queue (zerocopy.ErrorQueue), which once the State exists is the
// only error queue the guest reads. It is safe for concurrent use.
type State struct {
	family int
	stype  int
	fd     func() int
	stats  *zerocopy.Stats

	// zerocopy is SO_ZEROCOPY as last set on the host socket.
	zerocopy atomic.Bool
	queue    *zerocopy.ErrorQueue
	sender   *zerocopy.Sender

	// mu serializes the host calls that take or complete host ids:
	// SO_ZEROCOPY, MSG_ZEROCOPY sends and error-queue reads.
	mu sync.Mutex
	// +checklocks:mu
	ids hostIDs
	// +checklocks:mu
	sc scratch
	// done holds the sends a completion reaches.
	// +checklocks:mu
	done []*Tx
}

// New returns the zerocopy state of the host socket cfg describes, with an
// empty error queue.
func New(cfg Config) *State {
	s := &State{family: cfg.Family, stype: cfg.Type, fd: cfg.FD, stats: cfg.Stats}
	s.queue = zerocopy.NewErrorQueue(zerocopy.QueueConfig{
		Limit:       cfg.QueueLimit,
		ErrorReport: cfg.ErrorReport,
		Refill:      s.Refill,
		Stats:       cfg.Stats,
	})
	// The host orders errors and completions: none is held back.
	s.sender = zerocopy.NewSender(s.queue, false)
	s.zerocopy.Store(cfg.Zerocopy)
	return s
}

// Family returns the socket's address family.
func (s *State) Family() int { return s.family }

// ZerocopyEnabled reports SO_ZEROCOPY.
func (s *State) ZerocopyEnabled() bool { return s.zerocopy.Load() }

// ErrorQueue returns the socket's error queue. Its reads (Pop, Take) move
// the host's entries in first (Refill).
func (s *State) ErrorQueue() *zerocopy.ErrorQueue { return s.queue }

// SetZerocopy sets SO_ZEROCOPY to v on the host socket, which checks it as
// Linux's sk_setsockopt does (EINVAL for a value other than 0 or 1), and
// returns the host's error. The host's errno is the guest's.
func (s *State) SetZerocopy(v int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fd := s.fd()
	if fd < 0 {
		// As hostinet's SetSockOpt on a socket restored without one.
		return unix.ECONNABORTED
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ZEROCOPY, int(v)); err != nil {
		return err
	}
	s.zerocopy.Store(v != 0)
	return nil
}

// PurgeErrors removes the ICMP and local errors from the error queue and
// keeps the completions, as Linux's skb_errqueue_purge does when IP_RECVERR
// or IPV6_RECVERR is turned off; the host purges its own queue.
func (s *State) PurgeErrors() { s.sender.PurgeErrors() }

// Close releases the buffers of the sends whose host ids have not
// completed, when the socket is released: nothing is read from the host
// after that. The host frees its own references to them when it frees the
// data.
func (s *State) Close() {
	s.mu.Lock()
	var rel []func()
	s.ids.forEach(func(tx *Tx) {
		if tx.release != nil {
			rel = append(rel, tx.release)
			tx.release = nil
		}
	})
	s.ids = hostIDs{}
	s.mu.Unlock()
	for _, f := range rel {
		f()
	}
}

// countSend counts a host send that took a host id.
func (s *State) countSend() {
	if st := s.stats; st != nil {
		st.HostSends.Add(1)
	}
}

// countFallback counts a host send made by copy because the host refused
// MSG_ZEROCOPY.
func (s *State) countFallback() {
	if st := s.stats; st != nil {
		st.HostFallbacks.Add(1)
	}
}

// countCompleted counts n host ids whose completion was read.
func (s *State) countCompleted(n int, copied bool) {
	if st := s.stats; st != nil {
		st.HostCompletions.Add(uint64(n))
		if copied {
			st.HostCopied.Add(uint64(n))
		}
	}
}
