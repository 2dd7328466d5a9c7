/* SO_ZEROCOPY: setsockopt and getsockopt rules on every kind of socket and
 * in every state (Linux net/core/sock.c sk_setsockopt, sk_getsockopt). */
#include "zc.h"
#include <sys/un.h>

static void get(const char *what, int fd, socklen_t optlen) {
	int v[2] = {-1, -1};
	socklen_t l = optlen;
	long r = getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, v, &l);
	printf("%s get optlen %u: %s", what, optlen, ret(r));
	if (r == 0)
		printf(" value %d optlen %u next %d", v[0], l, v[1]);
	printf("\n");
}

static void set(const char *what, int fd, int val, socklen_t optlen) {
	int v[2] = {val, 0};
	printf("%s set %d optlen %u: %s\n", what, val, optlen,
	       ret(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, v, optlen)));
}

/* values tries every value and length on fd, leaving SO_ZEROCOPY as on. */
static void values(const char *what, int fd, int on) {
	get(what, fd, sizeof(int));
	for (socklen_t l = 0; l < sizeof(int); l++)
		set(what, fd, 1, l);
	int bad[] = {2, -1, 256, 0x10001};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		set(what, fd, bad[i], sizeof(int));
	set(what, fd, 1, sizeof(int));
	get(what, fd, sizeof(int));
	set(what, fd, 0, 8);
	get(what, fd, sizeof(int));
	set(what, fd, on, sizeof(int));
	for (socklen_t l = 0; l <= 8; l += 1)
		if (l != 3 && l != 5 && l != 6 && l != 7)
			get(what, fd, l);
	printf("%s set NULL: %s\n", what,
	       ret(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, NULL, sizeof(int))));
	printf("%s get NULL: %s\n", what,
	       ret(getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, NULL, NULL)));
	socklen_t neg = (socklen_t)-1;
	int v;
	printf("%s get optlen -1: %s\n", what,
	       ret(getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, &neg)));
}

int main(void) {
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		const struct kind *k = &kinds[i];
		char what[64];
		int fd = socket(k->family, k->type, 0);
		snprintf(what, sizeof what, "%s new", k->name);
		values(what, fd, 0);
		close(fd);

		/* Listening (TCP) or bound (UDP), with SO_ZEROCOPY on: the
		 * accepted socket inherits it. */
		int b = bound_socket(k);
		snprintf(what, sizeof what, "%s %s", k->name,
		         k->type == SOCK_STREAM ? "listening" : "bound");
		values(what, b, 1);
		int tx = connected_socket(k, port_of(b));
		snprintf(what, sizeof what, "%s connected", k->name);
		get(what, tx, sizeof(int));
		values(what, tx, 1);
		if (k->type == SOCK_STREAM) {
			int rx = accept(b, NULL, NULL);
			snprintf(what, sizeof what, "%s accepted", k->name);
			get(what, rx, sizeof(int));
			values(what, rx, 1);
			close(rx);
			/* A listener with SO_ZEROCOPY off passes that on. */
			int off = 0;
			setsockopt(b, SOL_SOCKET, SO_ZEROCOPY, &off, sizeof off);
			int tx2 = connected_socket(k, port_of(b));
			int rx2 = accept(b, NULL, NULL);
			snprintf(what, sizeof what, "%s accepted-off", k->name);
			get(what, rx2, sizeof(int));
			close(tx2);
			close(rx2);
		}
		close(tx);
		close(b);
	}

	/* Sockets that cannot use zerocopy. */
	struct {
		const char *name;
		int family, type, protocol;
	} others[] = {
		{"unix-stream", AF_UNIX, SOCK_STREAM, 0},
		{"unix-dgram", AF_UNIX, SOCK_DGRAM, 0},
		{"unix-seqpacket", AF_UNIX, SOCK_SEQPACKET, 0},
	};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		int fd = socket(others[i].family, others[i].type, others[i].protocol);
		if (fd < 0) {
			printf("%s socket: %s\n", others[i].name, errname(errno));
			continue;
		}
		get(others[i].name, fd, sizeof(int));
		set(others[i].name, fd, 1, sizeof(int));
		set(others[i].name, fd, 2, sizeof(int));
		set(others[i].name, fd, 1, 2);
		get(others[i].name, fd, sizeof(int));
		close(fd);
	}
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	set("socketpair", sv[0], 1, sizeof(int));

	/* Not a socket, not a descriptor. */
	int one = 1;
	socklen_t l = sizeof one;
	printf("pipe set: %s\n", ret(setsockopt(0, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one)));
	printf("pipe get: %s\n", ret(getsockopt(0, SOL_SOCKET, SO_ZEROCOPY, &one, &l)));
	printf("badfd set: %s\n", ret(setsockopt(999, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one)));
	printf("badfd get: %s\n", ret(getsockopt(999, SOL_SOCKET, SO_ZEROCOPY, &one, &l)));
	return 0;
}
