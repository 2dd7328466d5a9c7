package stack

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitBlocked waits until a call is waiting in so, registered for its
// events.
func waitBlocked(t *testing.T, so *Socket) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); so.queue.Events() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the call never blocked")
		}
	}
}

// stalledConn returns a TCP connection whose peer never reads, with small
// buffers, so that a large write blocks.
func stalledConn(t *testing.T, s *Stack) *Conn {
	t.Helper()
	l, err := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	setInt(t, l.Socket(), unix.SOL_SOCKET, unix.SO_RCVBUF, 1)
	c, err := s.DialTCP(context.Background(), l.Addr().(*net.TCPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peer, err := l.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	setInt(t, c.Socket(), unix.SOL_SOCKET, unix.SO_SNDBUF, 1)
	return c
}

// fillSendBuffer writes to so without blocking until its send buffer is
// full.
func fillSendBuffer(t *testing.T, so *Socket) {
	t.Helper()
	chunk := make([]byte, 1<<16)
	for {
		_, _, err := so.SendMsg([][]byte{chunk}, nil, netip.AddrPort{}, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestBlockedCallsAtClose closes a socket while a call waits in it. As in
// package net, the call returns at once and fails as calls made after Close
// do: net.ErrClosed from the wrappers, never a timeout, end of stream or an
// empty datagram; EBADF from Socket, whose stream sends that sent part of
// their data return the count, as sendmsg(2), and leave EBADF to the next
// call.
func TestBlockedCallsAtClose(t *testing.T) {
	big := make([]byte, 8<<20)
	for _, tc := range []struct {
		name string
		// setup returns the socket the call waits in, the call, which
		// returns its error, and the close that wakes it.
		setup func(t *testing.T, s *Stack) (*Socket, func() error, func() error)
		want  error
	}{
		{"Conn.Read", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			c := stalledConn(t, s)
			return c.so, func() error { _, err := c.Read(make([]byte, 8)); return err }, c.Close
		}, net.ErrClosed},
		{"Conn.Write", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			c := stalledConn(t, s)
			return c.so, func() error { _, err := c.Write(big); return err }, c.Close
		}, net.ErrClosed},
		{"Conn.WriteZerocopy", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			c := stalledConn(t, s)
			if err := c.SetZerocopy(true); err != nil {
				t.Fatal(err)
			}
			return c.so, func() error { _, err := c.WriteZerocopy(big); return err }, c.Close
		}, net.ErrClosed},
		{"UDPConn.Read", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			u := mustListenUDP(t, s)
			return u.so, func() error { _, err := u.Read(make([]byte, 8)); return err }, u.Close
		}, net.ErrClosed},
		{"UDPConn.ReadFrom", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			u := mustListenUDP(t, s)
			return u.so, func() error { _, _, err := u.ReadFrom(make([]byte, 8)); return err }, u.Close
		}, net.ErrClosed},
		{"UDPConn.ReadFromUDPAddrPort", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			u := mustListenUDP(t, s)
			return u.so, func() error { _, _, err := u.ReadFromUDPAddrPort(make([]byte, 8)); return err }, u.Close
		}, net.ErrClosed},
		{"Listener.Accept", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			l, err := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
			if err != nil {
				t.Fatal(err)
			}
			return l.so, func() error { _, err := l.Accept(); return err }, l.Close
		}, net.ErrClosed},
		{"Socket.RecvMsg tcp", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			c, _, _ := tcpPair(t, s, unix.AF_INET)
			return c, func() error { _, _, _, _, err := c.RecvMsg([][]byte{make([]byte, 8)}, nil, 0); return err }, c.Close
		}, unix.EBADF},
		{"Socket.RecvMsg udp", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			a, _ := udpPair(t, s, unix.AF_INET6)
			return a, func() error { _, _, _, _, err := a.RecvMsg([][]byte{make([]byte, 8)}, nil, 0); return err }, a.Close
		}, unix.EBADF},
		{"Socket.SendMsg tcp", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			so := stalledConn(t, s).so
			fillSendBuffer(t, so)
			return so, func() error {
				n, _, err := so.SendMsg([][]byte{big}, nil, netip.AddrPort{}, 0)
				if n > 0 && err == nil {
					_, _, err = so.SendMsg([][]byte{big}, nil, netip.AddrPort{}, 0)
				}
				return err
			}, so.Close
		}, unix.EBADF},
		{"Socket.Accept", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			_, _, l := tcpPair(t, s, unix.AF_INET)
			return l, func() error { _, _, err := l.Accept(0); return err }, l.Close
		}, unix.EBADF},
		{"Socket.Connect", func(t *testing.T, s *Stack) (*Socket, func() error, func() error) {
			// A SYN that is never answered: the peer stack's wire is cut.
			a, _, w := peerStack(t)
			w.cut.Store(true)
			c := mustSocket(t, a, unix.AF_INET, unix.SOCK_STREAM)
			return c, func() error { return c.Connect(netip.AddrPortFrom(hostB, 8000)) }, c.Close
		}, unix.EBADF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			so, call, closeIt := tc.setup(t, s)
			done := make(chan error, 1)
			go func() { done <- call() }()
			waitBlocked(t, so)
			if err := closeIt(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the call still waits after Close")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("call woken by Close: %v, want %v", err, tc.want)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("call woken by Close: %v is a timeout", err)
			}
		})
	}
}

func mustListenUDP(t *testing.T, s *Stack) *UDPConn {
	t.Helper()
	u, err := s.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}
