package syscalls

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// cmsgHdr is the header of one control message of a buffer in the
// caller's layout, and where it is.
type cmsgHdr struct {
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
	msgs []cmsgHdr
}

// data returns the payload of m: cmsg_len minus the header.
func (c *control) data(m *cmsgHdr) []byte {
	return c.buf[m.off+c.l.cmsgHdrSize : m.off+int(m.len)]
}

// isZC reports whether m is a SOL_SOCKET/SCM_ZC_NOTIFICATION message.
func isZC(m *cmsgHdr) bool {
	return m.level == unix.SOL_SOCKET && m.typ == zerocopy.SCMZCNotification
}

// readControl reads the control buffer of h as ____sys_sendmsg does
// (cmsghdr_from_user_compat_to_kern for compat callers), with the protocol's
// cmsg walk (CMSG_OK) checked at once; nil for an empty buffer. Errnos, in
// Linux's order: ENOBUFS over INT_MAX, or over the stack buffer when
// sock_kmalloc refuses optmemMax (ENOMEM for compat, on the converted
// size); EFAULT for unreadable bytes; EINVAL for a cmsg_len below the header
// or past the buffer, and for compat, a missing first header or 1 to 11
// trailing bytes (cmsg_compat_nxthdr's "ptr + 1"). 64-bit callers' trailing
// bytes that cannot hold a header are ignored (__cmsg_nxthdr).
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
	err := l.walk(c.buf, func(m cmsgHdr) error {
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
func (l *layout) walk(buf []byte, fn func(m cmsgHdr) error) error {
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
func (l *layout) cmsgAt(buf []byte, off int) cmsgHdr {
	b := buf[off:]
	return cmsgHdr{
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
		msgs = append(msgs, cmsgHdr{off: off, len: uint64(clen)})
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

// rest returns the messages that are not SCM_ZC_NOTIFICATION, each with
// its alignment padding, in the caller's layout: what the protocol parses,
// nil if there are none. Bytes after the last message are dropped (Linux
// ignores them). When those messages are contiguous in the buffer, as they
// are unless an SCM_ZC_NOTIFICATION message sits between two of them, the
// result is part of the buffer; otherwise they are copied into *buf.
func (c *control) rest(buf *[]byte) []byte {
	start, end, split := -1, 0, false
	for i := range c.msgs {
		m := &c.msgs[i]
		if isZC(m) {
			continue
		}
		if start < 0 {
			start = m.off
		} else if m.off != end {
			split = true
		}
		end = m.off + len(c.padded(m))
	}
	if start < 0 {
		return nil
	}
	if !split {
		return c.buf[start:end]
	}
	out := (*buf)[:0]
	for i := range c.msgs {
		if m := &c.msgs[i]; !isZC(m) {
			out = append(out, c.padded(m)...)
		}
	}
	*buf = out
	return out
}

// padded returns m with its alignment padding, as far as the buffer goes.
func (c *control) padded(m *cmsgHdr) []byte {
	return c.buf[m.off:min(m.off+int(c.l.align(m.len)), len(c.buf))]
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

// Cmsg is one control message of a buffer: its level and type, and its
// data (cmsg_len minus the header).
type Cmsg struct {
	Level, Type int32
	Data        []byte
}

// WalkCmsgs calls fn with each message of buf, a control buffer in the
// layout of 64-bit programs, the host's, in order; the data aliases buf. It
// walks buf as Linux walks the control buffer of a sendmsg
// (for_each_cmsghdr with CMSG_OK): messages are read while a header fits,
// and a cmsg_len shorter than the header or running past buf is EINVAL. It
// stops at fn's first error and returns it.
func WalkCmsgs(buf []byte, fn func(m Cmsg) error) error {
	l := ABI64.layout()
	return l.walk(buf, func(m cmsgHdr) error {
		return fn(Cmsg{Level: m.level, Type: m.typ, Data: buf[m.off+l.cmsgHdrSize : m.off+int(m.len)]})
	})
}

// copyBack calls put, in order, for each message of buf (in l's layout)
// that the series' sendmsg_copy_cmsg_to_user writes back to the caller:
// every message of type SCM_ZC_NOTIFICATION, of any level
// (cmsg_copy_to_user tests only the type), with its data, its zc_info
// filled in place.
func (l *layout) copyBack(buf []byte, put func(level, typ int32, data []byte) error) error {
	return l.walk(buf, func(m cmsgHdr) error {
		if m.typ != zerocopy.SCMZCNotification {
			return nil
		}
		return put(m.level, m.typ, buf[m.off+l.cmsgHdrSize:m.off+int(m.len)])
	})
}

// CopyBack is the series' copy-back on oob, the control buffer of a send by
// a 64-bit Go caller whose SCM_ZC_NOTIFICATION messages were filled in
// place: the messages copyBack selects are put_cmsg'd from the start of
// oob, in order. It returns the bytes used, the new msg_controllen.
func CopyBack(oob []byte) int {
	w := 0
	ABI64.layout().copyBack(oob, func(level, typ int32, data []byte) error {
		used, _ := PutCmsg(oob[w:], level, typ, data)
		w += used
		return nil
	})
	return w
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
