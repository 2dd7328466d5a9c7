package sentry

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	glinux "gvisor.dev/gvisor/pkg/sentry/syscalls/linux"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

func fnPointer(fn any) uintptr {
	return reflect.ValueOf(fn).Pointer()
}

// TestTablesPatched checks that init replaced gVisor's handlers in the
// Linux tables of both architectures, in the map and in the fast lookup
// array the kernel dispatches from.
func TestTablesPatched(t *testing.T) {
	gvisor := map[string]kernel.SyscallFn{
		"socket":     glinux.Socket,
		"setsockopt": glinux.SetSockOpt,
		"getsockopt": glinux.GetSockOpt,
		"sendto":     glinux.SendTo,
		"sendmsg":    glinux.SendMsg,
		"sendmmsg":   glinux.SendMMsg,
		"recvfrom":   glinux.RecvFrom,
		"recvmsg":    glinux.RecvMsg,
		"recvmmsg":   glinux.RecvMMsg,
	}
	if len(gvisor) != len(overrides) {
		t.Fatalf("%d overrides, %d known gVisor handlers", len(overrides), len(gvisor))
	}
	for _, a := range []arch.Arch{arch.AMD64, arch.ARM64} {
		tbl, ok := kernel.LookupSyscallTable(abi.Linux, a)
		if !ok {
			t.Fatalf("no table for %v", a)
		}
		for name, orig := range gvisor {
			no, err := tbl.LookupNo(name)
			if err != nil {
				t.Fatalf("%v: %v", a, err)
			}
			fn := tbl.Table[no].Fn
			if fnPointer(fn) == fnPointer(orig) {
				t.Errorf("%v %s: still gVisor's handler", a, name)
			}
			if fnPointer(tbl.Lookup(no)) != fnPointer(fn) {
				t.Errorf("%v %s: lookup array not rebuilt", a, name)
			}
		}
	}
}

func TestZCProtocols(t *testing.T) {
	for _, tc := range []struct {
		family, protocol int
		stype            linux.SockType
		net              tcpip.NetworkProtocolNumber
		trans            tcpip.TransportProtocolNumber
		ok               bool
	}{
		{linux.AF_INET, 0, linux.SOCK_STREAM, ipv4.ProtocolNumber, tcp.ProtocolNumber, true},
		{linux.AF_INET, linux.IPPROTO_TCP, linux.SOCK_STREAM, ipv4.ProtocolNumber, tcp.ProtocolNumber, true},
		{linux.AF_INET6, 0, linux.SOCK_STREAM, ipv6.ProtocolNumber, tcp.ProtocolNumber, true},
		{linux.AF_INET, 0, linux.SOCK_DGRAM, ipv4.ProtocolNumber, udp.ProtocolNumber, true},
		{linux.AF_INET6, linux.IPPROTO_UDP, linux.SOCK_DGRAM, ipv6.ProtocolNumber, udp.ProtocolNumber, true},
		{linux.AF_INET, linux.IPPROTO_UDP, linux.SOCK_STREAM, 0, 0, false},
		{linux.AF_INET, linux.IPPROTO_ICMP, linux.SOCK_DGRAM, 0, 0, false},
		{linux.AF_INET6, linux.IPPROTO_ICMPV6, linux.SOCK_DGRAM, 0, 0, false},
		{linux.AF_INET, linux.IPPROTO_TCP, linux.SOCK_RAW, 0, 0, false},
		{linux.AF_INET, 0, linux.SOCK_SEQPACKET, 0, 0, false},
		{linux.AF_UNIX, 0, linux.SOCK_STREAM, 0, 0, false},
		{linux.AF_PACKET, 0, linux.SOCK_DGRAM, 0, 0, false},
	} {
		n, tr, ok := zcProtocols(tc.family, tc.stype, tc.protocol)
		if n != tc.net || tr != tc.trans || ok != tc.ok {
			t.Errorf("zcProtocols(%d, %d, %d) = %d, %d, %v; want %d, %d, %v",
				tc.family, tc.stype, tc.protocol, n, tr, ok, tc.net, tc.trans, tc.ok)
		}
	}
}

func TestWithoutZerocopy(t *testing.T) {
	var args arch.SyscallArguments
	args[2].Value = uintptr(uint32(linux.MSG_ZEROCOPY | linux.MSG_DONTWAIT))
	args[3].Value = uintptr(uint32(linux.MSG_ZEROCOPY))
	got := withoutZerocopy(args, 2)
	if got[2].Int() != linux.MSG_DONTWAIT || got[3].Int() != linux.MSG_ZEROCOPY {
		t.Errorf("withoutZerocopy = %#x %#x", got[2].Int(), got[3].Int())
	}
}

func TestStackError(t *testing.T) {
	for _, tc := range []struct {
		errno uint32
		want  tcpip.Error
	}{
		{uint32(unix.ECONNREFUSED), &tcpip.ErrConnectionRefused{}},
		{uint32(unix.EHOSTUNREACH), &tcpip.ErrHostUnreachable{}},
		{uint32(unix.ENETUNREACH), &tcpip.ErrNetworkUnreachable{}},
		{uint32(unix.EFAULT), &tcpip.ErrBadBuffer{}},
		{uint32(unix.EMSGSIZE), &tcpip.ErrMessageTooLong{}},
		{uint32(unix.EINVAL), &tcpip.ErrInvalidOptionValue{}},
		{uint32(unix.EPERM), nil},
		{0, nil},
	} {
		got, ok := stackError(tc.errno)
		if ok != (tc.want != nil) || (ok && reflect.TypeOf(got) != reflect.TypeOf(tc.want)) {
			t.Errorf("stackError(%d) = %v, %v; want %v", tc.errno, got, ok, tc.want)
		}
	}
}
