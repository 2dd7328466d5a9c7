package zcsocket

import (
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

func TestProtocol(t *testing.T) {
	for _, tc := range []struct {
		family, stype, protocol int
		net                     tcpip.NetworkProtocolNumber
		trans                   tcpip.TransportProtocolNumber
		proto                   int
		err                     error
	}{
		{unix.AF_INET, unix.SOCK_STREAM, 0, ipv4.ProtocolNumber, tcp.ProtocolNumber, unix.IPPROTO_TCP, nil},
		{unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_TCP, ipv4.ProtocolNumber, tcp.ProtocolNumber, unix.IPPROTO_TCP, nil},
		{unix.AF_INET6, unix.SOCK_STREAM, 0, ipv6.ProtocolNumber, tcp.ProtocolNumber, unix.IPPROTO_TCP, nil},
		{unix.AF_INET, unix.SOCK_DGRAM, 0, ipv4.ProtocolNumber, udp.ProtocolNumber, unix.IPPROTO_UDP, nil},
		{unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_UDP, ipv6.ProtocolNumber, udp.ProtocolNumber, unix.IPPROTO_UDP, nil},
		{unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_UDP, 0, 0, 0, unix.EPROTONOSUPPORT},
		{unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP, 0, 0, 0, unix.EPROTONOSUPPORT},
		{unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_ICMPV6, 0, 0, 0, unix.EPROTONOSUPPORT},
		{unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP, 0, 0, 0, unix.ESOCKTNOSUPPORT},
		{unix.AF_INET, unix.SOCK_SEQPACKET, 0, 0, 0, 0, unix.ESOCKTNOSUPPORT},
		{unix.AF_UNIX, unix.SOCK_STREAM, 0, 0, 0, 0, unix.EAFNOSUPPORT},
		{unix.AF_PACKET, unix.SOCK_DGRAM, 0, 0, 0, 0, unix.EAFNOSUPPORT},
	} {
		n, tr, p, err := Protocol(tc.family, tc.stype, tc.protocol)
		if n != tc.net || tr != tc.trans || p != tc.proto || err != tc.err {
			t.Errorf("Protocol(%d, %d, %d) = %d, %d, %d, %v; want %d, %d, %d, %v",
				tc.family, tc.stype, tc.protocol, n, tr, p, err, tc.net, tc.trans, tc.proto, tc.err)
		}
	}
}
