// Package zcsocket is the zerocopy side of one gVisor netstack TCP or UDP
// socket, the part that stack/ (sockets for programs that embed netstack)
// and sentry/ (sockets of runsc-zc's guests) share: SO_ZEROCOPY (Linux
// SOCK_ZEROCOPY), the MSG_ZEROCOPY id counter and the error queue of the
// zerocopy package, the move of the errors netstack queues (ICMP and local
// errors with IP_RECVERR or IPV6_RECVERR) into that queue in order with the
// completions, the socket error (SO_ERROR) that reading the queue sets,
// POLLERR, and the mapping of socket(2) arguments and netstack errors to
// Linux's numbers.
//
// stack/ and sentry/ each hold a State per socket. For the sentry, State's
// SendMsg and SendMMsg put a guest's message syscalls (syscalls/) and the
// numbering of its sends together, with the send itself left to the
// caller; it knows nothing else of guest memory or of the sentry.
//
// References: net/core/sock.c sk_setsockopt (SO_ZEROCOPY), net/core/skbuff.c
// sock_dequeue_err_skb, net/ipv4/af_inet.c inet_create, net/ipv4/ip_output.c
// __ip_append_data, net/ipv4/tcp.c tcp_poll, net/core/datagram.c
// datagram_poll.
package zcsocket
