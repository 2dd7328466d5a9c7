package zcsocket

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
)

// cause is a tcpip.SockErrorCause.
type cause struct {
	origin    tcpip.SockErrOrigin
	typ, code uint8
	info      uint32
}

func (c cause) Origin() tcpip.SockErrOrigin { return c.origin }
func (c cause) Type() uint8                 { return c.typ }
func (c cause) Code() uint8                 { return c.code }
func (c cause) Info() uint32                { return c.info }

func TestEntryFromSockError(t *testing.T) {
	payload := buffer.NewViewWithData([]byte("datagram"))
	defer payload.Release()
	e := entryFromSockError(&tcpip.SockError{
		Err:      &tcpip.ErrConnectionRefused{},
		Cause:    cause{origin: tcpip.SockExtErrorOriginICMP, typ: 3, code: 3, info: 7},
		Payload:  payload,
		Dst:      tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 1}), Port: 9},
		Offender: tcpip.FullAddress{Addr: tcpip.AddrFrom4([4]byte{127, 0, 0, 2})},
		NetProto: ipv4.ProtocolNumber,
	})
	want := unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 3, Info: 7}
	if e.Err != want {
		t.Errorf("Err = %+v, want %+v", e.Err, want)
	}
	if e.Offender != netip.MustParseAddr("127.0.0.2") || e.Dst != netip.MustParseAddrPort("127.0.0.1:9") {
		t.Errorf("Offender %v Dst %v", e.Offender, e.Dst)
	}
	if string(e.Payload) != "datagram" || !e.IsICMP() {
		t.Errorf("Payload %q, isICMP %v", e.Payload, e.IsICMP())
	}

	local := entryFromSockError(&tcpip.SockError{
		Err:      &tcpip.ErrMessageTooLong{},
		Cause:    cause{origin: tcpip.SockExtErrorOriginLocal, info: 70000},
		NetProto: ipv6.ProtocolNumber,
	})
	if local.Err.Origin != unix.SO_EE_ORIGIN_LOCAL || local.Err.Errno != uint32(unix.EMSGSIZE) ||
		local.Err.Info != 70000 || local.Offender.IsValid() || local.Dst.IsValid() || local.Payload != nil || local.IsICMP() {
		t.Errorf("local error: %+v", local)
	}
}

func TestOriginToLinux(t *testing.T) {
	for o, want := range map[tcpip.SockErrOrigin]uint8{
		tcpip.SockExtErrorOriginNone:  unix.SO_EE_ORIGIN_NONE,
		tcpip.SockExtErrorOriginLocal: unix.SO_EE_ORIGIN_LOCAL,
		tcpip.SockExtErrorOriginICMP:  unix.SO_EE_ORIGIN_ICMP,
		tcpip.SockExtErrorOriginICMP6: unix.SO_EE_ORIGIN_ICMP6,
		tcpip.SockErrOrigin(200):      unix.SO_EE_ORIGIN_NONE,
	} {
		if got := originToLinux(o); got != want {
			t.Errorf("originToLinux(%d) = %d, want %d", o, got, want)
		}
	}
}
