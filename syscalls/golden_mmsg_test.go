package syscalls

import (
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// mmsgVec lays out n mmsghdrs, each sending one byte, msg_len 0xdead, and
// lets edit change each msg before it is encoded.
func mmsgVec(g *guest, n int, edit func(i int, m *msg)) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		data := g.put([]byte("x"))
		m := msg{iov: g.put(g.iovecs(uint64(data), 1)), iovlen: 1}
		if edit != nil {
			edit(i, &m)
		}
		b = append(b, g.msghdr(m)...)
		b = binary.LittleEndian.AppendUint32(b, 0xdead)
		if g.abi == ABI64 {
			b = append(b, 0, 0, 0, 0)
		}
	}
	return b
}

// msgLen reads the msg_len of entry i.
func msgLen(g *guest, vec hostarch.Addr, i int) int64 {
	lay := g.abi.layout()
	return int64(binary.LittleEndian.Uint32(g.mem.read(vec+hostarch.Addr(i*lay.mmsghdrSize+lay.offMsgLen), 4)))
}

func TestGoldenSendmmsg(t *testing.T) {
	bad := func(i int, m *msg) {
		if i == 1 {
			m.iovlen = 1025
		}
	}
	cases := map[string]func(g *guest) (vec hostarch.Addr, vlen, flags uint32){
		"sendmmsg.ok3":   func(g *guest) (hostarch.Addr, uint32, uint32) { return g.put(mmsgVec(g, 3, nil)), 3, 0 },
		"sendmmsg.vlen0": func(g *guest) (hostarch.Addr, uint32, uint32) { return g.put(mmsgVec(g, 3, nil)), 0, 0 },
		"sendmmsg.second_bad": func(g *guest) (hostarch.Addr, uint32, uint32) {
			return g.put(mmsgVec(g, 3, bad)), 3, 0
		},
		"sendmmsg.first_bad": func(g *guest) (hostarch.Addr, uint32, uint32) {
			return g.put(mmsgVec(g, 3, bad)) + hostarch.Addr(g.abi.layout().mmsghdrSize), 2, 0
		},
		"sendmmsg.hole": func(g *guest) (hostarch.Addr, uint32, uint32) { return g.hole(), 1, 0 },
		"sendmmsg.flag_cmsg_compat": func(g *guest) (hostarch.Addr, uint32, uint32) {
			return g.put(mmsgVec(g, 1, nil)), 1, MsgCmsgCompat
		},
		"sendmmsg.readonly": func(g *guest) (hostarch.Addr, uint32, uint32) {
			b := mmsgVec(g, 1, nil)
			a := g.beforeHole(len(b))
			g.mem.write(a, b)
			g.mem.protect(a, true)
			return a, 1, 0
		},
	}
	for _, abi := range []ABI{ABI64, ABICompat} {
		t.Run(abi.String(), func(t *testing.T) {
			for _, l := range golden(t, abi, "sendmmsg.") {
				build, ok := cases[l.name]
				if !ok {
					t.Errorf("%s: no Go case", l.name)
					continue
				}
				g := newGuest(t, abi)
				vec, vlen, flags := build(g)
				c := &Call{Mem: g.mem, ABI: abi, Sock: &fakeSocket{family: unix.AF_INET}}
				n, err := c.SendMMsg(vec, vlen, flags, deliver(g.mem))
				checkResult(t, &l, n, err)
				for i, k := range []string{"len0", "len1", "len2"} {
					if _, ok := l.fields[k]; ok {
						if got, want := msgLen(g, vec, i), l.int(t, k); got != want {
							t.Errorf("%s: %s %d, Linux %d", l.name, k, got, want)
						}
					}
				}
			}
		})
	}
}

func TestGoldenRecvmmsg(t *testing.T) {
	for _, abi := range []ABI{ABI64, ABICompat} {
		t.Run(abi.String(), func(t *testing.T) {
			for _, l := range golden(t, abi, "recvmmsg.") {
				v6 := strings.HasPrefix(l.name, "recvmmsg.v6.")
				sock := &fakeSocket{family: unix.AF_INET, q: zerocopy.NewErrorQueue(zerocopy.QueueConfig{})}
				if v6 {
					sock.family = unix.AF_INET6
				}
				g := newGuest(t, abi)
				var vec hostarch.Addr
				flags := uint32(unix.MSG_ERRQUEUE)
				vlen := uint32(3)
				switch {
				case strings.HasSuffix(l.name, ".flag_cmsg_compat"):
					vec, vlen = g.put(mmsgVec(g, 1, nil)), 1
					flags |= MsgCmsgCompat
				default:
					sock.q.Push(icmpEntry(v6))
					sock.q.Push(icmpEntry(v6))
					vec = g.put(mmsgVec(g, 3, func(i int, m *msg) {
						m.iov = g.put(g.iovecs(uint64(g.alloc(8)), 8))
						if i != 1 {
							return
						}
						switch {
						case strings.HasSuffix(l.name, ".second_iovlen_1025"):
							m.iovlen = 1025
						case strings.HasSuffix(l.name, ".second_iov_hole"):
							m.iov = g.hole()
						}
					}))
				}
				c := &Call{Mem: g.mem, ABI: abi, Sock: sock}
				n, err := c.RecvMMsgErrQueue(vec, vlen, flags, nil)
				if _, ok := l.fields["so_error"]; ok && n > 0 && l.int(t, "so_error") != 0 {
					soErr := l.int(t, "so_error")
					// Linux returns the count and leaves the error in
					// SO_ERROR; we return both.
					if err != unix.Errno(soErr) {
						t.Errorf("%s: pending error %v, Linux SO_ERROR %v", l.name, err, unix.Errno(soErr))
					}
					err = nil
				}
				checkResult(t, &l, n, err)
				for i, k := range []string{"len0", "len1", "len2"} {
					if _, ok := l.fields[k]; ok {
						if got, want := msgLen(g, vec, i), l.int(t, k); got != want {
							t.Errorf("%s: %s %d, Linux %d", l.name, k, got, want)
						}
					}
				}
				if _, ok := l.fields["flags0"]; ok {
					lay := abi.layout()
					if got, want := int64(binary.LittleEndian.Uint32(g.mem.read(vec+hostarch.Addr(lay.offFlags), 4))), l.int(t, "flags0"); got != want {
						t.Errorf("%s: msg_flags %#x, Linux %#x", l.name, got, want)
					}
				}
			}
		})
	}
}
