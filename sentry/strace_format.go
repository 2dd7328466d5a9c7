package sentry

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/syscalls"
	"github.com/zcstack/zcstack/zerocopy"
)

// The names and layouts strace prints for zerocopy, in the style of gVisor's
// pkg/sentry/strace: abi.FlagSet and abi.ValueSet tables, structures as
// {field=value, ...}.

// msgFlagSet names the flags of send and receive calls and of msg_flags
// (include/linux/socket.h). gVisor's strace prints them in hex.
var msgFlagSet = abi.FlagSet{
	{Flag: linux.MSG_OOB, Name: "MSG_OOB"},
	{Flag: linux.MSG_PEEK, Name: "MSG_PEEK"},
	{Flag: linux.MSG_DONTROUTE, Name: "MSG_DONTROUTE"},
	{Flag: linux.MSG_CTRUNC, Name: "MSG_CTRUNC"},
	{Flag: linux.MSG_PROBE, Name: "MSG_PROBE"},
	{Flag: linux.MSG_TRUNC, Name: "MSG_TRUNC"},
	{Flag: linux.MSG_DONTWAIT, Name: "MSG_DONTWAIT"},
	{Flag: linux.MSG_EOR, Name: "MSG_EOR"},
	{Flag: linux.MSG_WAITALL, Name: "MSG_WAITALL"},
	{Flag: linux.MSG_FIN, Name: "MSG_FIN"},
	{Flag: linux.MSG_SYN, Name: "MSG_SYN"},
	{Flag: linux.MSG_CONFIRM, Name: "MSG_CONFIRM"},
	{Flag: linux.MSG_RST, Name: "MSG_RST"},
	{Flag: linux.MSG_ERRQUEUE, Name: "MSG_ERRQUEUE"},
	{Flag: linux.MSG_NOSIGNAL, Name: "MSG_NOSIGNAL"},
	{Flag: linux.MSG_MORE, Name: "MSG_MORE"},
	{Flag: linux.MSG_WAITFORONE, Name: "MSG_WAITFORONE"},
	{Flag: unix.MSG_BATCH, Name: "MSG_BATCH"},
	{Flag: linux.MSG_ZEROCOPY, Name: "MSG_ZEROCOPY"},
	{Flag: linux.MSG_FASTOPEN, Name: "MSG_FASTOPEN"},
	{Flag: linux.MSG_CMSG_CLOEXEC, Name: "MSG_CMSG_CLOEXEC"},
}

// cmsgLevels names the levels of the control messages zerocopy uses.
var cmsgLevels = abi.ValueSet{
	linux.SOL_SOCKET: "SOL_SOCKET",
	linux.SOL_IP:     "SOL_IP",
	linux.SOL_IPV6:   "SOL_IPV6",
}

// cmsgTypes names control message types by level: gVisor's (strace's
// controlMessageType), SCM_ZC_NOTIFICATION and the error-queue messages.
var cmsgTypes = map[uint64]abi.ValueSet{
	linux.SOL_SOCKET: {
		linux.SCM_RIGHTS:           "SCM_RIGHTS",
		linux.SCM_CREDENTIALS:      "SCM_CREDENTIALS",
		linux.SO_TIMESTAMP:         "SO_TIMESTAMP",
		zerocopy.SCMZCNotification: "SCM_ZC_NOTIFICATION",
	},
	linux.SOL_IP:   {linux.IP_RECVERR: "IP_RECVERR"},
	linux.SOL_IPV6: {linux.IPV6_RECVERR: "IPV6_RECVERR"},
}

// eeOrigins names sock_extended_err.ee_origin (include/uapi/linux/errqueue.h).
var eeOrigins = abi.ValueSet{
	linux.SO_EE_ORIGIN_NONE:  "SO_EE_ORIGIN_NONE",
	linux.SO_EE_ORIGIN_LOCAL: "SO_EE_ORIGIN_LOCAL",
	linux.SO_EE_ORIGIN_ICMP:  "SO_EE_ORIGIN_ICMP",
	linux.SO_EE_ORIGIN_ICMP6: "SO_EE_ORIGIN_ICMP6",
	zerocopy.OriginZerocopy:  "SO_EE_ORIGIN_ZEROCOPY",
}

// msgFlags formats send or receive flags, or msg_flags.
func msgFlags(flags uint32) string {
	return msgFlagSet.Parse(uint64(flags))
}

// isZCNotification reports whether m is a SOL_SOCKET/SCM_ZC_NOTIFICATION
// message.
func isZCNotification(m *syscalls.Cmsg) bool {
	return m.Level == linux.SOL_SOCKET && m.Type == zerocopy.SCMZCNotification
}

// isRecvErr reports whether m is an error-queue message:
// SOL_IP/IP_RECVERR or SOL_IPV6/IPV6_RECVERR.
func isRecvErr(m *syscalls.Cmsg) bool {
	return (m.Level == linux.SOL_IP && m.Type == linux.IP_RECVERR) ||
		(m.Level == linux.SOL_IPV6 && m.Type == linux.IPV6_RECVERR)
}

// cmsgs splits buf, a control buffer in the 64-bit layout, into its
// messages as Linux walks a control buffer (syscalls.WalkCmsgs); bad
// reports a cmsg_len below the header or past the buffer, which ends the
// walk.
func cmsgs(buf []byte) (ms []syscalls.Cmsg, bad bool) {
	err := syscalls.WalkCmsgs(buf, func(m syscalls.Cmsg) error {
		ms = append(ms, m)
		return nil
	})
	return ms, err != nil
}

// hasZCNotification reports whether the control buffer buf holds a
// SOL_SOCKET/SCM_ZC_NOTIFICATION message.
func hasZCNotification(buf []byte) bool {
	ms, _ := cmsgs(buf)
	for i := range ms {
		if isZCNotification(&ms[i]) {
			return true
		}
	}
	return false
}

// formatCmsgs formats the messages of a control buffer in the 64-bit layout,
// decoding zc_info and the error-queue message. out selects how zc_info is
// shown: the room the caller asks for on the way in, the completions
// written back on the way out.
func formatCmsgs(buf []byte, out bool) string {
	ms, bad := cmsgs(buf)
	strs := make([]string, 0, len(ms)+1)
	for i := range ms {
		strs = append(strs, formatCmsg(&ms[i], out))
	}
	if bad {
		strs = append(strs, "(invalid cmsg_len)")
	}
	return "[" + strings.Join(strs, ", ") + "]"
}

// formatCmsg formats m as gVisor's strace formats a control message, with
// the zerocopy payloads decoded.
func formatCmsg(m *syscalls.Cmsg, out bool) string {
	level := uint64(uint32(m.Level))
	s := fmt.Sprintf("level=%s, type=%s, length=%d",
		cmsgLevels.ParseDecimal(level), cmsgTypes[level].ParseDecimal(uint64(uint32(m.Type))), linux.SizeOfControlMessageHeader+len(m.Data))
	switch {
	case isZCNotification(m):
		s += ", " + zcInfo(m.Data, out)
	case isRecvErr(m):
		s += ", " + sockExtendedErr(m.Data)
	}
	return "{" + s + "}"
}

// zcInfo formats the struct zc_info of a SCM_ZC_NOTIFICATION message. On the
// way in it shows the size the caller asks for (the elements are ignored);
// on the way out, size and the completions written back.
func zcInfo(data []byte, out bool) string {
	if len(data) < zerocopy.ZCInfoHeaderSize {
		return fmt.Sprintf("zc_info=(%d bytes, too short)", len(data))
	}
	size := hostarch.ByteOrder.Uint32(data)
	invalid := fmt.Sprintf("zc_info={size=%d} (invalid for %d bytes)", size, len(data))
	if !out {
		if _, err := zerocopy.ParseZCInfo(data); err != nil {
			return invalid
		}
		return fmt.Sprintf("zc_info={size=%d}", size)
	}
	cs, err := zerocopy.DecodeZCInfo(data, nil)
	if err != nil {
		return invalid
	}
	arr := make([]string, 0, len(cs))
	for _, c := range cs {
		zc := 1
		if c.Copied {
			zc = 0
		}
		arr = append(arr, fmt.Sprintf("{lo=%d, hi=%d, zerocopy=%d}", c.Lo, c.Hi, zc))
	}
	return fmt.Sprintf("zc_info={size=%d, arr=[%s]}", size, strings.Join(arr, ", "))
}

// sockExtendedErr formats the payload of an error-queue message: struct
// sock_extended_err and the offender's address, if there is one
// (ip_recv_error, ipv6_recv_error).
func sockExtendedErr(data []byte) string {
	var ee linux.SockExtendedErr
	if len(data) < ee.SizeBytes() {
		return fmt.Sprintf("sock_extended_err=(%d bytes, too short)", len(data))
	}
	offender := ee.UnmarshalBytes(data)
	errno := "0"
	if ee.Errno != 0 {
		errno = unix.ErrnoName(unix.Errno(ee.Errno))
		if errno == "" {
			errno = fmt.Sprint(ee.Errno)
		}
	}
	code := fmt.Sprint(ee.Code)
	if ee.Origin == zerocopy.OriginZerocopy && ee.Code == zerocopy.CodeZerocopyCopied {
		code = "SO_EE_CODE_ZEROCOPY_COPIED"
	}
	s := fmt.Sprintf("sock_extended_err={ee_errno=%s, ee_origin=%s, ee_type=%d, ee_code=%s, ee_info=%d, ee_data=%d}",
		errno, eeOrigins.ParseDecimal(uint64(ee.Origin)), ee.Type, code, ee.Info, ee.Data)
	if a, ok := offenderAddr(offender); ok {
		s += ", offender=" + a.String()
	}
	return s
}

// offenderAddr returns the address of the sockaddr_in or sockaddr_in6 that
// follows a sock_extended_err; zerocopy completions have none (AF_UNSPEC).
func offenderAddr(sa []byte) (netip.Addr, bool) {
	if len(sa) < 2 {
		return netip.Addr{}, false
	}
	switch hostarch.ByteOrder.Uint16(sa) {
	case linux.AF_INET:
		if len(sa) >= 8 {
			return netip.AddrFrom4([4]byte(sa[4:8])), true
		}
	case linux.AF_INET6:
		if len(sa) >= 24 {
			return netip.AddrFrom16([16]byte(sa[8:24])), true
		}
	}
	return netip.Addr{}, false
}
