// Package zerocopy is the MSG_ZEROCOPY notification core of zcstack: the
// per-socket notification counter (Linux sk_zckey), zerocopy completion
// ranges and their coalescing, the socket error queue, and the zc_info ABI of
// the proposed SCM_ZC_NOTIFICATION control message.
//
// It knows nothing of gVisor or of guest memory: the stack/ package attaches
// it to netstack sockets and the syscalls/ package moves its values in and
// out of guest memory.
//
// References:
//   - net/core/skbuff.c: msg_zerocopy_alloc, __msg_zerocopy_callback,
//     skb_zerocopy_notify_extend.
//   - include/uapi/linux/errqueue.h: struct sock_extended_err.
//   - The SCM_ZC_NOTIFICATION series (v8): struct zc_info, __sock_cmsg_send.
package zerocopy
