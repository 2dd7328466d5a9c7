package sentry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
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
	eachNetwork(t, kinds, func(t *testing.T, n runsc.Network, k string) {
		sameAsHost(t, e.outputsWithin(t, n, 2*time.Minute, "badptr", k))
	})
}

// blockedTimeout bounds a run of the blocked guest, which takes about a
// second natively and ends itself after 30 s (its watchdog) if a thread
// stays stuck; a runtime where a stuck thread keeps the process from
// exiting is killed.
const blockedTimeout = 45 * time.Second

// TestBlockedSend: a thread blocked in sendmsg(MSG_ZEROCOPY) on a full TCP
// socket and a second thread blocked behind it in another zerocopy send of
// the same socket; SIGALRM (without SA_RESTART) to the second thread alone
// ends its send at once with EINTR or a partial count while the first stays
// blocked; the first completes when the peer reads, or returns a partial
// count when the peer resets the connection; the ids of the sends that
// returned a count complete exactly once and densely; exit_group and SIGKILL
// end a process with both threads blocked at once. As on the host.
func TestBlockedSend(t *testing.T) {
	e := getEnv(t)
	eachNetwork(t, []string{"tcp4", "tcp6"}, func(t *testing.T, n runsc.Network, k string) {
		sameAsHost(t, e.outputsWithin(t, n, blockedTimeout, "blocked", k))
	})
}

// TestBadSend: MSG_ZEROCOPY sends (sendmsg and sendto) from an unmapped
// buffer, a page without read access, a read-only page, a zero-length
// iovec at a bad base, 1024 one-byte pieces on as many pages, and a buffer
// outside the user range: each result as on the host, and every id that
// went completes exactly once. Under --network=host the host checks the
// host iovecs the sentry builds from the guest's pinned pages. gVisor's
// netstack copies, so it sends a datagram of 1024 pieces, which Linux
// refuses with EMSGSIZE: it pins at most MAX_SKB_FRAGS pieces for a
// zerocopy datagram (__zerocopy_sg_from_iter).
func TestBadSend(t *testing.T) {
	e := getEnv(t)
	eachNetwork(t, kinds, func(t *testing.T, n runsc.Network, k string) {
		outs := e.outputs(t, n, "badsend", k)
		if n == runsc.NetNone && (k == "udp4" || k == "udp6") {
			want := strings.NewReplacer("1024 pieces: EMSGSIZE", "1024 pieces: 1024",
				"bad sends: 3 ids", "bad sends: 4 ids").Replace(outs[runsc.Host])
			if d := lineDiff(want, outs[runsc.Zerocopy]); d != "" {
				t.Errorf("runsc-zc differs from the host but for the datagram of 1024 pieces:\n%s", d)
			}
			return
		}
		sameAsHost(t, outs)
	})
}
