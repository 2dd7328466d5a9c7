package stack

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
