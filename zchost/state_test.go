package zchost

import (
	"net/netip"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/internal/zctest"
	"github.com/zcstack/zcstack/zerocopy"
)

// These tests run on host sockets over loopback, where the host kernel
// copies what MSG_ZEROCOPY sends and reports every completion copied.

// loopback returns the loopback sockaddr of family with port.
func loopback(family int, port int) unix.Sockaddr {
	if family == unix.AF_INET6 {
		return &unix.SockaddrInet6{Port: port, Addr: netip.IPv6Loopback().As16()}
	}
	return &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
}

func portOf(t testing.TB, fd int) int {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	t.Fatalf("getsockname: %T", sa)
	return 0
}

func socket(t testing.TB, family, stype int) int {
	t.Helper()
	fd, err := unix.Socket(family, stype|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// pair returns a connected sender and its receiver of family and stype on
// loopback, on ephemeral ports. rcvbuf, if not 0, is the receiver's
// SO_RCVBUF.
func pair(t testing.TB, family, stype, rcvbuf int) (tx, rx int) {
	t.Helper()
	b := socket(t, family, stype)
	if rcvbuf != 0 {
		if err := unix.SetsockoptInt(b, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Bind(b, loopback(family, 0)); err != nil {
		t.Fatal(err)
	}
	tx = socket(t, family, stype)
	if stype == unix.SOCK_DGRAM {
		if err := unix.Connect(tx, loopback(family, portOf(t, b))); err != nil {
			t.Fatal(err)
		}
		return tx, b
	}
	if err := unix.Listen(b, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(tx, loopback(family, portOf(t, b))); err != nil && err != unix.EINPROGRESS {
		t.Fatal(err)
	}
	waitFor(t, tx, unix.POLLOUT)
	waitFor(t, b, unix.POLLIN)
	rx, _, err := unix.Accept4(b, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(rx) })
	return tx, rx
}

// waitFor waits until fd has one of events.
func waitFor(t testing.TB, fd int, events int16) int16 {
	t.Helper()
	for {
		p := []unix.PollFd{{Fd: int32(fd), Events: events}}
		if _, err := unix.Poll(p, -1); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		if p[0].Revents != 0 {
			return p[0].Revents
		}
	}
}

// newState returns the zerocopy state of the host socket fd with
// SO_ZEROCOPY on, counting into stats.
func newState(t testing.TB, fd, family, stype int, stats *zerocopy.Stats) *State {
	t.Helper()
	s := New(Config{Family: family, Type: stype, FD: func() int { return fd }, Stats: stats})
	if err := s.SetZerocopy(1); err != nil {
		t.Fatal(err)
	}
	return s
}

// iovecs returns the host iovecs of bufs.
func iovecs(bufs ...[]byte) []unix.Iovec {
	iov := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		iov[i].Base = unsafe.SliceData(b)
		iov[i].SetLen(len(b))
	}
	return iov
}

// sendAll sends each of parts with one host send of one guest send and
// ends it, and returns how many times its release ran by the time End
// returned (the counter keeps counting).
func sendAll(t testing.TB, s *State, released *int, parts ...[]byte) {
	t.Helper()
	tx, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	for _, p := range parts {
		n, err := tx.Send(iovecs(p), nil, nil, 0)
		if err != nil || n != len(p) {
			t.Fatalf("Send(%d bytes) = %d, %v", len(p), n, err)
		}
		sent = true
	}
	tx.End(sent, func() { *released++ })
}

// readAll reads n bytes from the stream rx.
func readAll(t testing.TB, rx, n int) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	buf := make([]byte, 64<<10)
	for len(out) < n {
		k, err := unix.Read(rx, buf)
		if err == unix.EAGAIN {
			waitFor(t, rx, unix.POLLIN)
			continue
		}
		if err != nil || k == 0 {
			t.Fatalf("read: %d, %v", k, err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

// waitHost waits until the host has completed every host id of s, whose
// host socket is fd, and moved them into the error queue.
func waitHost(t testing.TB, s *State, fd int) {
	t.Helper()
	for s.Refill(true); s.hostIDs() > 0; s.Refill(true) {
		waitFor(t, fd, 0) // POLLERR: the host queued a completion
	}
}

// entries describes the error queue of s (zctest.Contents), whose reads
// refill it from the host.
func entries(s *State) []any {
	return zctest.Contents(s.ErrorQueue())
}

func copied(lo, hi uint32) zerocopy.Completion {
	return zerocopy.Completion{Lo: lo, Hi: hi, Copied: true}
}

var families = []int{unix.AF_INET, unix.AF_INET6}

func TestSetZerocopy(t *testing.T) {
	for _, stype := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
		fd := socket(t, unix.AF_INET6, stype)
		s := New(Config{Family: unix.AF_INET6, Type: stype, FD: func() int { return fd }})
		for _, tc := range []struct {
			v   int32
			err error
			on  bool
		}{{1, nil, true}, {2, unix.EINVAL, true}, {0, nil, false}, {-1, unix.EINVAL, false}} {
			if err := s.SetZerocopy(tc.v); err != tc.err || s.ZerocopyEnabled() != tc.on {
				t.Errorf("type %d: SetZerocopy(%d) = %v, on %v; want %v, %v", stype, tc.v, err, s.ZerocopyEnabled(), tc.err, tc.on)
			}
			host, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ZEROCOPY)
			if err != nil || (host == 1) != tc.on {
				t.Errorf("type %d: host SO_ZEROCOPY %d, %v after %d", stype, host, err, tc.v)
			}
		}
	}
	s := New(Config{Family: unix.AF_INET, Type: unix.SOCK_DGRAM, FD: func() int { return -1 }})
	if err := s.SetZerocopy(1); err != unix.ECONNABORTED {
		t.Errorf("without a host socket: %v, want ECONNABORTED", err)
	}
}

// TestGuestIDs: each guest send takes one guest id whatever the number of
// host sends it makes, and completes once every host id it took has,
// copied as the host reported; sends that take host ids in turn each wait
// for all of theirs.
func TestGuestIDs(t *testing.T) {
	for _, family := range families {
		var st zerocopy.Stats
		tx, rx := pair(t, family, unix.SOCK_STREAM, 0)
		s := newState(t, tx, family, unix.SOCK_STREAM, &st)
		buf := make([]byte, 3000)
		released := 0
		sendAll(t, s, &released, buf[:1000])
		sendAll(t, s, &released, buf[:1000], buf[1000:2000], buf[2000:])
		// A and B interleave their host sends: A takes host ids 4 and
		// 6, B host id 5; A is first in line, so its guest id is 2, but
		// B's last host id completes first, and so does B (id 3), as
		// Linux completes the send whose last reference goes first.
		a, _ := s.Begin()
		b, _ := s.Begin()
		for _, x := range []*Tx{a, b, a} {
			if n, err := x.Send(iovecs(buf[:10]), nil, nil, 0); n != 10 || err != nil {
				t.Fatal(n, err)
			}
		}
		b.End(true, func() { released++ })
		a.End(true, func() { released++ })
		readAll(t, rx, 1000+3000+30)
		waitHost(t, s, tx)
		want := []any{copied(0, 1), copied(3, 3), copied(2, 2)}
		if got := entries(s); !reflect.DeepEqual(got, want) {
			t.Errorf("family %d: completions %v, want %v", family, got, want)
		}
		if released != 4 || st.HostSends.Load() != 7 || st.HostCompletions.Load() != 7 || st.HostCopied.Load() != 7 || st.Sends.Load() != 4 {
			t.Errorf("family %d: released %d, host sends %d, host completions %d (copied %d), guest sends %d",
				family, released, st.HostSends.Load(), st.HostCompletions.Load(), st.HostCopied.Load(), st.Sends.Load())
		}
		if s.hostIDs() != 0 {
			t.Errorf("family %d: %d host ids left", family, s.hostIDs())
		}
	}
}

// TestHeldUntilHostCompletes: a send whose data the host still holds (the
// peer's window is closed) completes only when the host frees it, and its
// memory is released then; until then the host sends from the caller's
// memory, so what the peer reads is what the memory holds when the host
// sends it, not when the send returned.
func TestHeldUntilHostCompletes(t *testing.T) {
	for _, family := range families {
		tx, rx := pair(t, family, unix.SOCK_STREAM, 4096)
		s := newState(t, tx, family, unix.SOCK_STREAM, nil)
		// Fill the peer's window with a plain send: what follows stays in
		// the sender's queue.
		filler := make([]byte, 256<<10)
		n, err := unix.Write(tx, filler)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16<<10)
		for i := range buf {
			buf[i] = 'A'
		}
		released := 0
		sendAll(t, s, &released, buf)
		if got := entries(s); got != nil || released != 0 {
			t.Fatalf("family %d: before the peer reads: %v, released %d", family, got, released)
		}
		for i := range buf {
			buf[i] = 'B'
		}
		got := readAll(t, rx, n+len(buf))[n:]
		waitHost(t, s, tx)
		if released != 1 {
			t.Errorf("family %d: released %d times", family, released)
		}
		if got := entries(s); !reflect.DeepEqual(got, []any{copied(0, 0)}) {
			t.Errorf("family %d: completions %v", family, got)
		}
		if string(got[:1]) != "B" || string(got[len(got)-1:]) != "B" {
			t.Errorf("family %d: the peer read %q...%q: the host did not send from the caller's memory", family, got[:1], got[len(got)-1:])
		}
	}
}

// closedPort returns a UDP socket of family with IP_RECVERR (IPV6_RECVERR)
// connected to a loopback port nobody listens on, and the port: each
// datagram it sends earns an ICMP port unreachable.
func closedPort(t testing.TB, family int) (fd, port int) {
	t.Helper()
	tx, rx := pair(t, family, unix.SOCK_DGRAM, 0)
	port = portOf(t, rx)
	unix.Close(rx)
	level, name := unix.SOL_IP, unix.IP_RECVERR
	if family == unix.AF_INET6 {
		level, name = unix.SOL_IPV6, unix.IPV6_RECVERR
	}
	if err := unix.SetsockoptInt(tx, level, name, 1); err != nil {
		t.Fatal(err)
	}
	return tx, port
}

// TestErrorsInOrder: a datagram to a closed port queues its completion and
// then the ICMP error, which come out in the host's order, the ICMP error
// as the host returned it.
func TestErrorsInOrder(t *testing.T) {
	for _, family := range families {
		tx, port := closedPort(t, family)
		s := newState(t, tx, family, unix.SOCK_DGRAM, nil)
		released := 0
		// Reading the host's queue clears the socket error the ICMP error
		// set (sock_dequeue_err_skb), which would fail the next send.
		for i, p := range []string{"0123456789", "abc"} {
			sendAll(t, s, &released, []byte(p))
			for s.Refill(true); s.ErrorQueue().Len() < 2*(i+1); s.Refill(true) {
				waitFor(t, tx, 0)
			}
		}
		var got []zerocopy.Entry
		for e, ok := s.ErrorQueue().Pop(); ok; e, ok = s.ErrorQueue().Pop() {
			got = append(got, e)
		}
		lo := netip.MustParseAddr("127.0.0.1")
		origin, typ, code := uint8(unix.SO_EE_ORIGIN_ICMP), uint8(3), uint8(3)
		if family == unix.AF_INET6 {
			lo = netip.IPv6Loopback()
			origin, typ, code = unix.SO_EE_ORIGIN_ICMP6, 1, 4
		}
		icmp := func(payload string) zerocopy.Entry {
			return zerocopy.Entry{
				Err:      unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: origin, Type: typ, Code: code},
				Offender: lo,
				Dst:      netip.AddrPortFrom(lo, uint16(port)),
				Payload:  []byte(payload),
			}
		}
		want := []zerocopy.Entry{
			{Err: copied(0, 0).ExtendedErr()}, icmp("0123456789"),
			{Err: copied(1, 1).ExtendedErr()}, icmp("abc"),
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("family %d:\ngot  %+v\nwant %+v", family, got, want)
		}
		if released != 2 {
			t.Errorf("family %d: released %d", family, released)
		}
	}
}

// TestFailedDatagramTookID: a datagram send that fails after the host built
// the datagram (here UDP_SEGMENT's check in udp_send_skb) took a host id,
// which the host completes as it drops the datagram; the guest's call took
// no id, and the ids that follow stay right.
func TestFailedDatagramTookID(t *testing.T) {
	var st zerocopy.Stats
	tx, _ := pair(t, unix.AF_INET, unix.SOCK_DGRAM, 0)
	s := newState(t, tx, unix.AF_INET, unix.SOCK_DGRAM, &st)
	released := 0
	sendAll(t, s, &released, []byte("one"))
	if err := unix.SetsockoptInt(tx, unix.SOL_UDP, unix.UDP_SEGMENT, 1); err != nil {
		t.Fatal(err)
	}
	x, err := s.Begin()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if _, err := x.Send(iovecs(buf), nil, nil, 0); err != unix.EINVAL {
		t.Fatalf("send past UDP_SEGMENT's limit: %v, want EINVAL", err)
	}
	x.End(false, func() { released++ })
	if err := unix.SetsockoptInt(tx, unix.SOL_UDP, unix.UDP_SEGMENT, 0); err != nil {
		t.Fatal(err)
	}
	sendAll(t, s, &released, []byte("three"))
	waitHost(t, s, tx)
	if got := entries(s); !reflect.DeepEqual(got, []any{copied(0, 1)}) {
		t.Errorf("completions %v, want [0,1]", got)
	}
	if released != 3 || st.HostSends.Load() != 3 || st.HostCompletions.Load() != 3 {
		t.Errorf("released %d, host sends %d, host completions %d", released, st.HostSends.Load(), st.HostCompletions.Load())
	}
}

// TestZerocopyOff: with SO_ZEROCOPY off the host takes no id; a guest
// send that sent data still takes its id (it raced with the option) and
// completes at once, copied.
func TestZerocopyOff(t *testing.T) {
	var st zerocopy.Stats
	tx, _ := pair(t, unix.AF_INET, unix.SOCK_DGRAM, 0)
	s := newState(t, tx, unix.AF_INET, unix.SOCK_DGRAM, &st)
	x, _ := s.Begin()
	if err := s.SetZerocopy(0); err != nil {
		t.Fatal(err)
	}
	released := 0
	if _, err := x.Send(iovecs([]byte("x")), nil, nil, 0); err != nil {
		t.Fatal(err)
	}
	x.End(true, func() { released++ })
	if got := entries(s); !reflect.DeepEqual(got, []any{copied(0, 0)}) || released != 1 || st.HostSends.Load() != 0 {
		t.Errorf("completions %v, released %d, host sends %d", got, released, st.HostSends.Load())
	}
}

// TestClose: closing a socket whose sends the host still holds releases
// their memory and leaves nothing behind.
func TestClose(t *testing.T) {
	tx, _ := pair(t, unix.AF_INET, unix.SOCK_STREAM, 4096)
	s := newState(t, tx, unix.AF_INET, unix.SOCK_STREAM, nil)
	if _, err := unix.Write(tx, make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	released := 0
	sendAll(t, s, &released, make([]byte, 1000))
	sendAll(t, s, &released, make([]byte, 1000))
	if released != 0 || s.hostIDs() != 2 {
		t.Fatalf("before Close: released %d, %d host ids", released, s.hostIDs())
	}
	s.Close()
	if released != 2 || s.hostIDs() != 0 {
		t.Errorf("after Close: released %d, %d host ids", released, s.hostIDs())
	}
}

// TestConcurrentSends: goroutines that send on one stream socket at once,
// each waiting for room and resuming as a blocking guest send does, make
// host sends whose ids interleave; every guest id completes exactly once,
// and every send's memory is released once.
func TestConcurrentSends(t *testing.T) {
	const senders, sends, size = 4, 50, 20000
	tx, rx := pair(t, unix.AF_INET, unix.SOCK_STREAM, 8192)
	var st zerocopy.Stats
	s := newState(t, tx, unix.AF_INET, unix.SOCK_STREAM, &st)
	var released atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			for range sends {
				x, err := s.Begin()
				if err != nil {
					t.Error(err)
					return
				}
				for off := 0; off < size; {
					n, err := x.Send(iovecs(buf[off:]), nil, nil, 0)
					if err == unix.EAGAIN {
						waitFor(t, tx, unix.POLLOUT)
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					off += n
				}
				x.End(true, func() { released.Add(1) })
			}
		}()
	}
	readAll(t, rx, senders*sends*size)
	wg.Wait()
	waitHost(t, s, tx)
	seen := map[uint32]int{}
	for _, e := range entries(s) {
		c := e.(zerocopy.Completion)
		for id := uint64(c.Lo); id <= uint64(c.Hi); id++ {
			seen[uint32(id)]++
		}
	}
	for id := range uint32(senders * sends) {
		if seen[id] != 1 {
			t.Errorf("id %d completed %d times", id, seen[id])
		}
	}
	if len(seen) != senders*sends || released.Load() != senders*sends {
		t.Errorf("%d ids completed, %d released, want %d", len(seen), released.Load(), senders*sends)
	}
	t.Logf("%d guest sends made %d host sends", senders*sends, st.HostSends.Load())
}

// TestCopyFallback: a send the host refuses with ENOBUFS because its pages
// exceed the sender's RLIMIT_MEMLOCK (a sender without CAP_IPC_LOCK, as
// the sentry is) is sent by copy and completes copied; a send within the
// limit still goes with MSG_ZEROCOPY.
func TestCopyFallback(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
		t.Fatal(err)
	}
	lim := unix.Rlimit{Cur: 64 << 10, Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)

	var st zerocopy.Stats
	tx, rx := pair(t, unix.AF_INET, unix.SOCK_STREAM, 0)
	s := newState(t, tx, unix.AF_INET, unix.SOCK_STREAM, &st)
	big, small := make([]byte, 1<<20), make([]byte, 1000)
	// The sends run on a thread of their own without CAP_IPC_LOCK, which
	// exits with the goroutine: capabilities are a thread's.
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if err := dropCapIPCLock(); err != nil {
			t.Error(err)
			return
		}
		released := 0
		x, _ := s.Begin()
		for off := 0; off < len(big); {
			n, err := x.Send(iovecs(big[off:]), nil, nil, 0)
			if err == unix.EAGAIN {
				waitFor(t, tx, unix.POLLOUT)
				continue
			}
			if err != nil {
				t.Errorf("send of 1 MiB over a 64 KiB RLIMIT_MEMLOCK: %v", err)
				return
			}
			off += n
		}
		x.End(true, func() { released++ })
		sendAll(t, s, &released, small)
	}()
	readAll(t, rx, len(big)+len(small))
	<-done
	waitHost(t, s, tx)
	if got := entries(s); !reflect.DeepEqual(got, []any{copied(0, 1)}) {
		t.Errorf("completions %v, want [0,1] copied", got)
	}
	if st.HostFallbacks.Load() == 0 || st.HostSends.Load() == 0 {
		t.Errorf("host fallbacks %d, host zerocopy sends %d: want both", st.HostFallbacks.Load(), st.HostSends.Load())
	}
}

// dropCapIPCLock removes CAP_IPC_LOCK from the effective capabilities of
// the calling thread.
func dropCapIPCLock() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[unix.CAP_IPC_LOCK/32].Effective &^= 1 << (unix.CAP_IPC_LOCK % 32)
	return unix.Capset(&hdr, &data[0])
}

// TestUnreadCompletions: a guest that never reads its error queue does
// not keep its sends' memory pinned past refillHostIDs host ids: the sends
// read the host's completions, which coalesce in the error queue.
func TestUnreadCompletions(t *testing.T) {
	tx, _ := pair(t, unix.AF_INET, unix.SOCK_DGRAM, 0)
	s := newState(t, tx, unix.AF_INET, unix.SOCK_DGRAM, nil)
	released := 0
	const sends = 3 * refillHostIDs
	for range sends {
		sendAll(t, s, &released, []byte("x"))
	}
	if held := sends - released; held > refillHostIDs {
		t.Errorf("%d sends still pinned after %d sends, want at most %d", held, sends, refillHostIDs)
	}
	if n := s.ErrorQueue().Len(); n != 1 {
		t.Errorf("%d error queue entries, want the completions coalesced in one", n)
	}
}

// TestSocketErrorFollowsReads: the host sets and clears the socket error as
// its error queue is read (sock_dequeue_err_skb), so a read of the guest's
// queue moves no more of the host's than it reads: SO_ERROR after each read
// is the errno of the next entry if that is an ICMP error, else 0, as on
// Linux.
func TestSocketErrorFollowsReads(t *testing.T) {
	for _, family := range families {
		tx, _ := closedPort(t, family)
		s := newState(t, tx, family, unix.SOCK_DGRAM, nil)
		released := 0
		for range 2 {
			sendAll(t, s, &released, []byte("x"))
			// Wait for the ICMP error: it sets the socket error, which
			// reading it clears.
			for {
				if e, _ := unix.GetsockoptInt(tx, unix.SOL_SOCKET, unix.SO_ERROR); e == int(unix.ECONNREFUSED) {
					break
				}
				waitFor(t, tx, 0)
			}
		}
		// The host's queue holds [c0, icmp, c1, icmp].
		var got []string
		for e, ok := s.ErrorQueue().Pop(); ok; e, ok = s.ErrorQueue().Pop() {
			so, _ := unix.GetsockoptInt(tx, unix.SOL_SOCKET, unix.SO_ERROR)
			what := "icmp"
			if _, ok := e.Completion(); ok {
				what = "completion"
			}
			got = append(got, what+" "+unix.ErrnoName(unix.Errno(so)))
		}
		want := []string{"completion ECONNREFUSED", "icmp ", "completion ECONNREFUSED", "icmp "}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("family %d: reads and SO_ERROR after each %q, want %q", family, got, want)
		}
	}
}
