package stack

import (
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/zcstack/zcstack/zcsocket"
)

// sockAddr converts a netstack address to what the socket's family shows:
// the unspecified address of the family when there is none, and IPv4
// addresses v4-mapped on AF_INET6 sockets.
func (so *Socket) sockAddr(fa tcpip.FullAddress) netip.AddrPort {
	if fa.Addr.Len() == 0 {
		if so.family == unix.AF_INET {
			return netip.AddrPortFrom(netip.IPv4Unspecified(), fa.Port)
		}
		return netip.AddrPortFrom(netip.IPv6Unspecified(), fa.Port)
	}
	return so.familyAddr(zcsocket.AddrPort(fa))
}

// familyAddr shows an IPv4 address v4-mapped on an AF_INET6 socket.
func (so *Socket) familyAddr(a netip.AddrPort) netip.AddrPort {
	if so.family == unix.AF_INET6 && a.Addr().Is4() {
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
	}
	return a
}

// fullAddress converts addr to a netstack address for the socket's family:
// an AF_INET6 socket takes an IPv4 address as its v4-mapped form and an
// AF_INET socket refuses IPv6 addresses with EAFNOSUPPORT. The invalid
// AddrPort is the unspecified address with port 0.
func (so *Socket) fullAddress(addr netip.AddrPort) (tcpip.FullAddress, error) {
	a := addr.Addr()
	switch {
	case !addr.IsValid():
		return tcpip.FullAddress{}, nil
	case so.family == unix.AF_INET:
		if !a.Is4() && !a.Is4In6() {
			return tcpip.FullAddress{}, unix.EAFNOSUPPORT
		}
		a = a.Unmap()
	case a.Is4():
		a = netip.AddrFrom16(a.As16())
	}
	fa := tcpip.FullAddress{Port: addr.Port()}
	if !a.IsUnspecified() {
		fa.Addr = tcpipAddr(a)
	}
	return fa, nil
}

// errnoErr returns the errno of a netstack error as an error, nil for
// none.
func errnoErr(err tcpip.Error) error {
	if e := zcsocket.Errno(err); e != 0 {
		return e
	}
	return nil
}

// tcpipAddr converts an address to netstack's (without a slice, which
// would escape).
func tcpipAddr(a netip.Addr) tcpip.Address {
	if a.Is4() {
		return tcpip.AddrFrom4(a.As4())
	}
	return tcpip.AddrFrom16(a.As16())
}
