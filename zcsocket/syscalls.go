package zcsocket

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/hostarch"

	"github.com/zcstack/zcstack/syscalls"
)

// The State is the socket of the message syscalls that syscalls/ serves.
var _ syscalls.Socket = (*State)(nil)

// SendMsg is sendmsg(2) on the socket for a guest: c reads the message and
// serves its SCM_ZC_NOTIFICATION messages, and write sends it, numbered by
// Send if it has MSG_ZEROCOPY.
func (s *State) SendMsg(c *syscalls.Call, msgAddr hostarch.Addr, flags uint32, write syscalls.SendFunc) (int, error) {
	return c.SendMsg(msgAddr, flags, func(m *syscalls.Send) (int, error) {
		return s.Send(m.Flags&unix.MSG_ZEROCOPY != 0, m.Len, func() (int, error) { return write(m) })
	})
}

// SendMMsg is SendMsg for sendmmsg(2).
func (s *State) SendMMsg(c *syscalls.Call, vecAddr hostarch.Addr, vlen, flags uint32, write syscalls.SendFunc) (int, error) {
	return c.SendMMsg(vecAddr, vlen, flags, func(m *syscalls.Send) (int, error) {
		return s.Send(m.Flags&unix.MSG_ZEROCOPY != 0, m.Len, func() (int, error) { return write(m) })
	})
}
