package stack

import (
	"io"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Conn is a TCP connection as a net.Conn, like net.TCPConn and
// gonet.TCPConn. Socket gives the socket underneath for SendMsg with
// control messages and the error queue.
type Conn struct {
	sockConn
}

// NewConn wraps a connected TCP socket.
func NewConn(so *Socket) *Conn { return &Conn{sockConn{so}} }

// Read implements net.Conn.Read; it returns io.EOF at end of stream and
// net.ErrClosed once the connection is closed, also to a Read blocked at the
// time.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	bufs := [1][]byte{b}
	n, _, _, _, err := c.so.RecvMsg(bufs[:], nil, 0)
	if err != nil {
		return 0, c.opError("read", c.RemoteAddr(), err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write implements net.Conn.Write. A Write that stops part-way returns the
// count written and why: os.ErrDeadlineExceeded, net.ErrClosed, or the
// connection's error.
func (c *Conn) Write(b []byte) (int, error) {
	return c.send(b, netip.AddrPort{}, 0)
}

// WriteZerocopy writes b with MSG_ZEROCOPY: once SO_ZEROCOPY is on
// (SetZerocopy), the write takes the socket's next notification id and its
// completion is queued on the error queue (Completions, Socket.RecvErr).
// Without SO_ZEROCOPY it is a plain Write, as MSG_ZEROCOPY is on Linux
// (Socket.SendZerocopy fails instead). It returns as Write does.
func (c *Conn) WriteZerocopy(b []byte) (int, error) {
	return c.send(b, netip.AddrPort{}, unix.MSG_ZEROCOPY)
}

// CloseRead shuts down the reading side.
func (c *Conn) CloseRead() error {
	return c.wrap("close", c.so.Shutdown(unix.SHUT_RD))
}

// CloseWrite shuts down the writing side.
func (c *Conn) CloseWrite() error {
	return c.wrap("close", c.so.Shutdown(unix.SHUT_WR))
}

// SetNoDelay sets TCP_NODELAY, as net.TCPConn.SetNoDelay. Netstack's
// connections start with it set (no Nagle algorithm), as package net's do.
func (c *Conn) SetNoDelay(noDelay bool) error {
	return c.wrap("set", c.so.SetSockOptInt(unix.IPPROTO_TCP, unix.TCP_NODELAY, boolInt(noDelay)))
}

// SetKeepAlive sets SO_KEEPALIVE, as net.TCPConn.SetKeepAlive.
func (c *Conn) SetKeepAlive(keepalive bool) error {
	return c.wrap("set", c.so.SetSockOptInt(unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(keepalive)))
}

var _ net.Conn = (*Conn)(nil)
