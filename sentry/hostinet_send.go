package sentry

import (
	"cmp"
	"slices"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/errors/linuxerr"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/safemem"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/ktime"
	"gvisor.dev/gvisor/pkg/sentry/memmap"
	"gvisor.dev/gvisor/pkg/sentry/mm"
	"gvisor.dev/gvisor/pkg/sentry/socket"
	"gvisor.dev/gvisor/pkg/sentry/socket/control"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zchost"
)

// sendMsg implements ourSocket.sendMsg: syscalls/ reads the message and
// serves its SCM_ZC_NOTIFICATION messages, write sends it.
func (s *hostSocket) sendMsg(t *kernel.Task, file *vfs.FileDescription, c syscalls.Call, msgAddr hostarch.Addr, flags uint32) (int, error) {
	return c.SendMsg(msgAddr, flags, func(m *syscalls.Send) (int, error) {
		return s.write(t, file, "sendmsg", m)
	})
}

// sendMMsg implements ourSocket.sendMMsg, as sendMsg.
func (s *hostSocket) sendMMsg(t *kernel.Task, file *vfs.FileDescription, c syscalls.Call, vecAddr hostarch.Addr, vlen, flags uint32) (int, error) {
	return c.SendMMsg(vecAddr, vlen, flags, func(m *syscalls.Send) (int, error) {
		return s.write(t, file, "sendmmsg", m)
	})
}

// write sends one message that syscalls/ read (writeMsg): with the host's
// MSG_ZEROCOPY from the guest's memory (sendZerocopy) if the message has
// MSG_ZEROCOPY, the socket SO_ZEROCOPY and the send would take an id, else
// through hostinet's SendMsg without MSG_ZEROCOPY.
func (s *hostSocket) write(t *kernel.Task, file *vfs.FileDescription, op string, m *syscalls.Send) (int, error) {
	zc := s.zc.Load()
	return writeMsg(t, file, s.Socket, op, m, func(flags int, haveDeadline bool, deadline ktime.Time, cms socket.ControlMessages) (int, error) {
		if m.Flags&linux.MSG_ZEROCOPY != 0 && zc.ZerocopyEnabled() && (m.Len > 0 || s.skType == linux.SOCK_DGRAM) && hostFD(s.host) >= 0 {
			return s.sendZerocopy(t, zc, m, flags, haveDeadline, deadline, cms)
		}
		n, e := s.Socket.SendMsg(t, guestIO(t, m), m.Name, flags, haveDeadline, deadline, cms)
		return n, e.ToError()
	})
}

// sendTo implements ourSocket.sendTo: the host's MSG_ZEROCOPY from the
// guest's buffer (write), with sendto's arguments as Linux reads them
// (syscalls.Call.SendTo).
func (s *hostSocket) sendTo(t *kernel.Task, file *vfs.FileDescription, flags uint32, _ kernel.SyscallFn, _ uintptr, args arch.SyscallArguments) (int, error) {
	if flags&^(sendFlags|linux.MSG_ZEROCOPY) != 0 {
		return 0, linuxerr.EINVAL
	}
	c := call(t, file, s.zc.Load())
	return c.SendTo(args[1].Pointer(), args[2].Uint64(), flags, args[4].Pointer(), args[5].Int(), func(m *syscalls.Send) (int, error) {
		return s.write(t, file, "sendto", m)
	})
}

// sendZerocopy sends m from the guest's memory with the host's MSG_ZEROCOPY,
// as hostinet's SendMsg sends it without (sendmsgFromBlocks): it pins the
// guest's pages (so that they stay the guest's while the host sends from
// them, even if the guest unmaps them: Linux pins them too), gives the host
// iovecs of the sentry's mappings of them, and makes non-blocking host sends
// until the message is sent, waiting for room between them as hostinet does
// unless the send must not block (MSG_DONTWAIT). A stream send that is
// interrupted or times out after sending part of the data returns the
// count, as Linux's does. zchost numbers the host sends and the guest's;
// the pages are unpinned once the host has completed every host send.
func (s *hostSocket) sendZerocopy(t *kernel.Task, zc *zchost.State, m *syscalls.Send, flags int, haveDeadline bool, deadline ktime.Time, cms socket.ControlMessages) (int, error) {
	tx, err := zc.Begin()
	if err != nil {
		return 0, hostErr(err)
	}
	prs, bs, err := pinGuest(t, m.Iov)
	if err != nil {
		tx.End(false, nil)
		return 0, err
	}
	var release func()
	if len(prs) > 0 {
		release = func() { mm.Unpin(prs) }
	}
	ctl := hostControl(t, cms)
	dgram := s.skType == linux.SOCK_DGRAM
	var ch chan struct{}
	sent := uint64(0)
	for {
		iov := safemem.IovecsFromBlockSeq(bs.DropFirst64(sent))
		if !dgram && len(iov) > syscalls.UIOMaxIOV {
			// The rest goes in the next host send.
			iov = iov[:syscalls.UIOMaxIOV]
		}
		var n int
		n, err = tx.Send(iov, m.Name, ctl, flags)
		if n > 0 {
			// The host took the control messages with the first bytes.
			sent += uint64(n)
			ctl = nil
		}
		if err == nil && (dgram || sent == uint64(m.Len) || n == 0) {
			break
		}
		if err != nil && err != unix.EAGAIN {
			break
		}
		if flags&linux.MSG_DONTWAIT != 0 {
			// What went is the result; EAGAIN only if nothing did.
			if sent > 0 {
				err = nil
			}
			break
		}
		if err == nil {
			// A stream took part of the data: the rest waits for room.
			continue
		}
		if ch == nil {
			// Register, then try again before waiting, so that room
			// made in between is not missed (as hostinet does).
			var e waiter.Entry
			e, ch = waiter.NewChannelEntry(waiter.WritableEvents | waiter.EventHUp | waiter.EventErr)
			if rerr := s.EventRegister(&e); rerr != nil {
				err = rerr
				break
			}
			defer s.EventUnregister(&e)
			continue
		}
		if err = t.BlockWithDeadline(ch, haveDeadline, deadline); err != nil {
			if linuxerr.Equals(linuxerr.ETIMEDOUT, err) {
				err = linuxerr.ErrWouldBlock
			}
			break
		}
	}
	tx.End(sent > 0 || (err == nil && dgram), release)
	return int(sent), hostErr(err)
}

// hostErr converts the errno of a host call to gVisor's error, as hostinet
// does (EAGAIN is ErrWouldBlock); other errors pass unchanged.
func hostErr(err error) error {
	if errno, ok := err.(unix.Errno); ok {
		return linuxerr.ErrorFromUnix(errno)
	}
	return err
}

// hostControl packs the control messages of a send for the host, as
// hostinet's SendMsg does.
func hostControl(t *kernel.Task, cms socket.ControlMessages) []byte {
	space := min(control.CmsgsSpace(t, cms), hostinetMaxControlLen)
	if space == 0 {
		return nil
	}
	return control.PackControlMessages(t, cms, make([]byte, 0, space))
}

// hostinetMaxControlLen is hostinet's maxControlLen: the largest control
// buffer it gives the host.
const hostinetMaxControlLen = 1024

// pinGuest pins the guest memory of iov (mm.Pin, which keeps the pages from
// being freed or reused until mm.Unpin, as Linux's page references do for
// a zerocopy send) and returns the pins and the sentry's mappings of iov's
// bytes, in iov's order. A range that is not mapped readable is EFAULT, and
// nothing is left pinned, as hostinet sends nothing if any part of its
// source is unusable.
func pinGuest(t *kernel.Task, iov []hostarch.AddrRange) ([]mm.PinnedRange, safemem.BlockSeq, error) {
	// Pin each page once: the iovecs' pages, sorted and merged.
	var pages []hostarch.AddrRange
	for _, ar := range iov {
		if ar.Length() == 0 {
			continue
		}
		start, end := ar.Start.RoundDown(), ar.End.MustRoundUp()
		pages = append(pages, hostarch.AddrRange{Start: start, End: end})
	}
	slices.SortFunc(pages, func(a, b hostarch.AddrRange) int { return cmp.Compare(a.Start, b.Start) })
	merged := pages[:0]
	for _, r := range pages {
		if k := len(merged); k > 0 && r.Start <= merged[k-1].End {
			merged[k-1].End = max(merged[k-1].End, r.End)
			continue
		}
		merged = append(merged, r)
	}
	var prs []mm.PinnedRange
	for _, r := range merged {
		p, err := t.MemoryManager().Pin(t, r, hostarch.Read, false)
		prs = append(prs, p...)
		if err != nil {
			mm.Unpin(prs)
			return nil, safemem.BlockSeq{}, linuxerr.EFAULT
		}
	}
	var blocks []safemem.Block
	for _, ar := range iov {
		// The first pin that ends after ar starts; pins are sorted.
		i, _ := slices.BinarySearchFunc(prs, ar.Start, func(pr mm.PinnedRange, a hostarch.Addr) int {
			if pr.Source.End <= a {
				return -1
			}
			return 1
		})
		for ; i < len(prs) && prs[i].Source.Start < ar.End && ar.Length() > 0; i++ {
			sub := ar.Intersect(prs[i].Source)
			off := prs[i].Offset + uint64(sub.Start-prs[i].Source.Start)
			bs, err := prs[i].File.MapInternal(memmap.FileRange{Start: off, End: off + uint64(sub.Length())}, hostarch.Read)
			if err != nil {
				mm.Unpin(prs)
				return nil, safemem.BlockSeq{}, linuxerr.EFAULT
			}
			for ; !bs.IsEmpty(); bs = bs.Tail() {
				blocks = append(blocks, bs.Head())
			}
		}
	}
	return prs, safemem.BlockSeqFromSlice(blocks), nil
}
