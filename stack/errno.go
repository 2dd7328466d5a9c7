package stack

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// Errno returns the errno Linux gives for the netstack error err, by
// gVisor's own table (pkg/syserr TranslateNetstackError, which the sentry
// uses too). It returns 0 for nil and for ErrClosedForReceive, which is end
// of file rather than an error.
func Errno(err tcpip.Error) unix.Errno {
	if err == nil {
		return 0
	}
	return unix.Errno(syserr.TranslateNetstackError(err).ToLinux())
}

// errnoErr returns Errno(err) as an error, nil for 0.
func errnoErr(err tcpip.Error) error {
	if e := Errno(err); e != 0 {
		return e
	}
	return nil
}
