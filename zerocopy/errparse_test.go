package zerocopy

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSockaddr(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want netip.AddrPort
		ok   bool
	}{
		{"v4", AppendSockaddr(nil, unix.AF_INET, netip.MustParseAddr("10.1.2.3"), 0x1234),
			netip.MustParseAddrPort("10.1.2.3:4660"), true},
		{"v6", AppendSockaddr(nil, unix.AF_INET6, netip.MustParseAddr("fd00::2"), 53),
			netip.MustParseAddrPort("[fd00::2]:53"), true},
		{"v4-mapped stays mapped", AppendSockaddr(nil, unix.AF_INET6, netip.MustParseAddr("::ffff:127.0.0.1"), 9),
			netip.MustParseAddrPort("[::ffff:127.0.0.1]:9"), true},
		{"unspec", make([]byte, unix.SizeofSockaddrInet6), netip.AddrPort{}, false},
		{"short v4", AppendSockaddr(nil, unix.AF_INET, netip.MustParseAddr("10.1.2.3"), 1)[:15], netip.AddrPort{}, false},
		{"short v6", AppendSockaddr(nil, unix.AF_INET6, netip.MustParseAddr("::1"), 1)[:27], netip.AddrPort{}, false},
		{"one byte", []byte{2}, netip.AddrPort{}, false},
		{"unix", []byte{1, 0, '/', 0}, netip.AddrPort{}, false},
	} {
		got, ok := ParseSockaddr(tc.b)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestParseErrCmsgData: the parser reads back what appendErrCmsgData
// writes, for both families, with and without an offender.
func TestParseErrCmsgData(t *testing.T) {
	comp := Entry{Err: Completion{Lo: 7, Hi: 9}.ExtendedErr()}
	icmp := icmpErr(0)
	for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
		for _, e := range []Entry{comp, icmp} {
			data := appendErrCmsgData(nil, family, &e)
			ee, off, ok := ParseErrCmsgData(data)
			if !ok || ee != e.Err || off.Unmap() != e.Offender {
				t.Errorf("family %d %+v: got %+v %v %v", family, e.Err, ee, off, ok)
			}
		}
	}
	if _, _, ok := ParseErrCmsgData(make([]byte, SizeofSockExtendedErr-1)); ok {
		t.Error("short data parsed")
	}
	ee, off, ok := ParseErrCmsgData(appendErrCmsgData(nil, unix.AF_INET, &icmp)[:SizeofSockExtendedErr])
	if !ok || ee != icmp.Err || off.IsValid() {
		t.Errorf("without offender: %+v %v %v", ee, off, ok)
	}
}

// FuzzParseErrCmsgData: any bytes parse without panic, and what parses is
// written back to the same sock_extended_err.
func FuzzParseErrCmsgData(f *testing.F) {
	icmp := icmpErr(1)
	f.Add(appendErrCmsgData(nil, unix.AF_INET, &icmp))
	f.Add(appendErrCmsgData(nil, unix.AF_INET6, &icmp))
	f.Fuzz(func(t *testing.T, data []byte) {
		ee, off, ok := ParseErrCmsgData(data)
		if !ok {
			return
		}
		e := Entry{Err: ee, Offender: off}
		out := appendErrCmsgData(nil, unix.AF_INET6, &e)
		if !bytes.Equal(out[:SizeofSockExtendedErr], data[:SizeofSockExtendedErr]) {
			t.Errorf("sock_extended_err %v written back as %v", data[:SizeofSockExtendedErr], out[:SizeofSockExtendedErr])
		}
	})
}
