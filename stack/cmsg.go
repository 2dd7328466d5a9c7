package stack

import (
	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zerocopy"
)

// parseSendControl validates the control buffer oob of a send, as Linux's
// sock_cmsg_send (TCP) or ip_cmsg_send/ip6_datagram_send_ctl (UDP) with the
// SCM_ZC_NOTIFICATION series' __sock_cmsg_send, and adds its
// SCM_ZC_NOTIFICATION messages to tx. It walks the messages as
// for_each_cmsghdr does (syscalls.WalkCmsgs). SCM_ZC_NOTIFICATION needs
// SO_ZEROCOPY and a valid zc_info (zerocopy.Notify.Add); SCM_RIGHTS and
// SCM_CREDENTIALS are ignored as Linux ignores them on inet sockets; other
// SOL_SOCKET types are EINVAL. Messages of other levels are ignored on TCP
// sockets, as in Linux; on UDP sockets the IP level (SOL_IP for AF_INET,
// SOL_IPV6 for AF_INET6) is EINVAL because the stack supports none of its
// messages, and other levels are ignored.
//
// Unlike Linux, which acts on each message as it goes, it validates the
// whole buffer before anything is taken from the error queue, so an invalid
// later message cannot lose completions taken for an earlier one.
func parseSendControl(oob []byte, stype, family int, tx *zerocopy.Notify) error {
	err := syscalls.WalkCmsgs(oob, func(level, typ int32, data []byte) error {
		switch {
		case level == unix.SOL_SOCKET:
			switch typ {
			case zerocopy.SCMZCNotification:
				return tx.Add(data)
			case unix.SCM_RIGHTS, unix.SCM_CREDENTIALS:
				return nil
			}
			return unix.EINVAL
		case stype == unix.SOCK_DGRAM && level == ipLevel(family):
			return unix.EINVAL
		}
		return nil
	})
	return err
}

// ipLevel returns the IP level a UDP socket of family reads control
// messages at.
func ipLevel(family int) int32 {
	if family == unix.AF_INET6 {
		return unix.SOL_IPV6
	}
	return unix.SOL_IP
}

// copyBack is the series' sendmsg_copy_cmsg_to_user on oob, a control
// buffer whose SCM_ZC_NOTIFICATION messages the send filled in place: every
// message of type SCM_ZC_NOTIFICATION (of any level, as cmsg_copy_to_user
// tests only the type) is put_cmsg'd from the start of oob in order. It
// returns the bytes used, the new msg_controllen.
func copyBack(oob []byte) int {
	w := 0
	syscalls.WalkCmsgs(oob, func(level, typ int32, data []byte) error {
		if typ == zerocopy.SCMZCNotification {
			used, _ := syscalls.PutCmsg(oob[w:], level, typ, data)
			w += used
		}
		return nil
	})
	return w
}

// AppendZCNotification appends to oob a SOL_SOCKET/SCM_ZC_NOTIFICATION
// control message with room for n completions (zc_info.size n), padded to
// CMSG_SPACE: what a program passes to SendMsg to get completions back. If n
// is not within 0 to zerocopy.ZCNotificationMax, which is all SendMsg
// accepts, it returns oob unchanged.
//
// A send that succeeds rewrites the buffer in place: it sets each size to
// the number of completions written back and moves the messages to the
// front. Rebuild the buffer (or set each size again) before reusing it.
func AppendZCNotification(oob []byte, n int) []byte {
	if n < 0 || n > zerocopy.ZCNotificationMax {
		return oob
	}
	return syscalls.AppendCmsg(oob, unix.SOL_SOCKET, zerocopy.SCMZCNotification, zerocopy.AppendZCInfo(nil, n))
}

// ZCNotifications appends to dst the completions that SendMsg wrote back
// into oob[:oobn]: those of every SCM_ZC_NOTIFICATION message. Other
// messages are skipped; a malformed buffer is EINVAL.
func ZCNotifications(oob []byte, dst []zerocopy.Completion) ([]zerocopy.Completion, error) {
	err := syscalls.WalkCmsgs(oob, func(level, typ int32, data []byte) error {
		if level != unix.SOL_SOCKET || typ != zerocopy.SCMZCNotification {
			return nil
		}
		var err error
		dst, err = zerocopy.DecodeZCInfo(data, dst)
		return err
	})
	return dst, err
}
