package sentry

import (
	"time"

	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/ktime"
	"gvisor.dev/gvisor/pkg/sentry/socket/control"
	glinux "gvisor.dev/gvisor/pkg/sentry/syscalls/linux"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/usermem"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zcsocket"
)

// sendFlags are the flags gVisor's sendmsg and sendmmsg accept; anything
// else but MSG_ZEROCOPY is EINVAL, as in gVisor.
const sendFlags = linux.MSG_DONTWAIT | linux.MSG_EOR | linux.MSG_MORE | linux.MSG_NOSIGNAL

// withoutZerocopy returns args with MSG_ZEROCOPY cleared from the flags
// argument i: gVisor's sendmsg and sendmmsg reject it with EINVAL, and
// without SO_ZEROCOPY Linux sends as if it was not there.
func withoutZerocopy(args arch.SyscallArguments, i int) arch.SyscallArguments {
	args[i].Value = uintptr(uint32(args[i].Int()) &^ linux.MSG_ZEROCOPY)
	return args
}

// zerocopyFile returns the file behind fd with its zcSocket and zerocopy
// state if the file is a zcSocket with SO_ZEROCOPY on, or nil if it is
// anything else, which gVisor's handler serves; it looks at no file while
// no socket of the sandbox has had SO_ZEROCOPY. The caller drops the
// reference.
func zerocopyFile(t *kernel.Task, fd int32) (*vfs.FileDescription, *zcSocket, *zcsocket.State) {
	if !zerocopyUsed.Load() {
		return nil, nil, nil
	}
	file := t.GetFile(fd)
	if file == nil {
		return nil, nil, nil
	}
	if s, ok := socketOf(file); ok {
		if zc, on := s.zerocopyEnabled(); on {
			return file, s, zc
		}
	}
	file.DecRef(t)
	return nil, nil, nil
}

// sysSendTo accounts sendto(MSG_ZEROCOPY) on sockets with SO_ZEROCOPY; the
// send itself is gVisor's.
func sysSendTo(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		zeroCopy := args[3].Int()&linux.MSG_ZEROCOPY != 0
		if !zeroCopy {
			return orig(t, sysno, args)
		}
		args = withoutZerocopy(args, 3)
		file, _, zc := zerocopyFile(t, args[0].Int())
		if file == nil || int(args[2].Uint64()) < 0 {
			if file != nil {
				file.DecRef(t)
			}
			return orig(t, sysno, args)
		}
		defer file.DecRef(t)
		n, err := zc.Send(true, int64(args[2].Uint64()), func() (int, error) {
			n, _, err := orig(t, sysno, args)
			return int(n), err
		})
		return uintptr(n), nil, err
	}
}

// sysSendMsg serves sendmsg on sockets with SO_ZEROCOPY through
// zcsocket.State.SendMsg (syscalls/ for the message, SCM_ZC_NOTIFICATION and
// its copy-back; zerocopy.Sender for MSG_ZEROCOPY), with gVisor's socket
// sending; every other sendmsg is gVisor's, without MSG_ZEROCOPY.
func sysSendMsg(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		file, s, zc := zerocopyFile(t, args[0].Int())
		if file == nil || t.Arch().Width() != 8 {
			if file != nil {
				file.DecRef(t)
			}
			return orig(t, sysno, withoutZerocopy(args, 2))
		}
		defer file.DecRef(t)
		flags := args[2].Int()
		if flags&^(sendFlags|linux.MSG_ZEROCOPY) != 0 {
			return 0, nil, linuxerr.EINVAL
		}
		c := call(t, file, zc)
		n, err := zc.SendMsg(&c, args[1].Pointer(), uint32(flags), func(m *syscalls.Send) (int, error) {
			return s.write(t, file, "sendmsg", m)
		})
		return uintptr(n), nil, sysErr(err)
	}
}

// sysSendMMsg is sysSendMsg for sendmmsg.
func sysSendMMsg(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		file, s, zc := zerocopyFile(t, args[0].Int())
		if file == nil || t.Arch().Width() != 8 {
			if file != nil {
				file.DecRef(t)
			}
			return orig(t, sysno, withoutZerocopy(args, 3))
		}
		defer file.DecRef(t)
		flags := args[3].Int()
		if flags&^(sendFlags|linux.MSG_ZEROCOPY) != 0 {
			return 0, nil, linuxerr.EINVAL
		}
		c := call(t, file, zc)
		n, err := zc.SendMMsg(&c, args[1].Pointer(), args[2].Uint(), uint32(flags), func(m *syscalls.Send) (int, error) {
			return s.write(t, file, "sendmmsg", m)
		})
		return uintptr(n), nil, sysErr(err)
	}
}

// write sends one message that syscalls/ read, as gVisor's sendSingleMsg
// does once it has read it: the control messages other than
// SCM_ZC_NOTIFICATION go to gVisor's parser, the data to gVisor's socket.
func (s *zcSocket) write(t *kernel.Task, file *vfs.FileDescription, op string, m *syscalls.Send) (int, error) {
	src := usermem.IOSequence{
		IO:    t.MemoryManager(),
		Addrs: hostarch.AddrRangeSeqFromSlice(m.Iov),
	}
	flags := int(m.Flags) & sendFlags
	var haveDeadline bool
	var deadline ktime.Time
	if dl := s.SendTimeout(); dl > 0 {
		deadline = t.Kernel().MonotonicClock().Now().Add(time.Duration(dl))
		haveDeadline = true
	} else if dl < 0 {
		flags |= linux.MSG_DONTWAIT
	}
	cms, err := control.Parse(t, s.Socket, m.Control, t.Arch().Width())
	if err != nil {
		return 0, err
	}
	n, e := s.Socket.SendMsg(t, src, m.Name, flags, haveDeadline, deadline, cms)
	err = glinux.HandleIOError(t, n != 0, e.ToError(), linuxerr.ERESTARTSYS, op, file)
	// As gVisor's sendSingleMsg: control messages are released on error
	// and for zero-length messages.
	if n == 0 || err != nil {
		cms.Release(t)
	}
	return n, err
}
