/* Shared helpers of the sentry_test guest programs: plain libc, the
 * zerocopy ABI constants Linux's uapi headers may lack, and loopback socket
 * pairs. Every program prints what it observes, one fact per line. */
#define _GNU_SOURCE
#pragma GCC diagnostic ignored "-Wunused-function"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
/* The SCM_ZC_NOTIFICATION series (v8). */
#define SCM_ZC_NOTIFICATION 78
#define ZC_NOTIFICATION_MAX 16
struct zc_info_elem {
	uint32_t lo;
	uint32_t hi;
	uint8_t zerocopy;
};
struct zc_info {
	uint32_t size;
	struct zc_info_elem arr[];
};

static const char *errname(int e) {
	switch (e) {
	case 0: return "OK";
	case EINVAL: return "EINVAL";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EFAULT: return "EFAULT";
	case EAGAIN: return "EAGAIN";
	case EBADF: return "EBADF";
	case ENOTSOCK: return "ENOTSOCK";
	case EPIPE: return "EPIPE";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOBUFS: return "ENOBUFS";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENOTCONN: return "ENOTCONN";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EINTR: return "EINTR";
	case ECONNRESET: return "ECONNRESET";
	default: {
		static char buf[32];
		snprintf(buf, sizeof buf, "errno%d", e);
		return buf;
	}
	}
}

/* ret prints a syscall's result: the value, or the errno name. */
static const char *ret(long r) {
	static char buf[64];
	if (r < 0)
		return errname(errno);
	snprintf(buf, sizeof buf, "%ld", r);
	return buf;
}

static void die(const char *what) {
	printf("FATAL %s: %s\n", what, errname(errno));
	fflush(stdout);
	exit(1);
}

/* A kind of loopback socket: tcp4, tcp6, udp4 or udp6. */
struct kind {
	const char *name;
	int family, type;
};

static const struct kind kinds[] = {
	{"tcp4", AF_INET, SOCK_STREAM},
	{"tcp6", AF_INET6, SOCK_STREAM},
	{"udp4", AF_INET, SOCK_DGRAM},
	{"udp6", AF_INET6, SOCK_DGRAM},
};

static const struct kind *kind_of(const char *name) {
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	fprintf(stderr, "unknown kind %s\n", name);
	exit(2);
}

/* loopback returns the loopback address of family with port. */
static socklen_t loopback(int family, int port, struct sockaddr_storage *ss) {
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof *a;
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	a->sin6_addr = in6addr_loopback;
	return sizeof *a;
}

static int port_of(int fd) {
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &l))
		die("getsockname");
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* bound_socket returns a socket of k bound to a loopback port, listening if
 * it is TCP. */
static int bound_socket(const struct kind *k) {
	struct sockaddr_storage ss;
	socklen_t l = loopback(k->family, 0, &ss);
	int fd = socket(k->family, k->type, 0);
	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&ss, l))
		die("bind");
	if (k->type == SOCK_STREAM && listen(fd, 16))
		die("listen");
	return fd;
}

/* connected_socket returns a socket of k connected to port on loopback. */
static int connected_socket(const struct kind *k, int port) {
	struct sockaddr_storage ss;
	socklen_t l = loopback(k->family, port, &ss);
	int fd = socket(k->family, k->type, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, l))
		die("connect");
	return fd;
}

/* pair makes a connected sender *tx and its receiver *rx of kind k. */
static void pair(const struct kind *k, int *tx, int *rx) {
	int b = bound_socket(k);
	*tx = connected_socket(k, port_of(b));
	if (k->type == SOCK_STREAM) {
		*rx = accept(b, NULL, NULL);
		if (*rx < 0)
			die("accept");
		close(b);
	} else {
		*rx = b;
	}
}

static void set_zerocopy(int fd, int on) {
	if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &on, sizeof on))
		die("setsockopt SO_ZEROCOPY");
}

/* closed_port_socket returns a socket of kind k with SO_ZEROCOPY and
 * IP_RECVERR (IPV6_RECVERR) on, connected to a loopback port nobody
 * listens on: each datagram it sends earns an ICMP port unreachable. */
static int closed_port_socket(const struct kind *k) {
	int b = bound_socket(k);
	int port = port_of(b);
	close(b);
	int u = connected_socket(k, port);
	set_zerocopy(u, 1);
	int one = 1;
	if (k->family == AF_INET)
		setsockopt(u, SOL_IP, IP_RECVERR, &one, sizeof one);
	else
		setsockopt(u, SOL_IPV6, IPV6_RECVERR, &one, sizeof one);
	return u;
}

/* Completion accounting: every id must be completed exactly once. */
#define MAX_IDS 4096
static unsigned char seen[MAX_IDS];
static int seen_dup, seen_out;

static void account(uint32_t lo, uint32_t hi) {
	for (uint64_t i = lo; i <= hi; i++) {
		if (i >= MAX_IDS) {
			seen_out++;
			continue;
		}
		if (seen[i]++)
			seen_dup++;
	}
}

/* reset_ids forgets every id seen, for a new socket. */
static void reset_ids(void) {
	memset(seen, 0, sizeof seen);
	seen_dup = seen_out = 0;
}

/* ids_check formats whether ids [0, n) were each completed exactly once. */
static const char *ids_check(uint32_t n) {
	static char buf[96];
	int missing = 0, extra = seen_out;
	for (uint32_t i = 0; i < MAX_IDS; i++) {
		if (i < n && !seen[i])
			missing++;
		if (i >= n && seen[i])
			extra++;
	}
	snprintf(buf, sizeof buf, "missing %d, duplicated %d, unexpected %d", missing, seen_dup, extra);
	return buf;
}

/* report_ids prints whether ids [0, n) were each completed exactly once. */
static void report_ids(const char *what, uint32_t n) {
	printf("%s: %u ids: %s\n", what, n, ids_check(n));
}

/* recv_err reads one error-queue message of fd. With print set it prints
 * every field; it returns the recvmsg result and accounts completions. */
static long recv_err(int fd, int print) {
	char data[256], ctl[256];
	struct sockaddr_storage name;
	struct iovec iov = {data, sizeof data};
	struct msghdr msg = {
		.msg_name = &name, .msg_namelen = sizeof name,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof ctl,
	};
	memset(&name, 0xaa, sizeof name);
	long r = recvmsg(fd, &msg, MSG_ERRQUEUE);
	if (r < 0) {
		if (print)
			printf("  errqueue: %s\n", errname(errno));
		return r;
	}
	if (print)
		printf("  errqueue: ret %ld flags 0x%x namelen %u controllen %zu\n", r,
		       msg.msg_flags, msg.msg_namelen, (size_t)msg.msg_controllen);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		struct sock_extended_err *ee = (void *)CMSG_DATA(c);
		if (print)
			printf("  cmsg len %zu level %d type %d errno %u origin %u type %u code %u info %u data %u\n",
			       (size_t)c->cmsg_len, c->cmsg_level, c->cmsg_type, ee->ee_errno,
			       ee->ee_origin, ee->ee_type, ee->ee_code, ee->ee_info, ee->ee_data);
		if (ee->ee_origin == SO_EE_ORIGIN_ZEROCOPY && ee->ee_errno == 0)
			account(ee->ee_info, ee->ee_data);
	}
	return r;
}

/* wait_err waits up to ms for POLLERR on fd and returns the revents. */
static int wait_err(int fd, int ms) {
	struct pollfd p = {.fd = fd, .events = 0};
	if (poll(&p, 1, ms) < 0)
		die("poll");
	return p.revents;
}

/* Guests wait for the events they depend on, never for a fixed time: poll
 * for the event, or check a condition every tick. EVENT_MS bounds each
 * wait, so that an event that never comes shows in the output instead of
 * hanging the guest. Once an expected event has not come (stock runsc
 * queues no completions), the runtime lacks the feature and later waits
 * for expected events are short (expect_ms). Waits for something that
 * must not happen (no POLLERR after a send that takes no id) are the only
 * other short timeouts. */
#define EVENT_MS 10000

static int missed;

/* expect_ms returns how long to wait for an expected event. */
static int expect_ms(void) {
	return missed ? 100 : EVENT_MS;
}

/* expected notes whether an expected event came, and returns came. */
static int expected(int came) {
	if (!came)
		missed = 1;
	return came;
}

/* await_err waits for POLLERR, expected on fd, and returns the revents. */
static int await_err(int fd) {
	int r = wait_err(fd, expect_ms());
	expected(r & POLLERR);
	return r;
}

static long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* tick pauses between two checks of a condition. */
static void tick(void) {
	nanosleep(&(struct timespec){0, 1000000}, NULL);
}

/* so_error returns and clears fd's pending socket error (SO_ERROR). */
static int so_error(int fd) {
	int e = 0;
	socklen_t l = sizeof e;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l))
		die("getsockopt SO_ERROR");
	return e;
}

/* await_sock_err waits until fd has a pending socket error, as the
 * arrival of an ICMP error sets one, and returns it, cleared; 0 if none
 * came. Unlike POLLERR it tells an arrival while other entries are queued. */
static int await_sock_err(int fd) {
	for (long end = now_ms() + expect_ms(); now_ms() < end; tick()) {
		int e = so_error(fd);
		if (e)
			return e;
	}
	expected(0);
	return 0;
}

/* sleeping reports whether thread tid of this process is asleep, blocked
 * in a call (state S in /proc/self/task/tid/stat). */
static int sleeping(int tid) {
	char path[64], stat[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = 0;
	char *p = strrchr(stat, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* await_sleeping waits until thread tid is asleep and reports whether it
 * was within EVENT_MS. */
static int await_sleeping(int tid) {
	for (long end = now_ms() + expect_ms(); now_ms() < end; tick())
		if (sleeping(tid))
			return 1;
	return expected(0);
}

/* await_ids reads fd's error queue, accounting completions without
 * printing them, until ids [lo, hi] have all been seen, and reports whether
 * they were. Completions that arrive apart may come in several entries:
 * callers print only the accounting. */
static int await_ids(int fd, uint32_t lo, uint32_t hi) {
	long end = now_ms() + expect_ms();
	for (;;) {
		uint32_t i = lo;
		while (i <= hi && i < MAX_IDS && seen[i])
			i++;
		if (i > hi)
			return 1;
		long left = end - now_ms();
		if (left <= 0)
			return expected(0);
		if (wait_err(fd, left) & POLLERR && recv_err(fd, 0) < 0)
			tick(); /* POLLERR for a socket error alone */
	}
}

/* zc_cmsg fills ctl with one SOL_SOCKET/SCM_ZC_NOTIFICATION cmsg with room
 * for n elements and size n, and returns its CMSG_SPACE. */
static size_t zc_cmsg(char *ctl, uint32_t n) {
	size_t dlen = sizeof(struct zc_info) + n * sizeof(struct zc_info_elem);
	struct cmsghdr *c = (struct cmsghdr *)ctl;
	memset(ctl, 0, CMSG_SPACE(dlen));
	c->cmsg_len = CMSG_LEN(dlen);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_ZC_NOTIFICATION;
	((struct zc_info *)CMSG_DATA(c))->size = n;
	return CMSG_SPACE(dlen);
}

/* print_zc prints (unless what is NULL) and accounts the zc_info that
 * sendmsg copied back. */
static void print_zc(const char *what, struct msghdr *msg) {
	struct cmsghdr *c = CMSG_FIRSTHDR(msg);
	if (!what) {
		if (c) {
			struct zc_info *zi = (struct zc_info *)CMSG_DATA(c);
			for (uint32_t i = 0; i < zi->size && i < ZC_NOTIFICATION_MAX; i++)
				account(zi->arr[i].lo, zi->arr[i].hi);
		}
		return;
	}
	printf("  %s: controllen %zu flags 0x%x", what, (size_t)msg->msg_controllen,
	       msg->msg_flags);
	if (!c) {
		printf(" no cmsg\n");
		return;
	}
	struct zc_info *zi = (struct zc_info *)CMSG_DATA(c);
	printf(" cmsg len %zu level %d type %d size %u", (size_t)c->cmsg_len,
	       c->cmsg_level, c->cmsg_type, zi->size);
	for (uint32_t i = 0; i < zi->size && i < ZC_NOTIFICATION_MAX; i++) {
		printf(" [%u,%u]%s", zi->arr[i].lo, zi->arr[i].hi,
		       zi->arr[i].zerocopy ? "zc" : "copied");
		account(zi->arr[i].lo, zi->arr[i].hi);
	}
	printf("\n");
}

/* require_zerocopy ends the program unless fd has SO_ZEROCOPY on: stock
 * gVisor accepts the option, ignores it and fails the get, and a program
 * that waits for completions there would wait for nothing. */
static void require_zerocopy(int fd) {
	int on = 0;
	socklen_t l = sizeof on;
	if (getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &on, &l) || !on) {
		printf("SO_ZEROCOPY is not on: %s\n", errname(errno));
		exit(1);
	}
}
