package stack

import (
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// sockConn is what Conn and UDPConn share: the socket under them and the
// net.Conn methods that do not depend on the protocol.
type sockConn struct {
	so *Socket
}

// Socket returns the socket under the connection, for what the wrapper does
// not cover: SendMsg with control messages, RecvErr, other options.
func (c *sockConn) Socket() *Socket { return c.so }

// SetDeadline implements net.Conn.SetDeadline.
func (c *sockConn) SetDeadline(t time.Time) error {
	c.so.SetReadDeadline(t)
	c.so.SetWriteDeadline(t)
	return nil
}

// SetReadDeadline implements net.Conn.SetReadDeadline.
func (c *sockConn) SetReadDeadline(t time.Time) error {
	c.so.SetReadDeadline(t)
	return nil
}

// SetWriteDeadline implements net.Conn.SetWriteDeadline.
func (c *sockConn) SetWriteDeadline(t time.Time) error {
	c.so.SetWriteDeadline(t)
	return nil
}

// Close implements net.Conn.Close. Reads and writes blocked in the
// connection return net.ErrClosed, as package net's do (gonet's reads
// return io.EOF and its writes netstack's "endpoint is closed for send").
func (c *sockConn) Close() error {
	return c.wrap("close", c.so.Close())
}

// LocalAddr implements net.Conn.LocalAddr: a *net.TCPAddr or *net.UDPAddr.
func (c *sockConn) LocalAddr() net.Addr {
	a, _ := c.so.LocalAddr()
	return sockNetAddr(c.so.stype, a)
}

// RemoteAddr implements net.Conn.RemoteAddr: a *net.TCPAddr or
// *net.UDPAddr, nil if the socket is not connected.
func (c *sockConn) RemoteAddr() net.Addr {
	a, err := c.so.RemoteAddr()
	if err != nil {
		return nil
	}
	return sockNetAddr(c.so.stype, a)
}

// SetZerocopy sets SO_ZEROCOPY, which makes WriteZerocopy take
// notification ids and queue completions (Completions, Socket.RecvErr).
func (c *sockConn) SetZerocopy(on bool) error {
	return c.wrap("set", c.so.SetSockOptInt(unix.SOL_SOCKET, unix.SO_ZEROCOPY, boolInt(on)))
}

// Completions moves up to len(dst) zerocopy completions from the error
// queue into dst, oldest first, leaving other errors queued, and returns
// their number. It never blocks.
func (c *sockConn) Completions(dst []zerocopy.Completion) int {
	return c.so.zc.ErrorQueue().Take(dst)
}

// send sends b to the destination to (the connected peer if invalid) with
// the MSG_* flags. Unlike SendMsg it returns, with the count of a stream
// write that stopped part-way, the error that stopped it, as io.Writer
// must.
func (c *sockConn) send(b []byte, to netip.AddrPort, flags int) (int, error) {
	bufs := [1][]byte{b}
	tx := zerocopy.NewNotify(nil, false)
	n, err := c.so.sendmsg(bufs[:], nil, &tx, to, flags, nil)
	if err != nil {
		dst := c.RemoteAddr()
		if to.IsValid() {
			dst = sockNetAddr(c.so.stype, to)
		}
		return n, c.opError("write", dst, err)
	}
	return n, nil
}

// wrap returns nil for a nil err, else opError's error for the connected
// peer.
func (c *sockConn) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return c.opError(op, c.RemoteAddr(), err)
}

// opError reports the error err of the operation op with the remote address
// dst as package net does: see netError. Callers build it only on error, so
// that calls that succeed do not allocate.
func (c *sockConn) opError(op string, dst net.Addr, err error) error {
	return &net.OpError{Op: op, Net: netName(c.so.stype), Source: c.LocalAddr(), Addr: dst, Err: netError(err)}
}

// netName is package net's name of the network of sockets of type typ.
func netName(typ int) string {
	if typ == unix.SOCK_STREAM {
		return "tcp"
	}
	return "udp"
}

// sockNetAddr returns a as package net's address for sockets of type typ:
// a *net.TCPAddr or *net.UDPAddr, nil if a is invalid.
func sockNetAddr(typ int, a netip.AddrPort) net.Addr {
	switch {
	case !a.IsValid():
		return nil
	case typ == unix.SOCK_STREAM:
		return net.TCPAddrFromAddrPort(a)
	}
	return net.UDPAddrFromAddrPort(a)
}

// netError translates a socket error to package net's: EAGAIN from a
// blocking call is a deadline that passed (os.ErrDeadlineExceeded) and
// EBADF a closed socket (net.ErrClosed). Other errors stay unix.Errno
// values, which errors.Is matches.
func netError(err error) error {
	switch err {
	case unix.EAGAIN:
		return os.ErrDeadlineExceeded
	case unix.EBADF:
		return net.ErrClosed
	}
	return err
}
