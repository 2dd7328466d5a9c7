package stack_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/stack"
	"github.com/zcstack/zcstack/zerocopy"
)

// A TCP connection over the stack's loopback, with MSG_ZEROCOPY sends whose
// completions are read from the error queue.
func Example() {
	s, err := stack.New(stack.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	l, err := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:8080"))
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	}()

	c, err := s.DialTCP(context.Background(), netip.MustParseAddrPort("127.0.0.1:8080"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SetZerocopy(true); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		if _, err := c.WriteZerocopy([]byte("hello")); err != nil {
			log.Fatal(err)
		}
	}
	// recvmsg(MSG_ERRQUEUE): the three sends coalesce into one range.
	so := c.Socket()
	e, err := so.RecvErr()
	if err != nil {
		log.Fatal(err)
	}
	comp, _ := e.Completion()
	fmt.Printf("ids %d-%d copied=%v\n", comp.Lo, comp.Hi, comp.Copied)
	_, err = so.RecvErr()
	fmt.Println("then:", err)
	// Output:
	// ids 0-2 copied=true
	// then: resource temporarily unavailable
}

// Completions returned by the send itself: SendZerocopy takes the
// completions already queued before it sends.
func ExampleSocket_SendZerocopy() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	rx, _ := s.ListenUDP(netip.MustParseAddrPort("[::1]:9000"))
	defer rx.Close()
	tx, _ := s.DialUDP(netip.AddrPort{}, netip.MustParseAddrPort("[::1]:9000"))
	defer tx.Close()
	so := tx.Socket()
	so.SetSockOptInt(unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)

	var notify [zerocopy.ZCNotificationMax]zerocopy.Completion
	for i := range 3 {
		n, k, err := so.SendZerocopy([]byte("datagram"), notify[:])
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("send %d: %d bytes, completions %v\n", i, n, notify[:k])
	}
	// Output:
	// send 0: 8 bytes, completions []
	// send 1: 8 bytes, completions [{0 0 true}]
	// send 2: 8 bytes, completions [{1 1 true}]
}

// The Linux form: sendmsg with an SCM_ZC_NOTIFICATION control message. A
// send with no data fetches completions in one call; the control buffer
// comes back with zc_info.size set to the count.
func ExampleSocket_SendMsg() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	l, _ := s.NewSocket(unix.AF_INET, unix.SOCK_STREAM, 0)
	l.Bind(netip.MustParseAddrPort("127.0.0.1:7000"))
	l.Listen(1)
	c, _ := s.NewSocket(unix.AF_INET, unix.SOCK_STREAM, 0)
	c.Connect(netip.MustParseAddrPort("127.0.0.1:7000"))
	c.SetSockOptInt(unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	for range 2 {
		c.SendMsg([][]byte{[]byte("abc"), []byte("def")}, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY)
	}

	oob := stack.AppendZCNotification(nil, zerocopy.ZCNotificationMax)
	n, oobn, err := c.SendMsg(nil, oob, netip.AddrPort{}, 0)
	if err != nil {
		log.Fatal(err)
	}
	cs, err := stack.ZCNotifications(oob[:oobn], nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, cs)
	// Output:
	// 0 [{0 1 true}]
}

// SetZerocopy turns SO_ZEROCOPY on without Linux's option numbers.
func ExampleConn_SetZerocopy() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	l, _ := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:8080"))
	defer l.Close()
	c, _ := s.DialTCP(context.Background(), netip.MustParseAddrPort("127.0.0.1:8080"))
	defer c.Close()

	if err := c.SetZerocopy(true); err != nil {
		log.Fatal(err)
	}
	c.WriteZerocopy([]byte("abc"))
	c.WriteZerocopy([]byte("def"))
	var cs [2]zerocopy.Completion
	fmt.Println(cs[:c.Completions(cs[:])])
	// Output:
	// [{0 1 true}]
}

// SetNoDelay, as on a *net.TCPConn.
func ExampleConn_SetNoDelay() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	l, _ := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:8080"))
	defer l.Close()
	c, _ := s.DialTCP(context.Background(), netip.MustParseAddrPort("127.0.0.1:8080"))
	defer c.Close()

	// Code written for *net.TCPConn finds the method.
	var nd interface{ SetNoDelay(bool) error } = c
	nd.SetNoDelay(false) // Nagle's algorithm on
	v, _ := c.Socket().GetSockOptInt(unix.IPPROTO_TCP, unix.TCP_NODELAY)
	fmt.Println("TCP_NODELAY", v)
	// Output:
	// TCP_NODELAY 0
}

// SetKeepAlive, as on a *net.TCPConn.
func ExampleConn_SetKeepAlive() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	l, _ := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:8080"))
	defer l.Close()
	c, _ := s.DialTCP(context.Background(), netip.MustParseAddrPort("127.0.0.1:8080"))
	defer c.Close()

	c.SetKeepAlive(true)
	v, _ := c.Socket().GetSockOptInt(unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	fmt.Println("SO_KEEPALIVE", v)
	// Output:
	// SO_KEEPALIVE 1
}

// A deadline on Accept, as net.TCPListener.SetDeadline.
func ExampleListener_SetDeadline() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	l, _ := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:8080"))
	defer l.Close()

	l.SetDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := l.Accept()
	fmt.Println(errors.Is(err, os.ErrDeadlineExceeded))
	// Output:
	// true
}

// SO_ZEROCOPY set on a listener passes to the connections it accepts, as on
// Linux.
func ExampleListener_SetZerocopy() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	l, _ := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:8080"))
	defer l.Close()
	l.SetZerocopy(true)

	go func() {
		c, err := s.DialTCP(context.Background(), netip.MustParseAddrPort("127.0.0.1:8080"))
		if err == nil {
			io.Copy(io.Discard, c)
		}
	}()
	c, _ := l.AcceptTCP()
	defer c.Close()
	c.WriteZerocopy([]byte("served without a copy notice"))
	var cs [1]zerocopy.Completion
	fmt.Println(cs[:c.Completions(cs[:])])
	// Output:
	// [{0 0 true}]
}

// NewUDPConn wraps a socket set up with the system-call API.
func ExampleNewUDPConn() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	var conns []*stack.UDPConn
	for range 2 {
		so, _ := s.NewSocket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		so.SetSockOptInt(unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		if err := so.Bind(netip.MustParseAddrPort("127.0.0.1:9000")); err != nil {
			log.Fatal(err)
		}
		c := stack.NewUDPConn(so)
		defer c.Close()
		conns = append(conns, c)
	}
	fmt.Println(conns[0].LocalAddr(), conns[1].LocalAddr())
	// Output:
	// 127.0.0.1:9000 127.0.0.1:9000
}

// NewListener wraps a listening socket set up with the system-call API.
func ExampleNewListener() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	so, _ := s.NewSocket(unix.AF_INET6, unix.SOCK_STREAM, 0)
	so.SetSockOptInt(unix.SOL_IPV6, unix.IPV6_V6ONLY, 1)
	so.Bind(netip.MustParseAddrPort("[::]:8080"))
	so.Listen(16)
	l := stack.NewListener(so)
	defer l.Close()

	_, err := s.DialTCP(context.Background(), netip.MustParseAddrPort("127.0.0.1:8080"))
	fmt.Println("IPv4:", errors.Is(err, unix.ECONNREFUSED))
	c, err := s.DialTCP(context.Background(), netip.MustParseAddrPort("[::1]:8080"))
	fmt.Println("IPv6:", err)
	if err == nil {
		c.Close()
	}
	// Output:
	// IPv4: true
	// IPv6: <nil>
}

// Datagrams sent with MSG_ZEROCOPY through the net wrapper, and their
// completions read back without a system call's worth of ceremony.
func ExampleUDPConn_WriteZerocopy() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	rx, _ := s.ListenUDP(netip.MustParseAddrPort("127.0.0.1:9000"))
	defer rx.Close()
	tx, _ := s.DialUDP(netip.AddrPort{}, netip.MustParseAddrPort("127.0.0.1:9000"))
	defer tx.Close()

	// Without SO_ZEROCOPY, MSG_ZEROCOPY is ignored, as on Linux.
	tx.WriteZerocopy([]byte("copied"))
	if err := tx.SetZerocopy(true); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		if _, err := tx.WriteZerocopy([]byte("datagram")); err != nil {
			log.Fatal(err)
		}
	}
	var cs [zerocopy.ZCNotificationMax]zerocopy.Completion
	k := tx.Completions(cs[:])
	fmt.Println(cs[:k])
	// Output:
	// [{0 2 true}]
}

// An unconnected UDP socket sending with MSG_ZEROCOPY to an address.
func ExampleUDPConn_WriteToZerocopy() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	rx, _ := s.ListenUDP(netip.MustParseAddrPort("[::1]:9000"))
	defer rx.Close()
	tx, _ := s.ListenUDP(netip.MustParseAddrPort("[::1]:0"))
	defer tx.Close()
	tx.SetZerocopy(true)

	n, err := tx.WriteToZerocopy([]byte("hello"), rx.LocalAddr())
	fmt.Println(n, err)
	b := make([]byte, 16)
	n, from, _ := rx.ReadFromUDPAddrPort(b)
	fmt.Printf("%q from the sender: %v\n", b[:n], from == tx.LocalAddr().(*net.UDPAddr).AddrPort())
	var cs [1]zerocopy.Completion
	fmt.Println(cs[:tx.Completions(cs[:])])
	// Output:
	// 5 <nil>
	// "hello" from the sender: true
	// [{0 0 true}]
}

// Completions takes zerocopy completions only, in order, and leaves the
// other errors of the error queue to Socket.RecvErr.
func ExampleUDPConn_Completions() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	rx, _ := s.ListenUDP(netip.MustParseAddrPort("127.0.0.1:9000"))
	tx, _ := s.DialUDP(netip.AddrPort{}, netip.MustParseAddrPort("127.0.0.1:9000"))
	defer tx.Close()
	tx.SetZerocopy(true)
	tx.Socket().SetSockOptInt(unix.SOL_IP, unix.IP_RECVERR, 1)

	tx.WriteZerocopy([]byte("one"))
	rx.Close() // the next datagram meets a closed port: ICMP port unreachable
	tx.WriteZerocopy([]byte("two"))

	var cs [4]zerocopy.Completion
	fmt.Println(cs[:tx.Completions(cs[:])])
	e, _ := tx.Socket().RecvErr()
	fmt.Println(unix.Errno(e.Err.Errno))
	// Output:
	// [{0 1 true}]
	// connection refused
}

// SendZerocopyTo sends a datagram to an address and returns the
// completions queued before it.
func ExampleSocket_SendZerocopyTo() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	rx, _ := s.ListenUDP(netip.MustParseAddrPort("127.0.0.1:9000"))
	defer rx.Close()
	so, _ := s.NewSocket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	defer so.Close()
	so.SetSockOptInt(unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)

	var notify [zerocopy.ZCNotificationMax]zerocopy.Completion
	for i := range 2 {
		n, k, err := so.SendZerocopyTo([]byte("datagram"), notify[:], netip.MustParseAddrPort("127.0.0.1:9000"))
		fmt.Printf("send %d: %d bytes, completions %v, %v\n", i, n, notify[:k], err)
	}
	// Output:
	// send 0: 8 bytes, completions [], <nil>
	// send 1: 8 bytes, completions [{0 0 true}], <nil>
}

// Dial takes net.Dial's network and address strings.
func ExampleStack_Dial() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	u, _ := s.ListenUDP(netip.MustParseAddrPort("[::1]:5353"))
	defer u.Close()

	c, err := s.Dial("udp6", "[::1]:5353")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("query"))
	b := make([]byte, 16)
	n, _ := u.Read(b)
	fmt.Printf("%T sent %q\n", c, b[:n])
	_, err = s.Dial("tcp", "example.com:80")
	fmt.Println(err)
	// Output:
	// *stack.UDPConn sent "query"
	// dial tcp: address example.com: not an IP address (the stack has no resolver)
}

// DialContext has the signature of net.Dialer.DialContext: an HTTP client
// and server talk over the stack.
func ExampleStack_DialContext() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	l, _ := s.ListenTCP(netip.MustParseAddrPort("127.0.0.1:8080"))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.Host)
	})}
	go srv.Serve(l)
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{DialContext: s.DialContext}}
	resp, err := client.Get("http://127.0.0.1:8080/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	fmt.Println(string(body))
	// Output:
	// hello from 127.0.0.1:8080
}

// SendMsg writes completions back into the control buffer in place: build
// it again (or reset its size) before the next send.
func ExampleAppendZCNotification() {
	s, _ := stack.New(stack.Options{})
	defer s.Close()
	rx, _ := s.ListenUDP(netip.MustParseAddrPort("127.0.0.1:9000"))
	defer rx.Close()
	tx, _ := s.DialUDP(netip.AddrPort{}, netip.MustParseAddrPort("127.0.0.1:9000"))
	defer tx.Close()
	tx.SetZerocopy(true)
	so := tx.Socket()

	oob := make([]byte, 0, 256)
	for range 3 {
		oob = stack.AppendZCNotification(oob[:0], 1)
		_, oobn, err := so.SendMsg([][]byte{[]byte("x")}, oob, netip.AddrPort{}, unix.MSG_ZEROCOPY)
		cs, _ := stack.ZCNotifications(oob[:oobn], nil)
		fmt.Println(cs, err)
	}
	fmt.Println(len(stack.AppendZCNotification(nil, zerocopy.ZCNotificationMax+1)))
	// Output:
	// [] <nil>
	// [{0 0 true}] <nil>
	// [{1 1 true}] <nil>
	// 0
}
