package sentry

import (
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/zcstack/zcstack/stack"
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
		zc.queue.Push(stack.EntryFromSockError(se))
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
	if next, ok := zc.queue.Peek(); ok && next.IsICMP() {
		if e, ok := stackError(next.Err.Errno); ok {
			so.SetLastError(e)
		}
	} else if head.IsICMP() {
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
