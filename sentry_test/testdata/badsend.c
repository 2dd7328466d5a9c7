/* MSG_ZEROCOPY sends from memory that is bad in every way Linux tells
 * apart: an unmapped buffer, a page without read access, a read-only page,
 * a zero-length iovec whose base is bad, a buffer in many pieces (one byte
 * on each of 1024 pages), and sendto's buffer outside the user range. Each
 * send's result is printed, then the ids of the sends that went, which
 * must each complete exactly once. */
#include "zc.h"
#include <sys/mman.h>

#define PAGE 4096
#define PIECES 1024

static const struct kind *k;
static uint32_t ids;

static void zsendmsg(int fd, const char *what, struct iovec *iov, int n) {
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = n};
	long r = sendmsg(fd, &msg, MSG_ZEROCOPY);
	printf("%s: %s\n", what, ret(r));
	if (r > 0 || (r == 0 && k->type == SOCK_DGRAM))
		ids++;
}

int main(int argc, char **argv) {
	k = kind_of(argv[1]);
	int tx, rx;
	pair(k, &tx, &rx);
	set_zerocopy(tx, 1);
	require_zerocopy(tx);
	char *m = mmap(NULL, (PIECES + 3) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap");
	memset(m, 'x', (PIECES + 3) * PAGE);
	char *hole = m + PAGE, *noaccess = m + 2 * PAGE, *ro = m + 3 * PAGE;
	munmap(hole, PAGE);
	mprotect(noaccess, PAGE, PROT_NONE);
	mprotect(ro, PAGE, PROT_READ);

	zsendmsg(tx, "unmapped", &(struct iovec){hole, 10}, 1);
	zsendmsg(tx, "no read access", &(struct iovec){noaccess, 10}, 1);
	zsendmsg(tx, "read-only page", &(struct iovec){ro, 10}, 1);
	struct iovec zl[3] = {{m, 5}, {hole, 0}, {m, 5}};
	zsendmsg(tx, "zero-length iovec at a bad base", zl, 3);
	static struct iovec pieces[PIECES];
	for (int i = 0; i < PIECES; i++)
		pieces[i] = (struct iovec){ro + i * PAGE, 1};
	zsendmsg(tx, "1024 pieces", pieces, PIECES);
	long r = send(tx, (void *)-1L, 10, MSG_ZEROCOPY);
	printf("sendto outside the user range: %s\n", ret(r));
	r = send(tx, hole, 10, MSG_ZEROCOPY);
	printf("sendto unmapped: %s\n", ret(r));
	r = send(tx, ro, 10, MSG_ZEROCOPY);
	printf("sendto read-only page: %s\n", ret(r));
	if (r >= 0)
		ids++;

	/* Every id that went completes once; the peer drains the data. */
	char sink[PIECES + 100];
	for (uint32_t got = 0; got < ids;) {
		if (!(wait_err(tx, 10000) & POLLERR)) {
			printf("completions missing\n");
			break;
		}
		while (recv(rx, sink, sizeof sink, MSG_DONTWAIT) > 0)
			;
		if (recv_err(tx, 0) < 0)
			continue;
		got = 0;
		for (uint32_t i = 0; i < ids; i++)
			got += seen[i] != 0;
	}
	report_ids("bad sends", ids);
	return 0;
}
