package sentry

import (
	"reflect"
	"testing"

	"gvisor.dev/gvisor/pkg/abi"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	glinux "gvisor.dev/gvisor/pkg/sentry/syscalls/linux"
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

func TestWithoutZerocopy(t *testing.T) {
	var args arch.SyscallArguments
	args[2].Value = uintptr(uint32(linux.MSG_ZEROCOPY | linux.MSG_DONTWAIT))
	args[3].Value = uintptr(uint32(linux.MSG_ZEROCOPY))
	got := withoutZerocopy(args, 2)
	if got[2].Int() != linux.MSG_DONTWAIT || got[3].Int() != linux.MSG_ZEROCOPY {
		t.Errorf("withoutZerocopy = %#x %#x", got[2].Int(), got[3].Int())
	}
}
