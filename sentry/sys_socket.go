package sentry

import (
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/socket/hostinet"
	"gvisor.dev/gvisor/pkg/sentry/socket/netstack"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zcsocket"
)

// sysSocket creates AF_INET/AF_INET6 TCP and UDP sockets of gVisor's netstack
// as zcSockets and those of hostinet as hostSockets; everything else goes to
// gVisor.
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
			if _, host := t.NetworkContext().(*hostinet.Stack); host {
				return hostinetSocket(t, domain, stype, protocol)
			}
			// No network: gVisor's own socket.
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
		return installSocket(t, file, stype)
	}
}

// hostinetSocket is socket(2) of a TCP or UDP socket with hostinet: the
// socket gVisor's provider makes, as gVisor's socket(2) does, wrapped in a
// hostSocket.
func hostinetSocket(t *kernel.Task, domain int, stype int32, protocol int) (uintptr, *kernel.SyscallControl, error) {
	inner, serr := socket.New(t, domain, linux.SockType(stype&0xf), protocol)
	if serr != nil {
		return 0, nil, serr.ToError()
	}
	if _, ok := inner.Impl().(*hostinet.Socket); !ok {
		return installSocket(t, inner, stype)
	}
	file, serr := newHostSocket(t, inner)
	if serr != nil {
		return 0, nil, serr.ToError()
	}
	return installSocket(t, file, stype)
}

// installSocket gives the new socket file its status flags and a
// descriptor, as gVisor's socket(2) does, and drops the caller's reference.
func installSocket(t *kernel.Task, file *vfs.FileDescription, stype int32) (uintptr, *kernel.SyscallControl, error) {
	defer file.DecRef(t)
	if err := file.SetStatusFlags(t, t.Credentials(), uint32(stype&linux.SOCK_NONBLOCK)); err != nil {
		return 0, nil, err
	}
	fd, err := t.NewFDFrom(0, file, kernel.FDFlags{CloseOnExec: stype&linux.SOCK_CLOEXEC != 0})
	if err != nil {
		return 0, nil, err
	}
	return uintptr(fd), nil, nil
}
