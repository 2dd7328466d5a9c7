package syscalls

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// zcFilled returns the zc_info bytes a program expects back: room for
// room elements, size len(cs), the first elements filled, the rest as
// passed (zero).
func zcFilled(room int, cs ...zerocopy.Completion) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(cs)))
	for i := 0; i < room; i++ {
		e := make([]byte, zerocopy.ZCInfoElemSize)
		if i < len(cs) {
			binary.LittleEndian.PutUint32(e[0:], cs[i].Lo)
			binary.LittleEndian.PutUint32(e[4:], cs[i].Hi)
			if !cs[i].Copied {
				e[8] = 1
			}
		}
		b = append(b, e...)
	}
	return b
}

// comp returns the completions with the given ids as queueIDs makes them:
// one id each, Copied alternating so that neighbours do not coalesce.
func comp(ids ...uint32) []zerocopy.Completion {
	var cs []zerocopy.Completion
	for _, id := range ids {
		cs = append(cs, zerocopy.Completion{Lo: id, Hi: id, Copied: id%2 == 1})
	}
	return cs
}

// queueIDs returns a queue holding the completions 1..n, one entry each
// (comp describes them).
func queueIDs(n int) *zerocopy.ErrorQueue {
	q := zerocopy.NewErrorQueue(zerocopy.QueueConfig{})
	for id := uint32(1); id <= uint32(n); id++ {
		q.Complete(comp(id)[0])
	}
	return q
}

func TestSendMsgZC(t *testing.T) {
	const tos = 0 // SOL_IP
	type want struct {
		err        error
		n          int
		ctl        []byte // guest control buffer afterwards; nil: unchanged
		controllen uint64 // msg_controllen afterwards (if ctl != nil)
		flags      uint32 // msg_flags afterwards (if ctl != nil)
		left       []zerocopy.Completion
		rest       []byte // Send.Control; nil if send is not called
		sendFlags  uint32
	}
	type tc struct {
		name   string
		queue  int  // completions 1..queue
		zcOff  bool // SO_ZEROCOPY off
		family int
		flags  uint32
		nb     bool
		ctl    func(g *guest) []byte
		fail   error // the send fails
		short  bool  // the send sends one byte less
		want   func(g *guest) want
	}
	zc := func(g *guest, room int) []byte {
		return g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcInfo(room))
	}
	zcBack := func(g *guest, room int, cs ...zerocopy.Completion) []byte {
		return g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcFilled(room, cs...))
	}
	tosMsg := func(g *guest) []byte { return g.cmsg(tos, unix.IP_TOS, []byte{1, 0, 0, 0}) }
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	einval := func(g *guest) want { return want{err: unix.EINVAL, left: comp(1, 2, 3)} }
	cases := []tc{{
		name: "take all", queue: 3,
		ctl: func(g *guest) []byte { return zc(g, 4) },
		want: func(g *guest) want {
			b := zcBack(g, 4, comp(1, 2, 3)...)
			return want{n: 5, ctl: b, controllen: uint64(len(b)), rest: nil}
		},
	}, {
		name: "take some", queue: 3,
		ctl: func(g *guest) []byte { return zc(g, 2) },
		want: func(g *guest) want {
			b := zcBack(g, 2, comp(1, 2)...)
			return want{n: 5, ctl: b, controllen: uint64(len(b)), left: comp(3)}
		},
	}, {
		name: "zero-length fetch", queue: 3,
		ctl: func(g *guest) []byte { return zc(g, 0) },
		want: func(g *guest) want {
			b := zcBack(g, 0)
			return want{n: 5, ctl: b, controllen: uint64(len(b)), left: comp(1, 2, 3)}
		},
	}, {
		name: "empty queue", queue: 0,
		ctl: func(g *guest) []byte { return zc(g, 16) },
		want: func(g *guest) want {
			b := zcBack(g, 16)
			return want{n: 5, ctl: b, controllen: uint64(len(b))}
		},
	}, {
		name: "two messages", queue: 4,
		ctl: func(g *guest) []byte { return cat(zc(g, 1), zc(g, 2)) },
		want: func(g *guest) want {
			b := cat(zcBack(g, 1, comp(1)...), zcBack(g, 2, comp(2, 3)...))
			return want{n: 5, ctl: b, controllen: uint64(len(b)), left: comp(4)}
		},
	}, {
		name: "other message first", queue: 2,
		ctl: func(g *guest) []byte { return cat(tosMsg(g), zc(g, 2)) },
		want: func(g *guest) want {
			back := zcBack(g, 2, comp(1, 2)...)
			// Written from the start of msg_control, over the IP_TOS
			// message; the bytes after it keep their old contents.
			old := cat(tosMsg(g), zc(g, 2))
			return want{n: 5, ctl: cat(back, old[len(back):]), controllen: uint64(len(back)), rest: tosMsg(g)}
		},
	}, {
		name: "messages around the notification are passed on together", queue: 1,
		ctl: func(g *guest) []byte {
			return cat(tosMsg(g), zc(g, 1), g.cmsg(tos, unix.IP_TTL, []byte{64, 0, 0, 0}))
		},
		want: func(g *guest) want {
			back := zcBack(g, 1, comp(1)...)
			ttl := g.cmsg(tos, unix.IP_TTL, []byte{64, 0, 0, 0})
			old := cat(tosMsg(g), zc(g, 1), ttl)
			return want{n: 5, ctl: cat(back, old[len(back):]), controllen: uint64(len(back)), rest: cat(tosMsg(g), ttl)}
		},
	}, {
		name: "type 78 of another level is copied back too (seed)", queue: 1,
		ctl: func(g *guest) []byte {
			return cat(zc(g, 1), g.cmsg(unix.IPPROTO_TCP, zerocopy.SCMZCNotification, []byte{9, 9, 9, 9, 9}))
		},
		want: func(g *guest) want {
			other := g.cmsg(unix.IPPROTO_TCP, zerocopy.SCMZCNotification, []byte{9, 9, 9, 9, 9})
			b := cat(zcBack(g, 1, comp(1)...), other)
			return want{n: 5, ctl: b, controllen: uint64(len(b)), rest: other}
		},
	}, {
		name: "type 78 of another level alone: no copy-back", queue: 1,
		ctl: func(g *guest) []byte { return g.cmsg(unix.IPPROTO_TCP, zerocopy.SCMZCNotification, []byte{1, 2, 3, 4}) },
		want: func(g *guest) want {
			return want{n: 5, left: comp(1), rest: g.cmsg(unix.IPPROTO_TCP, zerocopy.SCMZCNotification, []byte{1, 2, 3, 4})}
		},
	}, {
		name: "unpadded last message", queue: 1,
		ctl: func(g *guest) []byte {
			b := zc(g, 1)
			return b[:g.abi.layout().cmsgLen((zerocopy.ZCInfoHeaderSize + 1*zerocopy.ZCInfoElemSize))]
		},
		want: func(g *guest) want {
			b := zcBack(g, 1, comp(1)...)[:g.abi.layout().cmsgLen((zerocopy.ZCInfoHeaderSize + 1*zerocopy.ZCInfoElemSize))]
			return want{n: 5, ctl: b, controllen: uint64(len(b))}
		},
	}, {
		name: "trailing bytes are not passed on", queue: 1,
		ctl: func(g *guest) []byte {
			if g.abi == ABICompat {
				return cat(tosMsg(g), zc(g, 1))
			}
			return cat(tosMsg(g), zc(g, 1), []byte{7, 7, 7})
		},
		want: func(g *guest) want {
			back := zcBack(g, 1, comp(1)...)
			old := cat(tosMsg(g), zc(g, 1))
			if g.abi == ABI64 {
				old = append(old, 7, 7, 7)
			}
			return want{n: 5, ctl: cat(back, old[len(back):]), controllen: uint64(len(back)), rest: tosMsg(g)}
		},
	}, {
		name: "flags", queue: 1, nb: true,
		flags: unix.MSG_NOSIGNAL | unix.MSG_ZEROCOPY | unix.MSG_EOR | 0x8000000 /* MSG_SPLICE_PAGES */ | 0x10000 | 0x100000,
		ctl:   func(g *guest) []byte { return zc(g, 1) },
		want: func(g *guest) want {
			b := zcBack(g, 1, comp(1)...)
			f := uint32(unix.MSG_NOSIGNAL | unix.MSG_ZEROCOPY | unix.MSG_EOR | unix.MSG_DONTWAIT)
			return want{n: 5, ctl: b, controllen: uint64(len(b)), flags: f, sendFlags: f}
		},
	}, {
		name: "partial send", queue: 1, short: true,
		ctl: func(g *guest) []byte { return zc(g, 1) },
		want: func(g *guest) want {
			b := zcBack(g, 1, comp(1)...)
			return want{n: 4, ctl: b, controllen: uint64(len(b))}
		},
	}, {
		name: "send fails: completions requeued", queue: 3, fail: unix.EMSGSIZE,
		ctl: func(g *guest) []byte { return zc(g, 2) },
		want: func(g *guest) want {
			return want{err: unix.EMSGSIZE, left: comp(1, 2, 3), rest: nil}
		},
	}, {
		name: "send fails with a sentry error", queue: 3, fail: errors.New("ERESTARTSYS"),
		ctl: func(g *guest) []byte { return zc(g, 3) },
		want: func(g *guest) want {
			return want{err: errors.New("ERESTARTSYS"), left: comp(1, 2, 3), rest: nil}
		},
	}, {
		name: "SO_ZEROCOPY off", queue: 3, zcOff: true,
		ctl:  func(g *guest) []byte { return zc(g, 1) },
		want: einval,
	}, {
		name: "RDS", queue: 3, family: unix.AF_RDS,
		ctl:  func(g *guest) []byte { return zc(g, 1) },
		want: einval,
	}, {
		name: "data shorter than zc_info", queue: 3,
		ctl: func(g *guest) []byte {
			return g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, []byte{0, 0, 0})
		},
		want: einval,
	}, {
		name: "size over ZC_NOTIFICATION_MAX", queue: 3,
		ctl: func(g *guest) []byte {
			return g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zerocopy.AppendZCInfo(nil, 17))
		},
		want: einval,
	}, {
		name: "size does not match the length", queue: 3,
		ctl: func(g *guest) []byte {
			d := zcInfo(2)
			d[0] = 1
			return g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, d)
		},
		want: einval,
	}, {
		name: "second message invalid: nothing taken", queue: 3,
		ctl: func(g *guest) []byte {
			return cat(zc(g, 1), g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, []byte{1}))
		},
		want: einval,
	}, {
		name: "malformed walk after a valid message", queue: 3,
		ctl: func(g *guest) []byte {
			return cat(zc(g, 1), g.cmsgLen(1000, 0, 0, nil))
		},
		want: einval,
	}}
	for _, abi := range []ABI{ABI64, ABICompat} {
		for _, tt := range cases {
			t.Run(abi.String()+"/"+tt.name, func(t *testing.T) {
				g := newGuest(t, abi)
				data := g.put([]byte("hello"))
				ctlBytes := tt.ctl(g)
				ctl := g.put(ctlBytes)
				hdr := g.put(g.msghdr(msg{iov: g.put(g.iovecs(uint64(data), 5)), iovlen: 1,
					control: ctl, controllen: uint64(len(ctlBytes)), flags: 0x5a5a}))
				fam := tt.family
				if fam == 0 {
					fam = unix.AF_INET
				}
				sock := &fakeSocket{family: fam, zc: !tt.zcOff, q: queueIDs(tt.queue)}
				var got *Send
				c := &Call{Mem: g.mem, ABI: abi, Sock: sock, NonBlocking: tt.nb}
				n, err := c.SendMsg(hdr, tt.flags, func(m *Send) (int, error) {
					got = m.clone()
					if tt.fail != nil {
						return 0, tt.fail
					}
					if tt.short {
						return int(m.Len) - 1, nil
					}
					return int(m.Len), nil
				})
				w := tt.want(g)
				if !reflect.DeepEqual(err, w.err) || n != w.n {
					t.Fatalf("got (%d, %v), want (%d, %v)", n, err, w.n, w.err)
				}
				if w.err == unix.EINVAL && got != nil {
					t.Errorf("send called for an invalid message")
				}
				if got != nil {
					if !bytes.Equal(got.Control, w.rest) {
						t.Errorf("Send.Control %x, want %x", got.Control, w.rest)
					}
					if got.Flags != w.sendFlags {
						t.Errorf("Send.Flags %#x, want %#x", got.Flags, w.sendFlags)
					}
				}
				lay := abi.layout()
				hb := g.mem.read(hdr, lay.msghdrSize)
				gotLen := lay.getWord(hb[lay.offControllen:])
				gotFlags := binary.LittleEndian.Uint32(hb[lay.offFlags:])
				gotCtl := g.mem.read(ctl, len(ctlBytes))
				if w.ctl == nil {
					if gotLen != uint64(len(ctlBytes)) || gotFlags != 0x5a5a || !bytes.Equal(gotCtl, ctlBytes) {
						t.Errorf("guest changed: controllen %d flags %#x control %x", gotLen, gotFlags, gotCtl)
					}
				} else {
					if !bytes.Equal(gotCtl, w.ctl) {
						t.Errorf("control\n%x, want\n%x", gotCtl, w.ctl)
					}
					if gotLen != w.controllen || gotFlags != w.flags {
						t.Errorf("controllen %d flags %#x, want %d %#x", gotLen, gotFlags, w.controllen, w.flags)
					}
				}
				if left := drain(sock.q); !reflect.DeepEqual(left, w.left) {
					t.Errorf("queue left %v, want %v", left, w.left)
				}
			})
		}
	}
}

// TestSendMsgCopyBackFaults: a copy-back destination that cannot be written
// fails the call with EFAULT before anything is sent or taken; one that
// stops being writable while the send runs (another thread's mprotect)
// fails it after the send, with the completions back in the queue.
func TestSendMsgCopyBackFaults(t *testing.T) {
	for _, abi := range []ABI{ABI64, ABICompat} {
		for _, where := range []string{"msghdr", "control"} {
			for _, during := range []bool{false, true} {
				name := abi.String() + "/" + where + "/before"
				if during {
					name = abi.String() + "/" + where + "/during the send"
				}
				t.Run(name, func(t *testing.T) {
					g := newGuest(t, abi)
					data := g.put([]byte("hello"))
					ctlBytes := g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcInfo(2))
					m := msg{iov: g.put(g.iovecs(uint64(data), 5)), iovlen: 1, controllen: uint64(len(ctlBytes))}
					var hdr, ro hostarch.Addr
					if where == "control" {
						m.control = g.beforeHole(len(ctlBytes))
						g.mem.write(m.control, ctlBytes)
						hdr = g.put(g.msghdr(m))
						ro = m.control
					} else {
						m.control = g.put(ctlBytes)
						hb := g.msghdr(m)
						hdr = g.beforeHole(len(hb))
						g.mem.write(hdr, hb)
						ro = hdr
					}
					if !during {
						g.mem.protect(ro, true)
					}
					sock := &fakeSocket{family: unix.AF_INET6, zc: true, q: queueIDs(3)}
					sent := 0
					c := &Call{Mem: g.mem, ABI: abi, Sock: sock}
					n, err := c.SendMsg(hdr, 0, func(m *Send) (int, error) {
						sent++
						if during {
							g.mem.protect(ro, true)
						}
						return int(m.Len), nil
					})
					wantSent := 0
					if during {
						wantSent = 1
					}
					if n != 0 || err != unix.EFAULT || sent != wantSent {
						t.Errorf("got (%d, %v) after %d sends, want EFAULT after %d", n, err, sent, wantSent)
					}
					if left := drain(sock.q); !reflect.DeepEqual(left, comp(1, 2, 3)) {
						t.Errorf("queue %v, want all three in order", left)
					}
				})
			}
		}
	}
}

func TestSendMsgNilQueue(t *testing.T) {
	g := newGuest(t, ABI64)
	ctlBytes := g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcInfo(1))
	hdr := g.put(g.msghdr(msg{control: g.put(ctlBytes), controllen: uint64(len(ctlBytes))}))
	c := &Call{Mem: g.mem, Sock: &fakeSocket{family: unix.AF_INET, zc: true}}
	if _, err := c.SendMsg(hdr, 0, deliver(g.mem)); err != unix.EINVAL {
		t.Errorf("got %v, want EINVAL", err)
	}
}
