package zerocopy

import "sync/atomic"

// Stats counts the zerocopy events of every socket that shares it: in
// runsc-zc one Stats serves the whole sandbox, for embedders one serves a
// stack. Its fields are safe for concurrent use and only ever grow, but
// DepthHighWater, which is a maximum.
type Stats struct {
	// Sends counts MSG_ZEROCOPY send calls that took a notification id.
	Sends atomic.Uint64
	// Completions counts the ids completed (the lengths of the ranges
	// queued).
	Completions atomic.Uint64
	// Coalesced counts completions merged into the range at the tail of an
	// error queue instead of taking an entry of their own.
	Coalesced atomic.Uint64
	// CopyBacks counts send calls that wrote SCM_ZC_NOTIFICATION messages
	// back to the caller, and Notified the completion ranges those
	// messages carried.
	CopyBacks atomic.Uint64
	Notified  atomic.Uint64
	// NoBufs counts MSG_ZEROCOPY sends refused with ENOBUFS because an
	// error queue was full.
	NoBufs atomic.Uint64
	// DepthHighWater is the most entries any error queue has held.
	DepthHighWater atomic.Uint64
	// HostSends counts the host kernel's MSG_ZEROCOPY sends that took a
	// host id (runsc --network=host, where several may serve one send
	// call), HostCompletions the host ids whose completions were read,
	// HostCopied those the host reported copied
	// (SO_EE_CODE_ZEROCOPY_COPIED), and HostFallbacks the host sends made
	// by copy because the host refused MSG_ZEROCOPY with ENOBUFS.
	HostSends       atomic.Uint64
	HostCompletions atomic.Uint64
	HostCopied      atomic.Uint64
	HostFallbacks   atomic.Uint64
}

// observeDepth raises DepthHighWater to n.
func (s *Stats) observeDepth(n int) {
	for {
		old := s.DepthHighWater.Load()
		if uint64(n) <= old || s.DepthHighWater.CompareAndSwap(old, uint64(n)) {
			return
		}
	}
}
