/* A guest to checkpoint and restore (checkpoint_test.go). It sets up its
 * sockets and state, prints "ready" and waits for SIGUSR1; the test
 * checkpoints it there, restores it into a new container and sends
 * SIGUSR1 to the restored one, which carries on and prints what it finds.
 * The guest waits for the signal, and for its own threads to be asleep in
 * a send (checked every tick, see zc.h).
 *
 *   ckpt zc       a loopback TCP pair and a UDP socket with SO_ZEROCOPY and
 *                 IP_RECVERR, hundreds of completions and ICMP errors left
 *                 in their error queues at the checkpoint, and one ICMP
 *                 error in netstack's own queue; after it, more
 *                 sends, and everything drained (TCP by SCM_ZC_NOTIFICATION
 *                 copy-back and MSG_ERRQUEUE, UDP by MSG_ERRQUEUE): every id
 *                 exactly once, the counter continuing, bytes intact.
 *   ckpt plain    the same sockets and sends without zerocopy, for stock
 *                 runsc and runsc-zc side by side.
 *   ckpt blocked  checkpointed while thread A is blocked in a MSG_ZEROCOPY
 *                 send to a peer that does not read and thread B blocked in
 *                 another behind it: after the restore, B's send ends with
 *                 SIGALRM and A's finishes; every id once and dense, every
 *                 byte once.
 *   ckpt blocked-plain  the same without zerocopy. */
#include "zc.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>

static int zc;

/* wait_signal waits for the test's SIGUSR1, blocked since main began. */
static void wait_signal(void) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (sigwaitinfo(&set, NULL) < 0)
		if (errno != EINTR)
			die("sigwaitinfo");
}

static void ready(void) {
	printf("ready\n");
	fflush(stdout);
	wait_signal();
}

/* pattern is byte off of the TCP stream: no byte is where another would
 * be, within a period longer than the stream. */
static unsigned char pattern(size_t off) {
	return (unsigned char)(off * 131 + (off >> 8) * 7);
}

#define TCP_SIZE 256
#define TCP_BEFORE 300
#define TCP_AFTER 100
/* Rounds of UDP_PEER datagrams to the receiver and one to a closed port,
 * and one datagram more to the closed port before the checkpoint. gVisor
 * rate-limits ICMP errors (50 at once, then 1000 a second; Linux exempts
 * loopback): the 49 ICMP errors stay within the 50. */
#define UDP_BEFORE 40
#define UDP_AFTER 8
#define UDP_PEER 4
#define UDP_SIZE 64

static size_t tcp_off;
static char ctl[CMSG_SPACE(sizeof(struct zc_info) + ZC_NOTIFICATION_MAX * sizeof(struct zc_info_elem))];

/* tcp_send sends the next TCP_SIZE bytes of the stream, with MSG_ZEROCOPY
 * in zc mode, and with an SCM_ZC_NOTIFICATION for 16 completions if notify
 * is set, whose copy-back it accounts (and prints, if what is set). */
static void tcp_send(int fd, int notify, const char *what) {
	char b[TCP_SIZE];
	for (int i = 0; i < TCP_SIZE; i++)
		b[i] = pattern(tcp_off + i);
	struct iovec iov = {b, sizeof b};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (notify) {
		msg.msg_control = ctl;
		msg.msg_controllen = zc_cmsg(ctl, ZC_NOTIFICATION_MAX);
	}
	long r = sendmsg(fd, &msg, zc ? MSG_ZEROCOPY : 0);
	if (r != TCP_SIZE)
		die("tcp sendmsg");
	tcp_off += TCP_SIZE;
	if (notify)
		print_zc(what, &msg);
}

/* udp_send sends b to port, or to the socket's peer for port 0, with
 * flags, again while a pending ICMP error (the socket error an earlier
 * datagram earned) fails it before it sends: Linux and gVisor report that
 * error to the next send. */
static void udp_send(int fd, const void *b, size_t len, int port, int flags) {
	struct sockaddr_storage ss;
	socklen_t l = port ? loopback(AF_INET, port, &ss) : 0;
	while (sendto(fd, b, len, flags, port ? (struct sockaddr *)&ss : NULL, l) != (long)len)
		if (errno != ECONNREFUSED)
			die("udp sendto");
}

/* udp_round sends UDP_PEER datagrams to the receiver, numbered from
 * UDP_PEER * round, then one to the socket's peer, a closed port, which
 * earns an ICMP port unreachable (gVisor reports those on connected sockets
 * only). */
static void udp_round(int u, int rport, uint32_t round) {
	char d[UDP_SIZE];
	memset(d, 0, sizeof d);
	for (uint32_t i = 0; i < UDP_PEER; i++) {
		uint32_t seq = round * UDP_PEER + i;
		memcpy(d, &seq, sizeof seq);
		udp_send(u, d, sizeof d, rport, zc ? MSG_ZEROCOPY : 0);
	}
	udp_send(u, d, sizeof d, 0, zc ? MSG_ZEROCOPY : 0);
}

/* udp_errqueue drains u's error queue by MSG_ERRQUEUE and prints what it
 * held, in order and run-length encoded: a completion range for each round
 * ("range", UDP_PEER + 1 ids), followed by the ICMP error of its last
 * datagram ("error"). */
static void udp_errqueue(int u) {
	static char order[1024];
	int n = 0, ranges = 0, icmp = 0, other = 0;
	for (;;) {
		char data[256], c[256];
		struct iovec iov = {data, sizeof data};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c, .msg_controllen = sizeof c};
		if (recvmsg(u, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno != EAGAIN)
				die("recvmsg MSG_ERRQUEUE");
			break;
		}
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		struct sock_extended_err *ee = cm ? (void *)CMSG_DATA(cm) : NULL;
		char tok = 'o';
		if (ee && ee->ee_origin == SO_EE_ORIGIN_ZEROCOPY) {
			account(ee->ee_info, ee->ee_data);
			tok = ee->ee_data - ee->ee_info == UDP_PEER ? 'R' : 'r';
			ranges++;
		} else if (ee && ee->ee_origin == SO_EE_ORIGIN_ICMP && ee->ee_errno == ECONNREFUSED) {
			tok = 'E';
			icmp++;
		} else {
			other++;
		}
		if (n < (int)sizeof order)
			order[n++] = tok;
	}
	printf("udp errqueue: %d completion ranges, %d icmp errors, %d other:", ranges, icmp, other);
	/* Units are a range followed by its error, or one entry alone;
	 * repeated units are counted. */
	const char *sep = " ";
	for (int i = 0; i < n;) {
		int w = i + 1 < n && order[i] == 'R' && order[i + 1] == 'E' ? 2 : 1, k = 1;
		while (i + (k + 1) * w <= n && !memcmp(order + i, order + i + k * w, w))
			k++;
		const char *name = w == 2 ? "(range, error)" : order[i] == 'R' ? "range" :
		                   order[i] == 'r' ? "other range" : order[i] == 'E' ? "error" : "other";
		if (k > 1)
			printf("%s%d x %s", sep, k, name);
		else
			printf("%s%s", sep, name);
		sep = ", ";
		i += k * w;
	}
	printf("\n");
}

/* readiness prints POLLERR (poll) and EPOLLERR (epoll) of fd. */
static void readiness(const char *what, int fd, int ep) {
	struct pollfd p = {.fd = fd};
	if (poll(&p, 1, 0) < 0)
		die("poll");
	struct epoll_event evs[4];
	int n = epoll_wait(ep, evs, 4, 0), epollerr = 0;
	if (n < 0)
		die("epoll_wait");
	for (int i = 0; i < n; i++)
		if (evs[i].data.fd == fd && (evs[i].events & EPOLLERR))
			epollerr = 1;
	printf("%s: POLLERR %s EPOLLERR %s\n", what, (p.revents & POLLERR) ? "yes" : "no",
	       epollerr ? "yes" : "no");
}

static void sockets(void) {
	const struct kind *k = kind_of("tcp4");
	int tx, rx;
	pair(k, &tx, &rx);
	int u = bound_socket(kind_of("udp4"));
	int r = bound_socket(kind_of("udp4"));
	int big = 1 << 20;
	if (setsockopt(r, SOL_SOCKET, SO_RCVBUF, &big, sizeof big))
		die("SO_RCVBUF");
	int c = bound_socket(kind_of("udp4"));
	int rport = port_of(r);
	struct sockaddr_storage ss;
	socklen_t l = loopback(AF_INET, port_of(c), &ss);
	close(c);
	if (connect(u, (struct sockaddr *)&ss, l))
		die("connect");
	int one = 1;
	if (setsockopt(u, SOL_IP, IP_RECVERR, &one, sizeof one))
		die("IP_RECVERR");
	if (zc) {
		set_zerocopy(tx, 1);
		set_zerocopy(u, 1);
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLERR, .data.fd = tx};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tx, &ev))
		die("epoll_ctl");
	ev.data.fd = u;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev))
		die("epoll_ctl");

	for (int i = 0; i < TCP_BEFORE; i++)
		tcp_send(tx, 0, NULL);
	for (uint32_t i = 0; i < UDP_BEFORE; i++)
		udp_round(u, rport, i);
	/* A send without MSG_ZEROCOPY moves no error into our queue: its ICMP
	 * error is still in netstack's own queue at the checkpoint. */
	char d[UDP_SIZE] = {0};
	udp_send(u, d, sizeof d, 0, 0);
	ready();

	if (zc) {
		int v[2] = {0, 0};
		socklen_t l = sizeof v[0];
		getsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, &v[0], &l);
		getsockopt(u, SOL_SOCKET, SO_ZEROCOPY, &v[1], &l);
		printf("SO_ZEROCOPY after restore: tcp %d udp %d\n", v[0], v[1]);
	}
	readiness("tcp", tx, ep);
	readiness("udp", u, ep);

	/* TCP: every send after the restore takes the completions queued
	 * before it back by SCM_ZC_NOTIFICATION; the first one takes all
	 * those of before the checkpoint. The last send's stays queued. */
	reset_ids();
	for (int i = 0; i < TCP_AFTER; i++)
		tcp_send(tx, zc, i == 0 ? "first send after restore" : NULL);
	while (zc && recv_err(tx, 0) >= 0)
		;
	if (zc)
		report_ids("tcp", TCP_BEFORE + TCP_AFTER);

	reset_ids();
	for (uint32_t i = UDP_BEFORE; i < UDP_BEFORE + UDP_AFTER; i++)
		udp_round(u, rport, i);
	udp_errqueue(u);
	if (zc)
		report_ids("udp", (UDP_PEER + 1) * (UDP_BEFORE + UDP_AFTER));

	size_t got = 0, bad = 0;
	while (got < tcp_off) {
		unsigned char b[65536];
		long n = read(rx, b, sizeof b);
		if (n <= 0)
			die("tcp read");
		for (long i = 0; i < n; i++)
			bad += b[i] != pattern(got + i);
		got += n;
	}
	printf("tcp: %zu bytes received, %zu wrong\n", got, bad);

	uint32_t want = 0, badseq = 0;
	for (;;) {
		char d[UDP_SIZE + 1];
		long n = recv(r, d, sizeof d, MSG_DONTWAIT);
		if (n < 0)
			break;
		uint32_t seq;
		memcpy(&seq, d, sizeof seq);
		badseq += n != UDP_SIZE || seq != want;
		want++;
	}
	printf("udp: %u datagrams received, %u out of order or wrong\n", want, badseq);
}

/* Each send is larger than the peer's receive buffer and the send buffer
 * together (1 MiB each by default): neither can finish while the peer
 * does not read. */
#define A_SIZE (8 << 20)
#define B_SIZE (4 << 20)

/* A sender sends its whole buffer with MSG_ZEROCOPY, again after a partial
 * send, as a program does: a checkpoint ends a send blocked part-way with
 * the count it sent. B stops at its first send that SIGALRM interrupts. */
struct sender {
	pthread_t th;
	int fd;
	char fill;
	size_t len;
	int stoppable;
	atomic_int tid, done;
	long calls, sent, err;
};

static atomic_int alarmed;

static void on_alarm(int sig) {
	(void)sig;
	atomic_store(&alarmed, 1);
}

static void *send_all(void *arg) {
	struct sender *s = arg;
	char *b = malloc(s->len);
	memset(b, s->fill, s->len);
	atomic_store(&s->tid, gettid());
	while (s->sent < (long)s->len && !(s->stoppable && atomic_load(&alarmed))) {
		long r = send(s->fd, b + s->sent, s->len - s->sent, (zc ? MSG_ZEROCOPY : 0) | MSG_NOSIGNAL);
		if (r < 0) {
			s->err = errno;
			break;
		}
		s->calls++;
		s->sent += r;
	}
	atomic_store(&s->done, 1);
	return NULL;
}

/* asleep reports whether s's thread is asleep in its send. */
static int asleep(struct sender *s) {
	int tid = atomic_load(&s->tid);
	return tid && !atomic_load(&s->done) && sleeping(tid);
}

/* start starts s and waits until it is asleep in its send, or has
 * returned (or EVENT_MS passed). */
static void start(struct sender *s, int fd, char fill, size_t len, int stoppable) {
	memset(s, 0, sizeof *s);
	s->fd = fd;
	s->fill = fill;
	s->len = len;
	s->stoppable = stoppable;
	if (pthread_create(&s->th, NULL, send_all, s))
		die("pthread_create");
	for (long end = now_ms() + EVENT_MS; !asleep(s) && !atomic_load(&s->done) && now_ms() < end;)
		tick();
}

/* blocked checkpoints with A and B asleep in their sends. After the
 * restore, SIGALRM (without SA_RESTART) ends B's send, with EINTR if the
 * checkpoint left it to be restarted, or with its count, before the peer
 * reads: gVisor, stock runsc too, can leave one of two threads blocked in
 * send on one TCP socket asleep for good once the peer drains it (a lost
 * wake-up, without any checkpoint). A's send then finishes. */
static void blocked(void) {
	struct sigaction sa = {.sa_handler = on_alarm};
	if (sigaction(SIGALRM, &sa, NULL))
		die("sigaction");
	int tx, rx;
	pair(kind_of("tcp4"), &tx, &rx);
	if (zc)
		set_zerocopy(tx, 1);

	struct sender a, b;
	start(&a, tx, 'A', A_SIZE, 0);
	start(&b, tx, 'B', B_SIZE, 1);
	/* A wakes each time the peer's ACKs free room, until the peer's
	 * buffer is full: then both sleep for good. */
	for (long end = now_ms() + EVENT_MS; !(asleep(&a) && asleep(&b)) && !atomic_load(&a.done) &&
	                                     !atomic_load(&b.done) && now_ms() < end;)
		tick();
	printf("A and B blocked in send: %s\n", asleep(&a) && asleep(&b) ? "yes" : "no");
	ready();

	pthread_kill(b.th, SIGALRM);
	pthread_join(b.th, NULL);
	printf("B ended by SIGALRM: %s\n",
	       (b.err == EINTR || (!b.err && b.sent < B_SIZE)) ? "yes" : "no");
	size_t got = 0, na = 0, nb = 0;
	while (got < A_SIZE + (size_t)b.sent) {
		char buf[65536];
		long n = read(rx, buf, sizeof buf);
		if (n <= 0)
			die("read");
		for (long i = 0; i < n; i++) {
			na += buf[i] == 'A';
			nb += buf[i] == 'B';
		}
		got += n;
	}
	pthread_join(a.th, NULL);
	/* Vary with where the checkpoint caught each send. */
	fprintf(stderr, "A: %ld calls; B: %ld calls, %ld bytes, %s\n", a.calls, b.calls, b.sent, errname(b.err));
	printf("A sent %ld (%s)\n", a.sent, errname(a.err));
	printf("received: all of A %s, all B sent %s, nothing else %s\n", na == A_SIZE ? "yes" : "no",
	       nb == (size_t)b.sent ? "yes" : "no", got == na + nb ? "yes" : "no");
	if (!zc)
		return;
	reset_ids();
	while (recv_err(tx, 0) >= 0)
		;
	report_ids("ids of the sends that returned a count", a.calls + b.calls);
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: ckpt zc|plain|blocked|blocked-plain\n");
		return 2;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask");
	zc = !strcmp(argv[1], "zc") || !strcmp(argv[1], "blocked");
	if (!strncmp(argv[1], "blocked", 7))
		blocked();
	else
		sockets();
	printf("done\n");
	return 0;
}
