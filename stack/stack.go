package stack

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	tcpipstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/zcstack/zcstack/zerocopy"
)

// LoopbackNIC is the id of the loopback NIC that New creates.
const LoopbackNIC tcpip.NICID = 1

// Options configures New.
type Options struct {
	// ErrorQueueLimit is the number of error-queue entries per socket past
	// which MSG_ZEROCOPY sends fail with ENOBUFS
	// (zerocopy.DefaultQueueLimit if 0).
	ErrorQueueLimit int
	// NoLoopback leaves out the loopback NIC, for callers that add their
	// own NICs with AddNIC.
	NoLoopback bool
}

// Stack is a gVisor netstack with IPv4, IPv6, TCP, UDP and ICMP, by default
// with a loopback NIC that holds 127.0.0.1/8 and ::1/128.
type Stack struct {
	ns    *tcpipstack.Stack
	opts  Options
	stats zerocopy.Stats
}

// New returns a running stack. Close releases it.
func New(opts Options) (*Stack, error) {
	ns := tcpipstack.New(tcpipstack.Options{
		NetworkProtocols:   []tcpipstack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []tcpipstack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		HandleLocal:        true,
	})
	s := &Stack{ns: ns, opts: opts}
	if !opts.NoLoopback {
		err := s.AddNIC(LoopbackNIC, loopback.New(),
			netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128"))
		if err != nil {
			ns.Destroy()
			return nil, err
		}
	}
	return s, nil
}

// AddNIC creates NIC id over the link endpoint ep, assigns it the addresses
// of prefixes and routes each prefix's subnet through it.
func (s *Stack) AddNIC(id tcpip.NICID, ep tcpipstack.LinkEndpoint, prefixes ...netip.Prefix) error {
	if err := s.ns.CreateNIC(id, ep); err != nil {
		return errnoErr(err)
	}
	for _, p := range prefixes {
		proto := ipv4.ProtocolNumber
		if !p.Addr().Is4() {
			proto = ipv6.ProtocolNumber
		}
		awp := tcpip.AddressWithPrefix{Address: tcpipAddr(p.Addr()), PrefixLen: p.Bits()}
		pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: awp}
		if err := s.ns.AddProtocolAddress(id, pa, tcpipstack.AddressProperties{}); err != nil {
			return errnoErr(err)
		}
		s.ns.AddRoute(tcpip.Route{Destination: awp.Subnet(), NIC: id})
	}
	return nil
}

// Stats returns the zerocopy counters of the stack's sockets.
func (s *Stack) Stats() *zerocopy.Stats {
	return &s.stats
}

// Netstack returns the underlying gVisor stack, to add routes, link
// endpoints or protocol options that Stack does not cover.
func (s *Stack) Netstack() *tcpipstack.Stack {
	return s.ns
}

// Close closes every endpoint of the stack and releases it.
func (s *Stack) Close() {
	s.ns.Close()
	s.ns.Wait()
}
