package sentry

import (
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/zcstack/zcstack/zerocopy"
)

// drainStackErrors moves the errors that gVisor's endpoint queued (ICMP and
// local errors, with IP_RECVERR or IPV6_RECVERR on) to the socket's own error
// queue, behind what is there. The socket's queue is the only one read once
// the zerocopy state exists, so draining before each completion and before
// each read keeps every entry in the order it arrived.
func (s *zcSocket) drainStackErrors(zc *zcState) {
	so := s.ep.SocketOptions()
	for {
		se := so.DequeueErr()
		if se == nil {
			return
		}
		zc.queue.Push(entryOf(se))
		if se.Payload != nil {
			se.Payload.Release()
		}
	}
}

// dequeueErr runs recv, which takes entries from the head of the socket's
// error queue, after moving gVisor's errors there, and then sets the socket
// error as Linux's sock_dequeue_err_skb does: to the next entry's if that is
// an ICMP error, else cleared if an ICMP error left the queue.
func (s *zcSocket) dequeueErr(zc *zcState, recv func() error) error {
	s.drainStackErrors(zc)
	head, _ := zc.queue.Peek()
	if err := recv(); err != nil {
		return err
	}
	so := s.ep.SocketOptions()
	if next, ok := zc.queue.Peek(); ok && isICMP(next) {
		if e, ok := stackError(next.Err.Errno); ok {
			so.SetLastError(e)
		}
	} else if isICMP(head) {
		so.SetLastError(nil)
	}
	return nil
}

// stackErrors are the errors the socket error is set to: those gVisor's TCP
// and UDP endpoints report for ICMP messages (HandleError), and those
// recvmmsg(MSG_ERRQUEUE) can leave behind after a partial batch.
var stackErrors = []tcpip.Error{
	&tcpip.ErrConnectionRefused{},
	&tcpip.ErrHostUnreachable{},
	&tcpip.ErrNetworkUnreachable{},
	&tcpip.ErrBadBuffer{},
	&tcpip.ErrInvalidOptionValue{},
	&tcpip.ErrMessageTooLong{},
}

// stackError returns the error of stackErrors whose errno is errno.
func stackError(errno uint32) (tcpip.Error, bool) {
	for _, e := range stackErrors {
		if uint32(syserr.TranslateNetstackError(e).ToLinux()) == errno {
			return e, true
		}
	}
	return nil, false
}

// isICMP reports whether e is an ICMP error (Linux is_icmp_err_skb).
func isICMP(e zerocopy.Entry) bool {
	return e.Err.Origin == unix.SO_EE_ORIGIN_ICMP || e.Err.Origin == unix.SO_EE_ORIGIN_ICMP6
}

// entryOf converts an error of gVisor's endpoint error queue as gVisor's own
// recvmsg(MSG_ERRQUEUE) does (pkg/sentry/socket: sockErrCmsgToLinux).
func entryOf(se *tcpip.SockError) zerocopy.Entry {
	e := zerocopy.Entry{
		Err: unix.SockExtendedErr{
			Errno:  uint32(syserr.TranslateNetstackError(se.Err).ToLinux()),
			Origin: originToLinux(se.Cause.Origin()),
			Type:   se.Cause.Type(),
			Code:   se.Cause.Code(),
			Info:   se.Cause.Info(),
		},
	}
	if a, ok := netip.AddrFromSlice(se.Offender.Addr.AsSlice()); ok {
		e.Offender = a
	}
	if a, ok := netip.AddrFromSlice(se.Dst.Addr.AsSlice()); ok {
		e.Dst = netip.AddrPortFrom(a, se.Dst.Port)
	}
	if se.Payload != nil {
		e.Payload = append([]byte(nil), se.Payload.AsSlice()...)
	}
	return e
}

// originToLinux maps gVisor's error origins to SO_EE_ORIGIN_*.
func originToLinux(o tcpip.SockErrOrigin) uint8 {
	switch o {
	case tcpip.SockExtErrorOriginLocal:
		return linux.SO_EE_ORIGIN_LOCAL
	case tcpip.SockExtErrorOriginICMP:
		return linux.SO_EE_ORIGIN_ICMP
	case tcpip.SockExtErrorOriginICMP6:
		return linux.SO_EE_ORIGIN_ICMP6
	default:
		return linux.SO_EE_ORIGIN_NONE
	}
}
