package stack

import (
	"bytes"
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	tcpipstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/raw"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// wire joins two link endpoints: it carries every packet one sends to the
// other, until it is cut. A cut wire drops packets, so that nothing a TCP
// sender queues is acknowledged.
type wire struct {
	a, b *channel.Endpoint
	cut  atomic.Bool
}

func newWire(t *testing.T) *wire {
	w := &wire{a: channel.New(512, 1500, ""), b: channel.New(512, 1500, "")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go w.carry(ctx, w.a, w.b, done)
	go w.carry(ctx, w.b, w.a, done)
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
	return w
}

func (w *wire) carry(ctx context.Context, from, to *channel.Endpoint, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	for {
		pkt := from.ReadContext(ctx)
		if pkt == nil {
			return
		}
		if !w.cut.Load() {
			in := tcpipstack.NewPacketBuffer(tcpipstack.PacketBufferOptions{Payload: pkt.ToBuffer()})
			to.InjectInbound(pkt.NetworkProtocolNumber, in)
			in.DecRef()
		}
		pkt.DecRef()
	}
}

var (
	hostA = netip.MustParseAddr("10.0.0.1")
	hostB = netip.MustParseAddr("10.0.0.2")
)

// peerStack returns a Stack at hostA and a plain netstack at hostB, with TCP
// and raw ICMP sockets, joined by a wire.
func peerStack(t *testing.T) (*Stack, *tcpipstack.Stack, *wire) {
	t.Helper()
	w := newWire(t)
	a, err := New(Options{NoLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if err := a.AddNIC(1, w.a, netip.PrefixFrom(hostA, 24)); err != nil {
		t.Fatal(err)
	}
	b := tcpipstack.New(tcpipstack.Options{
		NetworkProtocols:   []tcpipstack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []tcpipstack.TransportProtocolFactory{tcp.NewProtocol, icmp.NewProtocol4},
		RawFactory:         raw.EndpointFactory{},
	})
	t.Cleanup(func() { b.Close(); b.Wait() })
	if err := b.CreateNIC(1, w.b); err != nil {
		t.Fatal(err)
	}
	pa := tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4(hostB.As4()), PrefixLen: 24},
	}
	if err := b.AddProtocolAddress(1, pa, tcpipstack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	b.SetRouteTable([]tcpip.Route{{Destination: pa.AddressWithPrefix.Subnet(), NIC: 1}})
	return a, b, w
}

// connectToPeer returns a TCP socket of a connected to a listener of b,
// which never reads.
func connectToPeer(t *testing.T, a *Stack, b *tcpipstack.Stack) *Socket {
	t.Helper()
	var wq waiter.Queue
	l, terr := b.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		t.Fatal(terr)
	}
	t.Cleanup(l.Close)
	if err := l.Bind(tcpip.FullAddress{Port: 8000}); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(4); err != nil {
		t.Fatal(err)
	}
	c := mustSocket(t, a, unix.AF_INET, unix.SOCK_STREAM)
	if err := c.Connect(netip.AddrPortFrom(hostB, 8000)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return c
}

// sendICMPUnreachable makes b send to a an ICMP destination unreachable with
// code about a TCP segment of c's connection, through a raw socket.
func sendICMPUnreachable(t *testing.T, b *tcpipstack.Stack, c *Socket, code header.ICMPv4Code) {
	t.Helper()
	local, remote := mustLocal(t, c), mustRemote(t, c)
	// The offending datagram: c's IPv4 header and the first 8 bytes of
	// its TCP header (the ports and sequence number).
	inner := make([]byte, header.IPv4MinimumSize+8)
	ip := header.IPv4(inner)
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(header.IPv4MinimumSize + header.TCPMinimumSize),
		TTL:         64,
		Protocol:    uint8(tcp.ProtocolNumber),
		SrcAddr:     tcpip.AddrFrom4(local.Addr().As4()),
		DstAddr:     tcpip.AddrFrom4(remote.Addr().As4()),
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	th := header.TCP(inner[header.IPv4MinimumSize:])
	th.SetSourcePort(local.Port())
	th.SetDestinationPort(remote.Port())
	msg := make([]byte, header.ICMPv4MinimumSize+len(inner))
	ih := header.ICMPv4(msg)
	ih.SetType(header.ICMPv4DstUnreachable)
	ih.SetCode(code)
	copy(ih.Payload(), inner)
	ih.SetChecksum(^checksum.Checksum(msg, 0))

	var wq waiter.Queue
	ep, terr := b.NewRawEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq, true)
	if terr != nil {
		t.Fatal(terr)
	}
	defer ep.Close()
	to := tcpip.FullAddress{Addr: tcpip.AddrFrom4(local.Addr().As4())}
	if _, err := ep.Write(bytes.NewReader(msg), tcpip.WriteOptions{To: &to}); err != nil {
		t.Fatalf("raw write: %v", err)
	}
}

// waitErrors waits until so's error queue holds n entries. Netstack
// signals no event for an ICMP error on an established TCP connection, so
// it polls, moving netstack's errors in with a read that takes nothing.
func waitErrors(t *testing.T, so *Socket, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if so.ErrorQueue().Take(nil); so.ErrorQueue().Len() >= n {
			return
		}
	}
	t.Fatalf("%d errors never arrived", n)
}

func mustRemote(t *testing.T, so *Socket) netip.AddrPort {
	t.Helper()
	a, err := so.RemoteAddr()
	if err != nil {
		t.Fatalf("RemoteAddr: %v", err)
	}
	return a
}

// TestICMPErrorSetsSockError: real ICMP errors from a second stack about an
// established TCP connection reach the error queue with IP_RECVERR, and
// each read of the queue leaves in SO_ERROR exactly the errno Linux leaves
// there (sock_dequeue_err_skb): that of the next entry if it is an ICMP
// error, else 0.
func TestICMPErrorSetsSockError(t *testing.T) {
	a, b, _ := peerStack(t)
	c := connectToPeer(t, a, b)
	setInt(t, c, unix.SOL_IP, unix.IP_RECVERR, 1)
	codes := []struct {
		code  header.ICMPv4Code
		errno unix.Errno
	}{
		{header.ICMPv4HostUnreachable, unix.EHOSTUNREACH},
		{header.ICMPv4NetUnreachable, unix.ENETUNREACH},
		{header.ICMPv4ProtoUnreachable, unix.ENOPROTOOPT},
		{header.ICMPv4HostUnreachable, unix.EHOSTUNREACH},
	}
	for _, x := range codes {
		sendICMPUnreachable(t, b, c, x.code)
	}
	waitErrors(t, c, len(codes))
	if v, err := c.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ERROR); err != nil || unix.Errno(v) != unix.EHOSTUNREACH {
		t.Fatalf("SO_ERROR before any read = %v, %v; want the last ICMP error's EHOSTUNREACH", unix.Errno(v), err)
	}
	for i, x := range codes {
		e, err := c.RecvErr()
		if err != nil {
			t.Fatalf("RecvErr %d: %v", i, err)
		}
		if unix.Errno(e.Err.Errno) != x.errno || e.Err.Origin != unix.SO_EE_ORIGIN_ICMP || e.Err.Type != 3 || e.Err.Code != uint8(x.code) {
			t.Errorf("entry %d = %+v, want errno %v, ICMP type 3 code %d", i, e.Err, x.errno, x.code)
		}
		// Linux reports the ICMP sender (hostB); netstack records the
		// socket's own address and no other (see docs/design.md).
		if e.Offender != hostA {
			t.Errorf("entry %d: offender %v, want netstack's %v", i, e.Offender, hostA)
		}
		want := unix.Errno(0)
		if i+1 < len(codes) {
			want = codes[i+1].errno
		}
		if v, err := c.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ERROR); err != nil || unix.Errno(v) != want {
			t.Errorf("SO_ERROR after read %d = %v, %v; want %v", i, unix.Errno(v), err, want)
		}
	}
}

// TestSendNotHeldUpByBlockedSend: while one MSG_ZEROCOPY send waits for
// room in a full send buffer, another send on the socket is served at once
// (here a MSG_DONTWAIT one, which fails with EAGAIN and takes no id) instead
// of waiting behind the first, and ids stay dense.
func TestSendNotHeldUpByBlockedSend(t *testing.T) {
	a, b, w := peerStack(t)
	c := connectToPeer(t, a, b)
	w.cut.Store(true) // nothing is acknowledged: the buffer stays full
	setInt(t, c, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	chunk := make([]byte, 1<<16)
	for {
		if _, _, err := c.SendMsg([][]byte{chunk}, nil, netip.AddrPort{}, unix.MSG_DONTWAIT); err == unix.EAGAIN {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	blocked := make(chan error, 1)
	go func() {
		_, _, err := c.SendMsg([][]byte{chunk}, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY)
		blocked <- err
	}()
	other := make(chan error, 1)
	go func() {
		_, _, err := c.SendMsg([][]byte{[]byte("x")}, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY|unix.MSG_DONTWAIT)
		other <- err
	}()
	select {
	case err := <-other:
		if err != unix.EAGAIN {
			t.Errorf("MSG_DONTWAIT send = %v, want EAGAIN", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a MSG_DONTWAIT send waited for a blocked send")
	}
	select {
	case err := <-blocked:
		t.Fatalf("the blocking send returned %v on a full buffer", err)
	default:
	}
	c.Close()
	<-blocked
	// An id is taken with a completion: none queued means none taken.
	if n := c.ErrorQueue().Len(); n != 0 {
		t.Errorf("%d entries queued: sends that sent nothing took ids", n)
	}
}
