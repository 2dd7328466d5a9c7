package stack

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// TestLoopbackData sends data over TCP and UDP, IPv4 and IPv6, as iovecs,
// plain and with MSG_ZEROCOPY, and checks what arrives and the completions.
func TestLoopbackData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		family int
		typ    int
	}{
		{"tcp4", unix.AF_INET, unix.SOCK_STREAM},
		{"tcp6", unix.AF_INET6, unix.SOCK_STREAM},
		{"udp4", unix.AF_INET, unix.SOCK_DGRAM},
		{"udp6", unix.AF_INET6, unix.SOCK_DGRAM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			var tx, rx *Socket
			if tc.typ == unix.SOCK_STREAM {
				tx, rx, _ = tcpPair(t, s, tc.family)
			} else {
				tx, rx = udpPair(t, s, tc.family)
			}
			setInt(t, tx, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
			const sends = 5
			var want []byte
			for i := range sends {
				parts := [][]byte{[]byte(fmt.Sprintf("msg %d: ", i)), bytes.Repeat([]byte{byte('a' + i)}, 1000*i+1), []byte("!")}
				flags := 0
				if i%2 == 0 {
					flags = unix.MSG_ZEROCOPY
				}
				n, oobn, err := tx.SendMsg(parts, nil, netip.AddrPort{}, flags)
				if err != nil || n != len(bytes.Join(parts, nil)) || oobn != 0 {
					t.Fatalf("SendMsg = %d, %d, %v", n, oobn, err)
				}
				msg := bytes.Join(parts, nil)
				if tc.typ == unix.SOCK_DGRAM {
					// Receive into three iovecs of odd sizes.
					b := make([]byte, len(msg)+600)
					got, _, flags, from, err := rx.RecvMsg([][]byte{b[:3], b[3:500], b[500:]}, nil, 0)
					if err != nil || got != len(msg) || flags != 0 || !bytes.Equal(b[:got], msg) {
						t.Fatalf("RecvMsg = %d, %#x, %v; data ok %v", got, flags, err, bytes.Equal(b[:got], msg))
					}
					if from != mustLocal(t, tx) {
						t.Errorf("from = %v, want %v", from, mustLocal(t, tx))
					}
				}
				want = append(want, msg...)
			}
			if tc.typ == unix.SOCK_STREAM {
				if got := recvFull(t, rx, len(want)); !bytes.Equal(got, want) {
					t.Fatalf("received data differs from sent data")
				}
			}
			// Sends 0, 2 and 4 took ids 0, 1 and 2, completed as copied.
			es := drainQueue(tx)
			want0 := []zerocopy.Completion{{Lo: 0, Hi: 2, Copied: true}}
			var got []zerocopy.Completion
			for _, e := range es {
				c, ok := e.Completion()
				if !ok {
					t.Fatalf("unexpected error-queue entry %+v", e)
				}
				got = append(got, c)
			}
			if fmt.Sprint(got) != fmt.Sprint(want0) {
				t.Errorf("completions = %v, want %v", got, want0)
			}
		})
	}
}
