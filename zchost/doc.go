// Package zchost is the zerocopy side of one host socket: a TCP or UDP
// socket of gVisor's hostinet (runsc --network=host), which is a socket of
// the host kernel whose descriptor the sentry holds. It gives the guest
// Linux's MSG_ZEROCOPY ids and error queue on top of the host kernel's own:
//
//   - SO_ZEROCOPY is set on the host socket, so that the host's errnos and
//     values are the guest's;
//   - a guest send with MSG_ZEROCOPY may make several host sends (it waits
//     and resumes, a stream sends part of its data, memory in pieces), each
//     of which takes a host id (the host's sk_zckey). The guest's id space
//     is a zerocopy.Sender's, one id per guest call that sends data; hostIDs
//     maps each host id to the guest send that took it, and a guest send
//     completes when every host id it took has (zerocopy.Sender Hold and
//     Release), copied if any of them was;
//   - the host's error queue is read (recvmsg MSG_ERRQUEUE) into the guest's
//     zerocopy.ErrorQueue in the host's order: completions translated to
//     guest ids, ICMP and local errors passed through.
//
// Every host call that takes or completes host ids (SO_ZEROCOPY, a
// MSG_ZEROCOPY send, an error-queue read) runs under State.mu, so that the
// ids the host gives are known: each is one non-blocking host syscall, and
// a guest send that must wait does so between them, without the lock.
//
// It knows nothing of the sentry or of guest memory: the caller passes host
// iovecs and a function that releases them once the host no longer uses
// them.
//
// References (Linux 6.18): net/core/skbuff.c msg_zerocopy_realloc,
// msg_zerocopy_put_abort, __msg_zerocopy_callback; net/ipv4/tcp.c
// tcp_sendmsg_locked; net/ipv4/ip_output.c __ip_append_data;
// net/ipv4/ip_sockglue.c ip_recv_error; net/core/sock.c sk_setsockopt.
package zchost
