// SPDX-License-Identifier: GPL-2.0
/*
 * SDP at scale: many idle connections on one RDMA device.
 *
 * One process opens SDP_SCALE_CONNS (default 1000) connections to itself
 * through the local address (2000 SDP sockets: every byte loops through
 * rxe), checks that each one carries data both ways, and measures what
 * the idle connections cost: the fall of MemFree, after the page cache
 * was dropped, divided by the number of sockets.  That is measured
 * first, before any other SDP socket of the run came and went.  An idle connected SDP
 * socket must cost at most 64 KiB of kernel memory (OFED's ib_sdp needed
 * about 2 MB).  A debug kernel's KASAN redzones and kmemleak records make
 * every object bigger: there the bound is SDP_SCALE_DEBUG_KIB (96 KiB)
 * and the connection count a fifth.
 */
#include <sys/resource.h>
#include "afib_lib.h"

#define SDP_IDLE_MAX_KIB	64
#define SDP_SCALE_DEBUG_KIB	96

static bool sdp_debug_kernel(void)
{
	return !strcmp(afib_env("AFIB_KIND", "stock"), "debug");
}

static int sdp_conns(void)
{
	int n = atoi(afib_env("SDP_SCALE_CONNS", "1000"));

	return sdp_debug_kernel() ? n / 5 : n;
}

static long sdp_meminfo_kib(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, strlen(key)) &&
		    line[strlen(key)] == ':') {
			v = atol(line + strlen(key) + 1);
			break;
		}
	}
	fclose(f);
	return v;
}

static void sdp_drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "3\n", 2) < 0)
			perror("drop_caches");
		close(fd);
	}
	afib_msleep(500);
}

FIXTURE(scale) {
	int lfd, n;
	int *cfd, *sfd;
	struct sockaddr_in sin;
};

FIXTURE_SETUP(scale)
{
	socklen_t len = sizeof(self->sin);
	struct rlimit rl;
	int i;

	self->n = sdp_conns();
	self->cfd = calloc(self->n, sizeof(int));
	self->sfd = calloc(self->n, sizeof(int));
	ASSERT_TRUE(self->cfd && self->sfd);
	for (i = 0; i < self->n; i++)
		self->cfd[i] = self->sfd[i] = -1;
	rl.rlim_cur = rl.rlim_max = 2 * self->n + 64;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl)) TH_LOG("%s",
							  strerror(errno));
	memset(&self->sin, 0, sizeof(self->sin));
	self->sin.sin_family = AF_INET;
	ASSERT_EQ(1, inet_pton(AF_INET, afib_ip4(), &self->sin.sin_addr));
	self->lfd = socket(AF_INET_SDP, SOCK_STREAM, 0);
	ASSERT_LE(0, self->lfd) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, bind(self->lfd, (void *)&self->sin, sizeof(self->sin)));
	ASSERT_EQ(0, listen(self->lfd, 128));
	ASSERT_EQ(0, getsockname(self->lfd, (void *)&self->sin, &len));
}

FIXTURE_TEARDOWN(scale)
{
	int i;

	for (i = 0; i < self->n; i++) {
		if (self->cfd[i] >= 0)
			close(self->cfd[i]);
		if (self->sfd[i] >= 0)
			close(self->sfd[i]);
	}
	close(self->lfd);
	free(self->cfd);
	free(self->sfd);
}

/* Open every connection; returns how many could be opened. */
static int sdp_open_all(struct __test_metadata *_metadata,
			FIXTURE_DATA(scale) *self)
{
	int i;

	for (i = 0; i < self->n; i++) {
		self->cfd[i] = socket(AF_INET_SDP, SOCK_STREAM, 0);
		if (self->cfd[i] < 0 ||
		    connect(self->cfd[i], (void *)&self->sin,
			    sizeof(self->sin))) {
			TH_LOG("connection %d: %s", i, strerror(errno));
			break;
		}
		self->sfd[i] = accept(self->lfd, NULL, NULL);
		if (self->sfd[i] < 0) {
			TH_LOG("accept %d: %s", i, strerror(errno));
			break;
		}
	}
	return i;
}

/* One byte each way on every connection. */
static int sdp_exchange_all(FIXTURE_DATA(scale) *self, char tag)
{
	int i, bad = 0;
	char c;

	for (i = 0; i < self->n; i++) {
		c = 0;
		if (send(self->cfd[i], &tag, 1, 0) != 1 ||
		    recv(self->sfd[i], &c, 1, 0) != 1 || c != tag)
			bad++;
		c = 0;
		if (send(self->sfd[i], &tag, 1, 0) != 1 ||
		    recv(self->cfd[i], &c, 1, 0) != 1 || c != tag)
			bad++;
	}
	return bad;
}

/* What an idle connected socket costs. */
TEST_F_TIMEOUT(scale, idle_memory, afib_tmo(900))
{
	long before, after, per_sock;
	long max = sdp_debug_kernel() ? SDP_SCALE_DEBUG_KIB : SDP_IDLE_MAX_KIB;

	sdp_drop_caches();
	before = sdp_meminfo_kib("MemFree");
	ASSERT_LT(0, before);
	ASSERT_EQ(self->n, sdp_open_all(_metadata, self));
	/* Both ends have settled: every connection carried data once. */
	ASSERT_EQ(0, sdp_exchange_all(self, 'c'));
	afib_msleep(1000);
	sdp_drop_caches();
	after = sdp_meminfo_kib("MemFree");
	per_sock = (before - after) * 1024 / (2 * self->n);
	TH_LOG("%d connections: MemFree fell %ld KiB, %ld bytes per socket (Slab %ld KiB, VmallocUsed %ld KiB)",
	       self->n, before - after, per_sock,
	       sdp_meminfo_kib("Slab"), sdp_meminfo_kib("VmallocUsed"));
	EXPECT_GE(max * 1024, per_sock);
}

/* Every connection is up and works, and so do they all after a while. */
TEST_F_TIMEOUT(scale, connections, afib_tmo(900))
{
	ASSERT_EQ(self->n, sdp_open_all(_metadata, self));
	EXPECT_EQ(0, sdp_exchange_all(self, 'a'));
	afib_msleep(1000);
	EXPECT_EQ(0, sdp_exchange_all(self, 'b'));
}

TEST_HARNESS_MAIN
