package sentry

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/context"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/socket/hostinet"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zchost"
)

// hostSocket is the file description of an AF_INET/AF_INET6 TCP or UDP
// socket of gVisor's hostinet (runsc --network=host) under runsc-zc: a host
// socket. Like zcSocket it embeds gVisor's socket, to which everything is
// forwarded, and adds the zerocopy state (zchost.State), which exists from
// the first setsockopt(SO_ZEROCOPY) on; the guest's descriptors refer to
// vfsfd and hostinet's own file description (inner) only to it.
type hostSocket struct {
	vfsfd vfs.FileDescription
	// Socket is hostinet's socket, the implementation of inner.
	socket.Socket

	inner    *vfs.FileDescription
	host     *hostinet.Socket
	family   int
	skType   linux.SockType
	protocol int

	// zc is nil until the socket first has SO_ZEROCOPY set (or inherits it
	// from its listener). A checkpoint saves SO_ZEROCOPY (see
	// hostinet_state.go).
	zc atomic.Pointer[zchost.State] `state:".(bool)"`
	// zcMu serializes the creation of zc.
	zcMu sync.Mutex `state:"nosave"`

	// sockErr is the errno a partial recvmmsg of the error queue left as
	// the socket error (setSockErr), 0 if none.
	sockErr atomic.Uint32 `state:".(uint32)"`
}

var _ socket.Socket = (*hostSocket)(nil)

// zerocopySockOpt is SO_ZEROCOPY as hostinet.SockOpts lists the options its
// sockets pass to the host: an int, set and read.
var zerocopySockOpt = hostinet.SockOpt{Level: linux.SOL_SOCKET, Name: linux.SO_ZEROCOPY, Size: 4, AllowGet: true, AllowSet: true}

// The sentry's seccomp filters let the host setsockopt and getsockopt the
// options of hostinet.SockOpts, which runsc reads when it builds them at
// boot (runsc/boot/filter/config/extra_filters_hostinet.go; the Go module's
// build has no precompiled filters): SO_ZEROCOPY joins them here, before
// main, unless gVisor lists it already.
func init() {
	for _, o := range hostinet.SockOpts {
		if o.Level == zerocopySockOpt.Level && o.Name == zerocopySockOpt.Name {
			return
		}
	}
	hostinet.SockOpts = append(hostinet.SockOpts, zerocopySockOpt)
}

// newHostSocket wraps inner, a socket file of hostinet, and takes over the
// caller's reference to it.
func newHostSocket(t *kernel.Task, inner *vfs.FileDescription) (*vfs.FileDescription, *syserr.Error) {
	host := inner.Impl().(*hostinet.Socket)
	family, skType, protocol := host.Type()
	s := &hostSocket{
		Socket:   host,
		inner:    inner,
		host:     host,
		family:   family,
		skType:   skType,
		protocol: protocol,
	}
	if serr := wrapSocket(t, &s.vfsfd, s, inner); serr != nil {
		return nil, serr
	}
	return &s.vfsfd, nil
}

// Release implements vfs.FileDescriptionImpl.Release: it releases the guest
// memory of the sends the host still holds and drops the only reference to
// hostinet's socket, which closes the host socket.
func (s *hostSocket) Release(ctx context.Context) {
	if zc := s.zc.Load(); zc != nil {
		zc.Close()
	}
	s.inner.DecRef(ctx)
}

// Readiness implements waiter.Waitable.Readiness: the host socket's, and
// EventErr while the guest's error queue holds an entry. The host reports
// POLLERR for what its own error queue holds.
func (s *hostSocket) Readiness(mask waiter.EventMask) waiter.EventMask {
	r := s.Socket.Readiness(mask)
	if zc := s.zc.Load(); zc != nil && mask&waiter.EventErr != 0 && zc.ErrorQueue().Ready() {
		r |= waiter.EventErr
	}
	return r
}

// zcState returns the socket's zerocopy state, creating it if create is set.
// Once it exists, its error queue is the one the guest reads.
func (s *hostSocket) zcState(create bool) *zchost.State {
	if zc := s.zc.Load(); zc != nil || !create {
		return zc
	}
	return s.newZCState(false)
}

// newZCState makes the socket's zerocopy state, with SO_ZEROCOPY as on,
// unless it exists.
func (s *hostSocket) newZCState(on bool) *zchost.State {
	s.zcMu.Lock()
	defer s.zcMu.Unlock()
	if zc := s.zc.Load(); zc != nil {
		return zc
	}
	q := hostQueue(s.host)
	zc := zchost.New(zchost.Config{
		Family:   s.family,
		Type:     int(s.skType),
		FD:       func() int { return hostFD(s.host) },
		Zerocopy: on,
		Stats:    &sandboxStats,
		// Waking waiters is all it does: it may run with the State's
		// lock held.
		ErrorReport: func() { q.Notify(waiter.EventErr) },
	})
	s.zc.Store(zc)
	return zc
}

// zerocopy implements ourSocket.zerocopy.
func (s *hostSocket) zerocopy(create bool) zerocopyState {
	if zc := s.zcState(create); zc != nil {
		return zc
	}
	return nil
}

// setZerocopy implements ourSocket.setZerocopy: the host socket's
// setsockopt, whose errno is the guest's.
func (s *hostSocket) setZerocopy(v int32) error {
	if v != 0 {
		zerocopyUsed.Store(true)
	}
	return hostErr(s.zcState(true).SetZerocopy(v))
}

// recvErrOn implements ourSocket.recvErrOn: the host socket's option.
func (s *hostSocket) recvErrOn(level int32) bool {
	name := unix.IP_RECVERR
	if level == linux.SOL_IPV6 {
		name = unix.IPV6_RECVERR
	}
	v, err := unix.GetsockoptInt(hostFD(s.host), int(level), name)
	return err == nil && v != 0
}

// setSockErr implements ourSocket.setSockErr. The host kernel holds the
// socket error of a host socket, which cannot be set: the errno waits in
// sockErr for getsockopt(SO_ERROR) (sockErrOpt), which Linux would also
// report it to; unlike Linux, the next send or receive does not.
func (s *hostSocket) setSockErr(errno uint32) {
	hostSockErrUsed.Store(true)
	s.sockErr.Store(errno)
}

// hostSockErrUsed is set once a host socket of the sandbox has had a socket
// error set by setSockErr: until then getsockopt(SO_ERROR) goes to gVisor
// without a look at the file.
var hostSockErrUsed atomic.Bool

// sockErrOpt is getsockopt(SOL_SOCKET, SO_ERROR): on a host socket with a
// socket error left by setSockErr, that errno, read and cleared as
// sock_error does, with the host's own socket error cleared as well (Linux
// has one, which the errno replaced); else gVisor's, which asks the host.
func sockErrOpt(t *kernel.Task, sysno uintptr, args arch.SyscallArguments, orig kernel.SyscallFn) (uintptr, *kernel.SyscallControl, error) {
	if !hostSockErrUsed.Load() {
		return orig(t, sysno, args)
	}
	file := t.GetFile(args[0].Int())
	if file == nil {
		return orig(t, sysno, args)
	}
	defer file.DecRef(t)
	s, ok := file.Impl().(*hostSocket)
	if !ok {
		return orig(t, sysno, args)
	}
	errno := s.sockErr.Swap(0)
	if errno == 0 {
		return orig(t, sysno, args)
	}
	if fd := hostFD(s.host); fd >= 0 {
		_, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	}
	return 0, nil, putIntOpt(t, args, errno)
}

// Accept implements socket.Socket.Accept as hostinet's socket does, but the
// accepted socket is a hostSocket too, with SO_ZEROCOPY set as on the
// listener (the host's accepted socket inherits it, unless the listener was
// restored from a checkpoint).
func (s *hostSocket) Accept(t *kernel.Task, peerRequested bool, flags int, blocking bool) (int32, linux.SockAddr, uint32, *syserr.Error) {
	fd := hostFD(s.host)
	if fd < 0 {
		return 0, nil, 0, syserr.ErrConnectionAborted
	}
	var peer []byte
	if peerRequested {
		peer = make([]byte, unix.SizeofSockaddrInet6)
	}
	nfd, peerLen, err := accept4(fd, peer)
	if blocking && err == unix.EAGAIN {
		e, ch := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
		if err := s.EventRegister(&e); err != nil {
			return 0, nil, 0, syserr.FromError(err)
		}
		defer s.EventUnregister(&e)
		for nfd, peerLen, err = accept4(fd, peer); err == unix.EAGAIN; nfd, peerLen, err = accept4(fd, peer) {
			if err := t.Block(ch); err != nil {
				return 0, nil, 0, syserr.FromError(err)
			}
		}
	}
	var peerAddr linux.SockAddr
	if peerRequested {
		peerAddr = socket.UnmarshalSockAddr(s.family, peer[:peerLen])
	}
	if err != nil {
		if err == unix.EAGAIN {
			return 0, peerAddr, peerLen, syserr.FromError(linuxerr.ErrWouldBlock)
		}
		return 0, peerAddr, peerLen, syserr.FromError(err)
	}

	inner, serr := newHostinetSocket(t, s.family, s.skType, s.protocol, nfd, uint32(flags&unix.SOCK_NONBLOCK))
	if serr != nil {
		_ = unix.Close(nfd)
		return 0, nil, 0, serr
	}
	t.Kernel().RecordSocket(inner)
	nfile, serr := newHostSocket(t, inner)
	if serr != nil {
		return 0, nil, 0, serr
	}
	defer nfile.DecRef(t)
	if zc := s.zc.Load(); zc != nil && zc.ZerocopyEnabled() {
		if err := nfile.Impl().(*hostSocket).setZerocopy(1); err != nil {
			return 0, nil, 0, syserr.FromError(err)
		}
	}
	if err := nfile.SetStatusFlags(t, t.Credentials(), uint32(flags&linux.SOCK_NONBLOCK)); err != nil {
		return 0, nil, 0, syserr.FromError(err)
	}
	kfd, err := t.NewFDFrom(0, nfile, kernel.FDFlags{CloseOnExec: flags&linux.SOCK_CLOEXEC != 0})
	return kfd, peerAddr, peerLen, syserr.FromError(err)
}
