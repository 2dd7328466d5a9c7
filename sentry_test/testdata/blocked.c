/* A sender blocked in sendmsg(MSG_ZEROCOPY) on a full TCP socket must stay
 * interruptible, as in Linux's sk_stream_wait_memory, which sleeps with the
 * socket unlocked. Thread A blocks sending a large buffer to a peer that
 * does not read; thread B then blocks in a second zerocopy send on the same
 * socket; SIGALRM (no SA_RESTART) sent to B alone ends B's send at once,
 * with EINTR, or with the count B had sent before it blocked. A finishes
 * when the peer reads, or returns a partial count when the peer resets the
 * connection; either way every id of a send that returned a count
 * completes exactly once and the ids are dense. exit_group and SIGKILL end
 * a process with two threads blocked in such sends at once.
 *
 * Only deterministic facts are printed. Every wait has a timeout, so that a
 * runtime that leaves a thread stuck prints "no" lines instead of hanging;
 * a watchdog ends the program if even that fails. */
#include "zc.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

/* Both sends are far larger than what the socket and its peer buffer (a
 * few KiB each), so that each blocks for good once it runs, whatever the
 * other left room for, and small enough that A finishes within its wait on
 * a loaded machine once the peer reads. */
#define A_SIZE (1 << 20)
/* The buffers of small_pair. */
#define SMALL_BUF 4096
/* How many ticks the peer's queue must stay the same for wait_quiet. */
#define QUIET_TICKS 20
#define B_SIZE (1 << 20)

static const struct kind *k;
static char *abuf, *bbuf;

static const char *yes(int b) {
	return b ? "yes" : "no";
}

/* small_pair makes a connected TCP pair whose sender has a small send
 * buffer and whose receiver a small receive buffer, so that a large send
 * blocks once both are full. */
static void small_pair(int *tx, int *rx) {
	int small = SMALL_BUF;
	int b = bound_socket(k);
	if (setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof small))
		die("SO_RCVBUF");
	*tx = connected_socket(k, port_of(b));
	if (setsockopt(*tx, SOL_SOCKET, SO_SNDBUF, &small, sizeof small))
		die("SO_SNDBUF");
	*rx = accept(b, NULL, NULL);
	if (*rx < 0)
		die("accept");
	close(b);
	set_zerocopy(*tx, 1);
}

/* A send of one thread: its result, and whether it has returned. */
struct sender {
	pthread_t th;
	int fd;
	char *buf;
	size_t len;
	long r;
	int err;
	atomic_int tid;
	atomic_int done;
};

static void *send_thread(void *arg) {
	struct sender *s = arg;
	atomic_store(&s->tid, gettid());
	s->r = send(s->fd, s->buf, s->len, MSG_ZEROCOPY | MSG_NOSIGNAL);
	s->err = errno;
	atomic_store(&s->done, 1);
	return NULL;
}

static void start(struct sender *s, int fd, char *buf, size_t len) {
	memset(s, 0, sizeof *s);
	s->fd = fd;
	s->buf = buf;
	s->len = len;
	if (pthread_create(&s->th, NULL, send_thread, s))
		die("pthread_create");
}

/* wait_blocked waits until s's thread is asleep in its send, which it is
 * once the buffers are full, or its send has returned. The caller checks
 * which. */
static void wait_blocked(struct sender *s) {
	for (long end = now_ms() + EVENT_MS; now_ms() < end; tick()) {
		int tid = atomic_load(&s->tid);
		if (atomic_load(&s->done) || (tid && sleeping(tid)))
			return;
	}
}

/* wait_done waits up to ms for s's send to return. */
static int wait_done(struct sender *s, int ms) {
	for (long end = now_ms() + ms; !atomic_load(&s->done) && now_ms() < end;)
		tick();
	return atomic_load(&s->done);
}

/* wait_quiet waits until the connection has stopped moving: the bytes
 * queued at the peer rx, which does not read, have not changed for
 * QUIET_TICKS ticks in a row. A sender first blocks when its send buffer
 * fills, while the segments in flight still reach the peer and free room;
 * a second sender started then would write into that room, and two
 * senders that both write can leave gVisor's TCP with a writer that is
 * never woken again (stock runsc as well; docs/design.md). */
static void wait_quiet(int rx) {
	int last = -1, same = 0;
	for (long end = now_ms() + EVENT_MS; same < QUIET_TICKS && now_ms() < end; tick()) {
		int q = 0;
		if (ioctl(rx, FIONREAD, &q))
			die("FIONREAD");
		same = q == last ? same + 1 : 0;
		last = q;
	}
}

/* outcome names the result of a returned send: full, partial, or an errno. */
static const char *outcome(struct sender *s) {
	if (s->r == (long)s->len)
		return "full";
	if (s->r > 0)
		return "partial";
	if (s->r == 0)
		return "0";
	return errname(s->err);
}

static atomic_int alarm_thread;

static void on_alarm(int sig) {
	(void)sig;
	atomic_store(&alarm_thread, 1);
}

/* reader reads the peer until EOF. */
static void *reader(void *arg) {
	int fd = *(int *)arg;
	char b[65536];
	while (read(fd, b, sizeof b) > 0)
		;
	return NULL;
}

/* drain reads the error queue until ids [0, n) were all seen (loopback TCP
 * completes a send when its data is acknowledged or dropped), then what
 * else is queued. */
static void drain(int fd, uint32_t n) {
	if (n > 0)
		await_ids(fd, 0, n - 1);
	while (recv_err(fd, 0) >= 0)
		;
}

/* check_ids prints whether ids [0, n) were each completed exactly once, as
 * report_ids does but without n, which depends on whether B's send had sent
 * anything before the signal. */
static void check_ids(const char *what, uint32_t n) {
	printf("%s: ids of the sends that returned a count: %s\n", what, ids_check(n));
}

/* interrupt runs A and B and interrupts B; the peer then reads everything
 * (read) or closes with data unread, which resets the connection (reset). */
static void interrupt(const char *mode) {
	printf("== %s\n", mode);
	int tx, rx;
	small_pair(&tx, &rx);
	reset_ids();
	/* Freed only once their threads are joined. */
	struct sender *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	start(a, tx, abuf, A_SIZE);
	wait_blocked(a);
	wait_quiet(rx);
	printf("A blocked in send: %s\n", yes(!atomic_load(&a->done)));
	start(b, tx, bbuf, B_SIZE);
	wait_blocked(b);
	printf("B blocked in send: %s\n", yes(!atomic_load(&b->done)));

	atomic_store(&alarm_thread, 0);
	long t0 = now_ms();
	pthread_kill(b->th, SIGALRM);
	int bdone = wait_done(b, 2000);
	/* Raw facts, which vary, go to stderr. */
	fprintf(stderr, "%s %s: B done %d after %ld ms: %ld %s\n", k->name, mode, bdone,
	        now_ms() - t0, b->r, errname(b->err));
	/* Each case prints the same lines whatever happens, so that a
	 * difference shows on its own line. */
	printf("B returned within 2s of SIGALRM: %s\n", yes(bdone));
	printf("B: EINTR or partial: %s\n",
	       yes(bdone && ((b->r < 0 && b->err == EINTR) || (b->r > 0 && b->r < B_SIZE))));
	printf("B: handler ran: %s\n", yes(atomic_load(&alarm_thread)));
	printf("A still blocked: %s\n", yes(!atomic_load(&a->done)));

	pthread_t rth;
	if (!strcmp(mode, "read")) {
		pthread_create(&rth, NULL, reader, &rx);
	} else {
		close(rx);
	}
	int adone = wait_done(a, 10000);
	fprintf(stderr, "%s %s: A done %d: %ld %s\n", k->name, mode, adone, a->r, errname(a->err));
	printf("A returned: %s\n", adone ? outcome(a) : "no, still blocked after 10s");
	if (bdone) {
		printf("B still blocked when A returned: no\n");
	} else {
		bdone = wait_done(b, 5000);
		printf("B still blocked when A returned: yes, then %s\n",
		       bdone ? outcome(b) : "still blocked 5s later");
	}

	/* Every send that returned a count took one id. */
	uint32_t n = 0;
	if (adone && a->r > 0)
		n++;
	if (bdone && b->r > 0)
		n++;
	drain(tx, n);
	check_ids(mode, n);
	if (!strcmp(mode, "read")) {
		shutdown(tx, SHUT_WR);
		pthread_join(rth, NULL);
		close(rx);
	}
	if (adone) {
		pthread_join(a->th, NULL);
		free(a);
	}
	if (bdone) {
		pthread_join(b->th, NULL);
		free(b);
	}
	close(tx);
}

/* blocked_child forks a process whose threads A and B block in zerocopy
 * sends while its main thread waits; it returns the child's pid once both
 * have blocked, or exits the child with code 7 itself if exit is set. */
static pid_t blocked_child(int do_exit) {
	int p[2];
	if (pipe(p))
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		int tx, rx;
		small_pair(&tx, &rx);
		struct sender a, b;
		start(&a, tx, abuf, A_SIZE);
		wait_blocked(&a);
		wait_quiet(rx);
		start(&b, tx, bbuf, B_SIZE);
		wait_blocked(&b);
		char c = atomic_load(&a.done) || atomic_load(&b.done) ? 'n' : 'y';
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		if (do_exit)
			exit(7);
		for (;;)
			pause();
	}
	close(p[1]);
	char c = 0;
	if (read(p[0], &c, 1) != 1)
		c = '?';
	close(p[0]);
	printf("child's A and B blocked in send: %s\n", yes(c == 'y'));
	return pid;
}

/* reap waits up to ms for pid and describes how it ended. */
static const char *reap(pid_t pid, int ms) {
	static char desc[64];
	int status;
	for (long end = now_ms() + ms; now_ms() < end; tick()) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r < 0)
			return "waitpid failed";
		if (r == 0)
			continue;
		if (WIFEXITED(status))
			snprintf(desc, sizeof desc, "yes, exited %d", WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			snprintf(desc, sizeof desc, "yes, killed by signal %d", WTERMSIG(status));
		else
			snprintf(desc, sizeof desc, "yes, status 0x%x", status);
		return desc;
	}
	return NULL;
}

static void ending(const char *how) {
	printf("== %s\n", how);
	int do_exit = !strcmp(how, "exit_group");
	pid_t pid = blocked_child(do_exit);
	if (!do_exit)
		kill(pid, SIGKILL);
	const char *r = reap(pid, 2000);
	printf("reaped within 2s: %s\n", r ? r : "no");
	if (!r) {
		kill(pid, SIGKILL);
		r = reap(pid, 5000);
		printf("reaped within 5s of SIGKILL: %s\n", r ? r : "no");
	}
}

static void *watchdog(void *arg) {
	(void)arg;
	sleep(30);
	printf("watchdog: the guest did not finish in 30s\n");
	fflush(stdout);
	_exit(3);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	k = kind_of(argv[1]);
	if (k->type != SOCK_STREAM) {
		fprintf(stderr, "blocked needs a TCP kind\n");
		return 2;
	}
	abuf = malloc(A_SIZE);
	bbuf = malloc(B_SIZE);
	memset(abuf, 'a', A_SIZE);
	memset(bbuf, 'b', B_SIZE);
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		die("sigaction");
	pthread_t wd;
	pthread_create(&wd, NULL, watchdog, NULL);

	interrupt("read");
	interrupt("reset");
	ending("exit_group");
	ending("SIGKILL");
	return 0;
}
