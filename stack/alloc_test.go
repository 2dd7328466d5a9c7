package stack

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/internal/allocs"
	"github.com/zcstack/zcstack/zerocopy"
)

// sinkEndpoint is a netstack endpoint whose writes consume the payload and
// whose reads return one byte from sinkPeer at once, without allocating:
// over it, what a socket call allocates is the socket's own doing. Other
// methods are those of a real, unconnected endpoint.
type sinkEndpoint struct {
	tcpip.Endpoint
	buf [4096]byte
}

var sinkPeer = netip.MustParseAddrPort("127.0.0.1:9")

// State implements tcpip.Endpoint.State: a connected TCP endpoint.
func (e *sinkEndpoint) State() uint32 { return uint32(tcp.StateEstablished) }

// Write implements tcpip.Endpoint.Write.
func (e *sinkEndpoint) Write(p tcpip.Payloader, _ tcpip.WriteOptions) (int64, tcpip.Error) {
	var n int64
	for p.Len() > 0 {
		c, _ := p.Read(e.buf[:])
		n += int64(c)
	}
	return n, nil
}

// Read implements tcpip.Endpoint.Read.
func (e *sinkEndpoint) Read(w io.Writer, _ tcpip.ReadOptions) (tcpip.ReadResult, tcpip.Error) {
	n, _ := w.Write(e.buf[:1])
	from := tcpip.FullAddress{Addr: tcpipAddr(sinkPeer.Addr()), Port: sinkPeer.Port()}
	return tcpip.ReadResult{Count: n, Total: 1, RemoteAddr: from}, nil
}

// sinkSocket returns an AF_INET socket of type typ over a sinkEndpoint.
func sinkSocket(t *testing.T, s *Stack, typ int) *Socket {
	t.Helper()
	proto := tcp.ProtocolNumber
	if typ == unix.SOCK_DGRAM {
		proto = udp.ProtocolNumber
	}
	wq := new(waiter.Queue)
	ep, err := s.ns.NewEndpoint(proto, ipv4.ProtocolNumber, wq)
	if err != nil {
		t.Fatal(err)
	}
	so := s.newSocket(unix.AF_INET, typ, 0, &sinkEndpoint{Endpoint: ep}, wq)
	t.Cleanup(func() { so.Close() })
	return so
}

// TestNoAllocs checks that sends and receives, through Socket and through
// the net wrappers, allocate nothing of their own: over an endpoint that
// allocates nothing, a call that does not block makes no allocation, so
// the wrappers add none to Socket.SendMsg and RecvMsg and every allocation
// left on a real stack is netstack's. (A call that blocks allocates its
// wait: a channel, and a timer while a deadline is set.)
func TestNoAllocs(t *testing.T) {
	if allocs.Race {
		t.Skip("-race: sync.Pool drops items at random")
	}
	s := newStack(t)
	ts := sinkSocket(t, s, unix.SOCK_STREAM)
	us := sinkSocket(t, s, unix.SOCK_DGRAM)
	zts := sinkSocket(t, s, unix.SOCK_STREAM)
	zus := sinkSocket(t, s, unix.SOCK_DGRAM)
	setInt(t, zts, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	setInt(t, zus, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	tc, uc, zuc := NewConn(ts), NewUDPConn(us), NewUDPConn(zus)
	ztc := NewConn(zts)
	b := []byte("x")
	bufs := [][]byte{b}
	to := net.UDPAddrFromAddrPort(sinkPeer)
	oob := zcOOB(zerocopy.ZCNotificationMax)
	var notify [zerocopy.ZCNotificationMax]zerocopy.Completion
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"Socket.SendMsg tcp", func() error { _, _, err := ts.SendMsg(bufs, nil, netip.AddrPort{}, 0); return err }},
		{"Socket.SendMsg udp to", func() error { _, _, err := us.SendMsg(bufs, nil, sinkPeer, 0); return err }},
		{"Socket.SendMsg MSG_ZEROCOPY", func() error {
			_, _, err := zts.SendMsg(bufs, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY)
			return err
		}},
		{"Socket.SendMsg SCM_ZC_NOTIFICATION", func() error {
			binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], zerocopy.ZCNotificationMax)
			_, _, err := zus.SendMsg(bufs, oob, sinkPeer, unix.MSG_ZEROCOPY)
			return err
		}},
		{"Socket.SendZerocopy", func() error { _, _, err := zts.SendZerocopy(b, notify[:]); return err }},
		{"Socket.SendZerocopyTo", func() error { _, _, err := zus.SendZerocopyTo(b, notify[:], sinkPeer); return err }},
		{"Socket.RecvMsg tcp", func() error { _, _, _, _, err := ts.RecvMsg(bufs, nil, 0); return err }},
		{"Socket.RecvMsg udp", func() error { _, _, _, _, err := us.RecvMsg(bufs, nil, 0); return err }},
		{"Conn.Write", func() error { _, err := tc.Write(b); return err }},
		{"Conn.WriteZerocopy", func() error { _, err := ztc.WriteZerocopy(b); return err }},
		{"Conn.Read", func() error { _, err := tc.Read(b); return err }},
		{"Conn.Completions", func() error { ztc.Completions(notify[:]); return nil }},
		{"UDPConn.Write", func() error { _, err := uc.Write(b); return err }},
		{"UDPConn.WriteZerocopy", func() error { _, err := zuc.WriteZerocopy(b); return err }},
		{"UDPConn.WriteTo", func() error { _, err := uc.WriteTo(b, to); return err }},
		{"UDPConn.WriteToUDPAddrPort", func() error { _, err := uc.WriteToUDPAddrPort(b, sinkPeer); return err }},
		{"UDPConn.WriteToZerocopy", func() error { _, err := zuc.WriteToZerocopy(b, to); return err }},
		{"UDPConn.Read", func() error { _, err := uc.Read(b); return err }},
		{"UDPConn.ReadFromUDPAddrPort", func() error { _, _, err := uc.ReadFromUDPAddrPort(b); return err }},
		{"UDPConn.Completions", func() error { zuc.Completions(notify[:]); return nil }},
	} {
		if err := tt.call(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := allocs.Count(1000, func() { tt.call() }); got != 0 {
			t.Errorf("%s: %d allocations in 1000 calls, want 0", tt.name, got)
		}
	}
}
