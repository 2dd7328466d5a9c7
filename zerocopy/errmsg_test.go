package zerocopy

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestErrMsg(t *testing.T) {
	comp := Entry{Err: Completion{Lo: 1, Hi: 0x0203, Copied: true}.ExtendedErr()}
	icmp := Entry{
		Err:      unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 3},
		Offender: netip.MustParseAddr("127.0.0.1"),
		Dst:      netip.MustParseAddrPort("127.0.0.1:258"),
		Payload:  []byte("pay"),
	}
	eeComp := []byte{0, 0, 0, 0, 5, 0, 1, 0, 1, 0, 0, 0, 3, 2, 0, 0}
	eeICMP := []byte{111, 0, 0, 0, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	sin := []byte{2, 0, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	sin6 := []byte{
		10, 0, 0, 0, 0, 0, 0, 0, // family, port, flowinfo
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1, // ::ffff:127.0.0.1
		0, 0, 0, 0} // scope id
	withPort := func(sa []byte) []byte {
		b := bytes.Clone(sa)
		b[2], b[3] = 1, 2 // port 258, network byte order
		return b
	}
	for _, tc := range []struct {
		name        string
		family      int
		e           Entry
		level, typ  int32
		data, sname []byte
	}{
		{"completion v4", unix.AF_INET, comp, unix.SOL_IP, unix.IP_RECVERR, append(eeComp, make([]byte, 16)...), nil},
		{"completion v6", unix.AF_INET6, comp, unix.SOL_IPV6, unix.IPV6_RECVERR, append(eeComp, make([]byte, 28)...), nil},
		{"icmp v4", unix.AF_INET, icmp, unix.SOL_IP, unix.IP_RECVERR, append(eeICMP, sin...), withPort(sin)},
		{"icmp v4 on v6 socket", unix.AF_INET6, icmp, unix.SOL_IPV6, unix.IPV6_RECVERR, append(eeICMP, sin6...), withPort(sin6)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m ErrMsg
			m.Build(tc.family, &tc.e)
			if !bytes.Equal(m.Data, tc.data) {
				t.Errorf("data %v\nwant %v", m.Data, tc.data)
			}
			if !bytes.Equal(m.Name, tc.sname) {
				t.Errorf("name %v\nwant %v", m.Name, tc.sname)
			}
			if m.Level != tc.level || m.Type != tc.typ || !bytes.Equal(m.Payload, tc.e.Payload) {
				t.Errorf("level/type %d/%d payload %q", m.Level, m.Type, m.Payload)
			}
		})
	}
}

func TestErrMsgFlags(t *testing.T) {
	m := ErrMsg{Payload: []byte("pay")}
	for _, tc := range []struct {
		room   int64
		ctrunc bool
		want   uint32
	}{
		{3, false, unix.MSG_ERRQUEUE},
		{2, false, unix.MSG_ERRQUEUE | unix.MSG_TRUNC},
		{0, true, unix.MSG_ERRQUEUE | unix.MSG_TRUNC | unix.MSG_CTRUNC},
		{100, true, unix.MSG_ERRQUEUE | unix.MSG_CTRUNC},
	} {
		if got := m.Flags(tc.room, tc.ctrunc); got != tc.want {
			t.Errorf("Flags(%d, %v) = %#x, want %#x", tc.room, tc.ctrunc, got, tc.want)
		}
	}
}

func TestAppendSockaddrPort(t *testing.T) {
	got := AppendSockaddr(nil, unix.AF_INET, netip.MustParseAddr("10.1.2.3"), 0x1234)
	want := []byte{2, 0, 0x12, 0x34, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
