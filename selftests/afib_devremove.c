// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib and RDMA device removal: with a listener, an idle connected pair
 * and a transfer in progress, "rdma link delete" must wake every blocked
 * call with ECONNRESET or ENODEV, poll must report POLLERR or POLLHUP,
 * close must work and nothing may hang.  Re-adding the device must make
 * new connections work again.
 *
 * Needs root and the iproute2 "rdma" tool.  Removes and re-adds the
 * device, so run_all.sh runs it after the other tests.
 */
#include <sys/wait.h>

#include "afib_lib.h"

/* Connect + accept, retried while the device (re)appears. */
static int pair_retry(int family, int *cfd, int *sfd, int ms)
{
	int64_t end = afib_now_ms() + ms;
	const char *step = "";
	int err;

	do {
		if (!afib_pair(family, cfd, sfd, NULL, NULL, 4, &step))
			return 0;
		err = errno;
		if (!strcmp(step, "accept"))
			break;
		afib_msleep(200);
	} while (afib_now_ms() < end);
	errno = err;
	return -1;
}

static bool good_errno(int e)
{
	return e == ECONNRESET || e == ENODEV;
}

struct blocked {
	const char *what;
	int fd;
	int op;		/* 0 recv, 1 send loop, 2 accept, 3 slow recv loop */
	int max;
	volatile int done;
	ssize_t ret;
	int err;
	long bytes;
};

static void *blocked_fn(void *arg)
{
	struct blocked *b = arg;
	char *buf = malloc(b->max ?: 16);

	memset(buf, 'd', b->max ?: 16);
	switch (b->op) {
	case 0:
		b->ret = recv(b->fd, buf, 16, 0);
		break;
	case 1:
		while ((b->ret = send(b->fd, buf, b->max, MSG_NOSIGNAL)) > 0)
			b->bytes += b->ret;
		break;
	case 2:
		b->ret = accept(b->fd, NULL, NULL);
		break;
	case 3:
		while ((b->ret = recv(b->fd, buf, b->max, 0)) > 0) {
			b->bytes += b->ret;
			afib_msleep(50);
		}
		break;
	}
	b->err = errno;
	b->done = 1;
	free(buf);
	return NULL;
}

FIXTURE(dev) {
	int lfd, c1, s1, c2, s2;
};

FIXTURE_VARIANT(dev) {
	int family;
};

AFIB_VARIANTS(dev);

FIXTURE_SETUP(dev)
{
	self->lfd = self->c1 = self->s1 = self->c2 = self->s2 = -1;
	/* Destructive: never remove a real host's RDMA devices. */
	ASSERT_TRUE(!strcmp(afib_env("AFIB_IN_VM", ""), "1") ||
		    !strcmp(afib_env("AFIB_DESTRUCTIVE", ""), "1"))
		TH_LOG("refusing to remove %s outside the test VM "
		       "(set AFIB_DESTRUCTIVE=1 to override)", afib_devname());
	ASSERT_EQ(0, geteuid()) TH_LOG("needs root");
	if (!afib_dev_present()) {
		ASSERT_EQ(0, afib_dev_add());
	}
	ASSERT_TRUE(afib_dev_present());
}

FIXTURE_TEARDOWN(dev)
{
	afib_close(&self->lfd);
	afib_close(&self->c1);
	afib_close(&self->s1);
	afib_close(&self->c2);
	afib_close(&self->s2);
	/* Leave the device in place for whatever runs next. */
	if (!afib_dev_present() && afib_dev_add())
		TH_LOG("could not re-add %s", afib_devname());
}

/* Re-add the device: new connections work again. */
static void readd(struct __test_metadata *_metadata, FIXTURE_DATA(dev) *self,
		  int fam)
{
	char buf[8];

	ASSERT_EQ(0, afib_dev_add());
	ASSERT_EQ(0, pair_retry(fam, &self->c1, &self->s1,
				afib_tmo(30) * 1000))
		TH_LOG("connect after re-adding %s: %s", afib_devname(),
		       strerror(errno));
	EXPECT_EQ(5, send(self->c1, "again", 5, 0));
	EXPECT_EQ(5, recv(self->s1, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "again", 5));
}

TEST_F_TIMEOUT(dev, remove_device, afib_tmo(150))
{
	int max, i, fam = variant->family, all_done, rev;
	struct blocked b[4];
	pthread_t th[4];
	uint16_t port;
	int64_t t0;
	char cmd[128];
	pid_t del;

	/* Setup may race with a device that was just re-added. */
	ASSERT_EQ(0, pair_retry(fam, &self->c1, &self->s1,
				afib_tmo(20) * 1000))
		TH_LOG("pair 1: %s", strerror(errno));
	ASSERT_EQ(0, pair_retry(fam, &self->c2, &self->s2,
				afib_tmo(20) * 1000))
		TH_LOG("pair 2: %s", strerror(errno));
	self->lfd = afib_listener(fam, 4, 0, &port);
	ASSERT_LE(0, self->lfd);
	max = afib_max_msg(self->c2);
	ASSERT_LT(0, max);

	memset(b, 0, sizeof(b));
	b[0] = (struct blocked){ .what = "recv on idle pair", .fd = self->c1, .op = 0,
				 .max = 16 };
	b[1] = (struct blocked){ .what = "send during transfer", .fd = self->c2, .op = 1,
				 .max = max };
	b[2] = (struct blocked){ .what = "accept", .fd = self->lfd, .op = 2,
				 .max = 16 };
	b[3] = (struct blocked){ .what = "slow reader", .fd = self->s2, .op = 3,
				 .max = max };
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_create(&th[i], NULL, blocked_fn, &b[i]));
	}

	/* Let the transfer get going and the sender block. */
	afib_msleep(1500);
	for (i = 0; i < 4; i++) {
		EXPECT_FALSE(b[i].done) TH_LOG("%s ended early: %zd %s",
					       b[i].what, b[i].ret,
					       strerror(b[i].err));
	}
	EXPECT_LT(0, b[3].bytes) TH_LOG("no transfer in progress");

	snprintf(cmd, sizeof(cmd), "rdma link delete %s", afib_devname());
	del = afib_run_async(cmd);
	ASSERT_LT(0, del);

	/* Every blocked call must wake up. */
	t0 = afib_now_ms();
	do {
		all_done = 1;
		for (i = 0; i < 4; i++)
			all_done &= b[i].done;
		if (!all_done)
			afib_msleep(20);
	} while (!all_done && afib_now_ms() - t0 < afib_tmo(30) * 1000);
	for (i = 0; i < 4; i++) {
		EXPECT_TRUE(b[i].done) TH_LOG("%s still blocked %lld ms after "
					      "device removal", b[i].what,
					      (long long)(afib_now_ms() - t0));
		if (!b[i].done)
			continue;
		TH_LOG("%s: %zd %s after %ld bytes", b[i].what, b[i].ret,
		       strerror(b[i].err), b[i].bytes);
		EXPECT_EQ(-1, b[i].ret) TH_LOG("%s returned %zd", b[i].what,
					       b[i].ret);
		EXPECT_TRUE(good_errno(b[i].err))
			TH_LOG("%s: %s, want ECONNRESET or ENODEV", b[i].what,
			       strerror(b[i].err));
	}

	/* poll tells event loops about it. */
	int fds[] = { self->c1, self->s1, self->c2, self->s2, self->lfd };
	static const char * const names[] = { "c1", "s1", "c2", "s2",
					      "listener" };

	for (i = 0; i < 5; i++) {
		rev = afib_poll1(fds[i], POLLIN | POLLOUT, AFIB_WAIT_MS);
		EXPECT_TRUE(rev & (POLLERR | POLLHUP))
			TH_LOG("poll %s: revents %#x", names[i], rev);
	}
	/*
	 * A socket nobody was blocked on reports the error on its next call
	 * (like TCP after a reset); further sends fail, nothing blocks.
	 */
	errno = 0;
	EXPECT_EQ(-1, recv(self->s1, cmd, 1, MSG_DONTWAIT));
	EXPECT_TRUE(good_errno(errno)) TH_LOG("recv on s1: %s",
					      strerror(errno));
	EXPECT_EQ(-1, send(self->s1, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(-1, send(self->c1, "x", 1, MSG_NOSIGNAL));

	/* Threads still blocked would hang join: close first, then join. */
	t0 = afib_now_ms();
	afib_close(&self->c1);
	afib_close(&self->s1);
	afib_close(&self->c2);
	afib_close(&self->s2);
	afib_close(&self->lfd);
	EXPECT_GT(afib_tmo(5) * 1000, afib_now_ms() - t0);
	for (i = 0; i < 4; i++) {
		if (b[i].done)
			pthread_join(th[i], NULL);
		else
			pthread_detach(th[i]);
	}

	/* The device removal itself must complete. */
	EXPECT_EQ(0, afib_wait_pid(del, afib_tmo(30) * 1000))
		TH_LOG("rdma link delete did not finish");
	EXPECT_FALSE(afib_dev_present());

	readd(_metadata, self, fam);
}

/* Sockets that never touched the device survive its removal. */
TEST_F_TIMEOUT(dev, remove_device_unbound_socket, afib_tmo(120))
{
	int fd = afib_socket(0), cfd, sfd;
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port = 0;
	char cmd[128];

	ASSERT_LE(0, fd);
	/* Make sure the device is usable before removing it. */
	ASSERT_EQ(0, pair_retry(variant->family, &cfd, &sfd,
				afib_tmo(20) * 1000));
	close(cfd);
	close(sfd);
	snprintf(cmd, sizeof(cmd), "rdma link delete %s", afib_devname());
	ASSERT_EQ(0, afib_run_cmd(cmd, afib_tmo(30) * 1000));
	ASSERT_EQ(0, afib_dev_add());
	/* The old, never used socket now works with the new device. */
	int64_t end = afib_now_ms() + afib_tmo(30) * 1000;
	int ret;

	while ((self->lfd = afib_listener(variant->family, 4, 0, &port)) < 0 &&
	       afib_now_ms() < end)
		afib_msleep(200);
	ASSERT_LE(0, self->lfd) TH_LOG("listener: %s", strerror(errno));
	len = afib_addr(variant->family, port, &ss);

	while ((ret = connect(fd, (void *)&ss, len)) &&
	       afib_now_ms() < end)
		afib_msleep(200);
	EXPECT_EQ(0, ret) TH_LOG("connect: %s", strerror(errno));
	close(fd);
}

/*
 * Remove the device while a reader (@tx false) or a writer (@tx true) of a
 * connected pair is stuck in a page fault on its own buffer, inside the
 * copy of recv() or send() (a writer holds reserved send buffers then).
 * The kernel must not hold anything the removal waits for while it copies
 * user memory: "rdma link delete" finishes although the fault is not
 * resolved.  Once it is, the call returns the whole message or fails with
 * ECONNRESET or ENODEV (a writer also EPIPE).
 */
static void remove_in_fault(struct __test_metadata *_metadata,
			    FIXTURE_DATA(dev) *self, int fam, bool tx)
{
	const char *who = tx ? "writer" : "reader";
	/* Static: a thread that never returns may still write it. */
	static struct afib_io io;
	struct afib_uffd u = { .fd = -1 };
	int64_t t0, dt;
	char cmd[128];
	pid_t del;
	char *msg;
	int rc;

	ASSERT_EQ(0, afib_uffd_open(&u))
		TH_LOG("userfaultfd: %s (CONFIG_USERFAULTFD?)",
		       strerror(errno));
	msg = malloc(u.size);
	ASSERT_NE(NULL, msg);
	afib_fill(msg, u.size, 61);
	ASSERT_EQ(0, pair_retry(fam, &self->c1, &self->s1,
				afib_tmo(20) * 1000))
		TH_LOG("pair: %s", strerror(errno));
	if (!tx) {
		/* Queued before the reader comes: it goes straight to copying. */
		ASSERT_EQ((ssize_t)u.size, send(self->s1, msg, u.size, 0));
		ASSERT_EQ(POLLIN, afib_poll1(self->c1, POLLIN, AFIB_WAIT_MS));
	}
	io = (struct afib_io){ .fd = self->c1, .tx = tx, .buf = u.page,
			       .len = u.size, .flags = MSG_NOSIGNAL };
	ASSERT_EQ(0, afib_io_start(&io));
	ASSERT_EQ(0, afib_uffd_wait(&u, AFIB_WAIT_MS))
		TH_LOG("the %s never touched its buffer: %s", who,
		       strerror(errno));

	snprintf(cmd, sizeof(cmd), "rdma link delete %s", afib_devname());
	t0 = afib_now_ms();
	del = afib_run_async(cmd);
	ASSERT_LT(0, del);
	rc = afib_wait_pid(del, afib_tmo(10) * 1000);
	dt = afib_now_ms() - t0;
	EXPECT_EQ(0, rc) TH_LOG("rdma link delete %s after %lld ms with the "
				"%s stuck in a page fault",
				rc < 0 ? "still running" : "failed",
				(long long)dt, who);
	if (!rc)
		TH_LOG("device removed in %lld ms, the %s in a page fault",
		       (long long)dt, who);

	/* Let the stuck call go on: a writer reads msg, a reader zeroes. */
	if (!tx)
		memset(msg, 0, u.size);
	EXPECT_EQ(0, afib_uffd_resolve(&u, msg))
		TH_LOG("UFFDIO_COPY: %s", strerror(errno));
	if (rc < 0) {
		rc = afib_wait_pid(del, afib_tmo(30) * 1000);
		TH_LOG("rdma link delete %s once the fault was resolved",
		       rc < 0 ? "still running" : "finished");
		if (rc < 0)
			kill(del, SIGKILL);
	}
	rc = afib_join(io.th, AFIB_WAIT_MS);
	EXPECT_EQ(0, rc) TH_LOG("the %s is still blocked after the fault "
				"was resolved", who);
	if (rc) {
		pthread_detach(io.th);
	} else if (io.ret == (ssize_t)u.size) {
		TH_LOG("%s returned the message length", who);
		if (!tx)
			EXPECT_EQ(-1, afib_check(u.page, u.size, 61));
	} else {
		TH_LOG("%s returned %zd: %s", who, io.ret, strerror(io.err));
		EXPECT_EQ(-1, io.ret);
		EXPECT_TRUE(good_errno(io.err) || (tx && io.err == EPIPE))
			TH_LOG("want ECONNRESET, ENODEV%s",
			       tx ? " or EPIPE" : "");
	}
	if (!rc)
		afib_uffd_close(&u);
	free(msg);
	afib_close(&self->c1);
	afib_close(&self->s1);
	EXPECT_FALSE(afib_dev_present());
	readd(_metadata, self, fam);
}

TEST_F_TIMEOUT(dev, remove_device_reader_in_fault, afib_tmo(180))
{
	remove_in_fault(_metadata, self, variant->family, false);
}

TEST_F_TIMEOUT(dev, remove_device_writer_in_fault, afib_tmo(180))
{
	remove_in_fault(_metadata, self, variant->family, true);
}

TEST_HARNESS_MAIN
