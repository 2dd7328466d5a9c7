// zcgen: the guest traffic generator of zcbench. It has the semantics of the
// Linux selftest tools/testing/selftests/net/msg_zerocopy.c as the
// SCM_ZC_NOTIFICATION series extends it: a receiver and a sender; the sender
// sends in copy mode, MSG_ZEROCOPY with completions read from the error queue
// every LIMIT sends ("errqueue"), or MSG_ZEROCOPY with an SCM_ZC_NOTIFICATION
// control message attached to the send once LIMIT sends are outstanding
// ("cmsg"). Like the selftest it polls for POLLOUT after every send.
//
// It checks that every completion arrives exactly once (count, sum and sum of
// squares of the ids) and prints one line of key=value fields. It exits 0
// when the sender ran and accounted for every completion, or when the first
// zerocopy call failed (error=: the runtime has no such feature, e.g.
// EINVAL for MSG_ZEROCOPY, EOPNOTSUPP for SO_ZEROCOPY), and 1 on any other
// failure.
//
//   zcgen rx   -4|-6 -t tcp|udp [-p PORT] [-d SECONDS] [-C CPU]
//   zcgen tx   -4|-6 -t tcp|udp -p PORT -m copy|errqueue|cmsg [-l LIMIT]
//              [-s PAYLOAD] [-d SECONDS] [-C CPU]
//   zcgen pair (tx's options but -p) [-R RXCPU]
//
// The receiver binds PORT, by default 0 (an ephemeral port, as sandboxes
// with --network=host share the host's ports), and prints "ready PORT".
// pair forks a receiver, waits until it is ready, runs the sender against its
// port and prints both lines: one process tree, so that one sandbox holds the
// whole test.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
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
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif
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

#define ZC_INFO_SIZE (sizeof(struct zc_info) + ZC_NOTIFICATION_MAX * sizeof(struct zc_info_elem))

enum mode { MODE_COPY, MODE_ERRQUEUE, MODE_CMSG };

static int cfg_family = AF_INET;
static int cfg_type = SOCK_STREAM;
static int cfg_port;
static enum mode cfg_mode = MODE_COPY;
static int cfg_limit = 32;
static int cfg_payload;
static int cfg_seconds = 2;
static int cfg_cpu = -1;
static int cfg_rx_cpu = -1;

// Sender accounting. polls_busy counts the polls that returned without
// POLLOUT (POLLERR alone, or the timeout): the selftest's loop polls again
// at once, so they are the polls a sender spins in.
static uint64_t sends, bytes, syscalls, expected, completions, notifications, copied;
static uint64_t polls, polls_busy, errqueue_reads;
static uint64_t id_sum, id_sqsum; // of completed ids, mod 2^64
static uint32_t outstanding;      // sends since the last notification read
static int fail_errno;

// Set by SIGUSR1: pair's sender is done, the receiver reports.
static volatile sig_atomic_t rx_stop;

static void on_stop(int sig)
{
	(void)sig;
	rx_stop = 1;
}

static double now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

// cpu_seconds is the CPU time of this process: on Linux what it ran, in a
// gVisor sandbox its tasks' time in the application and in the sentry.
static double cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "zcgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static socklen_t make_addr(struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (cfg_family == AF_INET) {
		struct sockaddr_in *sin = (void *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(cfg_port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (void *)ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(cfg_port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

static void pin(void)
{
	if (cfg_cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cfg_cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static void complete(uint32_t lo, uint32_t hi, int zc)
{
	for (uint32_t id = lo;; id++) {
		id_sum += id;
		id_sqsum += (uint64_t)id * id;
		completions++;
		if (id == hi)
			break;
	}
	notifications++;
	if (!zc)
		copied += hi - lo + 1;
	outstanding -= hi - lo + 1;
}

// read_errqueue reads one error-queue message; 0 when the queue is empty.
static int read_errqueue(int fd)
{
	char control[128];
	struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof(control)};

	syscalls++;
	errqueue_reads++;
	if (recvmsg(fd, &msg, MSG_ERRQUEUE) < 0) {
		if (errno == EAGAIN)
			return 0;
		die("recvmsg(MSG_ERRQUEUE)");
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		struct sock_extended_err *ee = (void *)CMSG_DATA(cm);
		if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno != 0) {
			fprintf(stderr, "zcgen: unexpected error-queue entry: origin %u errno %u\n",
				ee->ee_origin, ee->ee_errno);
			exit(1);
		}
		complete(ee->ee_info, ee->ee_data, !(ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED));
	}
	return 1;
}

static void drain_errqueue(int fd)
{
	while (read_errqueue(fd))
		;
	outstanding = 0;
}

// read_zc_info accounts for the completions a send returned in its zc_info.
static void read_zc_info(struct msghdr *msg)
{
	struct cmsghdr *cm = CMSG_FIRSTHDR(msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_ZC_NOTIFICATION) {
		fprintf(stderr, "zcgen: send returned no zc_info (controllen %zu)\n",
			(size_t)msg->msg_controllen);
		exit(1);
	}
	struct zc_info *zi = (void *)CMSG_DATA(cm);
	for (uint32_t i = 0; i < zi->size; i++)
		complete(zi->arr[i].lo, zi->arr[i].hi, zi->arr[i].zerocopy);
}

// do_send sends one payload (len may be 0 for a fetch) and accounts for it.
// It returns 0 on success, or the errno.
static int do_send(int fd, char *buf, size_t len, int with_cmsg)
{
	static char control[CMSG_SPACE(ZC_INFO_SIZE)];
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int flags = cfg_mode == MODE_COPY ? 0 : MSG_ZEROCOPY;

	if (with_cmsg) {
		memset(control, 0, sizeof(control));
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_len = CMSG_LEN(ZC_INFO_SIZE);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_ZC_NOTIFICATION;
		((struct zc_info *)CMSG_DATA(cm))->size = ZC_NOTIFICATION_MAX;
	}
	syscalls++;
	ssize_t n = sendmsg(fd, &msg, flags);
	if (n < 0)
		return errno;
	if (len > 0) {
		sends++;
		bytes += n;
		if (flags) {
			expected++;
			outstanding++;
		}
	}
	if (with_cmsg)
		read_zc_info(&msg);
	return 0;
}

static void wait_writable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	for (;;) {
		syscalls++;
		polls++;
		if (poll(&pfd, 1, 1000) < 0)
			die("poll");
		if (pfd.revents & POLLOUT)
			return;
		polls_busy++;
		if (cfg_mode == MODE_ERRQUEUE)
			drain_errqueue(fd);
	}
}

// finish collects the completions still outstanding, for up to 2 seconds.
static void finish(int fd)
{
	double deadline = now() + 2;
	while (completions < expected && now() < deadline) {
		if (cfg_mode == MODE_CMSG) {
			// The one-call fetch: an empty send with the cmsg.
			int err = do_send(fd, NULL, 0, 1);
			if (err)
				errno = err, die("sendmsg(SCM_ZC_NOTIFICATION)");
		} else {
			struct pollfd pfd = {.fd = fd, .events = 0};
			syscalls++;
			poll(&pfd, 1, 100);
			drain_errqueue(fd);
		}
	}
}

static int do_tx(void)
{
	struct sockaddr_storage ss;
	socklen_t alen = make_addr(&ss);
	int fd = socket(cfg_family, cfg_type, 0);
	if (fd < 0)
		die("socket");
	// A runtime without SO_ZEROCOPY (EOPNOTSUPP) gives the cell its
	// result; the sender still connects, so that a TCP receiver sees its
	// peer come and go.
	if (cfg_mode != MODE_COPY) {
		int one = 1;
		if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
			fail_errno = errno;
	}
	if (connect(fd, (void *)&ss, alen))
		die("connect");
	char *buf = calloc(1, cfg_payload);
	if (!buf)
		die("calloc");
	for (int i = 0; i < cfg_payload; i++)
		buf[i] = 'a' + i % 26;

	double start = now(), stop = start + cfg_seconds;
	while (!fail_errno && now() < stop) {
		int with_cmsg = cfg_mode == MODE_CMSG && outstanding + 1 >= (uint32_t)cfg_limit;
		int err = do_send(fd, buf, cfg_payload, with_cmsg);
		if (err) {
			// ECONNREFUSED on UDP (the receiver is late or gone) and
			// ENOBUFS are transient; anything else ends the run.
			if (err == ECONNREFUSED || err == ENOBUFS || err == EAGAIN)
				continue;
			fail_errno = err;
			break;
		}
		if (cfg_mode == MODE_ERRQUEUE && outstanding >= (uint32_t)cfg_limit)
			drain_errqueue(fd);
		wait_writable(fd);
	}
	double elapsed = now() - start;
	if (!fail_errno)
		finish(fd);

	// The ids 0..expected-1 each exactly once.
	uint64_t want_sum = 0, want_sqsum = 0;
	for (uint64_t id = 0; id < expected; id++) {
		want_sum += (uint32_t)id;
		want_sqsum += (uint64_t)(uint32_t)id * (uint32_t)id;
	}
	int ok = !fail_errno && completions == expected && id_sum == want_sum && id_sqsum == want_sqsum;
	printf("role=tx proto=%s family=%d mode=%s limit=%d payload=%d seconds=%.3f sends=%llu "
	       "bytes=%llu mb_per_s=%.1f expected=%llu completions=%llu notifications=%llu copied=%llu "
	       "syscalls=%llu syscalls_per_send=%.3f polls=%llu polls_busy=%llu errqueue_reads=%llu "
	       "cpu_s=%.3f ok=%d error=%s\n",
	       cfg_type == SOCK_STREAM ? "tcp" : "udp", cfg_family == AF_INET ? 4 : 6,
	       cfg_mode == MODE_COPY ? "copy" : cfg_mode == MODE_ERRQUEUE ? "errqueue" : "cmsg",
	       cfg_limit, cfg_payload, elapsed, (unsigned long long)sends,
	       (unsigned long long)bytes, bytes / elapsed / 1e6, (unsigned long long)expected,
	       (unsigned long long)completions, (unsigned long long)notifications,
	       (unsigned long long)copied, (unsigned long long)syscalls,
	       sends ? (double)syscalls / sends : 0.0, (unsigned long long)polls,
	       (unsigned long long)polls_busy, (unsigned long long)errqueue_reads, cpu_seconds(), ok,
	       fail_errno ? strerrorname_np(fail_errno) : "");
	close(fd);
	return ok || (fail_errno && !sends) ? 0 : 1;
}

static int do_rx(void)
{
	struct sockaddr_storage ss;
	socklen_t alen = make_addr(&ss);
	int fd = socket(cfg_family, cfg_type, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&ss, alen))
		die("bind");
	if (getsockname(fd, (void *)&ss, &alen))
		die("getsockname");
	int port = ntohs(cfg_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (cfg_type == SOCK_STREAM) {
		if (listen(fd, 1))
			die("listen");
		// Tell a waiting parent that we listen, then serve one sender.
		printf("ready %d\n", port);
		fflush(stdout);
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			die("accept");
		close(fd);
		fd = c;
	} else {
		printf("ready %d\n", port);
		fflush(stdout);
	}
	static char buf[1 << 16];
	uint64_t rbytes = 0, reads = 0;
	double begin = now(), start = 0, last = 0;
	// UDP has no end of stream: stop after a second of silence once data
	// flowed, or if nothing arrives for the run's length plus 10 seconds.
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n = rx_stop ? -1 : recv(fd, buf, sizeof(buf), 0);
		if (rx_stop)
			break;
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (start ? cfg_type == SOCK_DGRAM : now() - begin > cfg_seconds + 10)
				break;
			continue;
		}
		if (n < 0)
			die("recv");
		if (n == 0 && cfg_type == SOCK_STREAM)
			break;
		if (!start)
			start = now();
		last = now();
		rbytes += n;
		reads++;
	}
	double elapsed = last > start ? last - start : 0;
	printf("role=rx proto=%s family=%d bytes=%llu reads=%llu mb_per_s=%.1f cpu_s=%.3f\n",
	       cfg_type == SOCK_STREAM ? "tcp" : "udp", cfg_family == AF_INET ? 4 : 6,
	       (unsigned long long)rbytes, (unsigned long long)reads,
	       elapsed > 0 ? rbytes / elapsed / 1e6 : 0.0, cpu_seconds());
	return 0;
}

// do_pair runs a receiver in a child process and the sender in this one.
static int do_pair(void)
{
	int p[2];
	if (pipe(p))
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], STDOUT_FILENO) < 0)
			die("dup2");
		close(p[1]);
		struct sigaction sa = {.sa_handler = on_stop}; // no SA_RESTART: recv returns EINTR
		sigaction(SIGUSR1, &sa, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL); // a sender that dies takes it along
		cfg_cpu = cfg_rx_cpu;
		pin();
		setvbuf(stdout, NULL, _IOLBF, 0);
		exit(do_rx());
	}
	close(p[1]);
	FILE *rx = fdopen(p[0], "r");
	char line[512];
	if (!rx || !fgets(line, sizeof(line), rx) || sscanf(line, "ready %d", &cfg_port) != 1) {
		fprintf(stderr, "zcgen: the receiver did not start\n");
		return 1;
	}
	pin();
	int ret = do_tx();
	// TCP's receiver reads to the end of the stream; UDP's gets a moment
	// for datagrams in flight, then the signal.
	if (cfg_type == SOCK_DGRAM) {
		usleep(100000);
		kill(pid, SIGUSR1);
	}
	while (fgets(line, sizeof(line), rx))
		fputs(line, stdout);
	int status;
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ret = 1;
	return ret;
}

static void usage(void)
{
	fprintf(stderr, "usage: zcgen rx|tx|pair -4|-6 -t tcp|udp [-p PORT] [-m copy|errqueue|cmsg] "
			"[-l LIMIT] [-s PAYLOAD] [-d SECONDS] [-C CPU] [-R RXCPU]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *role = argv[1];
	if (strcmp(role, "tx") && strcmp(role, "rx") && strcmp(role, "pair"))
		usage();
	int c;
	optind = 2;
	while ((c = getopt(argc, argv, "46t:p:m:l:s:d:C:R:")) != -1) {
		switch (c) {
		case '4': cfg_family = AF_INET; break;
		case '6': cfg_family = AF_INET6; break;
		case 't':
			if (!strcmp(optarg, "tcp")) cfg_type = SOCK_STREAM;
			else if (!strcmp(optarg, "udp")) cfg_type = SOCK_DGRAM;
			else usage();
			break;
		case 'p': cfg_port = atoi(optarg); break;
		case 'm':
			if (!strcmp(optarg, "copy")) cfg_mode = MODE_COPY;
			else if (!strcmp(optarg, "errqueue")) cfg_mode = MODE_ERRQUEUE;
			else if (!strcmp(optarg, "cmsg")) cfg_mode = MODE_CMSG;
			else usage();
			break;
		case 'l': cfg_limit = atoi(optarg); break;
		case 's': cfg_payload = atoi(optarg); break;
		case 'd': cfg_seconds = atoi(optarg); break;
		case 'C': cfg_cpu = atoi(optarg); break;
		case 'R': cfg_rx_cpu = atoi(optarg); break;
		default: usage();
		}
	}
	if (cfg_limit < 1)
		usage();
	// The selftest's default: the largest payload of one IP packet.
	int max = 65535 - (cfg_family == AF_INET ? 20 : 40) - (cfg_type == SOCK_STREAM ? 20 : 8);
	if (cfg_payload <= 0 || cfg_payload > max)
		cfg_payload = max;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(role, "pair"))
		return do_pair();
	pin();
	return !strcmp(role, "tx") ? do_tx() : do_rx();
}
