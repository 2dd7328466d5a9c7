/* MSG_ZEROCOPY and recvmsg(MSG_ERRQUEUE) on one kind of socket: ids, the
 * exact error-queue message, empty and failing sends, truncation, recvfrom
 * and recvmmsg on the error queue, and ICMP errors with IP_RECVERR. */
#include "zc.h"
#include <netinet/ip.h>

static char buf[70000];
static uint32_t ids;

/* zsend sends n bytes with flags by sendto or sendmsg and prints it. */
static long zsend(int fd, size_t n, int flags, int use_sendmsg) {
	long r;
	if (use_sendmsg) {
		struct iovec iov[2] = {{buf, n / 2}, {buf + n / 2, n - n / 2}};
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
		r = sendmsg(fd, &msg, flags);
	} else {
		r = send(fd, buf, n, flags);
	}
	printf("%s %zu flags 0x%x: %s\n", use_sendmsg ? "sendmsg" : "send", n, flags, ret(r));
	return r;
}

/* drain reads and prints the error queue until it is empty. */
static void drain(int fd) {
	while (recv_err(fd, 1) >= 0)
		;
}

int main(int argc, char **argv) {
	const struct kind *k = kind_of(argv[1]);
	int dgram = k->type == SOCK_DGRAM;
	int tx, rx;
	pair(k, &tx, &rx);

	printf("-- MSG_ZEROCOPY without SO_ZEROCOPY is a plain send\n");
	zsend(tx, 100, MSG_ZEROCOPY, 0);
	zsend(tx, 100, MSG_ZEROCOPY, 1);
	printf("revents 0x%x\n", wait_err(tx, 100));
	drain(tx);

	set_zerocopy(tx, 1);
	printf("-- one completion per send, read after each\n");
	for (int i = 0; i < 4; i++) {
		if (zsend(tx, 100 + i, MSG_ZEROCOPY, i & 1) >= 0)
			ids++;
		printf("revents 0x%x\n", await_err(tx));
		drain(tx);
	}

	printf("-- sends without MSG_ZEROCOPY take no id\n");
	zsend(tx, 100, 0, 0);
	zsend(tx, 100, 0, 1);
	printf("revents 0x%x\n", wait_err(tx, 100));
	drain(tx);

	printf("-- empty sends: TCP takes no id, UDP takes one\n");
	for (int i = 0; i < 2; i++) {
		if (zsend(tx, 0, MSG_ZEROCOPY, i) >= 0 && dgram)
			ids++;
		printf("revents 0x%x\n", (dgram ? await_err(tx) : wait_err(tx, 100)));
		drain(tx);
	}

	printf("-- failed sends take no id\n");
	if (dgram) {
		zsend(tx, k->family == AF_INET ? 65508 : 65528, MSG_ZEROCOPY, 0);
		struct sockaddr_storage dst;
		loopback(k->family, 9, &dst);
		struct msghdr msg = {.msg_name = &dst, .msg_namelen = 4,
		                     .msg_iov = &(struct iovec){buf, 10}, .msg_iovlen = 1};
		printf("sendmsg with a short address: %s\n", ret(sendmsg(tx, &msg, MSG_ZEROCOPY)));
	} else {
		int fresh = socket(k->family, k->type, 0);
		set_zerocopy(fresh, 1);
		printf("unconnected: ");
		zsend(fresh, 10, MSG_ZEROCOPY | MSG_NOSIGNAL, 0);
		printf("unconnected revents 0x%x\n", wait_err(fresh, 100));
		close(fresh);
	}
	printf("revents 0x%x\n", wait_err(tx, 100));
	drain(tx);

	printf("-- a batch of sends, read at the end\n");
	uint32_t first = ids;
	for (int i = 0; i < 8; i++)
		if (zsend(tx, 1000, MSG_ZEROCOPY, i & 1) >= 0)
			ids++;
	printf("revents 0x%x\n", await_err(tx));
	printf("batch completed: %s\n", await_ids(tx, first, ids - 1) ? "yes" : "no");
	printf("after batch: revents 0x%x\n", wait_err(tx, 0));

	printf("-- truncated control buffer\n");
	size_t lens[] = {0, 8, 16, 20, 47};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		zsend(tx, 10, MSG_ZEROCOPY, 0);
		ids++;
		await_err(tx);
		char ctl[64];
		memset(ctl, 0x55, sizeof ctl);
		struct iovec iov = {buf, 16};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
		                     .msg_control = lens[i] ? ctl : NULL, .msg_controllen = lens[i]};
		long r = recvmsg(tx, &msg, MSG_ERRQUEUE);
		printf("controllen %zu: %s flags 0x%x controllen %zu first bytes %02x%02x%02x%02x\n",
		       lens[i], ret(r), msg.msg_flags, (size_t)msg.msg_controllen,
		       (unsigned char)ctl[0], (unsigned char)ctl[1], (unsigned char)ctl[8],
		       (unsigned char)ctl[12]);
		/* The entry is gone whether or not its cmsg fitted. */
		account(ids - 1, ids - 1);
		drain(tx);
	}

	printf("-- SO_ZEROCOPY off keeps the queue; MSG_ZEROCOPY is then plain\n");
	zsend(tx, 10, MSG_ZEROCOPY, 0);
	ids++;
	await_err(tx);
	set_zerocopy(tx, 0);
	zsend(tx, 10, MSG_ZEROCOPY, 1);
	printf("revents 0x%x\n", wait_err(tx, 100));
	drain(tx);
	set_zerocopy(tx, 1);

	printf("-- recvfrom and recvmmsg on the error queue\n");
	zsend(tx, 10, MSG_ZEROCOPY, 0);
	ids++;
	await_err(tx);
	printf("recvfrom: %s\n", ret(recvfrom(tx, buf, sizeof buf, MSG_ERRQUEUE, NULL, NULL)));
	account(ids - 1, ids - 1);
	drain(tx);
	zsend(tx, 10, MSG_ZEROCOPY, 0);
	ids++;
	await_err(tx);
	{
		char ctl[2][128];
		struct iovec iov[2] = {{buf, 10}, {buf + 10, 10}};
		struct mmsghdr mm[2];
		memset(mm, 0, sizeof mm);
		for (int i = 0; i < 2; i++) {
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			mm[i].msg_hdr.msg_control = ctl[i];
			mm[i].msg_hdr.msg_controllen = sizeof ctl[i];
		}
		/* The second message's iovec is unreadable: the batch ends
		 * there and Linux keeps EFAULT as the socket error. */
		mm[1].msg_hdr.msg_iov = (struct iovec *)8;
		int r = recvmmsg(tx, mm, 2, MSG_ERRQUEUE, NULL);
		printf("recvmmsg: %s", ret(r));
		for (int i = 0; i < r; i++) {
			struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr);
			struct sock_extended_err *ee = (void *)CMSG_DATA(c);
			printf(" [len %u flags 0x%x controllen %zu origin %u info %u data %u]",
			       mm[i].msg_len, mm[i].msg_hdr.msg_flags,
			       (size_t)mm[i].msg_hdr.msg_controllen, ee->ee_origin, ee->ee_info,
			       ee->ee_data);
			account(ee->ee_info, ee->ee_data);
		}
		int e;
		socklen_t l = sizeof e;
		getsockopt(tx, SOL_SOCKET, SO_ERROR, &e, &l);
		printf(" SO_ERROR %s\n", errname(e));
	}
	printf("receiver errqueue: %s\n", ret(recvfrom(rx, buf, 10, MSG_ERRQUEUE, NULL, NULL)));

	report_ids("errqueue", ids);
	reset_ids();
	if (dgram) {
		printf("-- ICMP errors with IP_RECVERR, in order with completions\n");
		int u = closed_port_socket(k);
		/* A datagram's completion comes first, then its ICMP error. */
		zsend(u, 10, MSG_ZEROCOPY, 0);
		await_err(u);
		recv_err(u, 1);
		printf("ICMP error queued: revents 0x%x\n", await_err(u));
		/* The pending socket error fails the next send, which takes no
		 * id. */
		zsend(u, 10, MSG_ZEROCOPY, 1);
		/* Each ICMP error sets the socket error when it arrives. */
		zsend(u, 10, MSG_ZEROCOPY, 1);
		printf("SO_ERROR %s\n", errname(await_sock_err(u)));
		zsend(u, 10, MSG_ZEROCOPY, 0);
		printf("SO_ERROR %s\n", errname(await_sock_err(u)));
		/* The queue holds icmp, c1, icmp, c2, icmp: each read leaves
		 * the socket error at the errno of the next entry if that is
		 * an ICMP error, else 0 (sock_dequeue_err_skb). */
		for (int i = 0; i < 6; i++) {
			recv_err(u, 1);
			printf("SO_ERROR %s\n", errname(so_error(u)));
		}
		report_ids("icmp", 3);
		close(u);
	} else {
		printf("-- send after shutdown fails, takes no id\n");
		shutdown(tx, SHUT_WR);
		zsend(tx, 10, MSG_ZEROCOPY | MSG_NOSIGNAL, 0);
		printf("revents 0x%x\n", wait_err(tx, 100) & POLLERR);
		drain(tx);
		report_ids("after shutdown", 0);
	}
	return 0;
}
