package syscalls

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ABI selects the layout of the guest's structures.
type ABI uint8

const (
	// ABI64 is the LP64 layout of x86-64 (and arm64) programs: 56-byte
	// msghdr, 16-byte cmsghdr, 8-byte cmsg alignment.
	ABI64 ABI = iota
	// ABICompat is the ILP32 layout of 32-bit programs on a 64-bit kernel
	// (MSG_CMSG_COMPAT): 28-byte msghdr, 12-byte cmsghdr, 4-byte alignment.
	ABICompat
)

// String implements fmt.Stringer.
func (a ABI) String() string {
	if a == ABICompat {
		return "compat"
	}
	return "64"
}

// Linux limits and flags (include/linux/socket.h, include/linux/fs.h,
// include/uapi/linux/uio.h).
const (
	// UIOMaxIOV is UIO_MAXIOV: more iovecs is EMSGSIZE, and sendmmsg
	// sends at most this many messages.
	UIOMaxIOV = 1024
	// MaxRWCount is MAX_RW_COUNT (INT_MAX & PAGE_MASK): iovecs are
	// truncated to this total.
	MaxRWCount = 0x7ffff000
	// DefaultOptmemMax is net.core.optmem_max on Linux 6.18 (and on this
	// project's reference machine): control buffers that need a
	// sock_kmalloc of this size or more fail.
	DefaultOptmemMax = 131072
	// SizeofSockaddrStorage bounds msg_namelen.
	SizeofSockaddrStorage = 128

	// MsgCmsgCompat is MSG_CMSG_COMPAT, the kernel-internal flag of the
	// compat syscalls; a 64-bit sendmsg, sendmmsg or recvmsg that passes
	// it fails with EINVAL.
	MsgCmsgCompat = 0x80000000
	// msgInternalSendmsgFlags is MSG_INTERNAL_SENDMSG_FLAGS
	// (MSG_SPLICE_PAGES | MSG_SENDPAGE_NOPOLICY | MSG_SENDPAGE_DECRYPTED),
	// which ____sys_sendmsg clears.
	msgInternalSendmsgFlags = 0x8000000 | 0x10000 | 0x100000

	// stackCtlSize is sizeof(ctl) in ____sys_sendmsg: control buffers up
	// to this size need no sock_kmalloc.
	stackCtlSize = 16 + 20
)

// layout is the size and offsets of the structures of one ABI.
type layout struct {
	msghdrSize                             int
	offName, offNamelen, offIov, offIovlen int
	offControl, offControllen, offFlags    int
	word                                   int // sizeof(void *), sizeof(size_t)
	mmsghdrSize, offMsgLen                 int
	iovecSize                              int
	cmsgHdrSize, cmsgAlign                 int
	offCmsgLevel, offCmsgType              int
	maxAddr                                uint64 // access_ok limit (TASK_SIZE_MAX)
}

// The compat structures of include/net/compat.h, as 32-bit programs lay
// them out: every field 4 bytes, no padding.
type (
	compatMsghdr struct {
		Name       uint32
		Namelen    uint32
		Iov        uint32
		Iovlen     uint32
		Control    uint32
		Controllen uint32
		Flags      uint32
	}
	compatMmsghdr struct {
		Hdr compatMsghdr
		Len uint32
	}
	compatIovec struct {
		Base uint32
		Len  uint32
	}
	compatCmsghdr struct {
		Len   uint32
		Level int32
		Type  int32
	}
)

// The 64-bit layout is x/sys/unix's, which this package requires to be the
// LP64 one (64-bit hosts only, as gVisor).
var (
	_ [unix.SizeofMsghdr - 56]byte
	_ [56 - unix.SizeofMsghdr]byte
)

var layouts = [...]layout{
	ABI64: {
		msghdrSize:    unix.SizeofMsghdr,
		offName:       int(unsafe.Offsetof(unix.Msghdr{}.Name)),
		offNamelen:    int(unsafe.Offsetof(unix.Msghdr{}.Namelen)),
		offIov:        int(unsafe.Offsetof(unix.Msghdr{}.Iov)),
		offIovlen:     int(unsafe.Offsetof(unix.Msghdr{}.Iovlen)),
		offControl:    int(unsafe.Offsetof(unix.Msghdr{}.Control)),
		offControllen: int(unsafe.Offsetof(unix.Msghdr{}.Controllen)),
		offFlags:      int(unsafe.Offsetof(unix.Msghdr{}.Flags)),
		word:          int(unsafe.Sizeof(unix.Msghdr{}.Controllen)),
		mmsghdrSize:   int(unsafe.Sizeof(unix.Mmsghdr{})),
		offMsgLen:     int(unsafe.Offsetof(unix.Mmsghdr{}.Len)),
		iovecSize:     unix.SizeofIovec,
		cmsgHdrSize:   unix.SizeofCmsghdr,
		cmsgAlign:     int(unsafe.Sizeof(unix.Cmsghdr{}.Len)),
		offCmsgLevel:  int(unsafe.Offsetof(unix.Cmsghdr{}.Level)),
		offCmsgType:   int(unsafe.Offsetof(unix.Cmsghdr{}.Type)),
		// x86-64 with 4-level page tables: (1 << 47) - PAGE_SIZE.
		maxAddr: 0x7ffffffff000,
	},
	ABICompat: {
		msghdrSize:    int(unsafe.Sizeof(compatMsghdr{})),
		offName:       int(unsafe.Offsetof(compatMsghdr{}.Name)),
		offNamelen:    int(unsafe.Offsetof(compatMsghdr{}.Namelen)),
		offIov:        int(unsafe.Offsetof(compatMsghdr{}.Iov)),
		offIovlen:     int(unsafe.Offsetof(compatMsghdr{}.Iovlen)),
		offControl:    int(unsafe.Offsetof(compatMsghdr{}.Control)),
		offControllen: int(unsafe.Offsetof(compatMsghdr{}.Controllen)),
		offFlags:      int(unsafe.Offsetof(compatMsghdr{}.Flags)),
		word:          int(unsafe.Sizeof(compatMsghdr{}.Controllen)),
		mmsghdrSize:   int(unsafe.Sizeof(compatMmsghdr{})),
		offMsgLen:     int(unsafe.Offsetof(compatMmsghdr{}.Len)),
		iovecSize:     int(unsafe.Sizeof(compatIovec{})),
		cmsgHdrSize:   int(unsafe.Sizeof(compatCmsghdr{})),
		cmsgAlign:     int(unsafe.Sizeof(compatCmsghdr{}.Len)),
		offCmsgLevel:  int(unsafe.Offsetof(compatCmsghdr{}.Level)),
		offCmsgType:   int(unsafe.Offsetof(compatCmsghdr{}.Type)),
		maxAddr:       0x7ffffffff000,
	},
}

func (a ABI) layout() *layout {
	if a == ABICompat {
		return &layouts[ABICompat]
	}
	return &layouts[ABI64]
}

// getWord reads a pointer- or size_t-sized field.
func (l *layout) getWord(b []byte) uint64 {
	if l.word == 8 {
		return binary.LittleEndian.Uint64(b)
	}
	return uint64(binary.LittleEndian.Uint32(b))
}

// putWord writes a pointer- or size_t-sized field.
func (l *layout) putWord(b []byte, v uint64) {
	if l.word == 8 {
		binary.LittleEndian.PutUint64(b, v)
	} else {
		binary.LittleEndian.PutUint32(b, uint32(v))
	}
}

// align rounds n up to the cmsg alignment (CMSG_ALIGN, CMSG_COMPAT_ALIGN).
func (l *layout) align(n uint64) uint64 {
	a := uint64(l.cmsgAlign)
	return (n + a - 1) &^ (a - 1)
}

// cmsgLen returns CMSG_LEN(n).
func (l *layout) cmsgLen(n int) int {
	return l.cmsgHdrSize + n
}

// cmsgSpace returns CMSG_SPACE(n).
func (l *layout) cmsgSpace(n int) int {
	return l.cmsgHdrSize + int(l.align(uint64(n)))
}
