/* Cost of one socket syscall: the guest runs one operation N times on a
 * UDP pair over 127.0.0.1 and prints the mean in nanoseconds per iteration.
 *
 *   getsockopt     getsockopt(SO_RCVBUF) on a socket without zerocopy
 *   sendmsg        sendmsg of 64 bytes, then the recv that drains it
 *   sendmsg-zc     the same with MSG_ZEROCOPY and an SCM_ZC_NOTIFICATION
 *                  cmsg that fetches the previous send's completion ("New")
 *   sendmsg-errq   sendmsg with MSG_ZEROCOPY, recvmsg(MSG_ERRQUEUE) of its
 *                  completion, the recv ("ZCopy")
 *   recv-eagain    recvmsg(MSG_DONTWAIT) on an empty socket: EAGAIN
 *   errq-eagain    recvmsg(MSG_ERRQUEUE) on an empty error queue: EAGAIN
 */
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
	char ctl[CMSG_SPACE(sizeof(struct zc_info) + ZC_NOTIFICATION_MAX * sizeof(struct zc_info_elem))];
	struct iovec iov = {buf, sizeof buf};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int v;
	socklen_t l;
	if (!strcmp(op, "sendmsg-zc") || !strcmp(op, "sendmsg-errq") || !strcmp(op, "errq-eagain"))
		set_zerocopy(tx, 1);
	double start = now();
	for (long i = 0; i < n; i++) {
		if (!strcmp(op, "getsockopt")) {
			l = sizeof v;
			if (getsockopt(tx, SOL_SOCKET, SO_RCVBUF, &v, &l))
				die("getsockopt");
		} else if (!strcmp(op, "sendmsg")) {
			if (sendmsg(tx, &msg, 0) < 0 || recv(rx, buf, sizeof buf, 0) < 0)
				die("sendmsg");
		} else if (!strcmp(op, "sendmsg-zc")) {
			msg.msg_control = ctl;
			msg.msg_controllen = zc_cmsg(ctl, ZC_NOTIFICATION_MAX);
			if (sendmsg(tx, &msg, MSG_ZEROCOPY) < 0 || recv(rx, buf, sizeof buf, 0) < 0)
				die("sendmsg");
		} else if (!strcmp(op, "sendmsg-errq")) {
			if (sendmsg(tx, &msg, MSG_ZEROCOPY) < 0 || recv_err(tx, 0) < 0 ||
			    recv(rx, buf, sizeof buf, 0) < 0)
				die("sendmsg");
		} else if (!strcmp(op, "recv-eagain")) {
			if (recvmsg(rx, &msg, MSG_DONTWAIT) >= 0 || errno != EAGAIN)
				die("recvmsg");
		} else if (!strcmp(op, "errq-eagain")) {
			if (recv_err(tx, 0) >= 0 || errno != EAGAIN)
				die("recvmsg");
		} else {
			fprintf(stderr, "unknown op %s\n", op);
			return 2;
		}
	}
	printf("%.1f\n", (now() - start) / n);
	return 0;
}
