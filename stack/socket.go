package stack

import (
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zcsocket"
	"github.com/zcstack/zcstack/zerocopy"
)

// Socket is a TCP or UDP socket of a Stack with Linux semantics. Its methods
// correspond to the socket system calls; they are safe for concurrent use and
// return unix.Errno errors. A Socket blocks like a Linux socket without
// O_NONBLOCK unless SetNonblock(true) is called or MSG_DONTWAIT is passed.
// No lock is held while a call waits: concurrent calls interleave as they
// do on Linux, which releases the socket lock while a call waits.
type Socket struct {
	stack  *Stack
	family int
	stype  int
	proto  int

	ep tcpip.Endpoint
	// wq is netstack's waiter queue of ep; fwd forwards its events to
	// queue after moving netstack's error queue into zc's.
	wq  *waiter.Queue
	fwd waiter.Entry
	// queue is the waiter queue callers register on (EventRegister).
	queue waiter.Queue

	// zc is SO_ZEROCOPY, the MSG_ZEROCOPY ids and the error queue.
	zc *zcsocket.State

	nonblock atomic.Bool
	// rcvlowat is SO_RCVLOWAT, which netstack stores but ignores.
	rcvlowat atomic.Int32
	closed   atomic.Bool

	readDeadline  deadline
	writeDeadline deadline
}

// NewSocket returns a new socket, as socket(2): domain is AF_INET or
// AF_INET6, typ SOCK_STREAM or SOCK_DGRAM (with SOCK_NONBLOCK optionally
// or'ed in) and proto 0 or the matching IPPROTO_TCP or IPPROTO_UDP.
func (s *Stack) NewSocket(domain, typ, proto int) (*Socket, error) {
	nonblock := typ&unix.SOCK_NONBLOCK != 0
	typ &^= unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	netProto, transProto, proto, err := zcsocket.Protocol(domain, typ, proto)
	if err != nil {
		return nil, err
	}
	wq := new(waiter.Queue)
	ep, terr := s.ns.NewEndpoint(transProto, netProto, wq)
	if terr != nil {
		return nil, errnoErr(terr)
	}
	so := s.newSocket(domain, typ, proto, ep, wq)
	so.nonblock.Store(nonblock)
	return so, nil
}

func (s *Stack) newSocket(domain, typ, proto int, ep tcpip.Endpoint, wq *waiter.Queue) *Socket {
	so := &Socket{stack: s, family: domain, stype: typ, proto: proto, ep: ep, wq: wq}
	so.zc = zcsocket.New(ep, zcsocket.Config{
		Family:      domain,
		Type:        typ,
		QueueLimit:  s.opts.ErrorQueueLimit,
		Stats:       &s.stats,
		ErrorReport: func() { so.queue.Notify(waiter.EventErr) },
	})
	so.rcvlowat.Store(1)
	so.readDeadline.init()
	so.writeDeadline.init()
	so.fwd = waiter.NewFunctionEntry(waiter.AllEvents, so.forward)
	wq.EventRegister(&so.fwd)
	return so
}

// forward passes netstack's events on to the socket's waiters. Netstack
// signals EventErr when it queues an ICMP error on a UDP socket (or a TCP
// socket that is connecting); Readiness reports it, and every read of the
// error queue moves it in first.
func (so *Socket) forward(mask waiter.EventMask) {
	so.queue.Notify(mask)
}

// Family returns the socket's domain: AF_INET or AF_INET6.
func (so *Socket) Family() int { return so.family }

// Type returns SOCK_STREAM or SOCK_DGRAM.
func (so *Socket) Type() int { return so.stype }

// ErrorQueue returns the socket's error queue, for its Len and Dropped.
// Its reads (Pop, Take: RecvErr, RecvMsg with MSG_ERRQUEUE, SendMsg) move
// netstack's pending errors in first and set SO_ERROR as Linux does.
func (so *Socket) ErrorQueue() *zerocopy.ErrorQueue { return so.zc.ErrorQueue() }

// Endpoint returns the netstack endpoint under the socket.
func (so *Socket) Endpoint() tcpip.Endpoint { return so.ep }

// SetNonblock sets or clears O_NONBLOCK.
func (so *Socket) SetNonblock(nonblock bool) { so.nonblock.Store(nonblock) }

// SetReadDeadline bounds how long receive and accept calls block; they
// return EAGAIN when it passes, as with SO_RCVTIMEO. The zero time means no
// deadline. Calls blocked at the time are woken to see the new deadline.
func (so *Socket) SetReadDeadline(t time.Time) { so.readDeadline.set(t) }

// SetWriteDeadline bounds how long send and connect calls block, as
// SetReadDeadline does for receives (SO_SNDTIMEO).
func (so *Socket) SetWriteDeadline(t time.Time) { so.writeDeadline.set(t) }

// EventRegister registers e to be notified of the socket's events
// (waiter.EventIn, EventOut, EventErr, EventHUp, EventRdHUp, as POLLIN,
// POLLOUT, POLLERR, POLLHUP and POLLRDHUP). Callbacks are called from
// netstack's goroutines, possibly with its locks held: they must not block
// or call the socket's methods (waiter.NewChannelEntry is the usual entry).
func (so *Socket) EventRegister(e *waiter.Entry) { so.queue.EventRegister(e) }

// EventUnregister undoes EventRegister.
func (so *Socket) EventUnregister(e *waiter.Entry) { so.queue.EventUnregister(e) }

// Readiness returns which of the events in mask are ready, as poll(2) does.
// EventErr and EventHUp are reported whether requested or not; EventErr is
// set while the error queue holds an entry or a socket error is pending.
func (so *Socket) Readiness(mask waiter.EventMask) waiter.EventMask {
	always := waiter.EventErr | waiter.EventHUp
	r := so.ep.Readiness(mask|always|waiter.EventRdHUp) & (mask | always | waiter.EventRdHUp)
	if r&waiter.ReadableEvents != 0 && r&waiter.EventRdHUp == 0 && !so.readable() {
		// tcp_poll: readable once SO_RCVLOWAT bytes are queued.
		r &^= waiter.ReadableEvents
	}
	r &= mask | always
	return r | so.zc.Readiness(waiter.EventErr)
}

// readable reports whether a stream socket holds SO_RCVLOWAT bytes.
func (so *Socket) readable() bool {
	low := int(so.rcvlowat.Load())
	if so.stype != unix.SOCK_STREAM || low <= 1 {
		return true
	}
	q, err := so.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption)
	return err != nil || q >= low
}

// Bind assigns the local address, as bind(2).
func (so *Socket) Bind(addr netip.AddrPort) error {
	if so.closed.Load() {
		return unix.EBADF
	}
	fa, err := so.fullAddress(addr)
	if err != nil {
		return err
	}
	return errnoErr(so.ep.Bind(fa))
}

// Listen marks a stream socket as accepting connections, as listen(2).
func (so *Socket) Listen(backlog int) error {
	if so.closed.Load() {
		return unix.EBADF
	}
	if so.stype != unix.SOCK_STREAM {
		return unix.EOPNOTSUPP
	}
	return errnoErr(so.ep.Listen(backlog))
}

// Accept returns the next connection of a listening socket and its peer's
// address, as accept4(2); flags may hold SOCK_NONBLOCK. The new socket
// inherits SO_ZEROCOPY from the listener, as in Linux.
func (so *Socket) Accept(flags int) (*Socket, netip.AddrPort, error) {
	if so.closed.Load() {
		return nil, netip.AddrPort{}, unix.EBADF
	}
	if so.stype != unix.SOCK_STREAM {
		return nil, netip.AddrPort{}, unix.EOPNOTSUPP
	}
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return nil, netip.AddrPort{}, unix.EINVAL
	}
	var peer tcpip.FullAddress
	b := blocker{so: so, mask: waiter.ReadableEvents, dl: &so.readDeadline}
	defer b.done()
	var ep tcpip.Endpoint
	var wq *waiter.Queue
	for {
		var terr tcpip.Error
		ep, wq, terr = so.ep.Accept(&peer)
		err := errnoErr(terr)
		if err == nil {
			break
		}
		if err == unix.EAGAIN {
			err = b.wait()
		}
		if err != nil {
			if so.closed.Load() {
				// Woken by Close.
				err = unix.EBADF
			}
			return nil, netip.AddrPort{}, err
		}
	}
	ns := so.stack.newSocket(so.family, so.stype, so.proto, ep, wq)
	ns.zc.SetZerocopy(so.zc.ZerocopyEnabled())
	ns.rcvlowat.Store(so.rcvlowat.Load())
	ns.nonblock.Store(flags&unix.SOCK_NONBLOCK != 0)
	return ns, ns.sockAddr(peer), nil
}

// Connect connects the socket to addr, as connect(2). A non-blocking TCP
// socket returns EINPROGRESS; SO_ERROR then holds the outcome. An invalid
// addr (netip.AddrPort{}) on a UDP socket dissolves its association.
func (so *Socket) Connect(addr netip.AddrPort) error {
	if so.closed.Load() {
		return unix.EBADF
	}
	if so.stype == unix.SOCK_DGRAM && !addr.IsValid() {
		return errnoErr(so.ep.Disconnect())
	}
	fa, err := so.fullAddress(addr)
	if err != nil {
		return err
	}
	e, ch := waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
	so.queue.EventRegister(&e)
	defer so.queue.EventUnregister(&e)
	terr := so.ep.Connect(fa)
	if _, ok := terr.(*tcpip.ErrConnectStarted); !ok {
		return errnoErr(terr)
	}
	if so.nonblock.Load() {
		return unix.EINPROGRESS
	}
	for !so.closed.Load() && so.ep.Readiness(waiter.WritableEvents|waiter.EventHUp|waiter.EventErr) == 0 {
		if err := so.writeDeadline.wait(ch); err != nil {
			return unix.EINPROGRESS
		}
	}
	if so.closed.Load() {
		// Woken by Close.
		return unix.EBADF
	}
	return errnoErr(so.ep.LastError())
}

// Shutdown shuts down part of a full-duplex connection, as shutdown(2):
// how is SHUT_RD, SHUT_WR or SHUT_RDWR.
func (so *Socket) Shutdown(how int) error {
	if so.closed.Load() {
		return unix.EBADF
	}
	var f tcpip.ShutdownFlags
	switch how {
	case unix.SHUT_RD:
		f = tcpip.ShutdownRead
	case unix.SHUT_WR:
		f = tcpip.ShutdownWrite
	case unix.SHUT_RDWR:
		f = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		return unix.EINVAL
	}
	return errnoErr(so.ep.Shutdown(f))
}

// Close closes the socket. Calls blocked in it return, with EBADF unless
// they had sent or received data, and later calls fail with EBADF. (On
// Linux close(2) leaves blocked calls waiting; Go's package net wakes them
// with net.ErrClosed, which is what Conn, Listener and UDPConn return.)
func (so *Socket) Close() error {
	if so.closed.Swap(true) {
		return unix.EBADF
	}
	so.ep.Close()
	so.wq.EventUnregister(&so.fwd)
	so.queue.Notify(waiter.EventHUp | waiter.EventErr | waiter.ReadableEvents | waiter.WritableEvents)
	return nil
}

// LocalAddr returns the bound address, as getsockname(2).
func (so *Socket) LocalAddr() (netip.AddrPort, error) {
	fa, err := so.ep.GetLocalAddress()
	if err != nil {
		return netip.AddrPort{}, errnoErr(err)
	}
	return so.sockAddr(fa), nil
}

// RemoteAddr returns the peer's address, as getpeername(2).
func (so *Socket) RemoteAddr() (netip.AddrPort, error) {
	fa, err := so.ep.GetRemoteAddress()
	if err != nil {
		return netip.AddrPort{}, errnoErr(err)
	}
	return so.sockAddr(fa), nil
}
