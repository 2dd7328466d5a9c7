// Package stack runs gVisor's userspace TCP/IP stack (netstack) in-process
// and gives it sockets with Linux semantics, including MSG_ZEROCOPY, the
// socket error queue (MSG_ERRQUEUE) and the proposed SCM_ZC_NOTIFICATION
// control message that returns zerocopy completions from sendmsg.
//
// A Stack is a netstack with IPv4, IPv6, TCP, UDP and ICMP and a loopback
// NIC. A Socket is a TCP or UDP socket over a tcpip.Endpoint whose methods
// mirror the Linux system calls: errors are unix.Errno values as Linux returns
// them, flags are Linux MSG_* flags and options are Linux SOL_*/SO_*
// numbers. Conn, Listener and UDPConn wrap sockets as net.Conn, net.Listener
// and net.PacketConn, like gVisor's adapters/gonet, and Stack.Dial and
// DialContext dial with net.Dial's strings.
//
// The wrappers follow package net rather than gonet: errors are
// *net.OpError values whose Err is os.ErrDeadlineExceeded when a deadline
// passes, net.ErrClosed once the socket is closed (also for calls blocked in
// it at the time, which gonet ends with io.EOF or netstack's errors) and
// otherwise the unix.Errno, which errors.Is matches; a Write that stops
// part-way returns its count and why. Sends and receives, through a Socket
// or a wrapper, allocate nothing of their own unless they wait (ReadFrom's
// net.Addr aside): the allocations left are netstack's.
//
// The zerocopy side of each socket is a zcsocket.State, shared with
// runsc-zc's sentry: the sk_zckey counter and one ordered error queue,
// into which every read moves the ICMP and local errors netstack queues
// when IP_RECVERR or IPV6_RECVERR is on.
//
// References: net/ipv4/tcp.c tcp_sendmsg_locked, net/ipv4/udp.c udp_sendmsg,
// net/core/sock.c sk_setsockopt and __sock_cmsg_send (with the
// SCM_ZC_NOTIFICATION series), net/ipv4/ip_sockglue.c ip_recv_error,
// net/core/skbuff.c sock_dequeue_err_skb.
package stack
