package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"
)

// msghdr is a struct msghdr (user_msghdr or compat_msghdr) as read from the
// guest, widened.
type msghdr struct {
	name       uint64
	namelen    int32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
	flags      uint32
}

// readMsghdr reads the msghdr at addr (copy_msghdr_from_user,
// get_compat_msghdr): EFAULT if any of it is unreadable.
func (sc *scratch) readMsghdr(mem Reader, abi ABI, addr hostarch.Addr) (msghdr, error) {
	l := abi.layout()
	b := sc.hdr[:l.msghdrSize]
	if err := copyIn(mem, addr, b); err != nil {
		return msghdr{}, err
	}
	return msghdr{
		name:       l.getWord(b[l.offName:]),
		namelen:    int32(binary.LittleEndian.Uint32(b[l.offNamelen:])),
		iov:        l.getWord(b[l.offIov:]),
		iovlen:     l.getWord(b[l.offIovlen:]),
		control:    l.getWord(b[l.offControl:]),
		controllen: l.getWord(b[l.offControllen:]),
		flags:      binary.LittleEndian.Uint32(b[l.offFlags:]),
	}, nil
}

// ReadMsgControl reads the msghdr of a 64-bit caller at addr and, if it is
// not longer than limit, its control buffer: what a tracer shows of a
// message. It returns EFAULT if either cannot be read and EMSGSIZE if the
// control buffer is longer than limit; control is nil if msg_control is
// NULL or msg_controllen 0.
func ReadMsgControl(mem Reader, addr hostarch.Addr, limit uint64) (control []byte, controllen uint64, flags uint32, err error) {
	sc := getScratch()
	defer sc.release()
	h, err := sc.readMsghdr(mem, ABI64, addr)
	switch {
	case err != nil:
		return nil, 0, 0, err
	case h.control == 0 || h.controllen == 0:
		return nil, h.controllen, h.flags, nil
	case h.controllen > limit:
		return nil, h.controllen, h.flags, unix.EMSGSIZE
	}
	control = make([]byte, h.controllen)
	if err := copyIn(mem, hostarch.Addr(h.control), control); err != nil {
		return nil, h.controllen, h.flags, err
	}
	return control, h.controllen, h.flags, nil
}

// importMsg checks and imports the name and iovecs of h as __copy_msghdr
// and import_iovec do, in Linux's order: EINVAL for a negative msg_namelen
// with a name, EFAULT for an unreadable name (send only: recvmsg writes it
// later), EMSGSIZE for more than UIOMaxIOV iovecs, then the iovec errors of
// importIovecs. It returns the name for a send (nil if none; msg_namelen
// clamped to SizeofSockaddrStorage), the iovecs and their total.
func (sc *scratch) importMsg(mem Memory, abi ABI, h *msghdr, send bool) (name []byte, iov []hostarch.AddrRange, total int64, err error) {
	namelen := int(h.namelen)
	if h.name == 0 {
		namelen = 0
	}
	if namelen < 0 {
		return nil, nil, 0, unix.EINVAL
	}
	namelen = min(namelen, SizeofSockaddrStorage)
	if send && namelen > 0 {
		name = sc.name[:namelen]
		if err := copyIn(mem, hostarch.Addr(h.name), name); err != nil {
			return nil, nil, 0, err
		}
	}
	if h.iovlen > UIOMaxIOV {
		return nil, nil, 0, unix.EMSGSIZE
	}
	iov, total, err = sc.importIovecs(mem, abi, hostarch.Addr(h.iov), int(h.iovlen))
	if err != nil {
		return nil, nil, 0, err
	}
	return name, iov, total, nil
}

// importIovecs reads n iovecs at addr as Linux's __import_iovec does:
// EFAULT if the array is unreadable, EINVAL for a length that is negative
// as a signed size (ssize_t, or compat_ssize_t for compat), EFAULT for a
// segment that leaves the user address range (access_ok), and the total
// truncated to MaxRWCount. A single iovec is truncated before its range is
// checked (import_ubuf), several after.
func (sc *scratch) importIovecs(mem Memory, abi ABI, addr hostarch.Addr, n int) ([]hostarch.AddrRange, int64, error) {
	if n == 0 {
		return nil, 0, nil
	}
	l := abi.layout()
	sc.iovec = grow(sc.iovec, n*l.iovecSize)
	buf := sc.iovec
	got, cerr := mem.CopyInBytes(addr, buf)
	if cerr == nil {
		got = len(buf)
	}
	segs := sc.segs[:0]
	// copy_iovec_from_user checks each length as it reads it, so a
	// negative length before the fault wins over the fault.
	for i := 0; i < n; i++ {
		e := buf[i*l.iovecSize:]
		if (i+1)*l.iovecSize > got {
			return nil, 0, unix.EFAULT
		}
		s := seg{base: l.getWord(e), len: l.getWord(e[l.word:])}
		if (l.word == 8 && int64(s.len) < 0) || (l.word == 4 && int32(s.len) < 0) {
			return nil, 0, unix.EINVAL
		}
		segs = append(segs, s)
	}
	sc.segs = segs
	sc.iov = grow(sc.iov, n)
	iov := sc.iov
	var total uint64
	for i, s := range segs {
		if n == 1 {
			s.len = min(s.len, MaxRWCount)
		}
		if !l.accessOK(s.base, s.len) {
			return nil, 0, unix.EFAULT
		}
		s.len = min(s.len, MaxRWCount-total)
		total += s.len
		iov[i] = hostarch.AddrRange{Start: hostarch.Addr(s.base), End: hostarch.Addr(s.base + s.len)}
	}
	return iov, int64(total), nil
}

// importBuffer checks a single buffer of a 64-bit caller as Linux's
// import_ubuf does for recvfrom and sendto: its length is truncated to
// MaxRWCount, and a range that leaves the user address range (access_ok) is
// EFAULT, before any other check of the call. It returns the range.
func importBuffer(addr hostarch.Addr, n uint64) (hostarch.AddrRange, error) {
	n = min(n, MaxRWCount)
	if !ABI64.layout().accessOK(uint64(addr), n) {
		return hostarch.AddrRange{}, unix.EFAULT
	}
	return hostarch.AddrRange{Start: addr, End: addr + hostarch.Addr(n)}, nil
}

// accessOK is x86-64's access_ok: the range ends within the user address
// range and does not wrap.
func (l *layout) accessOK(base, n uint64) bool {
	end := base + n
	return end >= base && end <= l.maxAddr
}
