/* The guest that deploy_test runs in a container: for each loopback socket
 * kind (TCP and UDP, IPv4 and IPv6) it makes a pair on 127.0.0.1 or ::1,
 * sends SENDS messages with MSG_ZEROCOPY, each carrying a
 * SOL_SOCKET/SCM_ZC_NOTIFICATION control message that the sandbox fills
 * with pending completions, then drains the rest with
 * recvmsg(MSG_ERRQUEUE). Every id must complete exactly once, and some
 * completions must have come back through sendmsg. It prints one line per
 * kind and a verdict, "zcguest: PASS" or "zcguest: FAIL", and exits 0 only
 * on PASS. Shared helpers and ABI constants: sentry_test/testdata/zc.h. */
#include "zc.h"
#include <pthread.h>

#define SENDS 256
#define PAYLOAD 1000

static char buf[PAYLOAD];
static char ctl[CMSG_SPACE(sizeof(struct zc_info) +
			   ZC_NOTIFICATION_MAX * sizeof(struct zc_info_elem))];

/* reader drains the receiving end of a pair so that sends never block. */
static void *reader(void *arg) {
	int fd = *(int *)arg;
	char b[65536];
	while (read(fd, b, sizeof b) > 0)
		;
	return NULL;
}

/* copied_back accounts the completions that sendmsg returned in msg and
 * returns their number of ids. */
static uint32_t copied_back(struct msghdr *msg) {
	struct cmsghdr *c = CMSG_FIRSTHDR(msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_ZC_NOTIFICATION)
		return 0;
	struct zc_info *zi = (struct zc_info *)CMSG_DATA(c);
	uint32_t n = 0;
	for (uint32_t i = 0; i < zi->size && i < ZC_NOTIFICATION_MAX; i++)
		n += zi->arr[i].hi - zi->arr[i].lo + 1;
	print_zc(NULL, msg);
	return n;
}

/* accounted is the number of completions seen, duplicates included. */
static uint32_t accounted(void) {
	uint32_t n = seen_out;
	for (uint32_t i = 0; i < MAX_IDS; i++)
		n += seen[i];
	return n;
}

/* run checks one socket kind and reports whether it passed. */
static int run(const struct kind *k) {
	int tx, rx;
	pthread_t t;
	pair(k, &tx, &rx);
	if (k->type == SOCK_STREAM)
		pthread_create(&t, NULL, reader, &rx);
	set_zerocopy(tx, 1);
	reset_ids();

	uint32_t back = 0;
	for (int i = 0; i < SENDS; i++) {
		struct iovec iov = {buf, sizeof buf};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl,
				     .msg_controllen = zc_cmsg(ctl, ZC_NOTIFICATION_MAX)};
		if (sendmsg(tx, &msg, MSG_ZEROCOPY) != sizeof buf) {
			printf("%s: sendmsg MSG_ZEROCOPY + SCM_ZC_NOTIFICATION: %s\n",
			       k->name, errname(errno));
			return 0;
		}
		back += copied_back(&msg);
	}
	/* The rest arrive on the error queue (TCP's when data is acked). */
	for (int waited = 0; waited < 5000 && accounted() < SENDS; waited += 20) {
		wait_err(tx, 20);
		while (recv_err(tx, 0) >= 0)
			;
	}

	int missing = 0, unexpected = seen_out;
	for (uint32_t i = 0; i < MAX_IDS; i++) {
		if (i < SENDS && !seen[i])
			missing++;
		if (i >= SENDS && seen[i])
			unexpected++;
	}
	printf("%s: %d sends, %u completions by sendmsg, %u by MSG_ERRQUEUE: "
	       "missing %d, duplicated %d, unexpected %d\n",
	       k->name, SENDS, back, accounted() - back, missing, seen_dup, unexpected);
	close(tx);
	if (k->type == SOCK_STREAM)
		pthread_join(t, NULL);
	close(rx);
	return !missing && !seen_dup && !unexpected && back > 0;
}

int main(void) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	int ok = 1;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		ok &= run(&kinds[i]);
	printf("zcguest: %s\n", ok ? "PASS" : "FAIL");
	return ok ? 0 : 1;
}
