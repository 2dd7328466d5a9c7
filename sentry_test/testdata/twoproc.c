/* A sender and a receiver in two processes over 127.0.0.1 or ::1, in copy
 * mode, MSG_ZEROCOPY with the error queue, or MSG_ZEROCOPY with
 * SCM_ZC_NOTIFICATION: every byte arrives and every id completes once. */
#include "zc.h"
#include <sys/wait.h>

#define SENDS 256
#define BURST 16
#define SIZE 1400
static char buf[65536];
static const struct kind *k;

static void drain_all(int fd, uint32_t ids) {
	for (int waited = 0; waited < 2000; waited += 20) {
		while (recv_err(fd, 0) >= 0)
			;
		uint32_t i = 0;
		while (i < ids && seen[i])
			i++;
		if (i == ids)
			return;
		wait_err(fd, 20);
	}
}

static void sender(int port, const char *mode) {
	int fd = connected_socket(k, port);
	int zc = strcmp(mode, "copy") != 0, notif = !strcmp(mode, "notif");
	if (zc)
		set_zerocopy(fd, 1);
	static char ctl[CMSG_SPACE(sizeof(struct zc_info) + 16 * sizeof(struct zc_info_elem))];
	uint32_t ids = 0, fetched = 0;
	long bytes = 0;
	for (int i = 0; i < SENDS; i++) {
		struct iovec iov = {buf, SIZE};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		if (notif && i % 8 == 7) {
			msg.msg_control = ctl;
			msg.msg_controllen = zc_cmsg(ctl, 16);
		}
		long r = sendmsg(fd, &msg, zc ? MSG_ZEROCOPY : 0);
		if (r < 0) {
			printf("sender: sendmsg %d: %s\n", i, errname(errno));
			break;
		}
		bytes += r;
		if (zc)
			ids++;
		if (msg.msg_control) {
			struct zc_info *zi = (struct zc_info *)CMSG_DATA((struct cmsghdr *)ctl);
			for (uint32_t j = 0; j < zi->size; j++) {
				account(zi->arr[j].lo, zi->arr[j].hi);
				fetched += zi->arr[j].hi - zi->arr[j].lo + 1;
			}
		}
		if (zc && !notif && i % 32 == 31)
			while (recv_err(fd, 0) >= 0)
				;
		if (k->type == SOCK_DGRAM && i % BURST == BURST - 1) {
			char ack[8];
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, 2000) == 1)
				recv(fd, ack, sizeof ack, 0);
		}
	}
	if (zc)
		drain_all(fd, ids);
	printf("sender: %ld bytes, %s\n", bytes, notif && fetched ? "fetched by cmsg" : "no cmsg fetch");
	if (zc)
		report_ids("sender", ids);
	if (k->type == SOCK_DGRAM)
		send(fd, buf, 0, 0);
	close(fd);
}

int main(int argc, char **argv) {
	k = kind_of(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	int b = bound_socket(k);
	if (k->type == SOCK_DGRAM) {
		int big = 1 << 20;
		setsockopt(b, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	}
	int port = port_of(b);
	pid_t pid = fork();
	if (pid == 0) {
		close(b);
		sender(port, argv[2]);
		return 0;
	}
	long total = 0;
	if (k->type == SOCK_STREAM) {
		int fd = accept(b, NULL, NULL);
		long r;
		while ((r = read(fd, buf, sizeof buf)) > 0)
			total += r;
		close(fd);
	} else {
		int got = 0;
		for (;;) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof from;
			struct pollfd p = {.fd = b, .events = POLLIN};
			if (poll(&p, 1, 5000) != 1)
				break;
			long r = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
			if (r <= 0)
				break;
			total += r;
			if (++got % BURST == 0)
				sendto(b, "ack", 3, 0, (struct sockaddr *)&from, fl);
		}
	}
	int status;
	waitpid(pid, &status, 0);
	printf("receiver: %ld bytes, sender exit %d\n", total, WEXITSTATUS(status));
	return 0;
}
