package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zerocopy"
)

// TestUDPConnZerocopy sends datagrams with each zerocopy form of UDPConn
// and Socket. Without SO_ZEROCOPY the wrappers send plainly and take no id,
// as MSG_ZEROCOPY does on Linux, while SendZerocopyTo is EINVAL. With it,
// several goroutines send while another reads completions with
// Completions: every id from 0 to N-1 is completed exactly once.
func TestUDPConnZerocopy(t *testing.T) {
	const (
		senders   = 4
		perSender = 200
		n         = senders * perSender
	)
	for _, tc := range []struct {
		name      string
		connected bool
		write     func(c *UDPConn, b []byte, to netip.AddrPort) error
		// withoutZC is the error without SO_ZEROCOPY.
		withoutZC error
	}{
		{"WriteZerocopy", true, func(c *UDPConn, b []byte, _ netip.AddrPort) error {
			_, err := c.WriteZerocopy(b)
			return err
		}, nil},
		{"WriteToZerocopy", false, func(c *UDPConn, b []byte, to netip.AddrPort) error {
			_, err := c.WriteToZerocopy(b, net.UDPAddrFromAddrPort(to))
			return err
		}, nil},
		{"SendZerocopyTo", false, func(c *UDPConn, b []byte, to netip.AddrPort) error {
			_, _, err := c.Socket().SendZerocopyTo(b, nil, to)
			return err
		}, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			rx := mustListenUDP(t, s)
			to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			raddr := netip.AddrPort{}
			if tc.connected {
				raddr = to
			}
			tx, err := s.DialUDP(netip.MustParseAddrPort("127.0.0.1:0"), raddr)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			var cs [zerocopy.ZCNotificationMax]zerocopy.Completion

			if err := tc.write(tx, []byte("plain"), to); !errors.Is(err, tc.withoutZC) {
				t.Fatalf("send without SO_ZEROCOPY: %v, want %v", err, tc.withoutZC)
			}
			if tc.withoutZC == nil {
				b := make([]byte, 16)
				if n, err := rx.Read(b); err != nil || string(b[:n]) != "plain" {
					t.Fatalf("Read = %q, %v", b[:n], err)
				}
			}
			// An id is taken with a completion: none means none taken.
			if k := tx.Completions(cs[:]); k != 0 {
				t.Fatalf("send without SO_ZEROCOPY completed %v", cs[:k])
			}

			if err := tx.SetZerocopy(true); err != nil {
				t.Fatal(err)
			}
			seen := make([]int, n)
			var extra []zerocopy.Completion
			record := func(cs []zerocopy.Completion) {
				for _, c := range cs {
					for id := c.Lo; ; id++ {
						if id < n {
							seen[id]++
						} else {
							extra = append(extra, c)
						}
						if id == c.Hi {
							break
						}
					}
				}
			}
			e, ch := waiter.NewChannelEntry(waiter.EventErr)
			tx.Socket().EventRegister(&e)
			defer tx.Socket().EventUnregister(&e)
			sent := make(chan struct{})
			drained := make(chan struct{})
			go func() {
				defer close(drained)
				for {
					k := tx.Completions(cs[:])
					record(cs[:k])
					if k > 0 {
						continue
					}
					select {
					case <-ch:
					case <-sent:
						record(cs[:tx.Completions(cs[:])])
						return
					}
				}
			}()
			var wg sync.WaitGroup
			for i := range senders {
				wg.Go(func() {
					for j := range perSender {
						if err := tc.write(tx, []byte{byte(i), byte(j)}, to); err != nil {
							t.Errorf("send: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(sent)
			<-drained
			for id, k := range seen {
				if k != 1 {
					t.Errorf("id %d completed %d times", id, k)
				}
			}
			if len(extra) != 0 {
				t.Errorf("completions beyond id %d: %v", n-1, extra)
			}
		})
	}
}

// TestDialContext dials with net.Dial's network and address strings.
func TestDialContext(t *testing.T) {
	s := newStack(t)
	l4, err := s.ListenTCP(netip.MustParseAddrPort("0.0.0.0:8080"))
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	l6, err := s.ListenTCP(netip.MustParseAddrPort("[::1]:8080"))
	if err != nil {
		t.Fatal(err)
	}
	defer l6.Close()
	for _, l := range []*Listener{l4, l6} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	u := mustListenUDP(t, s)
	uport := strconv.Itoa(u.LocalAddr().(*net.UDPAddr).Port)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	var addrErr *net.AddrError
	var unknown net.UnknownNetworkError
	for _, tc := range []struct {
		ctx      context.Context
		network  string
		address  string
		wantAddr string // the connection's remote address
		wantErr  error  // for errors.Is
		wantAs   any    // for errors.As
	}{
		{nil, "tcp", "127.0.0.1:8080", "127.0.0.1:8080", nil, nil},
		{nil, "tcp4", "127.0.0.1:8080", "127.0.0.1:8080", nil, nil},
		{nil, "tcp", "[::1]:8080", "[::1]:8080", nil, nil},
		{nil, "tcp", "[::ffff:127.0.0.1]:8080", "127.0.0.1:8080", nil, nil},
		{nil, "tcp", ":8080", "127.0.0.1:8080", nil, nil},
		{nil, "tcp6", ":8080", "[::1]:8080", nil, nil},
		{nil, "tcp6", "[::]:8080", "[::1]:8080", nil, nil},
		{nil, "udp", "127.0.0.1:" + uport, "127.0.0.1:" + uport, nil, nil},
		{nil, "tcp4", "127.0.0.1:http", "", unix.ECONNREFUSED, nil},
		{nil, "tcp4", "[::1]:8080", "", nil, &addrErr},
		{nil, "tcp6", "127.0.0.1:8080", "", nil, &addrErr},
		{nil, "tcp6", "[::ffff:127.0.0.1]:8080", "", nil, &addrErr},
		{nil, "tcp", "localhost:8080", "", nil, &addrErr},
		{nil, "tcp", "127.0.0.1", "", nil, &addrErr},
		{nil, "sctp", "127.0.0.1:8080", "", nil, &unknown},
		{canceled, "tcp", "127.0.0.1:8080", "", context.Canceled, nil},
		{canceled, "udp", "127.0.0.1:8080", "", context.Canceled, nil},
	} {
		ctx := tc.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		c, err := s.DialContext(ctx, tc.network, tc.address)
		switch {
		case tc.wantErr == nil && tc.wantAs == nil:
			if err != nil {
				t.Errorf("DialContext(%q, %q): %v", tc.network, tc.address, err)
				continue
			}
			if got := c.RemoteAddr().String(); got != tc.wantAddr {
				t.Errorf("DialContext(%q, %q): connected to %s, want %s", tc.network, tc.address, got, tc.wantAddr)
			}
			_, isTCP := c.(*Conn)
			if _, isUDP := c.(*UDPConn); isTCP == (tc.network[:3] == "udp") || isUDP == (tc.network[:3] == "tcp") {
				t.Errorf("DialContext(%q, %q) returned a %T", tc.network, tc.address, c)
			}
			c.Close()
		case tc.wantErr != nil:
			if !errors.Is(err, tc.wantErr) || c != nil {
				t.Errorf("DialContext(%q, %q) = %v, %v; want error %v", tc.network, tc.address, c, err, tc.wantErr)
			}
		default:
			if !errors.As(err, tc.wantAs) || c != nil {
				t.Errorf("DialContext(%q, %q) = %v, %v; want a %T", tc.network, tc.address, c, err, tc.wantAs)
			}
		}
	}
}

// TestDialTCPCancel: a dial whose context is done, before or while it
// connects, either fails with the context's error or returns a connection
// that works: never one whose writes time out because the cancellation
// moved its deadline after the connection was made.
func TestDialTCPCancel(t *testing.T) {
	s := newStack(t)
	l, err := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.Read(make([]byte, 1))
				c.Close()
			}()
		}
	}()
	addr := l.Addr().(*net.TCPAddr).AddrPort()
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		if i%2 == 0 {
			cancel()
		} else {
			go cancel()
		}
		c, err := s.DialTCP(ctx, addr)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("dial %d: %v, want context.Canceled", i, err)
			}
			continue
		}
		if i%2 == 0 {
			t.Fatalf("dial %d with a canceled context returned a connection", i)
		}
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("dial %d: Write: %v", i, err)
		}
		c.Close()
	}
}

// TestListenerDeadline: Accept returns os.ErrDeadlineExceeded once the
// deadline has passed, and waits again once it is cleared.
func TestListenerDeadline(t *testing.T) {
	s := newStack(t)
	l, err := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.SetDeadline(time.Now().Add(-time.Second))
	_, err = l.Accept()
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Accept past the deadline: %v", err)
	}
	l.SetDeadline(time.Time{})
	go func() {
		if c, err := s.DialTCP(context.Background(), l.Addr().(*net.TCPAddr).AddrPort()); err == nil {
			c.Close()
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept after clearing the deadline: %v", err)
	}
	c.Close()
}

// TestOptionSetters checks the typed option setters against the options
// they set, and their error once closed.
func TestOptionSetters(t *testing.T) {
	s := newStack(t)
	l, err := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := s.DialTCP(context.Background(), l.Addr().(*net.TCPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	u := mustListenUDP(t, s)
	for _, tc := range []struct {
		name       string
		set        func(bool) error
		so         *Socket
		level, opt int
	}{
		{"Conn.SetZerocopy", c.SetZerocopy, c.so, unix.SOL_SOCKET, unix.SO_ZEROCOPY},
		{"UDPConn.SetZerocopy", u.SetZerocopy, u.so, unix.SOL_SOCKET, unix.SO_ZEROCOPY},
		{"Listener.SetZerocopy", l.SetZerocopy, l.so, unix.SOL_SOCKET, unix.SO_ZEROCOPY},
		{"Conn.SetNoDelay", c.SetNoDelay, c.so, unix.IPPROTO_TCP, unix.TCP_NODELAY},
		{"Conn.SetKeepAlive", c.SetKeepAlive, c.so, unix.SOL_SOCKET, unix.SO_KEEPALIVE},
	} {
		for _, on := range []bool{true, false, true} {
			if err := tc.set(on); err != nil {
				t.Errorf("%s(%v): %v", tc.name, on, err)
			}
			if v, err := tc.so.GetSockOptInt(tc.level, tc.opt); err != nil || v != boolInt(on) {
				t.Errorf("%s(%v): option is %d, %v", tc.name, on, v, err)
			}
		}
	}
	c.Close()
	u.Close()
	l.Close()
	for name, set := range map[string]func(bool) error{"Conn": c.SetNoDelay, "UDPConn": u.SetZerocopy, "Listener": l.SetZerocopy} {
		if err := set(true); !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s: set after Close: %v, want net.ErrClosed", name, err)
		}
	}
}

// TestAppendZCNotification checks the messages it builds, and that it
// leaves the buffer alone for sizes SendMsg would refuse.
func TestAppendZCNotification(t *testing.T) {
	prefix := []byte{1, 2, 3}
	for _, n := range []int{-1, 0, 1, zerocopy.ZCNotificationMax, zerocopy.ZCNotificationMax + 1} {
		got := AppendZCNotification(prefix[:len(prefix):len(prefix)], n)
		if n < 0 || n > zerocopy.ZCNotificationMax {
			if len(got) != len(prefix) {
				t.Errorf("n %d: appended %d bytes", n, len(got)-len(prefix))
			}
			continue
		}
		want := appendCmsg(prefix, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zerocopy.AppendZCInfo(nil, n), -1)
		if string(got) != string(want) {
			t.Errorf("n %d: %v, want %v", n, got, want)
		}
	}
}
