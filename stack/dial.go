package stack

import (
	"context"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Dial connects to address on the named network, as net.Dial: see
// DialContext.
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialContext connects to address on the named network, as
// net.Dialer.DialContext, whose signature it has: it plugs into
// http.Transport.DialContext and the like. The network is "tcp", "tcp4",
// "tcp6", "udp", "udp4" or "udp6"; the connection is a *Conn or a *UDPConn.
// The stack has no resolver: the address's host must be an IP address (an
// empty or unspecified one means the loopback address, as net.Dial's local
// system), its port a number or a service name.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	raddr, typ, err := dialAddr(ctx, network, address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: sockNetAddr(typ, raddr), Err: err}
	}
	if typ == unix.SOCK_STREAM {
		c, err := s.DialTCP(ctx, raddr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := s.DialUDP(netip.AddrPort{}, raddr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// dialAddr parses the address of a dial on network, as net.Dial does but
// with IP addresses only, and returns it with the socket type of network.
func dialAddr(ctx context.Context, network, address string) (netip.AddrPort, int, error) {
	var typ int
	var only4, only6 bool
	switch network {
	case "tcp", "tcp4", "tcp6":
		typ = unix.SOCK_STREAM
	case "udp", "udp4", "udp6":
		typ = unix.SOCK_DGRAM
	default:
		return netip.AddrPort{}, 0, net.UnknownNetworkError(network)
	}
	switch network[len(network)-1] {
	case '4':
		only4 = true
	case '6':
		only6 = true
	}
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, service)
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	ip := netip.IPv4Unspecified()
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, 0, &net.AddrError{Err: "not an IP address (the stack has no resolver)", Addr: host}
		}
	}
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified() && (only6 || ip.Is6() && !only4):
		ip = netip.IPv6Loopback()
	case ip.IsUnspecified():
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case only4 && !ip.Is4(), only6 && ip.Is4():
		// net's ipv4only and ipv6only filters (v4-mapped counts as IPv4).
		return netip.AddrPort{}, 0, &net.AddrError{Err: "no suitable address found", Addr: host}
	}
	return netip.AddrPortFrom(ip, uint16(port)), typ, nil
}

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
