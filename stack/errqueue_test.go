package stack

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zerocopy"
)

// closedPort returns an address of family on which nothing listens.
func closedPort(t *testing.T, s *Stack, family int) netip.AddrPort {
	t.Helper()
	so := mustSocket(t, s, family, unix.SOCK_DGRAM)
	if err := so.Bind(netip.AddrPortFrom(loopbackAddr(family), 0)); err != nil {
		t.Fatal(err)
	}
	a := mustLocal(t, so)
	so.Close()
	return a
}

// waitErr waits until the socket reports POLLERR.
func waitErr(t *testing.T, so *Socket) {
	t.Helper()
	e, ch := waiter.NewChannelEntry(waiter.EventErr)
	so.EventRegister(&e)
	defer so.EventUnregister(&e)
	for so.Readiness(0)&waiter.EventErr == 0 {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("no POLLERR")
		}
	}
}

// recvErrSocket returns a UDP socket of family with SO_ZEROCOPY and the
// option level/opt (IP_RECVERR or IPV6_RECVERR) on, connected to a closed
// port dst (netstack reports ICMP errors to connected sockets only).
func recvErrSocket(t *testing.T, s *Stack, family, level, opt int) (*Socket, netip.AddrPort) {
	t.Helper()
	dst := closedPort(t, s, family)
	so := mustSocket(t, s, family, unix.SOCK_DGRAM)
	setInt(t, so, level, opt, 1)
	setInt(t, so, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	if err := so.Connect(dst); err != nil {
		t.Fatal(err)
	}
	return so, dst
}

// TestICMPErrorOrder sends MSG_ZEROCOPY datagrams to a closed port with
// IP_RECVERR/IPV6_RECVERR on: each send's completion and then the ICMP port
// unreachable it caused reach the error queue, in that order, as on Linux.
func TestICMPErrorOrder(t *testing.T) {
	for _, tc := range []struct {
		name         string
		family       int
		level, opt   int
		origin       uint8
		ty, code     uint8
		cmsgLen      int
		level2, typ2 int32
	}{
		{"v4", unix.AF_INET, unix.SOL_IP, unix.IP_RECVERR, unix.SO_EE_ORIGIN_ICMP, 3, 3, 48, unix.SOL_IP, unix.IP_RECVERR},
		{"v6", unix.AF_INET6, unix.SOL_IPV6, unix.IPV6_RECVERR, unix.SO_EE_ORIGIN_ICMP6, 1, 4, 60, unix.SOL_IPV6, unix.IPV6_RECVERR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			so, dst := recvErrSocket(t, newStack(t), tc.family, tc.level, tc.opt)
			payloads := [][]byte{[]byte("first"), []byte("second")}
			for _, p := range payloads {
				if _, _, err := so.SendMsg([][]byte{p}, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY); err != nil {
					t.Fatalf("SendMsg: %v", err)
				}
				waitErr(t, so)
				// As on Linux, the pending ICMP error fails the next
				// send, which takes no id.
				if _, _, err := so.SendMsg([][]byte{p}, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY); err != unix.ECONNREFUSED {
					t.Fatalf("SendMsg after ICMP error: %v, want ECONNREFUSED", err)
				}
			}
			for i, p := range payloads {
				b := make([]byte, 64)
				oob := make([]byte, 128)
				n, oobn, flags, from, err := so.RecvMsg([][]byte{b}, oob, unix.MSG_ERRQUEUE)
				if err != nil || n != 0 || flags != unix.MSG_ERRQUEUE {
					t.Fatalf("completion %d: RecvMsg = %d, %#x, %v", i, n, flags, err)
				}
				if oobn != unix.CmsgSpace(tc.cmsgLen-unix.SizeofCmsghdr) {
					t.Errorf("oobn = %d", oobn)
				}
				msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
				if err != nil || len(msgs) != 1 {
					t.Fatalf("cmsgs %v, %v", msgs, err)
				}
				h := msgs[0].Header
				if h.Level != tc.level2 || h.Type != tc.typ2 || int(h.Len) != tc.cmsgLen {
					t.Errorf("cmsg level %d type %d len %d, want %d %d %d", h.Level, h.Type, h.Len, tc.level2, tc.typ2, tc.cmsgLen)
				}
				d := msgs[0].Data
				// sock_extended_err{errno 0, origin 5, type 0, code 1, pad, info i, data i}.
				wantEE := []byte{0, 0, 0, 0, zerocopy.OriginZerocopy, 0, zerocopy.CodeZerocopyCopied, 0, byte(i), 0, 0, 0, byte(i), 0, 0, 0}
				if !bytes.Equal(d[:16], wantEE) || !bytes.Equal(d[16:], make([]byte, len(d)-16)) {
					t.Errorf("completion cmsg data %v", d)
				}
				if from.IsValid() {
					t.Errorf("completion from %v", from)
				}

				n, oobn, flags, from, err = so.RecvMsg([][]byte{b}, oob, unix.MSG_ERRQUEUE)
				if err != nil || flags != unix.MSG_ERRQUEUE || !bytes.Equal(b[:n], p) {
					t.Fatalf("ICMP error %d: RecvMsg = %q, %#x, %v", i, b[:n], flags, err)
				}
				if from != dst {
					t.Errorf("from = %v, want %v", from, dst)
				}
				msgs, err = unix.ParseSocketControlMessage(oob[:oobn])
				if err != nil || len(msgs) != 1 {
					t.Fatalf("cmsgs %v, %v", msgs, err)
				}
				d = msgs[0].Data
				ee := unix.SockExtendedErr{Errno: uint32(d[0]), Origin: d[4], Type: d[5], Code: d[6]}
				if ee.Errno != uint32(unix.ECONNREFUSED) || ee.Origin != tc.origin || ee.Type != tc.ty || ee.Code != tc.code {
					t.Errorf("ICMP error %+v", ee)
				}
			}
			if _, err := so.RecvErr(); err != unix.EAGAIN {
				t.Errorf("RecvErr on empty queue: %v, want EAGAIN", err)
			}
			if so.Readiness(0)&waiter.EventErr != 0 {
				t.Errorf("POLLERR with an empty queue")
			}
		})
	}
}

// TestRecvErrOffPurges turns IP_RECVERR or IPV6_RECVERR off with
// completions and ICMP errors queued: as Linux's skb_errqueue_purge, the
// ICMP errors go and the completions stay, in order, with POLLERR while
// they remain. Turning the option on again does not bring errors back.
func TestRecvErrOffPurges(t *testing.T) {
	for _, tc := range []struct {
		name       string
		family     int
		level, opt int
	}{
		{"IP_RECVERR", unix.AF_INET, unix.SOL_IP, unix.IP_RECVERR},
		{"IPV6_RECVERR", unix.AF_INET6, unix.SOL_IPV6, unix.IPV6_RECVERR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			so, _ := recvErrSocket(t, newStack(t), tc.family, tc.level, tc.opt)
			for range 2 {
				send(t, so, []byte("x"), unix.MSG_ZEROCOPY)
				waitErr(t, so)
				so.GetSockOptInt(unix.SOL_SOCKET, unix.SO_ERROR)
			}
			// The second ICMP error may still be in netstack's queue:
			// the purge covers both.
			setInt(t, so, tc.level, tc.opt, 0)
			setInt(t, so, tc.level, tc.opt, 1)
			if got := queueString(so); got != "c0-0 c1-1" {
				t.Errorf("queue after the option went off = %q, want the completions", got)
			}
			if so.Readiness(0)&waiter.EventErr == 0 {
				t.Error("no POLLERR with completions queued")
			}
		})
	}
}
