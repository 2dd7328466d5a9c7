package sentry_test

import (
	"testing"
	"time"
)

// TestBadPointers: recvmmsg(MSG_ERRQUEUE) with a bad timeout,
// recvfrom(MSG_ERRQUEUE) with a bad buffer, address or address length,
// recvmsg(MSG_ERRQUEUE) with a bad iov_base, msg_control, msg_name or
// msghdr, each with the error queue empty and holding a completion, and
// getsockopt(SO_ZEROCOPY) with a bad optval or optlen, on a socket with
// SO_ZEROCOPY on (and, on UDP, an ICMP error read into bad buffers): the
// errno and whether the entry is consumed as on the host, for each kind of
// bad pointer: NULL, an unmapped page, a read-only page, and addresses that
// fail access_ok ((void*)-1, the kernel half), which Linux refuses before
// looking at the queue.
func TestBadPointers(t *testing.T) {
	e := getEnv(t)
	for _, k := range kinds {
		t.Run(k, func(t *testing.T) {
			t.Parallel()
			sameAsHost(t, e.outputsWithin(t, 2*time.Minute, "badptr", k))
		})
	}
}
