package stack

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Listener is a TCP listener as a net.Listener, like net.TCPListener and
// gonet.TCPListener.
type Listener struct {
	so *Socket
}

// NewListener wraps a listening TCP socket.
func NewListener(so *Socket) *Listener { return &Listener{so: so} }

// Socket returns the listening socket.
func (l *Listener) Socket() *Socket { return l.so }

// Accept implements net.Listener.Accept.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptTCP accepts the next connection. It returns os.ErrDeadlineExceeded
// once the deadline has passed and net.ErrClosed once the listener is
// closed, also to an AcceptTCP blocked at the time (gonet's returns
// netstack's "endpoint is in invalid state").
func (l *Listener) AcceptTCP() (*Conn, error) {
	so, _, err := l.so.Accept(0)
	if err != nil {
		return nil, l.opError("accept", err)
	}
	return NewConn(so), nil
}

// SetDeadline sets the deadline of Accept, as net.TCPListener.SetDeadline.
// The zero time means none.
func (l *Listener) SetDeadline(t time.Time) error {
	l.so.SetReadDeadline(t)
	return nil
}

// SetZerocopy sets SO_ZEROCOPY, which the connections the listener accepts
// take from it, as on Linux.
func (l *Listener) SetZerocopy(on bool) error {
	if err := l.so.SetSockOptInt(unix.SOL_SOCKET, unix.SO_ZEROCOPY, boolInt(on)); err != nil {
		return l.opError("set", err)
	}
	return nil
}

// Close implements net.Listener.Close.
func (l *Listener) Close() error {
	if err := l.so.Close(); err != nil {
		return l.opError("close", err)
	}
	return nil
}

// Addr implements net.Listener.Addr.
func (l *Listener) Addr() net.Addr {
	a, _ := l.so.LocalAddr()
	return net.TCPAddrFromAddrPort(a)
}

// opError reports err as package net does (netError).
func (l *Listener) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: l.Addr(), Err: netError(err)}
}

var _ net.Listener = (*Listener)(nil)
