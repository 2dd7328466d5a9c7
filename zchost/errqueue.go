package zchost

import (
	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zerocopy"
)

// Refill moves entries of the host socket's error queue into the guest's,
// in the host's order: each completion of host ids completes the guest
// sends that took them and have no other host id left (in id order), and
// every other entry (ICMP and local errors) is queued as the host returned
// it. It is the error queue's Refill: with all, it moves every entry, else
// only as many as it takes for the guest's queue to hold one (what a Pop
// reads). The host sets and clears the socket error (sk_err, SO_ERROR) as
// its own queue is read (sock_dequeue_err_skb), so that moving no more than
// the guest reads keeps the socket error where Linux has it after each of
// the guest's reads.
func (s *State) Refill(all bool) {
	fd := s.fd()
	if fd < 0 {
		return
	}
	s.mu.Lock()
	rel := s.refillLocked(fd, nil, all)
	s.mu.Unlock()
	runAll(rel)
}

// refillLocked is Refill. If failed is not nil, it is a datagram send that
// just failed and may have taken the next host id: it takes it if a
// completion of that id is found (see Tx.Send). It returns the releases of
// the sends it finished, for the caller to run without the lock.
//
// +checklocks:s.mu
func (s *State) refillLocked(fd int, failed *Tx, all bool) []func() {
	var rel []func()
	for all || s.queue.Len() == 0 {
		e, ok := s.sc.recvErr(fd, s.family)
		if !ok {
			return rel
		}
		c, ok := e.Completion()
		if !ok {
			s.queue.Push(e)
			continue
		}
		if failed != nil && covers(c, s.ids.next) {
			s.takeLocked(failed)
			failed = nil
		}
		s.done = s.ids.complete(c, s.done[:0])
		for _, tx := range s.done {
			tx.pending--
			tx.copied = tx.copied || c.Copied
			if tx.pending == 0 && tx.ended {
				if f := s.finishLocked(tx); f != nil {
					rel = append(rel, f)
				}
			}
		}
		s.countCompleted(len(s.done), c.Copied)
		clear(s.done)
	}
	return rel
}

// covers reports whether id is in the range of c.
func covers(c zerocopy.Completion, id uint32) bool {
	return uint64(id-c.Lo) < c.Len()
}

// recvErr reads one entry of the host socket's error queue, as
// recvmsg(MSG_ERRQUEUE) returns it, or reports false if it is empty (or
// cannot be read). Entries without an IP_RECVERR or IPV6_RECVERR message,
// which Linux does not queue on these sockets, are skipped.
func (sc *scratch) recvErr(fd, family int) (zerocopy.Entry, bool) {
	sc.payload = payloads.Get().(*[errPayloadMax]byte)
	defer func() {
		payloads.Put(sc.payload)
		sc.payload = nil
	}()
	for {
		n, ctl, name, err := sc.recvmsg(fd, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if err != nil {
			return zerocopy.Entry{}, false
		}
		var e zerocopy.Entry
		found := false
		level, typ := int32(unix.SOL_IP), int32(unix.IP_RECVERR)
		if family == unix.AF_INET6 {
			level, typ = unix.SOL_IPV6, unix.IPV6_RECVERR
		}
		// Walking what the host wrote cannot fail: it is well formed.
		_ = syscalls.WalkCmsgs(ctl, func(m syscalls.Cmsg) error {
			if found || m.Level != level || m.Type != typ {
				return nil
			}
			e.Err, e.Offender, found = zerocopy.ParseErrCmsgData(m.Data)
			return nil
		})
		if !found {
			continue
		}
		if ap, ok := zerocopy.ParseSockaddr(name); ok {
			e.Dst = ap
		}
		if n > 0 {
			e.Payload = append([]byte(nil), sc.payload[:n]...)
		}
		return e, true
	}
}
