package sentry

import (
	"gvisor.dev/gvisor/pkg/hostarch"

	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/marshal/primitive"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
)

// socketFile returns the socket file behind fd (EBADF, ENOTSOCK), and the
// socket of ours it is if it is one. The caller drops the file reference.
func socketFile(t *kernel.Task, fd int32) (*vfs.FileDescription, ourSocket, error) {
	file := t.GetFile(fd)
	if file == nil {
		return nil, nil, linuxerr.EBADF
	}
	if _, ok := file.Impl().(socket.Socket); !ok {
		file.DecRef(t)
		return nil, nil, linuxerr.ENOTSOCK
	}
	s, _ := socketOf(file)
	return file, s, nil
}

// sysSetSockOpt implements setsockopt(SOL_SOCKET, SO_ZEROCOPY) for every
// socket, in the order of Linux's checks (net/socket.c do_sock_setsockopt,
// net/core/sock.c sk_setsockopt): optlen below sizeof(int) is EINVAL, an
// unreadable value EFAULT, a socket other than AF_INET/AF_INET6 TCP or UDP
// EOPNOTSUPP, and a value other than 0 or 1 EINVAL. gVisor would accept and
// ignore it. IP_RECVERR and IPV6_RECVERR are gVisor's, plus the purge of
// our error queue when they go off.
func sysSetSockOpt(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		level, name := args[1].Int(), args[2].Int()
		if (level == linux.SOL_IP && name == linux.IP_RECVERR) || (level == linux.SOL_IPV6 && name == linux.IPV6_RECVERR) {
			return setRecvErr(t, sysno, args, orig)
		}
		if level != linux.SOL_SOCKET || name != linux.SO_ZEROCOPY {
			return orig(t, sysno, args)
		}
		file, s, err := socketFile(t, args[0].Int())
		if err != nil {
			return 0, nil, err
		}
		defer file.DecRef(t)
		if optLen := args[4].Int(); optLen < 4 {
			return 0, nil, linuxerr.EINVAL
		}
		var v int32
		if _, err := primitive.CopyInt32In(t, args[3].Pointer(), &v); err != nil {
			return 0, nil, err
		}
		if s == nil {
			return 0, nil, linuxerr.EOPNOTSUPP
		}
		return 0, nil, sysErr(s.setZerocopy(v))
	}
}

// setRecvErr is setsockopt of IP_RECVERR or IPV6_RECVERR: gVisor's, which
// empties netstack's error queue (or has the host empty its own) when the
// option goes off, then, on a socket whose error queue is ours, the purge of
// that queue Linux makes (skb_errqueue_purge: ICMP and local errors go,
// completions stay).
func setRecvErr(t *kernel.Task, sysno uintptr, args arch.SyscallArguments, orig kernel.SyscallFn) (uintptr, *kernel.SyscallControl, error) {
	file := t.GetFile(args[0].Int())
	if file == nil {
		return orig(t, sysno, args)
	}
	defer file.DecRef(t)
	var zc zerocopyState
	s, ok := socketOf(file)
	if ok {
		zc = s.zerocopy(false)
	}
	if zc != nil {
		// What the layer below holds comes in first, as it is: a purge
		// there would leave completions side by side, which the queue
		// would coalesce as they came in, and Linux does not.
		zc.ErrorQueue().Refill()
	}
	rv, ctl, err := orig(t, sysno, args)
	if err == nil && zc != nil && !s.recvErrOn(args[1].Int()) {
		zc.PurgeErrors()
	}
	return rv, ctl, err
}

// sysGetSockOpt implements getsockopt(SOL_SOCKET, SO_ZEROCOPY) for every
// socket as Linux's sk_getsockopt does: the value is an int, 0 for sockets
// that cannot use zerocopy (putIntOpt). gVisor fails it with ENOPROTOOPT.
// getsockopt(SOL_SOCKET, SO_ERROR) of a host socket reports the error a
// partial recvmmsg left (sockErrOpt); every other getsockopt is gVisor's.
func sysGetSockOpt(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		if args[1].Int() != linux.SOL_SOCKET {
			return orig(t, sysno, args)
		}
		switch args[2].Int() {
		case linux.SO_ZEROCOPY:
		case linux.SO_ERROR:
			return sockErrOpt(t, sysno, args, orig)
		default:
			return orig(t, sysno, args)
		}
		file, s, err := socketFile(t, args[0].Int())
		if err != nil {
			return 0, nil, err
		}
		defer file.DecRef(t)
		v := uint32(0)
		if s != nil {
			if _, on := zerocopyOn(s); on {
				v = 1
			}
		}
		return 0, nil, putIntOpt(t, args, v)
	}
}

// putIntOpt returns v to a getsockopt as sk_getsockopt returns an int
// option: optlen below 0 is EINVAL, the value is truncated to optlen, and
// optlen is set to the length written.
func putIntOpt(t *kernel.Task, args arch.SyscallArguments, v uint32) error {
	optLenAddr := args[4].Pointer()
	var optLen int32
	if _, err := primitive.CopyInt32In(t, optLenAddr, &optLen); err != nil {
		return err
	}
	if optLen < 0 {
		return linuxerr.EINVAL
	}
	var b [4]byte
	hostarch.ByteOrder.PutUint32(b[:], v)
	// copy_to_sockptr of no bytes touches nothing: with optlen 0 a bad
	// optval is not a fault.
	n := min(optLen, int32(len(b)))
	if n > 0 {
		if _, err := t.CopyOutBytes(args[3].Pointer(), b[:n]); err != nil {
			return err
		}
	}
	_, err := primitive.CopyInt32Out(t, optLenAddr, n)
	return err
}
