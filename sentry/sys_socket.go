package sentry

import (
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket/netstack"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// sysSocket creates AF_INET/AF_INET6 TCP and UDP sockets of gVisor's netstack
// as zcSockets; everything else goes to gVisor.
func sysSocket(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		domain := int(args[0].Int())
		stype := args[1].Int()
		protocol := int(args[2].Int())
		netProto, transProto, ok := zcProtocols(domain, linux.SockType(stype&0xf), protocol)
		if !ok || stype&^(0xf|linux.SOCK_NONBLOCK|linux.SOCK_CLOEXEC) != 0 {
			return orig(t, sysno, args)
		}
		eps, ok := t.NetworkContext().(*netstack.Stack)
		if !ok {
			// No netstack (hostinet or no network): gVisor's own socket.
			return orig(t, sysno, args)
		}

		// As gVisor's netstack provider does.
		wq := &waiter.Queue{}
		ep, terr := eps.Stack.NewEndpoint(transProto, netProto, wq)
		if terr != nil {
			return 0, nil, syserr.TranslateNetstackError(terr).ToError()
		}
		ep.SetOwner(t)
		file, serr := newZCSocket(t, domain, linux.SockType(stype&0xf), int(transProto), wq, ep)
		if serr != nil {
			return 0, nil, serr.ToError()
		}
		defer file.DecRef(t)

		// As gVisor's socket(2) does.
		if err := file.SetStatusFlags(t, t.Credentials(), uint32(stype&linux.SOCK_NONBLOCK)); err != nil {
			return 0, nil, err
		}
		fd, err := t.NewFDFrom(0, file, kernel.FDFlags{CloseOnExec: stype&linux.SOCK_CLOEXEC != 0})
		if err != nil {
			return 0, nil, err
		}
		return uintptr(fd), nil, nil
	}
}

// zcProtocols reports whether a socket of this family, type and protocol is
// one that can use SO_ZEROCOPY (Linux sk_setsockopt: TCP, or UDP datagram
// sockets, of AF_INET or AF_INET6), and its netstack protocol numbers.
func zcProtocols(family int, stype linux.SockType, protocol int) (tcpip.NetworkProtocolNumber, tcpip.TransportProtocolNumber, bool) {
	var netProto tcpip.NetworkProtocolNumber
	switch family {
	case linux.AF_INET:
		netProto = ipv4.ProtocolNumber
	case linux.AF_INET6:
		netProto = ipv6.ProtocolNumber
	default:
		return 0, 0, false
	}
	switch {
	case stype == linux.SOCK_STREAM && (protocol == 0 || protocol == linux.IPPROTO_TCP):
		return netProto, tcp.ProtocolNumber, true
	case stype == linux.SOCK_DGRAM && (protocol == 0 || protocol == linux.IPPROTO_UDP):
		return netProto, udp.ProtocolNumber, true
	}
	return 0, 0, false
}
