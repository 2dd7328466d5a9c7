/* POLLERR for a non-empty error queue, with poll, ppoll, select and epoll,
 * and the wake-up of a thread blocked in each when a completion arrives. */
#include "zc.h"
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>

static int tx, rx;
static char buf[100];

static void show(const char *what) {
	struct pollfd p[2] = {{.fd = tx, .events = 0}, {.fd = tx, .events = POLLIN}};
	int r = poll(p, 2, 0);
	printf("%s: poll %d revents 0x%x 0x%x", what, r, p[0].revents, p[1].revents);

	fd_set rd, wr, ex;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	FD_SET(tx, &rd);
	FD_SET(tx, &ex);
	struct timeval tv = {0, 0};
	r = select(tx + 1, &rd, NULL, &ex, &tv);
	printf(" select %d r%d e%d", r, FD_ISSET(tx, &rd), FD_ISSET(tx, &ex));
	FD_ZERO(&wr);
	FD_SET(tx, &wr);
	tv = (struct timeval){0, 0};
	r = select(tx + 1, NULL, &wr, NULL, &tv);
	printf(" w%d", FD_ISSET(tx, &wr));

	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN}, out[2];
	epoll_ctl(ep, EPOLL_CTL_ADD, tx, &ev);
	r = epoll_wait(ep, out, 2, 0);
	printf(" epoll %d events 0x%x\n", r, r > 0 ? out[0].events : 0);
	close(ep);
}

/* sender sends once the main thread is asleep in its poll, select or
 * epoll_wait. */
static void *sender(void *arg) {
	if (!await_sleeping(getpid()))
		die("the main thread never blocked");
	if (send(tx, buf, sizeof buf, MSG_ZEROCOPY) < 0)
		die("send");
	return arg;
}

/* blocked waits in one of the calls while another thread sends. */
static void blocked(const char *how) {
	pthread_t th;
	pthread_create(&th, NULL, sender, NULL);
	int r = 0, ev = 0;
	if (!strcmp(how, "poll")) {
		struct pollfd p = {.fd = tx, .events = POLLIN};
		r = poll(&p, 1, expect_ms());
		ev = p.revents;
	} else if (!strcmp(how, "select")) {
		fd_set rd;
		FD_ZERO(&rd);
		FD_SET(tx, &rd);
		struct timeval tv = {expect_ms() / 1000, expect_ms() % 1000 * 1000};
		r = select(tx + 1, &rd, NULL, NULL, &tv);
		ev = FD_ISSET(tx, &rd);
	} else {
		int ep = epoll_create1(0);
		struct epoll_event e = {.events = EPOLLIN | EPOLLET}, out;
		epoll_ctl(ep, EPOLL_CTL_ADD, tx, &e);
		r = epoll_wait(ep, &out, 1, expect_ms());
		ev = r > 0 ? out.events : 0;
		close(ep);
	}
	pthread_join(th, NULL);
	expected(r > 0);
	printf("blocked in %s: woke %d events 0x%x\n", how, r, ev);
	while (recv_err(tx, 0) >= 0)
		;
}

int main(int argc, char **argv) {
	const struct kind *k = kind_of(argv[1]);
	pair(k, &tx, &rx);
	set_zerocopy(tx, 1);
	show("empty");
	if (send(tx, buf, sizeof buf, MSG_ZEROCOPY) < 0)
		die("send");
	await_err(tx);
	show("completion queued");
	recv_err(tx, 0);
	show("drained");
	blocked("poll");
	blocked("select");
	blocked("epoll");
	show("end");
	return 0;
}
