// Package sentry is zcstack's extension of gVisor's sentry: it gives
// sandboxed programs MSG_ZEROCOPY, the socket error queue and the
// SCM_ZC_NOTIFICATION copy-back of sendmsg on gVisor's netstack TCP and UDP
// sockets, without a fork of gVisor. Linking it into runsc (a blank import,
// see tools/runsc-zc) is all it takes.
//
// # The hook
//
// gVisor registers its Linux syscall tables in the init of
// pkg/sentry/syscalls/linux; this package imports that package, so its own
// init runs after it and before runsc's main. It replaces the entries of
// socket, setsockopt, getsockopt, sendto, sendmsg, sendmmsg, recvfrom,
// recvmsg and recvmmsg in the AMD64 and ARM64 tables
// (kernel.LookupSyscallTable) and calls SyscallTable.Init to rebuild the
// lookup array the kernel dispatches from. runsc re-executes itself for the
// sandbox, so the patch runs in the process that serves the guest too. Each
// override wraps gVisor's own handler and hands it every call that is not
// ours, unchanged: a socket() other than AF_INET/AF_INET6 TCP or UDP on
// netstack, a setsockopt/getsockopt other than SOL_SOCKET/SO_ZEROCOPY, a
// send on a socket without SO_ZEROCOPY (with MSG_ZEROCOPY cleared, which
// Linux ignores there and gVisor would reject with EINVAL), a receive
// without MSG_ERRQUEUE or on a socket that never had SO_ZEROCOPY. accept and
// accept4 need no override: gVisor's handlers call the socket's Accept,
// which is ours.
//
// # The socket
//
// socket() creates the netstack endpoint as gVisor's provider does and
// wraps gVisor's netstack socket in a zcSocket: a file description of ours
// whose implementation embeds gVisor's socket.Socket and forwards
// everything to it. The guest's descriptor refers to the zcSocket's file
// description; gVisor's inner file description is referenced only by it and
// released with it. Accept makes the accepted socket a zcSocket too and
// copies SO_ZEROCOPY from the listener.
//
// Wrapping at creation, rather than swapping a descriptor afterwards
// (FDTable.NewFDAt) or keeping a side table keyed by file description or
// endpoint, is what makes the zcSocket one file description with one
// identity: dup, fork, exec, close, SCM_RIGHTS, O_NONBLOCK and the other
// status flags, fstat and /proc/self/fd act on it exactly as on a plain
// socket, with no window in which the guest sees the unwrapped socket, and
// no table to keep in step with descriptor lifetimes. Only the wrapper's
// Readiness can report POLLERR to poll, select and epoll, which call the
// file's Readiness and register on its queue; a side table could not.
//
// A socket that never uses SO_ZEROCOPY pays one forwarding call per socket
// operation, a flag or option comparison in the overrides, and in sendmsg
// and sendmmsg one more descriptor lookup; its zerocopy state is a nil
// pointer. The state, a zcsocket.State (Linux SOCK_ZEROCOPY, sk_zckey and
// sk_error_queue, the same state the embedder API of stack/ uses), is made by the
// first setsockopt(SO_ZEROCOPY, 1) or inherited at accept.
//
// # Zerocopy
//
// setsockopt and getsockopt of SO_ZEROCOPY follow Linux's sk_setsockopt and
// sk_getsockopt for every socket. On a socket with SO_ZEROCOPY, sendmsg and
// sendmmsg go through syscalls/ (msghdr and cmsg decoding, the
// SCM_ZC_NOTIFICATION messages taken out, filled from the error queue and
// copied back into the guest's msg_control, msg_controllen and msg_flags)
// with *kernel.Task as guest memory, and the send itself is gVisor's socket
// SendMsg as gVisor's sendmsg would call it. A send with MSG_ZEROCOPY is
// numbered and completed by zcsocket.State.Send, which holds no lock while
// gVisor's send blocks, so a guest thread blocked behind another's send
// stays interruptible: gVisor copies the payload before its endpoint's
// Write returns, so the completion, flagged SO_EE_CODE_ZEROCOPY_COPIED, is
// queued before the send returns. The error queue's notify hook wakes the
// socket's waiters with EventErr, and Readiness reports EventErr while the
// queue holds an entry.
//
// Once a socket has the zerocopy state, its error queue is the only one the
// guest reads: the errors gVisor's endpoint queues with IP_RECVERR or
// IPV6_RECVERR (ICMP and local errors) are moved into it (zcsocket.State
// Drain) around each zerocopy send and before each read, so they keep their
// order with the completions (a completion before the ICMP error its
// datagram caused, as on Linux), and recvmsg and recvmmsg with MSG_ERRQUEUE
// write Linux's bytes through syscalls/. gVisor's own conversion of
// error-queue entries is never given a zerocopy completion (it panics on
// unknown origins and cannot set ee_data). recvfrom with MSG_ERRQUEUE,
// which gVisor rejects, dequeues as Linux does. Reading the queue sets the
// socket error as Linux's sock_dequeue_err_skb does, with Linux's errno.
//
// # Host sockets
//
// With runsc --network=host, socket() and accept wrap hostinet's TCP and
// UDP sockets, host sockets, in a hostSocket the same way (ourSocket is
// what the overrides need of either). Its zerocopy state is a
// zchost.State: SO_ZEROCOPY is set on the host socket, a MSG_ZEROCOPY send
// pins the guest's pages and gives the host their mappings with the host's
// MSG_ZEROCOPY (hostSocket.sendZerocopy), and the guest's error queue is
// filled from the host's, host ids translated to the guest's. The host
// descriptor and waiter queue and hostinet's constructor, which gVisor does
// not export, are reached as hostinet_unsafe.go says.
//
// # Limits
//
//   - zcSocket is not savable: checkpoint and restore of a sandbox with
//     netstack TCP or UDP sockets fails. hostSocket is, as hostinet's
//     socket.
//   - 32-bit tasks keep gVisor's behaviour (EINVAL for the message
//     syscalls): gVisor runs none.
//   - Accepted sockets take SO_ZEROCOPY from the listener at accept, not at
//     connection time as Linux does.
//   - Turning IP_RECVERR off purges gVisor's queue but not errors already
//     moved to ours; Linux purges the whole error queue, completions
//     included.
//   - The socket error (SO_ERROR) that an error-queue read sets keeps
//     Linux's errno for every error netstack reports (ICMP and local errors)
//     and for what ends a partial recvmmsg; gVisor's socket error is a
//     netstack error and cannot hold other errnos.
package sentry
