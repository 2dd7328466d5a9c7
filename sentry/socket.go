package sentry

import (
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/context"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/socket/netstack"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zcsocket"
)

// zcSocket is the file description of an AF_INET/AF_INET6 TCP or UDP socket
// under runsc-zc. It embeds gVisor's netstack socket, to which everything is
// forwarded, and adds the zerocopy state of the socket (Linux SOCK_ZEROCOPY,
// sk_zckey and sk_error_queue), which exists from the first
// setsockopt(SO_ZEROCOPY) on.
//
// The guest's descriptors refer to vfsfd; the netstack socket's own file
// description (inner) is referenced only by zcSocket, so that dup, fork,
// SCM_RIGHTS, close and the status flags all act on vfsfd, exactly as they
// act on a plain socket's file description.
type zcSocket struct {
	vfsfd vfs.FileDescription
	// Socket is the netstack socket, the implementation of inner.
	socket.Socket

	inner    *vfs.FileDescription
	ep       tcpip.Endpoint
	wq       *waiter.Queue
	family   int
	skType   linux.SockType
	protocol int

	// zc is nil until the socket first has SO_ZEROCOPY set (or inherits it
	// from its listener). Sockets that never use zerocopy only pay for the
	// nil check.
	zc atomic.Pointer[zcsocket.State] `state:".(*zcsocket.State)"`
	// zcMu serializes the creation of zc.
	zcMu sync.Mutex `state:"nosave"`
}

var _ socket.Socket = (*zcSocket)(nil)

// newZCSocket wraps the netstack socket that netstack.New makes of ep, and
// records it in the kernel's socket table as socket.New does.
func newZCSocket(t *kernel.Task, family int, skType linux.SockType, protocol int, wq *waiter.Queue, ep tcpip.Endpoint) (*vfs.FileDescription, *syserr.Error) {
	inner, serr := netstack.New(t, family, skType, protocol, wq, ep)
	if serr != nil {
		return nil, serr
	}
	s := &zcSocket{
		Socket:   inner.Impl().(socket.Socket),
		inner:    inner,
		ep:       ep,
		wq:       wq,
		family:   family,
		skType:   skType,
		protocol: protocol,
	}
	if serr := wrapSocket(t, &s.vfsfd, s, inner); serr != nil {
		return nil, serr
	}
	t.Kernel().RecordSocket(inner)
	return &s.vfsfd, nil
}

// wrapSocket makes vfsfd, whose implementation is impl, the file description
// of a socket of ours around gVisor's socket file inner: a socket file on
// inner's dentry. It drops inner if it fails.
func wrapSocket(t *kernel.Task, vfsfd *vfs.FileDescription, impl vfs.FileDescriptionImpl, inner *vfs.FileDescription) *syserr.Error {
	vd := inner.VirtualDentry()
	if err := vfsfd.Init(impl, linux.O_RDWR, t.Credentials(), vd.Mount(), vd.Dentry(), &vfs.FileDescriptionOptions{
		DenyPRead:         true,
		DenyPWrite:        true,
		UseDentryMetadata: true,
		SpecialFile:       true,
	}); err != nil {
		inner.DecRef(t)
		return syserr.FromError(err)
	}
	return nil
}

// Release implements vfs.FileDescriptionImpl.Release: it drops the only
// reference to the netstack socket, which closes the endpoint.
func (s *zcSocket) Release(ctx context.Context) {
	s.inner.DecRef(ctx)
}

// Readiness implements waiter.Waitable.Readiness. A socket whose error queue
// holds an entry is ready for EventErr, as in Linux's tcp_poll and
// datagram_poll (POLLERR when sk_error_queue is not empty).
func (s *zcSocket) Readiness(mask waiter.EventMask) waiter.EventMask {
	r := s.Socket.Readiness(mask)
	if zc := s.zc.Load(); zc != nil {
		r |= zc.Readiness(mask)
	}
	return r
}

// zcState returns the socket's zerocopy state, creating it if create is set.
// Once it exists, its error queue is the one the guest reads.
func (s *zcSocket) zcState(create bool) *zcsocket.State {
	if zc := s.zc.Load(); zc != nil || !create {
		return zc
	}
	s.zcMu.Lock()
	defer s.zcMu.Unlock()
	if zc := s.zc.Load(); zc != nil {
		return zc
	}
	zc := zcsocket.New(s.ep, s.zcConfig())
	s.zc.Store(zc)
	return zc
}

// zcConfig returns the configuration of the socket's zerocopy state: the
// sandbox's Stats, and POLLERR waiters woken on the socket's queue.
func (s *zcSocket) zcConfig() zcsocket.Config {
	return zcsocket.Config{
		Family:      s.family,
		Type:        int(s.skType),
		Stats:       &sandboxStats,
		ErrorReport: func() { s.wq.Notify(waiter.EventErr) },
	}
}

// zerocopyUsed is set once a socket of the sandbox has had SO_ZEROCOPY on,
// as the series enables its tx_copy_cmsg_to_user_key static branch at the
// first setsockopt(SO_ZEROCOPY): until then, sendmsg, sendmmsg and sendto
// go to gVisor without a look at the file.
var zerocopyUsed atomic.Bool

// enableZerocopy sets SO_ZEROCOPY.
func (s *zcSocket) enableZerocopy() {
	zerocopyUsed.Store(true)
	s.zcState(true).SetZerocopy(true)
}

// recvErrOn implements ourSocket.recvErrOn.
func (s *zcSocket) recvErrOn(level int32) bool {
	if level == linux.SOL_IPV6 {
		return s.ep.SocketOptions().GetIPv6RecvError()
	}
	return s.ep.SocketOptions().GetIPv4RecvError()
}

// zerocopy implements ourSocket.zerocopy.
func (s *zcSocket) zerocopy(create bool) zerocopyState {
	if zc := s.zcState(create); zc != nil {
		return zc
	}
	return nil
}

// setZerocopy implements ourSocket.setZerocopy: 0 or 1, else EINVAL, as
// Linux's sk_setsockopt on a TCP or UDP socket.
func (s *zcSocket) setZerocopy(v int32) error {
	on, err := zcsocket.ZerocopyValue(v)
	if err != nil {
		return err
	}
	if on {
		s.enableZerocopy()
	} else if zc := s.zc.Load(); zc != nil {
		zc.SetZerocopy(false)
	}
	return nil
}

// setSockErr implements ourSocket.setSockErr.
func (s *zcSocket) setSockErr(errno uint32) {
	if zc := s.zc.Load(); zc != nil {
		zc.SetSockErr(errno)
	}
}

// Accept implements socket.Socket.Accept as gVisor's netstack socket does,
// but the accepted socket is a zcSocket too, with SO_ZEROCOPY inherited from
// the listener (Linux sk_clone_lock copies sk_flags).
func (s *zcSocket) Accept(t *kernel.Task, peerRequested bool, flags int, blocking bool) (int32, linux.SockAddr, uint32, *syserr.Error) {
	var peerAddr *tcpip.FullAddress
	if peerRequested {
		peerAddr = &tcpip.FullAddress{}
	}
	ep, wq, terr := s.ep.Accept(peerAddr)
	if terr != nil {
		if _, ok := terr.(*tcpip.ErrWouldBlock); !ok || !blocking {
			return 0, nil, 0, syserr.TranslateNetstackError(terr)
		}
		var err *syserr.Error
		ep, wq, err = s.blockingAccept(t, peerAddr)
		if err != nil {
			return 0, nil, 0, err
		}
	}

	nfile, serr := newZCSocket(t, s.family, s.skType, s.protocol, wq, ep)
	if serr != nil {
		return 0, nil, 0, serr
	}
	defer nfile.DecRef(t)
	if zc := s.zc.Load(); zc != nil && zc.ZerocopyEnabled() {
		nfile.Impl().(*zcSocket).enableZerocopy()
	}
	if err := nfile.SetStatusFlags(t, t.Credentials(), uint32(flags&linux.SOCK_NONBLOCK)); err != nil {
		return 0, nil, 0, syserr.FromError(err)
	}

	var addr linux.SockAddr
	var addrLen uint32
	if peerAddr != nil {
		addr, addrLen = socket.ConvertAddress(s.family, *peerAddr)
	}
	fd, err := t.NewFDFrom(0, nfile, kernel.FDFlags{CloseOnExec: flags&linux.SOCK_CLOEXEC != 0})
	return fd, addr, addrLen, syserr.FromError(err)
}

// blockingAccept waits for a connection to accept, as gVisor's netstack
// socket does.
func (s *zcSocket) blockingAccept(t *kernel.Task, peerAddr *tcpip.FullAddress) (tcpip.Endpoint, *waiter.Queue, *syserr.Error) {
	e, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	s.EventRegister(&e)
	defer s.EventUnregister(&e)
	for {
		ep, wq, err := s.ep.Accept(peerAddr)
		if _, ok := err.(*tcpip.ErrWouldBlock); !ok {
			return ep, wq, syserr.TranslateNetstackError(err)
		}
		if err := t.Block(ch); err != nil {
			return nil, nil, syserr.FromError(err)
		}
	}
}
