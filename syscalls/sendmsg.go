package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// Socket is what the message syscalls need of a socket.
type Socket interface {
	// Family returns the socket's address family (unix.AF_INET, ...).
	Family() int
	// ZerocopyEnabled reports SO_ZEROCOPY.
	ZerocopyEnabled() bool
	// ErrorQueue returns the socket's error queue; it may be nil while
	// the socket has none (no SCM_ZC_NOTIFICATION can pass then, and
	// recvmsg(MSG_ERRQUEUE) finds it empty).
	ErrorQueue() *zerocopy.ErrorQueue
}

// Call is the context of one socket syscall.
type Call struct {
	// Mem is the calling task's memory.
	Mem Memory
	// ABI is the layout of the caller's structures.
	ABI ABI
	// Sock is the socket of the file descriptor.
	Sock Socket
	// NonBlocking reports O_NONBLOCK on the file: Linux then adds
	// MSG_DONTWAIT to the flags the protocol sees (and that the
	// copy-back writes to msg_flags).
	NonBlocking bool
	// OptmemMax is net.core.optmem_max; 0 means DefaultOptmemMax.
	OptmemMax int
}

// Send is one message to send, read from the guest: what the protocol's
// sendmsg gets in Linux.
type Send struct {
	// Name is msg_name, at most SizeofSockaddrStorage bytes; nil if the
	// guest passed none (or a zero msg_namelen).
	Name []byte
	// Iov is the data to send, in guest memory: the iovecs, checked and
	// truncated to MaxRWCount in total.
	Iov []hostarch.AddrRange
	// Len is the total length of Iov.
	Len int64
	// Control holds the control messages other than SCM_ZC_NOTIFICATION,
	// unchanged and in the caller's ABI layout (each padded to the
	// alignment), with bytes that Linux ignores after the last message
	// dropped. It is nil if there are none. The walk has been checked
	// (CMSG_OK), not the messages themselves.
	Control []byte
	// Flags is what Linux's protocol sees as msg->msg_flags: the syscall
	// flags, MSG_EOR from msg_flags for sendmmsg, MSG_BATCH for all but
	// the last sendmmsg message, MSG_DONTWAIT for a non-blocking file,
	// without MSG_INTERNAL_SENDMSG_FLAGS and MsgCmsgCompat.
	Flags uint32
}

// SendFunc sends m and returns what the syscall returns: the number of
// bytes sent (a partial send is success), or an error, which is returned to
// the caller unchanged. m and the slices it holds are valid only until it
// returns.
type SendFunc func(m *Send) (int, error)

func (c *Call) optmemMax() int {
	if c.OptmemMax > 0 {
		return c.OptmemMax
	}
	return DefaultOptmemMax
}

// checkFlags rejects MsgCmsgCompat from a 64-bit caller (__sys_sendmsg,
// __sys_sendmmsg and __sys_recvmsg with forbid_cmsg_compat).
func (c *Call) checkFlags(flags uint32) error {
	if c.ABI == ABI64 && flags&MsgCmsgCompat != 0 {
		return unix.EINVAL
	}
	return nil
}

// SendMsg performs sendmsg(2) for the msghdr at msgAddr with the
// SCM_ZC_NOTIFICATION series: it reads and checks the message in Linux's
// order (readMsghdr, importMsg, readControl), validates every
// SCM_ZC_NOTIFICATION message before anything is sent, and sends it with
// its completions (sendOne).
func (c *Call) SendMsg(msgAddr hostarch.Addr, flags uint32, send SendFunc) (int, error) {
	if err := c.checkFlags(flags); err != nil {
		return 0, err
	}
	sc := getScratch()
	defer sc.release()
	n, _, err := c.sendOne(sc, msgAddr, flags, 0, nil, send)
	return n, err
}

// SendMMsg performs sendmmsg(2) for vlen mmsghdrs at vecAddr as
// __sys_sendmmsg does: vlen is capped at UIOMaxIOV; every message may take
// MSG_EOR from its msg_flags and all but the last get MSG_BATCH; each sent
// message's msg_len is written; it stops at the first error or partial
// send and returns the number of messages sent, or the error if none was.
// Every message's SCM_ZC_NOTIFICATION messages are written back, also for
// messages to the previous message's destination (the series skips those).
// If writing msg_len faults, that message is not counted, as in Linux, and
// its completions go back to the queue.
func (c *Call) SendMMsg(vecAddr hostarch.Addr, vlen, flags uint32, send SendFunc) (int, error) {
	if err := c.checkFlags(flags); err != nil {
		return 0, err
	}
	vlen = min(vlen, UIOMaxIOV)
	l := c.ABI.layout()
	sc := getScratch()
	defer sc.release()
	var err error
	sent := 0
	for sent < int(vlen) {
		f := flags | unix.MSG_BATCH
		if sent == int(vlen)-1 {
			f = flags
		}
		entry := vecAddr + hostarch.Addr(sent*l.mmsghdrSize)
		lenAddr := entry + hostarch.Addr(l.offMsgLen)
		var left bool
		_, left, err = c.sendOne(sc, entry, f, unix.MSG_EOR, &lenAddr, send)
		if err != nil {
			break
		}
		sent++
		if left {
			break
		}
	}
	if sent > 0 {
		return sent, nil
	}
	return 0, err
}

// sendOne is ___sys_sendmsg plus the series' copy-back for one msghdr. It
// returns the bytes sent and whether data was left unsent; allowed is
// allowed_msghdr_flags, and lenAddr, for sendmmsg, where the bytes sent are
// written after the copy-back.
//
// The copy-back's destination (the messages' bytes in msg_control, and
// msg_controllen and msg_flags) is checked for writing before anything is
// taken or sent: a buffer that cannot be written fails the call with EFAULT
// before the data goes out, where the series fails it after (and loses the
// completions).
func (c *Call) sendOne(sc *scratch, msgAddr hostarch.Addr, flags, allowed uint32, lenAddr *hostarch.Addr, send SendFunc) (n int, left bool, err error) {
	h, err := sc.readMsghdr(c.Mem, c.ABI, msgAddr)
	if err != nil {
		return 0, false, err
	}
	name, iov, total, err := sc.importMsg(c.Mem, c.ABI, &h, true)
	if err != nil {
		return 0, false, err
	}
	ctl, err := sc.readControl(c.Mem, c.ABI, &h, c.optmemMax())
	if err != nil {
		return 0, false, err
	}
	flags |= h.flags & allowed
	flags &^= msgInternalSendmsgFlags | MsgCmsgCompat
	if c.NonBlocking {
		flags |= unix.MSG_DONTWAIT
	}
	m := &sc.send
	*m = Send{Name: name, Iov: iov, Len: total, Flags: flags}

	// Validate every SCM_ZC_NOTIFICATION message before taking anything
	// (the series takes completions message by message and loses them
	// when a later message is invalid).
	tx := zerocopy.NewNotify(c.Sock.ErrorQueue(), c.Sock.ZerocopyEnabled())
	if ctl != nil {
		for i := range ctl.msgs {
			cm := &ctl.msgs[i]
			if !isZC(cm) {
				continue
			}
			if c.Sock.Family() == unix.AF_RDS {
				return 0, false, unix.EINVAL
			}
			if err := tx.Add(ctl.data(cm)); err != nil {
				return 0, false, err
			}
		}
		m.Control = ctl.rest(&sc.rest)
		if tx.Messages() > 0 {
			if err := c.checkCopyBack(msgAddr, &h, ctl); err != nil {
				return 0, false, err
			}
		}
	}
	n, err = tx.Send(func() (int, error) { return send(m) }, func(n int) error {
		if tx.Messages() > 0 {
			if err := c.copyBack(sc, msgAddr, &h, ctl, flags); err != nil {
				return err
			}
		}
		if lenAddr == nil {
			return nil
		}
		binary.LittleEndian.PutUint32(sc.word[:], uint32(n))
		return copyOut(c.Mem, *lenAddr, sc.word[:4])
	})
	if n == 0 && err != nil {
		return 0, false, err
	}
	return n, int64(n) < total, nil
}

// copyBack is the series' sendmsg_copy_cmsg_to_user, written into the
// caller's own layout: the messages the rule of layout.copyBack selects are
// put_cmsg'd from the start of msg_control with their whole original payload
// and unchanged cmsg_len, then msg_flags gets flags and msg_controllen the
// bytes advanced. As in the series, MSG_CTRUNC from put_cmsg is not written
// back (it cannot happen: the messages come from the same buffer).
func (c *Call) copyBack(sc *scratch, msgAddr hostarch.Addr, h *msghdr, ctl *control, flags uint32) error {
	w := cmsgWriter{mem: c.Mem, sc: sc, l: ctl.l, addr: h.control, left: h.controllen}
	if err := ctl.l.copyBack(ctl.buf, w.put); err != nil {
		return err
	}
	return c.putFlagsAndControllen(sc, msgAddr, flags, w.used)
}

// checkCopyBack checks that copyBack can write everything it will write:
// the bytes of msg_control its messages take, then msg_flags and
// msg_controllen. It writes nothing.
func (c *Call) checkCopyBack(msgAddr hostarch.Addr, h *msghdr, ctl *control) error {
	var end, left uint64 = 0, h.controllen
	ctl.l.copyBack(ctl.buf, func(_, _ int32, data []byte) error {
		if cmlen, adv, _, ok := ctl.l.fitCmsg(len(data), left); ok {
			end = h.controllen - left + cmlen
			left -= adv
		}
		return nil
	})
	if end > 0 {
		if err := checkWritable(c.Mem, hostarch.Addr(h.control), end); err != nil {
			return err
		}
	}
	l := c.ABI.layout()
	return checkWritable(c.Mem, msgAddr+hostarch.Addr(l.offControllen), uint64(l.offFlags+4-l.offControllen))
}

// putFlagsAndControllen writes msg_flags, then msg_controllen, into the
// msghdr at msgAddr, as the series' copy-back and ____sys_recvmsg do. The
// two fields are adjacent: they are written in one copy when they share a
// page, where the order cannot show, and in Linux's order otherwise.
func (c *Call) putFlagsAndControllen(sc *scratch, msgAddr hostarch.Addr, flags uint32, controllen uint64) error {
	l := c.ABI.layout()
	lenAddr := msgAddr + hostarch.Addr(l.offControllen)
	flagsAddr := msgAddr + hostarch.Addr(l.offFlags)
	b := sc.hdr[:l.offFlags+4-l.offControllen]
	l.putWord(b, controllen)
	binary.LittleEndian.PutUint32(b[l.offFlags-l.offControllen:], flags)
	if lenAddr.RoundDown() == (flagsAddr + 3).RoundDown() {
		return copyOut(c.Mem, lenAddr, b)
	}
	if err := copyOut(c.Mem, flagsAddr, b[l.offFlags-l.offControllen:]); err != nil {
		return err
	}
	return copyOut(c.Mem, lenAddr, b[:l.word])
}
