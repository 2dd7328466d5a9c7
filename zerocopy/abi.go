package zerocopy

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// ABI constants of the SCM_ZC_NOTIFICATION series and of linux/errqueue.h.
const (
	// SCMZCNotification is the SOL_SOCKET control message type that carries
	// a struct zc_info on sendmsg (asm-generic/socket.h in the series).
	SCMZCNotification = 78

	// ZCNotificationMax bounds zc_info.size (ZC_NOTIFICATION_MAX).
	ZCNotificationMax = 16

	// ZCInfoHeaderSize is sizeof(struct zc_info): the u32 size field.
	ZCInfoHeaderSize = 4

	// ZCInfoElemSize is sizeof(struct zc_info_elem): u32 lo, u32 hi, u8
	// zerocopy and three bytes of tail padding.
	ZCInfoElemSize = 12

	// OriginZerocopy is SO_EE_ORIGIN_ZEROCOPY.
	OriginZerocopy = unix.SO_EE_ORIGIN_ZEROCOPY

	// CodeZerocopyCopied is SO_EE_CODE_ZEROCOPY_COPIED: the kernel copied
	// the data after all.
	CodeZerocopyCopied = unix.SO_EE_CODE_ZEROCOPY_COPIED
)

// Completion is a range of MSG_ZEROCOPY send ids [Lo, Hi] whose buffers the
// stack no longer uses. The range may wrap: Lo > Hi means it runs through
// 2^32-1 to 0.
type Completion struct {
	Lo, Hi uint32
	// Copied reports that the stack copied the data instead of sending
	// from the caller's pages (SO_EE_CODE_ZEROCOPY_COPIED; zc_info_elem
	// zerocopy == 0).
	Copied bool
}

// Len returns the number of ids in the range, 1 to 2^32.
func (c Completion) Len() uint64 {
	return uint64(c.Hi-c.Lo) + 1
}

// ExtendedErr returns the sock_extended_err that Linux queues for c
// (__msg_zerocopy_callback): errno 0, origin SO_EE_ORIGIN_ZEROCOPY, ee_info
// lo, ee_data hi.
func (c Completion) ExtendedErr() unix.SockExtendedErr {
	ee := unix.SockExtendedErr{Origin: OriginZerocopy, Info: c.Lo, Data: c.Hi}
	if c.Copied {
		ee.Code = CodeZerocopyCopied
	}
	return ee
}

// completionOf returns the completion that ee describes, if it is one. Like
// the series' SCM_ZC_NOTIFICATION handler it requires errno 0 and origin
// SO_EE_ORIGIN_ZEROCOPY.
func completionOf(ee unix.SockExtendedErr) (Completion, bool) {
	if ee.Errno != 0 || ee.Origin != OriginZerocopy {
		return Completion{}, false
	}
	return Completion{Lo: ee.Info, Hi: ee.Data, Copied: ee.Code&CodeZerocopyCopied != 0}, true
}

// zcInfoLen returns the cmsg data length of a zc_info with n elements.
func zcInfoLen(n int) int {
	return ZCInfoHeaderSize + n*ZCInfoElemSize
}

// ParseZCInfo validates the data of a SOL_SOCKET/SCM_ZC_NOTIFICATION control
// message as the series' __sock_cmsg_send does and returns zc_info.size, the
// number of completions the caller has room for. data is the cmsg payload:
// cmsg_len minus the cmsghdr, without alignment padding. It returns EINVAL if
// data is shorter than struct zc_info, if size exceeds ZCNotificationMax, or
// if the data length is not exactly zcInfoLen(size).
//
// The caller checks SO_ZEROCOPY first: the series returns EINVAL before
// looking at the data when it is off.
func ParseZCInfo(data []byte) (int, error) {
	if len(data) < ZCInfoHeaderSize {
		return 0, unix.EINVAL
	}
	size := binary.LittleEndian.Uint32(data)
	if size > ZCNotificationMax || len(data)-ZCInfoHeaderSize != int(size)*ZCInfoElemSize {
		return 0, unix.EINVAL
	}
	return int(size), nil
}

// putZCInfo fills a validated zc_info in place with cs, as the series does in
// the kernel's copy of the control buffer: it sets size to len(cs) and writes
// lo, hi and zerocopy of the first len(cs) elements. Padding bytes and the
// elements past len(cs) keep their contents, because the series copies the
// whole original cmsg back to the user. len(cs) must not exceed the size
// ParseZCInfo returned for data.
func putZCInfo(data []byte, cs []Completion) {
	binary.LittleEndian.PutUint32(data, uint32(len(cs)))
	for i, c := range cs {
		e := data[ZCInfoHeaderSize+i*ZCInfoElemSize:]
		binary.LittleEndian.PutUint32(e[0:], c.Lo)
		binary.LittleEndian.PutUint32(e[4:], c.Hi)
		if c.Copied {
			e[8] = 0
		} else {
			e[8] = 1
		}
	}
}

// AppendZCInfo appends a zc_info with room for n elements and size n, zeroed
// elements included: what a program passes with sendmsg.
func AppendZCInfo(b []byte, n int) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, make([]byte, n*ZCInfoElemSize)...)
}

// DecodeZCInfo reads the completions out of a zc_info that sendmsg returned:
// the first size elements of data. It returns EINVAL if size exceeds the
// elements data holds.
func DecodeZCInfo(data []byte, dst []Completion) ([]Completion, error) {
	if len(data) < ZCInfoHeaderSize {
		return dst, unix.EINVAL
	}
	size := binary.LittleEndian.Uint32(data)
	if uint64(size) > uint64((len(data)-ZCInfoHeaderSize)/ZCInfoElemSize) {
		return dst, unix.EINVAL
	}
	for i := 0; i < int(size); i++ {
		e := data[ZCInfoHeaderSize+i*ZCInfoElemSize:]
		dst = append(dst, Completion{
			Lo:     binary.LittleEndian.Uint32(e[0:]),
			Hi:     binary.LittleEndian.Uint32(e[4:]),
			Copied: e[8] == 0,
		})
	}
	return dst, nil
}
