package stack

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zerocopy"
)

// TestSOZerocopy checks setsockopt/getsockopt(SO_ZEROCOPY) against the
// values measured on Linux 6.18: 0 and 1 are accepted on TCP (connected,
// listening, accepted) and UDP sockets of both families, other values are
// EINVAL, optlen under 4 is EINVAL and 8 is fine.
func TestSOZerocopy(t *testing.T) {
	s := newStack(t)
	type sock struct {
		name string
		so   *Socket
	}
	var socks []sock
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		c, srv, l := tcpPair(t, s, fam)
		a, _ := udpPair(t, s, fam)
		socks = append(socks,
			sock{fmt.Sprintf("tcp%d-connected", fam), c},
			sock{fmt.Sprintf("tcp%d-accepted", fam), srv},
			sock{fmt.Sprintf("tcp%d-listener", fam), l},
			sock{fmt.Sprintf("tcp%d-new", fam), mustSocket(t, s, fam, unix.SOCK_STREAM)},
			sock{fmt.Sprintf("udp%d", fam), a})
	}
	le := func(v int32, n int) []byte {
		b := make([]byte, max(n, 4))
		b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return b[:n]
	}
	for _, sk := range socks {
		for _, tc := range []struct {
			val     []byte
			wantErr error
			want    int
		}{
			{le(1, 4), nil, 1},
			{le(0, 4), nil, 0},
			{le(1, 8), nil, 1},
			{le(2, 4), unix.EINVAL, 1},
			{le(-1, 4), unix.EINVAL, 1},
			{le(1, 3), unix.EINVAL, 1},
			{le(1, 1), unix.EINVAL, 1},
			{nil, unix.EINVAL, 1},
			{le(0, 8), nil, 0},
		} {
			if tc.want == 1 && tc.wantErr != nil {
				// Errors must leave the option as it was: set it first.
				setInt(t, sk.so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
			}
			if err := sk.so.SetSockOpt(unix.SOL_SOCKET, unix.SO_ZEROCOPY, tc.val); err != tc.wantErr {
				t.Errorf("%s: setsockopt(SO_ZEROCOPY, %v) = %v, want %v", sk.name, tc.val, err, tc.wantErr)
			}
			if got, err := sk.so.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ZEROCOPY); err != nil || got != tc.want {
				t.Errorf("%s: after setsockopt(%v): getsockopt = %d, %v; want %d", sk.name, tc.val, got, err, tc.want)
			}
		}
	}
}

// TestZerocopyInherited checks that an accepted socket inherits SO_ZEROCOPY
// from its listener.
func TestZerocopyInherited(t *testing.T) {
	for _, on := range []int{0, 1} {
		s := newStack(t)
		l := mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM)
		setInt(t, l, unix.SOL_SOCKET, unix.SO_ZEROCOPY, on)
		if err := l.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
			t.Fatal(err)
		}
		if err := l.Listen(1); err != nil {
			t.Fatal(err)
		}
		c := mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM)
		if err := c.Connect(mustLocal(t, l)); err != nil {
			t.Fatal(err)
		}
		a, _, err := l.Accept(0)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := a.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ZEROCOPY); got != on {
			t.Errorf("listener SO_ZEROCOPY %d: accepted socket has %d", on, got)
		}
		a.Close()
	}
}

// ids returns the ids the error queue holds, in order, and fails on
// entries that are not completions.
func ids(t *testing.T, so *Socket) []uint32 {
	t.Helper()
	var out []uint32
	for _, e := range drainQueue(so) {
		c, ok := e.Completion()
		if !ok {
			t.Fatalf("non-completion entry %+v", e)
		}
		for id := c.Lo; ; id++ {
			out = append(out, id)
			if id == c.Hi {
				break
			}
		}
	}
	return out
}

// TestZerocopyIDs checks which sends take an id, as measured on Linux: an
// empty TCP send takes none, an empty UDP datagram takes one, failed sends
// take none, and MSG_ZEROCOPY without SO_ZEROCOPY is a plain send.
func TestZerocopyIDs(t *testing.T) {
	big := make([]byte, 65508)
	for _, tc := range []struct {
		name    string
		typ     int
		payload []byte
		flags   int
		zc      bool
		prep    func(t *testing.T, so *Socket)
		wantErr error
		wantIDs []uint32
	}{
		{name: "tcp data", typ: unix.SOCK_STREAM, payload: []byte("x"), flags: unix.MSG_ZEROCOPY, zc: true, wantIDs: []uint32{0}},
		{name: "tcp empty", typ: unix.SOCK_STREAM, flags: unix.MSG_ZEROCOPY, zc: true},
		{name: "tcp without SO_ZEROCOPY", typ: unix.SOCK_STREAM, payload: []byte("x"), flags: unix.MSG_ZEROCOPY},
		{name: "tcp without MSG_ZEROCOPY", typ: unix.SOCK_STREAM, payload: []byte("x"), zc: true},
		{name: "tcp shut down", typ: unix.SOCK_STREAM, payload: []byte("x"), flags: unix.MSG_ZEROCOPY, zc: true,
			prep:    func(t *testing.T, so *Socket) { so.Shutdown(unix.SHUT_WR) },
			wantErr: unix.EPIPE},
		{name: "udp data", typ: unix.SOCK_DGRAM, payload: []byte("x"), flags: unix.MSG_ZEROCOPY, zc: true, wantIDs: []uint32{0}},
		{name: "udp empty", typ: unix.SOCK_DGRAM, flags: unix.MSG_ZEROCOPY, zc: true, wantIDs: []uint32{0}},
		{name: "udp without SO_ZEROCOPY", typ: unix.SOCK_DGRAM, flags: unix.MSG_ZEROCOPY},
		{name: "udp EMSGSIZE", typ: unix.SOCK_DGRAM, payload: big, flags: unix.MSG_ZEROCOPY, zc: true, wantErr: unix.EMSGSIZE},
		{name: "udp too long", typ: unix.SOCK_DGRAM, payload: make([]byte, 65536), flags: unix.MSG_ZEROCOPY, zc: true, wantErr: unix.EMSGSIZE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			var so *Socket
			if tc.typ == unix.SOCK_STREAM {
				so, _, _ = tcpPair(t, s, unix.AF_INET)
			} else {
				so, _ = udpPair(t, s, unix.AF_INET)
			}
			if tc.zc {
				setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
			}
			if tc.prep != nil {
				tc.prep(t, so)
			}
			n, _, err := so.SendMsg([][]byte{tc.payload}, nil, netip.AddrPort{}, tc.flags)
			if err != tc.wantErr || (err == nil && n != len(tc.payload)) {
				t.Fatalf("SendMsg = %d, %v; want %d, %v", n, err, len(tc.payload), tc.wantErr)
			}
			if got := ids(t, so); fmt.Sprint(got) != fmt.Sprint(tc.wantIDs) {
				t.Errorf("ids = %v, want %v", got, tc.wantIDs)
			}
			// The next zerocopy send takes the next id (an id is
			// taken with its completion: the ids above are all).
			if tc.wantErr == unix.EPIPE {
				return
			}
			setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
			send(t, so, []byte("x"), unix.MSG_ZEROCOPY)
			if got, want := fmt.Sprint(ids(t, so)), fmt.Sprint([]uint32{uint32(len(tc.wantIDs))}); got != want {
				t.Errorf("next send took ids %s, want %s", got, want)
			}
		})
	}
}

// TestTCPSendUnconnected checks that an unconnected TCP socket fails a
// zerocopy send with EPIPE before looking at control messages, and takes no
// id, as tcp_sendmsg_locked does.
func TestTCPSendUnconnected(t *testing.T) {
	s := newStack(t)
	so := mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM)
	setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	bad := appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, []byte{1}, -1)
	if _, _, err := so.SendMsg([][]byte{[]byte("x")}, bad, netip.AddrPort{}, unix.MSG_ZEROCOPY); err != unix.EPIPE {
		t.Errorf("SendMsg = %v, want EPIPE", err)
	}
	// An id is taken with a completion: none queued means none taken.
	if n := so.ErrorQueue().Len(); n != 0 {
		t.Errorf("%d entries queued", n)
	}
}

// fillQueue leaves the error queue of a connected UDP socket with
// completions and ICMP errors interleaved: c0, icmp, c1, icmp, c2, icmp.
func fillQueue(t *testing.T, s *Stack, family int) *Socket {
	t.Helper()
	dst := closedPort(t, s, family)
	so := mustSocket(t, s, family, unix.SOCK_DGRAM)
	setInt(t, so, unix.SOL_IP, unix.IP_RECVERR, 1)
	setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	if err := so.Connect(dst); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := so.SendMsg([][]byte{{byte(i)}}, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		waitErr(t, so)
		// Consume SO_ERROR so that the next send goes out.
		if v, err := so.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != int(unix.ECONNREFUSED) {
			t.Fatalf("SO_ERROR = %d, %v", v, err)
		}
	}
	// Stop more ICMP errors from arriving.
	so.ep.SocketOptions().SetIPv4RecvError(false)
	if got, want := queueString(so), "c0-0 icmp c1-1 icmp c2-2 icmp"; got != want {
		t.Fatalf("queue = %s, want %s", got, want)
	}
	return so
}

// queueString describes the error queue without changing it.
func queueString(so *Socket) string {
	var es []zerocopy.Entry
	for {
		e, ok := so.zc.ErrorQueue().Pop()
		if !ok {
			break
		}
		es = append(es, e)
	}
	var b bytes.Buffer
	for i, e := range es {
		if i > 0 {
			b.WriteByte(' ')
		}
		if c, ok := e.Completion(); ok {
			fmt.Fprintf(&b, "c%d-%d", c.Lo, c.Hi)
		} else {
			b.WriteString("icmp")
		}
		so.zc.ErrorQueue().Push(e)
	}
	return b.String()
}

// TestSCMZCNotificationEINVAL checks every EINVAL of the series'
// __sock_cmsg_send and of the cmsg walk, and that an invalid control buffer
// takes nothing from the queue and sends nothing.
func TestSCMZCNotificationEINVAL(t *testing.T) {
	elem := zerocopy.ZCInfoElemSize
	zc := func(size uint32, n int) []byte {
		d := make([]byte, 4+n)
		d[0], d[1], d[2], d[3] = byte(size), byte(size>>8), byte(size>>16), byte(size>>24)
		return d
	}
	for _, tc := range []struct {
		name   string
		oob    []byte
		zcOff  bool
		dgram  bool
		wantOK bool
	}{
		{name: "SO_ZEROCOPY off", oob: zcOOB(1), zcOff: true},
		{name: "empty data", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, nil, -1)},
		{name: "data shorter than zc_info", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, []byte{0, 0, 0}, -1)},
		{name: "size over max", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(17, 17*elem), -1)},
		{name: "size huge", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(1<<31, elem), -1)},
		{name: "size larger than data", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(2, elem), -1)},
		{name: "size smaller than data", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(1, 2*elem), -1)},
		{name: "partial element", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(1, elem+1), -1)},
		{name: "size 0 with element", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(0, elem), -1)},
		{name: "cmsg_len under header", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(0, 0), 15)},
		{name: "cmsg_len past buffer", oob: appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(0, 0), 64)},
		{name: "second message invalid", oob: appendCmsg(zcOOB(2), unix.SOL_SOCKET, zerocopy.SCMZCNotification, zc(3, 0), -1)},
		{name: "unknown SOL_SOCKET type", oob: appendCmsg(zcOOB(2), unix.SOL_SOCKET, unix.SO_MARK, zc(1, 0), -1)},
		{name: "udp SOL_IP message", oob: appendCmsg(zcOOB(2), unix.SOL_IP, unix.IP_TTL, zc(1, 0), -1), dgram: true},
		// Valid buffers, for contrast.
		{name: "valid", oob: zcOOB(2), wantOK: true},
		{name: "valid size 0", oob: zcOOB(0), wantOK: true},
		{name: "valid max", oob: zcOOB(zerocopy.ZCNotificationMax), wantOK: true},
		{name: "short buffer ignored", oob: make([]byte, unix.SizeofCmsghdr-1), wantOK: true},
		{name: "tcp ignores SOL_IP", oob: appendCmsg(zcOOB(1), unix.SOL_IP, unix.IP_TTL, zc(1, 0), -1), wantOK: true},
		{name: "SCM_RIGHTS ignored", oob: appendCmsg(zcOOB(1), unix.SOL_SOCKET, unix.SCM_RIGHTS, zc(1, 0), -1), wantOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			so := fillQueue(t, s, unix.AF_INET)
			var peer *Socket
			if !tc.dgram {
				so, peer, _ = tcpPair(t, s, unix.AF_INET)
				// Give the TCP socket the same queue shape.
				so.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: 0, Hi: 0, Copied: true})
				so.zc.ErrorQueue().Push(zerocopy.Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP}})
				so.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: 1, Hi: 1, Copied: true})
				setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
			}
			if tc.zcOff {
				setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 0)
			}
			before := queueString(so)
			oob := bytes.Clone(tc.oob)
			n, oobn, err := so.SendMsg([][]byte{[]byte("data")}, oob, netip.AddrPort{}, unix.MSG_ZEROCOPY)
			if !tc.wantOK {
				if err != unix.EINVAL || n != 0 {
					t.Fatalf("SendMsg = %d, %v; want EINVAL", n, err)
				}
				if !bytes.Equal(oob, tc.oob) || oobn != len(oob) {
					t.Errorf("control buffer changed on EINVAL")
				}
				if after := queueString(so); after != before {
					t.Errorf("queue %q became %q", before, after)
				}
				if peer != nil {
					peer.SetNonblock(true)
					if n, _, _, _, err := peer.RecvMsg([][]byte{make([]byte, 8)}, nil, 0); err != unix.EAGAIN {
						t.Errorf("peer received %d bytes, %v", n, err)
					}
				}
				return
			}
			if err != nil || n != 4 {
				t.Fatalf("SendMsg = %d, %v", n, err)
			}
			cs := completionsOf(t, oob[:oobn])
			if len(cs) > 2 {
				t.Errorf("took %v", cs)
			}
		})
	}
}

// TestSCMZCNotificationFetch checks the copy-back: completions taken in
// order, other errors skipped and kept, size set to the count, the
// message moved to the front of the buffer, a zero-length send as the
// one-call fetch, and the send's own completion left for later.
func TestSCMZCNotificationFetch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		room      []int
		data      []byte
		prefix    bool
		wantCs    string
		wantQueue string
	}{
		// The empty UDP datagram of a fetch takes id 3, like the send
		// with data.
		{name: "fetch all", room: []int{4}, wantCs: "[{0 0 true} {1 1 true} {2 2 true}]", wantQueue: "icmp icmp icmp c3-3"},
		{name: "fetch some", room: []int{2}, wantCs: "[{0 0 true} {1 1 true}]", wantQueue: "icmp icmp c2-2 icmp c3-3"},
		{name: "room for none", room: []int{0}, wantCs: "[]", wantQueue: "c0-0 icmp c1-1 icmp c2-2 icmp c3-3"},
		{name: "two messages", room: []int{1, 1}, wantCs: "[{0 0 true} {1 1 true}]", wantQueue: "icmp icmp c2-2 icmp c3-3"},
		{name: "after other message", room: []int{1}, prefix: true, wantCs: "[{0 0 true}]", wantQueue: "icmp c1-1 icmp c2-2 icmp c3-3"},
		{name: "with data", room: []int{16}, data: []byte("x"), wantCs: "[{0 0 true} {1 1 true} {2 2 true}]", wantQueue: "icmp icmp icmp c3-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			so := fillQueue(t, s, unix.AF_INET)
			var oob []byte
			if tc.prefix {
				oob = appendCmsg(oob, unix.SOL_SOCKET, unix.SCM_RIGHTS, []byte{1, 2, 3, 4}, -1)
			}
			for _, r := range tc.room {
				oob = append(oob, zcOOB(r)...)
			}
			n, oobn, err := so.SendMsg([][]byte{tc.data}, oob, netip.AddrPort{}, unix.MSG_ZEROCOPY)
			if err != nil || n != len(tc.data) {
				t.Fatalf("SendMsg = %d, %v", n, err)
			}
			want := 0
			for _, r := range tc.room {
				want += unix.CmsgSpace((zerocopy.ZCInfoHeaderSize + r*zerocopy.ZCInfoElemSize))
			}
			if oobn != want {
				t.Errorf("oobn = %d, want %d", oobn, want)
			}
			cs := completionsOf(t, oob[:oobn])
			if got := fmt.Sprint(cs); got != tc.wantCs && !(tc.wantCs == "[]" && cs == nil) {
				t.Errorf("completions %s, want %s", got, tc.wantCs)
			}
			got := queueString(so)
			if got != tc.wantQueue {
				t.Errorf("queue %q, want %q", got, tc.wantQueue)
			}
		})
	}
}

// TestZeroLengthFetchTCP fetches completions with a zero-length TCP send,
// which sends nothing and takes no id.
func TestZeroLengthFetchTCP(t *testing.T) {
	s := newStack(t)
	c, srv, _ := tcpPair(t, s, unix.AF_INET6)
	setInt(t, c, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	for range 3 {
		send(t, c, []byte("abc"), unix.MSG_ZEROCOPY)
	}
	oob := zcOOB(zerocopy.ZCNotificationMax)
	n, oobn, err := c.SendMsg(nil, oob, netip.AddrPort{}, unix.MSG_ZEROCOPY)
	if err != nil || n != 0 || oobn != len(oob) {
		t.Fatalf("SendMsg = %d, %d, %v", n, oobn, err)
	}
	if got := fmt.Sprint(completionsOf(t, oob[:oobn])); got != "[{0 2 true}]" {
		t.Errorf("completions %s", got)
	}
	if c.zc.ErrorQueue().Len() != 0 {
		t.Errorf("queue %d entries", c.zc.ErrorQueue().Len())
	}
	if got := recvFull(t, srv, 9); string(got) != "abcabcabc" {
		t.Errorf("received %q", got)
	}
	// Idiomatic form: SendZerocopy with no data.
	send(t, c, []byte("d"), unix.MSG_ZEROCOPY)
	var notify [4]zerocopy.Completion
	if n, k, err := c.SendZerocopy(nil, notify[:]); err != nil || n != 0 || k != 1 || notify[0] != (zerocopy.Completion{Lo: 3, Hi: 3, Copied: true}) {
		t.Errorf("SendZerocopy = %d, %d, %v, %v", n, k, err, notify[:k])
	}
}

// TestRequeueOnFailedSend takes completions with SCM_ZC_NOTIFICATION for a
// send that then fails: nothing is lost, the completions return to the
// front of the queue in their order (zerocopy.ErrorQueue.Requeue), the
// other errors keep their order behind them, and the control buffer is
// untouched.
func TestRequeueOnFailedSend(t *testing.T) {
	for _, tc := range []struct {
		name    string
		room    int
		payload []byte
		wantErr error
		want    string
	}{
		// 65508 bytes pass udp_sendmsg's first check but are EMSGSIZE
		// when the datagram is built, after the completions are taken.
		{"EMSGSIZE take 2", 2, make([]byte, 65508), unix.EMSGSIZE, "c0-0 c1-1 icmp icmp c2-2 icmp"},
		{"EMSGSIZE take all", 16, make([]byte, 65508), unix.EMSGSIZE, "c0-0 c1-1 c2-2 icmp icmp icmp"},
		{"EMSGSIZE take none", 0, make([]byte, 65508), unix.EMSGSIZE, "c0-0 icmp c1-1 icmp c2-2 icmp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			so := fillQueue(t, s, unix.AF_INET)
			oob := zcOOB(tc.room)
			orig := bytes.Clone(oob)
			_, oobn, err := so.SendMsg([][]byte{tc.payload}, oob, netip.AddrPort{}, unix.MSG_ZEROCOPY)
			if err != tc.wantErr {
				t.Fatalf("SendMsg = %v, want %v", err, tc.wantErr)
			}
			if !bytes.Equal(oob, orig) || oobn != len(oob) {
				t.Errorf("control buffer changed")
			}
			if got := queueString(so); got != tc.want {
				t.Errorf("queue %q, want %q", got, tc.want)
			}
		})
	}
	// TCP: a full send buffer fails a MSG_DONTWAIT send with EAGAIN after
	// the take. The peer is across a cut wire, so nothing the socket sends
	// is acknowledged and its send buffer stays full. (After
	// shutdown(SHUT_WR) the send fails with EPIPE before control messages
	// are read, as in tcp_sendmsg_locked.)
	a, b, w := peerStack(t)
	c := connectToPeer(t, a, b)
	w.cut.Store(true)
	setInt(t, c, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	chunk := make([]byte, 1<<16)
	for {
		_, _, err := c.SendMsg([][]byte{chunk}, nil, netip.AddrPort{}, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	c.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: 0, Hi: 0, Copied: true})
	c.zc.ErrorQueue().Push(zerocopy.Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.EHOSTUNREACH), Origin: unix.SO_EE_ORIGIN_ICMP}})
	c.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: 1, Hi: 1, Copied: true})
	oob := zcOOB(4)
	orig := bytes.Clone(oob)
	if _, _, err := c.SendMsg([][]byte{[]byte("x")}, oob, netip.AddrPort{}, unix.MSG_ZEROCOPY|unix.MSG_DONTWAIT); err != unix.EAGAIN {
		t.Fatalf("SendMsg on a full socket = %v, want EAGAIN", err)
	}
	if !bytes.Equal(oob, orig) {
		t.Errorf("control buffer changed")
	}
	// The failed send queued no completion of its own: it took no id.
	if got := queueString(c); got != "c0-0 c1-1 icmp" {
		t.Errorf("queue %q", got)
	}
	if err := c.Shutdown(unix.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.SendMsg([][]byte{[]byte("x")}, zcOOB(4), netip.AddrPort{}, unix.MSG_ZEROCOPY); err != unix.EPIPE {
		t.Fatalf("SendMsg after SHUT_WR = %v, want EPIPE", err)
	}
	var notify [4]zerocopy.Completion
	if _, k, err := c.SendZerocopy([]byte("x"), notify[:]); err != unix.EPIPE || k != 0 {
		t.Errorf("SendZerocopy = %d, %v", k, err)
	}
	if got := queueString(c); got != "c0-0 c1-1 icmp" {
		t.Errorf("queue after SendZerocopy %q", got)
	}
}

// TestPOLLERR checks that POLLERR is reported while the error queue holds
// anything, requested or not, that waiters are woken by a completion, and
// that completions never set SO_ERROR.
func TestPOLLERR(t *testing.T) {
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
		s := newStack(t)
		var so *Socket
		if typ == unix.SOCK_STREAM {
			so, _, _ = tcpPair(t, s, unix.AF_INET)
		} else {
			so, _ = udpPair(t, s, unix.AF_INET)
		}
		setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
		if so.Readiness(waiter.EventIn|waiter.EventErr)&waiter.EventErr != 0 {
			t.Fatalf("POLLERR before any send")
		}
		e, ch := waiter.NewChannelEntry(waiter.EventErr)
		so.EventRegister(&e)
		send(t, so, []byte("x"), unix.MSG_ZEROCOPY)
		select {
		case <-ch:
		default:
			t.Errorf("waiter not woken by completion")
		}
		so.EventUnregister(&e)
		for _, mask := range []waiter.EventMask{0, waiter.EventIn, waiter.EventOut, waiter.EventErr} {
			if so.Readiness(mask)&waiter.EventErr == 0 {
				t.Errorf("no POLLERR for mask %#x", mask)
			}
		}
		if v, err := so.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != 0 {
			t.Errorf("SO_ERROR = %d, %v", v, err)
		}
		if _, err := so.RecvErr(); err != nil {
			t.Fatal(err)
		}
		if so.Readiness(waiter.EventErr)&waiter.EventErr != 0 {
			t.Errorf("POLLERR after the queue emptied")
		}
	}
}

// TestPOLLERRWakesOnICMP checks that a waiter blocked for POLLERR alone is
// woken by an ICMP error, which netstack signals on UDP sockets.
func TestPOLLERRWakesOnICMP(t *testing.T) {
	s := newStack(t)
	dst := closedPort(t, s, unix.AF_INET6)
	so := mustSocket(t, s, unix.AF_INET6, unix.SOCK_DGRAM)
	setInt(t, so, unix.SOL_IPV6, unix.IPV6_RECVERR, 1)
	if err := so.Connect(dst); err != nil {
		t.Fatal(err)
	}
	e, ch := waiter.NewChannelEntry(waiter.EventErr)
	so.EventRegister(&e)
	defer so.EventUnregister(&e)
	send(t, so, []byte("x"), 0)
	<-ch
	if so.Readiness(0)&waiter.EventErr == 0 {
		t.Fatal("woken without POLLERR")
	}
	if en, err := so.RecvErr(); err != nil || en.Err.Errno != uint32(unix.ECONNREFUSED) || en.Err.Origin != unix.SO_EE_ORIGIN_ICMP6 {
		t.Errorf("RecvErr = %+v, %v", en, err)
	}
}

// TestENOBUFS checks that a full error queue refuses new MSG_ZEROCOPY sends
// with ENOBUFS and takes no id, that plain sends still go, and that a send
// whose SCM_ZC_NOTIFICATION frees room goes through.
func TestENOBUFS(t *testing.T) {
	s, err := New(Options{ErrorQueueLimit: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, srv, _ := tcpPair(t, s, unix.AF_INET)
	setInt(t, c, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	send(t, c, []byte("a"), unix.MSG_ZEROCOPY) // id 0
	c.zc.ErrorQueue().Push(zerocopy.Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.EHOSTUNREACH), Origin: unix.SO_EE_ORIGIN_ICMP}})
	if _, _, err := c.SendMsg([][]byte{[]byte("b")}, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY); err != unix.ENOBUFS {
		t.Fatalf("zerocopy send on a full queue = %v, want ENOBUFS", err)
	}
	send(t, c, []byte("c"), 0)
	oob := zcOOB(1)
	if n, oobn, err := c.SendMsg([][]byte{[]byte("d")}, oob, netip.AddrPort{}, unix.MSG_ZEROCOPY); err != nil || n != 1 {
		t.Fatalf("fetching zerocopy send = %d, %v", n, err)
	} else if got := fmt.Sprint(completionsOf(t, oob[:oobn])); got != "[{0 0 true}]" {
		t.Errorf("fetched %s", got)
	}
	if got := queueString(c); got != "icmp c1-1" {
		t.Errorf("queue %q", got)
	}
	if got := recvFull(t, srv, 3); string(got) != "acd" {
		t.Errorf("received %q", got)
	}
}

// TestENOBUFSAfterDestinationErrors: a MSG_ZEROCOPY datagram that the full
// error queue refuses reports the errors of its destination and route
// first, as Linux, which routes a datagram before it allocates the
// notification, does; a plain send reports the same errors.
func TestENOBUFSAfterDestinationErrors(t *testing.T) {
	s, err := New(Options{ErrorQueueLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rx := mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM)
	if err := rx.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	so := mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM)
	setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	so.zc.ErrorQueue().Push(zerocopy.Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.EHOSTUNREACH), Origin: unix.SO_EE_ORIGIN_ICMP}})
	for _, tc := range []struct {
		name string
		to   netip.AddrPort
		want error
	}{
		{"no destination", netip.AddrPort{}, unix.EDESTADDRREQ},
		{"port 0", netip.MustParseAddrPort("127.0.0.1:0"), unix.EINVAL},
		{"no route", netip.MustParseAddrPort("192.0.2.1:9"), unix.ENETUNREACH},
		{"routable", mustLocal(t, rx), unix.ENOBUFS},
	} {
		for _, flags := range []int{0, unix.MSG_ZEROCOPY} {
			want := tc.want
			if flags == 0 && want == unix.ENOBUFS {
				want = nil
			}
			if _, _, err := so.SendMsg([][]byte{[]byte("x")}, nil, tc.to, flags); err != want {
				t.Errorf("%s, flags %#x: %v, want %v", tc.name, flags, err, want)
			}
		}
	}
	if got := queueString(so); got != "icmp" {
		t.Errorf("queue %q", got)
	}
}
