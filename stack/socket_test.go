package stack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zerocopy"
)

// TestRecvFlags checks MSG_PEEK, MSG_TRUNC (UDP length, TCP discard),
// MSG_WAITALL and MSG_DONTWAIT.
func TestRecvFlags(t *testing.T) {
	s := newStack(t)
	c, srv, _ := tcpPair(t, s, unix.AF_INET)
	u1, u2 := udpPair(t, s, unix.AF_INET6)
	send(t, c, []byte("0123456789"), 0)
	send(t, u1, []byte("datagram!"), 0)
	buf := make([]byte, 4)
	for _, tc := range []struct {
		name      string
		so        *Socket
		bufs      [][]byte
		flags     int
		wantN     int
		wantFlags int
		wantData  string
		wantErr   error
	}{
		{"tcp peek", srv, [][]byte{buf}, unix.MSG_PEEK, 4, 0, "0123", nil},
		{"tcp peek trunc", srv, [][]byte{buf[:3]}, unix.MSG_PEEK | unix.MSG_TRUNC, 3, 0, "", nil},
		{"tcp trunc discards", srv, [][]byte{buf[:2]}, unix.MSG_TRUNC, 2, 0, "", nil},
		{"tcp read after discard", srv, [][]byte{buf[:2], buf[2:]}, 0, 4, 0, "2345", nil},
		{"tcp zero-length", srv, nil, 0, 0, 0, "", nil},
		{"tcp rest", srv, [][]byte{make([]byte, 100)}, 0, 4, 0, "6789", nil},
		{"tcp dontwait empty", srv, [][]byte{buf}, unix.MSG_DONTWAIT, 0, 0, "", unix.EAGAIN},
		{"udp peek trunc", u2, [][]byte{buf}, unix.MSG_PEEK | unix.MSG_TRUNC, 9, unix.MSG_TRUNC, "data", nil},
		{"udp truncated", u2, [][]byte{buf}, 0, 4, unix.MSG_TRUNC, "data", nil},
		{"udp dontwait empty", u2, [][]byte{buf}, unix.MSG_DONTWAIT, 0, 0, "", unix.EAGAIN},
		{"errqueue empty", u2, [][]byte{buf}, unix.MSG_ERRQUEUE, 0, 0, "", unix.EAGAIN},
		{"udp ignores MSG_OOB", u2, [][]byte{buf}, unix.MSG_OOB | unix.MSG_DONTWAIT, 0, 0, "", unix.EAGAIN},
		{"tcp MSG_OOB", srv, [][]byte{buf}, unix.MSG_OOB, 0, 0, "", unix.EINVAL},
	} {
		clear(buf)
		n, _, flags, _, err := tc.so.RecvMsg(tc.bufs, nil, tc.flags)
		if n != tc.wantN || flags != tc.wantFlags || err != tc.wantErr {
			t.Errorf("%s: RecvMsg = %d, %#x, %v; want %d, %#x, %v", tc.name, n, flags, err, tc.wantN, tc.wantFlags, tc.wantErr)
		}
		if tc.wantData != "" && string(bytes.Join(tc.bufs, nil)[:len(tc.wantData)]) != tc.wantData {
			t.Errorf("%s: data %q, want %q", tc.name, bytes.Join(tc.bufs, nil), tc.wantData)
		}
	}

	// MSG_WAITALL waits for data sent later.
	done := make(chan []byte)
	go func() {
		b := make([]byte, 6)
		n, _, _, _, err := srv.RecvMsg([][]byte{b}, nil, unix.MSG_WAITALL)
		if err != nil {
			t.Errorf("RecvMsg(MSG_WAITALL): %v", err)
		}
		done <- b[:n]
	}()
	send(t, c, []byte("abc"), 0)
	waitBlocked(t, srv)
	send(t, c, []byte("def"), 0)
	if got := <-done; string(got) != "abcdef" {
		t.Errorf("MSG_WAITALL got %q", got)
	}
	// End of stream.
	c.Shutdown(unix.SHUT_WR)
	if n, _, _, _, err := srv.RecvMsg([][]byte{buf}, nil, 0); n != 0 || err != nil {
		t.Errorf("RecvMsg at EOF = %d, %v", n, err)
	}
}

// TestReadiness checks POLLIN, POLLOUT, POLLRDHUP and POLLHUP.
func TestReadiness(t *testing.T) {
	s := newStack(t)
	c, srv, l := tcpPair(t, s, unix.AF_INET)
	all := waiter.EventIn | waiter.EventOut | waiter.EventRdHUp
	if got := srv.Readiness(all); got != waiter.EventOut {
		t.Errorf("idle: %#x", got)
	}
	e, ch := waiter.NewChannelEntry(waiter.EventIn)
	srv.EventRegister(&e)
	send(t, c, []byte("x"), 0)
	<-ch
	srv.EventUnregister(&e)
	if got := srv.Readiness(all); got != waiter.EventIn|waiter.EventOut {
		t.Errorf("data: %#x", got)
	}
	recvFull(t, srv, 1)
	c.Shutdown(unix.SHUT_WR)
	deadline := time.Now().Add(5 * time.Second)
	for srv.Readiness(all)&waiter.EventRdHUp == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := srv.Readiness(all); got != waiter.EventIn|waiter.EventOut|waiter.EventRdHUp {
		t.Errorf("peer shut down writing: %#x", got)
	}
	srv.Shutdown(unix.SHUT_WR)
	for srv.Readiness(0)&waiter.EventHUp == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := srv.Readiness(0); got&waiter.EventHUp == 0 {
		t.Errorf("closed both ways: %#x lacks POLLHUP", got)
	}
	if got := l.Readiness(waiter.EventIn); got != 0 {
		t.Errorf("listener with nothing pending: %#x", got)
	}
}

// TestSockOpts checks options and their errnos.
func TestSockOpts(t *testing.T) {
	s := newStack(t)
	tcp4 := mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM)
	udp6 := mustSocket(t, s, unix.AF_INET6, unix.SOCK_DGRAM)
	bound6 := mustSocket(t, s, unix.AF_INET6, unix.SOCK_STREAM)
	if err := bound6.Bind(netip.MustParseAddrPort("[::1]:0")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		so         *Socket
		level, opt int
		set        []byte
		wantSetErr error
		want       int
		wantGetErr error
	}{
		{"SO_TYPE", tcp4, unix.SOL_SOCKET, unix.SO_TYPE, nil, nil, unix.SOCK_STREAM, nil},
		{"SO_DOMAIN", udp6, unix.SOL_SOCKET, unix.SO_DOMAIN, nil, nil, unix.AF_INET6, nil},
		{"SO_PROTOCOL", udp6, unix.SOL_SOCKET, unix.SO_PROTOCOL, nil, nil, unix.IPPROTO_UDP, nil},
		{"SO_TYPE read-only", tcp4, unix.SOL_SOCKET, unix.SO_TYPE, []byte{1, 0, 0, 0}, unix.ENOPROTOOPT, unix.SOCK_STREAM, nil},
		{"SO_RCVLOWAT 0 is 1", tcp4, unix.SOL_SOCKET, unix.SO_RCVLOWAT, []byte{0, 0, 0, 0}, nil, 1, nil},
		{"SO_RCVLOWAT", tcp4, unix.SOL_SOCKET, unix.SO_RCVLOWAT, []byte{100, 0, 0, 0}, nil, 100, nil},
		{"SO_RCVLOWAT negative", tcp4, unix.SOL_SOCKET, unix.SO_RCVLOWAT, []byte{0xfb, 0xff, 0xff, 0xff}, nil, 0x7fffffff, nil},
		{"SO_REUSEADDR", tcp4, unix.SOL_SOCKET, unix.SO_REUSEADDR, []byte{5, 0, 0, 0}, nil, 1, nil},
		{"SO_REUSEPORT short", tcp4, unix.SOL_SOCKET, unix.SO_REUSEPORT, []byte{1, 0}, unix.EINVAL, 0, nil},
		{"SO_REUSEPORT", udp6, unix.SOL_SOCKET, unix.SO_REUSEPORT, []byte{1, 0, 0, 0}, nil, 1, nil},
		{"SO_ERROR", tcp4, unix.SOL_SOCKET, unix.SO_ERROR, nil, nil, 0, nil},
		{"TCP_NODELAY", tcp4, unix.IPPROTO_TCP, unix.TCP_NODELAY, []byte{1, 0, 0, 0}, nil, 1, nil},
		{"TCP_NODELAY off", tcp4, unix.IPPROTO_TCP, unix.TCP_NODELAY, []byte{0, 0, 0, 0}, nil, 0, nil},
		{"TCP_NODELAY short", tcp4, unix.IPPROTO_TCP, unix.TCP_NODELAY, []byte{1}, unix.EINVAL, 0, nil},
		{"TCP option on UDP", udp6, unix.IPPROTO_TCP, unix.TCP_NODELAY, []byte{1, 0, 0, 0}, unix.ENOPROTOOPT, 0, unix.ENOPROTOOPT},
		{"IP_RECVERR 1 byte", tcp4, unix.SOL_IP, unix.IP_RECVERR, []byte{1}, nil, 1, nil},
		{"IP_RECVERR empty is 0", tcp4, unix.SOL_IP, unix.IP_RECVERR, []byte{}, nil, 0, nil},
		{"IP_RECVERR on AF_INET6", udp6, unix.SOL_IP, unix.IP_RECVERR, []byte{1, 0, 0, 0}, nil, 1, nil},
		{"IPV6_RECVERR", udp6, unix.SOL_IPV6, unix.IPV6_RECVERR, []byte{1, 0, 0, 0}, nil, 1, nil},
		{"IPV6_RECVERR short", udp6, unix.SOL_IPV6, unix.IPV6_RECVERR, []byte{1}, unix.EINVAL, 1, nil},
		{"IPV6 option on AF_INET", tcp4, unix.SOL_IPV6, unix.IPV6_RECVERR, []byte{1, 0, 0, 0}, unix.ENOPROTOOPT, 0, unix.ENOPROTOOPT},
		{"IPV6_V6ONLY", udp6, unix.SOL_IPV6, unix.IPV6_V6ONLY, []byte{1, 0, 0, 0}, nil, 1, nil},
		{"IPV6_V6ONLY bound", bound6, unix.SOL_IPV6, unix.IPV6_V6ONLY, []byte{1, 0, 0, 0}, unix.EINVAL, 0, nil},
		{"unknown level", tcp4, 1234, 1, []byte{1, 0, 0, 0}, unix.ENOPROTOOPT, 0, unix.ENOPROTOOPT},
	} {
		if tc.set != nil || tc.wantSetErr != nil {
			if err := tc.so.SetSockOpt(tc.level, tc.opt, tc.set); err != tc.wantSetErr {
				t.Errorf("%s: set = %v, want %v", tc.name, err, tc.wantSetErr)
			}
		}
		if got, err := tc.so.GetSockOptInt(tc.level, tc.opt); got != tc.want || err != tc.wantGetErr {
			t.Errorf("%s: get = %d, %v; want %d, %v", tc.name, got, err, tc.want, tc.wantGetErr)
		}
	}
	// SO_SNDBUF doubles the value, as Linux does.
	setInt(t, tcp4, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<16)
	if got, _ := tcp4.GetSockOptInt(unix.SOL_SOCKET, unix.SO_SNDBUF); got != 1<<17 {
		t.Errorf("SO_SNDBUF = %d, want %d", got, 1<<17)
	}
}

// TestErrnos checks errnos of socket calls.
func TestErrnos(t *testing.T) {
	s := newStack(t)
	_, _, l := tcpPair(t, s, unix.AF_INET)
	for _, tc := range []struct {
		name string
		call func() error
		want error
	}{
		{"socket bad family", func() error { _, err := s.NewSocket(unix.AF_UNIX, unix.SOCK_STREAM, 0); return err }, unix.EAFNOSUPPORT},
		{"socket bad type", func() error { _, err := s.NewSocket(unix.AF_INET, unix.SOCK_SEQPACKET, 0); return err }, unix.ESOCKTNOSUPPORT},
		{"socket bad protocol", func() error { _, err := s.NewSocket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_UDP); return err }, unix.EPROTONOSUPPORT},
		{"bind in use", func() error {
			return mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM).Bind(mustLocal(t, l))
		}, unix.EADDRINUSE},
		{"bind foreign address", func() error {
			return mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM).Bind(netip.MustParseAddrPort("10.0.0.1:0"))
		}, unix.EADDRNOTAVAIL},
		{"bind v6 on AF_INET", func() error {
			return mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM).Bind(netip.MustParseAddrPort("[::1]:0"))
		}, unix.EAFNOSUPPORT},
		{"connect refused", func() error {
			return mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM).Connect(closedPort(t, s, unix.AF_INET))
		}, unix.ECONNREFUSED},
		{"nonblocking connect", func() error {
			so := mustSocket(t, s, unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_NONBLOCK)
			return so.Connect(netip.AddrPortFrom(netip.IPv6Loopback(), mustLocal(t, l).Port()))
		}, unix.EINPROGRESS},
		{"listen on UDP", func() error { return mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM).Listen(1) }, unix.EOPNOTSUPP},
		{"accept nonblocking", func() error {
			l.SetNonblock(true)
			defer l.SetNonblock(false)
			_, _, err := l.Accept(0)
			return err
		}, unix.EAGAIN},
		{"udp send no destination", func() error {
			_, _, err := mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM).SendMsg([][]byte{{1}}, nil, netip.AddrPort{}, 0)
			return err
		}, unix.EDESTADDRREQ},
		{"udp send port 0", func() error {
			_, _, err := mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM).SendMsg([][]byte{{1}}, nil, netip.MustParseAddrPort("127.0.0.1:0"), 0)
			return err
		}, unix.EINVAL},
		{"send MSG_OOB", func() error {
			_, _, err := mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM).SendMsg(nil, nil, netip.AddrPort{}, unix.MSG_OOB)
			return err
		}, unix.EOPNOTSUPP},
		{"shutdown bad how", func() error { return l.Shutdown(7) }, unix.EINVAL},
		{"shutdown unconnected", func() error { return mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM).Shutdown(unix.SHUT_RD) }, unix.ENOTCONN},
		{"use after close", func() error {
			so := mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM)
			so.Close()
			_, err := so.RecvErr()
			return err
		}, unix.EBADF},
		{"SendZerocopy without SO_ZEROCOPY", func() error {
			_, _, err := mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM).SendZerocopy([]byte("x"), nil)
			return err
		}, unix.EINVAL},
	} {
		if err := tc.call(); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestRecvErrTruncation checks MSG_TRUNC and MSG_CTRUNC on MSG_ERRQUEUE and
// that SO_ERROR follows the queue as in sock_dequeue_err_skb.
func TestRecvErrTruncation(t *testing.T) {
	s := newStack(t)
	so := mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM)
	icmp := zerocopy.Entry{
		Err:      unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 3},
		Offender: netip.MustParseAddr("127.0.0.1"),
		Payload:  []byte("payload"),
	}
	so.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: 7, Hi: 9, Copied: true})
	so.zc.ErrorQueue().Push(icmp)
	so.zc.ErrorQueue().Push(icmp)
	// Popping the completion exposes an ICMP error: SO_ERROR is set.
	oob := make([]byte, 20)
	_, oobn, flags, _, err := so.RecvMsg(nil, oob, unix.MSG_ERRQUEUE)
	if err != nil || oobn != 20 || flags != unix.MSG_ERRQUEUE|unix.MSG_CTRUNC {
		t.Errorf("short oob: %d, %#x, %v", oobn, flags, err)
	}
	if got := cmsgLen(oob); got != 20 {
		t.Errorf("truncated cmsg_len = %d, want 20", got)
	}
	if v, _ := so.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ERROR); v != int(unix.ECONNREFUSED) {
		t.Errorf("SO_ERROR = %d after the completion went", v)
	}
	b := make([]byte, 3)
	oob = make([]byte, 64)
	n, oobn, flags, _, err := so.RecvMsg([][]byte{b}, oob, unix.MSG_ERRQUEUE)
	if err != nil || n != 3 || string(b) != "pay" || flags != unix.MSG_ERRQUEUE|unix.MSG_TRUNC || oobn != unix.CmsgSpace(zerocopy.SizeofSockExtendedErr+unix.SizeofSockaddrInet4) {
		t.Errorf("short payload: %d %q, %d, %#x, %v", n, b, oobn, flags, err)
	}
	// sin_family AF_INET, sin_addr 127.0.0.1 after sock_extended_err.
	if sa := oob[unix.CmsgLen(0)+16:]; sa[0] != unix.AF_INET || !bytes.Equal(sa[4:8], []byte{127, 0, 0, 1}) {
		t.Errorf("offender %v", sa[:16])
	}
	_, _, _, _, err = so.RecvMsg(nil, nil, unix.MSG_ERRQUEUE)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := so.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ERROR); v != 0 {
		t.Errorf("SO_ERROR = %d after the last ICMP error went", v)
	}
}

func cmsgLen(oob []byte) uint64 {
	return uint64(oob[0]) | uint64(oob[1])<<8
}

// TestConnWrappers runs data through Conn, Listener and UDPConn.
func TestConnWrappers(t *testing.T) {
	s := newStack(t)
	l, err := s.ListenTCP(netip.MustParseAddrPort("[::1]:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	addr := l.Addr().(interface{ AddrPort() netip.AddrPort }).AddrPort()
	c, err := s.DialTCP(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("echo "), 10000)
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := c.Read(got); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past deadline: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	c.CloseWrite()
	if _, err := c.Read(got); err != io.EOF {
		t.Errorf("Read at EOF: %v", err)
	}
	c.Close()

	if _, err := s.DialTCP(context.Background(), closedPort(t, s, unix.AF_INET)); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("DialTCP to closed port: %v", err)
	}

	u1, err := s.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer u1.Close()
	u2, err := s.DialUDP(netip.AddrPort{}, u1.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer u2.Close()
	if _, err := u2.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	n, from, err := u1.ReadFrom(b)
	if err != nil || string(b[:n]) != "ping" || from.String() != u2.LocalAddr().String() {
		t.Fatalf("ReadFrom = %q, %v, %v", b[:n], from, err)
	}
	if _, err := u1.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	if n, err := u2.Read(b); err != nil || string(b[:n]) != "pong" {
		t.Fatalf("Read = %q, %v", b[:n], err)
	}
}

// TestRcvlowat checks SO_RCVLOWAT, which netstack ignores: POLLIN and a
// blocking receive wait for that many bytes, a non-blocking receive returns
// what there is.
func TestRcvlowat(t *testing.T) {
	s := newStack(t)
	c, srv, _ := tcpPair(t, s, unix.AF_INET)
	setInt(t, srv, unix.SOL_SOCKET, unix.SO_RCVLOWAT, 5)
	send(t, c, []byte("abc"), 0)
	waitQueued(t, srv, 3)
	if got := srv.Readiness(waiter.EventIn); got != 0 {
		t.Errorf("POLLIN with 3 of 5 bytes: %#x", got)
	}
	done := make(chan string)
	go func() {
		b := make([]byte, 10)
		n, _, _, _, err := srv.RecvMsg([][]byte{b}, nil, 0)
		if err != nil {
			t.Errorf("RecvMsg: %v", err)
		}
		done <- string(b[:n])
	}()
	waitBlocked(t, srv)
	send(t, c, []byte("de"), 0)
	if got := <-done; got != "abcde" {
		t.Errorf("blocking receive got %q", got)
	}
	send(t, c, []byte("fg"), 0)
	waitQueued(t, srv, 2)
	b := make([]byte, 10)
	if n, _, _, _, err := srv.RecvMsg([][]byte{b}, nil, unix.MSG_DONTWAIT); err != nil || string(b[:n]) != "fg" {
		t.Errorf("MSG_DONTWAIT receive = %q, %v", b[:n], err)
	}
}

// waitQueued waits until a stream socket has n bytes to read.
func waitQueued(t *testing.T, so *Socket, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if q, err := so.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption); err == nil && q >= n {
			return
		}
	}
	t.Fatalf("%d bytes never arrived", n)
}

// TestGetSockOptLength checks getsockopt's optlen handling.
func TestGetSockOptLength(t *testing.T) {
	s := newStack(t)
	so := mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM)
	setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	setInt(t, so, unix.SOL_IP, unix.IP_RECVERR, 1)
	for _, tc := range []struct {
		level, name, optlen int
		wantLen             int
		want                []byte
	}{
		{unix.SOL_SOCKET, unix.SO_ZEROCOPY, 4, 4, []byte{1, 0, 0, 0}},
		{unix.SOL_SOCKET, unix.SO_ZEROCOPY, 8, 4, []byte{1, 0, 0, 0}},
		{unix.SOL_SOCKET, unix.SO_ZEROCOPY, 2, 2, []byte{1, 0}},
		{unix.SOL_SOCKET, unix.SO_ZEROCOPY, 0, 0, []byte{}},
		{unix.SOL_SOCKET, unix.SO_TYPE, 4, 4, []byte{unix.SOCK_DGRAM, 0, 0, 0}},
		{unix.SOL_IP, unix.IP_RECVERR, 2, 1, []byte{1}},
		{unix.SOL_IP, unix.IP_RECVERR, 8, 4, []byte{1, 0, 0, 0}},
	} {
		b := make([]byte, tc.optlen)
		n, err := so.GetSockOpt(tc.level, tc.name, b)
		if err != nil || n != tc.wantLen || !bytes.Equal(b[:n], tc.want) {
			t.Errorf("getsockopt(%d, %d, optlen %d) = %v, %d, %v; want %v, %d", tc.level, tc.name, tc.optlen, b[:n], n, err, tc.want, tc.wantLen)
		}
	}
}

// TestV4MappedAddresses checks that AF_INET6 sockets show IPv4 peers
// v4-mapped, as Linux does.
func TestV4MappedAddresses(t *testing.T) {
	s := newStack(t)
	l := mustSocket(t, s, unix.AF_INET6, unix.SOCK_STREAM)
	if err := l.Bind(netip.MustParseAddrPort("[::]:0")); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(1); err != nil {
		t.Fatal(err)
	}
	c := mustSocket(t, s, unix.AF_INET, unix.SOCK_STREAM)
	if err := c.Connect(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), mustLocal(t, l).Port())); err != nil {
		t.Fatal(err)
	}
	a, peer, err := l.Accept(0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	want := netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), mustLocal(t, c).Port())
	if ra, _ := a.RemoteAddr(); peer != want || ra != want {
		t.Errorf("peer %v, RemoteAddr %v; want %v", peer, ra, want)
	}
	u := mustSocket(t, s, unix.AF_INET6, unix.SOCK_DGRAM)
	rx := mustSocket(t, s, unix.AF_INET, unix.SOCK_DGRAM)
	if err := rx.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.SendMsg([][]byte{[]byte("x")}, nil, mustLocal(t, rx), 0); err != nil {
		t.Fatal(err)
	}
	if err := u.Connect(mustLocal(t, rx)); err != nil {
		t.Fatal(err)
	}
	if ra, _ := u.RemoteAddr(); ra.Addr() != netip.MustParseAddr("::ffff:127.0.0.1") {
		t.Errorf("UDP RemoteAddr %v", ra)
	}
}
