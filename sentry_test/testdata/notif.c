/* SCM_ZC_NOTIFICATION, the SCM_ZC_NOTIFICATION series' sendmsg copy-back:
 * notification limits 1 and 32 (the series' msg_zerocopy -n), the zero-length
 * fetch (also on a non-blocking socket), every EINVAL case, a send that
 * fails after completions were taken, sendmmsg with the cmsg in several
 * entries, a fetch that skips ICMP errors (UDP), and the hybrid of threads
 * draining by MSG_ERRQUEUE and by SCM_ZC_NOTIFICATION at once. Linux without
 * the series rejects the cmsg with EINVAL. */
#include "zc.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>

static const struct kind *k;
static char buf[70000];
static char ctl[CMSG_SPACE(sizeof(struct zc_info) + 17 * sizeof(struct zc_info_elem)) + 64];

/* reader drains the receiving end of a TCP pair so that sends never block. */
static void *reader(void *arg) {
	int fd = *(int *)arg;
	char b[65536];
	while (read(fd, b, sizeof b) > 0)
		;
	return NULL;
}

static int rx_fd;
static pthread_t rx_thread;

/* ids counts the sends of the current case that took an id. */
static uint32_t ids;

static int setup(void) {
	int tx;
	pair(k, &tx, &rx_fd);
	if (k->type == SOCK_STREAM)
		pthread_create(&rx_thread, NULL, reader, &rx_fd);
	set_zerocopy(tx, 1);
	reset_ids();
	ids = 0;
	return tx;
}

/* drain reads the error queue until every id of the case was seen
 * (loopback TCP completes when data is acknowledged), then what else is
 * queued. */
static void drain(int fd) {
	if (ids > 0)
		await_ids(fd, 0, ids - 1);
	while (recv_err(fd, 0) >= 0)
		;
}

static void teardown(int tx) {
	close(tx);
	if (k->type == SOCK_STREAM)
		pthread_join(rx_thread, NULL);
	close(rx_fd);
}

/* zsend sends len bytes with flags and, if n >= 0, a zc_info cmsg for n
 * elements; it prints the result and the copied-back cmsg if print is set. */
static long zsend(int fd, size_t len, int flags, int n, int print) {
	struct iovec iov = {buf, len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n >= 0) {
		msg.msg_control = ctl;
		msg.msg_controllen = zc_cmsg(ctl, n);
	}
	long r = sendmsg(fd, &msg, flags);
	if (r >= 0 && (flags & MSG_ZEROCOPY) && (len > 0 || k->type == SOCK_DGRAM))
		ids++;
	if (print || r < 0)
		printf("sendmsg %zu cmsg %d: %s\n", len, n, ret(r));
	if (r >= 0 && n >= 0)
		print_zc(print ? "copied back" : NULL, &msg);
	return r;
}

/* limit is the series' msg_zerocopy -n with cfg_notification_limit l. */
static void limit(int l) {
	printf("== limit %d\n", l);
	int tx = setup();
	uint32_t since = 0, fetches = 0;
	for (int i = 0; i < 64; i++) {
		int cm = since + 1 >= (uint32_t)l ? ZC_NOTIFICATION_MAX : -1;
		long r = zsend(tx, 1000, MSG_ZEROCOPY, cm, cm >= 0 && (fetches < 3 || i == 63));
		if (r < 0)
			break;
		since++;
		if (cm >= 0) {
			fetches++;
			struct zc_info *zi = (struct zc_info *)CMSG_DATA((struct cmsghdr *)ctl);
			for (uint32_t j = 0; j < zi->size; j++)
				since -= zi->arr[j].hi - zi->arr[j].lo + 1;
		}
	}
	printf("fetches %u, outstanding %u\n", fetches, since);
	/* Fetch the rest without taking an id. */
	zsend(tx, 0, k->type == SOCK_STREAM ? MSG_ZEROCOPY : 0, ZC_NOTIFICATION_MAX, 1);
	drain(tx);
	report_ids("limit", ids);
	teardown(tx);
}

/* zerolen fetches with size 0: nothing is taken, the cmsg comes back. */
static void zerolen(void) {
	printf("== zero-length fetch\n");
	int tx = setup();
	zsend(tx, 10, MSG_ZEROCOPY, -1, 1);
	zsend(tx, 10, MSG_ZEROCOPY, 0, 1);
	zsend(tx, 10, 0, 0, 1);
	/* A non-blocking socket: Linux adds MSG_DONTWAIT to msg_flags. */
	fcntl(tx, F_SETFL, fcntl(tx, F_GETFL) | O_NONBLOCK);
	zsend(tx, 10, MSG_ZEROCOPY, 0, 1);
	drain(tx);
	report_ids("zero-length", ids);
	teardown(tx);
}

/* einval sends each malformed cmsg; the completion queued before stays. */
static void einval(void) {
	printf("== EINVAL\n");
	int tx = setup();
	zsend(tx, 10, MSG_ZEROCOPY, -1, 1);
	await_err(tx);
	struct iovec iov = {buf, 10};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl};
	struct cmsghdr *c = (struct cmsghdr *)ctl;
	struct zc_info *zi = (struct zc_info *)CMSG_DATA(c);
	const size_t e = sizeof(struct zc_info_elem), h = sizeof(struct zc_info);
	struct {
		const char *what;
		size_t datalen;
		uint32_t size;
	} cases[] = {
		{"no zc_info", 0, 0},
		{"short zc_info", 2, 0},
		{"size 17", h + 17 * e, 17},
		{"size 2 room 3", h + 3 * e, 2},
		{"size 3 room 2", h + 2 * e, 3},
		{"size 1 room 1 and a byte", h + e + 1, 1},
		{"size 16 room 15", h + 15 * e, 16},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(ctl, 0, sizeof ctl);
		c->cmsg_len = CMSG_LEN(cases[i].datalen);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_ZC_NOTIFICATION;
		if (cases[i].datalen >= h)
			zi->size = cases[i].size;
		msg.msg_controllen = CMSG_SPACE(cases[i].datalen);
		printf("%s: %s\n", cases[i].what, ret(sendmsg(tx, &msg, MSG_ZEROCOPY)));
	}
	/* cmsg_len beyond msg_controllen. */
	msg.msg_controllen = zc_cmsg(ctl, 1);
	c->cmsg_len += 8;
	printf("cmsg_len beyond controllen: %s\n", ret(sendmsg(tx, &msg, MSG_ZEROCOPY)));
	/* A good cmsg followed by an unknown one. */
	size_t sp = zc_cmsg(ctl, 1);
	struct cmsghdr *c2 = (struct cmsghdr *)(ctl + sp);
	c2->cmsg_len = CMSG_LEN(4);
	c2->cmsg_level = SOL_SOCKET;
	c2->cmsg_type = 99;
	msg.msg_controllen = sp + CMSG_SPACE(4);
	printf("good then unknown: %s\n", ret(sendmsg(tx, &msg, MSG_ZEROCOPY)));
	/* With SO_ZEROCOPY off. */
	int off = 0;
	setsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, &off, sizeof off);
	msg.msg_controllen = zc_cmsg(ctl, 1);
	printf("SO_ZEROCOPY off: %s\n", ret(sendmsg(tx, &msg, MSG_ZEROCOPY)));
	msg.msg_controllen = zc_cmsg(ctl, 0);
	printf("SO_ZEROCOPY off, size 0: %s\n", ret(sendmsg(tx, &msg, 0)));
	/* No entry was taken: the first completion is still queued. */
	drain(tx);
	report_ids("EINVAL", ids);
	teardown(tx);
}

/* fail takes completions with a send that then fails: none is lost. */
static void fail(void) {
	printf("== send fails after completions were taken\n");
	int tx = setup();
	for (int i = 0; i < 3; i++)
		zsend(tx, 10, MSG_ZEROCOPY, -1, 1);
	if (k->type == SOCK_STREAM) {
		shutdown(tx, SHUT_WR);
		zsend(tx, 10, MSG_ZEROCOPY | MSG_NOSIGNAL, ZC_NOTIFICATION_MAX, 1);
	} else {
		zsend(tx, 65536, MSG_ZEROCOPY, ZC_NOTIFICATION_MAX, 1);
		zsend(tx, k->family == AF_INET ? 65508 : 65528, MSG_ZEROCOPY, ZC_NOTIFICATION_MAX, 1);
	}
	/* The failed send wrote nothing back. */
	printf("control untouched: size %u\n", ((struct zc_info *)CMSG_DATA((struct cmsghdr *)ctl))->size);
	drain(tx);
	report_ids("failed send", ids);
	teardown(tx);
}

/* readonly sends with the copy-back's destination in a read-only page:
 * msg_control, then the msghdr. The call fails with EFAULT before the data
 * goes out (no id is taken) and loses nothing it took; the series would
 * send, then fail. */
static void readonly(void) {
	printf("== copy-back into read-only memory\n");
	int tx = setup();
	zsend(tx, 10, MSG_ZEROCOPY, -1, 1);
	await_err(tx);
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");
	struct iovec iov = {buf, 10};
	size_t cl = zc_cmsg(page, ZC_NOTIFICATION_MAX);
	struct msghdr *ro = (struct msghdr *)(page + 2048);
	*ro = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
	                      .msg_controllen = zc_cmsg(ctl, ZC_NOTIFICATION_MAX)};
	if (mprotect(page, 4096, PROT_READ))
		die("mprotect");
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = page, .msg_controllen = cl};
	printf("msg_control read-only: %s\n", ret(sendmsg(tx, &m, MSG_ZEROCOPY)));
	printf("msghdr read-only: %s\n", ret(sendmsg(tx, ro, MSG_ZEROCOPY)));
	munmap(page, 4096);
	drain(tx);
	report_ids("read-only", ids);
	teardown(tx);
}

/* mmsg sends four entries with one sendmmsg, the cmsg in three of them;
 * on UDP the first two and the last two share a destination. */
static void mmsg(void) {
	printf("== sendmmsg\n");
	int tx, r1 = -1, r2 = -1;
	if (k->type == SOCK_DGRAM) {
		r1 = bound_socket(k);
		r2 = bound_socket(k);
		tx = socket(k->family, k->type, 0);
		set_zerocopy(tx, 1);
		reset_ids();
		ids = 0;
	} else {
		tx = setup();
	}
	struct sockaddr_storage a1, a2;
	socklen_t l1 = 0, l2 = 0;
	if (r1 >= 0) {
		l1 = loopback(k->family, port_of(r1), &a1);
		l2 = loopback(k->family, port_of(r2), &a2);
	}
	struct msghdr one = {.msg_name = l1 ? &a1 : NULL, .msg_namelen = l1,
	                     .msg_iov = &(struct iovec){buf, 10}, .msg_iovlen = 1};
	long r0 = sendmsg(tx, &one, MSG_ZEROCOPY);
	printf("sendmsg: %s\n", ret(r0));
	ids += r0 >= 0;

	static char ctls[4][CMSG_SPACE(sizeof(struct zc_info) + 16 * sizeof(struct zc_info_elem))];
	struct mmsghdr mm[4];
	struct iovec iov[4];
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 4; i++) {
		iov[i] = (struct iovec){buf, 10 + i};
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		if (l1) {
			mm[i].msg_hdr.msg_name = i < 2 ? &a1 : &a2;
			mm[i].msg_hdr.msg_namelen = i < 2 ? l1 : l2;
		}
		if (i > 0) {
			mm[i].msg_hdr.msg_control = ctls[i];
			mm[i].msg_hdr.msg_controllen = zc_cmsg(ctls[i], 16);
		}
		mm[i].msg_hdr.msg_flags = 0x5a;
	}
	int r = sendmmsg(tx, mm, 4, MSG_ZEROCOPY);
	printf("sendmmsg: %s\n", ret(r));
	for (int i = 0; i < r; i++) {
		char what[32];
		snprintf(what, sizeof what, "entry %d len %u", i, mm[i].msg_len);
		if (mm[i].msg_hdr.msg_control)
			print_zc(what, &mm[i].msg_hdr);
		else
			printf("  %s: flags 0x%x\n", what, mm[i].msg_hdr.msg_flags);
	}
	ids += r > 0 ? r : 0;
	drain(tx);
	report_ids("sendmmsg", ids);
	if (r1 >= 0) {
		close(tx);
		close(r1);
		close(r2);
	} else {
		teardown(tx);
	}
}

/* skip fetches while an ICMP error (IP_RECVERR) sits before a completion:
 * the series takes only zerocopy completions and leaves other errors in
 * place, in order. */
static void skip(void) {
	printf("== a fetch skips other errors\n");
	int b = bound_socket(k);
	int port = port_of(b);
	close(b);
	int u = connected_socket(k, port);
	set_zerocopy(u, 1);
	reset_ids();
	ids = 0;
	int one = 1;
	if (k->family == AF_INET)
		setsockopt(u, SOL_IP, IP_RECVERR, &one, sizeof one);
	else
		setsockopt(u, SOL_IPV6, IPV6_RECVERR, &one, sizeof one);
	zsend(u, 10, MSG_ZEROCOPY, -1, 1);
	/* The ICMP error, which follows the completion, sets the socket
	 * error when it arrives. */
	printf("SO_ERROR %s\n", errname(await_sock_err(u)));
	if (zsend(u, 10, MSG_ZEROCOPY, ZC_NOTIFICATION_MAX, 1) >= 0)
		await_sock_err(u);
	while (recv_err(u, 1) >= 0)
		;
	report_ids("skip", ids);
	close(u);
}

/* The hybrid: one thread sends, fetching by SCM_ZC_NOTIFICATION every
 * fourth send, while another drains by poll and recvmsg(MSG_ERRQUEUE). */
static int hybrid_fd, hybrid_done;
static pthread_mutex_t hybrid_mu = PTHREAD_MUTEX_INITIALIZER;
#define HYBRID_SENDS 2000

static void *hybrid_sender(void *arg) {
	int cmsg_ok = 1;
	static char myctl[CMSG_SPACE(sizeof(struct zc_info) + 16 * sizeof(struct zc_info_elem))];
	for (int i = 0; i < HYBRID_SENDS; i++) {
		struct iovec iov = {buf, 100};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		if (cmsg_ok && i % 4 == 3) {
			msg.msg_control = myctl;
			msg.msg_controllen = zc_cmsg(myctl, 16);
		}
		long r = sendmsg(hybrid_fd, &msg, MSG_ZEROCOPY);
		if (r < 0 && errno == EINVAL && msg.msg_control) {
			printf("hybrid cmsg send: EINVAL, continuing without\n");
			cmsg_ok = 0;
			i--;
			continue;
		}
		if (r < 0)
			die("hybrid sendmsg");
		if (msg.msg_control) {
			struct zc_info *zi = (struct zc_info *)CMSG_DATA((struct cmsghdr *)myctl);
			pthread_mutex_lock(&hybrid_mu);
			for (uint32_t j = 0; j < zi->size; j++)
				account(zi->arr[j].lo, zi->arr[j].hi);
			pthread_mutex_unlock(&hybrid_mu);
		}
	}
	__atomic_store_n(&hybrid_done, 1, __ATOMIC_SEQ_CST);
	return arg;
}

static void *hybrid_reader(void *arg) {
	for (;;) {
		int done = __atomic_load_n(&hybrid_done, __ATOMIC_SEQ_CST);
		wait_err(hybrid_fd, 10);
		pthread_mutex_lock(&hybrid_mu);
		long r = recv_err(hybrid_fd, 0);
		pthread_mutex_unlock(&hybrid_mu);
		if (r < 0 && done)
			return arg;
	}
}

static void hybrid(void) {
	printf("== hybrid\n");
	hybrid_fd = setup();
	hybrid_done = 0;
	pthread_t s, r;
	pthread_create(&s, NULL, hybrid_sender, NULL);
	pthread_create(&r, NULL, hybrid_reader, NULL);
	pthread_join(s, NULL);
	pthread_join(r, NULL);
	ids = HYBRID_SENDS;
	drain(hybrid_fd);
	report_ids("hybrid", ids);
	teardown(hybrid_fd);
}

int main(int argc, char **argv) {
	k = kind_of(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	limit(1);
	limit(32);
	zerolen();
	einval();
	fail();
	readonly();
	mmsg();
	if (k->type == SOCK_DGRAM)
		skip();
	hybrid();
	return 0;
}
