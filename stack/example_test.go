package stack_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/netip"

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
	so := c.Socket()
	if err := so.SetSockOptInt(unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1); err != nil {
		log.Fatal(err)
	}
	for range 3 {
		if _, err := c.WriteZerocopy([]byte("hello")); err != nil {
			log.Fatal(err)
		}
	}
	// recvmsg(MSG_ERRQUEUE): the three sends coalesce into one range.
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
