package zerocopy

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAppendErrCmsgData(t *testing.T) {
	comp := Entry{Err: Completion{Lo: 1, Hi: 0x0203, Copied: true}.ExtendedErr()}
	icmp := Entry{
		Err:      unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 3},
		Offender: netip.MustParseAddr("127.0.0.1"),
	}
	eeComp := []byte{0, 0, 0, 0, 5, 0, 1, 0, 1, 0, 0, 0, 3, 2, 0, 0}
	eeICMP := []byte{111, 0, 0, 0, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for _, tc := range []struct {
		name   string
		family int
		e      Entry
		want   []byte
	}{
		{"completion v4", unix.AF_INET, comp, append(eeComp, make([]byte, 16)...)},
		{"completion v6", unix.AF_INET6, comp, append(eeComp, make([]byte, 28)...)},
		{"icmp v4", unix.AF_INET, icmp, append(eeICMP, 2, 0, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)},
		{"icmp v4 on v6 socket", unix.AF_INET6, icmp, append(eeICMP,
			10, 0, 0, 0, 0, 0, 0, 0, // family, port, flowinfo
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1, // ::ffff:127.0.0.1
			0, 0, 0, 0)}, // scope id
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendErrCmsgData(nil, tc.family, &tc.e)
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
			want := ErrCmsgDataLen4
			if tc.family == unix.AF_INET6 {
				want = ErrCmsgDataLen6
			}
			if len(got) != want {
				t.Errorf("%d bytes, want %d", len(got), want)
			}
		})
	}
	if l, ty := ErrCmsgLevelType(unix.AF_INET6); l != unix.SOL_IPV6 || ty != unix.IPV6_RECVERR {
		t.Errorf("v6 level/type %d/%d", l, ty)
	}
	if l, ty := ErrCmsgLevelType(unix.AF_INET); l != unix.SOL_IP || ty != unix.IP_RECVERR {
		t.Errorf("v4 level/type %d/%d", l, ty)
	}
}

func TestAppendSockaddrPort(t *testing.T) {
	got := AppendSockaddr(nil, unix.AF_INET, netip.MustParseAddr("10.1.2.3"), 0x1234)
	want := []byte{2, 0, 0x12, 0x34, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
