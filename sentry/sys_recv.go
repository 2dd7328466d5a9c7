package sentry

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/marshal/primitive"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/zcstack/zcstack/zerocopy"
)

// recvErrFlags are the flags gVisor's recvmsg accepts; others are EINVAL,
// as in gVisor.
const recvErrFlags = linux.MSG_OOB | linux.MSG_DONTROUTE | linux.MSG_DONTWAIT | linux.MSG_NOSIGNAL |
	linux.MSG_WAITALL | linux.MSG_TRUNC | linux.MSG_CTRUNC | linux.MSG_PEEK | linux.MSG_CMSG_CLOEXEC |
	linux.MSG_ERRQUEUE | linux.MSG_WAITFORONE

// errQueueFile returns the file behind fd with its zcSocket and zerocopy
// state if the file is a zcSocket whose error queue is ours (it has had
// SO_ZEROCOPY), or nil: gVisor's own MSG_ERRQUEUE serves the others. The
// caller drops the reference.
func errQueueFile(t *kernel.Task, fd int32) (*vfs.FileDescription, *zcSocket, *zcState) {
	file := t.GetFile(fd)
	if file == nil {
		return nil, nil, nil
	}
	if s, ok := socketOf(file); ok {
		if zc := s.zc.Load(); zc != nil {
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
		if flags&linux.MSG_ERRQUEUE == 0 || t.Arch().Width() != 8 {
			return orig(t, sysno, args)
		}
		file, s, zc := errQueueFile(t, args[0].Int())
		if file == nil {
			return orig(t, sysno, args)
		}
		defer file.DecRef(t)
		if flags&^recvErrFlags != 0 || flags&linux.MSG_WAITFORONE != 0 {
			return 0, nil, linuxerr.EINVAL
		}
		var n int
		err := s.dequeueErr(zc, func() (err error) {
			n, err = s.call(t, file).RecvErrQueue(args[1].Pointer(), uint32(flags))
			return err
		})
		return uintptr(n), nil, sysErr(err)
	}
}

// sysRecvMMsg is sysRecvMsg for recvmmsg.
func sysRecvMMsg(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		flags := args[3].Int()
		if flags&linux.MSG_ERRQUEUE == 0 || t.Arch().Width() != 8 {
			return orig(t, sysno, args)
		}
		file, s, zc := errQueueFile(t, args[0].Int())
		if file == nil {
			return orig(t, sysno, args)
		}
		defer file.DecRef(t)
		if flags&^recvErrFlags != 0 {
			return 0, nil, linuxerr.EINVAL
		}
		vlen := min(args[2].Uint(), linux.UIO_MAXIOV)
		var n int
		var partial error
		err := s.dequeueErr(zc, func() error {
			var err error
			n, err = s.call(t, file).RecvMMsgErrQueue(args[1].Pointer(), vlen, uint32(flags))
			if n > 0 {
				partial = err
				return nil
			}
			return err
		})
		if err != nil {
			return 0, nil, sysErr(err)
		}
		// Linux's do_recvmmsg keeps the error that ended a partial
		// batch as the socket error for the next call.
		if errno, ok := partial.(unix.Errno); ok {
			if e, ok := stackError(uint32(errno)); ok {
				s.ep.SocketOptions().SetLastError(e)
			}
		}
		return uintptr(n), nil, nil
	}
}

// sysRecvFrom serves recvfrom(MSG_ERRQUEUE) on zcSockets, which gVisor
// rejects with EINVAL, as Linux's __sys_recvfrom does with ip_recv_error:
// the entry is removed, its payload copied (truncated to the buffer) and
// returned, its destination written to the address buffer if there is one
// (length 0 for a zerocopy completion); the control message is lost for
// want of a control buffer.
func sysRecvFrom(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		flags := args[3].Int()
		if flags&linux.MSG_ERRQUEUE == 0 {
			return orig(t, sysno, args)
		}
		file := t.GetFile(args[0].Int())
		if file == nil {
			return orig(t, sysno, args)
		}
		defer file.DecRef(t)
		s, ok := socketOf(file)
		bufLen := args[2].Uint64()
		if !ok || int(bufLen) < 0 {
			return orig(t, sysno, args)
		}
		zc := s.zcState(true)
		var e zerocopy.Entry
		err := s.dequeueErr(zc, func() error {
			var ok bool
			if e, ok = zc.queue.Pop(); !ok {
				return linuxerr.EAGAIN
			}
			return nil
		})
		if err != nil {
			return 0, nil, err
		}
		n := min(uint64(len(e.Payload)), bufLen)
		if _, err := t.CopyOutBytes(args[1].Pointer(), e.Payload[:n]); err != nil {
			return 0, nil, err
		}
		if args[4].Pointer() != 0 {
			var addr linux.SockAddr
			var addrLen uint32
			if e.Dst.IsValid() {
				addr, addrLen = socket.ConvertAddress(s.family, tcpip.FullAddress{
					Addr: tcpip.AddrFromSlice(e.Dst.Addr().AsSlice()),
					Port: e.Dst.Port(),
				})
			}
			if err := writeAddress(t, addr, addrLen, args[4].Pointer(), args[5].Pointer()); err != nil {
				return 0, nil, err
			}
		}
		return uintptr(n), nil, nil
	}
}

// writeAddress writes addr, truncated to the buffer, and its length, as
// Linux's move_addr_to_user (and gVisor's writeAddress) do.
func writeAddress(t *kernel.Task, addr linux.SockAddr, addrLen uint32, addrPtr, addrLenPtr hostarch.Addr) error {
	var bufLen int32
	if _, err := primitive.CopyInt32In(t, addrLenPtr, &bufLen); err != nil {
		return err
	}
	if bufLen < 0 {
		return linuxerr.EINVAL
	}
	if n := min(uint32(bufLen), addrLen); n > 0 {
		b := make([]byte, addr.SizeBytes())
		addr.MarshalUnsafe(b)
		if _, err := t.CopyOutBytes(addrPtr, b[:min(int(n), len(b))]); err != nil {
			return err
		}
	}
	_, err := primitive.CopyUint32Out(t, addrLenPtr, addrLen)
	return err
}
