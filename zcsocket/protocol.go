package zcsocket

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// Protocol maps the arguments of socket(2) (type without SOCK_NONBLOCK and
// SOCK_CLOEXEC) to netstack's protocol numbers for the sockets that can use
// SO_ZEROCOPY (Linux sk_setsockopt: TCP, and UDP datagram sockets, of
// AF_INET or AF_INET6), and returns the protocol number the socket
// reports (SO_PROTOCOL). Other arguments fail with the errnos of Linux's
// __sock_create, inet_create and inet6_create: EAFNOSUPPORT for another
// family, EPROTONOSUPPORT for another protocol of a known type, and
// ESOCKTNOSUPPORT for another type.
func Protocol(family, stype, protocol int) (tcpip.NetworkProtocolNumber, tcpip.TransportProtocolNumber, int, error) {
	var netProto tcpip.NetworkProtocolNumber
	switch family {
	case unix.AF_INET:
		netProto = ipv4.ProtocolNumber
	case unix.AF_INET6:
		netProto = ipv6.ProtocolNumber
	default:
		return 0, 0, 0, unix.EAFNOSUPPORT
	}
	switch stype {
	case unix.SOCK_STREAM:
		if protocol != 0 && protocol != unix.IPPROTO_TCP {
			return 0, 0, 0, unix.EPROTONOSUPPORT
		}
		return netProto, tcp.ProtocolNumber, unix.IPPROTO_TCP, nil
	case unix.SOCK_DGRAM:
		if protocol != 0 && protocol != unix.IPPROTO_UDP {
			return 0, 0, 0, unix.EPROTONOSUPPORT
		}
		return netProto, udp.ProtocolNumber, unix.IPPROTO_UDP, nil
	default:
		return 0, 0, 0, unix.ESOCKTNOSUPPORT
	}
}
