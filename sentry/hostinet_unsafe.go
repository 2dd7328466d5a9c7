package sentry

import (
	"fmt"
	"reflect"
	"unsafe"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
	"gvisor.dev/gvisor/pkg/sentry/kernel"
	"gvisor.dev/gvisor/pkg/sentry/socket/hostinet"
	"gvisor.dev/gvisor/pkg/sentry/vfs"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/waiter"
)

// gVisor's hostinet exports no way to reach a socket's host descriptor or
// its waiter queue, nor to make a socket of a host descriptor, which a
// zerocopy send, the error queue's wake-ups and accept need. The extension
// reaches them in the pinned gVisor:
//   - the fields fd (int) and queue (waiter.Queue) of hostinet.Socket, at
//     offsets found by reflection when the package initializes, which
//     panics if they are missing or of another type;
//   - newSocket, the constructor hostinet's provider and Accept use, linked
//     by name.
//
// TestHostinetInternals checks all three against the source of the pinned
// module, so that a gVisor update that changes them fails the tests.
var (
	hostFDOffset    = hostinetField("fd", reflect.TypeFor[int]())
	hostQueueOffset = hostinetField("queue", reflect.TypeFor[waiter.Queue]())
)

// hostinetField returns the offset of field name, of type typ, in
// hostinet.Socket.
func hostinetField(name string, typ reflect.Type) uintptr {
	f, ok := reflect.TypeFor[hostinet.Socket]().FieldByName(name)
	if !ok || f.Type != typ || len(f.Index) != 1 {
		panic(fmt.Sprintf("zcstack: hostinet.Socket has no field %s of type %v: the extension does not know this gVisor", name, typ))
	}
	return f.Offset
}

// hostFD returns the host descriptor of s, negative once it has none
// (hostinet restores connected and datagram sockets without one). It is set
// when s is made and when hostinet restores a listening socket, never while
// a syscall runs on it.
func hostFD(s *hostinet.Socket) int {
	return *(*int)(unsafe.Add(unsafe.Pointer(s), hostFDOffset))
}

// hostQueue returns the waiter queue of s: the one its EventRegister
// registers on and fdnotifier wakes with the host's events.
func hostQueue(s *hostinet.Socket) *waiter.Queue {
	return (*waiter.Queue)(unsafe.Add(unsafe.Pointer(s), hostQueueOffset))
}

// newHostinetSocket is hostinet's newSocket: it makes the socket file of
// the host descriptor fd (which must be non-blocking), registered with
// fdnotifier, with O_NONBLOCK if flags has it.
//
//go:linkname newHostinetSocket gvisor.dev/gvisor/pkg/sentry/socket/hostinet.newSocket
func newHostinetSocket(t *kernel.Task, family int, stype linux.SockType, protocol int, fd int, flags uint32) (*vfs.FileDescription, *syserr.Error)

// accept4 is accept4(2) on the host descriptor fd with SOCK_NONBLOCK and
// SOCK_CLOEXEC, the only flags the sentry's seccomp filters allow; it
// writes the peer's address into addr (if not empty) and returns its length.
func accept4(fd int, addr []byte) (nfd int, addrLen uint32, err error) {
	addrLen = uint32(len(addr))
	var addrPtr, lenPtr unsafe.Pointer
	if len(addr) > 0 {
		addrPtr, lenPtr = unsafe.Pointer(&addr[0]), unsafe.Pointer(&addrLen)
	}
	r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(addrPtr), uintptr(lenPtr), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, 0, errno
	}
	return int(r), min(addrLen, uint32(len(addr))), nil
}
