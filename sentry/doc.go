// Package sentry is zcstack's extension of gVisor's sentry: MSG_ZEROCOPY,
// the socket error queue and the SCM_ZC_NOTIFICATION copy-back of sendmsg
// for the TCP and UDP sockets of runsc's guests, of gVisor's netstack and of
// the host (--network=host), without a fork of gVisor. A blank import links
// it into runsc (tools/runsc-zc).
//
// The hook (table.go): gVisor registers its syscall tables in the init of
// pkg/sentry/syscalls/linux, which this package imports; its own init then
// wraps gVisor's handlers of socket, setsockopt, getsockopt, sendto,
// sendmsg, sendmmsg, recvfrom, recvmsg and recvmmsg and rebuilds the
// dispatch array (SyscallTable.Init). Every call that is not ours goes to
// gVisor's handler unchanged.
//
// The socket (socket.go): socket() and accept wrap each AF_INET/AF_INET6
// TCP or UDP socket of gVisor's netstack in a zcSocket, a file description
// that embeds gVisor's socket.Socket and forwards everything to it, so that
// dup, fork, exec, SCM_RIGHTS and status flags act on one file description;
// only its Readiness adds POLLERR. Its zerocopy state, a zcsocket.State
// (Linux SOCK_ZEROCOPY, sk_zckey, sk_error_queue), is nil until the first
// setsockopt(SO_ZEROCOPY, 1) or an accept from such a listener.
//
// Host sockets (hostinet.go): with --network=host, socket() and accept wrap
// hostinet's TCP and UDP sockets, host sockets, in a hostSocket the same
// way (ourSocket is what the overrides need of either). Its zerocopy state
// is a zchost.State: SO_ZEROCOPY is set on the host socket, a MSG_ZEROCOPY
// send pins the guest's pages and gives the host their mappings with the
// host's MSG_ZEROCOPY (hostSocket.sendZerocopy), and the guest's error
// queue is filled from the host's, host ids translated to the guest's.
// hostinet_unsafe.go reaches what hostinet does not export.
//
// A send (sys_send.go): until a socket of the sandbox has had SO_ZEROCOPY
// (the series' static branch), sendmsg, sendmmsg and sendto go to gVisor
// without a look at the file; then a socket with SO_ZEROCOPY sends through
// zcsocket.State.SendMsg, which reads the message with syscalls/, serves
// SCM_ZC_NOTIFICATION and numbers MSG_ZEROCOPY sends, while gVisor's
// socket sends the data (zcSocket.write).
//
// An error-queue read (sys_recv.go): recvmsg, recvmmsg and recvfrom with
// MSG_ERRQUEUE on a socket whose error queue is ours are served by
// syscalls/ from it; each read first moves the errors gVisor's endpoint
// queued (IP_RECVERR) into it, so that they keep their order with the
// completions.
//
// Checkpoint (socket_state.go): zcSocket is saved by gVisor's pkg/state as
// a plain netstack socket is, plus its zerocopy state (zcsocket/state_save.go);
// loading a socket re-establishes what no image holds: the POLLERR hook,
// the sandbox's Stats and the static branch.
//
// Limits: 32-bit tasks keep gVisor's EINVAL for the message syscalls (gVisor
// runs none); accepted sockets take SO_ZEROCOPY from the listener at
// accept; the socket error that an error-queue read sets keeps Linux's
// errno only for the errors netstack reports, as gVisor holds it as a
// netstack error.
package sentry
