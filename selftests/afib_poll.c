// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib readiness: poll, select and epoll (level and edge triggered) on
 * connected sockets, on peer close/shutdown and for a blocked writer.
 */
#include <sys/epoll.h>
#include <sys/select.h>

#include "afib_lib.h"

FIXTURE(pl) {
	int lfd, cfd, sfd;
	uint16_t port;
};

FIXTURE_VARIANT(pl) {
	int family;
};

AFIB_VARIANTS(pl);

FIXTURE_SETUP(pl)
{
	const char *step = "";

	ASSERT_EQ(0, afib_pair(variant->family, &self->cfd, &self->sfd,
			       &self->lfd, &self->port, 16, &step))
		TH_LOG("%s: %s", step, strerror(errno));
}

FIXTURE_TEARDOWN(pl)
{
	afib_pair_close(&self->cfd, &self->sfd, &self->lfd);
}

#define ALL_EV	(POLLIN | POLLOUT | POLLRDHUP | POLLPRI)

TEST_F_TIMEOUT(pl, idle, afib_tmo(30))
{
	EXPECT_EQ(POLLOUT, afib_poll1(self->cfd, ALL_EV, 0));
	EXPECT_EQ(POLLOUT, afib_poll1(self->sfd, ALL_EV, 0));
	/* Nothing becomes readable by itself. */
	EXPECT_EQ(0, afib_poll1(self->cfd, POLLIN | POLLRDHUP, 300));
}

TEST_F_TIMEOUT(pl, data_pending, afib_tmo(30))
{
	char buf[16];

	ASSERT_EQ(3, send(self->sfd, "abc", 3, 0));
	EXPECT_EQ(POLLIN, afib_poll1(self->cfd, POLLIN, AFIB_WAIT_MS));
	EXPECT_EQ(POLLIN | POLLOUT, afib_poll1(self->cfd, ALL_EV, 0));
	/* Level triggered: still readable. */
	EXPECT_EQ(POLLIN, afib_poll1(self->cfd, POLLIN, 0));
	EXPECT_EQ(3, recv(self->cfd, buf, sizeof(buf), 0));
	EXPECT_EQ(POLLOUT, afib_poll1(self->cfd, ALL_EV, 0));
	/* Two messages: readable until both are read. */
	ASSERT_EQ(1, send(self->sfd, "a", 1, 0));
	ASSERT_EQ(1, send(self->sfd, "b", 1, 0));
	EXPECT_EQ(POLLIN, afib_poll1(self->cfd, POLLIN, AFIB_WAIT_MS));
	EXPECT_EQ(1, recv(self->cfd, buf, sizeof(buf), 0));
	EXPECT_EQ(POLLIN, afib_poll1(self->cfd, POLLIN, AFIB_WAIT_MS));
	EXPECT_EQ(1, recv(self->cfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, afib_poll1(self->cfd, POLLIN, 0));
}

/* poll() sleeping when the data arrives must be woken. */
TEST_F_TIMEOUT(pl, poll_wakeup, afib_tmo(30))
{
	int64_t t0;
	int rev;
	char c;

	if (fork() == 0) {
		afib_msleep(300);
		send(self->sfd, "w", 1, 0);
		_exit(0);
	}
	t0 = afib_now_ms();
	rev = afib_poll1(self->cfd, POLLIN, AFIB_WAIT_MS);
	EXPECT_EQ(POLLIN, rev);
	EXPECT_GT(AFIB_WAIT_MS, afib_now_ms() - t0);
	EXPECT_EQ(1, recv(self->cfd, &c, 1, 0));
}

TEST_F_TIMEOUT(pl, select, afib_tmo(30))
{
	struct timeval tv = { 0, 0 };
	fd_set r, w;
	char c;

	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(self->cfd, &r);
	FD_SET(self->cfd, &w);
	EXPECT_EQ(1, select(self->cfd + 1, &r, &w, NULL, &tv));
	EXPECT_FALSE(FD_ISSET(self->cfd, &r));
	EXPECT_TRUE(FD_ISSET(self->cfd, &w));

	ASSERT_EQ(1, send(self->sfd, "s", 1, 0));
	FD_ZERO(&r);
	FD_SET(self->cfd, &r);
	tv.tv_sec = AFIB_WAIT_MS / 1000;
	EXPECT_EQ(1, select(self->cfd + 1, &r, NULL, NULL, &tv));
	EXPECT_TRUE(FD_ISSET(self->cfd, &r));
	EXPECT_EQ(1, recv(self->cfd, &c, 1, 0));
}

static int epoll_one(int ep, struct epoll_event *ev, int ms)
{
	int n;

	do {
		n = epoll_wait(ep, ev, 1, ms);
	} while (n < 0 && errno == EINTR);
	return n;
}

TEST_F_TIMEOUT(pl, epoll_level, afib_tmo(30))
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = self->cfd };
	int ep = epoll_create1(0);
	char c;

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->cfd, &ev));
	EXPECT_EQ(0, epoll_one(ep, &ev, 100));
	ASSERT_EQ(1, send(self->sfd, "l", 1, 0));
	EXPECT_EQ(1, epoll_one(ep, &ev, AFIB_WAIT_MS));
	EXPECT_EQ(EPOLLIN, ev.events);
	/* Still unread: reported again. */
	EXPECT_EQ(1, epoll_one(ep, &ev, 0));
	EXPECT_EQ(1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(0, epoll_one(ep, &ev, 100));
	close(ep);
}

TEST_F_TIMEOUT(pl, epoll_edge, afib_tmo(30))
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
				  .data.fd = self->cfd };
	int ep = epoll_create1(0), i;
	char buf[8];

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->cfd, &ev));
	EXPECT_EQ(0, epoll_one(ep, &ev, 100));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, send(self->sfd, "e", 1, 0));
		EXPECT_EQ(1, epoll_one(ep, &ev, AFIB_WAIT_MS))
			TH_LOG("arrival %d not reported", i);
		EXPECT_TRUE(ev.events & EPOLLIN);
		/* Once per arrival, even though it is still unread. */
		EXPECT_EQ(0, epoll_one(ep, &ev, 300))
			TH_LOG("arrival %d reported twice", i);
	}
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(1, recv(self->cfd, buf, sizeof(buf), 0));
	}
	EXPECT_EQ(0, epoll_one(ep, &ev, 100));
	close(ep);
}

TEST_F_TIMEOUT(pl, peer_close, afib_tmo(30))
{
	int rev;
	char c;

	afib_close(&self->sfd);
	rev = afib_poll1(self->cfd, POLLIN | POLLRDHUP, AFIB_WAIT_MS);
	EXPECT_TRUE(rev & POLLIN) TH_LOG("revents %#x", rev);
	EXPECT_TRUE(rev & POLLRDHUP) TH_LOG("revents %#x", rev);
	/* The RC connection is gone in both directions. */
	rev = afib_wait_hup(self->cfd);
	EXPECT_TRUE(rev & POLLHUP) TH_LOG("revents %#x", rev);
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	/* epoll agrees. */
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	int ep = epoll_create1(0);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->cfd, &ev));
	EXPECT_EQ(1, epoll_one(ep, &ev, 0));
	EXPECT_TRUE(ev.events & EPOLLRDHUP);
	EXPECT_TRUE(ev.events & EPOLLHUP);
	close(ep);
}

/* A sleeping poll() is woken by the peer's close. */
TEST_F_TIMEOUT(pl, peer_close_wakeup, afib_tmo(30))
{
	int rev;

	if (fork() == 0) {
		afib_msleep(300);
		close(self->sfd);
		_exit(0);
	}
	afib_close(&self->sfd);
	rev = afib_poll1(self->cfd, POLLIN | POLLRDHUP, AFIB_WAIT_MS);
	EXPECT_TRUE(rev & POLLRDHUP) TH_LOG("revents %#x", rev);
}

TEST_F_TIMEOUT(pl, peer_shutdown_wr, afib_tmo(30))
{
	int rev;

	ASSERT_EQ(0, shutdown(self->sfd, SHUT_WR));
	rev = afib_poll1(self->cfd, POLLIN | POLLRDHUP, AFIB_WAIT_MS);
	EXPECT_TRUE(rev & POLLRDHUP) TH_LOG("revents %#x", rev);
	/* Half close only: still writable, no hang-up. */
	rev = afib_poll1(self->cfd, ALL_EV, 0);
	EXPECT_EQ(POLLIN | POLLRDHUP | POLLOUT, rev);
	/* The side that shut down: writes end, so no POLLHUP yet either. */
	rev = afib_poll1(self->sfd, ALL_EV, 0);
	EXPECT_FALSE(rev & (POLLHUP | POLLIN)) TH_LOG("revents %#x", rev);
}

/*
 * A writer blocked by a reader that does not read gets POLLOUT back once
 * the reader drains.
 */
/*
 * For the writer tests: a buffer of the largest message, filled with
 * @fill, and @fd made non-blocking.  NULL on failure.
 */
static char *writer_prep(int fd, int fill, int *max)
{
	char *buf;

	*max = afib_max_msg(fd);
	if (*max <= 0 || fcntl(fd, F_SETFL, O_NONBLOCK))
		return NULL;
	buf = malloc(*max);
	if (buf)
		memset(buf, fill, *max);
	return buf;
}

/*
 * A child that, after 300 ms, reads @fd until it fails: the peer of a
 * blocked writer draining.  Returns its pid, or -1.
 */
static pid_t drain_later(int fd, char *buf, int max)
{
	pid_t pid = fork();

	if (pid == 0) {
		afib_msleep(300);
		while (recv(fd, buf, max, 0) > 0)
			;
		_exit(0);
	}
	return pid;
}

TEST_F_TIMEOUT(pl, writer_pollout, afib_tmo(120))
{
	int64_t start = afib_now_ms();
	long sent = 0, got = 0;
	int max, rev;
	ssize_t n;
	char *buf;

	buf = writer_prep(self->cfd, 'w', &max);
	ASSERT_NE(NULL, buf);
	/* Fill until EAGAIN. */
	for (;;) {
		n = send(self->cfd, buf, max, 0);
		if (n < 0) {
			ASSERT_EQ(EAGAIN, errno);
			/* Maybe the pipeline is still moving: wait a bit. */
			if (afib_poll1(self->cfd, POLLOUT, 500) & POLLOUT)
				continue;
			break;
		}
		ASSERT_EQ(max, n);
		sent += n;
		ASSERT_GT(afib_tmo(60) * 1000, afib_now_ms() - start)
			TH_LOG("writer never blocked (%ld bytes)", sent);
	}
	TH_LOG("blocked after %ld bytes", sent);
	EXPECT_EQ(0, afib_poll1(self->cfd, POLLOUT, 0));

	/* Drain; the writer must become writable again. */
	rev = 0;
	start = afib_now_ms();
	while (!(rev & POLLOUT) && afib_now_ms() - start < AFIB_WAIT_MS) {
		while ((n = recv(self->sfd, buf, max, MSG_DONTWAIT)) > 0)
			got += n;
		rev = afib_poll1(self->cfd, POLLOUT, 50);
	}
	EXPECT_TRUE(rev & POLLOUT) TH_LOG("drained %ld, revents %#x", got,
					  rev);
	EXPECT_LT(0, send(self->cfd, buf, max, 0));
	free(buf);
}

/* Same, with a writer sleeping in poll() while another task drains. */
TEST_F_TIMEOUT(pl, writer_pollout_wakeup, afib_tmo(120))
{
	int64_t start = afib_now_ms();
	int max, rev;
	pid_t pid;
	ssize_t n;
	char *buf;

	buf = writer_prep(self->cfd, 'v', &max);
	ASSERT_NE(NULL, buf);
	for (;;) {
		n = send(self->cfd, buf, max, 0);
		if (n < 0) {
			ASSERT_EQ(EAGAIN, errno);
			if (afib_poll1(self->cfd, POLLOUT, 500) & POLLOUT)
				continue;
			break;
		}
		ASSERT_GT(afib_tmo(60) * 1000, afib_now_ms() - start);
	}
	pid = drain_later(self->sfd, buf, max);
	ASSERT_LE(0, pid);
	rev = afib_poll1(self->cfd, POLLOUT, AFIB_WAIT_MS);
	EXPECT_TRUE(rev & POLLOUT) TH_LOG("revents %#x", rev);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	free(buf);
}

/*
 * Edge-triggered EPOLLOUT registered while writable: a writer that then
 * fills the window to EAGAIN (and polls nothing in between) must get
 * EPOLLOUT once the peer drains.
 */
TEST_F_TIMEOUT(pl, writer_epollet, afib_tmo(120))
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	int64_t start = afib_now_ms();
	int max, ep, n_ev;
	pid_t pid;
	ssize_t n;
	char *buf;

	buf = writer_prep(self->cfd, 'e', &max);
	ASSERT_NE(NULL, buf);
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->cfd, &ev));
	/* The edge of the registration itself. */
	ASSERT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	ASSERT_TRUE(ev.events & EPOLLOUT);
	while ((n = send(self->cfd, buf, max, 0)) > 0)
		ASSERT_GT(afib_tmo(60) * 1000, afib_now_ms() - start);
	ASSERT_EQ(EAGAIN, errno);
	pid = drain_later(self->sfd, buf, max);
	ASSERT_LE(0, pid);
	n_ev = epoll_wait(ep, &ev, 1, AFIB_WAIT_MS);
	EXPECT_EQ(1, n_ev);
	EXPECT_TRUE(n_ev == 1 && (ev.events & EPOLLOUT))
		TH_LOG("events %#x", n_ev == 1 ? ev.events : 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ep);
	free(buf);
}

TEST_HARNESS_MAIN
