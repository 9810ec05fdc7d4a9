// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib non-blocking connect/accept, refused connections, backlog and the
 * connect state errors (EISCONN, EALREADY).
 */
#include "afib_lib.h"

FIXTURE(nb) {
	int lfd;
	uint16_t port;
};

FIXTURE_VARIANT(nb) {
	int family;
};

AFIB_VARIANTS(nb);

FIXTURE_SETUP(nb)
{
	self->lfd = afib_listener(variant->family, 16, 0, &self->port);
	ASSERT_LE(0, self->lfd) TH_LOG("listener: %s", strerror(errno));
}

FIXTURE_TEARDOWN(nb)
{
	afib_close(&self->lfd);
}

static int sock_error(int fd)
{
	int err = -1;
	socklen_t l = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l))
		return -errno;
	return err;
}

/* A port nobody listens on: bind one, note the port, close it. */
static int free_port(int family)
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(family, 0, &ss);
	int fd = afib_socket(0), port;

	if (fd < 0)
		return -1;
	if (bind(fd, (void *)&ss, len)) {
		close(fd);
		return -1;
	}
	port = afib_getport(fd);
	close(fd);
	return port;
}

TEST_F_TIMEOUT(nb, connect_nonblock, afib_tmo(30))
{
	struct sockaddr_storage ss, peer;
	socklen_t len = afib_addr(variant->family, self->port, &ss);
	int fd = afib_socket(SOCK_NONBLOCK), sfd, ret, rev;
	char buf[8];

	ASSERT_LE(0, fd);
	ret = connect(fd, (void *)&ss, len);
	if (ret) {
		ASSERT_EQ(EINPROGRESS, errno)
			TH_LOG("connect: %s", strerror(errno));
		rev = afib_poll1(fd, POLLOUT, AFIB_WAIT_MS);
		EXPECT_EQ(POLLOUT, rev & (POLLOUT | POLLERR | POLLHUP))
			TH_LOG("revents %#x", rev);
	}
	EXPECT_EQ(0, sock_error(fd));
	len = sizeof(peer);
	EXPECT_EQ(0, getpeername(fd, (void *)&peer, &len));
	EXPECT_TRUE(afib_same_addr(&ss, &peer));

	sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(2, send(fd, "hi", 2, 0));
	EXPECT_EQ(2, recv(sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(2, send(sfd, "ho", 2, 0));
	EXPECT_TRUE(afib_poll1(fd, POLLIN, AFIB_WAIT_MS) & POLLIN);
	EXPECT_EQ(2, recv(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "ho", 2));
	close(sfd);
	close(fd);
}

TEST_F_TIMEOUT(nb, connect_refused, afib_tmo(60))
{
	struct sockaddr_storage ss;
	int port = free_port(variant->family);
	socklen_t len;
	int fd;

	ASSERT_LT(0, port);
	len = afib_addr(variant->family, port, &ss);
	fd = afib_socket(0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(ECONNREFUSED, errno) TH_LOG("got %s", strerror(errno));
	close(fd);
}

TEST_F_TIMEOUT(nb, connect_refused_nonblock, afib_tmo(60))
{
	struct sockaddr_storage ss;
	int port = free_port(variant->family);
	socklen_t len;
	int fd, ret, rev;

	ASSERT_LT(0, port);
	len = afib_addr(variant->family, port, &ss);
	fd = afib_socket(SOCK_NONBLOCK);
	ASSERT_LE(0, fd);
	ret = connect(fd, (void *)&ss, len);
	if (ret) {
		ASSERT_TRUE(errno == EINPROGRESS || errno == ECONNREFUSED)
			TH_LOG("connect: %s", strerror(errno));
	}
	if (ret && errno == EINPROGRESS) {
		rev = afib_poll1(fd, POLLOUT, afib_tmo(40) * 1000);
		EXPECT_TRUE(rev & POLLERR) TH_LOG("revents %#x", rev);
		EXPECT_EQ(ECONNREFUSED, sock_error(fd));
		/* SO_ERROR is cleared by reading it. */
		EXPECT_EQ(0, sock_error(fd));
	} else {
		EXPECT_NE(0, ret);
	}
	close(fd);
}

TEST_F_TIMEOUT(nb, accept_nonblock, afib_tmo(30))
{
	int fd;

	ASSERT_EQ(0, fcntl(self->lfd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, accept(self->lfd, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, accept4(self->lfd, NULL, NULL, SOCK_CLOEXEC));
	EXPECT_EQ(EAGAIN, errno);
	/* A blocking listener with a timeout behaves the same after it. */
	ASSERT_EQ(0, fcntl(self->lfd, F_SETFL, 0));
	struct timeval tv = { 0, 200000 };

	ASSERT_EQ(0, setsockopt(self->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	EXPECT_EQ(-1, accept(self->lfd, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);

	fd = afib_connect(variant->family, self->port);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(self->lfd, F_SETFL, O_NONBLOCK));
	int sfd = -1;
	int64_t t0 = afib_now_ms();

	/* The connection is established, so it is (soon) acceptable. */
	while (sfd < 0 && afib_now_ms() - t0 < AFIB_WAIT_MS) {
		sfd = accept(self->lfd, NULL, NULL);
		if (sfd < 0) {
			ASSERT_EQ(EAGAIN, errno);
			afib_msleep(10);
		}
	}
	EXPECT_LE(0, sfd);
	if (sfd >= 0)
		close(sfd);
	close(fd);
}

TEST_F_TIMEOUT(nb, listener_pollin, afib_tmo(30))
{
	int fd, sfd, rev;

	EXPECT_EQ(0, afib_poll1(self->lfd, POLLIN | POLLOUT, 0));
	fd = afib_connect(variant->family, self->port);
	ASSERT_LE(0, fd);
	rev = afib_poll1(self->lfd, POLLIN, AFIB_WAIT_MS);
	EXPECT_EQ(POLLIN, rev);
	sfd = accept(self->lfd, NULL, NULL);
	EXPECT_LE(0, sfd);
	EXPECT_EQ(0, afib_poll1(self->lfd, POLLIN, 0));
	close(sfd);
	close(fd);
}

#define NCLI 6

/*
 * listen(fd, 1) and never accept while clients connect: at least one
 * connection completes, at most backlog + 1 (plus one of slack) do.
 */
TEST_F_TIMEOUT(nb, backlog, afib_tmo(90))
{
	int backlog = 1, lfd, cfd[NCLI], i, connected = 0, accepted = 0;
	int failed = 0, pending = 0;
	uint16_t port;

	lfd = afib_listener(variant->family, backlog, 0, &port);
	ASSERT_LE(0, lfd);
	for (i = 0; i < NCLI; i++) {
		struct sockaddr_storage ss;
		socklen_t len = afib_addr(variant->family, port, &ss);

		cfd[i] = afib_socket(SOCK_NONBLOCK);
		ASSERT_LE(0, cfd[i]);
		if (connect(cfd[i], (void *)&ss, len)) {
			ASSERT_EQ(EINPROGRESS, errno);
		}
	}
	/* Give every attempt time to get through (or not). */
	afib_msleep(afib_tmo(3) * 1000);
	for (i = 0; i < NCLI; i++) {
		int rev = afib_poll1(cfd[i], POLLOUT, 0);

		if (!rev)
			pending++;
		else if (rev & (POLLERR | POLLHUP))
			failed++;
		else if (sock_error(cfd[i]) == 0)
			connected++;
	}
	ASSERT_EQ(0, fcntl(lfd, F_SETFL, O_NONBLOCK));
	for (;;) {
		int s = accept(lfd, NULL, NULL);

		if (s < 0)
			break;
		accepted++;
		close(s);
	}
	TH_LOG("connected %d failed %d pending %d accepted %d", connected,
	       failed, pending, accepted);
	EXPECT_LE(1, connected);
	EXPECT_LE(1, accepted);
	EXPECT_GE(backlog + 2, connected);
	EXPECT_GE(backlog + 2, accepted);
	for (i = 0; i < NCLI; i++)
		close(cfd[i]);
	close(lfd);
}

TEST_F_TIMEOUT(nb, eisconn, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(variant->family, self->port, &ss);
	int fd = afib_connect(variant->family, self->port);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(EISCONN, errno);
	/* Also to a different address. */
	len = afib_addr(variant->family, self->port + 1, &ss);
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(EISCONN, errno);
	close(fd);
}

/*
 * An address on the test subnet that nobody holds: the CM request goes out
 * and is never answered, so the connect stays in progress for seconds.
 */
TEST_F_TIMEOUT(nb, ealready, afib_tmo(60))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr_host(variant->family,
				       variant->family == AF_INET6 ?
				       "2001:db8::99" : "192.0.2.99",
				       self->port, &ss);
	int fd = afib_socket(SOCK_NONBLOCK), rev;
	int64_t t0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, connect(fd, (void *)&ss, len));
	ASSERT_EQ(EINPROGRESS, errno) TH_LOG("got %s", strerror(errno));
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(EALREADY, errno) TH_LOG("got %s", strerror(errno));
	/* Still in progress a little later; a blocking peek says so too. */
	rev = afib_poll1(fd, POLLOUT | POLLIN, 300);
	EXPECT_EQ(0, rev) TH_LOG("revents %#x", rev);
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(EALREADY, errno) TH_LOG("got %s", strerror(errno));
	EXPECT_EQ(-1, send(fd, "x", 1, MSG_NOSIGNAL));
	/* close() aborts the attempt without waiting for the CM timeout. */
	t0 = afib_now_ms();
	close(fd);
	EXPECT_GT(afib_tmo(2) * 1000, afib_now_ms() - t0);
}

/* connect() again after the asynchronous connect completed. */
TEST_F_TIMEOUT(nb, connect_again, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(variant->family, self->port, &ss);
	int fd = afib_socket(SOCK_NONBLOCK), rev;

	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, connect(fd, (void *)&ss, len));
	ASSERT_EQ(EINPROGRESS, errno);
	if (connect(fd, (void *)&ss, len)) {
		/* Usually still in progress; it may have completed. */
		EXPECT_TRUE(errno == EALREADY || errno == EISCONN)
			TH_LOG("got %s", strerror(errno));
	}
	rev = afib_poll1(fd, POLLOUT, AFIB_WAIT_MS);
	EXPECT_EQ(POLLOUT, rev & (POLLOUT | POLLERR | POLLHUP));
	/*
	 * Connected now.  Like TCP, the first connect() after the
	 * asynchronous completion may report it (0); then EISCONN.
	 */
	if (connect(fd, (void *)&ss, len)) {
		EXPECT_EQ(EISCONN, errno);
	}
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(EISCONN, errno);
	close(fd);
}

/* A client that gives up before accept(): accept neither hangs nor breaks. */
TEST_F_TIMEOUT(nb, close_before_accept, afib_tmo(30))
{
	int fd = afib_connect(variant->family, self->port), sfd, rev;
	int64_t end;
	char c;

	ASSERT_LE(0, fd);
	close(fd);
	afib_msleep(300);
	ASSERT_EQ(0, fcntl(self->lfd, F_SETFL, O_NONBLOCK));
	sfd = accept(self->lfd, NULL, NULL);
	if (sfd < 0) {
		/* Dropped before accept: fine. */
		EXPECT_EQ(EAGAIN, errno) TH_LOG("accept: %s", strerror(errno));
	} else {
		/* Like TCP: accepted, then EOF (or a reset). */
		rev = afib_poll1(sfd, POLLIN | POLLRDHUP, AFIB_WAIT_MS);
		EXPECT_TRUE(rev & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
			TH_LOG("revents %#x", rev);
		errno = 0;
		EXPECT_GE(0, recv(sfd, &c, 1, MSG_DONTWAIT));
		EXPECT_NE(EAGAIN, errno);
		close(sfd);
	}
	/* The listener still works. */
	fd = afib_connect(variant->family, self->port);
	ASSERT_LE(0, fd);
	end = afib_now_ms() + AFIB_WAIT_MS;
	do {
		sfd = accept(self->lfd, NULL, NULL);
		if (sfd >= 0) {
			/* Skip a leftover of the first client, if any. */
			if (recv(sfd, &c, 1, MSG_DONTWAIT) < 0 &&
			    errno == EAGAIN)
				break;
			close(sfd);
			sfd = -1;
		}
		afib_msleep(20);
	} while (afib_now_ms() < end);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(1, send(fd, "k", 1, 0));
	EXPECT_EQ(1, recv(sfd, &c, 1, 0));
	close(sfd);
	close(fd);
}

/* Closing a listener with connections nobody accepted ends them. */
TEST_F_TIMEOUT(nb, listener_close_pending, afib_tmo(30))
{
	int fd[3], i, rev;
	char c;

	for (i = 0; i < 3; i++) {
		fd[i] = afib_connect(variant->family, self->port);
		ASSERT_LE(0, fd[i]);
	}
	afib_close(&self->lfd);
	for (i = 0; i < 3; i++) {
		rev = afib_wait_hup(fd[i]);
		EXPECT_TRUE(rev & (POLLHUP | POLLERR))
			TH_LOG("client %d: revents %#x", i, rev);
		errno = 0;
		/* TCP: ECONNRESET; an orderly EOF is fine too. */
		EXPECT_GE(0, recv(fd[i], &c, 1, MSG_DONTWAIT));
		EXPECT_NE(EAGAIN, errno);
		close(fd[i]);
	}
}

/* A blocking connect waits for a connect started non-blocking. */
TEST_F_TIMEOUT(nb, connect_nonblock_then_block, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(variant->family, self->port, &ss);
	int fd = afib_socket(SOCK_NONBLOCK), ret;

	ASSERT_LE(0, fd);
	ret = connect(fd, (void *)&ss, len);
	if (ret) {
		ASSERT_EQ(EINPROGRESS, errno);
	}
	ASSERT_EQ(0, fcntl(fd, F_SETFL, 0));
	ret = connect(fd, (void *)&ss, len);
	/* TCP: 0 if it completed while blocking, EISCONN if before. */
	if (ret) {
		EXPECT_EQ(EISCONN, errno);
	}
	EXPECT_EQ(POLLOUT, afib_poll1(fd, POLLOUT, 0));
	close(fd);
}

struct acceptor {
	int lfd, ret, err;
};

static void *accept_fn(void *arg)
{
	struct acceptor *a = arg;

	a->ret = accept(a->lfd, NULL, NULL);
	a->err = errno;
	return NULL;
}

/*
 * As TCP: shutdown(SHUT_RD) of a listener stops it.  A blocked accept()
 * wakes with EINVAL and new connections are refused.
 */
TEST_F_TIMEOUT(nb, shutdown_listener, afib_tmo(30))
{
	struct acceptor a = { .lfd = self->lfd };
	pthread_t t;
	int fd;

	ASSERT_EQ(0, pthread_create(&t, NULL, accept_fn, &a));
	afib_msleep(200);
	ASSERT_EQ(0, shutdown(self->lfd, SHUT_RDWR));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(-1, a.ret);
	EXPECT_EQ(EINVAL, a.err) TH_LOG("accept: %s", strerror(a.err));
	fd = afib_connect(variant->family, self->port);
	EXPECT_GT(0, fd);
	EXPECT_EQ(ECONNREFUSED, errno) TH_LOG("connect: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-1, accept(self->lfd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
