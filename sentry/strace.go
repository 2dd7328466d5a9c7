package sentry

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/hostarch"
	"gvisor.dev/gvisor/pkg/sentry/arch"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/strace"

	"github.com/zcstack/zcstack/syscalls"
)

// straceDecoder annotates one syscall.
type straceDecoder struct {
	// enter describes the arguments of a call that concerns zerocopy, or
	// returns "" for any other call.
	enter func(mem syscalls.Reader, args arch.SyscallArguments) string
	// exit, if set, describes what a call that concerns zerocopy wrote
	// back when it succeeded, or returns "" if nothing.
	exit func(mem syscalls.Reader, args arch.SyscallArguments, rval uintptr) string
}

// straceDecoders are the syscalls whose zerocopy arguments runsc --strace
// shows, by name in gVisor's tables.
//
// gVisor's strace prints each syscall on entry (E) and on exit (X) from the
// tables of pkg/sentry/strace, which cannot learn zerocopy's names from
// outside gVisor: the option and control message names (sockOptNames and
// controlMessageType in strace/socket.go) are unexported, so are a
// SyscallInfo's name and argument formats, send and receive flags are
// printed in hex, and an unknown SOL_SOCKET control message without its
// data. The one exported hook, SyscallTable.Stracer, is overwritten by
// strace.Initialize when runsc builds the sandbox (runsc/boot/strace.go),
// after every init; runsc's boot has no extension hook between that and the
// first task, and replacing it once tasks run would race with them.
//
// So the extension annotates these calls itself, when strace logging is on
// for the syscall (as gVisor records it in the table's FeatureEnable), in
// lines of its own between gVisor's: after gVisor's entry line,
// "<task> E <syscall>: ..." names the flags, SO_ZEROCOPY and the control
// messages, with zc_info decoded; before gVisor's exit line,
// "<task> X <syscall>: ..." shows what the call wrote back (the completions
// of a SCM_ZC_NOTIFICATION copy-back, the sock_extended_err of
// recvmsg(MSG_ERRQUEUE), msg_flags). Calls that do not concern zerocopy get
// no annotation.
var straceDecoders = map[string]straceDecoder{
	"setsockopt": {enter: sockOptEnter},
	"getsockopt": {enter: sockOptEnter},
	"sendto":     {enter: flagsEnter(3, linux.MSG_ZEROCOPY)},
	"recvfrom":   {enter: flagsEnter(3, linux.MSG_ERRQUEUE)},
	"sendmsg":    {enter: sendMsgEnter, exit: sendMsgExit},
	"sendmmsg":   {enter: sendMMsgEnter, exit: sendMMsgExit},
	"recvmsg":    {enter: flagsEnter(2, linux.MSG_ERRQUEUE), exit: recvMsgExit},
	"recvmmsg":   {enter: flagsEnter(3, linux.MSG_ERRQUEUE), exit: recvMMsgExit},
}

// straceZerocopy wraps the entries of straceDecoders in t with their
// annotations. It runs after the overrides are in place, so that the
// annotations see every call as gVisor's strace does.
func straceZerocopy(t *kernel.SyscallTable) {
	for name, d := range straceDecoders {
		no, err := t.LookupNo(name)
		if err != nil {
			panic(fmt.Sprintf("zcstack: %v table: %v", t.Arch, err))
		}
		sc := t.Table[no]
		sc.Fn = d.wrap(name, sc.Fn)
		t.Table[no] = sc
	}
}

// wrap returns fn with the annotations of d, printed when strace logging is
// on for the syscall.
func (d straceDecoder) wrap(name string, fn kernel.SyscallFn) kernel.SyscallFn {
	return func(t *kernel.Task, sysno uintptr, args arch.SyscallArguments) (uintptr, *kernel.SyscallControl, error) {
		if t.SyscallTable().FeatureEnable.Word(sysno)&kernel.StraceEnableLog == 0 {
			return fn(t, sysno, args)
		}
		enter := d.enter(t, args)
		if enter == "" {
			return fn(t, sysno, args)
		}
		t.Infof("%s E %s: %s", t.Name(), name, enter)
		rval, ctrl, err := fn(t, sysno, args)
		if err == nil && d.exit != nil {
			if exit := d.exit(t, args, rval); exit != "" {
				t.Infof("%s X %s: %s", t.Name(), name, exit)
			}
		}
		return rval, ctrl, err
	}
}

// sockOptEnter names SOL_SOCKET/SO_ZEROCOPY for setsockopt and getsockopt
// (level and optname are arguments 1 and 2).
func sockOptEnter(_ syscalls.Reader, args arch.SyscallArguments) string {
	if args[1].Int() != linux.SOL_SOCKET || args[2].Int() != linux.SO_ZEROCOPY {
		return ""
	}
	return "level=SOL_SOCKET, optname=SO_ZEROCOPY"
}

// flagsEnter returns an enter function that names the flags, argument i,
// of the calls whose flags have flag.
func flagsEnter(i int, flag uint32) func(syscalls.Reader, arch.SyscallArguments) string {
	return func(_ syscalls.Reader, args arch.SyscallArguments) string {
		flags := uint32(args[i].Int())
		if flags&flag == 0 {
			return ""
		}
		return "flags=" + msgFlags(flags)
	}
}

// readMsg reads the control buffer, msg_controllen and msg_flags of the
// 64-bit msghdr at addr, the buffer up to strace's LogMaximumSize bytes
// (--strace-log-size).
func readMsg(mem syscalls.Reader, addr hostarch.Addr) (ctl []byte, controllen uint64, flags uint32, err error) {
	ctl, controllen, flags, err = syscalls.ReadMsgControl(mem, addr, uint64(strace.LogMaximumSize))
	switch err {
	case nil:
	case unix.EMSGSIZE:
		err = fmt.Errorf("error decoding control: invalid length (%d)", controllen)
	default:
		err = fmt.Errorf("error decoding msghdr or control: %w", err)
	}
	return ctl, controllen, flags, err
}

// msgOut describes the control buffer, control_len and msg_flags that a
// call left in the msghdr at addr. With zcOnly it returns "" unless the
// control buffer holds a SCM_ZC_NOTIFICATION message.
func msgOut(mem syscalls.Reader, addr hostarch.Addr, zcOnly bool) string {
	ctl, controllen, flags, err := readMsg(mem, addr)
	switch {
	case zcOnly && (err != nil || !hasZCNotification(ctl)):
		return ""
	case err != nil:
		return "(" + err.Error() + ")"
	}
	return fmt.Sprintf("control=%s, control_len=%d, msg_flags=%s", formatCmsgs(ctl, true), controllen, msgFlags(flags))
}

// sendMsgEnter describes a sendmsg with MSG_ZEROCOPY or a
// SCM_ZC_NOTIFICATION message: its flags and control messages.
func sendMsgEnter(mem syscalls.Reader, args arch.SyscallArguments) string {
	flags := uint32(args[2].Int())
	ctl, _, _, err := readMsg(mem, args[1].Pointer())
	zc := err == nil && hasZCNotification(ctl)
	if flags&linux.MSG_ZEROCOPY == 0 && !zc {
		return ""
	}
	s := "flags=" + msgFlags(flags)
	if zc {
		s += ", control=" + formatCmsgs(ctl, false)
	}
	return s
}

// sendMsgExit shows the SCM_ZC_NOTIFICATION copy-back of a sendmsg.
func sendMsgExit(mem syscalls.Reader, args arch.SyscallArguments, _ uintptr) string {
	return msgOut(mem, args[1].Pointer(), true)
}

// recvMsgExit shows the error-queue message of a recvmsg(MSG_ERRQUEUE).
func recvMsgExit(mem syscalls.Reader, args arch.SyscallArguments, _ uintptr) string {
	return msgOut(mem, args[1].Pointer(), false)
}

// mmsgAddr returns the address of entry i of the mmsghdr vector at vec.
func mmsgAddr(vec hostarch.Addr, i int) hostarch.Addr {
	return vec + hostarch.Addr(i*unix.SizeofMmsghdr)
}

// mmsgEntries joins what entry describes of the first n entries of a
// mmsghdr vector ("" for nothing), each prefixed by its index, until the
// result passes strace's LogMaximumSize.
func mmsgEntries(n int, entry func(i int) string) string {
	var b strings.Builder
	for i := 0; i < min(n, syscalls.UIOMaxIOV); i++ {
		s := entry(i)
		if s == "" {
			continue
		}
		if b.Len() > int(strace.LogMaximumSize) {
			b.WriteString(", ...")
			break
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "msgvec[%d]={%s}", i, s)
	}
	return b.String()
}

// sendMMsgEnter describes a sendmmsg with MSG_ZEROCOPY or SCM_ZC_NOTIFICATION
// messages: its flags and the control messages of the entries that have
// one.
func sendMMsgEnter(mem syscalls.Reader, args arch.SyscallArguments) string {
	vec, flags := args[1].Pointer(), uint32(args[3].Int())
	entries := mmsgEntries(int(args[2].Uint()), func(i int) string {
		if ctl, _, _, err := readMsg(mem, mmsgAddr(vec, i)); err == nil && hasZCNotification(ctl) {
			return "control=" + formatCmsgs(ctl, false)
		}
		return ""
	})
	if flags&linux.MSG_ZEROCOPY == 0 && entries == "" {
		return ""
	}
	s := "flags=" + msgFlags(flags)
	if entries != "" {
		s += ", " + entries
	}
	return s
}

// sendMMsgExit shows the SCM_ZC_NOTIFICATION copy-backs of the entries a
// sendmmsg sent.
func sendMMsgExit(mem syscalls.Reader, args arch.SyscallArguments, rval uintptr) string {
	vec := args[1].Pointer()
	return mmsgEntries(int(rval), func(i int) string {
		return msgOut(mem, mmsgAddr(vec, i), true)
	})
}

// recvMMsgExit shows the error-queue messages of a recvmmsg(MSG_ERRQUEUE).
func recvMMsgExit(mem syscalls.Reader, args arch.SyscallArguments, rval uintptr) string {
	vec := args[1].Pointer()
	return mmsgEntries(int(rval), func(i int) string {
		return msgOut(mem, mmsgAddr(vec, i), false)
	})
}
