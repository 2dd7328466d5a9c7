/* Turning IP_RECVERR or IPV6_RECVERR off with ICMP errors and zerocopy
 * completions queued: Linux purges the error queue of everything but the
 * completions (skb_errqueue_purge from do_ip_setsockopt and
 * do_ipv6_setsockopt), and the socket keeps POLLERR while they remain. On
 * an AF_INET6 socket both options purge. UDP kinds only. */
#include "zc.h"

/* fill queues, on u, the completion and the ICMP error of n datagrams,
 * each waited for, and returns the next id. */
static uint32_t fill(int u, uint32_t id, int n) {
	for (int i = 0; i < n; i++, id++) {
		if (send(u, "x", 1, MSG_ZEROCOPY) < 0)
			die("send");
		if (!await_sock_err(u))
			die("no ICMP error");
	}
	return id;
}

/* off turns the option level/name off, prints POLLERR and what is left
 * in the queue, and turns it on again. */
static void off(int u, int level, int name, const char *what) {
	int v = 0;
	printf("%s off: %s\n", what, ret(setsockopt(u, level, name, &v, sizeof v)));
	printf("revents 0x%x\n", wait_err(u, 0));
	while (recv_err(u, 1) >= 0)
		;
	printf("revents 0x%x SO_ERROR %s\n", wait_err(u, 0), errname(so_error(u)));
	v = 1;
	if (setsockopt(u, level, name, &v, sizeof v))
		die("setsockopt on");
}

int main(int argc, char **argv) {
	const struct kind *k = kind_of(argv[1]);
	if (k->type != SOCK_DGRAM) {
		fprintf(stderr, "recverr needs a UDP kind\n");
		return 2;
	}
	int u = closed_port_socket(k);
	int level = k->family == AF_INET ? SOL_IP : SOL_IPV6;
	int name = k->family == AF_INET ? IP_RECVERR : IPV6_RECVERR;
	uint32_t id = fill(u, 0, 2);
	off(u, level, name, k->family == AF_INET ? "IP_RECVERR" : "IPV6_RECVERR");

	/* With the option on again, errors are queued again. */
	if (send(u, "x", 1, 0) < 0)
		die("send");
	if (!await_sock_err(u))
		die("no ICMP error");
	printf("after the option came back:\n");
	while (recv_err(u, 1) >= 0)
		;

	if (k->family == AF_INET6) {
		/* IP_RECVERR on an AF_INET6 socket purges the same queue. */
		int one = 1;
		if (setsockopt(u, SOL_IP, IP_RECVERR, &one, sizeof one))
			die("setsockopt IP_RECVERR");
		id = fill(u, id, 1);
		off(u, SOL_IP, IP_RECVERR, "IP_RECVERR on AF_INET6");
	}
	report_ids("recverr", id);
	return 0;
}
