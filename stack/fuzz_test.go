package stack

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// FuzzSendControl feeds arbitrary control buffers to a zero-length TCP
// SendMsg on a socket whose error queue holds completions and other errors.
// The call must either fail with EINVAL and change nothing, or succeed,
// write back only well-formed SCM_ZC_NOTIFICATION messages that fit in the
// buffer, and account for every id: those written back plus those still
// queued are exactly those queued before.
func FuzzSendControl(f *testing.F) {
	f.Add(zcOOB(1))
	f.Add(zcOOB(16))
	f.Add(append(zcOOB(2), zcOOB(0)...))
	f.Add(appendCmsg(zcOOB(3), unix.SOL_IP, unix.IP_TTL, []byte{1, 0, 0, 0}, -1))
	f.Add(appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, []byte{1, 0, 0, 0}, -1))
	f.Add(appendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, nil, 15))
	f.Add(appendCmsg(nil, unix.SOL_SOCKET, unix.SCM_RIGHTS, []byte{1, 2, 3, 4}, -1)[:20])
	f.Add([]byte{})

	s := newStack(f)
	c, _, _ := tcpPair(f, s, unix.AF_INET)
	setInt(f, c, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)
	icmp := zerocopy.Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP}}

	f.Fuzz(func(t *testing.T, oob []byte) {
		// Queue: [0,1] icmp [2,2] icmp [3,5].
		drainQueue(c)
		c.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: 0, Hi: 1, Copied: true})
		c.zc.ErrorQueue().Push(icmp)
		c.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: 2, Hi: 2, Copied: true})
		c.zc.ErrorQueue().Push(icmp)
		c.zc.ErrorQueue().Complete(zerocopy.Completion{Lo: 3, Hi: 5, Copied: false})

		orig := bytes.Clone(oob)
		n, oobn, err := c.SendMsg(nil, oob, netip.AddrPort{}, 0)
		if n != 0 {
			t.Fatalf("zero-length send sent %d bytes", n)
		}
		if err != nil {
			if err != unix.EINVAL {
				t.Fatalf("SendMsg = %v, want nil or EINVAL", err)
			}
			if !bytes.Equal(oob, orig) || oobn != len(oob) {
				t.Fatalf("control buffer changed on error")
			}
			if got := queueString(c); got != "c0-1 icmp c2-2 icmp c3-5" {
				t.Fatalf("queue changed on error: %s", got)
			}
			return
		}
		if oobn > len(oob) {
			t.Fatalf("oobn %d > %d", oobn, len(oob))
		}
		// Count the SCM_ZC_NOTIFICATION messages of the original buffer.
		zcs := 0
		for b := orig; len(b) >= unix.SizeofCmsghdr; {
			h, _, rest, err := unix.ParseOneSocketControlMessage(b)
			if err != nil {
				t.Fatalf("SendMsg accepted a malformed buffer")
			}
			if h.Level == unix.SOL_SOCKET && h.Type == zerocopy.SCMZCNotification {
				zcs++
			}
			b = rest
		}
		if zcs == 0 && (oobn != len(oob) || !bytes.Equal(oob, orig)) {
			t.Fatalf("buffer without SCM_ZC_NOTIFICATION changed")
		}
		var got []zerocopy.Completion
		for b := oob[:oobn]; zcs > 0; zcs-- {
			h, data, rest, err := unix.ParseOneSocketControlMessage(b)
			if err != nil || h.Level != unix.SOL_SOCKET || h.Type != zerocopy.SCMZCNotification {
				t.Fatalf("copied-back cmsg %+v, %v", h, err)
			}
			if size := binary.NativeEndian.Uint32(data); size > zerocopy.ZCNotificationMax {
				t.Fatalf("size %d", size)
			}
			if got, err = zerocopy.DecodeZCInfo(data, got); err != nil {
				t.Fatalf("DecodeZCInfo: %v", err)
			}
			b = rest
		}
		seen := make(map[uint32]int)
		for _, cs := range got {
			for id := cs.Lo; ; id++ {
				seen[id]++
				if id == cs.Hi {
					break
				}
			}
		}
		for _, e := range drainQueue(c) {
			cs, ok := e.Completion()
			if !ok {
				continue
			}
			for id := cs.Lo; id <= cs.Hi; id++ {
				seen[id]++
			}
		}
		for id := uint32(0); id <= 5; id++ {
			if seen[id] != 1 {
				t.Fatalf("id %d seen %d times (copied back %v)", id, seen[id], got)
			}
		}
		if len(seen) != 6 {
			t.Fatalf("ids %v", seen)
		}
	})
}
