package sentry

import (
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket/netstack"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zcsocket"
)

// sysSocket creates AF_INET/AF_INET6 TCP and UDP sockets of gVisor's netstack
// as zcSockets; everything else goes to gVisor.
func sysSocket(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		domain := int(args[0].Int())
		stype := args[1].Int()
		protocol := int(args[2].Int())
		netProto, transProto, _, err := zcsocket.Protocol(domain, int(stype&0xf), protocol)
		if err != nil || stype&^(0xf|linux.SOCK_NONBLOCK|linux.SOCK_CLOEXEC) != 0 {
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
