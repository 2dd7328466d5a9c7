package zcsocket

import (
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/zcstack/zcstack/zerocopy"
)

// entryFromSockError converts an entry of netstack's error queue to the
// entry Linux's recvmsg(MSG_ERRQUEUE) returns for it. It copies the payload
// and does not release it.
func entryFromSockError(se *tcpip.SockError) zerocopy.Entry {
	e := zerocopy.Entry{
		Err: unix.SockExtendedErr{
			Errno:  uint32(Errno(se.Err)),
			Origin: originToLinux(se.Cause.Origin()),
			Type:   se.Cause.Type(),
			Code:   se.Cause.Code(),
			Info:   se.Cause.Info(),
		},
		Dst: AddrPort(se.Dst),
	}
	if se.Offender.Addr.Len() != 0 {
		e.Offender, _ = netip.AddrFromSlice(se.Offender.Addr.AsSlice())
	}
	if se.Payload != nil {
		e.Payload = append([]byte(nil), se.Payload.AsSlice()...)
	}
	return e
}

// originToLinux converts a netstack error origin to SO_EE_ORIGIN_*.
func originToLinux(o tcpip.SockErrOrigin) uint8 {
	switch o {
	case tcpip.SockExtErrorOriginLocal:
		return unix.SO_EE_ORIGIN_LOCAL
	case tcpip.SockExtErrorOriginICMP:
		return unix.SO_EE_ORIGIN_ICMP
	case tcpip.SockExtErrorOriginICMP6:
		return unix.SO_EE_ORIGIN_ICMP6
	default:
		return unix.SO_EE_ORIGIN_NONE
	}
}

// AddrPort converts a netstack address; the zero AddrPort if it has none.
func AddrPort(fa tcpip.FullAddress) netip.AddrPort {
	a, _ := netip.AddrFromSlice(fa.Addr.AsSlice())
	return netip.AddrPortFrom(a, fa.Port)
}
