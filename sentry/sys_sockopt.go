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

	"github.com/zcstack/zcstack/zcsocket"
)

// socketFile returns the socket file behind fd (EBADF, ENOTSOCK), and the
// zcSocket it is if it is one. The caller drops the file reference.
func socketFile(t *kernel.Task, fd int32) (*vfs.FileDescription, *zcSocket, error) {
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
		on, err := zcsocket.ZerocopyValue(v)
		if err != nil {
			return 0, nil, sysErr(err)
		}
		if on {
			s.enableZerocopy()
		} else if zc := s.zc.Load(); zc != nil {
			zc.SetZerocopy(false)
		}
		return 0, nil, nil
	}
}

// setRecvErr is setsockopt of IP_RECVERR or IPV6_RECVERR: gVisor's, which
// empties netstack's error queue when the option goes off, then, on a
// zcSocket whose error queue is ours, the purge of that queue Linux makes
// (skb_errqueue_purge: ICMP and local errors go, completions stay).
func setRecvErr(t *kernel.Task, sysno uintptr, args arch.SyscallArguments, orig kernel.SyscallFn) (uintptr, *kernel.SyscallControl, error) {
	rv, ctl, err := orig(t, sysno, args)
	if err != nil {
		return rv, ctl, err
	}
	file := t.GetFile(args[0].Int())
	if file == nil {
		return rv, ctl, nil
	}
	defer file.DecRef(t)
	if s, ok := socketOf(file); ok {
		if zc := s.zc.Load(); zc != nil && !s.recvErrOn(args[1].Int()) {
			zc.PurgeErrors()
		}
	}
	return rv, ctl, nil
}

// sysGetSockOpt implements getsockopt(SOL_SOCKET, SO_ZEROCOPY) for every
// socket as Linux's sk_getsockopt does: the value is an int, 0 for sockets
// that cannot use zerocopy, truncated to optlen, and optlen is set to the
// length written. gVisor fails it with ENOPROTOOPT.
func sysGetSockOpt(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		if args[1].Int() != linux.SOL_SOCKET || args[2].Int() != linux.SO_ZEROCOPY {
			return orig(t, sysno, args)
		}
		file, s, err := socketFile(t, args[0].Int())
		if err != nil {
			return 0, nil, err
		}
		defer file.DecRef(t)
		optLenAddr := args[4].Pointer()
		var optLen int32
		if _, err := primitive.CopyInt32In(t, optLenAddr, &optLen); err != nil {
			return 0, nil, err
		}
		if optLen < 0 {
			return 0, nil, linuxerr.EINVAL
		}
		var v [4]byte
		if s != nil {
			if _, on := s.zerocopyEnabled(); on {
				hostarch.ByteOrder.PutUint32(v[:], 1)
			}
		}
		// copy_to_sockptr of no bytes touches nothing: with optlen 0 a
		// bad optval is not a fault.
		n := min(optLen, int32(len(v)))
		if n > 0 {
			if _, err := t.CopyOutBytes(args[3].Pointer(), v[:n]); err != nil {
				return 0, nil, err
			}
		}
		if _, err := primitive.CopyInt32Out(t, optLenAddr, n); err != nil {
			return 0, nil, err
		}
		return 0, nil, nil
	}
}
