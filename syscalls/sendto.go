package syscalls

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"
)

// SendTo performs sendto(2) for a 64-bit caller as Linux's __sys_sendto
// does: the buffer is checked first (importBuffer: EFAULT outside the user
// address range, the length truncated to MaxRWCount), then the address if
// addr is not NULL (move_addr_to_kernel: EINVAL for a length below 0 or
// above SizeofSockaddrStorage, EFAULT if unreadable), and send gets the
// message with the flags less MSG_INTERNAL_SENDMSG_FLAGS, plus
// MSG_DONTWAIT for a non-blocking file. Its result is the call's.
func (c *Call) SendTo(buf hostarch.Addr, n uint64, flags uint32, addr hostarch.Addr, addrLen int32, send SendFunc) (int, error) {
	ar, err := importBuffer(buf, n)
	if err != nil {
		return 0, err
	}
	sc := getScratch()
	defer sc.release()
	var name []byte
	if addr != 0 {
		if addrLen < 0 || addrLen > SizeofSockaddrStorage {
			return 0, unix.EINVAL
		}
		name = sc.name[:addrLen]
		if err := copyIn(c.Mem, addr, name); err != nil {
			return 0, err
		}
		if addrLen == 0 {
			name = nil
		}
	}
	flags &^= msgInternalSendmsgFlags
	if c.NonBlocking {
		flags |= unix.MSG_DONTWAIT
	}
	sc.iov = append(sc.iov[:0], ar)
	m := &sc.send
	*m = Send{Name: name, Iov: sc.iov, Len: int64(ar.Length()), Flags: flags}
	return send(m)
}
