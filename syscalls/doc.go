// Package syscalls is the guest-memory side of zcstack's socket message
// syscalls: it reads sendmsg, sendmmsg and recvmsg arguments out of a
// guest's memory exactly as Linux does (struct msghdr, mmsghdr, iovec and
// cmsghdr, for 64-bit programs and for 32-bit compat programs), takes the
// SOL_SOCKET/SCM_ZC_NOTIFICATION control messages of the SCM_ZC_NOTIFICATION
// series out of a send, fills them from the socket's error queue and writes
// them back into the guest's msg_control after the send (the series'
// sendmsg_copy_cmsg_to_user), and writes the messages of
// recvmsg(MSG_ERRQUEUE) byte for byte as Linux's ip_recv_error and
// ipv6_recv_error do.
//
// It knows nothing of the sentry: guest memory is anything with
// marshal.CopyContext's copy methods (gVisor's *kernel.Task), the socket is
// the small Socket interface, and the send itself is a callback. Errors it
// makes itself are unix.Errno values; errors of the callback are returned
// unchanged.
//
// References (Linux 6.18):
//   - net/socket.c: __copy_msghdr, ____sys_sendmsg, __sys_sendmmsg,
//     ____sys_recvmsg, move_addr_to_user.
//   - net/compat.c: __get_compat_msghdr, cmsghdr_from_user_compat_to_kern,
//     put_cmsg_compat.
//   - lib/iov_iter.c: __import_iovec, import_ubuf.
//   - net/core/scm.c: put_cmsg. net/core/sock.c: sock_kmalloc.
//   - net/ipv4/ip_sockglue.c: ip_recv_error. net/ipv6/datagram.c:
//     ipv6_recv_error.
//   - The SCM_ZC_NOTIFICATION series (v8): sendmsg_copy_cmsg_to_user and the
//     SCM_ZC_NOTIFICATION case of __sock_cmsg_send.
//
// Byte layouts and errnos are checked against goldens that
// testdata/linuxabi.c captures from the running kernel (testdata/gen.sh).
package syscalls

//go:generate sh testdata/gen.sh
