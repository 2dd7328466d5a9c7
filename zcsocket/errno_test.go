package zcsocket

import (
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

func TestErrno(t *testing.T) {
	for _, tc := range []struct {
		err  tcpip.Error
		want unix.Errno
	}{
		{nil, 0},
		{&tcpip.ErrClosedForReceive{}, 0},
		{&tcpip.ErrWouldBlock{}, unix.EAGAIN},
		{&tcpip.ErrConnectionRefused{}, unix.ECONNREFUSED},
		{&tcpip.ErrClosedForSend{}, unix.EPIPE},
		{&tcpip.ErrMessageTooLong{}, unix.EMSGSIZE},
		{&tcpip.ErrDestinationRequired{}, unix.EDESTADDRREQ},
		{&tcpip.ErrPortInUse{}, unix.EADDRINUSE},
	} {
		if got := Errno(tc.err); got != tc.want {
			t.Errorf("Errno(%T) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestSockError: every errno an error-queue entry or a partial recvmmsg
// can carry comes back as itself in SO_ERROR.
func TestSockError(t *testing.T) {
	for _, errno := range []unix.Errno{
		unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.ENOPROTOOPT,
		unix.EOPNOTSUPP, unix.ENONET, unix.EHOSTDOWN, unix.EMSGSIZE, unix.EFAULT, unix.EINVAL,
	} {
		err, ok := sockError(uint32(errno))
		if !ok || Errno(err) != errno {
			t.Errorf("sockError(%v) = %v, %v: SO_ERROR would read %v", errno, err, ok, Errno(err))
		}
	}
	if err, ok := sockError(0); !ok || err != nil {
		t.Errorf("sockError(0) = %v, %v; want nil, true", err, ok)
	}
	if _, ok := sockError(uint32(unix.EPERM)); ok {
		t.Error("sockError(EPERM) found an error netstack never reports")
	}
}
