/* Cost of one socket syscall on a socket that never uses zerocopy: the
 * guest calls it N times and prints the mean in nanoseconds. */
#include "zc.h"
#include <time.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	const char *op = argv[1];
	long n = atol(argv[2]);
	int tx, rx;
	pair(kind_of("udp4"), &tx, &rx);
	char buf[64] = {0};
	int v;
	socklen_t l;
	double start = now();
	if (!strcmp(op, "getsockopt")) {
		for (long i = 0; i < n; i++) {
			l = sizeof v;
			if (getsockopt(tx, SOL_SOCKET, SO_RCVBUF, &v, &l))
				die("getsockopt");
		}
	} else if (!strcmp(op, "sendmsg")) {
		struct iovec iov = {buf, sizeof buf};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		for (long i = 0; i < n; i++) {
			if (sendmsg(tx, &msg, 0) < 0)
				die("sendmsg");
			if (recv(rx, buf, sizeof buf, 0) < 0)
				die("recv");
		}
	} else {
		fprintf(stderr, "unknown op %s\n", op);
		return 2;
	}
	printf("%.1f\n", (now() - start) / n);
	return 0;
}
