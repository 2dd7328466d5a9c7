package stack

import (
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zerocopy"
)

// udpMaxLen is the largest UDP payload udp_sendmsg looks at before it builds
// the datagram: longer sends are EMSGSIZE before control messages are read.
const udpMaxLen = 0xffff

// SendMsg sends the concatenation of bufs, as sendmsg(2), and returns how
// many bytes it sent and the new length of oob (msg_controllen).
//
// to is the destination of a UDP datagram; the invalid AddrPort means the
// connected peer. flags are Linux MSG_* flags: MSG_DONTWAIT, MSG_ZEROCOPY
// (numbered only while SO_ZEROCOPY is on, as in Linux), MSG_MORE,
// MSG_NOSIGNAL, MSG_EOR; MSG_OOB is EOPNOTSUPP. A stream send that stops
// part-way returns its count and no error, as sendmsg(2); the next call
// reports why.
//
// oob is a Linux control buffer (see parseSendControl). Each
// SOL_SOCKET/SCM_ZC_NOTIFICATION message in it (AppendZCNotification)
// takes up to zc_info.size completions before the data is sent; if the send
// succeeds they are written back into oob in place as the series'
// sendmsg_copy_cmsg_to_user does (syscalls.CopyBack: the messages moved to
// the front, oobn their length; ZCNotifications reads them), and if it
// fails they go back to the front of the error queue and oob is unchanged.
func (so *Socket) SendMsg(bufs [][]byte, oob []byte, to netip.AddrPort, flags int) (n, oobn int, err error) {
	oobn = len(oob)
	tx := zerocopy.NewNotify(so.zc.ErrorQueue(), so.zc.ZerocopyEnabled())
	n, err = so.sendmsg(bufs, oob, &tx, to, flags, func(int) error {
		if tx.Messages() > 0 {
			oobn = syscalls.CopyBack(oob)
		}
		return nil
	})
	if n > 0 {
		// sendmsg(2) returns the count of a stream send that stopped
		// part-way.
		err = nil
	}
	if err != nil {
		return n, len(oob), err
	}
	return n, oobn, nil
}

// SendZerocopy sends b with MSG_ZEROCOPY to the connected peer and, like a
// sendmsg with an SCM_ZC_NOTIFICATION control message, first takes up to
// len(notify) completions into notify and returns their number k (never
// this send's own). It needs SO_ZEROCOPY (else EINVAL; a MSG_ZEROCOPY
// SendMsg is a plain send then, as in Linux). If the send fails the
// completions stay queued and k is 0. An empty b fetches completions; on
// UDP it sends an empty datagram, which takes an id.
func (so *Socket) SendZerocopy(b []byte, notify []zerocopy.Completion) (n, k int, err error) {
	return so.SendZerocopyTo(b, notify, netip.AddrPort{})
}

// SendZerocopyTo is SendZerocopy to the destination to of a UDP datagram;
// the invalid AddrPort means the connected peer.
func (so *Socket) SendZerocopyTo(b []byte, notify []zerocopy.Completion, to netip.AddrPort) (n, k int, err error) {
	tx := zerocopy.NewNotify(so.zc.ErrorQueue(), so.zc.ZerocopyEnabled())
	if err := tx.Want(len(notify)); err != nil {
		return 0, 0, err
	}
	bufs := [1][]byte{b}
	n, err = so.sendmsg(bufs[:], nil, &tx, to, unix.MSG_ZEROCOPY, func(int) error {
		k = copy(notify, tx.Taken())
		return nil
	})
	if n == 0 && err != nil {
		return 0, 0, err
	}
	return n, k, nil
}

// sendmsg runs one send call with the notification tx, whose
// SCM_ZC_NOTIFICATION messages are those of oob (parseSendControl), and
// finish, which hands its completions to the caller (zerocopy.Notify.Send).
// It returns the bytes sent and the error that ended the call, both when a
// stream send stops part-way. Once the socket is closed every error is
// EBADF: a call that Close wakes fails as the calls after it do, not with
// what the closed endpoint reports (EPIPE).
func (so *Socket) sendmsg(bufs [][]byte, oob []byte, tx *zerocopy.Notify, to netip.AddrPort, flags int, finish func(int) error) (n int, err error) {
	if so.closed.Load() {
		return 0, unix.EBADF
	}
	defer func() {
		if err != nil && so.closed.Load() {
			err = unix.EBADF
		}
	}()
	call := sendCalls.Get().(*sendCall)
	defer call.release()
	call.r.reset(bufs)
	length := call.r.Len()
	if so.stype == unix.SOCK_DGRAM && length > udpMaxLen {
		return 0, unix.EMSGSIZE
	}
	if flags&unix.MSG_OOB != 0 {
		// UDP has no out-of-band data; netstack's TCP sends no urgent
		// data.
		return 0, unix.EOPNOTSUPP
	}
	call.opts.More = flags&unix.MSG_MORE != 0
	// The checks Linux makes before it reads control messages.
	if so.stype == unix.SOCK_STREAM {
		err = so.tcpSendCheck(flags)
	} else {
		err = so.udpSendCheck(to, call, len(oob) > 0)
	}
	if err != nil {
		return 0, err
	}
	if oob != nil {
		if err := parseSendControl(oob, so.stype, so.family, tx); err != nil {
			return 0, err
		}
	}
	return tx.Send(func() (int, error) {
		n, err := so.zc.Send(flags&unix.MSG_ZEROCOPY != 0, int64(length), func() (int, error) {
			return so.write(call, flags)
		})
		if err == unix.ENOBUFS && so.stype == unix.SOCK_DGRAM && len(oob) == 0 {
			// Linux routes a datagram before a MSG_ZEROCOPY send is
			// refused for want of option memory: an error of the
			// route wins.
			if perr := so.preflight(call); perr != nil {
				err = perr
			}
		}
		return n, err
	}, finish)
}

// tcpSendCheck makes the checks of tcp_sendmsg_locked that come before
// control messages: a socket that is not connected fails with its pending
// error or EPIPE, and one that is connecting waits for the connection (EAGAIN
// if it may not block), as sk_stream_wait_connect does.
func (so *Socket) tcpSendCheck(flags int) error {
	b := blocker{so: so, mask: waiter.WritableEvents, flags: flags, dl: &so.writeDeadline}
	defer b.done()
	for {
		switch tcp.EndpointState(so.ep.State()) {
		case tcp.StateEstablished, tcp.StateCloseWait:
			return nil
		case tcp.StateSynSent, tcp.StateSynRecv, tcp.StateConnecting:
			if err := b.wait(); err != nil {
				return err
			}
			continue
		}
		if err := errnoErr(so.ep.LastError()); err != nil {
			return err
		}
		return unix.EPIPE
	}
}

// udpSendCheck makes the checks of udp_sendmsg that come before control
// messages, after the length, and sets call.opts.To: the address family
// (EAFNOSUPPORT) and, for a send with control messages, netstack's checks
// of the destination (EDESTADDRREQ, EINVAL for port 0) and, unlike Linux,
// which checks it after the control messages, of the route (preflight).
// Other sends leave those checks to the write, which makes them anyway:
// running them twice costs a route lookup per datagram.
func (so *Socket) udpSendCheck(to netip.AddrPort, call *sendCall, control bool) error {
	if to.IsValid() {
		fa, err := so.fullAddress(to)
		if err != nil {
			return err
		}
		call.to = fa
		call.opts.To = &call.to
	}
	if control {
		return so.preflight(call)
	}
	return nil
}

// preflight makes netstack's checks of a datagram's destination and route
// without sending it (Preflight).
func (so *Socket) preflight(call *sendCall) error {
	if pf, ok := so.ep.(tcpip.EndpointWithPreflight); ok {
		return errnoErr(pf.Preflight(call.opts))
	}
	return nil
}

// sendCall is what netstack holds pointers to during one send: the payload
// reader, and the destination that the write options point to. sendCalls
// reuses them, so that a send does not allocate.
type sendCall struct {
	r    iovecReader
	opts tcpip.WriteOptions
	to   tcpip.FullAddress
}

var sendCalls = sync.Pool{New: func() any { return new(sendCall) }}

// release drops the references to the caller's buffers and returns c to
// sendCalls.
func (c *sendCall) release() {
	c.r.release()
	c.opts, c.to = tcpip.WriteOptions{}, tcpip.FullAddress{}
	sendCalls.Put(c)
}

// write writes call's payload to the endpoint, waiting for room as a
// blocking socket does unless the socket is non-blocking or flags hold
// MSG_DONTWAIT. It returns the bytes written and, if a stream's payload was
// not all written, why. No lock is held while it waits: as in Linux, whose
// sk_stream_wait_memory releases the socket lock, a stream's concurrent
// writes may interleave where one waits.
func (so *Socket) write(call *sendCall, flags int) (int, error) {
	r := &call.r
	if so.stype == unix.SOCK_STREAM && r.Len() == 0 {
		// tcp_sendmsg_locked sends nothing and returns 0.
		return 0, nil
	}
	b := blocker{so: so, mask: waiter.WritableEvents, flags: flags, dl: &so.writeDeadline}
	defer b.done()
	total := 0
	for {
		n, terr := so.ep.Write(r, call.opts)
		total += int(n)
		err := errnoErr(terr)
		if err == nil && (r.Len() == 0 || so.stype == unix.SOCK_DGRAM) {
			return total, nil
		}
		if err == unix.EAGAIN {
			err = b.wait()
		}
		if err != nil {
			return total, err
		}
	}
}
