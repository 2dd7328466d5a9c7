// linuxabi probes this machine's kernel for the msghdr/cmsg ABI facts that
// package syscalls reproduces, and prints them as the golden file
// linux_<arch>.golden. Build it 64-bit and 32-bit (gcc -m32: the compat
// path); see gen.sh. Each line is "case key=value ...". Addresses differ
// from run to run and are never printed; bytes of guest buffers are printed
// in hex.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_CMSG_COMPAT
#define MSG_CMSG_COMPAT 0x80000000
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

static long pagesz;
// page is a scratch area of 4 pages: 0-1 read-write, 2 PROT_NONE, 3 read-only.
static unsigned char *page;
#define RW (page)
#define HOLE (page + 2 * pagesz)
#define RO (page + 3 * pagesz)

static void die(const char *what) {
	perror(what);
	exit(1);
}

static void hex(const char *key, const void *p, size_t n) {
	const unsigned char *b = p;
	printf(" %s=", key);
	if (n == 0)
		printf("-");
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static void result(const char *name, long ret) {
	printf("%s ret=%ld errno=%d", name, ret, ret < 0 ? errno : 0);
}

static void layouts(void) {
	printf("layout sizeof_long=%zu\n", sizeof(long));
	printf("layout msghdr size=%zu name=%zu namelen=%zu iov=%zu iovlen=%zu control=%zu controllen=%zu flags=%zu\n",
	       sizeof(struct msghdr), offsetof(struct msghdr, msg_name),
	       offsetof(struct msghdr, msg_namelen), offsetof(struct msghdr, msg_iov),
	       offsetof(struct msghdr, msg_iovlen), offsetof(struct msghdr, msg_control),
	       offsetof(struct msghdr, msg_controllen), offsetof(struct msghdr, msg_flags));
	printf("layout mmsghdr size=%zu len=%zu\n", sizeof(struct mmsghdr), offsetof(struct mmsghdr, msg_len));
	printf("layout iovec size=%zu len=%zu\n", sizeof(struct iovec), offsetof(struct iovec, iov_len));
	printf("layout cmsghdr size=%zu len=%zu level=%zu type=%zu\n", sizeof(struct cmsghdr),
	       offsetof(struct cmsghdr, cmsg_len), offsetof(struct cmsghdr, cmsg_level),
	       offsetof(struct cmsghdr, cmsg_type));
	printf("layout sock_extended_err size=%zu\n", sizeof(struct sock_extended_err));
	printf("layout sockaddr_in size=%zu\n", sizeof(struct sockaddr_in));
	printf("layout sockaddr_in6 size=%zu\n", sizeof(struct sockaddr_in6));
	for (int n = 0; n <= 44; n++)
		printf("cmsg n=%d len=%zu space=%zu\n", n, (size_t)CMSG_LEN(n), (size_t)CMSG_SPACE(n));
}

// udp_pair returns a UDP socket of family fam connected to a receiver bound
// to port (0: any).
static int udp_pair(int fam, int port, int *rx) {
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (fam == AF_INET) {
		struct sockaddr_in *s = (void *)&ss;
		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->sin_port = htons(port);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (void *)&ss;
		s->sin6_family = AF_INET6;
		s->sin6_addr = in6addr_loopback;
		s->sin6_port = htons(port);
		sl = sizeof(*s);
	}
	*rx = socket(fam, SOCK_DGRAM, 0);
	if (*rx < 0 || bind(*rx, (void *)&ss, sl) || getsockname(*rx, (void *)&ss, &sl))
		die("rx");
	int fd = socket(fam, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (void *)&ss, sl))
		die("tx");
	return fd;
}

// closedPort is a fixed port, so that the goldens do not change between
// runs; nothing may listen on it while the probe runs.
#define closedPort 47111

// closed_port returns a UDP socket connected to closedPort, which nobody
// listens on.
static int closed_port(int fam) {
	int rx;
	int fd = udp_pair(fam, closedPort, &rx);
	close(rx);
	return fd;
}

static void wait_err(int fd) {
	struct pollfd p = {.fd = fd};
	if (poll(&p, 1, 2000) != 1 || !(p.revents & POLLERR))
		die("no POLLERR");
}

// zc_next is the id of the next MSG_ZEROCOPY send, zc_seen the first id
// whose completion has not been received.
static unsigned zc_next, zc_seen;

// zc_send sends one MSG_ZEROCOPY datagram and waits for its completion.
static void zc_send(int fd) {
	char b = 'z';
	if (send(fd, &b, 1, MSG_ZEROCOPY) != 1)
		die("send zerocopy");
	zc_next++;
	wait_err(fd);
}

// An errq describes one recvmsg(MSG_ERRQUEUE) call. The in_* fields of the
// output line are its inputs; the test replays them.
struct errq {
	const char *ctl;  // msg_control: "rw", "null", "hole", "half" (20 bytes before a hole)
	size_t ctllen;    // msg_controllen
	size_t show;      // control bytes printed
	const char *name; // msg_name: "buf" (28 bytes of 0xaa), "null", "hole"
	int namelen;      // msg_namelen
	int datalen;      // one iovec of this length
	int iovlen;       // msg_iovlen (the iovec array has one entry)
	const char *hdr;  // where the msghdr is: "rw", "ro"
	int flags;        // recvmsg flags besides MSG_ERRQUEUE
};

static void errq_case(const char *name, int fd, int icmp, struct errq q) {
	unsigned char data[64];
	struct sockaddr_in6 nm;
	struct iovec iov = {.iov_base = data, .iov_len = q.datalen};
	struct msghdr *m = (struct msghdr *)(RW + pagesz);
	void *ctlp = NULL;
	if (!strcmp(q.ctl, "rw"))
		ctlp = RW;
	else if (!strcmp(q.ctl, "hole"))
		ctlp = HOLE;
	else if (!strcmp(q.ctl, "half"))
		ctlp = HOLE - 20;
	void *namep = NULL;
	if (!strcmp(q.name, "buf"))
		namep = &nm;
	else if (!strcmp(q.name, "hole"))
		namep = HOLE;
	if (!strcmp(q.hdr, "ro"))
		m = (struct msghdr *)RO;
	mprotect(RO, pagesz, PROT_READ | PROT_WRITE);
	memset(m, 0, sizeof(*m));
	memset(data, 0xaa, sizeof(data));
	memset(&nm, 0xaa, sizeof(nm));
	if (ctlp && ctlp != HOLE)
		memset(ctlp, 0xaa, q.show);
	m->msg_name = namep;
	m->msg_namelen = q.namelen;
	m->msg_iov = &iov;
	m->msg_iovlen = q.iovlen;
	m->msg_control = ctlp;
	m->msg_controllen = q.ctllen;
	m->msg_flags = 0x5a5a;
	if (!strcmp(q.hdr, "ro"))
		mprotect(RO, pagesz, PROT_READ);
	unsigned lo = zc_seen, hi = zc_next - 1;
	long r = recvmsg(fd, m, MSG_ERRQUEUE | q.flags);
	int e = errno;
	printf("%s in_ctl=%s in_ctllen=%zu in_show=%zu in_name=%s in_namelen=%d in_data=%d in_iovlen=%d in_hdr=%s in_flags=%#x",
	       name, q.ctl, q.ctllen, q.show, q.name, q.namelen, q.datalen, q.iovlen, q.hdr, q.flags);
	if (icmp)
		printf(" in_icmp=1");
	else
		printf(" in_lo=%u in_hi=%u", lo, hi);
	errno = e;
	printf(" ");
	result("out", r);
	printf(" flags=%#x controllen=%zu namelen=%d", m->msg_flags, (size_t)m->msg_controllen, (int)m->msg_namelen);
	hex("name", &nm, sizeof(nm));
	hex("data", data, q.datalen > 0 && r > 0 ? (size_t)r : 0);
	hex("ctl", ctlp && ctlp != HOLE ? ctlp : NULL, ctlp && ctlp != HOLE ? q.show : 0);
	printf("\n");
	mprotect(RO, pagesz, PROT_READ);
	// Linux removes the entry once it gets past the checks of the msghdr,
	// whatever happens after.
	if (!icmp && (r >= 0 || e == EFAULT))
		zc_seen = zc_next;
}

// recvmmsg_cases runs recvmmsg(MSG_ERRQUEUE) on fd, whose ICMP errors are
// all received, with three entries of which the second is sometimes bad.
static void recvmmsg_cases(const char *v, int fd) {
	struct mmsghdr *vec = (struct mmsghdr *)RW;
	static char bufs[3][8];
	static struct iovec iov[3];
	for (int bad = 0; bad < 3; bad++) {
		for (int i = 0; i < 2; i++) {
			// A send right after an ICMP error reports it (sk_err) and
			// sends nothing.
			while (send(fd, "hello", 5, 0) != 5)
				if (errno != ECONNREFUSED)
					die("send hello");
			wait_err(fd);
		}
		memset(vec, 0, 3 * sizeof(*vec));
		for (int i = 0; i < 3; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			vec[i].msg_hdr.msg_iov = &iov[i];
			vec[i].msg_hdr.msg_iovlen = 1;
			vec[i].msg_len = 0xdead;
		}
		const char *what = "ok";
		if (bad == 1) {
			vec[1].msg_hdr.msg_iovlen = 1025;
			what = "second_iovlen_1025";
		} else if (bad == 2) {
			vec[1].msg_hdr.msg_iov = (struct iovec *)HOLE;
			what = "second_iov_hole";
		}
		long r = recvmmsg(fd, vec, 3, MSG_ERRQUEUE, NULL);
		int e = errno, soerr = 0;
		socklen_t sl = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		errno = e;
		char name[64];
		snprintf(name, sizeof(name), "recvmmsg.%s.%s", v, what);
		result(name, r);
		printf(" len0=%u len1=%u len2=%u flags0=%#x so_error=%d\n", vec[0].msg_len, vec[1].msg_len, vec[2].msg_len,
		       vec[0].msg_hdr.msg_flags, soerr);
		// Drain what is left.
		while (recvmmsg(fd, vec, 1, MSG_ERRQUEUE, NULL) > 0)
			;
	}
	long r = recvmmsg(fd, vec, 1, MSG_ERRQUEUE | (int)MSG_CMSG_COMPAT, NULL);
	char name[64];
	snprintf(name, sizeof(name), "recvmmsg.%s.flag_cmsg_compat", v);
	result(name, r);
	printf("\n");
}

#define Q(...) ((struct errq){.ctl = "rw", .ctllen = 100, .show = 100, .name = "buf", .namelen = 28, \
			      .datalen = 8, .iovlen = 1, .hdr = "rw", __VA_ARGS__})

static void errqueue(int fam) {
	const char *v = fam == AF_INET ? "v4" : "v6";
	char name[64];
	int rx, one = 1;
	int fd = udp_pair(fam, 0, &rx);
	zc_next = zc_seen = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die("SO_ZEROCOPY");
	// Control buffer sizes around the 64-bit and compat cmsg lengths.
	static const int sizes[] = {0, 1, 11, 12, 15, 16, 20, 43, 44, 47, 48, 52, 55, 56, 59, 60, 63, 64, 100};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		zc_send(fd);
		snprintf(name, sizeof(name), "errq.%s.ctl%d", v, sizes[i]);
		errq_case(name, fd, 0, Q(.ctllen = sizes[i]));
	}
#define CASE(suffix, ...)                                                   \
	do {                                                                \
		snprintf(name, sizeof(name), "errq.%s." suffix, v);         \
		errq_case(name, fd, 0, Q(__VA_ARGS__));                     \
	} while (0)
	CASE("empty");
	zc_send(fd);
	CASE("nullctl", .ctl = "null", .show = 0);
	zc_send(fd);
	CASE("noname", .name = "null", .namelen = 99);
	zc_send(fd);
	CASE("namehole", .name = "hole");
	zc_send(fd);
	CASE("namelen0", .namelen = 0);
	zc_send(fd);
	CASE("flags", .flags = MSG_CMSG_CLOEXEC | MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_WAITALL);
	CASE("afterpeek");
	zc_send(fd);
	CASE("namelen_negative", .namelen = -1);
	CASE("iovlen_1025", .iovlen = 1025);
	CASE("iovlen_0", .iovlen = 0);
	zc_send(fd);
	CASE("holectl", .ctl = "hole", .show = 0);
	CASE("afterholectl");
	zc_send(fd);
	CASE("halfctl", .ctl = "half", .show = 20);
	zc_send(fd);
	CASE("rohdr", .hdr = "ro");
	CASE("afterrohdr");
	// Two sends whose completions coalesce into one entry.
	char b = 'z';
	send(fd, &b, 1, MSG_ZEROCOPY);
	zc_next++;
	zc_send(fd);
	CASE("coalesced");
	zc_send(fd);
	CASE("compatflag", .flags = (int)MSG_CMSG_COMPAT);
	close(fd);
	close(rx);

	// ICMP port-unreachable errors: offender, msg_name and payload.
	fd = closed_port(fam);
	if (fam == AF_INET)
		setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
	else
		setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	getpeername(fd, (void *)&peer, &pl);
	printf("errq.%s.icmp.port port=%d\n", v, ntohs(((struct sockaddr_in *)&peer)->sin_port));
	static const struct {
		const char *suffix;
		struct errq q;
	} icmp[] = {
		{"data2", Q(.datalen = 2)},
		{"data8", Q()},
		{"namelen4", Q(.namelen = 4)},
		{"namehole", Q(.name = "hole")},
		{"ctl20", Q(.ctllen = 20)},
	};
	for (size_t i = 0; i < sizeof(icmp) / sizeof(icmp[0]); i++) {
		if (send(fd, "hello", 5, 0) != 5)
			die("send hello");
		wait_err(fd);
		snprintf(name, sizeof(name), "errq.%s.icmp.%s", v, icmp[i].suffix);
		errq_case(name, fd, 1, icmp[i].q);
	}
	recvmmsg_cases(v, fd);
	close(fd);
}

// sendcase runs sendmsg on m with flags and prints the outcome.
static void sendcase(const char *name, int fd, struct msghdr *m, int flags) {
	long r = sendmsg(fd, m, flags);
	result(name, r);
	printf("\n");
}

static void sendmsg_errnos(void) {
	int rx;
	int fd = udp_pair(AF_INET, 0, &rx);
	struct sockaddr_in dst;
	socklen_t dl = sizeof(dst);
	getpeername(fd, (void *)&dst, &dl);
	char byte = 'x';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m0 = {.msg_iov = &iov, .msg_iovlen = 1};
	struct msghdr m;
	// Control buffer: RW page 0..1.
	unsigned char *ctl = RW;
	FILE *f = fopen("/proc/sys/net/core/optmem_max", "r");
	long optmem = 0;
	if (!f || fscanf(f, "%ld", &optmem) != 1)
		die("optmem_max");
	fclose(f);
	printf("sysctl optmem_max=%ld\n", optmem);
	unsigned char *big = mmap(NULL, optmem + pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big == MAP_FAILED)
		die("mmap big");
#define RESET() (m = m0, memset(ctl, 0, 2 * pagesz))
#define CM(off) ((struct cmsghdr *)(ctl + (off)))

	RESET();
	sendcase("send.ok", fd, &m, 0);
	sendcase("send.msghdr_hole", fd, (struct msghdr *)HOLE, 0);
	sendcase("send.msghdr_straddle", fd, (struct msghdr *)(HOLE - 8), 0);
	RESET();
	m.msg_name = &dst;
	m.msg_namelen = -1;
	sendcase("send.namelen_negative", fd, &m, 0);
	RESET();
	m.msg_namelen = -1;
	sendcase("send.namelen_negative_nullname", fd, &m, 0);
	RESET();
	memcpy(ctl, &dst, sizeof(dst));
	m.msg_name = ctl;
	m.msg_namelen = 200;
	sendcase("send.namelen_200", fd, &m, 0);
	RESET();
	memcpy(HOLE - sizeof(dst), &dst, sizeof(dst));
	m.msg_name = HOLE - sizeof(dst);
	m.msg_namelen = 200;
	sendcase("send.namelen_200_straddle", fd, &m, 0);
	RESET();
	m.msg_name = HOLE;
	m.msg_namelen = 16;
	m.msg_iovlen = 1025;
	sendcase("send.name_hole_before_iovlen", fd, &m, 0);
	RESET();
	m.msg_iovlen = 1025;
	sendcase("send.iovlen_1025", fd, &m, 0);
	RESET();
	memset(big, 0, 1024 * sizeof(struct iovec));
	m.msg_iov = (struct iovec *)big;
	m.msg_iovlen = 1024;
	sendcase("send.iovlen_1024_empty", fd, &m, 0);
	RESET();
	m.msg_iovlen = 0;
	sendcase("send.iovlen_0", fd, &m, 0);
	RESET();
	m.msg_iov = (struct iovec *)HOLE;
	sendcase("send.iov_hole", fd, &m, 0);
	RESET();
	m.msg_iov = (struct iovec *)HOLE;
	m.msg_iovlen = 0;
	sendcase("send.iov_hole_iovlen_0", fd, &m, 0);
	RESET();
	((struct iovec *)ctl)[0].iov_base = &byte;
	((struct iovec *)ctl)[0].iov_len = (size_t)-1;
	m.msg_iov = (struct iovec *)ctl;
	sendcase("send.iov_len_negative", fd, &m, 0);
	RESET();
	((struct iovec *)ctl)[0].iov_base = &byte;
	((struct iovec *)ctl)[0].iov_len = 1;
	((struct iovec *)ctl)[1].iov_base = &byte;
	((struct iovec *)ctl)[1].iov_len = (size_t)1 << (sizeof(size_t) * 8 - 1);
	m.msg_iov = (struct iovec *)ctl;
	m.msg_iovlen = 2;
	sendcase("send.iov_len_negative_second", fd, &m, 0);
	// The largest positive length: one iovec is truncated to MAX_RW_COUNT
	// before its range is checked, several after.
	for (int segs = 1; segs <= 2; segs++) {
		RESET();
		((struct iovec *)ctl)[0].iov_base = &byte;
		((struct iovec *)ctl)[0].iov_len = SSIZE_MAX;
		((struct iovec *)ctl)[1].iov_base = &byte;
		((struct iovec *)ctl)[1].iov_len = 1;
		m.msg_iov = (struct iovec *)ctl;
		m.msg_iovlen = segs;
		sendcase(segs == 1 ? "send.iov_len_max_segs1" : "send.iov_len_max_segs2", fd, &m, 0);
	}
	RESET();
	((struct iovec *)ctl)[0].iov_base = HOLE;
	((struct iovec *)ctl)[0].iov_len = 0;
	((struct iovec *)ctl)[1].iov_base = &byte;
	((struct iovec *)ctl)[1].iov_len = 1;
	m.msg_iov = (struct iovec *)ctl;
	m.msg_iovlen = 2;
	sendcase("send.iov_hole_len0", fd, &m, 0);
	RESET();
	((struct iovec *)ctl)[0].iov_base = HOLE;
	((struct iovec *)ctl)[0].iov_len = 1;
	m.msg_iov = (struct iovec *)ctl;
	sendcase("send.iov_base_hole", fd, &m, 0);
#if __SIZEOF_LONG__ == 8
	{
		static const unsigned long bases[] = {0x7fffffffefffUL, 0x7ffffffff000UL, 0x7ffffffff001UL,
						      0x800000000000UL, 0xffff800000000000UL};
		for (int segs = 1; segs <= 2; segs++)
			for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
				for (int l = 0; l <= 1; l++) {
					char nm[80];
					RESET();
					struct iovec *v = (struct iovec *)ctl;
					v[0].iov_base = (void *)bases[i];
					v[0].iov_len = l;
					v[1].iov_base = &byte;
					v[1].iov_len = 0;
					m.msg_iov = v;
					m.msg_iovlen = segs;
					snprintf(nm, sizeof(nm), "send.iov_base_%lx_len%d_segs%d", bases[i], l, segs);
					sendcase(nm, fd, &m, 0);
				}
	}
#endif
	RESET();
	m.msg_controllen = (size_t)INT_MAX + 1;
	m.msg_control = ctl;
	sendcase("send.controllen_intmax1", fd, &m, 0);
	RESET();
	m.msg_controllen = (size_t)INT_MAX + 1;
	m.msg_iovlen = 1025;
	sendcase("send.controllen_intmax1_iovlen_1025", fd, &m, 0);
	RESET();
	m.msg_controllen = 20;
	sendcase("send.control_null_20", fd, &m, 0);
	RESET();
	m.msg_controllen = 8;
	sendcase("send.control_null_8", fd, &m, 0);
	RESET();
	m.msg_control = HOLE;
	m.msg_controllen = 100;
	sendcase("send.control_hole_100", fd, &m, 0);
	RESET();
	m.msg_control = ctl;
	m.msg_controllen = 8;
	sendcase("send.controllen_8", fd, &m, 0);
	for (int len = 0; len <= 20; len++) {
		char nm[64];
		RESET();
		CM(0)->cmsg_len = len;
		CM(0)->cmsg_level = 1000;
		m.msg_control = ctl;
		m.msg_controllen = 16;
		snprintf(nm, sizeof(nm), "send.cmsg_len_%d_of_16", len);
		sendcase(nm, fd, &m, 0);
	}
	for (int tail = 0; tail <= 20; tail++) {
		char nm[64];
		RESET();
		CM(0)->cmsg_len = sizeof(struct cmsghdr);
		CM(0)->cmsg_level = 1000;
		memset(ctl + sizeof(struct cmsghdr), 0xff, tail);
		m.msg_control = ctl;
		m.msg_controllen = sizeof(struct cmsghdr) + tail;
		snprintf(nm, sizeof(nm), "send.trailing_%d", tail);
		sendcase(nm, fd, &m, 0);
	}
	for (int tail = 1; tail <= 4; tail++) {
		char nm[64];
		RESET();
		unsigned char *c = HOLE - sizeof(struct cmsghdr) - tail;
		((struct cmsghdr *)c)->cmsg_len = sizeof(struct cmsghdr);
		((struct cmsghdr *)c)->cmsg_level = 1000;
		((struct cmsghdr *)c)->cmsg_type = 0;
		m.msg_control = c;
		m.msg_controllen = sizeof(struct cmsghdr) + tail;
		snprintf(nm, sizeof(nm), "send.trailing_%d_before_hole", tail);
		sendcase(nm, fd, &m, 0);
	}
	// A header whose cmsg_len is readable but whose rest is not.
	RESET();
	{
		unsigned char *c = HOLE - 8;
		*(unsigned *)c = 16;
		m.msg_control = c;
		m.msg_controllen = 16;
		sendcase("send.cmsg_straddles_hole", fd, &m, 0);
	}
	// A cmsg whose length is not a multiple of the alignment, then another.
	RESET();
	CM(0)->cmsg_len = sizeof(struct cmsghdr) + 1;
	CM(0)->cmsg_level = 1000;
	CM(CMSG_SPACE(1))->cmsg_len = sizeof(struct cmsghdr);
	CM(CMSG_SPACE(1))->cmsg_level = 1000;
	m.msg_control = ctl;
	m.msg_controllen = CMSG_SPACE(1) + sizeof(struct cmsghdr);
	sendcase("send.two_cmsgs", fd, &m, 0);
	RESET();
	CM(0)->cmsg_len = sizeof(struct cmsghdr) + 1;
	CM(0)->cmsg_level = 1000;
	CM(CMSG_SPACE(1))->cmsg_len = sizeof(struct cmsghdr) + 1;
	CM(CMSG_SPACE(1))->cmsg_level = 1000;
	m.msg_control = ctl;
	m.msg_controllen = CMSG_SPACE(1) + sizeof(struct cmsghdr);
	sendcase("send.two_cmsgs_second_too_long", fd, &m, 0);
	// Control buffers around net.core.optmem_max, one cmsg filling each.
	for (long d = -12; d <= 4; d += 4) {
		char nm[64];
		RESET();
		memset(big, 0, optmem + pagesz);
		((struct cmsghdr *)big)->cmsg_len = optmem + d;
		((struct cmsghdr *)big)->cmsg_level = 1000;
		m.msg_control = big;
		m.msg_controllen = optmem + d;
		snprintf(nm, sizeof(nm), "send.controllen_optmem%+ld", d);
		sendcase(nm, fd, &m, 0);
	}
	for (int n = 36; n <= 40; n += 4) {
		char nm[64];
		RESET();
		m.msg_control = HOLE - n;
		m.msg_controllen = n + 1;
		snprintf(nm, sizeof(nm), "send.control_%d_then_hole", n);
		sendcase(nm, fd, &m, 0);
	}
	// SCM_ZC_NOTIFICATION (78) as the host sees it.
	RESET();
	CM(0)->cmsg_len = CMSG_LEN(4);
	CM(0)->cmsg_level = SOL_SOCKET;
	CM(0)->cmsg_type = 78;
	m.msg_control = ctl;
	m.msg_controllen = CMSG_SPACE(4);
	sendcase("send.scm_zc_notification_host", fd, &m, 0);
	RESET();
	sendcase("send.flag_cmsg_compat", fd, &m, (int)MSG_CMSG_COMPAT);
	close(fd);
	close(rx);
}

static void sendmmsg_cases(void) {
	int rx;
	int fd = udp_pair(AF_INET, 0, &rx);
	char byte = 'x';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct mmsghdr *v = (struct mmsghdr *)RW;
	for (int i = 0; i < 3; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].msg_hdr.msg_iov = &iov;
		v[i].msg_hdr.msg_iovlen = 1;
		v[i].msg_len = 0xdead;
	}
	long r = sendmmsg(fd, v, 3, 0);
	result("sendmmsg.ok3", r);
	printf(" len0=%u len2=%u\n", v[0].msg_len, v[2].msg_len);
	r = sendmmsg(fd, v, 0, 0);
	result("sendmmsg.vlen0", r);
	printf("\n");
	v[1].msg_hdr.msg_iovlen = 1025;
	v[1].msg_len = 0xdead;
	r = sendmmsg(fd, v, 3, 0);
	result("sendmmsg.second_bad", r);
	printf(" len1=%u\n", v[1].msg_len);
	r = sendmmsg(fd, &v[1], 2, 0);
	result("sendmmsg.first_bad", r);
	printf("\n");
	r = sendmmsg(fd, (struct mmsghdr *)HOLE, 1, 0);
	result("sendmmsg.hole", r);
	printf("\n");
	r = sendmmsg(fd, v, 1, (int)MSG_CMSG_COMPAT);
	result("sendmmsg.flag_cmsg_compat", r);
	printf("\n");
	// An entry in read-only memory: sent, but msg_len cannot be written.
	struct mmsghdr *ro = (struct mmsghdr *)(RO);
	mprotect(RO, pagesz, PROT_READ | PROT_WRITE);
	memset(ro, 0, sizeof(*ro));
	ro->msg_hdr.msg_iov = &iov;
	ro->msg_hdr.msg_iovlen = 1;
	mprotect(RO, pagesz, PROT_READ);
	r = sendmmsg(fd, ro, 1, 0);
	result("sendmmsg.readonly", r);
	printf("\n");
	close(fd);
	close(rx);
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	pagesz = sysconf(_SC_PAGESIZE);
	page = mmap(NULL, 4 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die("mmap");
	if (mprotect(HOLE, pagesz, PROT_NONE) || mprotect(RO, pagesz, PROT_READ))
		die("mprotect");
	layouts();
	sendmsg_errnos();
	sendmmsg_cases();
	errqueue(AF_INET);
	errqueue(AF_INET6);
	return 0;
}
