package sentry

import (
	"fmt"

	"gvisor.dev/gvisor/pkg/abi"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"

	// The syscall tables are registered by this package's init, which
	// must run before ours.
	_ "gvisor.dev/gvisor/pkg/sentry/syscalls/linux"
)

// override makes a syscall implementation from the one gVisor registered.
type override func(orig kernel.SyscallFn) kernel.SyscallFn

// overrides are the syscalls the extension replaces, by name in gVisor's
// tables.
var overrides = map[string]override{
	"socket":     sysSocket,
	"setsockopt": sysSetSockOpt,
	"getsockopt": sysGetSockOpt,
	"sendto":     sysSendTo,
	"sendmsg":    sysSendMsg,
	"sendmmsg":   sysSendMMsg,
	"recvfrom":   sysRecvFrom,
	"recvmsg":    sysRecvMsg,
	"recvmmsg":   sysRecvMMsg,
}

func init() {
	for _, a := range []arch.Arch{arch.AMD64, arch.ARM64} {
		t, ok := kernel.LookupSyscallTable(abi.Linux, a)
		if !ok {
			panic(fmt.Sprintf("zcstack: no Linux syscall table for %v", a))
		}
		patch(t)
	}
}

// patch replaces the entries of overrides in t and rebuilds its lookup table.
// It runs before the kernel exists, in every runsc process.
func patch(t *kernel.SyscallTable) {
	for name, o := range overrides {
		no, err := t.LookupNo(name)
		if err != nil {
			panic(fmt.Sprintf("zcstack: %v table: %v", t.Arch, err))
		}
		sc := t.Table[no]
		sc.Fn = o(sc.Fn)
		t.Table[no] = sc
	}
	straceZerocopy(t)
	t.Init()
}
