// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib bad input: every invalid call fails with the exact errno Linux TCP
 * (or UNIX SOCK_SEQPACKET, for message specifics) returns, and leaves the
 * socket usable.
 */
#include <sys/un.h>

#include "afib_lib.h"

enum addr_kind {
	A_LOCAL,	/* the local test address, port from the fixture */
	A_NULL,		/* NULL pointer */
	A_UNMAPPED,	/* pointer to an unmapped page */
	A_UNIX,		/* AF_UNIX */
	A_NONLOCAL,	/* an address no interface holds */
	A_SID_UDP,	/* sockaddr_ib, service ID in rdma_cm's UDP space */
	A_SID_WILD,	/* sockaddr_ib, service ID outside every port space */
};

enum {
	L_EXACT = -1,	/* sizeof the family's sockaddr */
	L_SHORT = -2,	/* one byte too short for the family */
	L_STORAGE = -3,	/* sizeof(struct sockaddr_storage) */
};

struct bad_addr {
	const char *name;
	int family;	/* 0: all variants */
	enum addr_kind addr;
	int len;
	int err;	/* 0: must succeed */
};

static const struct bad_addr bind_cases[] = {
	{ "len 0", 0, A_LOCAL, 0, EINVAL },
	{ "len 2 (family only)", 0, A_LOCAL, 2, EINVAL },
	{ "len too short", 0, A_LOCAL, L_SHORT, EINVAL },
	{ "len > sockaddr_storage", 0, A_LOCAL, 129, EINVAL },
	{ "AF_UNIX", 0, A_UNIX, sizeof(struct sockaddr_un), EAFNOSUPPORT },
	{ "NULL addr", 0, A_NULL, L_EXACT, EFAULT },
	{ "unmapped addr", 0, A_UNMAPPED, L_EXACT, EFAULT },
	{ "non-local addr", 0, A_NONLOCAL, L_EXACT, EADDRNOTAVAIL },
	{ "sid in UDP space", AF_IB, A_SID_UDP, L_EXACT, EINVAL },
	{ "sid in no port space", AF_IB, A_SID_WILD, L_EXACT, EINVAL },
	/* Longer than needed is fine (last: must succeed). */
	{ "len sockaddr_storage", 0, A_LOCAL, L_STORAGE, 0 },
};

static const struct bad_addr connect_cases[] = {
	{ "len 0", 0, A_LOCAL, 0, EINVAL },
	{ "len 2 (family only)", 0, A_LOCAL, 2, EINVAL },
	{ "len too short", 0, A_LOCAL, L_SHORT, EINVAL },
	{ "AF_UNIX", 0, A_UNIX, sizeof(struct sockaddr_un), EAFNOSUPPORT },
	{ "NULL addr", 0, A_NULL, L_EXACT, EFAULT },
	{ "unmapped addr", 0, A_UNMAPPED, L_EXACT, EFAULT },
	{ "sid in UDP space", AF_IB, A_SID_UDP, L_EXACT, EINVAL },
	{ "len sockaddr_storage", 0, A_LOCAL, L_STORAGE, 0 },
};

static int make_bad(int family, const struct bad_addr *c, uint16_t port,
		    struct sockaddr_storage *ss, void **addr)
{
	socklen_t exact = afib_addr(family, port, ss);

	*addr = ss;
	switch (c->addr) {
	case A_LOCAL:
		break;
	case A_NULL:
		*addr = NULL;
		break;
	case A_UNMAPPED:
		*addr = afib_bad_ptr();
		break;
	case A_UNIX: {
		struct sockaddr_un *sun = (void *)ss;

		memset(ss, 0, sizeof(*ss));
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, "/tmp/afib-not-here");
		break;
	}
	case A_NONLOCAL:
		afib_addr_host(family, family == AF_INET6 ? "2001:db8::99" :
			       "192.0.2.99", port, ss);
		break;
	case A_SID_UDP:
		((struct sockaddr_ib *)ss)->sib_sid =
			htobe64(0x0000000001110000ULL | port);
		break;
	case A_SID_WILD:
		((struct sockaddr_ib *)ss)->sib_sid =
			htobe64(0x1234567800000000ULL | port);
		break;
	}
	switch (c->len) {
	case L_EXACT:
		return exact;
	case L_SHORT:
		/* IPv6 takes the 24-byte RFC 2133 sockaddr_in6, like TCP. */
		return family == AF_INET6 ? 23 : exact - 1;
	case L_STORAGE:
		return sizeof(struct sockaddr_storage);
	}
	return c->len;
}

FIXTURE(bad) {
	int lfd, cfd, sfd;
	uint16_t port;
};

FIXTURE_VARIANT(bad) {
	int family;
};

AFIB_VARIANTS(bad);

FIXTURE_SETUP(bad)
{
	const char *step = "";

	ASSERT_EQ(0, afib_pair(variant->family, &self->cfd, &self->sfd,
			       &self->lfd, &self->port, 16, &step))
		TH_LOG("%s: %s", step, strerror(errno));
}

FIXTURE_TEARDOWN(bad)
{
	afib_pair_close(&self->cfd, &self->sfd, &self->lfd);
}

/* The fixture pair still carries a message in both directions. */
static bool pair_ok(int a, int b)
{
	char buf[16];

	if (send(a, "ok1", 3, MSG_NOSIGNAL) != 3 ||
	    afib_poll1(b, POLLIN, AFIB_WAIT_MS) != POLLIN ||
	    recv(b, buf, sizeof(buf), 0) != 3 || memcmp(buf, "ok1", 3))
		return false;
	if (send(b, "ok2", 3, MSG_NOSIGNAL) != 3 ||
	    afib_poll1(a, POLLIN, AFIB_WAIT_MS) != POLLIN ||
	    recv(a, buf, sizeof(buf), 0) != 3 || memcmp(buf, "ok2", 3))
		return false;
	return true;
}

TEST_F_TIMEOUT(bad, bind_table, afib_tmo(60))
{
	unsigned int i;

	for (i = 0; i < sizeof(bind_cases) / sizeof(bind_cases[0]); i++) {
		const struct bad_addr *c = &bind_cases[i];
		struct sockaddr_storage ss;
		void *addr;
		socklen_t len;
		int fd, ret;

		if (c->family && c->family != variant->family)
			continue;
		len = make_bad(variant->family, c, 0, &ss, &addr);
		fd = afib_socket(0);
		ASSERT_LE(0, fd);
		errno = 0;
		ret = bind(fd, addr, len);
		if (c->err) {
			EXPECT_EQ(-1, ret) TH_LOG("bind %s: succeeded", c->name);
			EXPECT_EQ(c->err, errno)
				TH_LOG("bind %s: got %s want %s", c->name,
				       strerror(errno), strerror(c->err));
			/* A failed bind leaves the socket unbound. */
			len = afib_addr(variant->family, 0, &ss);
			EXPECT_EQ(0, bind(fd, (void *)&ss, len))
				TH_LOG("bind after %s: %s", c->name,
				       strerror(errno));
		} else {
			EXPECT_EQ(0, ret) TH_LOG("bind %s: %s", c->name,
						 strerror(errno));
		}
		close(fd);
	}
}

TEST_F_TIMEOUT(bad, connect_table, afib_tmo(60))
{
	unsigned int i;

	for (i = 0; i < sizeof(connect_cases) / sizeof(connect_cases[0]);
	     i++) {
		const struct bad_addr *c = &connect_cases[i];
		struct sockaddr_storage ss;
		void *addr;
		socklen_t len;
		int fd, ret, sfd;

		if (c->family && c->family != variant->family)
			continue;
		len = make_bad(variant->family, c, self->port, &ss, &addr);
		fd = afib_socket(0);
		ASSERT_LE(0, fd);
		errno = 0;
		ret = connect(fd, addr, len);
		if (c->err) {
			EXPECT_EQ(-1, ret)
				TH_LOG("connect %s: succeeded", c->name);
			EXPECT_EQ(c->err, errno)
				TH_LOG("connect %s: got %s want %s", c->name,
				       strerror(errno), strerror(c->err));
			/* A failed connect leaves the socket usable. */
			len = afib_addr(variant->family, self->port, &ss);
			ret = connect(fd, (void *)&ss, len);
			EXPECT_EQ(0, ret) TH_LOG("connect after %s: %s",
						 c->name, strerror(errno));
		} else {
			EXPECT_EQ(0, ret) TH_LOG("connect %s: %s", c->name,
						 strerror(errno));
		}
		if (ret == 0) {
			sfd = accept(self->lfd, NULL, NULL);
			EXPECT_LE(0, sfd);
			if (sfd >= 0) {
				EXPECT_TRUE(pair_ok(fd, sfd));
				close(sfd);
			}
		}
		close(fd);
	}
}

TEST_F_TIMEOUT(bad, bind_twice, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(variant->family, 0, &ss);
	int fd = afib_socket(0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind(fd, (void *)&ss, len));
	EXPECT_EQ(-1, bind(fd, (void *)&ss, len));
	EXPECT_EQ(EINVAL, errno);
	/* Bound connected sockets too. */
	EXPECT_EQ(-1, bind(self->cfd, (void *)&ss, len));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bind(self->lfd, (void *)&ss, len));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F_TIMEOUT(bad, bind_in_use, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(variant->family, self->port, &ss);
	int fd = afib_socket(0);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, bind(fd, (void *)&ss, len));
	EXPECT_EQ(EADDRINUSE, errno) TH_LOG("got %s", strerror(errno));
	/* The wildcard address overlaps the listener's too. */
	len = afib_addr_host(variant->family, "any", self->port, &ss);
	EXPECT_EQ(-1, bind(fd, (void *)&ss, len));
	EXPECT_EQ(EADDRINUSE, errno) TH_LOG("wildcard: got %s",
					    strerror(errno));
	close(fd);
}

/* Like TCP: listen() on an unbound socket binds an ephemeral port. */
TEST_F_TIMEOUT(bad, listen_autobind, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = afib_socket(0), cfd, sfd, port;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, listen(fd, 4)) TH_LOG("listen: %s", strerror(errno));
	ASSERT_EQ(0, getsockname(fd, (void *)&ss, &len));
	port = afib_port_of(&ss);
	ASSERT_LT(0, port) TH_LOG("family %d", ss.ss_family);
	/* Listening on the wildcard: reachable through the test address. */
	cfd = afib_connect(variant->family, port);
	EXPECT_LE(0, cfd) TH_LOG("connect to auto-bound listener: %s",
				 strerror(errno));
	if (cfd >= 0) {
		sfd = accept(fd, NULL, NULL);
		EXPECT_LE(0, sfd);
		if (sfd >= 0) {
			EXPECT_TRUE(pair_ok(cfd, sfd));
			close(sfd);
		}
		close(cfd);
	}
	close(fd);
}

TEST_F_TIMEOUT(bad, listen_connected, afib_tmo(30))
{
	EXPECT_EQ(-1, listen(self->cfd, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, listen(self->sfd, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(pair_ok(self->cfd, self->sfd));
}

TEST_F_TIMEOUT(bad, accept_not_listening, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(variant->family, 0, &ss);
	int fd = afib_socket(0);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno) TH_LOG("fresh: %s", strerror(errno));
	ASSERT_EQ(0, bind(fd, (void *)&ss, len));
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno) TH_LOG("bound: %s", strerror(errno));
	EXPECT_EQ(-1, accept(self->cfd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno) TH_LOG("connected: %s", strerror(errno));
	close(fd);
}

TEST_F_TIMEOUT(bad, unconnected_io, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(variant->family, 0, &ss);
	int fds[3], i;
	char c;

	fds[0] = afib_socket(0);
	fds[1] = afib_socket(0);
	ASSERT_LE(0, fds[0]);
	ASSERT_LE(0, fds[1]);
	ASSERT_EQ(0, bind(fds[1], (void *)&ss, len));
	fds[2] = self->lfd;
	for (i = 0; i < 3; i++) {
		static const char * const what[] = { "fresh", "bound",
						     "listening" };

		EXPECT_EQ(-1, send(fds[i], "x", 1, MSG_NOSIGNAL));
		EXPECT_EQ(ENOTCONN, errno) TH_LOG("send %s: %s", what[i],
						  strerror(errno));
		EXPECT_EQ(-1, recv(fds[i], &c, 1, MSG_DONTWAIT));
		EXPECT_EQ(ENOTCONN, errno) TH_LOG("recv %s: %s", what[i],
						  strerror(errno));
		EXPECT_EQ(-1, recv(fds[i], &c, 1, 0));
		EXPECT_EQ(ENOTCONN, errno) TH_LOG("blocking recv %s: %s",
						  what[i], strerror(errno));
		len = sizeof(ss);
		EXPECT_EQ(-1, getpeername(fds[i], (void *)&ss, &len));
		EXPECT_EQ(ENOTCONN, errno) TH_LOG("getpeername %s: %s",
						  what[i], strerror(errno));
		if (i < 2) {
			EXPECT_EQ(-1, shutdown(fds[i], SHUT_RDWR));
			EXPECT_EQ(ENOTCONN, errno)
				TH_LOG("shutdown %s: %s", what[i],
				       strerror(errno));
		}
	}
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(bad, shutdown_how, afib_tmo(30))
{
	EXPECT_EQ(-1, shutdown(self->cfd, 3));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, shutdown(self->cfd, -1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(pair_ok(self->cfd, self->sfd));
}

TEST_F_TIMEOUT(bad, msg_oob, afib_tmo(30))
{
	char c;

	EXPECT_EQ(-1, send(self->cfd, "x", 1, MSG_OOB | MSG_NOSIGNAL));
	EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("send: %s", strerror(errno));
	ASSERT_EQ(1, send(self->sfd, "y", 1, 0));
	ASSERT_EQ(POLLIN, afib_poll1(self->cfd, POLLIN, AFIB_WAIT_MS));
	EXPECT_EQ(-1, recv(self->cfd, &c, 1, MSG_OOB));
	EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("recv: %s", strerror(errno));
	/* The normal message is still there. */
	EXPECT_EQ(1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ('y', c);
	EXPECT_TRUE(pair_ok(self->cfd, self->sfd));
}

TEST_F_TIMEOUT(bad, sockopts, afib_tmo(30))
{
	static const struct {
		const char *name;
		int opt;
		socklen_t len;
		int err;
	} t[] = {
		{ "unknown option 99", 99, 4, ENOPROTOOPT },
		{ "unknown option 0", 0, 4, ENOPROTOOPT },
		{ "MAX_MSG_SIZE optlen 3", AFIB_MAX_MSG_SIZE, 3, EINVAL },
		{ "MAX_MSG_SIZE optlen 0", AFIB_MAX_MSG_SIZE, 0, EINVAL },
		{ "MAX_MSG_SIZE optlen -1", AFIB_MAX_MSG_SIZE, (socklen_t)-1,
		  EINVAL },
		{ "MAX_MSG_SIZE optlen 8", AFIB_MAX_MSG_SIZE, 8, 0 },
	};
	unsigned int i;
	int v[2];
	socklen_t l;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int ret;

		l = t[i].len;
		errno = 0;
		ret = getsockopt(self->cfd, SOL_AFIB, t[i].opt, v, &l);
		if (t[i].err) {
			EXPECT_EQ(-1, ret) TH_LOG("%s: succeeded", t[i].name);
			EXPECT_EQ(t[i].err, errno)
				TH_LOG("%s: got %s want %s", t[i].name,
				       strerror(errno), strerror(t[i].err));
		} else {
			EXPECT_EQ(0, ret) TH_LOG("%s: %s", t[i].name,
						 strerror(errno));
			EXPECT_EQ(sizeof(int), l) TH_LOG("%s", t[i].name);
		}
	}
	v[0] = 1;
	EXPECT_EQ(-1, setsockopt(self->cfd, SOL_AFIB, 99, v, sizeof(int)));
	EXPECT_EQ(ENOPROTOOPT, errno);

	/* Bad pointers. */
	l = sizeof(int);
	EXPECT_EQ(-1, getsockopt(self->cfd, SOL_AFIB, AFIB_MAX_MSG_SIZE,
				 afib_bad_ptr(), &l));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, getsockopt(self->cfd, SOL_AFIB, AFIB_MAX_MSG_SIZE, v,
				 afib_bad_ptr()));
	EXPECT_EQ(EFAULT, errno);
	l = sizeof(struct afib_info);
	EXPECT_EQ(-1, getsockopt(self->cfd, SOL_AFIB, AFIB_INFO,
				 afib_bad_ptr(), &l));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_TRUE(pair_ok(self->cfd, self->sfd));
}

TEST_F_TIMEOUT(bad, sendmsg_efault, afib_tmo(30))
{
	struct iovec iov[2] = { { (void *)"ab", 2 }, { afib_bad_ptr(), 10 } };
	struct msghdr msg = { .msg_iov = afib_bad_ptr(), .msg_iovlen = 1 };
	char buf[16];

	EXPECT_EQ(-1, sendmsg(self->cfd, &msg, MSG_NOSIGNAL));
	EXPECT_EQ(EFAULT, errno) TH_LOG("msg_iov: %s", strerror(errno));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	EXPECT_EQ(-1, sendmsg(self->cfd, &msg, MSG_NOSIGNAL));
	EXPECT_EQ(EFAULT, errno) TH_LOG("iov_base: %s", strerror(errno));
	EXPECT_EQ(-1, send(self->cfd, afib_bad_ptr(), 100, MSG_NOSIGNAL));
	EXPECT_EQ(EFAULT, errno) TH_LOG("send: %s", strerror(errno));
	/* Nothing (not even a partial message) went out. */
	ASSERT_EQ(3, send(self->cfd, "ok!", 3, 0));
	ASSERT_EQ(POLLIN, afib_poll1(self->sfd, POLLIN, AFIB_WAIT_MS));
	EXPECT_EQ(3, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "ok!", 3));
	EXPECT_TRUE(pair_ok(self->cfd, self->sfd));
}

TEST_F_TIMEOUT(bad, recv_efault, afib_tmo(30))
{
	struct msghdr msg = { .msg_iov = afib_bad_ptr(), .msg_iovlen = 1 };
	char buf[16];
	ssize_t n;

	ASSERT_EQ(3, send(self->sfd, "one", 3, 0));
	ASSERT_EQ(POLLIN, afib_poll1(self->cfd, POLLIN, AFIB_WAIT_MS));
	EXPECT_EQ(-1, recv(self->cfd, afib_bad_ptr(), 100, 0));
	EXPECT_EQ(EFAULT, errno) TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(-1, recvmsg(self->cfd, &msg, 0));
	EXPECT_EQ(EFAULT, errno) TH_LOG("msg_iov: %s", strerror(errno));
	ASSERT_EQ(3, send(self->sfd, "two", 3, 0));
	/* "one" may have been consumed by the failed recv; "two" is next. */
	n = recv(self->cfd, buf, sizeof(buf), 0);
	ASSERT_EQ(3, n);
	if (!memcmp(buf, "one", 3)) {
		n = recv(self->cfd, buf, sizeof(buf), 0);
		ASSERT_EQ(3, n);
	}
	EXPECT_EQ(0, memcmp(buf, "two", 3));
	EXPECT_TRUE(pair_ok(self->cfd, self->sfd));
}

TEST(closed_fd)
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(AF_INET, 0, &ss), l = sizeof(int);
	int fd = afib_socket(0), v;
	char c;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-1, bind(fd, (void *)&ss, len));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, listen(fd, 1));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, send(fd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, recv(fd, &c, 1, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, getsockopt(fd, SOL_AFIB, AFIB_MAX_MSG_SIZE, &v, &l));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, shutdown(fd, SHUT_RDWR));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, close(fd));
	EXPECT_EQ(EBADF, errno);
}

TEST_HARNESS_MAIN
