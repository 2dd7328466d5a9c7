package sentry

import (
	"time"

	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/ktime"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/socket/control"
	glinux "gvisor.dev/gvisor/pkg/sentry/syscalls/linux"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/usermem"

	"github.com/zcstack/zcstack/syscalls"
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

// zerocopyFile returns the file behind fd with its socket if the file is a
// socket of ours with SO_ZEROCOPY on, or nil if it is anything else, which
// gVisor's handler serves; it looks at no file while no socket of the
// sandbox has had SO_ZEROCOPY. The caller drops the reference.
func zerocopyFile(t *kernel.Task, fd int32) (*vfs.FileDescription, ourSocket, zerocopyState) {
	if !zerocopyUsed.Load() {
		return nil, nil, nil
	}
	file := t.GetFile(fd)
	if file == nil {
		return nil, nil, nil
	}
	if s, ok := socketOf(file); ok {
		if zc, on := zerocopyOn(s); on {
			return file, s, zc
		}
	}
	file.DecRef(t)
	return nil, nil, nil
}

// sysSendTo serves sendto(MSG_ZEROCOPY) on sockets with SO_ZEROCOPY
// (ourSocket.sendTo); every other sendto is gVisor's, without MSG_ZEROCOPY.
func sysSendTo(orig kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		flags := args[3].Int()
		if flags&linux.MSG_ZEROCOPY == 0 {
			return orig(t, sysno, args)
		}
		args = withoutZerocopy(args, 3)
		file, s, _ := zerocopyFile(t, args[0].Int())
		if file == nil || int(args[2].Uint64()) < 0 {
			if file != nil {
				file.DecRef(t)
			}
			return orig(t, sysno, args)
		}
		defer file.DecRef(t)
		n, err := s.sendTo(t, file, uint32(flags), orig, sysno, args)
		return uintptr(n), nil, sysErr(err)
	}
}

// sendTo implements ourSocket.sendTo: gVisor's sendto (orig), accounted as
// a MSG_ZEROCOPY send.
func (s *zcSocket) sendTo(t *kernel.Task, _ *vfs.FileDescription, _ uint32, orig kernel.SyscallFn, sysno uintptr, args arch.SyscallArguments) (int, error) {
	return s.zc.Load().Send(true, int64(args[2].Uint64()), func() (int, error) {
		n, _, err := orig(t, sysno, args)
		return int(n), err
	})
}

// sysSendMsg serves sendmsg on sockets with SO_ZEROCOPY through
// ourSocket.sendMsg (syscalls/ for the message, SCM_ZC_NOTIFICATION and its
// copy-back; zerocopy.Sender for MSG_ZEROCOPY); every other sendmsg is
// gVisor's, without MSG_ZEROCOPY.
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
		n, err := s.sendMsg(t, file, c, args[1].Pointer(), uint32(flags))
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
		n, err := s.sendMMsg(t, file, c, args[1].Pointer(), args[2].Uint(), uint32(flags))
		return uintptr(n), nil, sysErr(err)
	}
}

// sendMsg implements ourSocket.sendMsg: zcsocket.State.SendMsg, with
// gVisor's socket sending (write).
func (s *zcSocket) sendMsg(t *kernel.Task, file *vfs.FileDescription, c syscalls.Call, msgAddr hostarch.Addr, flags uint32) (int, error) {
	return s.zc.Load().SendMsg(&c, msgAddr, flags, func(m *syscalls.Send) (int, error) {
		return s.write(t, file, "sendmsg", m)
	})
}

// sendMMsg implements ourSocket.sendMMsg, as sendMsg.
func (s *zcSocket) sendMMsg(t *kernel.Task, file *vfs.FileDescription, c syscalls.Call, vecAddr hostarch.Addr, vlen, flags uint32) (int, error) {
	return s.zc.Load().SendMMsg(&c, vecAddr, vlen, flags, func(m *syscalls.Send) (int, error) {
		return s.write(t, file, "sendmmsg", m)
	})
}

// write sends one message that syscalls/ read on gVisor's socket
// (writeMsg).
func (s *zcSocket) write(t *kernel.Task, file *vfs.FileDescription, op string, m *syscalls.Send) (int, error) {
	return writeMsg(t, file, s.Socket, op, m, func(flags int, haveDeadline bool, deadline ktime.Time, cms socket.ControlMessages) (int, error) {
		n, e := s.Socket.SendMsg(t, guestIO(t, m), m.Name, flags, haveDeadline, deadline, cms)
		return n, e.ToError()
	})
}

// writeMsg sends m on so as gVisor's sendSingleMsg does once it has read the
// message: the send flags gVisor takes, with MSG_DONTWAIT for a negative
// send timeout and the deadline of a positive one, the control messages
// other than SCM_ZC_NOTIFICATION parsed by gVisor's parser (and released on
// error and for a message with no data), and send's result through gVisor's
// I/O error handling. send is the socket's send.
func writeMsg(t *kernel.Task, file *vfs.FileDescription, so socket.Socket, op string, m *syscalls.Send, send func(flags int, haveDeadline bool, deadline ktime.Time, cms socket.ControlMessages) (int, error)) (int, error) {
	flags := int(m.Flags) & sendFlags
	var haveDeadline bool
	var deadline ktime.Time
	if dl := so.SendTimeout(); dl > 0 {
		deadline = t.Kernel().MonotonicClock().Now().Add(time.Duration(dl))
		haveDeadline = true
	} else if dl < 0 {
		flags |= linux.MSG_DONTWAIT
	}
	cms, err := control.Parse(t, so, m.Control, t.Arch().Width())
	if err != nil {
		return 0, err
	}
	n, err := send(flags, haveDeadline, deadline, cms)
	err = glinux.HandleIOError(t, n != 0, err, linuxerr.ERESTARTSYS, op, file)
	if n == 0 || err != nil {
		cms.Release(t)
	}
	return n, err
}

// guestIO is the data of m in the task's memory, as gVisor's sockets take
// it.
func guestIO(t *kernel.Task, m *syscalls.Send) usermem.IOSequence {
	return usermem.IOSequence{
		IO:    t.MemoryManager(),
		Addrs: hostarch.AddrRangeSeqFromSlice(m.Iov),
	}
}
