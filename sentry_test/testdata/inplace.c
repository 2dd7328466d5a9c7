/* Whether a MSG_ZEROCOPY send is sent from the sender's memory: a TCP send
 * queued behind data the peer has no room for yet, after which the sender
 * rewrites (or unmaps) its buffer before the peer reads. Linux sends from
 * the pinned pages, so the peer reads the rewritten bytes, or, after an
 * unmap, the bytes the pages held (the pages stay pinned); a stack that
 * copies at send time has the peer read the bytes as they were sent.
 *
 *   inplace KIND rewrite|unmap
 */
#include "zc.h"
#include <fcntl.h>
#include <sys/mman.h>

#define ZLEN (16 << 10)
#define FILL (256 << 10)

int main(int argc, char **argv) {
	const struct kind *k = kind_of(argv[1]);
	int unmap = !strcmp(argv[2], "unmap");
	/* A listener whose connection has little room: the peer's window
	 * closes on the filler, and what follows stays in the sender. */
	struct sockaddr_storage ss;
	socklen_t l = loopback(k->family, 0, &ss);
	int b = socket(k->family, SOCK_STREAM, 0), small = 4096, big = 1 << 20;
	if (setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) || bind(b, (struct sockaddr *)&ss, l) ||
	    listen(b, 1))
		die("listener");
	int tx = socket(k->family, SOCK_STREAM, 0);
	if (setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &big, sizeof big))
		die("SO_SNDBUF");
	l = loopback(k->family, port_of(b), &ss);
	if (connect(tx, (struct sockaddr *)&ss, l))
		die("connect");
	int rx = accept(b, NULL, NULL);
	if (rx < 0)
		die("accept");
	set_zerocopy(tx, 1);
	require_zerocopy(tx);

	static char filler[FILL];
	memset(filler, 'f', sizeof filler);
	fcntl(tx, F_SETFL, O_NONBLOCK);
	long f = send(tx, filler, sizeof filler, 0);
	if (f <= 0)
		die("filler");
	char *buf = mmap(NULL, ZLEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	memset(buf, 'A', ZLEN);
	long z = send(tx, buf, ZLEN, MSG_ZEROCOPY);
	printf("%s %s: MSG_ZEROCOPY send of %d bytes 'A': %s\n", k->name, argv[2], ZLEN, ret(z));
	if (z != ZLEN)
		return 1;
	if (unmap) {
		/* New memory may take the pages back at once, unless they are
		 * still pinned for the send. */
		munmap(buf, ZLEN);
		for (int i = 0; i < 64; i++) {
			char *p = mmap(NULL, ZLEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				die("mmap");
			memset(p, 'C', ZLEN);
		}
		printf("buffer unmapped, new memory written with 'C'\n");
	} else {
		memset(buf, 'B', ZLEN);
		printf("buffer rewritten with 'B'\n");
	}

	static char got[FILL + ZLEN];
	long n = 0;
	while (n < f + ZLEN) {
		long r = recv(rx, got + n, sizeof got - n, 0);
		if (r <= 0)
			die("recv");
		n += r;
	}
	int a = 0, bb = 0, c = 0, other = 0;
	for (long i = f; i < n; i++) {
		if (got[i] == 'A')
			a++;
		else if (got[i] == 'B')
			bb++;
		else if (got[i] == 'C')
			c++;
		else
			other++;
	}
	printf("peer read: 'A' %d, 'B' %d, 'C' %d, other %d\n", a, bb, c, other);
	/* The completion comes once the peer has acknowledged the data; the
	 * timeout only bounds a run that would otherwise hang. */
	if (!(wait_err(tx, 10000) & POLLERR))
		printf("no completion\n");
	recv_err(tx, 1);
	return 0;
}
