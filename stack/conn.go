package stack

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// family returns the socket domain for addr.
func family(addr netip.AddrPort) int {
	if addr.Addr().Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// opError wraps a socket error for the net interfaces: EAGAIN from a
// blocking socket means a deadline passed, EBADF that the socket was
// closed.
func opError(op, netw string, src, dst net.Addr, err error) error {
	if err == nil {
		return nil
	}
	switch err {
	case unix.EAGAIN:
		err = os.ErrDeadlineExceeded
	case unix.EBADF:
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: netw, Source: src, Addr: dst, Err: err}
}

// sockConn holds what Conn and UDPConn share: their socket and its
// deadlines.
type sockConn struct {
	so *Socket
}

// SetDeadline implements net.Conn.SetDeadline.
func (c sockConn) SetDeadline(t time.Time) error {
	c.so.SetReadDeadline(t)
	c.so.SetWriteDeadline(t)
	return nil
}

// SetReadDeadline implements net.Conn.SetReadDeadline.
func (c sockConn) SetReadDeadline(t time.Time) error {
	c.so.SetReadDeadline(t)
	return nil
}

// SetWriteDeadline implements net.Conn.SetWriteDeadline.
func (c sockConn) SetWriteDeadline(t time.Time) error {
	c.so.SetWriteDeadline(t)
	return nil
}

// Conn is a TCP connection as a net.Conn, like gonet.TCPConn. Socket gives
// the socket underneath for zerocopy sends and the error queue.
type Conn struct {
	sockConn
}

// DialTCP connects to raddr over a new TCP socket of the address's family.
// ctx bounds the connection attempt.
func (s *Stack) DialTCP(ctx context.Context, raddr netip.AddrPort) (*Conn, error) {
	so, err := s.NewSocket(family(raddr), unix.SOCK_STREAM, 0)
	if err != nil {
		return nil, opError("dial", "tcp", nil, net.TCPAddrFromAddrPort(raddr), err)
	}
	if d, ok := ctx.Deadline(); ok {
		so.SetWriteDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { so.SetWriteDeadline(time.Unix(1, 0)) })
	err = so.Connect(raddr)
	stop()
	if err != nil {
		so.Close()
		if err == unix.EINPROGRESS {
			err = ctx.Err()
			if err == nil {
				err = os.ErrDeadlineExceeded
			}
		}
		return nil, opError("dial", "tcp", nil, net.TCPAddrFromAddrPort(raddr), err)
	}
	so.SetWriteDeadline(time.Time{})
	return &Conn{sockConn{so}}, nil
}

// NewConn wraps a connected TCP socket.
func NewConn(so *Socket) *Conn { return &Conn{sockConn{so}} }

// Socket returns the connection's socket.
func (c *Conn) Socket() *Socket { return c.so }

// Read implements net.Conn.Read; it returns io.EOF at end of stream.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	bufs := [1][]byte{b}
	n, _, _, _, err := c.so.RecvMsg(bufs[:], nil, 0)
	if err != nil {
		return 0, opError("read", "tcp", c.LocalAddr(), c.RemoteAddr(), err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write implements net.Conn.Write.
func (c *Conn) Write(b []byte) (int, error) {
	return c.write(b, 0)
}

// WriteZerocopy writes b with MSG_ZEROCOPY: once SO_ZEROCOPY is on (see
// Socket.SetSockOptInt), the write takes the socket's next notification
// id and its completion is queued on the error queue.
func (c *Conn) WriteZerocopy(b []byte) (int, error) {
	return c.write(b, unix.MSG_ZEROCOPY)
}

func (c *Conn) write(b []byte, flags int) (int, error) {
	bufs := [1][]byte{b}
	n, _, err := c.so.SendMsg(bufs[:], nil, netip.AddrPort{}, flags|unix.MSG_NOSIGNAL)
	if err == nil && n < len(b) {
		err = unix.EAGAIN
	}
	return n, opError("write", "tcp", c.LocalAddr(), c.RemoteAddr(), err)
}

// Completions moves up to len(dst) zerocopy completions from the error
// queue into dst, oldest first, leaving other errors queued, and returns
// their number.
func (c *Conn) Completions(dst []zerocopy.Completion) int {
	return c.so.zc.ErrorQueue().Take(dst)
}

// Close implements net.Conn.Close.
func (c *Conn) Close() error {
	return opError("close", "tcp", c.LocalAddr(), c.RemoteAddr(), c.so.Close())
}

// CloseRead shuts down the reading side.
func (c *Conn) CloseRead() error {
	return opError("close", "tcp", c.LocalAddr(), c.RemoteAddr(), c.so.Shutdown(unix.SHUT_RD))
}

// CloseWrite shuts down the writing side.
func (c *Conn) CloseWrite() error {
	return opError("close", "tcp", c.LocalAddr(), c.RemoteAddr(), c.so.Shutdown(unix.SHUT_WR))
}

// LocalAddr implements net.Conn.LocalAddr.
func (c *Conn) LocalAddr() net.Addr {
	a, _ := c.so.LocalAddr()
	return net.TCPAddrFromAddrPort(a)
}

// RemoteAddr implements net.Conn.RemoteAddr.
func (c *Conn) RemoteAddr() net.Addr {
	a, err := c.so.RemoteAddr()
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(a)
}

// Listener is a TCP listener as a net.Listener, like gonet.TCPListener.
type Listener struct {
	so *Socket
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
		return nil, opError("listen", "tcp", nil, net.TCPAddrFromAddrPort(laddr), err)
	}
	return &Listener{so: so}, nil
}

// Socket returns the listening socket. SO_ZEROCOPY set on it passes to
// the connections it accepts, as in Linux.
func (l *Listener) Socket() *Socket { return l.so }

// Accept implements net.Listener.Accept.
func (l *Listener) Accept() (net.Conn, error) {
	return l.AcceptTCP()
}

// AcceptTCP accepts the next connection.
func (l *Listener) AcceptTCP() (*Conn, error) {
	so, _, err := l.so.Accept(0)
	if err != nil {
		if l.so.closed.Load() {
			err = unix.EBADF
		}
		return nil, opError("accept", "tcp", nil, l.Addr(), err)
	}
	return &Conn{sockConn{so}}, nil
}

// Close implements net.Listener.Close.
func (l *Listener) Close() error {
	return opError("close", "tcp", nil, l.Addr(), l.so.Close())
}

// Addr implements net.Listener.Addr.
func (l *Listener) Addr() net.Addr {
	a, _ := l.so.LocalAddr()
	return net.TCPAddrFromAddrPort(a)
}

// UDPConn is a UDP socket as a net.Conn (when connected) and a
// net.PacketConn, like gonet.UDPConn.
type UDPConn struct {
	sockConn
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
		return nil, opError("dial", "udp", nil, net.UDPAddrFromAddrPort(raddr), err)
	}
	return &UDPConn{sockConn{so}}, nil
}

// ListenUDP returns a UDP socket bound to laddr.
func (s *Stack) ListenUDP(laddr netip.AddrPort) (*UDPConn, error) {
	return s.DialUDP(laddr, netip.AddrPort{})
}

// Socket returns the connection's socket.
func (c *UDPConn) Socket() *Socket { return c.so }

// Read implements net.Conn.Read: it returns one datagram, truncated to b.
func (c *UDPConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromUDPAddrPort(b)
	return n, err
}

// ReadFrom implements net.PacketConn.ReadFrom.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// ReadFromUDPAddrPort reads one datagram and returns its sender.
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	bufs := [1][]byte{b}
	n, _, _, from, err := c.so.RecvMsg(bufs[:], nil, 0)
	if err != nil {
		return 0, netip.AddrPort{}, opError("read", "udp", c.LocalAddr(), nil, err)
	}
	return n, from, nil
}

// Write implements net.Conn.Write on a connected socket.
func (c *UDPConn) Write(b []byte) (int, error) {
	return c.WriteToUDPAddrPort(b, netip.AddrPort{})
}

// WriteTo implements net.PacketConn.WriteTo.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, opError("write", "udp", c.LocalAddr(), addr, unix.EINVAL)
	}
	return c.WriteToUDPAddrPort(b, ua.AddrPort())
}

// WriteToUDPAddrPort sends b as one datagram to addr, or to the connected
// peer if addr is invalid.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	bufs := [1][]byte{b}
	n, _, err := c.so.SendMsg(bufs[:], nil, addr, 0)
	var dst net.Addr
	if addr.IsValid() {
		dst = net.UDPAddrFromAddrPort(addr)
	}
	return n, opError("write", "udp", c.LocalAddr(), dst, err)
}

// Close implements net.Conn.Close.
func (c *UDPConn) Close() error {
	return opError("close", "udp", c.LocalAddr(), nil, c.so.Close())
}

// LocalAddr implements net.Conn.LocalAddr.
func (c *UDPConn) LocalAddr() net.Addr {
	a, _ := c.so.LocalAddr()
	return net.UDPAddrFromAddrPort(a)
}

// RemoteAddr implements net.Conn.RemoteAddr; nil if not connected.
func (c *UDPConn) RemoteAddr() net.Addr {
	a, err := c.so.RemoteAddr()
	if err != nil {
		return nil
	}
	return net.UDPAddrFromAddrPort(a)
}

var (
	_ net.Conn       = (*Conn)(nil)
	_ net.Listener   = (*Listener)(nil)
	_ net.Conn       = (*UDPConn)(nil)
	_ net.PacketConn = (*UDPConn)(nil)
)
