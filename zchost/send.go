package zchost

import (
	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// Tx is one MSG_ZEROCOPY send call of the guest, which makes one or more
// host sends (Send) and then ends (End). Its fields other than s and ticket
// are guarded by s.mu.
type Tx struct {
	s      *State
	ticket zerocopy.Ticket

	// pending counts the host ids it took whose completions are unread.
	pending int
	// held reports that it took a host id (zerocopy.Sender.Hold).
	held bool
	// copied reports that the host copied the data of one of its ids.
	copied bool
	// ended is set by End, which gives release.
	ended   bool
	release func()
}

// Begin starts a MSG_ZEROCOPY send on a socket with SO_ZEROCOPY: it takes a
// place in the guest's line (zerocopy.Sender.Reserve), or fails with
// ENOBUFS if the error queue is full or the host holds maxHostIDs ids of the
// socket (see refillHostIDs). The caller must End the send.
func (s *State) Begin() (*Tx, error) {
	if s.hostIDs() >= refillHostIDs {
		s.Refill(true)
		if s.hostIDs() >= maxHostIDs {
			return nil, unix.ENOBUFS
		}
	}
	t, err := s.sender.Reserve()
	if err != nil {
		return nil, err
	}
	return &Tx{s: s, ticket: t}, nil
}

// hostIDs returns the number of host ids whose completions are unread.
func (s *State) hostIDs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids.len()
}

// Send makes one host send of the guest's call: sendmsg on the host socket
// with iov (host addresses of the guest's memory, which the host pins and
// sends from), the destination to and the control messages control (both
// may be empty), and flags plus MSG_DONTWAIT (it never blocks: the caller
// waits between sends), MSG_ZEROCOPY and MSG_NOSIGNAL (a broken stream
// sends the sentry no SIGPIPE). It returns the host's result; EAGAIN is
// unix.EAGAIN.
//
// It records the host id the send took, as the host gives them: a stream
// send takes one if it sent a byte, a datagram send if it sent the datagram
// (an empty one too), while SO_ZEROCOPY is on; a send that fails gives its
// id back (msg_zerocopy_put_abort). A datagram send can also fail after the
// host built the datagram, which then took an id that the host completes as
// it drops the datagram (udp_send_skb's errors: a netfilter drop, a full
// queue with IP_RECVERR, UDP_SEGMENT's checks): after any failed datagram
// send but EAGAIN, Send reads the host's error queue and takes the id if
// its completion is there.
//
// A send the host refuses with ENOBUFS before sending anything, because it
// cannot account the pages it would pin (mm_account_pinned_pages: the
// sentry has no CAP_IPC_LOCK, so RLIMIT_MEMLOCK of its host user applies,
// which a native root program does not meet) or allocate the notification
// (optmem_max), is made again without MSG_ZEROCOPY, and the guest's send
// completes copied (SO_EE_CODE_ZEROCOPY_COPIED), as Linux's does when it
// copies after all.
func (tx *Tx) Send(iov []unix.Iovec, to, control []byte, flags int) (int, error) {
	s := tx.s
	dgram := s.stype == unix.SOCK_DGRAM
	s.mu.Lock()
	fd := s.fd()
	if fd < 0 {
		s.mu.Unlock()
		return 0, unix.ECONNRESET
	}
	flags |= unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL
	n, err := s.sc.sendmsg(fd, iov, to, control, flags|unix.MSG_ZEROCOPY)
	var rel []func()
	if s.zerocopy.Load() {
		pending := tx.pending
		if !tookID(n, err, dgram) && err != unix.EAGAIN && dgram {
			rel = s.refillLocked(fd, tx, true)
		}
		switch {
		case tookID(n, err, dgram):
			s.takeLocked(tx)
		case err == unix.ENOBUFS && tx.pending == pending:
			// The host could pin no more pages (the sandbox process's
			// RLIMIT_MEMLOCK) or allocate no notification (optmem_max)
			// and sent nothing: send by copy, and say so.
			n, err = s.sc.sendmsg(fd, iov, to, control, flags)
			if tookID(n, err, dgram) {
				tx.copied = true
				s.countFallback()
			}
		}
	}
	s.mu.Unlock()
	runAll(rel)
	return n, err
}

// tookID reports whether a host send with MSG_ZEROCOPY that returned n and
// err took a host id: a stream send that sent a byte, a datagram send that
// succeeded.
func tookID(n int, err error, dgram bool) bool {
	return n > 0 || (err == nil && dgram)
}

// takeLocked gives the next host id to tx.
//
// +checklocks:s.mu
func (s *State) takeLocked(tx *Tx) {
	s.ids.take(tx)
	tx.pending++
	if !tx.held {
		tx.held = true
		s.sender.Hold(tx.ticket)
	}
	s.countSend()
}

// End ends the send: sent reports whether the guest's call sent data (a
// stream call that sent any byte, even if it then failed; a datagram call
// that succeeded), so takes a guest id. release, if not nil, is called
// once the host no longer uses the send's memory: when every host id it
// took has completed, or at Close.
func (tx *Tx) End(sent bool, release func()) {
	s := tx.s
	s.mu.Lock()
	tx.ended, tx.release = true, release
	s.sender.Done(tx.ticket, sent)
	var rel func()
	if tx.pending == 0 {
		rel = s.finishLocked(tx)
	}
	s.mu.Unlock()
	if rel != nil {
		rel()
	}
}

// finishLocked completes tx, a send of s whose host ids have all completed
// and which has ended, and returns its release.
//
// +checklocks:s.mu
func (s *State) finishLocked(tx *Tx) func() {
	if tx.held {
		s.sender.Release(tx.ticket, tx.copied)
	}
	rel := tx.release
	tx.release = nil
	return rel
}

func runAll(fs []func()) {
	for _, f := range fs {
		f()
	}
}
