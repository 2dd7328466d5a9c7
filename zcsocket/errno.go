package zcsocket

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// Errno returns the errno Linux gives for the netstack error err, by
// gVisor's own table (pkg/syserr TranslateNetstackError, which the sentry
// uses for every socket call). It returns 0 for nil and for
// ErrClosedForReceive, which is end of file rather than an error.
func Errno(err tcpip.Error) unix.Errno {
	if err == nil {
		return 0
	}
	return unix.Errno(syserr.TranslateNetstackError(err).ToLinux())
}

// sockErrors are the netstack errors the socket error is set to when the
// error queue is read: those netstack's TCP and UDP endpoints queue for ICMP
// messages (HandleError) and local errors (QueueLocalErr), and those a
// recvmmsg(MSG_ERRQUEUE) that ends part-way leaves behind (EFAULT, EINVAL).
var sockErrors = []tcpip.Error{
	&tcpip.ErrConnectionRefused{},     // ECONNREFUSED: port unreachable
	&tcpip.ErrHostUnreachable{},       // EHOSTUNREACH
	&tcpip.ErrNetworkUnreachable{},    // ENETUNREACH
	&tcpip.ErrUnknownProtocolOption{}, // ENOPROTOOPT: protocol unreachable
	&tcpip.ErrNotSupported{},          // EOPNOTSUPP: source route failed
	&tcpip.ErrNoNet{},                 // ENONET: source host isolated
	&tcpip.ErrHostDown{},              // EHOSTDOWN
	&tcpip.ErrMessageTooLong{},        // EMSGSIZE
	&tcpip.ErrBadBuffer{},             // EFAULT
	&tcpip.ErrInvalidOptionValue{},    // EINVAL
}

// sockError returns the netstack error whose errno is errno, nil for 0.
// gVisor keeps the socket error as a netstack error, which it translates
// back for SO_ERROR and for the next call that reports it, so only the
// errnos of sockErrors keep their number; ok is false for others.
func sockError(errno uint32) (err tcpip.Error, ok bool) {
	if errno == 0 {
		return nil, true
	}
	for _, e := range sockErrors {
		if uint32(Errno(e)) == errno {
			return e, true
		}
	}
	return nil, false
}
