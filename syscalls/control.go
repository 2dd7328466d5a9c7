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
func (sc *scratch) readControl(mem Memory, abi ABI, h *msghdr, optmemMax int) (*control, error) {
	if h.controllen > math.MaxInt32 {
		return nil, unix.ENOBUFS
	}
	n := int(h.controllen)
	if n == 0 {
		return nil, nil
	}
	l := abi.layout()
	if abi == ABICompat {
		return sc.readCompatControl(mem, l, hostarch.Addr(h.control), n, optmemMax)
	}
	if n > stackCtlSize && n >= optmemMax {
		return nil, unix.ENOBUFS
	}
	c := &sc.ctl
	c.l, c.buf, c.msgs = l, grow(c.buf, n), c.msgs[:0]
	if err := copyIn(mem, hostarch.Addr(h.control), c.buf); err != nil {
		return nil, err
	}
	err := l.walk(c.buf, func(m cmsg) error {
		c.msgs = append(c.msgs, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// walk calls fn for each message of buf, a control buffer in l's layout, in
// order, as Linux walks a 64-bit sendmsg's (for_each_cmsghdr with CMSG_OK):
// messages are read while a header fits, and a cmsg_len shorter than the
// header or running past buf is EINVAL. It stops at fn's first error and
// returns it.
func (l *layout) walk(buf []byte, fn func(m cmsg) error) error {
	hdr := l.cmsgHdrSize
	for off := 0; off+hdr <= len(buf); {
		m := l.cmsgAt(buf, off)
		if m.len < uint64(hdr) || m.len > uint64(len(buf)-off) {
			return unix.EINVAL
		}
		if err := fn(m); err != nil {
			return err
		}
		off += int(l.align(m.len))
	}
	return nil
}

// cmsgAt decodes the header at off in buf, which holds one.
func (l *layout) cmsgAt(buf []byte, off int) cmsg {
	b := buf[off:]
	return cmsg{
		off:   off,
		len:   l.getWord(b),
		level: int32(binary.LittleEndian.Uint32(b[l.offCmsgLevel:])),
		typ:   int32(binary.LittleEndian.Uint32(b[l.offCmsgType:])),
	}
}

// putCmsgHeader writes a header with cmsg_len cmlen at the start of b.
func (l *layout) putCmsgHeader(b []byte, cmlen uint64, level, typ int32) {
	l.putWord(b, cmlen)
	binary.LittleEndian.PutUint32(b[l.offCmsgLevel:], uint32(level))
	binary.LittleEndian.PutUint32(b[l.offCmsgType:], uint32(typ))
}

// fitCmsg is put_cmsg's arithmetic for a message of dataLen bytes written
// with left bytes of buffer left: ok is false if not even the header fits
// (nothing is written); cmlen is the cmsg_len written, the whole message or
// what fits; adv is how far the buffer advances, CMSG_SPACE(dataLen) or
// what is left; trunc reports MSG_CTRUNC.
func (l *layout) fitCmsg(dataLen int, left uint64) (cmlen, adv uint64, trunc, ok bool) {
	hdr := uint64(l.cmsgHdrSize)
	if left < hdr {
		return 0, 0, true, false
	}
	cmlen = hdr + uint64(dataLen)
	if left < cmlen {
		cmlen, trunc = left, true
	}
	return cmlen, min(uint64(l.cmsgSpace(dataLen)), left), trunc, true
}

// readCompatControl is readControl for compat callers.
func (sc *scratch) readCompatControl(mem Memory, l *layout, addr hostarch.Addr, n, optmemMax int) (*control, error) {
	hdr := l.cmsgHdrSize
	if addr == 0 || n < hdr {
		return nil, unix.EINVAL
	}
	r := guestReader{mem: mem, addr: addr, win: sc.win}
	defer func() { sc.win = r.win }()
	msgs := sc.ctl.msgs[:0]
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
	c := &sc.ctl
	c.l, c.buf, c.msgs = l, grow(c.buf, n), msgs
	clear(c.buf)
	for i := range c.msgs {
		m := &c.msgs[i]
		b, err := r.get(m.off, int(m.len))
		if err != nil {
			return nil, err
		}
		copy(c.buf[m.off:], b)
		*m = l.cmsgAt(c.buf, m.off)
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

// rest appends to out the messages that are not SCM_ZC_NOTIFICATION, each
// with its alignment padding, in the caller's layout: what the protocol
// parses. Bytes after the last message are dropped (Linux ignores them).
func (c *control) rest(out []byte) []byte {
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
	sc     *scratch
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
	cmlen, adv, trunc, ok := w.l.fitCmsg(len(data), w.left)
	if w.addr == 0 || !ok {
		w.ctrunc = true
		return nil
	}
	w.ctrunc = w.ctrunc || trunc
	w.sc.cmsg = grow(w.sc.cmsg, int(cmlen))
	b := w.sc.cmsg
	w.l.putCmsgHeader(b, cmlen, level, typ)
	copy(b[w.l.cmsgHdrSize:], data)
	if err := copyOut(w.mem, hostarch.Addr(w.addr), b); err != nil {
		return err
	}
	w.addr += adv
	w.left -= adv
	w.used += adv
	return nil
}

// WalkCmsgs calls fn with the level, type and data (cmsg_len minus the
// header; it aliases buf) of each message of buf, a control buffer in the
// layout of 64-bit programs, the host's, in order. It walks buf as Linux
// walks the control buffer of a sendmsg (for_each_cmsghdr with CMSG_OK):
// messages are read while a header fits, and a cmsg_len shorter than the
// header or running past buf is EINVAL. It stops at fn's first error and
// returns it.
func WalkCmsgs(buf []byte, fn func(level, typ int32, data []byte) error) error {
	l := ABI64.layout()
	return l.walk(buf, func(m cmsg) error {
		return fn(m.level, m.typ, buf[m.off+l.cmsgHdrSize:m.off+int(m.len)])
	})
}

// PutCmsg writes a control message at the start of b, in the layout of
// 64-bit programs, as Linux's put_cmsg writes one into a receive's control
// buffer of len(b) bytes: a b shorter than a header gets nothing, a b too
// short for the data gets what fits with cmsg_len saying so, and trunc then
// reports MSG_CTRUNC. It returns how far the buffer advances:
// CMSG_SPACE(len(data)), at most len(b). data may overlap b.
func PutCmsg(b []byte, level, typ int32, data []byte) (used int, trunc bool) {
	l := ABI64.layout()
	cmlen, adv, trunc, ok := l.fitCmsg(len(data), uint64(len(b)))
	if !ok {
		return 0, true
	}
	copy(b[l.cmsgHdrSize:cmlen], data)
	l.putCmsgHeader(b, cmlen, level, typ)
	return int(adv), trunc
}

// AppendCmsg appends a control message holding data, padded to
// CMSG_SPACE(len(data)), in the layout of 64-bit programs.
func AppendCmsg(b []byte, level, typ int32, data []byte) []byte {
	l := ABI64.layout()
	n := len(b)
	b = append(b, make([]byte, l.cmsgSpace(len(data)))...)
	l.putCmsgHeader(b[n:], uint64(l.cmsgLen(len(data))), level, typ)
	copy(b[n+l.cmsgHdrSize:], data)
	return b
}
