package stack

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// zcMsg is the data of one SOL_SOCKET/SCM_ZC_NOTIFICATION message of a
// send and its validated zc_info.size.
type zcMsg struct {
	data []byte
	size int
}

// zcFixed bounds the SCM_ZC_NOTIFICATION messages a send call handles
// without allocating.
const zcFixed = 2

// sendControl is what the control buffer of a send holds for the stack.
type sendControl struct {
	// fixed and extra hold the SCM_ZC_NOTIFICATION messages in order: the
	// first zcFixed in fixed, any others in extra; n counts them all.
	fixed [zcFixed]zcMsg
	extra []zcMsg
	n     int
	// total is the sum of the sizes: how many completions to take.
	total int
}

func (sc *sendControl) add(m zcMsg) {
	if sc.n < zcFixed {
		sc.fixed[sc.n] = m
	} else {
		sc.extra = append(sc.extra, m)
	}
	sc.n++
	sc.total += m.size
}

// msg returns the i-th SCM_ZC_NOTIFICATION message.
func (sc *sendControl) msg(i int) zcMsg {
	if i < zcFixed {
		return sc.fixed[i]
	}
	return sc.extra[i-zcFixed]
}

// parseSendControl validates the control buffer oob of a send, as Linux's
// sock_cmsg_send (TCP) or ip_cmsg_send/ip6_datagram_send_ctl (UDP) with the
// SCM_ZC_NOTIFICATION series' __sock_cmsg_send. It walks the messages as
// for_each_cmsghdr does: a buffer shorter than a cmsghdr holds none, a
// header whose cmsg_len is under sizeof(struct cmsghdr) or runs past the
// buffer is EINVAL (CMSG_OK), and trailing bytes shorter than a header are
// ignored. SCM_ZC_NOTIFICATION needs SO_ZEROCOPY (else EINVAL) and a zc_info
// that zerocopy.ParseZCInfo accepts. SCM_RIGHTS and SCM_CREDENTIALS are
// ignored as Linux ignores them on inet sockets; other SOL_SOCKET types are
// EINVAL. Messages of other levels are ignored on TCP sockets, as in Linux;
// on UDP sockets the IP level (SOL_IP for AF_INET, SOL_IPV6 for AF_INET6) is
// EINVAL because the stack supports none of its messages, and other levels
// are ignored.
//
// Unlike Linux, which acts on each message as it goes, it validates the
// whole buffer before anything is taken from the error queue, so an invalid
// later message cannot lose completions taken for an earlier one.
func parseSendControl(oob []byte, zerocopyOn bool, stype, family int, sc *sendControl) error {
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return unix.EINVAL
		}
		oob = rest
		switch {
		case h.Level == unix.SOL_SOCKET:
			switch h.Type {
			case zerocopy.SCMZCNotification:
				if !zerocopyOn {
					return unix.EINVAL
				}
				n, err := zerocopy.ParseZCInfo(data)
				if err != nil {
					return err
				}
				sc.add(zcMsg{data: data, size: n})
			case unix.SCM_RIGHTS, unix.SCM_CREDENTIALS:
			default:
				return unix.EINVAL
			}
		case stype == unix.SOCK_DGRAM && h.Level == ipLevel(family):
			return unix.EINVAL
		}
	}
	return nil
}

// ipLevel returns the IP level a UDP socket of family reads control
// messages at.
func ipLevel(family int) int32 {
	if family == unix.AF_INET6 {
		return unix.SOL_IPV6
	}
	return unix.SOL_IP
}

// putCmsg writes a control message at the start of b as Linux's put_cmsg
// does and returns how many bytes of b it used and whether it truncated the
// message (MSG_CTRUNC). A b shorter than a cmsghdr gets nothing and
// truncates; a short b gets a header whose cmsg_len says how much was
// written.
func putCmsg(b []byte, level, typ int32, data []byte) (int, bool) {
	if len(b) < unix.SizeofCmsghdr {
		return 0, true
	}
	cmlen := unix.CmsgLen(len(data))
	trunc := len(b) < cmlen
	if trunc {
		cmlen = len(b)
	}
	// data may overlap b past the header: move it first.
	copy(b[unix.SizeofCmsghdr:cmlen], data)
	binary.NativeEndian.PutUint64(b[0:], uint64(cmlen))
	binary.NativeEndian.PutUint32(b[8:], uint32(level))
	binary.NativeEndian.PutUint32(b[12:], uint32(typ))
	return min(unix.CmsgSpace(len(data)), len(b)), trunc
}

// AppendZCNotification appends to oob a SOL_SOCKET/SCM_ZC_NOTIFICATION
// control message with room for n completions (zc_info.size n), padded to
// CMSG_SPACE: what a program passes to SendMsg to get completions back.
func AppendZCNotification(oob []byte, n int) []byte {
	data := zerocopy.ZCInfoLen(n)
	oob = binary.NativeEndian.AppendUint64(oob, uint64(unix.CmsgLen(data)))
	oob = binary.NativeEndian.AppendUint32(oob, unix.SOL_SOCKET)
	oob = binary.NativeEndian.AppendUint32(oob, zerocopy.SCMZCNotification)
	oob = zerocopy.AppendZCInfo(oob, n)
	return append(oob, make([]byte, unix.CmsgSpace(data)-unix.CmsgLen(data))...)
}

// ZCNotifications appends to dst the completions that SendMsg wrote back
// into oob[:oobn]: those of every SCM_ZC_NOTIFICATION message. Other
// messages are skipped; a malformed buffer is EINVAL.
func ZCNotifications(oob []byte, dst []zerocopy.Completion) ([]zerocopy.Completion, error) {
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return dst, unix.EINVAL
		}
		if h.Level == unix.SOL_SOCKET && h.Type == zerocopy.SCMZCNotification {
			if dst, err = zerocopy.DecodeZCInfo(data, dst); err != nil {
				return dst, err
			}
		}
		oob = rest
	}
	return dst, nil
}
