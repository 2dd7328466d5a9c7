package syscalls

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// BenchmarkSendMsg measures the guest-memory side of one sendmsg of 64
// bytes, without and with an SCM_ZC_NOTIFICATION message (16 completions
// taken and written back each time).
func BenchmarkSendMsg(b *testing.B) {
	for _, zc := range []bool{false, true} {
		name := "plain"
		if zc {
			name = "zc_info16"
		}
		b.Run(name, func(b *testing.B) {
			g := newGuest(b, ABI64)
			data := g.put(make([]byte, 64))
			m := msg{iov: g.put(g.iovecs(uint64(data), 64)), iovlen: 1}
			if zc {
				c := g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcInfo(zerocopy.ZCNotificationMax))
				m.control, m.controllen = g.put(c), uint64(len(c))
			}
			hdr := g.put(g.msghdr(m))
			q := zerocopy.NewErrorQueue(zerocopy.QueueConfig{})
			c := &Call{Mem: g.mem, Sock: &fakeSocket{family: unix.AF_INET, zc: true, q: q}}
			send := func(s *Send) (int, error) { return int(s.Len), nil }
			b.ReportAllocs()
			for b.Loop() {
				if zc {
					// Ranges that do not coalesce: 16 entries.
					for id := uint32(0); id < zerocopy.ZCNotificationMax; id++ {
						q.Complete(zerocopy.Completion{Lo: 2 * id, Hi: 2 * id})
					}
				}
				if _, err := c.SendMsg(hdr, 0, send); err != nil {
					b.Fatal(err)
				}
				if zc && q.Len() != 0 {
					b.Fatal("completions left")
				}
			}
		})
	}
}
