package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

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
