package stack

import "net"

// Listener is a TCP listener as a net.Listener, like net.TCPListener and
// gonet.TCPListener.
type Listener struct {
	so *Socket
}

// Socket returns the listening socket. SO_ZEROCOPY set on it passes to
// the connections it accepts, as in Linux.
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
