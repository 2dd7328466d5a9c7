package stack

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// newStack returns a stack closed at the end of the test.
func newStack(t testing.TB) *Stack {
	t.Helper()
	s, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// loopbackAddr returns the loopback address of family.
func loopbackAddr(family int) netip.Addr {
	if family == unix.AF_INET {
		return netip.MustParseAddr("127.0.0.1")
	}
	return netip.IPv6Loopback()
}

func mustSocket(t testing.TB, s *Stack, family, typ int) *Socket {
	t.Helper()
	so, err := s.NewSocket(family, typ, 0)
	if err != nil {
		t.Fatalf("NewSocket(%d, %d): %v", family, typ, err)
	}
	t.Cleanup(func() { so.Close() })
	return so
}

func mustLocal(t testing.TB, so *Socket) netip.AddrPort {
	t.Helper()
	a, err := so.LocalAddr()
	if err != nil {
		t.Fatalf("LocalAddr: %v", err)
	}
	return a
}

// tcpPair returns a connected client socket, the accepted server socket and
// the listener.
func tcpPair(t testing.TB, s *Stack, family int) (client, server, listener *Socket) {
	t.Helper()
	l := mustSocket(t, s, family, unix.SOCK_STREAM)
	if err := l.Bind(netip.AddrPortFrom(loopbackAddr(family), 0)); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	if err := l.Listen(16); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	c := mustSocket(t, s, family, unix.SOCK_STREAM)
	if err := c.Connect(mustLocal(t, l)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	srv, _, err := l.Accept(0)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return c, srv, l
}

// udpPair returns two bound UDP sockets connected to each other.
func udpPair(t testing.TB, s *Stack, family int) (a, b *Socket) {
	t.Helper()
	a = mustSocket(t, s, family, unix.SOCK_DGRAM)
	b = mustSocket(t, s, family, unix.SOCK_DGRAM)
	for _, so := range []*Socket{a, b} {
		if err := so.Bind(netip.AddrPortFrom(loopbackAddr(family), 0)); err != nil {
			t.Fatalf("Bind: %v", err)
		}
	}
	if err := a.Connect(mustLocal(t, b)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := b.Connect(mustLocal(t, a)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return a, b
}

func setInt(t testing.TB, so *Socket, level, name, v int) {
	t.Helper()
	if err := so.SetSockOptInt(level, name, v); err != nil {
		t.Fatalf("setsockopt(%d, %d, %d): %v", level, name, v, err)
	}
}

func send(t testing.TB, so *Socket, b []byte, flags int) {
	t.Helper()
	n, _, err := so.SendMsg([][]byte{b}, nil, netip.AddrPort{}, flags)
	if err != nil || n != len(b) {
		t.Fatalf("SendMsg(%d bytes) = %d, %v", len(b), n, err)
	}
}

// recvFull reads exactly n bytes from a stream socket.
func recvFull(t testing.TB, so *Socket, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	got, _, _, _, err := so.RecvMsg([][]byte{b}, nil, unix.MSG_WAITALL)
	if err != nil || got != n {
		t.Fatalf("RecvMsg(MSG_WAITALL, %d) = %d, %v", n, got, err)
	}
	return b
}

// appendCmsg appends a control message with the given cmsg_len (the
// correct one if cmsgLen < 0), padded to CMSG_SPACE.
func appendCmsg(b []byte, level, typ int32, data []byte, cmsgLen int) []byte {
	if cmsgLen < 0 {
		cmsgLen = unix.CmsgLen(len(data))
	}
	b = binary.NativeEndian.AppendUint64(b, uint64(cmsgLen))
	b = binary.NativeEndian.AppendUint32(b, uint32(level))
	b = binary.NativeEndian.AppendUint32(b, uint32(typ))
	b = append(b, data...)
	return append(b, make([]byte, unix.CmsgSpace(len(data))-unix.CmsgLen(len(data)))...)
}

// zcOOB returns a control buffer with one SCM_ZC_NOTIFICATION message with
// room for n completions.
func zcOOB(n int) []byte {
	return AppendZCNotification(nil, n)
}

// completionsOf decodes the SCM_ZC_NOTIFICATION messages a send wrote back
// and fails if there are other messages.
func completionsOf(t testing.TB, oob []byte) []zerocopy.Completion {
	t.Helper()
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		t.Fatalf("ParseSocketControlMessage: %v", err)
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != zerocopy.SCMZCNotification {
			t.Fatalf("copied back cmsg %d/%d", m.Header.Level, m.Header.Type)
		}
	}
	cs, err := ZCNotifications(oob, nil)
	if err != nil {
		t.Fatalf("ZCNotifications: %v", err)
	}
	return cs
}

// drainQueue pops the whole error queue.
func drainQueue(so *Socket) []zerocopy.Entry {
	var es []zerocopy.Entry
	for {
		e, err := so.RecvErr()
		if err != nil {
			return es
		}
		es = append(es, e)
	}
}
