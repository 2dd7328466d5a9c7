package sentry

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/ktime"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
)

// recvErrFlags are the flags gVisor's recvmsg accepts; others are EINVAL,
// as in gVisor.
const recvErrFlags = linux.MSG_OOB | linux.MSG_DONTROUTE | linux.MSG_DONTWAIT | linux.MSG_NOSIGNAL |
	linux.MSG_WAITALL | linux.MSG_TRUNC | linux.MSG_CTRUNC | linux.MSG_PEEK | linux.MSG_CMSG_CLOEXEC |
	linux.MSG_ERRQUEUE | linux.MSG_WAITFORONE

// errQueueFile returns the file behind fd, its socket and its zerocopy
// state for a receive with flags that is ours: one with MSG_ERRQUEUE, by a
// 64-bit task, on a socket of ours whose error queue is ours (it has had
// SO_ZEROCOPY). It returns nil for every other receive, which gVisor
// serves. The caller drops the reference.
func errQueueFile(t *kernel.Task, fd, flags int32) (*vfs.FileDescription, ourSocket, zerocopyState) {
	if flags&linux.MSG_ERRQUEUE == 0 || t.Arch().Width() != 8 {
		return nil, nil, nil
	}
	file := t.GetFile(fd)
	if file == nil {
		return nil, nil, nil
	}
	if s, ok := socketOf(file); ok {
		if zc := s.zerocopy(false); zc != nil {
			return file, s, zc
		}
	}
	file.DecRef(t)
	return nil, nil, nil
}

// sysRecvMsg serves recvmsg(MSG_ERRQUEUE) from the socket's own error queue
// with syscalls/'s bytes; everything else is gVisor's.
func sysRecvMsg(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		flags := args[2].Int()
		file, _, zc := errQueueFile(t, args[0].Int(), flags)
		if file == nil {
			return orig(t, sysno, args)
		}
		defer file.DecRef(t)
		if flags&^recvErrFlags != 0 || flags&linux.MSG_WAITFORONE != 0 {
			return 0, nil, linuxerr.EINVAL
		}
		c := call(t, file, zc)
		n, err := c.RecvErrQueue(args[1].Pointer(), uint32(flags))
		return uintptr(n), nil, sysErr(err)
	}
}

// sysRecvMMsg is sysRecvMsg for recvmmsg, with its timeout as Linux's
// __sys_recvmmsg and do_recvmmsg treat it: read (EFAULT) and checked
// (EINVAL) first, the batch ends once it has passed (a zero timeout passes
// after the first message), and the time left is written back (EFAULT) when
// messages were received. gVisor treats it as a deadline for blocking,
// which an error-queue read never does.
func sysRecvMMsg(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		flags := args[3].Int()
		file, s, zc := errQueueFile(t, args[0].Int(), flags)
		if file == nil {
			return orig(t, sysno, args)
		}
		defer file.DecRef(t)
		timeoutAddr := args[4].Pointer()
		var timeout linux.Timespec
		if timeoutAddr != 0 {
			if _, err := timeout.CopyIn(t, timeoutAddr); err != nil {
				return 0, nil, linuxerr.EFAULT
			}
			if !timeout.Valid() {
				return 0, nil, linuxerr.EINVAL
			}
		}
		if flags&^recvErrFlags != 0 {
			return 0, nil, linuxerr.EINVAL
		}
		var expired func() bool
		var end ktime.Time // poll_select_set_timeout: 0 for a zero timeout
		clock := t.Kernel().MonotonicClock()
		if timeoutAddr != 0 {
			if timeout.ToNsec() != 0 {
				end = clock.Now().Add(timeout.ToDuration())
			}
			expired = func() bool { return !clock.Now().Before(end) }
		}
		vlen := min(args[2].Uint(), linux.UIO_MAXIOV)
		c := call(t, file, zc)
		n, err := c.RecvMMsgErrQueue(args[1].Pointer(), vlen, uint32(flags), expired)
		if n == 0 {
			return 0, nil, sysErr(err)
		}
		// do_recvmmsg keeps the error that ended a partial batch as the
		// socket error for the next call.
		if errno, ok := err.(unix.Errno); ok {
			s.setSockErr(uint32(errno))
		}
		if timeoutAddr != 0 {
			left := linux.NsecToTimespec(max(0, end.Sub(clock.Now()).Nanoseconds()))
			if _, err := left.CopyOut(t, timeoutAddr); err != nil {
				return 0, nil, linuxerr.EFAULT
			}
		}
		return uintptr(n), nil, nil
	}
}

// sysRecvFrom serves recvfrom(MSG_ERRQUEUE) on sockets of ours, which gVisor
// rejects with EINVAL, as Linux does (syscalls.Call.RecvFromErrQueue). The
// socket's error queue becomes ours if it was not, so that netstack's
// errors are read with Linux's bytes.
func sysRecvFrom(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		if args[3].Int()&linux.MSG_ERRQUEUE == 0 {
			return orig(t, sysno, args)
		}
		file := t.GetFile(args[0].Int())
		if file == nil {
			return orig(t, sysno, args)
		}
		defer file.DecRef(t)
		s, ok := socketOf(file)
		if !ok {
			return orig(t, sysno, args)
		}
		c := call(t, file, s.zerocopy(true))
		n, err := c.RecvFromErrQueue(args[1].Pointer(), args[2].Uint64(), args[4].Pointer(), args[5].Pointer())
		return uintptr(n), nil, sysErr(err)
	}
}
