package syscalls

import (
	"bufio"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// goldenLine is one line of a golden file: its name and its key=value
// fields.
type goldenLine struct {
	name   string
	fields map[string]string
}

func (l *goldenLine) int(t testing.TB, key string) int64 {
	t.Helper()
	v, ok := l.fields[key]
	if !ok {
		t.Fatalf("%s: no %s", l.name, key)
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		t.Fatalf("%s: %s=%q: %v", l.name, key, v, err)
	}
	return n
}

func (l *goldenLine) bytes(t testing.TB, key string) []byte {
	t.Helper()
	v := l.fields[key]
	if v == "-" {
		return nil
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		t.Fatalf("%s: %s=%q: %v", l.name, key, v, err)
	}
	return b
}

// goldens maps each ABI to the golden file that testdata/gen.sh captured
// for it.
var goldens = map[ABI]string{
	ABI64:     "testdata/linux_amd64.golden",
	ABICompat: "testdata/linux_386.golden",
}

func readGolden(t testing.TB, abi ABI) []goldenLine {
	t.Helper()
	f, err := os.Open(goldens[abi])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []goldenLine
	s := bufio.NewScanner(f)
	for s.Scan() {
		text := s.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		words := strings.Fields(text)
		l := goldenLine{name: words[0], fields: make(map[string]string)}
		if words[0] == "layout" || words[0] == "cmsg" {
			l.name += "." + words[1]
		}
		for _, w := range words[1:] {
			if k, v, ok := strings.Cut(w, "="); ok {
				l.fields[k] = v
			}
		}
		lines = append(lines, l)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// golden returns the lines whose name has the given prefix.
func golden(t testing.TB, abi ABI, prefix string) []goldenLine {
	var out []goldenLine
	for _, l := range readGolden(t, abi) {
		if strings.HasPrefix(l.name, prefix) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no %s lines", goldens[abi], prefix)
	}
	return out
}

// errnoOf returns the errno of a golden result line (0 for success).
func errnoOf(t testing.TB, l *goldenLine) unix.Errno {
	if l.int(t, "ret") >= 0 {
		return 0
	}
	return unix.Errno(l.int(t, "errno"))
}

// checkResult compares (n, err) with a golden line's ret and errno.
func checkResult(t *testing.T, l *goldenLine, n int, err error) {
	t.Helper()
	want := errnoOf(t, l)
	if want != 0 {
		if err != want {
			t.Errorf("%s: got (%d, %v), Linux: %v", l.name, n, err, want)
		}
		return
	}
	if err != nil || int64(n) != l.int(t, "ret") {
		t.Errorf("%s: got (%d, %v), Linux: %d", l.name, n, err, l.int(t, "ret"))
	}
}

func TestGoldenLayout(t *testing.T) {
	for _, abi := range []ABI{ABI64, ABICompat} {
		t.Run(abi.String(), func(t *testing.T) {
			lay := abi.layout()
			for _, l := range readGolden(t, abi) {
				var checks map[string]int
				switch l.name {
				case "layout.sizeof_long=8", "layout.sizeof_long=4":
					checks = map[string]int{"layout.sizeof_long": lay.word}
				case "layout.msghdr":
					checks = map[string]int{"size": lay.msghdrSize, "name": lay.offName, "namelen": lay.offNamelen,
						"iov": lay.offIov, "iovlen": lay.offIovlen, "control": lay.offControl,
						"controllen": lay.offControllen, "flags": lay.offFlags}
				case "layout.mmsghdr":
					checks = map[string]int{"size": lay.mmsghdrSize, "len": lay.offMsgLen}
				case "layout.iovec":
					checks = map[string]int{"size": lay.iovecSize, "len": lay.word}
				case "layout.cmsghdr":
					checks = map[string]int{"size": lay.cmsgHdrSize, "len": 0, "level": lay.word, "type": lay.word + 4}
				case "layout.sock_extended_err":
					checks = map[string]int{"size": zerocopy.SizeofSockExtendedErr}
				case "layout.sockaddr_in":
					checks = map[string]int{"size": unix.SizeofSockaddrInet4}
				case "layout.sockaddr_in6":
					checks = map[string]int{"size": unix.SizeofSockaddrInet6}
				case "sysctl":
					checks = map[string]int{"optmem_max": DefaultOptmemMax}
				}
				if strings.HasPrefix(l.name, "cmsg.n=") {
					n := int(l.int(t, "n"))
					checks = map[string]int{"len": abi.layout().cmsgLen(n), "space": abi.layout().cmsgSpace(n)}
				}
				for k, v := range checks {
					if k == "layout.sizeof_long" {
						if want := map[int]string{8: "layout.sizeof_long=8", 4: "layout.sizeof_long=4"}[v]; want != l.name {
							t.Errorf("word size %d, Linux %s", v, l.name)
						}
						continue
					}
					if got := l.int(t, k); got != int64(v) {
						t.Errorf("%s %s: ours %d, Linux %d", l.name, k, v, got)
					}
				}
			}
		})
	}
}

// deliver is a SendFunc that behaves like a UDP/IPv4 send over the guest's
// memory: EMSGSIZE over 65507 bytes, else it reads every iovec (EFAULT if
// it cannot) and sends it all.
func deliver(mem Memory) SendFunc {
	return func(m *Send) (int, error) {
		if m.Len > 65507 {
			return 0, unix.EMSGSIZE
		}
		for _, ar := range m.Iov {
			if err := copyIn(mem, ar.Start, make([]byte, ar.Length())); err != nil {
				return 0, err
			}
		}
		return int(m.Len), nil
	}
}

// sendCase builds the guest of one send.* golden case and returns the
// msghdr address and the flags.
type sendCase func(g *guest) (hostarch.Addr, uint32)

// sendCases mirrors sendmsg_errnos in testdata/linuxabi.c.
func sendCases(abi ABI) map[string]sendCase {
	lay := abi.layout()
	hdr := lay.cmsgHdrSize
	type base struct {
		g    *guest
		data hostarch.Addr
		m    msg
	}
	setup := func(g *guest) base {
		data := g.put([]byte("x"))
		return base{g: g, data: data, m: msg{iov: g.put(g.iovecs(uint64(data), 1)), iovlen: 1}}
	}
	with := func(f func(b *base)) sendCase {
		return func(g *guest) (hostarch.Addr, uint32) {
			b := setup(g)
			f(&b)
			return g.put(g.msghdr(b.m)), 0
		}
	}
	// ctlOf is a 16-byte buffer starting with a cmsghdr, like the C
	// program's zeroed page with one header written.
	ctlOf := func(g *guest, clen uint64, tail []byte) []byte {
		b := g.cmsgLen(clen, 1000, 0, nil)
		b = append(b, tail...)
		return b
	}
	cases := map[string]sendCase{
		"send.ok": with(func(b *base) {}),
		"send.msghdr_hole": func(g *guest) (hostarch.Addr, uint32) {
			return g.hole(), 0
		},
		"send.msghdr_straddle": func(g *guest) (hostarch.Addr, uint32) {
			return g.beforeHole(8), 0
		},
		"send.namelen_negative": with(func(b *base) {
			b.m.name, b.m.namelen = b.g.put(make([]byte, 16)), -1
		}),
		"send.namelen_negative_nullname": with(func(b *base) { b.m.namelen = -1 }),
		"send.namelen_200": with(func(b *base) {
			b.m.name, b.m.namelen = b.g.put(make([]byte, 256)), 200
		}),
		"send.namelen_200_straddle": with(func(b *base) {
			b.m.name, b.m.namelen = b.g.beforeHole(16), 200
		}),
		"send.name_hole_before_iovlen": with(func(b *base) {
			b.m.name, b.m.namelen, b.m.iovlen = b.g.hole(), 16, 1025
		}),
		"send.iovlen_1025": with(func(b *base) { b.m.iovlen = 1025 }),
		"send.iovlen_1024_empty": with(func(b *base) {
			b.m.iov, b.m.iovlen = b.g.alloc(1024*lay.iovecSize), 1024
		}),
		"send.iovlen_0":          with(func(b *base) { b.m.iovlen = 0 }),
		"send.iov_hole":          with(func(b *base) { b.m.iov = b.g.hole() }),
		"send.iov_hole_iovlen_0": with(func(b *base) { b.m.iov, b.m.iovlen = b.g.hole(), 0 }),
		"send.iov_len_negative": with(func(b *base) {
			b.m.iov = b.g.put(b.g.iovecs(uint64(b.data), ^uint64(0)))
		}),
		"send.iov_len_negative_second": with(func(b *base) {
			b.m.iov = b.g.put(b.g.iovecs(uint64(b.data), 1, uint64(b.data), 1<<(8*lay.word-1)))
			b.m.iovlen = 2
		}),
		"send.iov_len_max_segs1": with(func(b *base) {
			b.m.iov = b.g.put(b.g.iovecs(uint64(b.data), 1<<(8*lay.word-1)-1, uint64(b.data), 1))
		}),
		"send.iov_len_max_segs2": with(func(b *base) {
			b.m.iov = b.g.put(b.g.iovecs(uint64(b.data), 1<<(8*lay.word-1)-1, uint64(b.data), 1))
			b.m.iovlen = 2
		}),
		"send.iov_hole_len0": with(func(b *base) {
			b.m.iov = b.g.put(b.g.iovecs(uint64(b.g.hole()), 0, uint64(b.data), 1))
			b.m.iovlen = 2
		}),
		"send.iov_base_hole": with(func(b *base) {
			b.m.iov = b.g.put(b.g.iovecs(uint64(b.g.hole()), 1))
		}),
		"send.controllen_intmax1": with(func(b *base) {
			b.m.control, b.m.controllen = b.g.alloc(16), 1<<31
		}),
		"send.controllen_intmax1_iovlen_1025": with(func(b *base) {
			b.m.controllen, b.m.iovlen = 1<<31, 1025
		}),
		"send.control_null_20":  with(func(b *base) { b.m.controllen = 20 }),
		"send.control_null_8":   with(func(b *base) { b.m.controllen = 8 }),
		"send.control_hole_100": with(func(b *base) { b.m.control, b.m.controllen = b.g.hole(), 100 }),
		"send.controllen_8": with(func(b *base) {
			b.m.control, b.m.controllen = b.g.alloc(16), 8
		}),
		"send.cmsg_straddles_hole": with(func(b *base) {
			a := b.g.beforeHole(8)
			b.g.mem.write(a, []byte{16})
			b.m.control, b.m.controllen = a, 16
		}),
		"send.two_cmsgs": with(func(b *base) {
			c := append(b.g.cmsgLen(uint64(hdr+1), 1000, 0, []byte{0}), b.g.cmsgLen(uint64(hdr), 1000, 0, nil)...)
			b.m.control, b.m.controllen = b.g.put(c), uint64(abi.layout().cmsgSpace(1)+hdr)
		}),
		"send.two_cmsgs_second_too_long": with(func(b *base) {
			c := append(b.g.cmsgLen(uint64(hdr+1), 1000, 0, []byte{0}), b.g.cmsgLen(uint64(hdr+1), 1000, 0, []byte{0})...)
			b.m.control, b.m.controllen = b.g.put(c), uint64(abi.layout().cmsgSpace(1)+hdr)
		}),
		"send.scm_zc_notification_host": with(func(b *base) {
			c := b.g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, make([]byte, 4))
			b.m.control, b.m.controllen = b.g.put(c), uint64(abi.layout().cmsgSpace(4))
		}),
		"send.flag_cmsg_compat": func(g *guest) (hostarch.Addr, uint32) {
			b := setup(g)
			return g.put(g.msghdr(b.m)), MsgCmsgCompat
		},
	}
	if abi == ABI64 {
		for _, a := range []uint64{0x7fffffffefff, 0x7ffffffff000, 0x7ffffffff001, 0x800000000000, 0xffff800000000000} {
			for segs := uint64(1); segs <= 2; segs++ {
				for n := uint64(0); n <= 1; n++ {
					name := "send.iov_base_" + strconv.FormatUint(a, 16) + "_len" + strconv.FormatUint(n, 10) + "_segs" + strconv.FormatUint(segs, 10)
					cases[name] = with(func(b *base) {
						b.m.iov = b.g.put(b.g.iovecs(a, n, uint64(b.data), 0))
						b.m.iovlen = segs
					})
				}
			}
		}
	}
	for n := 0; n <= 20; n++ {
		cases["send.cmsg_len_"+strconv.Itoa(n)+"_of_16"] = with(func(b *base) {
			c := ctlOf(b.g, uint64(n), nil)
			c = append(c, make([]byte, 16-len(c))...)
			b.m.control, b.m.controllen = b.g.put(c), 16
		})
	}
	for tail := 0; tail <= 20; tail++ {
		tb := make([]byte, tail)
		for i := range tb {
			tb[i] = 0xff
		}
		cases["send.trailing_"+strconv.Itoa(tail)] = with(func(b *base) {
			b.m.control, b.m.controllen = b.g.put(ctlOf(b.g, uint64(hdr), tb)), uint64(hdr+tail)
		})
		if tail >= 1 && tail <= 4 {
			cases["send.trailing_"+strconv.Itoa(tail)+"_before_hole"] = with(func(b *base) {
				c := ctlOf(b.g, uint64(hdr), make([]byte, tail))
				a := b.g.beforeHole(len(c))
				b.g.mem.write(a, c)
				b.m.control, b.m.controllen = a, uint64(len(c))
			})
		}
	}
	for d := -12; d <= 4; d += 4 {
		name := "send.controllen_optmem" + strconv.Itoa(d)
		if d >= 0 {
			name = "send.controllen_optmem+" + strconv.Itoa(d)
		}
		cases[name] = with(func(b *base) {
			n := DefaultOptmemMax + d
			a := b.g.alloc(n)
			b.g.mem.write(a, b.g.cmsgLen(uint64(n), 1000, 0, nil))
			b.m.control, b.m.controllen = a, uint64(n)
		})
	}
	for _, n := range []int{36, 40} {
		cases["send.control_"+strconv.Itoa(n)+"_then_hole"] = with(func(b *base) {
			b.m.control, b.m.controllen = b.g.beforeHole(n), uint64(n+1)
		})
	}
	return cases
}

func TestGoldenSendmsg(t *testing.T) {
	for _, abi := range []ABI{ABI64, ABICompat} {
		t.Run(abi.String(), func(t *testing.T) {
			cases := sendCases(abi)
			seen := 0
			for _, l := range golden(t, abi, "send.") {
				build, ok := cases[l.name]
				if !ok {
					t.Errorf("%s: no Go case", l.name)
					continue
				}
				seen++
				g := newGuest(t, abi)
				addr, flags := build(g)
				c := &Call{Mem: g.mem, ABI: abi, Sock: &fakeSocket{family: unix.AF_INET}}
				n, err := c.SendMsg(addr, flags, deliver(g.mem))
				checkResult(t, &l, n, err)
			}
			if seen != len(cases) {
				t.Errorf("%d Go cases, %d in the golden", len(cases), seen)
			}
		})
	}
}
