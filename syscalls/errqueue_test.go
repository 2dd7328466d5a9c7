package syscalls

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// recvSetup lays out a recvmsg msghdr with a 28-byte name buffer, two
// iovecs of 3 and 8 bytes and a 100-byte control buffer, all 0xaa.
func recvSetup(g *guest) (hdr, name, d1, d2, ctl hostarch.Addr) {
	name = g.put(filled(unix.SizeofSockaddrInet6))
	d1, d2 = g.put(filled(3)), g.put(filled(8))
	ctl = g.put(filled(100))
	hdr = g.put(g.msghdr(msg{name: name, namelen: unix.SizeofSockaddrInet6,
		iov: g.put(g.iovecs(uint64(d1), 3, uint64(d2), 8)), iovlen: 2,
		control: ctl, controllen: 100}))
	return
}

func TestRecvErrQueueEntries(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	ee := unix.SockExtendedErr{Errno: uint32(unix.EHOSTUNREACH), Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 1, Info: 7, Data: 9}
	// struct sock_extended_err of ee, little endian.
	eeBytes := []byte{113, 0, 0, 0, 2, 3, 1, 0, 7, 0, 0, 0, 9, 0, 0, 0}
	sin := func(a [4]byte, port uint16) []byte {
		b := []byte{unix.AF_INET, 0, byte(port >> 8), byte(port)}
		return append(append(b, a[:]...), make([]byte, 8)...)
	}
	sin6 := func(a [16]byte, port uint16) []byte {
		b := []byte{unix.AF_INET6, 0, byte(port >> 8), byte(port), 0, 0, 0, 0}
		return append(append(b, a[:]...), 0, 0, 0, 0)
	}
	for _, tt := range []struct {
		name     string
		family   int
		e        zerocopy.Entry
		n        int
		msgName  []byte // nil: msg_namelen 0
		offender []byte
		data     []byte // over both iovecs
		flags    uint32
	}{{
		name: "v4 with payload over two iovecs", family: unix.AF_INET,
		e: zerocopy.Entry{Err: ee, Offender: v4, Dst: netip.AddrPortFrom(v4, 53), Payload: []byte("abcdefgh")},
		n: 8, msgName: sin(v4.As4(), 53), offender: sin(v4.As4(), 0), data: []byte("abcdefgh"),
		flags: unix.MSG_ERRQUEUE,
	}, {
		name: "v4 payload truncated", family: unix.AF_INET,
		e: zerocopy.Entry{Err: ee, Payload: bytes.Repeat([]byte("z"), 20)},
		n: 11, offender: make([]byte, unix.SizeofSockaddrInet4), data: bytes.Repeat([]byte("z"), 11),
		flags: unix.MSG_ERRQUEUE | unix.MSG_TRUNC,
	}, {
		name: "v6 socket, v4 addresses mapped", family: unix.AF_INET6,
		e:       zerocopy.Entry{Err: ee, Offender: v4, Dst: netip.AddrPortFrom(v4, 53)},
		msgName: sin6(netip.AddrFrom16(v4.As16()).As16(), 53), offender: sin6(netip.AddrFrom16(v4.As16()).As16(), 0),
		flags: unix.MSG_ERRQUEUE,
	}, {
		name: "v6", family: unix.AF_INET6,
		e:       zerocopy.Entry{Err: ee, Offender: v6, Dst: netip.AddrPortFrom(v6, 9)},
		msgName: sin6(v6.As16(), 9), offender: sin6(v6.As16(), 0),
		flags: unix.MSG_ERRQUEUE,
	}, {
		name: "v4 socket given v6 addresses", family: unix.AF_INET,
		e:       zerocopy.Entry{Err: ee, Offender: v6, Dst: netip.AddrPortFrom(v6, 9)},
		msgName: sin([4]byte{}, 9), offender: sin([4]byte{}, 0),
		flags: unix.MSG_ERRQUEUE,
	}} {
		for _, abi := range []ABI{ABI64, ABICompat} {
			t.Run(abi.String()+"/"+tt.name, func(t *testing.T) {
				g := newGuest(t, abi)
				hdr, name, d1, d2, ctl := recvSetup(g)
				q := zerocopy.NewErrorQueue(zerocopy.QueueConfig{})
				q.Push(tt.e)
				c := &Call{Mem: g.mem, ABI: abi, Sock: &fakeSocket{family: tt.family, q: q}}
				n, err := c.RecvErrQueue(hdr, unix.MSG_ERRQUEUE)
				if n != tt.n || err != nil {
					t.Fatalf("got (%d, %v), want %d", n, err, tt.n)
				}
				lay := abi.layout()
				hb := g.mem.read(hdr, lay.msghdrSize)
				namelen := int(binary.LittleEndian.Uint32(hb[lay.offNamelen:]))
				if namelen != len(tt.msgName) || !bytes.Equal(g.mem.read(name, namelen), tt.msgName) {
					t.Errorf("name %x (%d), want %x", g.mem.read(name, namelen), namelen, tt.msgName)
				}
				data := append(g.mem.read(d1, 3), g.mem.read(d2, 8)...)
				if want := append(tt.data, filled(11-len(tt.data))...); !bytes.Equal(data, want) {
					t.Errorf("data %x, want %x", data, want)
				}
				level, typ := int32(unix.SOL_IP), int32(unix.IP_RECVERR)
				if tt.family == unix.AF_INET6 {
					level, typ = unix.SOL_IPV6, unix.IPV6_RECVERR
				}
				payload := append(eeBytes, tt.offender...)
				// put_cmsg writes CMSG_LEN bytes and advances CMSG_SPACE.
				want := g.cmsg(level, typ, payload)[:abi.layout().cmsgLen(len(payload))]
				if got := g.mem.read(ctl, len(want)+1); !bytes.Equal(got, append(want, 0xaa)) {
					t.Errorf("control\n%x, want\n%x", got, want)
				}
				if got := lay.getWord(hb[lay.offControllen:]); got != uint64(abi.layout().cmsgSpace(len(payload))) {
					t.Errorf("controllen %d, want %d", got, abi.layout().cmsgSpace(len(payload)))
				}
				if got := binary.LittleEndian.Uint32(hb[lay.offFlags:]); got != tt.flags {
					t.Errorf("flags %#x, want %#x", got, tt.flags)
				}
			})
		}
	}
}

// TestRecvErrQueueConsumes: as on Linux, a dequeued entry is consumed by a
// call that faults after the dequeue, or whose control buffer faults (the
// call then succeeds).
func TestRecvErrQueueConsumes(t *testing.T) {
	c1 := zerocopy.Completion{Lo: 4, Hi: 9, Copied: true}
	for _, tt := range []struct {
		name  string
		setup func(g *guest) hostarch.Addr
		err   error
	}{{
		name: "control faults: success, completion consumed",
		setup: func(g *guest) hostarch.Addr {
			return g.put(g.msghdr(msg{control: g.hole(), controllen: 100}))
		},
	}, {
		name: "msghdr read-only: EFAULT, completion consumed",
		setup: func(g *guest) hostarch.Addr {
			b := g.msghdr(msg{control: g.alloc(100), controllen: 100})
			a := g.beforeHole(len(b))
			g.mem.write(a, b)
			g.mem.protect(a, true)
			return a
		},
		err: unix.EFAULT,
	}} {
		for _, abi := range []ABI{ABI64, ABICompat} {
			t.Run(abi.String()+"/"+tt.name, func(t *testing.T) {
				g := newGuest(t, abi)
				q := zerocopy.NewErrorQueue(zerocopy.QueueConfig{})
				q.Complete(c1)
				q.Complete(zerocopy.Completion{Lo: 10, Hi: 10})
				c := &Call{Mem: g.mem, ABI: abi, Sock: &fakeSocket{family: unix.AF_INET, q: q}}
				if n, err := c.RecvErrQueue(tt.setup(g), unix.MSG_ERRQUEUE); n != 0 || err != tt.err {
					t.Errorf("got (%d, %v), want (0, %v)", n, err, tt.err)
				}
				if got := drain(q); !reflect.DeepEqual(got, []zerocopy.Completion{{Lo: 10, Hi: 10}}) {
					t.Errorf("queue %v", got)
				}
			})
		}
	}
}

func TestRecvErrQueueNoQueue(t *testing.T) {
	g := newGuest(t, ABI64)
	c := &Call{Mem: g.mem, Sock: &fakeSocket{family: unix.AF_INET}}
	hdr := g.put(g.msghdr(msg{}))
	if _, err := c.RecvErrQueue(hdr, unix.MSG_ERRQUEUE); err != unix.EAGAIN {
		t.Errorf("got %v, want EAGAIN", err)
	}
	if _, err := c.RecvMMsgErrQueue(g.put(mmsgVec(g, 1, nil)), 1, unix.MSG_ERRQUEUE, nil); err != unix.EAGAIN {
		t.Errorf("recvmmsg: got %v, want EAGAIN", err)
	}
}

// failingMem fails reads of [addr, addr+n) after the first `after` reads
// that touch it: memory that the guest unmaps while the call runs.
type failingMem struct {
	*pageMem
	addr  hostarch.Addr
	n     int
	after int
}

func (m *failingMem) CopyInBytes(addr hostarch.Addr, dst []byte) (int, error) {
	if addr < m.addr+hostarch.Addr(m.n) && addr+hostarch.Addr(len(dst)) > m.addr {
		if m.after == 0 {
			return 0, unix.EFAULT
		}
		m.after--
	}
	return m.pageMem.CopyInBytes(addr, dst)
}

func TestRecvErrQueueFaults(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	icmp := zerocopy.Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP},
		Offender: v4, Dst: netip.AddrPortFrom(v4, 7), Payload: []byte("hello")}
	for _, abi := range []ABI{ABI64, ABICompat} {
		lay := abi.layout()
		for _, tt := range []struct {
			name  string
			entry zerocopy.Entry
			setup func(g *guest) (Memory, hostarch.Addr)
			err   error
			kept  bool // the entry is still queued: the call failed before taking it
		}{{
			name: "msghdr unreadable", entry: icmp, err: unix.EFAULT, kept: true,
			setup: func(g *guest) (Memory, hostarch.Addr) { return g.mem, g.hole() },
		}, {
			name: "payload into a hole", entry: icmp, err: unix.EFAULT,
			setup: func(g *guest) (Memory, hostarch.Addr) {
				return g.mem, g.put(g.msghdr(msg{iov: g.put(g.iovecs(uint64(g.beforeHole(2)), 8)), iovlen: 1}))
			},
		}, {
			name: "msg_namelen unreadable on the second look", entry: icmp, err: unix.EFAULT,
			setup: func(g *guest) (Memory, hostarch.Addr) {
				hdr := g.put(g.msghdr(msg{name: g.alloc(16), namelen: 16}))
				return &failingMem{pageMem: g.mem, addr: hdr + hostarch.Addr(lay.offNamelen), n: 4, after: 1}, hdr
			},
		}, {
			name: "msg_controllen read-only, msg_flags writable", entry: zerocopy.Entry{Err: zerocopy.Completion{Lo: 1, Hi: 1}.ExtendedErr()},
			err: unix.EFAULT,
			setup: func(g *guest) (Memory, hostarch.Addr) {
				b := g.msghdr(msg{control: g.alloc(64), controllen: 64})
				// The page boundary falls between msg_controllen and
				// msg_flags.
				split := lay.offControllen + lay.word
				page := g.beforeHole(0) - hostarch.PageSize
				hdr := page - hostarch.Addr(split)
				g.mem.mapRange(hdr, len(b), false)
				g.mem.write(hdr, b)
				g.mem.protect(hdr, true)
				return g.mem, hdr
			},
		}, {
			name: "payload fits the first iovec", entry: icmp,
			setup: func(g *guest) (Memory, hostarch.Addr) {
				return g.mem, g.put(g.msghdr(msg{iov: g.put(g.iovecs(uint64(g.alloc(8)), 8, 0, 8)), iovlen: 2}))
			},
		}} {
			t.Run(abi.String()+"/"+tt.name, func(t *testing.T) {
				g := newGuest(t, abi)
				mem, hdr := tt.setup(g)
				q := zerocopy.NewErrorQueue(zerocopy.QueueConfig{})
				q.Push(tt.entry)
				c := &Call{Mem: mem, ABI: abi, Sock: &fakeSocket{family: unix.AF_INET, q: q}}
				_, err := c.RecvErrQueue(hdr, unix.MSG_ERRQUEUE)
				if err != tt.err {
					t.Errorf("got %v, want %v", err, tt.err)
				}
				if kept := q.Len() == 1; kept != tt.kept {
					t.Errorf("entry kept: %v, want %v", kept, tt.kept)
				}
			})
		}
	}
}

func TestRecvMMsgMsgLenFault(t *testing.T) {
	g := newGuest(t, ABI64)
	b := mmsgVec(g, 2, nil)
	// Entry 0's msg_len is on a read-only page.
	vec := g.beforeHole(0) - hostarch.PageSize - hostarch.Addr(ABI64.layout().offMsgLen)
	g.mem.mapRange(vec, len(b), false)
	g.mem.write(vec, b)
	g.mem.protect(vec+hostarch.Addr(ABI64.layout().offMsgLen), true)
	q := zerocopy.NewErrorQueue(zerocopy.QueueConfig{})
	q.Complete(zerocopy.Completion{Lo: 1, Hi: 1})
	c := &Call{Mem: g.mem, Sock: &fakeSocket{family: unix.AF_INET, q: q}}
	if n, err := c.RecvMMsgErrQueue(vec, 2, unix.MSG_ERRQUEUE, nil); n != 0 || err != unix.EFAULT {
		t.Errorf("got (%d, %v), want EFAULT", n, err)
	}
	if q.Len() != 0 {
		t.Errorf("the entry whose msg_len faulted is still queued; Linux consumes it")
	}
}

// TestRecvFromErrQueue: recvfrom(MSG_ERRQUEUE) returns the payload,
// truncated to the buffer, and the destination through move_addr_to_user;
// the buffer is checked before the entry is taken, and faults after that
// consume it.
func TestRecvFromErrQueue(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	icmp := zerocopy.Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP},
		Offender: v4, Dst: netip.AddrPortFrom(v4, 7), Payload: []byte("hello")}
	comp := zerocopy.Entry{Err: zerocopy.Completion{Lo: 1, Hi: 1}.ExtendedErr()}
	sin := []byte{unix.AF_INET, 0, 0, 7, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	const noAddr = -1
	for _, tt := range []struct {
		name    string
		entry   zerocopy.Entry
		bufLen  uint64
		buf     func(g *guest) hostarch.Addr
		addrLen int32 // noAddr: addr is NULL
		n       int
		err     error
		kept    bool
		data    []byte
		addr    []byte
		gotLen  int32
	}{
		{name: "icmp with address", entry: icmp, bufLen: 16, addrLen: 16, n: 5, data: []byte("hello"), addr: sin, gotLen: 16},
		{name: "truncated payload, short address", entry: icmp, bufLen: 3, addrLen: 4, n: 3, data: []byte("hel"), addr: sin[:4], gotLen: 16},
		{name: "no address buffer", entry: icmp, bufLen: 16, addrLen: noAddr, n: 5, data: []byte("hello")},
		{name: "completion: no payload, address length 0", entry: comp, bufLen: 16, addrLen: 16, gotLen: 0},
		{name: "negative address length", entry: icmp, bufLen: 16, addrLen: -1 << 31, err: unix.EINVAL, data: []byte("hello")},
		{name: "empty queue", bufLen: 16, addrLen: 16, err: unix.EAGAIN},
		{name: "buffer outside the address range", entry: icmp, bufLen: 16, addrLen: 16, err: unix.EFAULT, kept: true,
			buf: func(*guest) hostarch.Addr { return 1 << 63 }},
		{name: "buffer unmapped", entry: icmp, bufLen: 16, addrLen: 16, err: unix.EFAULT,
			buf: func(g *guest) hostarch.Addr { return g.hole() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuest(t, ABI64)
			buf := g.put(filled(16))
			if tt.buf != nil {
				buf = tt.buf(g)
			}
			var addr, addrLen hostarch.Addr
			if tt.addrLen != noAddr {
				addr = g.put(filled(16))
				addrLen = g.put(binary.LittleEndian.AppendUint32(nil, uint32(tt.addrLen)))
			}
			q := zerocopy.NewErrorQueue(zerocopy.QueueConfig{})
			if tt.entry.Err.Origin != 0 {
				q.Push(tt.entry)
			}
			c := &Call{Mem: g.mem, ABI: ABI64, Sock: &fakeSocket{family: unix.AF_INET, q: q}}
			n, err := c.RecvFromErrQueue(buf, tt.bufLen, addr, addrLen)
			if n != tt.n || err != tt.err {
				t.Fatalf("got (%d, %v), want (%d, %v)", n, err, tt.n, tt.err)
			}
			if kept := q.Len() == 1; kept != tt.kept {
				t.Errorf("entry kept: %v, want %v", kept, tt.kept)
			}
			if tt.data != nil {
				if got := g.mem.read(buf, len(tt.data)+1); !bytes.Equal(got, append(tt.data, 0xaa)) {
					t.Errorf("buffer %q", got)
				}
			}
			if addr != 0 && err == nil {
				gotLen := int32(binary.LittleEndian.Uint32(g.mem.read(addrLen, 4)))
				if gotLen != tt.gotLen || !bytes.Equal(g.mem.read(addr, len(tt.addr)), tt.addr) {
					t.Errorf("address %x, length %d; want %x, %d", g.mem.read(addr, len(tt.addr)), gotLen, tt.addr, tt.gotLen)
				}
			}
		})
	}
}
