package stack

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// BenchmarkCompletions measures one MSG_ZEROCOPY send of 1 byte plus the
// fetch of its completion, by recvmsg(MSG_ERRQUEUE) after each send
// ("errqueue", two calls per send) or by an SCM_ZC_NOTIFICATION control
// message on the next send ("scm", one call per send), as the series'
// msg_zerocopy selftest does with a notification limit of 1.
func BenchmarkCompletions(b *testing.B) {
	for _, proto := range []string{"udp", "tcp"} {
		for _, mode := range []string{"errqueue", "scm"} {
			b.Run(proto+"/"+mode, func(b *testing.B) { benchCompletions(b, proto, mode) })
		}
	}
}

func benchCompletions(b *testing.B, proto, mode string) {
	s := newStack(b)
	var tx, rx *Socket
	if proto == "tcp" {
		tx, rx, _ = tcpPair(b, s, unix.AF_INET)
		go func() {
			buf := make([]byte, 1<<16)
			for {
				if _, _, _, _, err := rx.RecvMsg([][]byte{buf}, nil, 0); err != nil {
					return
				}
			}
		}()
	} else {
		// Datagrams beyond the receive buffer are dropped, as on Linux.
		tx, rx = udpPair(b, s, unix.AF_INET)
	}
	_ = rx
	setInt(b, tx, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	bufs := [][]byte{{1}}
	oob := zcOOB(zerocopy.ZCNotificationMax)
	errOOB := make([]byte, 64)
	var cs [zerocopy.ZCNotificationMax]zerocopy.Completion
	var completed uint64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		switch mode {
		case "errqueue":
			if _, _, err := tx.SendMsg(bufs, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY); err != nil {
				b.Fatal(err)
			}
			_, _, _, _, err := tx.RecvMsg(nil, errOOB, unix.MSG_ERRQUEUE)
			if err != nil {
				b.Fatal(err)
			}
			completed++
		case "scm":
			binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], zerocopy.ZCNotificationMax)
			_, oobn, err := tx.SendMsg(bufs, oob, netip.AddrPort{}, unix.MSG_ZEROCOPY)
			if err != nil {
				b.Fatal(err)
			}
			got, err := zerocopy.DecodeZCInfo(oob[unix.CmsgLen(0):oobn], cs[:0])
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range got {
				completed += c.Len()
			}
		}
	}
	b.StopTimer()
	if mode == "scm" {
		completed++ // the last send's completion is still queued
	}
	if completed != uint64(b.N) {
		b.Fatalf("%d completions for %d sends", completed, b.N)
	}
	tx.Close()
	rx.Close()
}

// BenchmarkFetch measures fetching one completion alone, without the data
// send: by recvmsg(MSG_ERRQUEUE) or by a zero-length TCP sendmsg with
// SCM_ZC_NOTIFICATION. Each iteration queues one completion that does not
// coalesce with the last one fetched.
func BenchmarkFetch(b *testing.B) {
	for _, mode := range []string{"errqueue", "scm", "SendZerocopy"} {
		b.Run(mode, func(b *testing.B) {
			s := newStack(b)
			tx, _, _ := tcpPair(b, s, unix.AF_INET)
			setInt(b, tx, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
			oob := zcOOB(zerocopy.ZCNotificationMax)
			errOOB := make([]byte, 64)
			var notify [zerocopy.ZCNotificationMax]zerocopy.Completion
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				tx.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: uint32(i), Hi: uint32(i), Copied: true})
				var k int
				switch mode {
				case "errqueue":
					if _, _, _, _, err := tx.RecvMsg(nil, errOOB, unix.MSG_ERRQUEUE); err != nil {
						b.Fatal(err)
					}
					k = 1
				case "scm":
					binary.NativeEndian.PutUint32(oob[unix.CmsgLen(0):], zerocopy.ZCNotificationMax)
					if _, _, err := tx.SendMsg(nil, oob, netip.AddrPort{}, 0); err != nil {
						b.Fatal(err)
					}
					k = int(binary.NativeEndian.Uint32(oob[unix.CmsgLen(0):]))
				case "SendZerocopy":
					var err error
					if _, k, err = tx.SendZerocopy(nil, notify[:]); err != nil {
						b.Fatal(err)
					}
				}
				if k != 1 {
					b.Fatalf("fetched %d completions", k)
				}
			}
		})
	}
}
