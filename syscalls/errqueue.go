package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"
)

// RecvErrQueue performs recvmsg(2) with MSG_ERRQUEUE for the msghdr at
// msgAddr, as ____sys_recvmsg with ip_recv_error (AF_INET) or
// ipv6_recv_error (AF_INET6) does:
//
//   - EINVAL for MsgCmsgCompat from a 64-bit caller, EFAULT for an
//     unreadable msghdr, then the name and iovec errors of importMsg;
//   - EAGAIN if the queue is empty (it never blocks; MSG_PEEK is ignored:
//     the entry is always removed);
//   - the entry's payload goes to the iovecs (MSG_TRUNC if it does not
//     fit; the return value is the bytes copied);
//   - msg_name gets the entry's Dst (sockaddr_in, or sockaddr_in6 with
//     IPv4 addresses mapped, for AF_INET6) if it has one, else nothing, and
//     msg_namelen gets that length (0 for a zerocopy completion) if
//     msg_name is not NULL (move_addr_to_user writes msg_namelen before the
//     name);
//   - one IP_RECVERR (SOL_IP) or IPV6_RECVERR (SOL_IPV6) cmsg holding the
//     sock_extended_err and the offender address (zeroed if the entry has
//     none), written with put_cmsg's truncation rules (MSG_CTRUNC);
//   - msg_flags gets MSG_ERRQUEUE, MSG_TRUNC, MSG_CTRUNC and the caller's
//     MSG_CMSG_CLOEXEC; msg_controllen the bytes advanced.
//
// As in Linux, an entry once dequeued is consumed whatever happens next: a
// fault writing its payload, name or msghdr fails the call (EFAULT) and one
// writing its control message is ignored (the call returns 0, msg_controllen
// 0).
func (c *Call) RecvErrQueue(msgAddr hostarch.Addr, flags uint32) (int, error) {
	if err := c.checkFlags(flags); err != nil {
		return 0, err
	}
	sc := getScratch()
	defer sc.release()
	return c.recvOne(sc, msgAddr, flags)
}

// RecvMMsgErrQueue performs recvmmsg(2) with MSG_ERRQUEUE for vlen
// mmsghdrs at vecAddr as do_recvmmsg does: each message is RecvErrQueue's
// (MSG_WAITFORONE is dropped from the flags it sees) and gets its msg_len;
// it stops at the first error, and after each message if expired (the
// timeout, which the caller reads, checks and writes back as
// __sys_recvmmsg does) is not nil and returns true. It returns the number
// of messages received, or the error if there were none. If it returns
// n > 0 with an error, that error is not EAGAIN and is what Linux stores as
// the socket's pending error (sk_err, SO_ERROR) for the next call; the
// caller must do so. It never blocks. If a msg_len cannot be written, the
// message's entry is consumed and not counted, as in Linux.
func (c *Call) RecvMMsgErrQueue(vecAddr hostarch.Addr, vlen, flags uint32, expired func() bool) (int, error) {
	if err := c.checkFlags(flags); err != nil {
		return 0, err
	}
	l := c.ABI.layout()
	sc := getScratch()
	defer sc.release()
	var err error
	got := 0
	for got < int(vlen) {
		entry := vecAddr + hostarch.Addr(got*l.mmsghdrSize)
		n, rerr := c.recvOne(sc, entry, flags&^unix.MSG_WAITFORONE)
		if err = rerr; err != nil {
			break
		}
		binary.LittleEndian.PutUint32(sc.word[:], uint32(n))
		if err = copyOut(c.Mem, entry+hostarch.Addr(l.offMsgLen), sc.word[:4]); err != nil {
			break
		}
		got++
		if expired != nil && expired() {
			break
		}
	}
	if got > 0 && err == unix.EAGAIN {
		err = nil
	}
	return got, err
}

// recvOne is ___sys_recvmsg with MSG_ERRQUEUE for the msghdr at msgAddr.
func (c *Call) recvOne(sc *scratch, msgAddr hostarch.Addr, flags uint32) (int, error) {
	h, err := sc.readMsghdr(c.Mem, c.ABI, msgAddr)
	if err != nil {
		return 0, err
	}
	_, iov, total, err := sc.importMsg(c.Mem, c.ABI, &h, false)
	if err != nil {
		return 0, err
	}
	if !c.pop(sc) {
		return 0, unix.EAGAIN
	}
	m := &sc.errMsg
	copied := min(int64(len(m.Payload)), total)
	if err := c.writeIov(iov, m.Payload[:copied]); err != nil {
		return 0, err
	}
	l := c.ABI.layout()
	w := cmsgWriter{mem: c.Mem, sc: sc, l: l, addr: h.control, left: h.controllen}
	// ip_recv_error ignores put_cmsg's error.
	_ = w.put(m.Level, m.Type, m.Data)
	if h.name != 0 {
		if err := sc.moveAddrToUser(c.Mem, m.Name, hostarch.Addr(h.name), msgAddr+hostarch.Addr(l.offNamelen)); err != nil {
			return 0, err
		}
	}
	msgFlags := m.Flags(total, w.ctrunc) | flags&unix.MSG_CMSG_CLOEXEC
	if err := c.putFlagsAndControllen(sc, msgAddr, msgFlags, w.used); err != nil {
		return 0, err
	}
	return int(copied), nil
}

// pop dequeues the head of the error queue into sc.errMsg, or returns false
// if the queue is empty.
func (c *Call) pop(sc *scratch) bool {
	q := c.Sock.ErrorQueue()
	if q == nil {
		return false
	}
	e, ok := q.Pop()
	if !ok {
		return false
	}
	sc.errMsg.Build(c.Sock.Family(), &e)
	return true
}

// RecvFromErrQueue performs recvfrom(2) with MSG_ERRQUEUE into the len
// bytes at buf, as Linux's __sys_recvfrom with ip_recv_error or
// ipv6_recv_error does: the buffer is checked first (import_ubuf: EFAULT
// outside the user address range), then the head entry is removed (EAGAIN
// if there is none), its payload copied, truncated to the buffer, and its
// destination written to addr if that is not 0 (move_addr_to_user; length 0
// for a zerocopy completion). The control message is lost for want of a
// control buffer. As in Linux, an entry whose payload or address cannot be
// written is consumed all the same (EFAULT).
func (c *Call) RecvFromErrQueue(buf hostarch.Addr, length uint64, addr, addrLen hostarch.Addr) (int, error) {
	ar, err := importBuffer(buf, length)
	if err != nil {
		return 0, err
	}
	sc := getScratch()
	defer sc.release()
	if !c.pop(sc) {
		return 0, unix.EAGAIN
	}
	m := &sc.errMsg
	n := min(uint64(len(m.Payload)), uint64(ar.Length()))
	if err := copyOut(c.Mem, ar.Start, m.Payload[:n]); err != nil {
		return 0, err
	}
	if addr != 0 {
		if err := sc.moveAddrToUser(c.Mem, m.Name, addr, addrLen); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// writeIov copies data into the iovecs in order (skb_copy_datagram_msg).
func (c *Call) writeIov(iov []hostarch.AddrRange, data []byte) error {
	for _, ar := range iov {
		if len(data) == 0 {
			break
		}
		k := min(uint64(len(data)), uint64(ar.Length()))
		if err := copyOut(c.Mem, ar.Start, data[:k]); err != nil {
			return err
		}
		data = data[k:]
	}
	return nil
}

// moveAddrToUser is Linux 6.18's move_addr_to_user, with which recvmsg and
// recvfrom return an address: it reads the length at ulen, writes len(name)
// back to it unless it is negative, then copies min(length, len(name))
// bytes of name to uaddr, or fails with EINVAL if the length was negative
// and name is not empty; EFAULT if any access faults.
func (sc *scratch) moveAddrToUser(mem Memory, name []byte, uaddr, ulen hostarch.Addr) error {
	b := sc.word[:4]
	if err := copyIn(mem, ulen, b); err != nil {
		return err
	}
	n := min(int(int32(binary.LittleEndian.Uint32(b))), len(name))
	if n >= 0 {
		binary.LittleEndian.PutUint32(b, uint32(len(name)))
		if err := copyOut(mem, ulen, b); err != nil {
			return err
		}
	}
	if n < 0 {
		return unix.EINVAL
	}
	return copyOut(mem, uaddr, name[:n])
}
