package sentry_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/zcstack/zcstack/internal/runsc"
)

// sameAsHost checks that runsc-zc prints exactly what the host prints.
func sameAsHost(t *testing.T, outs map[runsc.Runtime]string) {
	t.Helper()
	if d := lineDiff(outs[runsc.Host], outs[runsc.Zerocopy]); d != "" {
		t.Errorf("runsc-zc differs from the host:\n%s\nhost output:\n%s", d, outs[runsc.Host])
	}
}

// eachNetwork runs f in a parallel subtest for each network mode and each
// of args (the guest's first argument; nil for none), named network/arg.
func eachNetwork(t *testing.T, args []string, f func(t *testing.T, n runsc.Network, arg string)) {
	if args == nil {
		args = []string{""}
	}
	for _, n := range runsc.Networks {
		for _, a := range args {
			t.Run(strings.TrimSuffix(string(n)+"/"+a, "/"), func(t *testing.T) {
				t.Parallel()
				f(t, n, a)
			})
		}
	}
}

// TestSockopt: SO_ZEROCOPY set and get on TCP and UDP over IPv4 and IPv6
// (new, bound, listening, connected, accepted, with inheritance), on Unix
// sockets, on a pipe and a bad descriptor: every value, length and errno as
// on the host.
func TestSockopt(t *testing.T) {
	e := getEnv(t)
	eachNetwork(t, nil, func(t *testing.T, n runsc.Network, _ string) {
		sameAsHost(t, e.outputs(t, n, "sockopt"))
	})
}

// TestErrorQueue: MSG_ZEROCOPY ids and completions, the exact
// recvmsg(MSG_ERRQUEUE) message, empty and failing sends, MSG_ZEROCOPY
// without SO_ZEROCOPY, truncated control buffers, recvfrom and recvmmsg on
// the error queue, and ICMP errors with IP_RECVERR in order with
// completions: as on the host.
func TestErrorQueue(t *testing.T) {
	e := getEnv(t)
	eachNetwork(t, kinds, func(t *testing.T, n runsc.Network, k string) {
		sameAsHost(t, e.outputs(t, n, "errqueue", k))
	})
}

// TestRecvErrOff: IP_RECVERR or IPV6_RECVERR turned off with ICMP errors
// and completions queued purges the errors and keeps the completions,
// uncoalesced, as the host kernel does (skb_errqueue_purge).
func TestRecvErrOff(t *testing.T) {
	e := getEnv(t)
	eachNetwork(t, []string{"udp4", "udp6"}, func(t *testing.T, n runsc.Network, k string) {
		sameAsHost(t, e.outputs(t, n, "recverr", k))
	})
}

// TestPollErr: POLLERR with poll, select and epoll for a non-empty error
// queue, and the wake-up of a thread blocked in each: as on the host.
func TestPollErr(t *testing.T) {
	e := getEnv(t)
	eachNetwork(t, kinds, func(t *testing.T, n runsc.Network, k string) {
		sameAsHost(t, e.outputs(t, n, "pollerr", k))
	})
}

// TestDescriptors: a zerocopy socket under dup, fcntl O_NONBLOCK,
// SOCK_NONBLOCK and SOCK_CLOEXEC, fork, exec (with and without FD_CLOEXEC),
// close of a duplicate, fstat and /proc/self/fd, and SCM_RIGHTS: as on the
// host, with the error queue shared by every descriptor of the socket.
func TestDescriptors(t *testing.T) {
	e := getEnv(t)
	eachNetwork(t, kinds, func(t *testing.T, n runsc.Network, k string) {
		sameAsHost(t, e.outputs(t, n, "fdops", k))
	})
}

// TestTwoProcesses: a sender and a receiver in two processes of one sandbox
// over 127.0.0.1 and ::1, in copy mode and with MSG_ZEROCOPY and the error
// queue (as on the host), and with SCM_ZC_NOTIFICATION, which the host
// rejects and runsc-zc serves.
func TestTwoProcesses(t *testing.T) {
	e := getEnv(t)
	var args []string
	for _, k := range kinds {
		for _, mode := range []string{"copy", "errqueue", "notif"} {
			args = append(args, k+"/"+mode)
		}
	}
	eachNetwork(t, args, func(t *testing.T, n runsc.Network, arg string) {
		k, mode, _ := strings.Cut(arg, "/")
		outs := e.outputs(t, n, "twoproc", k, mode)
		if mode != "notif" {
			sameAsHost(t, outs)
			return
		}
		if d := lineDiff(twoprocNotifHost, outs[runsc.Host]); d != "" {
			t.Errorf("host differs from its expectation:\n%s", d)
		}
		if d := lineDiff(twoprocNotifZC, outs[runsc.Zerocopy]); d != "" {
			t.Errorf("runsc-zc differs from the series:\n%s\noutput:\n%s", d, outs[runsc.Zerocopy])
		}
	})
}

// The host fails the eighth send, the first with the cmsg, with EINVAL.
const twoprocNotifHost = `sender: sendmsg 7: EINVAL
sender: 9800 bytes, no cmsg fetch
sender: 7 ids: missing 0, duplicated 0, unexpected 0
receiver: 9800 bytes, sender exit 0
`

// runsc-zc sends everything and accounts every id.
const twoprocNotifZC = `sender: 358400 bytes, fetched by cmsg
sender: 256 ids: missing 0, duplicated 0, unexpected 0
receiver: 358400 bytes, sender exit 0
`

// TestNotification: the SCM_ZC_NOTIFICATION series on every kind of
// socket: the host rejects the cmsg with EINVAL, runsc-zc follows the
// series (see notifZC).
func TestNotification(t *testing.T) {
	e := getEnv(t)
	eachNetwork(t, kinds, func(t *testing.T, n runsc.Network, k string) {
		outs := e.outputs(t, n, "notif", k)
		if d := lineDiff(notifHost(k), outs[runsc.Host]); d != "" {
			t.Errorf("host differs from its expectation:\n%s\noutput:\n%s", d, outs[runsc.Host])
		}
		want, got := notifZC(k), outs[runsc.Zerocopy]
		if n == runsc.NetHost && (k == "tcp4" || k == "tcp6") {
			want, got = notifStable(want), notifStable(got)
		}
		if d := lineDiff(want, got); d != "" {
			t.Errorf("runsc-zc differs from the series:\n%s\noutput:\n%s", d, outs[runsc.Zerocopy])
		}
	})
}

// notifFail is how each kind's failing send ends in notif's "send fails
// after completions were taken" case: EPIPE after shutdown for TCP; for UDP
// a payload over 65535 bytes and one over the largest datagram, which Linux
// checks in different orders against the cmsg (udp_sendmsg checks the
// length first, udpv6_sendmsg the cmsg), and gVisor fails with EMSGSIZE.
var notifFail = map[string]struct{ host, zc string }{
	"tcp4": {"sendmsg 10 cmsg 16: EPIPE\n", "sendmsg 10 cmsg 16: EPIPE\n"},
	"tcp6": {"sendmsg 10 cmsg 16: EPIPE\n", "sendmsg 10 cmsg 16: EPIPE\n"},
	"udp4": {
		"sendmsg 65536 cmsg 16: EMSGSIZE\nsendmsg 65508 cmsg 16: EINVAL\n",
		"sendmsg 65536 cmsg 16: EMSGSIZE\nsendmsg 65508 cmsg 16: EMSGSIZE\n",
	},
	"udp6": {
		"sendmsg 65536 cmsg 16: EINVAL\nsendmsg 65528 cmsg 16: EINVAL\n",
		"sendmsg 65536 cmsg 16: EMSGSIZE\nsendmsg 65528 cmsg 16: EMSGSIZE\n",
	},
}

// notifHost is what the host prints for notif: every sendmsg with the cmsg
// fails with EINVAL (SOL_SOCKET type 78 is unknown to it), after which each
// case accounts the ids of the sends that did go out.
func notifHost(k string) string {
	return `== limit 1
sendmsg 1000 cmsg 16: EINVAL
fetches 0, outstanding 0
sendmsg 0 cmsg 16: EINVAL
limit: 0 ids: missing 0, duplicated 0, unexpected 0
== limit 32
sendmsg 1000 cmsg 16: EINVAL
fetches 0, outstanding 31
sendmsg 0 cmsg 16: EINVAL
limit: 31 ids: missing 0, duplicated 0, unexpected 0
== zero-length fetch
sendmsg 10 cmsg -1: 10
sendmsg 10 cmsg 0: EINVAL
sendmsg 10 cmsg 0: EINVAL
sendmsg 10 cmsg 0: EINVAL
zero-length: 1 ids: missing 0, duplicated 0, unexpected 0
` + notifEINVAL + `== send fails after completions were taken
sendmsg 10 cmsg -1: 10
sendmsg 10 cmsg -1: 10
sendmsg 10 cmsg -1: 10
` + notifFail[k].host + `control untouched: size 16
failed send: 3 ids: missing 0, duplicated 0, unexpected 0
` + notifReadOnly("EINVAL") + `== sendmmsg
sendmsg: 10
sendmmsg: 1
  entry 0 len 10: flags 0x5a
sendmmsg: 2 ids: missing 0, duplicated 0, unexpected 0
` + notifSkip(k, true) + `== hybrid
hybrid cmsg send: EINVAL, continuing without
hybrid: 2000 ids: missing 0, duplicated 0, unexpected 0
`
}

// notifReadOnly is the case of a copy-back into read-only memory, which
// fails with errno before anything is sent: the host's EINVAL (it rejects
// the cmsg), runsc-zc's EFAULT, checked before the data goes out (the
// series fails it after sending). Either way the send takes no id.
func notifReadOnly(errno string) string {
	return `== copy-back into read-only memory
sendmsg 10 cmsg -1: 10
msg_control read-only: ` + errno + `
msghdr read-only: ` + errno + `
read-only: 1 ids: missing 0, duplicated 0, unexpected 0
`
}

// notifEINVAL is the EINVAL case, the same on the host and in the series:
// every malformed cmsg is EINVAL and takes nothing, so the completion
// queued first is still there at the end.
const notifEINVAL = `== EINVAL
sendmsg 10 cmsg -1: 10
no zc_info: EINVAL
short zc_info: EINVAL
size 17: EINVAL
size 2 room 3: EINVAL
size 3 room 2: EINVAL
size 1 room 1 and a byte: EINVAL
size 16 room 15: EINVAL
cmsg_len beyond controllen: EINVAL
good then unknown: EINVAL
SO_ZEROCOPY off: EINVAL
SO_ZEROCOPY off, size 0: EINVAL
EINVAL: 1 ids: missing 0, duplicated 0, unexpected 0
`

// notifZC is what the series specifies for notif where gVisor copies every
// send at once, so that each completion is queued before its sendmsg
// returns and completions of consecutive sends coalesce:
//   - a fetch takes the completions queued before its own send (the series
//     handles the cmsg before the protocol sends), so with limit 1 the n-th
//     send returns id n-1, and with limit 32 one fetch returns [0,30],
//     the next [31,61], the final one [62,63];
//   - the copy-back (sendmsg_copy_cmsg_to_user) puts the whole cmsg back at
//     the start of msg_control (cmsg_len CMSG_LEN(4+16*12) = 212 with
//     size set to the count), msg_controllen = CMSG_SPACE = 216 (24 for the
//     zero-length fetch, cmsg_len 20), and msg_flags = the sendmsg flags,
//     with MSG_DONTWAIT (0x40) on a non-blocking socket and MSG_BATCH
//     (0x40000) on all but the last sendmmsg entry; an entry without the
//     cmsg keeps its msg_flags (0x5a);
//   - a failed send writes nothing back and loses nothing (the series
//     would lose what it took: ours puts it back);
//   - the UDP final fetch is a plain empty datagram (flags 0x0), which takes
//     no id.
func notifZC(k string) string {
	final := "0x4000000"
	if k == "udp4" || k == "udp6" {
		final = "0x0"
	}
	const cb = "  copied back: controllen 216 flags 0x4000000 cmsg len 212 level 1 type 78 size "
	return `== limit 1
sendmsg 1000 cmsg 16: 1000
` + cb + `0
sendmsg 1000 cmsg 16: 1000
` + cb + `1 [0,0]copied
sendmsg 1000 cmsg 16: 1000
` + cb + `1 [1,1]copied
sendmsg 1000 cmsg 16: 1000
` + cb + `1 [62,62]copied
fetches 64, outstanding 1
sendmsg 0 cmsg 16: 0
  copied back: controllen 216 flags ` + final + ` cmsg len 212 level 1 type 78 size 1 [63,63]copied
limit: 64 ids: missing 0, duplicated 0, unexpected 0
== limit 32
sendmsg 1000 cmsg 16: 1000
` + cb + `1 [0,30]copied
sendmsg 1000 cmsg 16: 1000
` + cb + `1 [31,61]copied
fetches 2, outstanding 2
sendmsg 0 cmsg 16: 0
  copied back: controllen 216 flags ` + final + ` cmsg len 212 level 1 type 78 size 1 [62,63]copied
limit: 64 ids: missing 0, duplicated 0, unexpected 0
== zero-length fetch
sendmsg 10 cmsg -1: 10
sendmsg 10 cmsg 0: 10
  copied back: controllen 24 flags 0x4000000 cmsg len 20 level 1 type 78 size 0
sendmsg 10 cmsg 0: 10
  copied back: controllen 24 flags 0x0 cmsg len 20 level 1 type 78 size 0
sendmsg 10 cmsg 0: 10
  copied back: controllen 24 flags 0x4000040 cmsg len 20 level 1 type 78 size 0
zero-length: 3 ids: missing 0, duplicated 0, unexpected 0
` + notifEINVAL + `== send fails after completions were taken
sendmsg 10 cmsg -1: 10
sendmsg 10 cmsg -1: 10
sendmsg 10 cmsg -1: 10
` + notifFail[k].zc + `control untouched: size 16
failed send: 3 ids: missing 0, duplicated 0, unexpected 0
` + notifReadOnly("EFAULT") + `== sendmmsg
sendmsg: 10
sendmmsg: 4
  entry 0 len 10: flags 0x5a
  entry 1 len 11: controllen 216 flags 0x4040000 cmsg len 212 level 1 type 78 size 1 [0,1]copied
  entry 2 len 12: controllen 216 flags 0x4040000 cmsg len 212 level 1 type 78 size 1 [2,2]copied
  entry 3 len 13: controllen 216 flags 0x4000000 cmsg len 212 level 1 type 78 size 1 [3,3]copied
sendmmsg: 5 ids: missing 0, duplicated 0, unexpected 0
` + notifSkip(k, false) + `== hybrid
hybrid: 2000 ids: missing 0, duplicated 0, unexpected 0
`
}

// notifSkip is notif's "a fetch skips other errors" case, run on UDP: a
// zerocopy send to a closed port queues its completion and then the ICMP
// error (IP_RECVERR); a fetch takes the completion and leaves the ICMP
// error, which recvmsg(MSG_ERRQUEUE) then returns before the fetching send's
// own completion and ICMP error. The host fails the fetch with EINVAL and
// returns the first two entries.
func notifSkip(k string, host bool) string {
	if k != "udp4" && k != "udp6" {
		return ""
	}
	// The IP_RECVERR message of each family: msg_controllen, cmsg_len,
	// level and type, the ICMP origin, type and code of port
	// unreachable, and msg_namelen.
	cl, cml, lvl, typ, origin, itype, icode, nl := 48, 48, 0, 11, 2, 3, 3, 16
	if k == "udp6" {
		cl, cml, lvl, typ, origin, itype, icode, nl = 64, 60, 41, 25, 3, 1, 4, 28
	}
	completion := func(id int) string {
		return fmt.Sprintf("  errqueue: ret 0 flags 0x2000 namelen 0 controllen %d\n"+
			"  cmsg len %d level %d type %d errno 0 origin 5 type 0 code 1 info %d data %d\n",
			cl, cml, lvl, typ, id, id)
	}
	icmp := fmt.Sprintf("  errqueue: ret 10 flags 0x2000 namelen %d controllen %d\n"+
		"  cmsg len %d level %d type %d errno 111 origin %d type %d code %d info 0 data 0\n",
		nl, cl, cml, lvl, typ, origin, itype, icode)
	out := "== a fetch skips other errors\nsendmsg 10 cmsg -1: 10\nSO_ERROR ECONNREFUSED\n"
	if host {
		return out + "sendmsg 10 cmsg 16: EINVAL\n" + completion(0) + icmp +
			"  errqueue: EAGAIN\nskip: 1 ids: missing 0, duplicated 0, unexpected 0\n"
	}
	return out + "sendmsg 10 cmsg 16: 10\n" +
		"  copied back: controllen 216 flags 0x4000000 cmsg len 212 level 1 type 78 size 1 [0,0]copied\n" +
		icmp + completion(1) + icmp +
		"  errqueue: EAGAIN\nskip: 2 ids: missing 0, duplicated 0, unexpected 0\n"
}

// notifUnstable matches the lines of notif's output that depend on when the
// host kernel completes a TCP send, which is when the peer's ACK frees its
// data (on loopback, at once or after a delayed ACK's 40 ms): what each
// fetch returns, and so how many fetches the limit cases make.
var notifUnstable = regexp.MustCompile(`(?m)^(sendmsg 1000 cmsg 16: 1000|  copied back: .*|fetches \d+, outstanding \d+|  entry [123] len .*)\n`)

// notifStable is notif's output without notifUnstable's lines: the stream
// sends under --network=host, where the ids of every case are still
// checked to complete exactly once.
func notifStable(out string) string {
	return notifUnstable.ReplaceAllString(out, "")
}
