package syscalls

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/zerocopy"
)

// mmsgZC lays out n mmsghdrs that each send "hello" to the same
// destination with an SCM_ZC_NOTIFICATION message with room for room
// completions; entry i's msg_flags is msgFlags[i]. It returns the vector's
// address and each entry's control buffer.
func mmsgZC(g *guest, n, room int, msgFlags []uint32) (hostarch.Addr, []hostarch.Addr) {
	name := g.put(make([]byte, unix.SizeofSockaddrInet4))
	var ctls []hostarch.Addr
	var b []byte
	for i := 0; i < n; i++ {
		data := g.put([]byte("hello"))
		c := g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcInfo(room))
		ctl := g.put(c)
		ctls = append(ctls, ctl)
		b = append(b, g.msghdr(msg{name: name, namelen: unix.SizeofSockaddrInet4,
			iov: g.put(g.iovecs(uint64(data), 5)), iovlen: 1,
			control: ctl, controllen: uint64(len(c)), flags: msgFlags[i]})...)
		b = binary.LittleEndian.AppendUint32(b, 0xdead)
		if g.abi == ABI64 {
			b = append(b, 0, 0, 0, 0)
		}
	}
	return g.put(b), ctls
}

func TestSendMMsgZC(t *testing.T) {
	for _, abi := range []ABI{ABI64, ABICompat} {
		t.Run(abi.String(), func(t *testing.T) {
			g := newGuest(t, abi)
			// Entry 1 asks for MSG_EOR (allowed in sendmmsg) and junk
			// that is not.
			vec, ctls := mmsgZC(g, 3, 2, []uint32{0, unix.MSG_EOR | unix.MSG_OOB, 0})
			sock := &fakeSocket{family: unix.AF_INET, zc: true, q: queueIDs(5)}
			var sendFlags []uint32
			c := &Call{Mem: g.mem, ABI: abi, Sock: sock}
			n, err := c.SendMMsg(vec, 3, unix.MSG_ZEROCOPY, func(m *Send) (int, error) {
				sendFlags = append(sendFlags, m.Flags)
				return int(m.Len), nil
			})
			if n != 3 || err != nil {
				t.Fatalf("got (%d, %v), want 3", n, err)
			}
			wantFlags := []uint32{
				unix.MSG_ZEROCOPY | unix.MSG_BATCH,
				unix.MSG_ZEROCOPY | unix.MSG_BATCH | unix.MSG_EOR,
				unix.MSG_ZEROCOPY,
			}
			if !reflect.DeepEqual(sendFlags, wantFlags) {
				t.Errorf("flags sent %#x, want %#x", sendFlags, wantFlags)
			}
			lay := abi.layout()
			wantComps := [][]zerocopy.Completion{comp(1, 2), comp(3, 4), comp(5)}
			for i, ctl := range ctls {
				// Every entry is copied back, also those to the previous
				// entry's destination.
				want := g.cmsg(unix.SOL_SOCKET, zerocopy.SCMZCNotification, zcFilled(2, wantComps[i]...))
				if got := g.mem.read(ctl, len(want)); !bytes.Equal(got, want) {
					t.Errorf("entry %d control %x, want %x", i, got, want)
				}
				e := vec + hostarch.Addr(i*lay.mmsghdrSize)
				hb := g.mem.read(e, lay.mmsghdrSize)
				if got := binary.LittleEndian.Uint32(hb[lay.offFlags:]); got != wantFlags[i] {
					t.Errorf("entry %d msg_flags %#x, want %#x", i, got, wantFlags[i])
				}
				if got := lay.getWord(hb[lay.offControllen:]); got != uint64(len(want)) {
					t.Errorf("entry %d msg_controllen %d, want %d", i, got, len(want))
				}
				if got := binary.LittleEndian.Uint32(hb[lay.offMsgLen:]); got != 5 {
					t.Errorf("entry %d msg_len %d, want 5", i, got)
				}
			}
			if left := drain(sock.q); len(left) != 0 {
				t.Errorf("queue left %v", left)
			}
		})
	}
}

func TestSendMMsgZCFailures(t *testing.T) {
	for _, abi := range []ABI{ABI64, ABICompat} {
		t.Run(abi.String()+"/send fails", func(t *testing.T) {
			g := newGuest(t, abi)
			vec, _ := mmsgZC(g, 3, 2, make([]uint32, 3))
			sock := &fakeSocket{family: unix.AF_INET, zc: true, q: queueIDs(5)}
			calls := 0
			c := &Call{Mem: g.mem, ABI: abi, Sock: sock}
			n, err := c.SendMMsg(vec, 3, 0, func(m *Send) (int, error) {
				calls++
				if calls == 2 {
					return 0, unix.EAGAIN
				}
				return int(m.Len), nil
			})
			if n != 1 || err != nil || calls != 2 {
				t.Errorf("got (%d, %v) after %d calls, want (1, nil) after 2", n, err, calls)
			}
			if left := drain(sock.q); !reflect.DeepEqual(left, comp(3, 4, 5)) {
				t.Errorf("queue %v, want 3, 4, 5", left)
			}
		})
		t.Run(abi.String()+"/msg_len faults", func(t *testing.T) {
			g := newGuest(t, abi)
			lay := abi.layout()
			// Entry 1's msghdr is writable, its msg_len on a read-only page.
			vecBytes := func() []byte {
				v, _ := mmsgZC(g, 2, 2, make([]uint32, 2))
				return g.mem.read(v, 2*lay.mmsghdrSize)
			}()
			vec := g.beforeHole(0) - hostarch.Addr(lay.mmsghdrSize+lay.offMsgLen)
			g.mem.mapRange(vec, 2*lay.mmsghdrSize, false)
			g.mem.write(vec, vecBytes)
			g.mem.protect(vec+hostarch.Addr(2*lay.mmsghdrSize-1), true)
			sock := &fakeSocket{family: unix.AF_INET, zc: true, q: queueIDs(5)}
			c := &Call{Mem: g.mem, ABI: abi, Sock: sock}
			n, err := c.SendMMsg(vec, 2, 0, deliver(g.mem))
			// Linux counts only entry 0: entry 1 was sent but its msg_len
			// could not be written.
			if n != 1 || err != nil {
				t.Errorf("got (%d, %v), want (1, nil)", n, err)
			}
			if left := drain(sock.q); !reflect.DeepEqual(left, comp(3, 4, 5)) {
				t.Errorf("queue %v, want 3, 4, 5 (entry 1's back)", left)
			}
		})
	}
}

func TestSendMMsgVlen(t *testing.T) {
	g := newGuest(t, ABI64)
	v := g.put(mmsgVec(g, UIOMaxIOV+1, nil))
	c := &Call{Mem: g.mem, Sock: &fakeSocket{family: unix.AF_INET}}
	calls := 0
	n, err := c.SendMMsg(v, UIOMaxIOV+1, 0, func(m *Send) (int, error) {
		calls++
		if want := uint32(unix.MSG_BATCH); calls < UIOMaxIOV && m.Flags != want || calls == UIOMaxIOV && m.Flags != 0 {
			t.Errorf("message %d flags %#x", calls, m.Flags)
		}
		return int(m.Len), nil
	})
	if n != UIOMaxIOV || err != nil {
		t.Errorf("got (%d, %v), want %d", n, err, UIOMaxIOV)
	}
	if got := msgLen(g, v, UIOMaxIOV); got != 0xdead {
		t.Errorf("message past UIO_MAXIOV got msg_len %d", got)
	}
}

func TestSendMMsgPartial(t *testing.T) {
	g := newGuest(t, ABI64)
	v := g.put(mmsgVec(g, 3, nil))
	c := &Call{Mem: g.mem, Sock: &fakeSocket{family: unix.AF_INET}}
	n, err := c.SendMMsg(v, 3, 0, func(m *Send) (int, error) { return 0, nil })
	if n != 1 || err != nil {
		t.Errorf("got (%d, %v), want 1: a partial send ends the batch", n, err)
	}
}
