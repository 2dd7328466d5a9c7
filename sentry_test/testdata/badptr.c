/* Bad pointers in the error-queue calls and in getsockopt(SO_ZEROCOPY) on a
 * socket with SO_ZEROCOPY on, with the error queue empty and holding one
 * completion: which errno Linux returns and whether the entry is consumed.
 *
 * Linux tells two kinds of bad pointer apart. An address that fails
 * access_ok (above the user address space: (void *)-1, the kernel half) is
 * refused before anything else where the kernel checks the range up front:
 * recvfrom's buffer (import_ubuf), recvmsg's iovecs (import_iovec),
 * recvmmsg's timeout (get_timespec64). An address of the user half that is
 * not mapped (NULL, a munmap'ed page) or not writable only faults when
 * something is copied there: a completion has no payload, so its buffer is
 * never written, while recvmmsg's timeout is read first, and written back
 * after a batch. Every line prints the call, its result and, with an entry
 * queued, whether the entry was consumed (a following recvmsg(MSG_ERRQUEUE)
 * finds the queue empty) or kept. */
#include "zc.h"
#include <netinet/ip.h>
#include <sys/mman.h>
#include <time.h>

static const struct kind *k;
static int tx, rx;
static char buf[256], ctl[256];

/* A read-only page that holds valid values: reading from it succeeds,
 * writing to it faults. */
struct ro_page {
	struct timespec timeout;
	socklen_t addrlen;
	socklen_t optlen;
	struct iovec iov;
	struct msghdr msg;
	char data[256];
};
static struct ro_page *ro;
static char *unmapped;

/* The bad pointers. */
enum { P_NULL, P_UNMAPPED, P_RO, P_MINUS1, P_KERNEL, NPTR };
static const char *pname[NPTR] = {"NULL", "unmapped", "read-only", "(void*)-1", "0xffff800000000000"};

/* bad returns pointer kind i, with ro_member as the read-only one. */
static void *bad(int i, void *ro_member) {
	switch (i) {
	case P_NULL: return NULL;
	case P_UNMAPPED: return unmapped;
	case P_RO: return ro_member;
	case P_MINUS1: return (void *)-1L;
	default: return (void *)0xffff800000000000UL;
	}
}

static void setup_pages(void) {
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	/* The page after the read-only one is unmapped. */
	if (munmap(p + 4096, 4096))
		die("munmap");
	unmapped = p + 4096;
	ro = (struct ro_page *)p;
	ro->timeout = (struct timespec){1, 0};
	ro->addrlen = sizeof(struct sockaddr_storage);
	ro->optlen = sizeof(int);
	ro->iov = (struct iovec){buf, sizeof buf};
	ro->msg = (struct msghdr){.msg_iov = &ro->iov, .msg_iovlen = 1,
	                          .msg_control = ctl, .msg_controllen = sizeof ctl};
	if (mprotect(p, 4096, PROT_READ))
		die("mprotect");
}

/* queue1 queues one completion on tx (and drops what the peer received). */
static void queue1(void) {
	if (send(tx, buf, 10, MSG_ZEROCOPY) != 10)
		die("send");
	if (!(wait_err(tx, 2000) & POLLERR))
		die("no completion");
	while (recv(rx, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

/* state names the queue a case starts with. */
static const char *state(int queued) {
	return queued ? "queued" : "empty";
}

/* after ends a case's line: with an entry queued, whether it is still
 * there; it leaves the queue empty. */
static void after(int queued) {
	long r = recv_err(tx, 0);
	if (queued)
		printf(", entry %s", r >= 0 ? "kept" : "consumed");
	else if (r >= 0)
		printf(", an entry appeared");
	while (recv_err(tx, 0) >= 0)
		;
	printf("\n");
}

static void recvmmsg_timeout(void) {
	printf("-- recvmmsg(MSG_ERRQUEUE) with a bad timeout\n");
	for (int q = 0; q < 2; q++)
		for (int i = 0; i < NPTR; i++) {
			if (q)
				queue1();
			struct iovec iov = {buf, 10};
			struct mmsghdr mm = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1,
			                                 .msg_control = ctl, .msg_controllen = sizeof ctl}};
			int r = recvmmsg(tx, &mm, 1, MSG_ERRQUEUE, bad(i, &ro->timeout));
			printf("%s: recvmmsg timeout %s: %s", state(q), pname[i], ret(r));
			after(q);
		}
}

static void recvfrom_buffer(void) {
	printf("-- recvfrom(MSG_ERRQUEUE) into a bad buffer\n");
	for (size_t len = 0; len <= 10; len += 10)
		for (int q = 0; q < 2; q++)
			for (int i = 0; i < NPTR; i++) {
				if (q)
					queue1();
				long r = recvfrom(tx, bad(i, ro->data), len, MSG_ERRQUEUE, NULL, NULL);
				printf("%s: recvfrom buf %s len %zu: %s", state(q), pname[i], len, ret(r));
				after(q);
			}
}

static void recvfrom_address(void) {
	printf("-- recvfrom(MSG_ERRQUEUE) with a bad address or address length\n");
	for (int q = 0; q < 2; q++)
		for (int i = 0; i < NPTR; i++) {
			struct sockaddr_storage ss;
			if (q)
				queue1();
			long r = recvfrom(tx, buf, 10, MSG_ERRQUEUE, (struct sockaddr *)&ss,
			                  bad(i, &ro->addrlen));
			printf("%s: recvfrom addrlen %s: %s", state(q), pname[i], ret(r));
			after(q);
			if (q)
				queue1();
			socklen_t l = sizeof ss;
			r = recvfrom(tx, buf, 10, MSG_ERRQUEUE, bad(i, ro->data), &l);
			printf("%s: recvfrom addr %s: %s addrlen %u", state(q), pname[i], ret(r), l);
			after(q);
		}
}

static void recvmsg_fields(void) {
	printf("-- recvmsg(MSG_ERRQUEUE) with a bad iov_base, msg_control, msg_name or msghdr\n");
	static const char *field[] = {"iov_base", "msg_control", "msg_name", "msghdr"};
	for (int q = 0; q < 2; q++)
		for (int f = 0; f < 4; f++)
			for (int i = 0; i < NPTR; i++) {
				if (q)
					queue1();
				struct sockaddr_storage ss;
				struct iovec iov = {buf, 10};
				struct msghdr m = {.msg_name = &ss, .msg_namelen = sizeof ss,
				                   .msg_iov = &iov, .msg_iovlen = 1,
				                   .msg_control = ctl, .msg_controllen = sizeof ctl};
				struct msghdr *mp = &m;
				switch (f) {
				case 0: iov.iov_base = bad(i, ro->data); break;
				case 1: m.msg_control = bad(i, ro->data); break;
				case 2: m.msg_name = bad(i, ro->data); break;
				default: mp = bad(i, &ro->msg); break;
				}
				long r = recvmsg(tx, mp, MSG_ERRQUEUE);
				printf("%s: recvmsg %s %s: %s", state(q), field[f], pname[i], ret(r));
				if (r >= 0)
					printf(" flags 0x%x namelen %u controllen %zu", m.msg_flags,
					       m.msg_namelen, (size_t)m.msg_controllen);
				after(q);
			}
}

static void getsockopt_zerocopy(void) {
	printf("-- getsockopt(SO_ZEROCOPY) with a bad optval or optlen\n");
	for (socklen_t len = 0; len <= sizeof(int); len += sizeof(int))
		for (int i = 0; i < NPTR; i++) {
			socklen_t l = len;
			long r = getsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, bad(i, ro->data), &l);
			printf("getsockopt optval %s optlen %u: %s optlen %u\n", pname[i], len, ret(r), l);
		}
	for (int i = 0; i < NPTR; i++) {
		int v = -1;
		long r = getsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, &v, bad(i, &ro->optlen));
		printf("getsockopt optlen %s: %s value %d\n", pname[i], ret(r), v);
	}
}

/* icmp: an ICMP port unreachable error (IP_RECVERR) has a payload and an
 * address, so the copy to an unmapped buffer faults after the entry left
 * the queue. */
static void icmp(void) {
	printf("-- an ICMP error (IP_RECVERR) read into bad buffers\n");
	int u = closed_port_socket(k);
	static const char *what[] = {
		"recvfrom buf unmapped len 10", "recvfrom buf unmapped len 0",
		"recvfrom buf (void*)-1 len 10", "recvfrom addr unmapped", "recvfrom addrlen unmapped",
		"recvmsg iov_base unmapped", "recvmsg msg_control unmapped", "recvfrom",
	};
	for (size_t c = 0; c < sizeof what / sizeof what[0]; c++) {
		send(u, buf, 10, 0);
		if (!(await_err(u) & POLLERR))
			die("no ICMP error");
		struct sockaddr_storage ss;
		socklen_t l = sizeof ss;
		struct iovec iov = {buf, 10};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
		                   .msg_control = ctl, .msg_controllen = sizeof ctl};
		long r;
		switch (c) {
		case 0: r = recvfrom(u, unmapped, 10, MSG_ERRQUEUE, NULL, NULL); break;
		case 1: r = recvfrom(u, unmapped, 0, MSG_ERRQUEUE, NULL, NULL); break;
		case 2: r = recvfrom(u, (void *)-1L, 10, MSG_ERRQUEUE, NULL, NULL); break;
		case 3: r = recvfrom(u, buf, 10, MSG_ERRQUEUE, (void *)unmapped, &l); break;
		case 4: r = recvfrom(u, buf, 10, MSG_ERRQUEUE, (void *)&ss, (void *)unmapped); break;
		case 5: iov.iov_base = unmapped; r = recvmsg(u, &m, MSG_ERRQUEUE); break;
		case 6: m.msg_control = unmapped; r = recvmsg(u, &m, MSG_ERRQUEUE); break;
		default: r = recvfrom(u, buf, 10, MSG_ERRQUEUE, (void *)&ss, &l); break;
		}
		printf("icmp: %s: %s addrlen %u", what[c], ret(r), l);
		if (c == 6)
			printf(" flags 0x%x controllen %zu", m.msg_flags, (size_t)m.msg_controllen);
		printf(" SO_ERROR %s", errname(so_error(u)));
		r = recv_err(u, 0);
		printf(", entry %s", r >= 0 ? "kept" : "consumed");
		while (recv_err(u, 0) >= 0)
			;
		printf(" SO_ERROR %s\n", errname(so_error(u)));
	}
	close(u);
}

/* timeout_batch: recvmmsg(MSG_ERRQUEUE)'s valid timeouts as do_recvmmsg
 * treats them. Each datagram to a closed port queues a completion and an
 * ICMP error, which do not coalesce; a zero timeout has passed after the
 * first message, a long one not, and the time left is written back. */
static void timeout_batch(void) {
	printf("-- recvmmsg(MSG_ERRQUEUE) timeouts ending a batch\n");
	int u = closed_port_socket(k);
	static const struct timespec tss[] = {{0, 0}, {1, 0}};
	for (int t = 0; t < 2; t++) {
		for (int i = 0; i < 2; i++) {
			if (send(u, buf, 10, MSG_ZEROCOPY) < 0)
				die("send");
			/* The ICMP error comes after the completion; taking
			 * the socket error it sets lets the next send go. */
			if (!await_sock_err(u))
				die("no ICMP error");
		}
		struct mmsghdr v[4];
		struct iovec iov[4];
		static char data[4][64], c[4][128];
		memset(v, 0, sizeof v);
		for (int i = 0; i < 4; i++) {
			iov[i] = (struct iovec){data[i], sizeof data[i]};
			v[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1,
						       .msg_control = c[i], .msg_controllen = sizeof c[i]};
		}
		struct timespec ts = tss[t];
		int n = recvmmsg(u, v, 4, MSG_ERRQUEUE, &ts);
		int less = ts.tv_sec < tss[t].tv_sec ||
			   (ts.tv_sec == tss[t].tv_sec && ts.tv_nsec < tss[t].tv_nsec);
		printf("timeout %lds: %s, time left %s\n", (long)tss[t].tv_sec, ret(n),
		       ts.tv_sec == 0 && ts.tv_nsec == 0 ? "0" : less ? "less" : "unchanged");
		while (recv_err(u, 0) >= 0)
			;
	}
	close(u);
}

int main(int argc, char **argv) {
	k = kind_of(argv[1]);
	setup_pages();
	pair(k, &tx, &rx);
	set_zerocopy(tx, 1);
	recvmmsg_timeout();
	recvfrom_buffer();
	recvfrom_address();
	recvmsg_fields();
	getsockopt_zerocopy();
	if (k->type == SOCK_DGRAM) {
		icmp();
		timeout_batch();
	}
	return 0;
}
