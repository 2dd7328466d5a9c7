package stack

import (
	"context"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// DialTCP connects to raddr over a new TCP socket of the address's family.
// ctx bounds the connection attempt: as with net.Dialer, a ctx done while
// the dial runs fails it with ctx's error, even if the connection was made.
func (s *Stack) DialTCP(ctx context.Context, raddr netip.AddrPort) (*Conn, error) {
	so, err := s.NewSocket(family(raddr), unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, dialError(unix.SOCK_STREAM, raddr, err)
	}
	if d, ok := ctx.Deadline(); ok {
		so.SetWriteDeadline(d)
	}
	// Interrupt the connection when ctx is done by moving its deadline to
	// the past, as net's connect does.
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		so.SetWriteDeadline(time.Unix(1, 0))
		close(interrupted)
	})
	err = so.Connect(raddr)
	if !stop() {
		// The interruption ran or is running, possibly after the
		// connection was made: its deadline would make every write
		// fail (Go issue 16523).
		<-interrupted
		if err == nil || err == unix.EINPROGRESS {
			err = ctx.Err()
		}
	}
	if err == unix.EINPROGRESS {
		// ctx's deadline passed before ctx reported it.
		err = context.DeadlineExceeded
	}
	if err != nil {
		so.Close()
		return nil, dialError(unix.SOCK_STREAM, raddr, err)
	}
	so.SetWriteDeadline(time.Time{})
	return NewConn(so), nil
}

// DialUDP returns a UDP socket bound to laddr (any address if invalid) and
// connected to raddr (unconnected if invalid). At least one must be valid.
func (s *Stack) DialUDP(laddr, raddr netip.AddrPort) (*UDPConn, error) {
	fam := family(raddr)
	if !raddr.IsValid() {
		fam = family(laddr)
	}
	so, err := s.NewSocket(fam, unix.SOCK_DGRAM, 0)
	if err == nil && laddr.IsValid() {
		err = so.Bind(laddr)
	}
	if err == nil && raddr.IsValid() {
		err = so.Connect(raddr)
	}
	if err != nil {
		if so != nil {
			so.Close()
		}
		return nil, dialError(unix.SOCK_DGRAM, raddr, err)
	}
	return NewUDPConn(so), nil
}

// ListenUDP returns a UDP socket bound to laddr.
func (s *Stack) ListenUDP(laddr netip.AddrPort) (*UDPConn, error) {
	return s.DialUDP(laddr, netip.AddrPort{})
}

// ListenTCP listens on laddr with SO_REUSEADDR, as net.Listen does.
func (s *Stack) ListenTCP(laddr netip.AddrPort) (*Listener, error) {
	so, err := s.NewSocket(family(laddr), unix.SOCK_STREAM, 0)
	if err == nil {
		err = so.SetSockOptInt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err == nil {
			err = so.Bind(laddr)
		}
		if err == nil {
			err = so.Listen(unix.SOMAXCONN)
		}
		if err != nil {
			so.Close()
		}
	}
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: net.TCPAddrFromAddrPort(laddr), Err: netError(err)}
	}
	return NewListener(so), nil
}

// dialError reports the failure of a dial of a socket of type typ to raddr.
func dialError(typ int, raddr netip.AddrPort, err error) error {
	return &net.OpError{Op: "dial", Net: netName(typ), Addr: sockNetAddr(typ, raddr), Err: netError(err)}
}

// family returns the socket domain for addr.
func family(addr netip.AddrPort) int {
	if addr.Addr().Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}
