package stack

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zerocopy"
)

// BenchmarkNet measures the net wrappers against gVisor's gonet on the same
// netstack, over IPv4 loopback, so that "as fast as gonet" is measured:
//
//   - op=tcp-64KiB: 64 KiB writes on a TCP connection whose peer reads
//     everything;
//   - op=udp-1400B and op=udp-64KiB (65507 bytes, the largest IPv4
//     datagram): datagrams sent to a peer that reads them, at most
//     udpWindow of them unread at a time, which its receive buffer holds:
//     none is dropped, so this measures what is delivered;
//   - op=tcp-rtt-1B and op=udp-rtt-1B: a 1-byte request and its 1-byte
//     echo.
//
// The implementations are impl=gonet (gonet.TCPConn, gonet.UDPConn),
// impl=zcstack (Conn, UDPConn), impl=socket (Socket.SendMsg and RecvMsg)
// and, where there is data to send, impl=zerocopy (WriteZerocopy with
// SO_ZEROCOPY on, with the completions read by Completions after each
// write). Compare them with benchstat -col /impl.
func BenchmarkNet(b *testing.B) {
	for _, op := range []struct {
		name string
		udp  bool
		run  func(b *testing.B, client, server benchConn)
	}{
		{"tcp-64KiB", false, func(b *testing.B, c, s benchConn) { benchStream(b, c, s, 64<<10) }},
		{"udp-1400B", true, func(b *testing.B, c, s benchConn) { benchDatagrams(b, c, s, 1400) }},
		{"udp-64KiB", true, func(b *testing.B, c, s benchConn) { benchDatagrams(b, c, s, 65507) }},
		{"tcp-rtt-1B", false, benchRoundTrip},
		{"udp-rtt-1B", true, benchRoundTrip},
	} {
		for _, impl := range []string{"gonet", "zcstack", "socket", "zerocopy"} {
			if impl == "zerocopy" && strings.Contains(op.name, "rtt") {
				continue
			}
			b.Run("op="+op.name+"/impl="+impl, func(b *testing.B) {
				s := newStack(b)
				var c, srv benchConn
				if op.udp {
					c, srv = udpBenchPair(b, s, impl)
				} else {
					c, srv = tcpBenchPair(b, s, impl)
				}
				b.Cleanup(func() {
					c.Close()
					srv.Close()
				})
				b.ReportAllocs()
				op.run(b, c, srv)
			})
		}
	}
}

// benchConn is what the benchmarks use of a connection.
type benchConn interface {
	Read([]byte) (int, error)
	Write([]byte) (int, error)
	Close() error
}

// benchAddr is the address benchmark servers listen on.
var benchAddr = netip.MustParseAddrPort("127.0.0.1:7000")

// tcpBenchPair returns the two ends of a TCP connection of impl.
func tcpBenchPair(b *testing.B, s *Stack, impl string) (client, server benchConn) {
	b.Helper()
	if impl == "gonet" {
		fa := tcpip.FullAddress{Addr: tcpipAddr(benchAddr.Addr()), Port: benchAddr.Port()}
		l, err := gonet.ListenTCP(s.Netstack(), fa, ipv4.ProtocolNumber)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		c, err := gonet.DialContextTCP(context.Background(), s.Netstack(), fa, ipv4.ProtocolNumber)
		if err != nil {
			b.Fatal(err)
		}
		srv, err := l.Accept()
		if err != nil {
			b.Fatal(err)
		}
		return c, srv
	}
	l, err := s.ListenTCP(benchAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	c, err := s.DialTCP(context.Background(), benchAddr)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := l.AcceptTCP()
	if err != nil {
		b.Fatal(err)
	}
	return wrapBench(b, impl, c, srv)
}

// udpBenchPair returns two UDP sockets of impl connected to each other.
func udpBenchPair(b *testing.B, s *Stack, impl string) (client, server benchConn) {
	b.Helper()
	caddr := netip.AddrPortFrom(benchAddr.Addr(), benchAddr.Port()+1)
	if impl == "gonet" {
		sfa := tcpip.FullAddress{Addr: tcpipAddr(benchAddr.Addr()), Port: benchAddr.Port()}
		cfa := tcpip.FullAddress{Addr: tcpipAddr(caddr.Addr()), Port: caddr.Port()}
		var wq waiter.Queue
		ep, terr := s.Netstack().NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
		if terr != nil {
			b.Fatal(terr)
		}
		ep.SocketOptions().SetReceiveBufferSize(udpRcvBuf, true)
		if terr := ep.Bind(sfa); terr != nil {
			b.Fatal(terr)
		}
		if terr := ep.Connect(cfa); terr != nil {
			b.Fatal(terr)
		}
		srv := gonet.NewUDPConn(&wq, ep)
		c, err := gonet.DialUDP(s.Netstack(), &cfa, &sfa, ipv4.ProtocolNumber)
		if err != nil {
			b.Fatal(err)
		}
		return c, srv
	}
	srv, err := s.DialUDP(benchAddr, caddr)
	if err != nil {
		b.Fatal(err)
	}
	// SO_RCVBUF is doubled, as on Linux.
	setInt(b, srv.Socket(), unix.SOL_SOCKET, unix.SO_RCVBUF, udpRcvBuf/2)
	c, err := s.DialUDP(caddr, benchAddr)
	if err != nil {
		b.Fatal(err)
	}
	return wrapBench(b, impl, c, srv)
}

// zcConn is a Conn or a UDPConn.
type zcConn interface {
	benchConn
	WriteZerocopy([]byte) (int, error)
	Completions([]zerocopy.Completion) int
	SetZerocopy(bool) error
	Socket() *Socket
}

// wrapBench returns the ends of a connection of ours for impl.
func wrapBench(b *testing.B, impl string, client, server zcConn) (benchConn, benchConn) {
	switch impl {
	case "socket":
		return socketConn{client.Socket()}, socketConn{server.Socket()}
	case "zerocopy":
		if err := client.SetZerocopy(true); err != nil {
			b.Fatal(err)
		}
		return &zerocopyConn{zcConn: client}, server
	}
	return client, server
}

// socketConn reads and writes with Socket.RecvMsg and SendMsg.
type socketConn struct{ so *Socket }

func (c socketConn) Read(b []byte) (int, error) {
	bufs := [1][]byte{b}
	n, _, _, _, err := c.so.RecvMsg(bufs[:], nil, 0)
	return n, err
}

func (c socketConn) Write(b []byte) (int, error) {
	bufs := [1][]byte{b}
	n, _, err := c.so.SendMsg(bufs[:], nil, netip.AddrPort{}, 0)
	return n, err
}

func (c socketConn) Close() error { return c.so.Close() }

// zerocopyConn writes with WriteZerocopy and reads the completions after
// each write.
type zerocopyConn struct {
	zcConn
	cs [zerocopy.ZCNotificationMax]zerocopy.Completion
}

func (c *zerocopyConn) Write(b []byte) (int, error) {
	n, err := c.WriteZerocopy(b)
	c.Completions(c.cs[:])
	return n, err
}

// benchStream writes size bytes per iteration to client and reads them
// from server.
func benchStream(b *testing.B, client, server benchConn, size int) {
	total := int64(b.N) * int64(size)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for got := int64(0); got < total; {
			n, err := server.Read(buf)
			if err != nil {
				done <- err
				return
			}
			got += int64(n)
		}
		done <- nil
	}()
	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

const (
	// udpWindow is how many datagrams benchDatagrams lets be unread.
	udpWindow = 16
	// udpRcvBuf is the receive buffer of the reading end of a UDP
	// benchmark: room for udpWindow datagrams of 64 KiB and their
	// overhead.
	udpRcvBuf = 4 << 20
)

// benchDatagrams sends a datagram of size bytes per iteration from client
// to server, which reads them, with at most udpWindow unread.
func benchDatagrams(b *testing.B, client, server benchConn, size int) {
	unread := make(chan struct{}, udpWindow)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, size)
		for range b.N {
			if n, err := server.Read(buf); err != nil || n != size {
				done <- fmt.Errorf("Read = %d, %v", n, err)
				return
			}
			<-unread
		}
		done <- nil
	}()
	// A datagram lost would stop the benchmark: turn that into a failure.
	lost := time.NewTimer(time.Hour)
	defer lost.Stop()
	buf := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		select {
		case unread <- struct{}{}:
		default:
			lost.Reset(10 * time.Second)
			select {
			case unread <- struct{}{}:
			case <-lost.C:
				b.Fatal("a datagram was lost")
			}
		}
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// benchRoundTrip sends one byte from client to server and back per
// iteration.
func benchRoundTrip(b *testing.B, client, server benchConn) {
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := server.Read(buf); err != nil {
				done <- nil
				return
			}
			if _, err := server.Write(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	buf := make([]byte, 1)
	b.ResetTimer()
	for range b.N {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
		if n, err := client.Read(buf); err != nil || n != 1 {
			b.Fatalf("Read = %d, %v", n, err)
		}
	}
	b.StopTimer()
	client.Close()
	server.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
