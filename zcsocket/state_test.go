package zcsocket

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/internal/zctest"
	"github.com/zcstack/zcstack/zerocopy"
)

var localhost = tcpip.AddrFrom4([4]byte{127, 0, 0, 1})

// newNetstack returns a netstack with IPv4, TCP, UDP and a loopback NIC.
func newNetstack(t *testing.T) *stack.Stack {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	t.Cleanup(func() { s.Close(); s.Wait() })
	if err := s.CreateNIC(1, loopback.New()); err != nil {
		t.Fatal(err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: localhost.WithPrefix()}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: pa.AddressWithPrefix.Subnet(), NIC: 1}})
	return s
}

// udpToClosedPort returns a UDP endpoint with IP_RECVERR connected to a
// port nobody listens on, so that each datagram it sends makes netstack
// queue an ICMP port unreachable on it before Write returns.
func udpToClosedPort(t *testing.T) tcpip.Endpoint {
	t.Helper()
	ns := newNetstack(t)
	var wq waiter.Queue
	ep, err := ns.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.Close)
	ep.SocketOptions().SetIPv4RecvError(true)
	if err := ep.Connect(tcpip.FullAddress{Addr: localhost, Port: 9}); err != nil {
		t.Fatal(err)
	}
	return ep
}

// write sends b on ep as the send callback of State.Send. It first clears
// the socket error the previous datagram's ICMP error set, which netstack
// would report instead of sending.
func write(ep tcpip.Endpoint, b []byte) func() (int, error) {
	return func() (int, error) {
		ep.LastError()
		var r bytes.Reader
		r.Reset(b)
		n, err := ep.Write(&r, tcpip.WriteOptions{})
		if err != nil {
			return int(n), Errno(err)
		}
		return int(n), nil
	}
}

// TestSendOrdersErrorAfterCompletion: a datagram's completion comes before
// the ICMP error it causes, as on Linux; errors netstack queued before a
// send come before its completion.
func TestSendOrdersErrorAfterCompletion(t *testing.T) {
	ep := udpToClosedPort(t)
	s := New(ep, Config{Family: unix.AF_INET, Type: unix.SOCK_DGRAM})
	s.SetZerocopy(true)
	if _, err := write(ep, []byte("plain"))(); err != nil { // an error before
		t.Fatal(err)
	}
	for range 2 {
		if n, err := s.Send(true, 1, write(ep, []byte("z"))); n != 1 || err != nil {
			t.Fatalf("Send = %d, %v", n, err)
		}
	}
	c := func(id uint32) zerocopy.Completion { return zerocopy.Completion{Lo: id, Hi: id, Copied: true} }
	want := []any{unix.ECONNREFUSED, c(0), unix.ECONNREFUSED, c(1), unix.ECONNREFUSED}
	if got := zctest.Contents(s.ErrorQueue()); !equal(got, want) {
		t.Errorf("queue = %v, want %v", got, want)
	}
}

func equal(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nextID returns the id the next zerocopy send takes: that of a probe send
// it makes, after which the queue is empty.
func nextID(t *testing.T, s *State) uint32 {
	t.Helper()
	s.SetZerocopy(true)
	if _, err := s.Send(true, 1, func() (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	var last zerocopy.Completion
	for _, x := range zctest.Contents(s.ErrorQueue()) {
		if c, ok := x.(zerocopy.Completion); ok {
			last = c
		}
	}
	return last.Hi
}

// TestSendTakesIDs: which send calls take an id (Linux: MSG_ZEROCOPY with
// SO_ZEROCOPY on, data sent; an empty datagram counts its header).
func TestSendTakesIDs(t *testing.T) {
	ok := func() (int, error) { return 0, nil }
	for _, tc := range []struct {
		name     string
		stype    int
		zerocopy bool // SO_ZEROCOPY
		flag     bool // MSG_ZEROCOPY
		payload  int64
		send     func() (int, error)
		want     uint32 // next id after the send
	}{
		{"udp empty datagram", unix.SOCK_DGRAM, true, true, 0, ok, 1},
		{"tcp empty send", unix.SOCK_STREAM, true, true, 0, ok, 0},
		{"tcp send", unix.SOCK_STREAM, true, true, 3, func() (int, error) { return 3, nil }, 1},
		{"tcp partial send then error", unix.SOCK_STREAM, true, true, 3, func() (int, error) { return 2, unix.EPIPE }, 1},
		{"udp failed send", unix.SOCK_DGRAM, true, true, 3, func() (int, error) { return 0, unix.EMSGSIZE }, 0},
		{"no MSG_ZEROCOPY", unix.SOCK_DGRAM, true, false, 3, ok, 0},
		{"no SO_ZEROCOPY", unix.SOCK_DGRAM, false, true, 3, ok, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := udpToClosedPort(t) // only its socket options are used
			s := New(ep, Config{Family: unix.AF_INET, Type: tc.stype})
			s.SetZerocopy(tc.zerocopy)
			s.Send(tc.flag, tc.payload, tc.send)
			if got := nextID(t, s); got != tc.want {
				t.Errorf("next id %d, want %d", got, tc.want)
			}
		})
	}
}

// TestReadinessAndSockErr: POLLERR for an error netstack queued but not
// yet drained and for one in the queue; reading the queue sets SO_ERROR by
// Linux's rule, with Linux's errno.
func TestReadinessAndSockErr(t *testing.T) {
	ep := udpToClosedPort(t)
	s := New(ep, Config{Family: unix.AF_INET, Type: unix.SOCK_DGRAM})
	if got := s.Readiness(waiter.EventErr); got != 0 {
		t.Fatalf("Readiness = %v before any error", got)
	}
	for range 2 {
		if _, err := write(ep, []byte("x"))(); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Readiness(waiter.EventErr | waiter.EventIn); got != waiter.EventErr {
		t.Errorf("Readiness = %v with netstack errors pending", got)
	}
	if got := s.Readiness(waiter.EventIn); got != 0 {
		t.Errorf("Readiness(EventIn) = %v", got)
	}
	s.drain()
	if ep.SocketOptions().PeekErr() != nil || s.ErrorQueue().Len() != 2 {
		t.Fatalf("drain left netstack's queue or filled ours with %d", s.ErrorQueue().Len())
	}
	ep.LastError() // clear what the ICMP errors set
	s.ErrorQueue().Pop()
	if got := Errno(ep.LastError()); got != unix.ECONNREFUSED {
		t.Errorf("SO_ERROR = %v after reading an ICMP error with another behind, want ECONNREFUSED", got)
	}
	s.SetSockErr(uint32(unix.EHOSTUNREACH))
	s.ErrorQueue().Pop()
	if got := Errno(ep.LastError()); got != 0 {
		t.Errorf("SO_ERROR = %v after the last ICMP error left, want 0", got)
	}
	s.SetSockErr(uint32(unix.ENETUNREACH))
	if got := Errno(ep.LastError()); got != unix.ENETUNREACH {
		t.Errorf("SO_ERROR = %v, want ENETUNREACH", got)
	}
}
