package zcsocket_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/internal/allocs"
	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zcsocket"
	"github.com/zcstack/zcstack/zerocopy"
)

// flatMem is guest memory for the send path without a sandbox: one mapped
// range starting at base.
type flatMem struct {
	base hostarch.Addr
	b    []byte
}

func (m *flatMem) at(addr hostarch.Addr, n int) ([]byte, error) {
	off := int(addr - m.base)
	if addr < m.base || off+n > len(m.b) {
		return nil, unix.EFAULT
	}
	return m.b[off : off+n], nil
}

func (m *flatMem) CopyInBytes(addr hostarch.Addr, dst []byte) (int, error) {
	b, err := m.at(addr, len(dst))
	if err != nil {
		return 0, err
	}
	return copy(dst, b), nil
}

func (m *flatMem) CopyOutBytes(addr hostarch.Addr, src []byte) (int, error) {
	b, err := m.at(addr, len(src))
	if err != nil {
		return 0, err
	}
	return copy(b, src), nil
}

func (m *flatMem) CheckWritable(addr hostarch.Addr, n uint64) error {
	_, err := m.at(addr, int(n))
	return err
}

// guest lays out what a guest's sendmsg and recvmsg(MSG_ERRQUEUE) pass: a
// 64-byte payload, its iovec, a zc_info of 16 elements and two msghdrs.
type guest struct {
	mem                         *flatMem
	send, sendZC, recv, control hostarch.Addr
	// zcMsg is the SCM_ZC_NOTIFICATION message the guest sends.
	zcMsg []byte
}

const guestBase = 0x10000

func newGuest() *guest {
	g := &guest{mem: &flatMem{base: guestBase, b: make([]byte, 4096)}}
	payload := hostarch.Addr(guestBase + 0x100)
	iov := hostarch.Addr(guestBase + 0x200)
	binary.LittleEndian.PutUint64(g.mem.b[0x200:], uint64(payload))
	binary.LittleEndian.PutUint64(g.mem.b[0x208:], 64)
	g.control = guestBase + 0x400
	msg := func(off int, control hostarch.Addr, controlLen int) hostarch.Addr {
		b := g.mem.b[off:]
		binary.LittleEndian.PutUint64(b[16:], uint64(iov))
		binary.LittleEndian.PutUint64(b[24:], 1)
		binary.LittleEndian.PutUint64(b[32:], uint64(control))
		binary.LittleEndian.PutUint64(b[40:], uint64(controlLen))
		return guestBase + hostarch.Addr(off)
	}
	g.zcMsg = syscalls.AppendCmsg(nil, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zerocopy.AppendZCInfo(nil, zerocopy.ZCNotificationMax))
	g.send = msg(0x000, 0, 0)
	g.sendZC = msg(0x040, g.control, len(g.zcMsg))
	g.recv = msg(0x080, guestBase+0x600, 256)
	return g
}

// resetControl writes the SCM_ZC_NOTIFICATION message again and restores
// msg_controllen, as a program does before each send.
func (g *guest) resetControl() {
	copy(g.mem.b[g.control-guestBase:], g.zcMsg)
	binary.LittleEndian.PutUint64(g.mem.b[0x040+40:], uint64(len(g.zcMsg)))
	binary.LittleEndian.PutUint64(g.mem.b[0x080+40:], 256)
}

// udpEndpoint returns a UDP endpoint of a loopback netstack connected to a
// bound one that never reads.
func udpEndpoint(tb testing.TB) tcpip.Endpoint {
	ns := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{udp.NewProtocol},
	})
	tb.Cleanup(func() { ns.Close(); ns.Wait() })
	if err := ns.CreateNIC(1, loopback.New()); err != nil {
		tb.Fatal(err)
	}
	local := tcpip.AddrFrom4([4]byte{127, 0, 0, 1})
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: local.WithPrefix()}
	if err := ns.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		tb.Fatal(err)
	}
	ns.SetRouteTable([]tcpip.Route{{Destination: pa.AddressWithPrefix.Subnet(), NIC: 1}})
	var wq waiter.Queue
	rx, err := ns.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(rx.Close)
	if err := rx.Bind(tcpip.FullAddress{Addr: local, Port: 9000}); err != nil {
		tb.Fatal(err)
	}
	tx, err := ns.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(tx.Close)
	if err := tx.Connect(tcpip.FullAddress{Addr: local, Port: 9000}); err != nil {
		tb.Fatal(err)
	}
	return tx
}

// sendPath is runsc-zc's sendmsg and recvmsg(MSG_ERRQUEUE) without the
// sandbox: State.SendMsg and syscalls/ over fake guest memory, as the
// sentry calls them, with a write that puts the payload on the endpoint
// (the sentry hands it to gVisor's socket instead), or does nothing.
type sendPath struct {
	g   *guest
	zc  *zcsocket.State
	ep  tcpip.Endpoint
	rd  bytes.Reader
	buf [64]byte
}

func newSendPath(tb testing.TB, write bool) *sendPath {
	p := &sendPath{g: newGuest()}
	if write {
		p.ep = udpEndpoint(tb)
		p.zc = zcsocket.New(p.ep, zcsocket.Config{Family: unix.AF_INET, Type: unix.SOCK_DGRAM})
	} else {
		p.zc = zcsocket.New(udpEndpoint(tb), zcsocket.Config{Family: unix.AF_INET, Type: unix.SOCK_DGRAM})
	}
	p.zc.SetZerocopy(true)
	return p
}

func (p *sendPath) call() syscalls.Call {
	return syscalls.Call{Mem: p.g.mem, ABI: syscalls.ABI64, Sock: p.zc}
}

// sendmsg runs one sendmsg of the guest's msghdr at msg with flags.
func (p *sendPath) sendmsg(tb testing.TB, msg hostarch.Addr, flags uint32) {
	c := p.call()
	_, err := p.zc.SendMsg(&c, msg, flags, func(m *syscalls.Send) (int, error) {
		if p.ep == nil {
			return int(m.Len), nil
		}
		if _, err := p.g.mem.CopyInBytes(m.Iov[0].Start, p.buf[:m.Len]); err != nil {
			return 0, err
		}
		p.rd.Reset(p.buf[:m.Len])
		n, err := p.ep.Write(&p.rd, tcpip.WriteOptions{})
		if err != nil {
			return int(n), zcsocket.Errno(err)
		}
		return int(n), nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// recvErr runs one recvmsg(MSG_ERRQUEUE).
func (p *sendPath) recvErr(tb testing.TB) {
	c := p.call()
	if _, err := c.RecvErrQueue(p.g.recv, unix.MSG_ERRQUEUE); err != nil {
		tb.Fatal(err)
	}
}

// modes are what zcbench's modes do in the sentry per send, at
// notification limit 1.
var modes = []struct {
	name string
	run  func(tb testing.TB, p *sendPath)
}{
	{"copy", func(tb testing.TB, p *sendPath) { p.sendmsg(tb, p.g.send, 0) }},
	{"errqueue", func(tb testing.TB, p *sendPath) {
		p.sendmsg(tb, p.g.send, unix.MSG_ZEROCOPY)
		p.resetControl()
		p.recvErr(tb)
	}},
	{"cmsg", func(tb testing.TB, p *sendPath) {
		p.resetControl()
		p.sendmsg(tb, p.g.sendZC, unix.MSG_ZEROCOPY)
	}},
}

func (p *sendPath) resetControl() { p.g.resetControl() }

// BenchmarkSendPath measures runsc-zc's work for one send of each zcbench
// mode, over fake guest memory, without the sandbox: "ours" sends nothing
// (our code alone), "netstack" writes to a netstack UDP endpoint.
func BenchmarkSendPath(b *testing.B) {
	for _, write := range []bool{false, true} {
		for _, m := range modes {
			name := "ours/" + m.name
			if write {
				name = "netstack/" + m.name
			}
			b.Run(name, func(b *testing.B) {
				p := newSendPath(b, write)
				m.run(b, p) // fill the pools
				b.ReportAllocs()
				for b.Loop() {
					m.run(b, p)
				}
			})
		}
	}
}

// TestSendPathAllocatesNothing checks that our code allocates nothing in
// a thousand sends of any mode once warm: the decoding and copy-back, the
// accounting, the error queue.
func TestSendPathAllocatesNothing(t *testing.T) {
	if allocs.Race {
		t.Skip("-race: sync.Pool drops items at random")
	}
	for _, m := range modes {
		p := newSendPath(t, false)
		if n := allocs.Count(1000, func() { m.run(t, p) }); n != 0 {
			t.Errorf("%s: %d allocations in 1000 sends", m.name, n)
		}
	}
}
