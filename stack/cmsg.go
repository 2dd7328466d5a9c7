package stack

import (
	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zerocopy"
)

// parseSendControl validates the control buffer oob of a send, as Linux's
// sock_cmsg_send (TCP) or ip_cmsg_send/ip6_datagram_send_ctl (UDP) with the
// series' __sock_cmsg_send, and adds its SCM_ZC_NOTIFICATION messages to
// tx: SCM_RIGHTS and SCM_CREDENTIALS are ignored as on inet sockets, other
// SOL_SOCKET types are EINVAL; other levels are ignored on TCP, and on UDP
// the IP level is EINVAL (the stack supports none of its messages). Unlike
// Linux, which acts on each message as it goes, it validates the whole
// buffer before anything is taken from the error queue.
func parseSendControl(oob []byte, stype, family int, tx *zerocopy.Notify) error {
	ipLevel := zerocopy.IPLevel(family)
	return syscalls.WalkCmsgs(oob, func(m syscalls.Cmsg) error {
		switch {
		case m.Level == unix.SOL_SOCKET:
			switch m.Type {
			case zerocopy.SCMZCNotification:
				return tx.Add(m.Data)
			case unix.SCM_RIGHTS, unix.SCM_CREDENTIALS:
				return nil
			}
			return unix.EINVAL
		case stype == unix.SOCK_DGRAM && m.Level == ipLevel:
			return unix.EINVAL
		}
		return nil
	})
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
	err := syscalls.WalkCmsgs(oob, func(m syscalls.Cmsg) error {
		if m.Level != unix.SOL_SOCKET || m.Type != zerocopy.SCMZCNotification {
			return nil
		}
		var err error
		dst, err = zerocopy.DecodeZCInfo(m.Data, dst)
		return err
	})
	return dst, err
}
