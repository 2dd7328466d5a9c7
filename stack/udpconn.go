package stack

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// UDPConn is a UDP socket as a net.Conn (when connected) and a
// net.PacketConn, like net.UDPConn and gonet.UDPConn.
type UDPConn struct {
	sockConn
}

// NewUDPConn wraps a UDP socket.
func NewUDPConn(so *Socket) *UDPConn { return &UDPConn{sockConn{so}} }

// Read implements net.Conn.Read: it returns one datagram, truncated to b.
func (c *UDPConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromUDPAddrPort(b)
	return n, err
}

// ReadFrom implements net.PacketConn.ReadFrom. The address it returns is
// allocated; ReadFromUDPAddrPort does not allocate.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// ReadFromUDPAddrPort reads one datagram, truncated to b, and returns its
// sender. Once the connection is closed it returns net.ErrClosed, also to a
// read blocked at the time.
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	bufs := [1][]byte{b}
	n, _, _, from, err := c.so.RecvMsg(bufs[:], nil, 0)
	if err != nil {
		return 0, netip.AddrPort{}, c.opError("read", c.RemoteAddr(), err)
	}
	return n, from, nil
}

// Write implements net.Conn.Write on a connected socket.
func (c *UDPConn) Write(b []byte) (int, error) {
	return c.send(b, netip.AddrPort{}, 0)
}

// WriteTo implements net.PacketConn.WriteTo: addr must be a *net.UDPAddr.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return c.writeTo(b, addr, 0)
}

// WriteToUDPAddrPort sends b as one datagram to addr, or to the connected
// peer if addr is invalid.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.send(b, addr, 0)
}

// WriteZerocopy is Write with MSG_ZEROCOPY: once SO_ZEROCOPY is on
// (SetZerocopy), the datagram takes the socket's next notification id and
// its completion is queued on the error queue (Completions,
// Socket.RecvErr). Without SO_ZEROCOPY it is a plain Write, as on Linux.
func (c *UDPConn) WriteZerocopy(b []byte) (int, error) {
	return c.send(b, netip.AddrPort{}, unix.MSG_ZEROCOPY)
}

// WriteToZerocopy is WriteTo with MSG_ZEROCOPY, as WriteZerocopy is Write.
func (c *UDPConn) WriteToZerocopy(b []byte, addr net.Addr) (int, error) {
	return c.writeTo(b, addr, unix.MSG_ZEROCOPY)
}

// writeTo sends b to addr, a *net.UDPAddr, with the MSG_* flags.
func (c *UDPConn) writeTo(b []byte, addr net.Addr, flags int) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.opError("write", addr, unix.EINVAL)
	}
	return c.send(b, ua.AddrPort(), flags)
}

var (
	_ net.Conn       = (*UDPConn)(nil)
	_ net.PacketConn = (*UDPConn)(nil)
)
