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
// ignore it.
func sysSetSockOpt(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		if args[1].Int() != linux.SOL_SOCKET || args[2].Int() != linux.SO_ZEROCOPY {
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
		return 0, nil, s.setZerocopy(v)
	}
}

// sysGetSockOpt implements getsockopt(SOL_SOCKET, SO_ZEROCOPY) for every
// socket as Linux's sk_getsockopt does: the value is an int, 0 for sockets
// that cannot use zerocopy (putIntOpt). gVisor fails it with ENOPROTOOPT.
// getsockopt(SOL_SOCKET, SO_ERROR) of a host socket reports the error a
// partial recvmmsg left (hostSocket.sockErrOpt); every other getsockopt is
// gVisor's.
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
