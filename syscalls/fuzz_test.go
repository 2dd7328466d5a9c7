package syscalls

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// The fuzz targets build a guest of four pages at fuzzBase from the input:
// pages 0 and 1 writable, page 2 a hole, page 3 read-only. Pointers in the
// msghdrs they write are offsets into that region (0 is NULL), so that the
// fuzzer reaches every path: holes, read-only memory, page crossings,
// malformed and valid control messages.
const (
	fuzzBase = 0x200000
	fuzzSize = 4 * hostarch.PageSize
)

func fuzzMem(b []byte) *pageMem {
	m := newPageMem()
	m.mapRange(fuzzBase, 2*hostarch.PageSize, false)
	m.mapRange(fuzzBase+3*hostarch.PageSize, hostarch.PageSize, true)
	n := min(len(b), 2*hostarch.PageSize)
	m.write(fuzzBase, b[:n])
	if len(b) > n {
		m.write(fuzzBase+3*hostarch.PageSize, b[n:min(len(b), n+hostarch.PageSize)])
	}
	return m
}

// fuzzPtr maps an offset to an address in the region, 0 to NULL.
func fuzzPtr(off uint16) hostarch.Addr {
	if off == 0 {
		return 0
	}
	return fuzzBase + hostarch.Addr(uint64(off)%fuzzSize)
}

// fuzzMsg is the msghdr the fuzz targets write, from their arguments.
func fuzzMsg(nameOff uint16, namelen int32, iovOff, iovlen uint16, ctlOff uint16, ctlLen uint32, flags uint32) msg {
	return msg{
		name: fuzzPtr(nameOff), namelen: namelen,
		iov: fuzzPtr(iovOff), iovlen: uint64(iovlen),
		control: fuzzPtr(ctlOff), controllen: uint64(ctlLen),
		flags: flags,
	}
}

// linuxErrno reports whether err is one of the errnos these calls can
// return.
func linuxErrno(err error) bool {
	switch err {
	case nil, unix.EFAULT, unix.EINVAL, unix.EMSGSIZE, unix.ENOBUFS, unix.ENOMEM, unix.EAGAIN:
		return true
	}
	return false
}

// delivered decodes the SOL_SOCKET/SCM_ZC_NOTIFICATION messages that a
// copy-back wrote at the start of the control buffer ctl, with the
// msg_controllen written in the msghdr at hdr.
func delivered(t *testing.T, g *guest, hdr, ctl hostarch.Addr) []zerocopy.Completion {
	lay := g.abi.layout()
	hb := g.mem.read(hdr, lay.msghdrSize)
	used := int(lay.getWord(hb[lay.offControllen:]))
	var out []zerocopy.Completion
	buf := make([]byte, used)
	if used > 0 {
		if _, err := g.mem.CopyInBytes(ctl, buf); err != nil {
			t.Fatalf("written control buffer unreadable: %v", err)
		}
	}
	hdrSize := lay.cmsgHdrSize
	for off := 0; off+hdrSize <= used; {
		clen := int(lay.getWord(buf[off:]))
		level := int32(binary.LittleEndian.Uint32(buf[off+lay.word:]))
		typ := int32(binary.LittleEndian.Uint32(buf[off+lay.word+4:]))
		if clen < hdrSize || clen > used-off {
			t.Fatalf("copy-back wrote a bad cmsg_len %d at %d of %d", clen, off, used)
		}
		if level == unix.SOL_SOCKET && typ == zerocopy.SCMZCNotification {
			var err error
			if out, err = zerocopy.DecodeZCInfo(buf[off+hdrSize:off+clen], out); err != nil {
				t.Fatalf("copy-back wrote a bad zc_info: %v", err)
			}
		}
		off += int(lay.align(uint64(clen)))
	}
	return out
}

// checkAccounting checks that the completions 1..n are each either still
// queued or delivered, exactly once.
func checkAccounting(t *testing.T, n int, left, got []zerocopy.Completion) {
	seen := make(map[uint32]int)
	for _, c := range append(left, got...) {
		for id := c.Lo; ; id++ {
			seen[id]++
			if id == c.Hi {
				break
			}
		}
	}
	for id := uint32(1); id <= uint32(n); id++ {
		if seen[id] != 1 {
			t.Fatalf("completion %d seen %d times (left %v, delivered %v)", id, seen[id], left, got)
		}
	}
	if len(seen) != n {
		t.Fatalf("unexpected completions: left %v, delivered %v", left, got)
	}
}

func FuzzSendMsg(f *testing.F) {
	g := newGuest(f, ABI64)
	zc := g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcInfo(2))
	seed := make([]byte, 0x400)
	copy(seed[0x100:], zc)
	copy(seed[0x200:], g.iovecs(fuzzBase+0x300, 5))
	f.Add(false, uint32(0), true, uint16(0), int32(0), uint16(0x200), uint16(1), uint16(0x100), uint32(len(zc)), uint8(3), seed)
	f.Add(true, uint32(unix.MSG_EOR), true, uint16(0x300), int32(16), uint16(0x200), uint16(1), uint16(0x100), uint32(40), uint8(20), seed)
	f.Add(false, uint32(1), true, uint16(0x2ff0), int32(200), uint16(0x1ff8), uint16(2), uint16(0x1ff0), uint32(32), uint8(5), seed)
	f.Fuzz(func(t *testing.T, compat bool, flags uint32, zcOn bool, nameOff uint16, namelen int32, iovOff, iovlen, ctlOff uint16, ctlLen uint32, queued uint8, mem []byte) {
		abi := ABI64
		if compat {
			abi = ABICompat
		}
		g := &guest{t: t, mem: fuzzMem(mem), abi: abi}
		m := fuzzMsg(nameOff, namelen, iovOff, iovlen, ctlOff, ctlLen, flags)
		hdr := hostarch.Addr(fuzzBase + 0x40)
		g.mem.write(hdr, g.msghdr(m))
		n := int(queued % 24)
		sock := &fakeSocket{family: unix.AF_INET, zc: zcOn, q: queueIDs(n)}
		c := &Call{Mem: g.mem, ABI: abi, Sock: sock, OptmemMax: 4096}
		sent, err := c.SendMsg(hdr, flags&^1, func(s *Send) (int, error) {
			if flags&1 != 0 {
				return 0, unix.EAGAIN
			}
			if s.Len < 0 || s.Len > MaxRWCount {
				t.Fatalf("Send.Len %d", s.Len)
			}
			return deliver(g.mem)(s)
		})
		if !linuxErrno(err) || sent < 0 {
			t.Fatalf("SendMsg: (%d, %v)", sent, err)
		}
		left := drain(sock.q)
		if err != nil && len(left) != n {
			t.Fatalf("failed send lost completions: %v of %d left", left, n)
		}
		// The copy-back writes msg_flags and msg_controllen after the
		// messages: if the buffers overlap, the messages cannot be read
		// back.
		if end := m.control + hostarch.Addr(min(m.controllen, fuzzSize)); m.control < hdr+hostarch.Addr(abi.layout().msghdrSize) && end > hdr {
			return
		}
		var got []zerocopy.Completion
		if err == nil {
			got = delivered(t, g, hdr, m.control)
		}
		if err == nil && len(got) == 0 && len(left) != n {
			t.Fatalf("%d completions taken, none delivered", n-len(left))
		}
		checkAccounting(t, n, left, got)
	})
}

func FuzzSendMMsg(f *testing.F) {
	g := newGuest(f, ABI64)
	zc := g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcInfo(1))
	seed := make([]byte, 0x800)
	for i := 0; i < 4; i++ {
		copy(seed[0x200+i*0x80:], zc)
	}
	copy(seed[0x700:], g.iovecs(fuzzBase+0x780, 5))
	f.Add(false, uint32(3), uint32(0), uint16(0x700), uint16(1), uint16(0x200), uint32(len(zc)), uint8(4), seed)
	f.Add(true, uint32(2), uint32(unix.MSG_EOR), uint16(0x700), uint16(1), uint16(0x200), uint32(20), uint8(4), seed)
	f.Fuzz(func(t *testing.T, compat bool, vlen, flags uint32, iovOff, iovlen, ctlOff uint16, ctlLen uint32, queued uint8, mem []byte) {
		abi := ABI64
		if compat {
			abi = ABICompat
		}
		g := &guest{t: t, mem: fuzzMem(mem), abi: abi}
		lay := abi.layout()
		vec := hostarch.Addr(fuzzBase + 0x20)
		vlen %= 5
		for i := uint32(0); i < 4; i++ {
			m := fuzzMsg(0, 0, iovOff, iovlen, ctlOff+uint16(i)*0x80, ctlLen, flags)
			g.mem.write(vec+hostarch.Addr(int(i)*lay.mmsghdrSize), g.msghdr(m))
		}
		n := int(queued % 24)
		sock := &fakeSocket{family: unix.AF_INET6, zc: true, q: queueIDs(n)}
		c := &Call{Mem: g.mem, ABI: abi, Sock: sock, OptmemMax: 4096}
		calls := 0
		sent, err := c.SendMMsg(vec, vlen, flags&^1, func(s *Send) (int, error) {
			calls++
			if flags&1 != 0 && calls == 2 {
				return 0, unix.EAGAIN
			}
			return deliver(g.mem)(s)
		})
		if !linuxErrno(err) || sent < 0 || sent > int(vlen) || (err != nil && sent != 0) {
			t.Fatalf("SendMMsg: (%d, %v)", sent, err)
		}
		left := drain(sock.q)
		if sent == 0 && len(left) != n {
			t.Fatalf("nothing sent but %d of %d completions left", len(left), n)
		}
		// If the control buffers overlap neither each other nor the
		// vector, every completion taken is in the buffer of a message
		// that was sent.
		vecEnd := vec + hostarch.Addr(4*lay.mmsghdrSize)
		var got []zerocopy.Completion
		for i := 0; i < sent; i++ {
			ctl := fuzzPtr(ctlOff + uint16(i)*0x80)
			if ctlLen > 0x80 || ctl == 0 || ctl < vecEnd && ctl+hostarch.Addr(ctlLen) > vec || ctl+0x80 > fuzzBase+fuzzSize {
				return
			}
			got = append(got, delivered(t, g, vec+hostarch.Addr(i*lay.mmsghdrSize), ctl)...)
		}
		checkAccounting(t, n, left, got)
	})
}

func FuzzRecvErrQueue(f *testing.F) {
	seed := make([]byte, 0x400)
	g := newGuest(f, ABI64)
	copy(seed[0x200:], g.iovecs(fuzzBase+0x300, 8))
	f.Add(false, uint32(unix.MSG_ERRQUEUE), false, uint16(0x380), int32(28), uint16(0x200), uint16(1), uint16(0x100), uint32(100), seed)
	f.Add(true, uint32(unix.MSG_ERRQUEUE), true, uint16(0x2ffc), int32(28), uint16(0x200), uint16(1), uint16(0x1fe0), uint32(64), seed)
	f.Fuzz(func(t *testing.T, compat bool, flags uint32, icmp bool, nameOff uint16, namelen int32, iovOff, iovlen, ctlOff uint16, ctlLen uint32, mem []byte) {
		abi := ABI64
		if compat {
			abi = ABICompat
		}
		g := &guest{t: t, mem: fuzzMem(mem), abi: abi}
		hdr := hostarch.Addr(fuzzBase + 0x40)
		g.mem.write(hdr, g.msghdr(fuzzMsg(nameOff, namelen, iovOff, iovlen, ctlOff, ctlLen, 0)))
		q := zerocopy.NewErrorQueue(zerocopy.QueueConfig{})
		if icmp {
			q.Push(icmpEntry(compat))
		}
		q.Complete(zerocopy.Completion{Lo: 1, Hi: 5})
		before := q.Len()
		c := &Call{Mem: g.mem, ABI: abi, Sock: &fakeSocket{family: unix.AF_INET6, q: q}}
		n, err := c.RecvErrQueue(hdr, flags)
		if !linuxErrno(err) || n < 0 || n > 5 {
			t.Fatalf("RecvErrQueue: (%d, %v)", n, err)
		}
		if err != nil && !icmp && q.Len() != before {
			t.Fatalf("failed recvmsg lost the completion")
		}
	})
}

func FuzzReadControl(f *testing.F) {
	g := newGuest(f, ABI64)
	f.Add(false, uint32(48), append(g.cmsg(1, 78, zcInfo(1)), g.cmsg(0, 1, []byte{1})...))
	f.Add(true, uint32(13), []byte{13, 0, 0, 0, 1, 0, 0, 0, 78, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, compat bool, ctlLen uint32, b []byte) {
		abi := ABI64
		if compat {
			abi = ABICompat
		}
		mem := fuzzMem(b)
		h := msghdr{control: fuzzBase, controllen: uint64(ctlLen)}
		c, err := new(scratch).readControl(mem, abi, &h, 4096)
		if !linuxErrno(err) {
			t.Fatalf("readControl: %v", err)
		}
		if err != nil || c == nil {
			return
		}
		lay := abi.layout()
		prev := -1
		for i := range c.msgs {
			m := &c.msgs[i]
			if m.off <= prev || m.off+int(m.len) > len(c.buf) || int(m.len) < lay.cmsgHdrSize {
				t.Fatalf("bad message %+v in %d bytes", *m, len(c.buf))
			}
			prev = m.off
		}
		if r := c.rest(nil); len(r) > len(c.buf) {
			t.Fatalf("rest %d bytes of %d", len(r), len(c.buf))
		}
	})
}
