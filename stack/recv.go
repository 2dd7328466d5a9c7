package stack

import (
	"io"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zerocopy"
)

// RecvMsg receives into bufs, as recvmsg(2), and returns the byte count,
// the length of control data written to oob, the MSG_* flags of the message
// and the sender (UDP) or, with MSG_ERRQUEUE, the destination of the packet
// that caused the error.
//
// flags are Linux MSG_* flags: MSG_DONTWAIT; MSG_PEEK; MSG_TRUNC, which makes
// a UDP receive return the datagram's full length and a TCP receive discard
// up to the buffers' length of data without copying it (with MSG_PEEK: how
// much could be read); MSG_WAITALL, which makes a blocking TCP receive wait
// for the whole length; MSG_ERRQUEUE, which dequeues the head of the error
// queue without blocking (EAGAIN when empty): its payload goes to bufs and
// its IP_RECVERR (AF_INET) or IPV6_RECVERR (AF_INET6) control message to oob,
// with MSG_CTRUNC if oob is too short. A TCP receive returns 0 at end of
// stream. A receive that Close wakes fails with EBADF, as the receives
// after it do, rather than see the end of the stream.
func (so *Socket) RecvMsg(bufs [][]byte, oob []byte, flags int) (n, oobn, recvflags int, from netip.AddrPort, err error) {
	if so.closed.Load() {
		return 0, 0, 0, netip.AddrPort{}, unix.EBADF
	}
	if flags&unix.MSG_ERRQUEUE != 0 {
		return so.recvErrMsg(bufs, oob)
	}
	defer func() {
		if n == 0 && so.closed.Load() {
			n, recvflags, from, err = 0, 0, netip.AddrPort{}, unix.EBADF
		}
	}()
	if flags&unix.MSG_OOB != 0 && so.stype == unix.SOCK_STREAM {
		// tcp_recv_urg: netstack keeps no urgent data. UDP ignores
		// the flag.
		return 0, 0, 0, netip.AddrPort{}, unix.EINVAL
	}
	r := receivers.Get().(*receiver)
	defer func() {
		r.release()
		receivers.Put(r)
	}()
	r.dst.reset(bufs)
	// tcp_recvmsg returns once target bytes have arrived: all with
	// MSG_WAITALL, else SO_RCVLOWAT.
	target := r.dst.left
	if flags&unix.MSG_WAITALL == 0 {
		target = min(target, int(so.rcvlowat.Load()))
	}
	b := blocker{so: so, mask: waiter.ReadableEvents, flags: flags, dl: &so.readDeadline}
	defer b.done()
	for {
		rn, rflags, rfrom, rerr := so.read(r, flags)
		n += rn
		recvflags |= rflags
		from = rfrom
		switch {
		case rerr == nil && !(so.stype == unix.SOCK_STREAM && flags&unix.MSG_PEEK == 0 && rn > 0 && n < target):
			return n, 0, recvflags, from, nil
		case rerr != nil && rerr != unix.EAGAIN:
			if n > 0 {
				// Return the data; netstack keeps the error for
				// the next call.
				return n, 0, recvflags, from, nil
			}
			return 0, 0, 0, netip.AddrPort{}, rerr
		case rerr == unix.EAGAIN && n > 0 && n >= target:
			return n, 0, recvflags, from, nil
		}
		if err := b.wait(); err != nil {
			if n > 0 {
				return n, 0, recvflags, from, nil
			}
			return 0, 0, 0, netip.AddrPort{}, err
		}
	}
}

// receivers hold the io.Writers of receives in progress, reused so that a
// receive does not allocate them.
var receivers = sync.Pool{New: func() any { return new(receiver) }}

// receiver is where one receive call writes.
type receiver struct {
	dst iovecWriter
	// discard takes the data MSG_TRUNC discards from a stream.
	discard tcpip.LimitedWriter
}

// release drops the references to the caller's buffers.
func (r *receiver) release() {
	r.dst.release()
	r.discard = tcpip.LimitedWriter{}
}

// read makes one non-blocking read into r. It returns EAGAIN when there is
// nothing to read.
func (so *Socket) read(r *receiver, flags int) (int, int, netip.AddrPort, error) {
	peek := flags&unix.MSG_PEEK != 0
	trunc := flags&unix.MSG_TRUNC != 0
	opts := tcpip.ReadOptions{Peek: peek, NeedRemoteAddr: so.stype == unix.SOCK_DGRAM}
	if so.stype == unix.SOCK_STREAM {
		var w io.Writer = &r.dst
		if trunc {
			r.discard = tcpip.LimitedWriter{W: io.Discard, N: int64(r.dst.left)}
			w = &r.discard
		}
		if r.dst.left == 0 {
			// Linux returns 0 for an empty read without looking at the
			// queue.
			return 0, 0, netip.AddrPort{}, nil
		}
		res, err := so.ep.Read(w, opts)
		if _, ok := err.(*tcpip.ErrClosedForReceive); ok {
			return 0, 0, netip.AddrPort{}, nil
		}
		if err != nil {
			return 0, 0, netip.AddrPort{}, errnoErr(err)
		}
		if peek && trunc {
			q, qerr := so.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption)
			if qerr != nil {
				return 0, 0, netip.AddrPort{}, errnoErr(qerr)
			}
			return min(q, r.dst.left), 0, netip.AddrPort{}, nil
		}
		if trunc {
			r.dst.left -= res.Count
		}
		if !peek && res.Count > 0 {
			so.ep.ModerateRecvBuf(res.Count)
		}
		return res.Count, 0, netip.AddrPort{}, nil
	}
	empty := r.dst.left == 0
	res, err := so.ep.Read(&r.dst, opts)
	if _, ok := err.(*tcpip.ErrBadBuffer); ok && empty {
		// Receiving into no buffer consumes the datagram and
		// truncates it, as on Linux; it is not a fault.
		err = nil
	}
	if _, ok := err.(*tcpip.ErrClosedForReceive); ok {
		if flags&unix.MSG_DONTWAIT != 0 {
			return 0, 0, netip.AddrPort{}, unix.EAGAIN
		}
		return 0, 0, netip.AddrPort{}, nil
	}
	if err != nil {
		return 0, 0, netip.AddrPort{}, errnoErr(err)
	}
	var rflags int
	n := res.Count
	if res.Total > res.Count {
		rflags |= unix.MSG_TRUNC
	}
	if trunc {
		n = res.Total
	}
	return n, rflags, so.sockAddr(res.RemoteAddr), nil
}

// RecvErr dequeues the head of the error queue, as recvmsg(MSG_ERRQUEUE):
// it never blocks and returns EAGAIN when the queue is empty. Like Linux's
// sock_dequeue_err_skb it sets SO_ERROR to the errno of the next entry if
// that is an ICMP error, clears it when the last ICMP error goes, and
// signals EventErr again while entries remain.
func (so *Socket) RecvErr() (zerocopy.Entry, error) {
	if so.closed.Load() {
		return zerocopy.Entry{}, unix.EBADF
	}
	e, ok := so.zc.ErrorQueue().Pop()
	if !ok {
		return zerocopy.Entry{}, unix.EAGAIN
	}
	return e, nil
}

// recvErrMsg is RecvMsg with MSG_ERRQUEUE (ip_recv_error).
func (so *Socket) recvErrMsg(bufs [][]byte, oob []byte) (int, int, int, netip.AddrPort, error) {
	e, err := so.RecvErr()
	if err != nil {
		return 0, 0, 0, netip.AddrPort{}, err
	}
	var m zerocopy.ErrMsg
	m.Build(so.family, &e)
	n, room := 0, int64(0)
	for _, b := range bufs {
		n += copy(b, m.Payload[n:])
		room += int64(len(b))
	}
	oobn, ctrunc := syscalls.PutCmsg(oob, m.Level, m.Type, m.Data)
	return n, oobn, int(m.Flags(room, ctrunc)), so.familyAddr(e.Dst), nil
}
