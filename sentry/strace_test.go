package sentry

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/strace"

	"github.com/zcstack/zcstack/zerocopy"
)

// appendCmsg appends a control message in the 64-bit layout, padded to 8
// bytes, with cmsg_len length, or the real length if length is 0.
func appendCmsg(b []byte, level, typ int32, data []byte, length uint64) []byte {
	if length == 0 {
		length = uint64(linux.SizeOfControlMessageHeader + len(data))
	}
	b = binary.LittleEndian.AppendUint64(b, length)
	b = binary.LittleEndian.AppendUint32(b, uint32(level))
	b = binary.LittleEndian.AppendUint32(b, uint32(typ))
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// zcIn returns the zc_info a caller passes: size and room n.
func zcIn(n int) []byte {
	return zerocopy.AppendZCInfo(nil, n)
}

// zcOut returns a zc_info with room for n elements that holds cs.
func zcOut(n int, cs ...zerocopy.Completion) []byte {
	d := zcIn(n)
	binary.LittleEndian.PutUint32(d, uint32(len(cs)))
	for i, c := range cs {
		e := d[zerocopy.ZCInfoHeaderSize+i*zerocopy.ZCInfoElemSize:]
		binary.LittleEndian.PutUint32(e, c.Lo)
		binary.LittleEndian.PutUint32(e[4:], c.Hi)
		if !c.Copied {
			e[8] = 1
		}
	}
	return d
}

// errData returns the payload of the error-queue message of e.
func errData(family int, e zerocopy.Entry) []byte {
	var m zerocopy.ErrMsg
	m.Build(family, &e)
	return m.Data
}

func TestMsgFlags(t *testing.T) {
	for _, tc := range []struct {
		flags uint32
		want  string
	}{
		{0, "0x0"},
		{linux.MSG_ZEROCOPY, "MSG_ZEROCOPY"},
		{linux.MSG_ZEROCOPY | linux.MSG_DONTWAIT, "MSG_DONTWAIT|MSG_ZEROCOPY"},
		{linux.MSG_ZEROCOPY | unix.MSG_BATCH, "MSG_BATCH|MSG_ZEROCOPY"},
		{linux.MSG_ERRQUEUE | 0x80000000, "MSG_ERRQUEUE|0x80000000"},
	} {
		if got := msgFlags(tc.flags); got != tc.want {
			t.Errorf("msgFlags(%#x) = %q, want %q", tc.flags, got, tc.want)
		}
	}
}

func TestFormatCmsgs(t *testing.T) {
	zc := func(data []byte) []byte {
		return appendCmsg(nil, linux.SOL_SOCKET, zerocopy.SCMZCNotification, data, 0)
	}
	completion := zerocopy.Entry{Err: zerocopy.Completion{Lo: 3, Hi: 7, Copied: true}.ExtendedErr()}
	refused := zerocopy.Entry{
		Err:      unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP6, Type: 1, Code: 4},
		Offender: netip.MustParseAddr("::1"),
	}
	unreach := zerocopy.Entry{
		Err:      unix.SockExtendedErr{Errno: uint32(unix.EHOSTUNREACH), Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 1},
		Offender: netip.MustParseAddr("10.0.0.1"),
	}
	for _, tc := range []struct {
		name string
		buf  []byte
		out  bool
		want string
	}{
		{"empty", nil, false, "[]"},
		{
			"zc_info in",
			zc(zcIn(4)),
			false,
			"[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=68, zc_info={size=4}}]",
		},
		{
			"zc_info in, size over the maximum",
			zc(zcIn(17)),
			false,
			"[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=224, zc_info={size=17} (invalid for 208 bytes)}]",
		},
		{
			"zc_info in, short",
			zc([]byte{1, 0}),
			false,
			"[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=18, zc_info=(2 bytes, too short)}]",
		},
		{
			"zc_info out",
			zc(zcOut(4, zerocopy.Completion{Lo: 0, Hi: 2, Copied: true}, zerocopy.Completion{Lo: 3, Hi: 3})),
			true,
			"[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=68, zc_info={size=2, arr=[{lo=0, hi=2, zerocopy=0}, {lo=3, hi=3, zerocopy=1}]}}]",
		},
		{
			"zc_info out, empty",
			zc(zcIn(2)[:4]),
			true,
			"[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=20, zc_info={size=2} (invalid for 4 bytes)}]",
		},
		{
			"zc_info out, none",
			zc(zcOut(0)),
			true,
			"[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=20, zc_info={size=0, arr=[]}}]",
		},
		{
			"IP_RECVERR completion",
			appendCmsg(nil, linux.SOL_IP, linux.IP_RECVERR, errData(unix.AF_INET, completion), 0),
			true,
			"[{level=SOL_IP, type=IP_RECVERR, length=48, sock_extended_err={ee_errno=0, ee_origin=SO_EE_ORIGIN_ZEROCOPY, ee_type=0, ee_code=SO_EE_CODE_ZEROCOPY_COPIED, ee_info=3, ee_data=7}}]",
		},
		{
			"IPV6_RECVERR completion",
			appendCmsg(nil, linux.SOL_IPV6, linux.IPV6_RECVERR, errData(unix.AF_INET6, completion), 0),
			true,
			"[{level=SOL_IPV6, type=IPV6_RECVERR, length=60, sock_extended_err={ee_errno=0, ee_origin=SO_EE_ORIGIN_ZEROCOPY, ee_type=0, ee_code=SO_EE_CODE_ZEROCOPY_COPIED, ee_info=3, ee_data=7}}]",
		},
		{
			"IPV6_RECVERR ICMP error",
			appendCmsg(nil, linux.SOL_IPV6, linux.IPV6_RECVERR, errData(unix.AF_INET6, refused), 0),
			true,
			"[{level=SOL_IPV6, type=IPV6_RECVERR, length=60, sock_extended_err={ee_errno=ECONNREFUSED, ee_origin=SO_EE_ORIGIN_ICMP6, ee_type=1, ee_code=4, ee_info=0, ee_data=0}, offender=::1}]",
		},
		{
			"IP_RECVERR ICMP error",
			appendCmsg(nil, linux.SOL_IP, linux.IP_RECVERR, errData(unix.AF_INET, unreach), 0),
			true,
			"[{level=SOL_IP, type=IP_RECVERR, length=48, sock_extended_err={ee_errno=EHOSTUNREACH, ee_origin=SO_EE_ORIGIN_ICMP, ee_type=3, ee_code=1, ee_info=0, ee_data=0}, offender=10.0.0.1}]",
		},
		{
			"IP_RECVERR short",
			appendCmsg(nil, linux.SOL_IP, linux.IP_RECVERR, make([]byte, 8), 0),
			true,
			"[{level=SOL_IP, type=IP_RECVERR, length=24, sock_extended_err=(8 bytes, too short)}]",
		},
		{
			"other messages keep their data, unknown names are numbers",
			appendCmsg(appendCmsg(nil, linux.SOL_SOCKET, linux.SCM_RIGHTS, []byte{3, 0, 0, 0}, 0), 42, 7, nil, 0),
			false,
			"[{level=SOL_SOCKET, type=SCM_RIGHTS, length=20}, {level=42, type=7, length=16}]",
		},
		{
			"second message after padding",
			appendCmsg(zc(zcIn(1)), linux.SOL_SOCKET, zerocopy.SCMZCNotification, zcIn(2), 0),
			false,
			"[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=32, zc_info={size=1}}, {level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=44, zc_info={size=2}}]",
		},
		{
			"length past the buffer",
			appendCmsg(nil, linux.SOL_SOCKET, zerocopy.SCMZCNotification, zcIn(1), 100),
			false,
			"[(invalid cmsg_len)]",
		},
		{
			"length below the header",
			appendCmsg(nil, linux.SOL_SOCKET, zerocopy.SCMZCNotification, zcIn(1), 8),
			false,
			"[(invalid cmsg_len)]",
		},
		{
			"trailing bytes too short for a header",
			append(zc(zcIn(1)), 1, 2, 3),
			false,
			"[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=32, zc_info={size=1}}]",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatCmsgs(tc.buf, tc.out); got != tc.want {
				t.Errorf("formatCmsgs:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// memory is guest memory for the decoders: bytes at base.
type memory struct {
	base hostarch.Addr
	b    []byte
}

var errFault = errors.New("fault")

// CopyInBytes implements guestMemory.CopyInBytes.
func (m *memory) CopyInBytes(addr hostarch.Addr, dst []byte) (int, error) {
	if addr < m.base || uint64(addr-m.base)+uint64(len(dst)) > uint64(len(m.b)) {
		return 0, errFault
	}
	return copy(dst, m.b[addr-m.base:]), nil
}

// alloc appends b to m, 8-byte aligned, and returns its address.
func (m *memory) alloc(b []byte) hostarch.Addr {
	for len(m.b)%8 != 0 {
		m.b = append(m.b, 0)
	}
	addr := m.base + hostarch.Addr(len(m.b))
	m.b = append(m.b, b...)
	return addr
}

// msghdr allocates a 64-bit msghdr with control buffer ctl (none if nil)
// and msg_flags flags, followed by msg_len 0 as in a mmsghdr.
func (m *memory) msghdr(ctl []byte, flags uint32) []byte {
	var control hostarch.Addr
	if ctl != nil {
		control = m.alloc(ctl)
	}
	h := make([]byte, 64)
	binary.LittleEndian.PutUint64(h[32:], uint64(control))
	binary.LittleEndian.PutUint64(h[40:], uint64(len(ctl)))
	binary.LittleEndian.PutUint32(h[48:], flags)
	return h
}

func syscallArgs(vals ...uint64) arch.SyscallArguments {
	var args arch.SyscallArguments
	for i, v := range vals {
		args[i].Value = uintptr(v)
	}
	return args
}

func TestStraceDecoders(t *testing.T) {
	m := &memory{base: 0x10000}
	zcCtl := appendCmsg(nil, linux.SOL_SOCKET, zerocopy.SCMZCNotification, zcIn(4), 0)
	zcBack := appendCmsg(nil, linux.SOL_SOCKET, zerocopy.SCMZCNotification, zcOut(1, zerocopy.Completion{Lo: 0, Hi: 2, Copied: true}), 0)
	errq := appendCmsg(nil, linux.SOL_IP, linux.IP_RECVERR,
		errData(unix.AF_INET, zerocopy.Entry{Err: zerocopy.Completion{Lo: 3, Hi: 4, Copied: true}.ExtendedErr()}), 0)

	plain := uint64(m.alloc(m.msghdr(nil, 0)))
	withZC := uint64(m.alloc(m.msghdr(zcCtl, 0)))
	copiedBack := uint64(m.alloc(m.msghdr(zcBack, linux.MSG_ZEROCOPY)))
	oversized := uint64(m.alloc(m.msghdr(make([]byte, 2048), 0)))
	received := uint64(m.alloc(m.msghdr(errq, linux.MSG_ERRQUEUE)))
	// A mmsghdr vector: an entry without control, then one with.
	vec := uint64(m.alloc(append(m.msghdr(nil, 0), m.msghdr(zcBack, unix.MSG_BATCH|linux.MSG_ZEROCOPY)...)))
	const unmapped = 0x1000

	zcStr := "control=[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=32, zc_info={size=1, arr=[{lo=0, hi=2, zerocopy=0}]}}], control_len=32"
	errqStr := "control=[{level=SOL_IP, type=IP_RECVERR, length=48, sock_extended_err={ee_errno=0, ee_origin=SO_EE_ORIGIN_ZEROCOPY, ee_type=0, ee_code=SO_EE_CODE_ZEROCOPY_COPIED, ee_info=3, ee_data=4}}], control_len=48, msg_flags=MSG_ERRQUEUE"
	for _, tc := range []struct {
		name      string
		syscall   string
		args      arch.SyscallArguments
		rval      uintptr
		enter     string
		exit      string
		exitUnset bool
	}{
		{name: "setsockopt SO_ZEROCOPY", syscall: "setsockopt", args: syscallArgs(3, linux.SOL_SOCKET, linux.SO_ZEROCOPY),
			enter: "level=SOL_SOCKET, optname=SO_ZEROCOPY", exitUnset: true},
		{name: "getsockopt SO_ZEROCOPY", syscall: "getsockopt", args: syscallArgs(3, linux.SOL_SOCKET, linux.SO_ZEROCOPY),
			enter: "level=SOL_SOCKET, optname=SO_ZEROCOPY", exitUnset: true},
		{name: "setsockopt other", syscall: "setsockopt", args: syscallArgs(3, linux.SOL_IP, linux.SO_ZEROCOPY), exitUnset: true},
		{name: "sendto MSG_ZEROCOPY", syscall: "sendto", args: syscallArgs(3, 0, 0, linux.MSG_ZEROCOPY|linux.MSG_NOSIGNAL),
			enter: "flags=MSG_NOSIGNAL|MSG_ZEROCOPY", exitUnset: true},
		{name: "sendto plain", syscall: "sendto", args: syscallArgs(3, 0, 0, linux.MSG_NOSIGNAL), exitUnset: true},
		{name: "recvfrom MSG_ERRQUEUE", syscall: "recvfrom", args: syscallArgs(3, 0, 0, linux.MSG_ERRQUEUE),
			enter: "flags=MSG_ERRQUEUE", exitUnset: true},
		{name: "sendmsg plain", syscall: "sendmsg", args: syscallArgs(3, plain, 0)},
		{name: "sendmsg MSG_ZEROCOPY", syscall: "sendmsg", args: syscallArgs(3, plain, linux.MSG_ZEROCOPY),
			enter: "flags=MSG_ZEROCOPY"},
		{name: "sendmsg SCM_ZC_NOTIFICATION in", syscall: "sendmsg", args: syscallArgs(3, withZC, 0),
			enter: "flags=0x0, control=[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=68, zc_info={size=4}}]",
			exit:  "control=[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=68, zc_info={size=4, arr=[{lo=0, hi=0, zerocopy=0}, {lo=0, hi=0, zerocopy=0}, {lo=0, hi=0, zerocopy=0}, {lo=0, hi=0, zerocopy=0}]}}], control_len=72, msg_flags=0x0"},
		{name: "sendmsg copy-back", syscall: "sendmsg", args: syscallArgs(3, copiedBack, linux.MSG_ZEROCOPY),
			enter: "flags=MSG_ZEROCOPY, control=[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=32, zc_info={size=1}}]",
			exit:  zcStr + ", msg_flags=MSG_ZEROCOPY"},
		{name: "sendmsg unreadable msghdr", syscall: "sendmsg", args: syscallArgs(3, unmapped, linux.MSG_ZEROCOPY),
			enter: "flags=MSG_ZEROCOPY"},
		{name: "sendmsg control over the log size", syscall: "sendmsg", args: syscallArgs(3, oversized, linux.MSG_ZEROCOPY),
			enter: "flags=MSG_ZEROCOPY"},
		{name: "recvmsg plain", syscall: "recvmsg", args: syscallArgs(3, received, 0)},
		{name: "recvmsg MSG_ERRQUEUE", syscall: "recvmsg", args: syscallArgs(3, received, linux.MSG_ERRQUEUE),
			enter: "flags=MSG_ERRQUEUE", exit: errqStr},
		{name: "recvmsg MSG_ERRQUEUE unreadable", syscall: "recvmsg", args: syscallArgs(3, unmapped, linux.MSG_ERRQUEUE),
			enter: "flags=MSG_ERRQUEUE", exit: "(error decoding msghdr or control: bad address)"},
		{name: "recvmsg MSG_ERRQUEUE control over the log size", syscall: "recvmsg", args: syscallArgs(3, oversized, linux.MSG_ERRQUEUE),
			enter: "flags=MSG_ERRQUEUE", exit: "(error decoding control: invalid length (2048))"},
		{name: "sendmmsg", syscall: "sendmmsg", args: syscallArgs(3, vec, 2, linux.MSG_ZEROCOPY), rval: 2,
			enter: "flags=MSG_ZEROCOPY, msgvec[1]={control=[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=32, zc_info={size=1}}]}",
			exit:  "msgvec[1]={" + zcStr + ", msg_flags=MSG_BATCH|MSG_ZEROCOPY}"},
		{name: "sendmmsg first sent", syscall: "sendmmsg", args: syscallArgs(3, vec, 2, 0), rval: 1,
			enter: "flags=0x0, msgvec[1]={control=[{level=SOL_SOCKET, type=SCM_ZC_NOTIFICATION, length=32, zc_info={size=1}}]}"},
		{name: "sendmmsg plain", syscall: "sendmmsg", args: syscallArgs(3, vec, 1, 0), rval: 1},
		{name: "recvmmsg MSG_ERRQUEUE", syscall: "recvmmsg", args: syscallArgs(3, received, 1, linux.MSG_ERRQUEUE), rval: 1,
			enter: "flags=MSG_ERRQUEUE", exit: "msgvec[0]={" + errqStr + "}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := straceDecoders[tc.syscall]
			if !ok {
				t.Fatalf("no decoder for %s", tc.syscall)
			}
			if got := d.enter(m, tc.args); got != tc.enter {
				t.Errorf("enter:\n got %s\nwant %s", got, tc.enter)
			}
			if (d.exit == nil) != tc.exitUnset {
				t.Fatalf("exit set: %v, want %v", d.exit != nil, !tc.exitUnset)
			}
			if d.exit == nil || tc.enter == "" {
				return
			}
			if got := d.exit(m, tc.args, tc.rval); got != tc.exit {
				t.Errorf("exit:\n got %s\nwant %s", got, tc.exit)
			}
		})
	}
}

func TestMMsgEntries(t *testing.T) {
	entry := func(i int) string {
		if i%2 == 0 {
			return ""
		}
		return "x"
	}
	if got, want := mmsgEntries(4, entry), "msgvec[1]={x}, msgvec[3]={x}"; got != want {
		t.Errorf("mmsgEntries(4) = %q, want %q", got, want)
	}
	long := func(int) string { return strings.Repeat("y", 100) }
	got := mmsgEntries(1<<20, long)
	if max := int(strace.LogMaximumSize) + 200; len(got) > max || !strings.HasSuffix(got, ", ...") {
		t.Errorf("mmsgEntries of a long vector: %d bytes ending %q, want at most %d ending \", ...\"", len(got), got[len(got)-8:], max)
	}
}
