package stack

import (
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zerocopy"
)

// EntryFromSockError converts an entry of netstack's error queue to the
// entry Linux's recvmsg(MSG_ERRQUEUE) returns for it. It copies the payload
// and does not release it.
func EntryFromSockError(se *tcpip.SockError) zerocopy.Entry {
	e := zerocopy.Entry{
		Err: unix.SockExtendedErr{
			Errno:  uint32(Errno(se.Err)),
			Origin: originToLinux(se.Cause.Origin()),
			Type:   se.Cause.Type(),
			Code:   se.Cause.Code(),
			Info:   se.Cause.Info(),
		},
		Dst: addrPort(se.Dst),
	}
	if se.Offender.Addr.Len() != 0 {
		e.Offender, _ = netip.AddrFromSlice(se.Offender.Addr.AsSlice())
	}
	if se.Payload != nil {
		e.Payload = append([]byte(nil), se.Payload.AsSlice()...)
	}
	return e
}

// originToLinux converts a netstack error origin to SO_EE_ORIGIN_*.
func originToLinux(o tcpip.SockErrOrigin) uint8 {
	switch o {
	case tcpip.SockExtErrorOriginLocal:
		return unix.SO_EE_ORIGIN_LOCAL
	case tcpip.SockExtErrorOriginICMP:
		return unix.SO_EE_ORIGIN_ICMP
	case tcpip.SockExtErrorOriginICMP6:
		return unix.SO_EE_ORIGIN_ICMP6
	default:
		return unix.SO_EE_ORIGIN_NONE
	}
}

// drainErrors moves the errors netstack has queued (IP_RECVERR,
// IPV6_RECVERR) to the socket's error queue, in order. It runs before every
// read of the error queue and every readiness check, before and after every
// send, and whenever netstack signals EventErr, so that netstack's errors and
// zerocopy completions share one queue in the order they happened.
//
// While a send call is in progress it does nothing: the send drains when
// it returns, after queuing its completion, so that the errors it causes
// (on loopback netstack delivers an ICMP error before Write returns) come
// after its completion, as on Linux.
func (so *Socket) drainErrors() {
	if so.sending.Load() != 0 {
		return
	}
	sops := so.ep.SocketOptions()
	if sops.PeekErr() == nil {
		return
	}
	so.drainMu.Lock()
	defer so.drainMu.Unlock()
	for {
		se := sops.DequeueErr()
		if se == nil {
			return
		}
		e := EntryFromSockError(se)
		if se.Payload != nil {
			se.Payload.Release()
		}
		so.errq.Push(e)
	}
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
	so.drainErrors()
	e, ok := so.errq.Pop()
	if !ok {
		return zerocopy.Entry{}, unix.EAGAIN
	}
	next, more := so.errq.Peek()
	switch {
	case more && next.IsICMP():
		so.ep.SocketOptions().SetLastError(tcpip.TranslateErrno(unix.Errno(next.Err.Errno)))
	case e.IsICMP():
		so.ep.SocketOptions().SetLastError(nil)
	}
	if more {
		so.queue.Notify(waiter.EventErr)
	}
	return e, nil
}
