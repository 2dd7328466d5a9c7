/* A zerocopy socket behaves as a plain socket under every descriptor
 * operation: dup, fcntl O_NONBLOCK (shared by the file description),
 * SOCK_NONBLOCK and SOCK_CLOEXEC, fork, exec, close of a duplicate, fstat,
 * and SCM_RIGHTS passing; the error queue belongs to the socket. */
#include "zc.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char buf[100];

static void zsend(const char *what, int fd) {
	printf("%s: send %s\n", what, ret(send(fd, buf, 10, MSG_ZEROCOPY)));
}

/* one reads the one completion fd has or will have and prints its range. */
static void one(const char *what, int fd) {
	await_err(fd);
	char ctl[128];
	struct msghdr msg = {.msg_control = ctl, .msg_controllen = sizeof ctl};
	long r = recvmsg(fd, &msg, MSG_ERRQUEUE);
	if (r < 0) {
		printf("%s: errqueue %s\n", what, errname(errno));
		return;
	}
	struct sock_extended_err *ee = (void *)CMSG_DATA(CMSG_FIRSTHDR(&msg));
	printf("%s: completion [%u,%u]\n", what, ee->ee_info, ee->ee_data);
}

static void flags(const char *what, int fd) {
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	if (fl < 0 || fdfl < 0) {
		printf("%s: fcntl %s\n", what, errname(errno));
		return;
	}
	printf("%s: O_NONBLOCK %d FD_CLOEXEC %d\n", what, !!(fl & O_NONBLOCK), !!(fdfl & FD_CLOEXEC));
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "exec")) {
		/* The exec'd image: the socket survived without FD_CLOEXEC. */
		int fd = atoi(argv[2]);
		flags("after exec", fd);
		zsend("after exec", fd);
		return 0;
	}
	const struct kind *k = kind_of(argv[1]);
	int tx, rx;
	pair(k, &tx, &rx);
	set_zerocopy(tx, 1);

	int d = dup(tx);
	zsend("dup", d);
	one("original", tx);
	int v = 0;
	socklen_t l = sizeof v;
	getsockopt(d, SOL_SOCKET, SO_ZEROCOPY, &v, &l);
	printf("dup SO_ZEROCOPY %d\n", v);
	struct stat s1, s2;
	fstat(tx, &s1);
	fstat(d, &s2);
	printf("fstat: socket %d same inode %d\n", S_ISSOCK(s1.st_mode), s1.st_ino == s2.st_ino);
	char path[64], link[64], want[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", tx);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	snprintf(want, sizeof want, "socket:[%lu]", (unsigned long)s1.st_ino);
	printf("/proc/self/fd link matches fstat %d\n", !strcmp(link, want));

	fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_NONBLOCK);
	flags("original after F_SETFL on dup", tx);
	printf("recv on O_NONBLOCK file: %s\n", ret(recv(tx, buf, sizeof buf, 0)));
	fcntl(tx, F_SETFL, fcntl(tx, F_GETFL) & ~O_NONBLOCK);
	close(d);
	zsend("after closing the dup", tx);
	one("after closing the dup", tx);

	int nb = socket(k->family, k->type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	flags("SOCK_NONBLOCK|SOCK_CLOEXEC", nb);
	printf("SOCK_NONBLOCK recv: %s\n", ret(recv(nb, buf, sizeof buf, 0)));
	close(nb);

	pid_t pid = fork();
	if (pid == 0) {
		zsend("child", tx);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	one("parent after fork", tx);

	pid = fork();
	if (pid == 0) {
		char fdarg[16];
		snprintf(fdarg, sizeof fdarg, "%d", tx);
		execl("/proc/self/exe", argv[0], "exec", fdarg, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("exec child exit %d\n", WEXITSTATUS(status));
	one("parent after exec", tx);

	int c = dup(tx);
	fcntl(c, F_SETFD, FD_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		char fdarg[16];
		snprintf(fdarg, sizeof fdarg, "%d", c);
		execl("/proc/self/exe", argv[0], "exec", fdarg, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	printf("FD_CLOEXEC exec child exit %d\n", WEXITSTATUS(status));
	close(c);

	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {.msg_iov = &(struct iovec){buf, 1}, .msg_iovlen = 1,
	                   .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &tx, sizeof(int));
	printf("SCM_RIGHTS send: %s\n", ret(sendmsg(sv[0], &m, 0)));
	memset(cbuf, 0, sizeof cbuf);
	m.msg_controllen = sizeof cbuf;
	printf("SCM_RIGHTS recv: %s\n", ret(recvmsg(sv[1], &m, 0)));
	int passed;
	memcpy(&passed, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof(int));
	zsend("passed", passed);
	one("original after SCM_RIGHTS", tx);
	close(passed);
	close(tx);
	printf("send after close: %s\n", ret(send(tx, buf, 10, MSG_ZEROCOPY)));
	return 0;
}
