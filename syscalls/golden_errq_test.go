package syscalls

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// closedPort is the port linuxabi.c's ICMP errors are about.
const closedPort = 47111

// icmpEntry is the error queue entry of linuxabi.c's port-unreachable
// errors: what the stack would queue for them.
func icmpEntry(v6 bool) zerocopy.Entry {
	if v6 {
		lo := netip.IPv6Loopback()
		return zerocopy.Entry{
			Err:      unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP6, Type: 1, Code: 4},
			Offender: lo,
			Dst:      netip.AddrPortFrom(lo, closedPort),
			Payload:  []byte("hello"),
		}
	}
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	return zerocopy.Entry{
		Err:      unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 3},
		Offender: lo,
		Dst:      netip.AddrPortFrom(lo, closedPort),
		Payload:  []byte("hello"),
	}
}

// filled returns n bytes of 0xaa, the C program's fill.
func filled(n int) []byte {
	return bytes.Repeat([]byte{0xaa}, n)
}

// errqCase replays one errq.* golden line: it builds the queue and the
// guest from the line's in_* fields and runs RecvErrQueue.
type errqResult struct {
	n                 int
	err               error
	flags, controllen uint64
	namelen           int32
	name, data, ctl   []byte
	queue             *zerocopy.ErrorQueue
	ctlAddr           hostarch.Addr
}

func runErrqCase(t *testing.T, abi ABI, l *goldenLine) errqResult {
	t.Helper()
	f := l.fields
	v6 := strings.HasPrefix(l.name, "errq.v6.")
	sock := &fakeSocket{family: unix.AF_INET, zc: true, q: zerocopy.NewErrorQueue(zerocopy.QueueConfig{})}
	if v6 {
		sock.family = unix.AF_INET6
	}
	if f["in_icmp"] == "1" {
		sock.q.Push(icmpEntry(v6))
	} else if lo, hi := l.int(t, "in_lo"), l.int(t, "in_hi"); lo <= hi {
		sock.q.Complete(zerocopy.Completion{Lo: uint32(lo), Hi: uint32(hi), Copied: true})
	}
	g := newGuest(t, abi)
	show := int(l.int(t, "in_show"))
	var ctl hostarch.Addr
	switch f["in_ctl"] {
	case "rw":
		ctl = g.put(filled(show))
	case "hole":
		ctl = g.hole()
	case "half":
		ctl = g.beforeHole(show)
		g.mem.write(ctl, filled(show))
	}
	var name hostarch.Addr
	switch f["in_name"] {
	case "buf":
		name = g.put(filled(unix.SizeofSockaddrInet6))
	case "hole":
		name = g.hole()
	}
	data := g.put(filled(64))
	iov := g.put(g.iovecs(uint64(data), uint64(l.int(t, "in_data"))))
	m := msg{
		name: name, namelen: int32(l.int(t, "in_namelen")),
		iov: iov, iovlen: uint64(l.int(t, "in_iovlen")),
		control: ctl, controllen: uint64(l.int(t, "in_ctllen")),
		flags: 0x5a5a,
	}
	hb := g.msghdr(m)
	var hdr hostarch.Addr
	if f["in_hdr"] == "ro" {
		// On a page of its own, as in the C program.
		hdr = g.beforeHole(len(hb))
		g.mem.write(hdr, hb)
		g.mem.protect(hdr, true)
	} else {
		hdr = g.put(hb)
	}
	c := &Call{Mem: g.mem, ABI: abi, Sock: sock}
	n, err := c.RecvErrQueue(hdr, uint32(l.int(t, "in_flags"))|unix.MSG_ERRQUEUE)
	lay := abi.layout()
	hb = g.mem.read(hdr, lay.msghdrSize)
	r := errqResult{
		n: n, err: err,
		flags:      uint64(binary.LittleEndian.Uint32(hb[lay.offFlags:])),
		controllen: lay.getWord(hb[lay.offControllen:]),
		namelen:    int32(binary.LittleEndian.Uint32(hb[lay.offNamelen:])),
		data:       g.mem.read(data, max(n, 0)),
		queue:      sock.q,
		ctlAddr:    ctl,
	}
	if f["in_name"] == "buf" {
		r.name = g.mem.read(name, unix.SizeofSockaddrInet6)
	}
	if show > 0 && f["in_ctl"] != "hole" && ctl != 0 {
		r.ctl = g.mem.read(ctl, show)
	}
	return r
}

func TestGoldenErrQueue(t *testing.T) {
	for _, abi := range []ABI{ABI64, ABICompat} {
		t.Run(abi.String(), func(t *testing.T) {
			for _, l := range golden(t, abi, "errq.") {
				if _, ok := l.fields["in_ctl"]; !ok {
					continue // errq.vN.icmp.port
				}
				r := runErrqCase(t, abi, &l)
				checkResult(t, &l, r.n, r.err)
				if got, want := r.flags, uint64(l.int(t, "flags")); got != want {
					t.Errorf("%s: msg_flags %#x, Linux %#x", l.name, got, want)
				}
				if got, want := r.controllen, uint64(l.int(t, "controllen")); got != want {
					t.Errorf("%s: msg_controllen %d, Linux %d", l.name, got, want)
				}
				if got, want := r.namelen, int32(l.int(t, "namelen")); got != want {
					t.Errorf("%s: msg_namelen %d, Linux %d", l.name, got, want)
				}
				if l.fields["in_name"] == "buf" {
					if want := l.bytes(t, "name"); !bytes.Equal(r.name, want) {
						t.Errorf("%s: msg_name\n%x, Linux\n%x", l.name, r.name, want)
					}
				}
				if want := l.bytes(t, "data"); !bytes.Equal(r.data, want) && len(want) > 0 {
					t.Errorf("%s: data %x, Linux %x", l.name, r.data, want)
				}
				want := l.bytes(t, "ctl")
				got := r.ctl
				if strings.HasSuffix(l.name, ".halfctl") && abi == ABI64 {
					// Linux's 64-bit put_cmsg writes the payload in 8-byte
					// words, so a fault 4 bytes into it writes none of it;
					// gVisor (and our fake) copy up to the faulting byte.
					got, want = got[:16], want[:16]
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: control\n%x, Linux\n%x", l.name, got, want)
				}
			}
		})
	}
}
