package syscalls

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// cmsg is one control message of a send's control buffer, in the caller's
// layout.
type cmsg struct {
	off   int    // offset of the header in the buffer
	len   uint64 // cmsg_len
	level int32
	typ   int32
}

// control is a send's control buffer as read from the guest: buf holds the
// caller's bytes (for compat, the headers and data that Linux reads, zero
// elsewhere) and msgs the messages found by Linux's walk.
type control struct {
	l    *layout
	buf  []byte
	msgs []cmsg
}

// data returns the payload of m: cmsg_len minus the header.
func (c *control) data(m *cmsg) []byte {
	return c.buf[m.off+c.l.cmsgHdrSize : m.off+int(m.len)]
}

// isZC reports whether m is a SOL_SOCKET/SCM_ZC_NOTIFICATION message.
func isZC(m *cmsg) bool {
	return m.level == unix.SOL_SOCKET && m.typ == zerocopy.SCMZCNotification
}

// readControl reads the control buffer of h as ____sys_sendmsg does, with
// the checks of the protocol's cmsg walk (CMSG_OK) done at once. It returns
// nil for an empty buffer.
//
// 64-bit: ENOBUFS if msg_controllen > INT_MAX, or if it exceeds the 36-byte
// stack buffer and sock_kmalloc refuses it (optmemMax or more); EFAULT if
// any byte is unreadable; EINVAL for a cmsg_len below the header size or
// past the end of the buffer. Bytes after the last message that cannot hold
// a header are ignored (__cmsg_nxthdr).
//
// Compat (cmsghdr_from_user_compat_to_kern): ENOBUFS over INT_MAX; EINVAL if
// there is no first header (msg_control NULL or msg_controllen < 12); the
// walk reads each cmsg_len (EFAULT) and checks it (EINVAL), and continues
// while one byte remains after the aligned message (cmsg_compat_nxthdr's
// "ptr + 1"), so 1 to 11 trailing bytes are EINVAL, or EFAULT if the
// cmsg_len there is unreadable; ENOMEM if the 64-bit copy exceeds the stack
// buffer and sock_kmalloc refuses it; then EFAULT if a message is
// unreadable.
func readControl(mem Memory, abi ABI, h *msghdr, optmemMax int) (*control, error) {
	if h.controllen > math.MaxInt32 {
		return nil, unix.ENOBUFS
	}
	n := int(h.controllen)
	if n == 0 {
		return nil, nil
	}
	l := abi.layout()
	if abi == ABICompat {
		return readCompatControl(mem, l, hostarch.Addr(h.control), n, optmemMax)
	}
	if n > stackCtlSize && n >= optmemMax {
		return nil, unix.ENOBUFS
	}
	c := &control{l: l, buf: make([]byte, n)}
	if err := copyIn(mem, hostarch.Addr(h.control), c.buf); err != nil {
		return nil, err
	}
	hdr := l.cmsgHdrSize
	for off := 0; off+hdr <= n; {
		clen := binary.LittleEndian.Uint64(c.buf[off:])
		if clen < uint64(hdr) || clen > uint64(n-off) {
			return nil, unix.EINVAL
		}
		c.msgs = append(c.msgs, cmsg{
			off:   off,
			len:   clen,
			level: int32(binary.LittleEndian.Uint32(c.buf[off+8:])),
			typ:   int32(binary.LittleEndian.Uint32(c.buf[off+12:])),
		})
		off += int(l.align(clen))
	}
	return c, nil
}

// readCompatControl is readControl for compat callers.
func readCompatControl(mem Memory, l *layout, addr hostarch.Addr, n, optmemMax int) (*control, error) {
	hdr := l.cmsgHdrSize
	if addr == 0 || n < hdr {
		return nil, unix.EINVAL
	}
	r := guestReader{mem: mem, addr: addr}
	var msgs []cmsg
	kcmlen := 0
	for off := 0; ; {
		b, err := r.get(off, 4)
		if err != nil {
			return nil, err
		}
		clen := int(binary.LittleEndian.Uint32(b))
		if clen < hdr || clen > n-off {
			return nil, unix.EINVAL
		}
		// The 64-bit copy: 16-byte header, 8-byte alignment.
		kcmlen += (clen - hdr + 16 + 7) &^ 7
		msgs = append(msgs, cmsg{off: off, len: uint64(clen)})
		off += int(l.align(uint64(clen)))
		if off+1 > n {
			break
		}
	}
	if kcmlen > stackCtlSize && kcmlen >= optmemMax {
		return nil, unix.ENOMEM
	}
	c := &control{l: l, buf: make([]byte, n), msgs: msgs}
	for i := range c.msgs {
		m := &c.msgs[i]
		b, err := r.get(m.off, int(m.len))
		if err != nil {
			return nil, err
		}
		copy(c.buf[m.off:], b)
		m.level = int32(binary.LittleEndian.Uint32(b[4:]))
		m.typ = int32(binary.LittleEndian.Uint32(b[8:]))
	}
	return c, nil
}

// guestReader reads small pieces of guest memory through a window, so that
// walking a large buffer costs few copies and no large allocation.
type guestReader struct {
	mem    Memory
	addr   hostarch.Addr
	win    []byte
	winOff int
	winLen int // valid bytes in win
}

const readWindow = 16 << 10

// get returns size bytes at addr+off, or EFAULT if they are unreadable. The
// result is valid until the next call.
func (r *guestReader) get(off, size int) ([]byte, error) {
	if off >= r.winOff && off+size <= r.winOff+r.winLen {
		return r.win[off-r.winOff : off-r.winOff+size], nil
	}
	want := max(size, readWindow)
	if cap(r.win) < want {
		r.win = make([]byte, want)
	}
	r.win = r.win[:want]
	got, err := r.mem.CopyInBytes(r.addr+hostarch.Addr(off), r.win)
	if err == nil {
		got = want
	}
	r.winOff, r.winLen = off, got
	if got < size {
		return nil, unix.EFAULT
	}
	return r.win[:size], nil
}

// rest returns the messages that are not SCM_ZC_NOTIFICATION, each with its
// alignment padding, in the caller's layout: what the protocol parses.
// Bytes after the last message are dropped (Linux ignores them).
func (c *control) rest() []byte {
	var out []byte
	for i := range c.msgs {
		m := &c.msgs[i]
		if isZC(m) {
			continue
		}
		end := min(m.off+int(c.l.align(m.len)), len(c.buf))
		out = append(out, c.buf[m.off:end]...)
	}
	return out
}

// cmsgWriter writes control messages into a guest's control buffer as
// put_cmsg and put_cmsg_compat do: msg_control_user and msg_controllen
// advance as messages are written.
type cmsgWriter struct {
	mem    Memory
	l      *layout
	addr   uint64 // msg_control_user; 0 is NULL
	left   uint64 // msg_controllen
	used   uint64 // bytes advanced: the msg_controllen written back
	ctrunc bool   // MSG_CTRUNC
}

// put writes one message with the given payload. If the header does not fit
// (or msg_control is NULL), it writes nothing and sets ctrunc; if the
// payload does not fit, it writes what fits, with cmsg_len the space left,
// and sets ctrunc. It advances by CMSG_SPACE(len(data)), at most the space
// left. A fault is EFAULT and advances nothing.
func (w *cmsgWriter) put(level, typ int32, data []byte) error {
	hdr := uint64(w.l.cmsgHdrSize)
	if w.addr == 0 || w.left < hdr {
		w.ctrunc = true
		return nil
	}
	cmlen := hdr + uint64(len(data))
	if w.left < cmlen {
		w.ctrunc = true
		cmlen = w.left
	}
	b := make([]byte, cmlen)
	w.l.putWord(b, cmlen)
	binary.LittleEndian.PutUint32(b[w.l.word:], uint32(level))
	binary.LittleEndian.PutUint32(b[w.l.word+4:], uint32(typ))
	copy(b[hdr:], data)
	if err := copyOut(w.mem, hostarch.Addr(w.addr), b); err != nil {
		return err
	}
	adv := min(hdr+w.l.align(uint64(len(data))), w.left)
	w.addr += adv
	w.left -= adv
	w.used += adv
	return nil
}
