// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib SOCK_SEQPACKET basics: socket creation, names, message semantics,
 * timeouts, signals, close/shutdown and the SOL_AFIB options.
 */
#include "afib_lib.h"

/* ---- socket creation ------------------------------------------------- */

TEST(socket_types)
{
	static const struct {
		const char *name;
		int type, proto, err;
	} t[] = {
		{ "seqpacket", SOCK_SEQPACKET, 0, 0 },
		{ "seqpacket|nonblock|cloexec",
		  SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0 },
		{ "seqpacket proto 1", SOCK_SEQPACKET, 1, EPROTONOSUPPORT },
		{ "seqpacket proto IPPROTO_TCP", SOCK_SEQPACKET, IPPROTO_TCP,
		  EPROTONOSUPPORT },
		{ "seqpacket proto 255", SOCK_SEQPACKET, 255, EPROTONOSUPPORT },
		{ "dgram", SOCK_DGRAM, 0, AFIB_DGRAM_ERRNO },
		{ "raw", SOCK_RAW, 0, ESOCKTNOSUPPORT },
		{ "rdm", SOCK_RDM, 0, ESOCKTNOSUPPORT },
	};
	unsigned int i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int fd;

		errno = 0;
		fd = socket(AF_IB, t[i].type, t[i].proto);
		if (!t[i].err) {
			EXPECT_LE(0, fd) TH_LOG("%s: %s", t[i].name,
						strerror(errno));
		} else {
			EXPECT_EQ(-1, fd) TH_LOG("%s: succeeded", t[i].name);
			EXPECT_EQ(t[i].err, errno)
				TH_LOG("%s: got %s want %s", t[i].name,
				       strerror(errno), strerror(t[i].err));
		}
		if (fd >= 0)
			close(fd);
	}
}

TEST(socket_flags)
{
	int fd = socket(AF_IB, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	int type;
	socklen_t l = sizeof(type);

	ASSERT_LE(0, fd);
	EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l));
	EXPECT_EQ(SOCK_SEQPACKET, type);
	l = sizeof(type);
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &type, &l));
	EXPECT_EQ(AF_IB, type);
	close(fd);

	fd = afib_socket(0);
	ASSERT_LE(0, fd);
	EXPECT_FALSE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_FALSE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

/* ---- bind ------------------------------------------------------------ */

FIXTURE(sock) {
	int fd;
};

FIXTURE_VARIANT(sock) {
	int family;
};

AFIB_VARIANTS(sock);

FIXTURE_SETUP(sock)
{
	self->fd = afib_socket(0);
	ASSERT_LE(0, self->fd) TH_LOG("socket: %s", strerror(errno));
}

FIXTURE_TEARDOWN(sock)
{
	afib_close(&self->fd);
}

TEST_F_TIMEOUT(sock, bind_ephemeral, afib_tmo(30))
{
	struct sockaddr_storage ss, got;
	socklen_t len = afib_addr(variant->family, 0, &ss), glen;
	int port;

	ASSERT_EQ(0, bind(self->fd, (void *)&ss, len))
		TH_LOG("bind %s: %s", afib_ntop(&ss), strerror(errno));
	memset(&got, 0xa5, sizeof(got));
	glen = sizeof(got);
	ASSERT_EQ(0, getsockname(self->fd, (void *)&got, &glen));
	EXPECT_EQ(afib_addr_len(variant->family), glen);
	ASSERT_EQ(variant->family, got.ss_family);
	port = afib_port_of(&got);
	EXPECT_LT(0, port);
	afib_addr(variant->family, port, &ss);
	EXPECT_TRUE(afib_same_addr(&ss, &got))
		TH_LOG("getsockname %s, bound %s", afib_ntop(&got),
		       afib_ntop(&ss));
	if (variant->family == AF_IB) {
		struct sockaddr_ib *sib = (void *)&got;

		EXPECT_EQ(AFIB_SID_PS_TCP,
			  be64toh(sib->sib_sid) & AFIB_SID_PS_MASK);
	}
}

TEST_F_TIMEOUT(sock, bind_explicit_port, afib_tmo(30))
{
	struct sockaddr_storage ss, got;
	socklen_t len = afib_addr(variant->family, 0, &ss), glen;
	int tmp = afib_socket(0), port;

	/* Find a free port with a throw-away socket. */
	ASSERT_LE(0, tmp);
	ASSERT_EQ(0, bind(tmp, (void *)&ss, len));
	port = afib_getport(tmp);
	ASSERT_LT(0, port);
	close(tmp);

	len = afib_addr(variant->family, port, &ss);
	ASSERT_EQ(0, bind(self->fd, (void *)&ss, len))
		TH_LOG("bind %s: %s", afib_ntop(&ss), strerror(errno));
	glen = sizeof(got);
	ASSERT_EQ(0, getsockname(self->fd, (void *)&got, &glen));
	EXPECT_TRUE(afib_same_addr(&ss, &got))
		TH_LOG("getsockname %s, bound %s", afib_ntop(&got),
		       afib_ntop(&ss));
}

TEST_F_TIMEOUT(sock, bind_wildcard, afib_tmo(30))
{
	struct sockaddr_storage ss, got;
	socklen_t len = afib_addr_host(variant->family, "any", 0, &ss), glen;

	ASSERT_EQ(0, bind(self->fd, (void *)&ss, len))
		TH_LOG("bind %s: %s", afib_ntop(&ss), strerror(errno));
	glen = sizeof(got);
	ASSERT_EQ(0, getsockname(self->fd, (void *)&got, &glen));
	EXPECT_EQ(variant->family, got.ss_family);
	EXPECT_LT(0, afib_port_of(&got));
}

/*
 * No route to the destination: ENETUNREACH at once, as TCP, whether the
 * socket is bound to a local address or not (SO_SNDTIMEO makes a connect
 * that waits instead fail the case in seconds).
 */
TEST_F_TIMEOUT(sock, connect_noroute, afib_tmo(30))
{
	const char *host = variant->family == AF_INET6 ? "2001:db8:99::77" :
			   "100.64.0.77";
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_storage ss, src;
	socklen_t len = afib_addr_host(variant->family, host, 9, &ss);
	socklen_t slen = afib_addr(variant->family, 0, &src);
	socklen_t elen = sizeof(int);
	int i, err = -1;

	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	for (i = 0; i < 2; i++) {
		if (i)
			ASSERT_EQ(0, bind(self->fd, (void *)&src, slen));
		EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
		EXPECT_EQ(ENETUNREACH, errno) TH_LOG("%s: %s", i ? "bound" :
						     "unbound", strerror(errno));
	}
	EXPECT_EQ(0, getsockopt(self->fd, SOL_SOCKET, SO_ERROR, &err, &elen));
	EXPECT_EQ(0, err);
}

/* Unconnected socket: AFIB_INFO reports no device, no QP peer. */
TEST_F(sock, info_unconnected)
{
	struct afib_info info;
	socklen_t l = sizeof(info);

	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, getsockopt(self->fd, SOL_AFIB, AFIB_INFO, &info, &l))
		TH_LOG("AFIB_INFO: %s", strerror(errno));
	EXPECT_EQ(sizeof(info), l);
	EXPECT_EQ(sizeof(info), info.size);
	EXPECT_EQ(TCP_CLOSE, info.state);
	EXPECT_EQ(0, info.dest_qp_num);
	EXPECT_EQ(0, info.path_mtu);
	EXPECT_EQ(0, info.port);
	EXPECT_EQ(0, info.reserved);
	EXPECT_EQ(0, info.dev_name[0]);
	EXPECT_LE(65536, info.max_msg_size);
}

/* ---- connected pair -------------------------------------------------- */

FIXTURE(pair) {
	int lfd, cfd, sfd;
	uint16_t port;
};

FIXTURE_VARIANT(pair) {
	int family;
};

AFIB_VARIANTS(pair);

FIXTURE_SETUP(pair)
{
	const char *step = "";

	ASSERT_EQ(0, afib_pair(variant->family, &self->cfd, &self->sfd,
			       &self->lfd, &self->port, 16, &step))
		TH_LOG("%s: %s", step, strerror(errno));
}

FIXTURE_TEARDOWN(pair)
{
	afib_pair_close(&self->cfd, &self->sfd, &self->lfd);
}

/* Send @len bytes of message @seed on @tx, receive and check it on @rx. */
static int xfer(struct __test_metadata *_metadata, int tx, int rx,
		size_t len, uint32_t seed)
{
	char *buf = malloc(len + 1), *rbuf = malloc(len + 16);
	struct iovec iov = { rbuf, len + 16 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int ok = 0;

	afib_fill(buf, len, seed);
	n = send(tx, buf, len, 0);
	if (n != (ssize_t)len) {
		TH_LOG("send %zu: %zd %s", len, n, strerror(errno));
	} else {
		/* @rx may be non-blocking. */
		afib_poll1(rx, POLLIN, AFIB_WAIT_MS);
		n = recvmsg(rx, &msg, 0);
		if (n != (ssize_t)len)
			TH_LOG("recv %zu: %zd %s", len, n, strerror(errno));
		else if (msg.msg_flags & MSG_TRUNC)
			TH_LOG("recv %zu: MSG_TRUNC", len);
		else if (afib_check(rbuf, len, seed) >= 0)
			TH_LOG("recv %zu: corrupt at %ld", len,
			       afib_check(rbuf, len, seed));
		else
			ok = 1;
	}
	free(buf);
	free(rbuf);
	return ok;
}

TEST_F_TIMEOUT(pair, names, afib_tmo(30))
{
	struct sockaddr_storage want, lname, cname, cpeer, sname, speer, aaddr;
	socklen_t len, alen = sizeof(aaddr);
	int cfd, sfd;

	afib_addr(variant->family, self->port, &want);

	len = sizeof(lname);
	ASSERT_EQ(0, getsockname(self->lfd, (void *)&lname, &len));
	EXPECT_EQ(afib_addr_len(variant->family), len);
	EXPECT_TRUE(afib_same_addr(&want, &lname))
		TH_LOG("listener %s want %s", afib_ntop(&lname),
		       afib_ntop(&want));

	/* A fresh connection so that accept() can report the peer. */
	cfd = afib_connect(variant->family, self->port);
	ASSERT_LE(0, cfd) TH_LOG("connect: %s", strerror(errno));
	sfd = accept(self->lfd, (void *)&aaddr, &alen);
	ASSERT_LE(0, sfd) TH_LOG("accept: %s", strerror(errno));
	EXPECT_EQ(afib_addr_len(variant->family), alen);

	len = sizeof(cname);
	ASSERT_EQ(0, getsockname(cfd, (void *)&cname, &len));
	EXPECT_EQ(afib_addr_len(variant->family), len);
	EXPECT_EQ(variant->family, cname.ss_family);
	EXPECT_LT(0, afib_port_of(&cname));
	len = sizeof(cpeer);
	ASSERT_EQ(0, getpeername(cfd, (void *)&cpeer, &len));
	EXPECT_EQ(afib_addr_len(variant->family), len);
	len = sizeof(sname);
	ASSERT_EQ(0, getsockname(sfd, (void *)&sname, &len));
	EXPECT_EQ(afib_addr_len(variant->family), len);
	len = sizeof(speer);
	ASSERT_EQ(0, getpeername(sfd, (void *)&speer, &len));
	EXPECT_EQ(afib_addr_len(variant->family), len);

	EXPECT_TRUE(afib_same_addr(&want, &cpeer))
		TH_LOG("client peer %s want %s", afib_ntop(&cpeer),
		       afib_ntop(&want));
	EXPECT_TRUE(afib_same_addr(&want, &sname))
		TH_LOG("server name %s want %s", afib_ntop(&sname),
		       afib_ntop(&want));
	EXPECT_TRUE(afib_same_addr(&cname, &speer))
		TH_LOG("client name %s server peer %s", afib_ntop(&cname),
		       afib_ntop(&speer));
	EXPECT_TRUE(afib_same_addr(&aaddr, &speer))
		TH_LOG("accept addr %s server peer %s", afib_ntop(&aaddr),
		       afib_ntop(&speer));
	EXPECT_NE(self->port, afib_port_of(&cname));
	close(cfd);
	close(sfd);
}

/*
 * A client of another family reaches the listener: sockaddr_ib with the
 * listener's GID (IPv4-mapped for IPv4) and service ID AFIB_SID_PS_TCP |
 * port, or an IP client of a sockaddr_ib listener.  accept() and the
 * server side report the peer in the listener's family, the client side in
 * its own.
 */
TEST_F_TIMEOUT(pair, cross_family, afib_tmo(30))
{
	struct sockaddr_storage ss, peer, aaddr;
	socklen_t len, alen = sizeof(aaddr);
	int cfam, cfd, sfd;
	const char *host;

	switch (variant->family) {
	case AF_INET:
		cfam = AF_IB;
		host = afib_ip4();
		break;
	case AF_INET6:
		cfam = AF_IB;
		host = afib_ip6();
		break;
	default:
		cfam = AF_INET;
		host = afib_ip4();
		break;
	}
	len = afib_addr_host(cfam, host, self->port, &ss);
	cfd = afib_socket(0);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, connect(cfd, (void *)&ss, len))
		TH_LOG("connect %s: %s", afib_ntop(&ss), strerror(errno));
	sfd = accept(self->lfd, (void *)&aaddr, &alen);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(variant->family, aaddr.ss_family);
	EXPECT_EQ(afib_addr_len(variant->family), alen);
	len = sizeof(peer);
	ASSERT_EQ(0, getpeername(sfd, (void *)&peer, &len));
	EXPECT_EQ(variant->family, peer.ss_family);
	len = sizeof(peer);
	ASSERT_EQ(0, getsockname(sfd, (void *)&peer, &len));
	EXPECT_EQ(variant->family, peer.ss_family);
	EXPECT_EQ(self->port, afib_port_of(&peer));
	len = sizeof(peer);
	ASSERT_EQ(0, getpeername(cfd, (void *)&peer, &len));
	EXPECT_TRUE(afib_same_addr(&ss, &peer))
		TH_LOG("client peer %s want %s", afib_ntop(&peer),
		       afib_ntop(&ss));
	len = sizeof(peer);
	ASSERT_EQ(0, getsockname(cfd, (void *)&peer, &len));
	EXPECT_EQ(cfam, peer.ss_family);
	EXPECT_TRUE(xfer(_metadata, cfd, sfd, 3000, 31));
	EXPECT_TRUE(xfer(_metadata, sfd, cfd, 3000, 32));
	close(cfd);
	close(sfd);
}

TEST_F_TIMEOUT(pair, accept_flags, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int cfd, sfd;

	/* The fixture used plain accept(): no flags. */
	EXPECT_FALSE(fcntl(self->sfd, F_GETFL) & O_NONBLOCK);
	EXPECT_FALSE(fcntl(self->sfd, F_GETFD) & FD_CLOEXEC);

	cfd = afib_connect(variant->family, self->port);
	ASSERT_LE(0, cfd) TH_LOG("connect: %s", strerror(errno));
	sfd = accept4(self->lfd, (void *)&ss, &len,
		      SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_LE(0, sfd) TH_LOG("accept4: %s", strerror(errno));
	EXPECT_TRUE(fcntl(sfd, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(sfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(variant->family, ss.ss_family);
	/* Non-blocking accepted socket: nothing queued -> EAGAIN. */
	char c;

	EXPECT_EQ(-1, recv(sfd, &c, 1, 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_TRUE(xfer(_metadata, cfd, sfd, 100, 1));
	EXPECT_TRUE(xfer(_metadata, sfd, cfd, 100, 2));
	close(cfd);
	close(sfd);
}

TEST_F_TIMEOUT(pair, exchange, afib_tmo(30))
{
	static const size_t sizes[] = { 1, 7, 100, 1024, 4096, 4097, 30000 };
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		EXPECT_TRUE(xfer(_metadata, self->cfd, self->sfd, sizes[i],
				 i));
		EXPECT_TRUE(xfer(_metadata, self->sfd, self->cfd, sizes[i],
				 100 + i));
	}
	/* Both directions in flight at the same time. */
	char a[64], b[64];

	afib_fill(a, sizeof(a), 7);
	ASSERT_EQ(sizeof(a), send(self->cfd, a, sizeof(a), 0));
	ASSERT_EQ(sizeof(a), send(self->sfd, a, sizeof(a), 0));
	ASSERT_EQ(sizeof(b), recv(self->sfd, b, sizeof(b), 0));
	EXPECT_EQ(0, memcmp(a, b, sizeof(a)));
	ASSERT_EQ(sizeof(b), recv(self->cfd, b, sizeof(b), 0));
	EXPECT_EQ(0, memcmp(a, b, sizeof(a)));
}

TEST_F_TIMEOUT(pair, boundaries, afib_tmo(30))
{
	static const size_t sizes[] = { 5000, 1, 1000 };
	char *buf = malloc(65536);
	unsigned int i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < 3; i++) {
		afib_fill(buf, sizes[i], 10 + i);
		ASSERT_EQ((ssize_t)sizes[i], send(self->cfd, buf, sizes[i], 0));
	}
	/* Wait until all three are queued, then read them one by one. */
	afib_msleep(200);
	for (i = 0; i < 3; i++) {
		memset(buf, 0, 65536);
		EXPECT_EQ((ssize_t)sizes[i], recv(self->sfd, buf, 65536, 0));
		EXPECT_EQ(-1, afib_check(buf, sizes[i], 10 + i));
	}
	EXPECT_EQ(-1, recv(self->sfd, buf, 65536, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	free(buf);
}

TEST_F_TIMEOUT(pair, zero_length, afib_tmo(30))
{
	char buf[16];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	ASSERT_EQ(0, send(self->cfd, buf, 0, 0))
		TH_LOG("send 0: %s", strerror(errno));
	ASSERT_EQ(1, send(self->cfd, "x", 1, 0));
	/* The empty message is readable and is not EOF. */
	EXPECT_TRUE(afib_poll1(self->sfd, POLLIN, AFIB_WAIT_MS) & POLLIN);
	EXPECT_EQ(0, recvmsg(self->sfd, &msg, 0));
	EXPECT_EQ(0, msg.msg_flags & MSG_TRUNC);
	EXPECT_EQ(1, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ('x', buf[0]);
	/* And the connection is still open. */
	EXPECT_EQ(-1, recv(self->sfd, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	/* Other direction, with sendmsg and no iovec at all. */
	struct msghdr empty = { 0 };

	ASSERT_EQ(0, sendmsg(self->sfd, &empty, 0));
	EXPECT_EQ(0, recv(self->cfd, buf, sizeof(buf), 0));
	EXPECT_TRUE(xfer(_metadata, self->sfd, self->cfd, 10, 3));
}

#define NIOV 64

static size_t seg_len(int i)
{
	return (i * 37) % 500 + 1;
}

TEST_F_TIMEOUT(pair, iovec_send, afib_tmo(30))
{
	struct iovec iov[NIOV];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = NIOV };
	char *flat = malloc(NIOV * 512), *rbuf = malloc(NIOV * 512 + 1);
	size_t total = 0;
	int i;

	ASSERT_NE(NULL, flat);
	ASSERT_NE(NULL, rbuf);
	for (i = 0; i < NIOV; i++)
		total += seg_len(i);
	afib_fill(flat, total, 42);
	total = 0;
	for (i = 0; i < NIOV; i++) {
		/* Separate allocations so the segments are not contiguous. */
		iov[i].iov_base = malloc(seg_len(i));
		iov[i].iov_len = seg_len(i);
		memcpy(iov[i].iov_base, flat + total, seg_len(i));
		total += seg_len(i);
	}
	ASSERT_EQ((ssize_t)total, sendmsg(self->cfd, &msg, 0))
		TH_LOG("sendmsg: %s", strerror(errno));
	ASSERT_EQ((ssize_t)total, recv(self->sfd, rbuf, NIOV * 512 + 1, 0));
	EXPECT_EQ(-1, afib_check(rbuf, total, 42));
	for (i = 0; i < NIOV; i++)
		free(iov[i].iov_base);
	free(flat);
	free(rbuf);
}

TEST_F_TIMEOUT(pair, iovec_recv, afib_tmo(30))
{
	struct iovec iov[NIOV];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = NIOV };
	char *flat = malloc(NIOV * 512);
	size_t total = 0, off = 0;
	int i;

	ASSERT_NE(NULL, flat);
	for (i = 0; i < NIOV; i++) {
		iov[i].iov_base = malloc(seg_len(i));
		iov[i].iov_len = seg_len(i);
		memset(iov[i].iov_base, 0, seg_len(i));
		total += seg_len(i);
	}
	afib_fill(flat, total, 43);
	ASSERT_EQ((ssize_t)total, send(self->sfd, flat, total, 0));
	ASSERT_EQ((ssize_t)total, recvmsg(self->cfd, &msg, 0))
		TH_LOG("recvmsg: %s", strerror(errno));
	EXPECT_EQ(0, msg.msg_flags & MSG_TRUNC);
	for (i = 0; i < NIOV; i++) {
		EXPECT_EQ(0, memcmp(iov[i].iov_base, flat + off, seg_len(i)))
			TH_LOG("segment %d differs", i);
		off += seg_len(i);
		free(iov[i].iov_base);
	}
	free(flat);
}

TEST_F_TIMEOUT(pair, msg_trunc, afib_tmo(30))
{
	char buf[1000], rbuf[1000];
	struct iovec iov = { rbuf, 100 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	afib_fill(buf, sizeof(buf), 5);
	ASSERT_EQ(1000, send(self->cfd, buf, 1000, 0));
	ASSERT_EQ(500, send(self->cfd, buf, 500, 0));
	ASSERT_EQ(10, send(self->cfd, buf, 10, 0));

	/* Short buffer: truncated length and MSG_TRUNC in msg_flags. */
	EXPECT_EQ(100, recvmsg(self->sfd, &msg, 0));
	EXPECT_EQ(MSG_TRUNC, msg.msg_flags & MSG_TRUNC);
	EXPECT_EQ(-1, afib_check(rbuf, 100, 5));

	/* The rest of the message is discarded; MSG_TRUNC gives real size. */
	memset(rbuf, 0, sizeof(rbuf));
	EXPECT_EQ(500, recv(self->sfd, rbuf, 20, MSG_TRUNC));
	EXPECT_EQ(-1, afib_check(rbuf, 20, 5));
	EXPECT_EQ(0, rbuf[20]);

	/* A fitting message has no MSG_TRUNC. */
	iov.iov_len = sizeof(rbuf);
	msg.msg_flags = 0;
	EXPECT_EQ(10, recvmsg(self->sfd, &msg, MSG_TRUNC));
	EXPECT_EQ(0, msg.msg_flags & MSG_TRUNC);
	EXPECT_EQ(-1, afib_check(rbuf, 10, 5));
}

TEST_F_TIMEOUT(pair, msg_peek, afib_tmo(30))
{
	char buf[300], rbuf[400];

	afib_fill(buf, sizeof(buf), 6);
	ASSERT_EQ(300, send(self->cfd, buf, 300, 0));
	ASSERT_EQ(1, send(self->cfd, "z", 1, 0));
	memset(rbuf, 0, sizeof(rbuf));
	EXPECT_EQ(300, recv(self->sfd, rbuf, sizeof(rbuf), MSG_PEEK));
	EXPECT_EQ(-1, afib_check(rbuf, 300, 6));
	memset(rbuf, 0, sizeof(rbuf));
	EXPECT_EQ(300, recv(self->sfd, rbuf, sizeof(rbuf),
			    MSG_PEEK | MSG_DONTWAIT));
	EXPECT_EQ(-1, afib_check(rbuf, 300, 6));
	/* Short peek: truncated, message stays queued. */
	EXPECT_EQ(300, recv(self->sfd, rbuf, 10, MSG_PEEK | MSG_TRUNC));
	memset(rbuf, 0, sizeof(rbuf));
	EXPECT_EQ(300, recv(self->sfd, rbuf, sizeof(rbuf), 0));
	EXPECT_EQ(-1, afib_check(rbuf, 300, 6));
	EXPECT_EQ(1, recv(self->sfd, rbuf, sizeof(rbuf), 0));
	EXPECT_EQ('z', rbuf[0]);
}

TEST_F_TIMEOUT(pair, dontwait, afib_tmo(30))
{
	char c;

	EXPECT_EQ(-1, recv(self->cfd, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, recv(self->sfd, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, recv(self->sfd, &c, 1, MSG_DONTWAIT | MSG_PEEK));
	EXPECT_EQ(EAGAIN, errno);
	/* O_NONBLOCK does the same. */
	ASSERT_EQ(0, fcntl(self->cfd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(EAGAIN, errno);
}

TEST_F_TIMEOUT(pair, rcvtimeo, afib_tmo(30))
{
	struct timeval tv = { 0, 300000 };
	int64_t t0, dt;
	char c;

	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	t0 = afib_now_ms();
	EXPECT_EQ(-1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(EAGAIN, errno);
	dt = afib_now_ms() - t0;
	EXPECT_LE(250, dt);
	EXPECT_GT(afib_tmo(5) * 1000, dt);
	/* Data that arrives is still received normally. */
	EXPECT_TRUE(xfer(_metadata, self->sfd, self->cfd, 10, 9));
}

TEST_F_TIMEOUT(pair, sndtimeo, afib_tmo(120))
{
	struct timeval tv = { 0, 300000 };
	int max = afib_max_msg(self->cfd), small = 16384;
	int64_t start = afib_now_ms(), t0 = 0, dt = 0;
	long sent = 0;
	ssize_t n = 0;
	char *buf;

	ASSERT_LT(0, max);
	buf = malloc(max);
	ASSERT_NE(NULL, buf);
	memset(buf, 'q', max);
	/* Hints only: keep the amount in flight small. */
	setsockopt(self->cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(self->sfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	/* The server never reads: the sender must eventually block. */
	while (afib_now_ms() - start < afib_tmo(60) * 1000) {
		t0 = afib_now_ms();
		n = send(self->cfd, buf, max, 0);
		dt = afib_now_ms() - t0;
		if (n < 0)
			break;
		ASSERT_EQ(max, n);
		sent += n;
	}
	TH_LOG("sent %ld bytes before blocking", sent);
	ASSERT_EQ(-1, n) TH_LOG("sender never blocked");
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_LE(250, dt);
	free(buf);
}

static volatile sig_atomic_t sig_count;

static void count_sig(int sig)
{
	(void)sig;
	sig_count++;
}

static void arm_sigalrm(int restart, int ms)
{
	struct sigaction sa = { .sa_handler = count_sig };
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sig_count = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

TEST_F_TIMEOUT(pair, recv_eintr, afib_tmo(30))
{
	int64_t t0;
	char c;

	arm_sigalrm(0, 200);
	t0 = afib_now_ms();
	EXPECT_EQ(-1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(1, sig_count);
	EXPECT_LE(150, afib_now_ms() - t0);
	/* Still usable. */
	EXPECT_TRUE(xfer(_metadata, self->sfd, self->cfd, 10, 11));
}

struct late_send {
	int fd, ms;
};

static void *late_sender(void *arg)
{
	struct late_send *ls = arg;

	afib_msleep(ls->ms);
	send(ls->fd, "late", 4, 0);
	return NULL;
}

TEST_F_TIMEOUT(pair, recv_restart, afib_tmo(30))
{
	struct late_send ls = { self->sfd, 700 };
	pthread_t th;
	sigset_t set;
	char buf[8];
	int64_t t0;

	/* Only this thread may take the SIGALRM. */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ASSERT_EQ(0, pthread_create(&th, NULL, late_sender, &ls));
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	arm_sigalrm(1, 200);
	t0 = afib_now_ms();
	EXPECT_EQ(4, recv(self->cfd, buf, sizeof(buf), 0))
		TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(buf, "late", 4));
	EXPECT_EQ(1, sig_count);
	EXPECT_LE(600, afib_now_ms() - t0);
	pthread_join(th, NULL);
}

/* shutdown() from another thread wakes a blocked recv() with EOF. */
struct shut_arg {
	int fd, ms, how;
	int ret, err;	/* of shutdown() */
};

static void *late_shutdown(void *arg)
{
	struct shut_arg *sa = arg;

	afib_msleep(sa->ms);
	sa->ret = shutdown(sa->fd, sa->how);
	sa->err = errno;
	return NULL;
}

TEST_F_TIMEOUT(pair, shutdown_wakes_recv, afib_tmo(30))
{
	struct shut_arg sa = { .fd = self->cfd, .ms = 300, .how = SHUT_RD };
	pthread_t th;
	char c;

	ASSERT_EQ(0, pthread_create(&th, NULL, late_shutdown, &sa));
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0))
		TH_LOG("recv: %s", strerror(errno));
	pthread_join(th, NULL);
	sa.how = SHUT_RDWR;
	sa.fd = self->sfd;
	ASSERT_EQ(0, pthread_create(&th, NULL, late_shutdown, &sa));
	EXPECT_EQ(0, recv(self->sfd, &c, 1, 0))
		TH_LOG("recv: %s", strerror(errno));
	pthread_join(th, NULL);
}

/*
 * A signal interrupting a blocked send: EINTR (no SA_RESTART) and no part
 * of the message is sent; everything before it arrives intact, in order.
 */
TEST_F_TIMEOUT(pair, send_eintr, afib_tmo(120))
{
	int max = afib_max_msg(self->cfd);
	uint32_t seq = 0, got = 0;
	int64_t start = afib_now_ms();
	char *buf, *rbuf;
	ssize_t n;

	ASSERT_LT(0, max);
	buf = malloc(max);
	rbuf = malloc(max + 1);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, rbuf);
	/* Fill without blocking, then block in a send. */
	for (;;) {
		afib_fill(buf, max, seq);
		n = send(self->cfd, buf, max, MSG_DONTWAIT);
		if (n < 0) {
			ASSERT_EQ(EAGAIN, errno);
			if (afib_poll1(self->cfd, POLLOUT, 500) & POLLOUT)
				continue;
			break;
		}
		ASSERT_EQ(max, n);
		seq++;
		ASSERT_GT(afib_tmo(60) * 1000, afib_now_ms() - start);
	}
	arm_sigalrm(0, 300);
	EXPECT_EQ(-1, send(self->cfd, buf, max, 0));
	EXPECT_EQ(EINTR, errno) TH_LOG("got %s", strerror(errno));
	EXPECT_EQ(1, sig_count);
	/* Exactly the messages sent before, intact. */
	while (got < seq) {
		n = recv(self->sfd, rbuf, max + 1, 0);
		ASSERT_EQ(max, n) TH_LOG("message %u", got);
		EXPECT_EQ(-1, afib_check(rbuf, max, got));
		got++;
	}
	EXPECT_EQ(-1, recv(self->sfd, rbuf, max + 1, MSG_DONTWAIT))
		TH_LOG("a part of the interrupted message arrived");
	EXPECT_EQ(EAGAIN, errno);
	free(buf);
	free(rbuf);
}

static volatile sig_atomic_t sigpipe_count;

static void count_sigpipe(int sig)
{
	(void)sig;
	sigpipe_count++;
}

/* Wait until @fd has seen the peer go away (EOF readable). */
static int wait_rdhup(int fd)
{
	return afib_poll1(fd, POLLIN | POLLRDHUP, AFIB_WAIT_MS);
}


TEST_F_TIMEOUT(pair, epipe, afib_tmo(30))
{
	struct sigaction sa = { .sa_handler = count_sigpipe };
	char c;

	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGPIPE, &sa, NULL));
	afib_close(&self->sfd);
	ASSERT_TRUE(wait_rdhup(self->cfd) & (POLLIN | POLLRDHUP))
		TH_LOG("peer close not seen");
	ASSERT_EQ(0, recv(self->cfd, &c, 1, 0)) TH_LOG("%s", strerror(errno));
	ASSERT_TRUE(afib_wait_hup(self->cfd) & POLLHUP)
		TH_LOG("no POLLHUP after the peer closed");

	sigpipe_count = 0;
	EXPECT_EQ(-1, send(self->cfd, "x", 1, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(1, sigpipe_count);
	EXPECT_EQ(-1, send(self->cfd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(1, sigpipe_count);
	/* write() behaves like send(). */
	EXPECT_EQ(-1, write(self->cfd, "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(2, sigpipe_count);
}

TEST_F_TIMEOUT(pair, eof, afib_tmo(30))
{
	char c;

	afib_close(&self->sfd);
	/* Blocking recv wakes up with EOF... */
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	/* ...and keeps returning it. */
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(0, recv(self->cfd, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(0, read(self->cfd, &c, 1));
}

/* Messages sent just before close() are not lost. */
TEST_F_TIMEOUT(pair, close_delivers, afib_tmo(30))
{
	char buf[3000];
	int i;

	for (i = 0; i < 3; i++) {
		afib_fill(buf, 1000 * (i + 1), 20 + i);
		ASSERT_EQ(1000 * (i + 1),
			  send(self->sfd, buf, 1000 * (i + 1), 0));
	}
	afib_close(&self->sfd);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(1000 * (i + 1),
			  recv(self->cfd, buf, sizeof(buf), 0))
			TH_LOG("message %d: %s", i, strerror(errno));
		EXPECT_EQ(-1, afib_check(buf, 1000 * (i + 1), 20 + i));
	}
	EXPECT_EQ(0, recv(self->cfd, buf, sizeof(buf), 0));
}

TEST_F_TIMEOUT(pair, shutdown_wr, afib_tmo(30))
{
	char buf[16];

	ASSERT_EQ(1, send(self->cfd, "a", 1, 0));
	ASSERT_EQ(0, shutdown(self->cfd, SHUT_WR));
	/* Data before the shutdown first, then EOF. */
	EXPECT_EQ(1, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, recv(self->sfd, buf, sizeof(buf), 0));
	/* The other direction still works. */
	EXPECT_EQ(4, send(self->sfd, "back", 4, 0))
		TH_LOG("send after peer SHUT_WR: %s", strerror(errno));
	EXPECT_EQ(4, recv(self->cfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "back", 4));
	/* The shut-down side cannot send any more. */
	EXPECT_EQ(-1, send(self->cfd, "b", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	/* SHUT_RD on the server: reads return EOF at once. */
	EXPECT_EQ(0, shutdown(self->sfd, SHUT_RDWR));
	EXPECT_EQ(0, recv(self->cfd, buf, sizeof(buf), 0));
}

/*
 * shutdown(SHUT_WR) while a writer is stuck in a page fault on its buffer,
 * inside send() with send buffers reserved: shutdown() does not wait for
 * the fault.  Once the fault is resolved the message still goes out whole
 * and the peer reads it, then EOF.
 */
TEST_F_TIMEOUT(pair, shutdown_wr_writer_in_fault, afib_tmo(90))
{
	/* Static: threads that never return may still write them. */
	static struct shut_arg sa;
	static struct afib_io io;
	struct afib_uffd u = { .fd = -1 };
	char *msg, *rbuf;
	pthread_t th;
	int64_t t0;
	int rc;

	ASSERT_EQ(0, afib_uffd_open(&u))
		TH_LOG("userfaultfd: %s (CONFIG_USERFAULTFD?)",
		       strerror(errno));
	msg = malloc(u.size);
	rbuf = malloc(u.size + 1);
	ASSERT_NE(NULL, msg);
	ASSERT_NE(NULL, rbuf);
	afib_fill(msg, u.size, 71);
	io = (struct afib_io){ .fd = self->cfd, .tx = true, .buf = u.page,
			       .len = u.size, .flags = MSG_NOSIGNAL };
	ASSERT_EQ(0, afib_io_start(&io));
	ASSERT_EQ(0, afib_uffd_wait(&u, AFIB_WAIT_MS))
		TH_LOG("the writer never touched its buffer: %s",
		       strerror(errno));

	sa = (struct shut_arg){ .fd = self->cfd, .how = SHUT_WR, .ret = -1 };
	t0 = afib_now_ms();
	ASSERT_EQ(0, pthread_create(&th, NULL, late_shutdown, &sa));
	rc = afib_join(th, afib_tmo(2) * 1000);
	EXPECT_EQ(0, rc) TH_LOG("shutdown(SHUT_WR) still blocked after %lld "
				"ms, the writer in a page fault",
				(long long)(afib_now_ms() - t0));

	/* Let the writer go on. */
	ASSERT_EQ(0, afib_uffd_resolve(&u, msg))
		TH_LOG("UFFDIO_COPY: %s", strerror(errno));
	if (rc) {
		rc = afib_join(th, AFIB_WAIT_MS);
		TH_LOG("shutdown %s once the fault was resolved",
		       rc ? "still blocked" : "returned");
		ASSERT_EQ(0, rc);
	}
	EXPECT_EQ(0, sa.ret) TH_LOG("shutdown: %s", strerror(sa.err));
	ASSERT_EQ(0, afib_join(io.th, AFIB_WAIT_MS))
		TH_LOG("the writer is still blocked");
	EXPECT_EQ((ssize_t)u.size, io.ret) TH_LOG("send: %s",
						  strerror(io.err));

	/* The message first, whole, then EOF. */
	EXPECT_TRUE(afib_poll1(self->sfd, POLLIN, AFIB_WAIT_MS) & POLLIN);
	EXPECT_EQ((ssize_t)u.size, recv(self->sfd, rbuf, u.size + 1,
					MSG_DONTWAIT))
		TH_LOG("recv: %s", strerror(errno));
	EXPECT_EQ(-1, afib_check(rbuf, u.size, 71));
	EXPECT_TRUE(afib_poll1(self->sfd, POLLIN, AFIB_WAIT_MS) & POLLIN);
	EXPECT_EQ(0, recv(self->sfd, rbuf, u.size + 1, MSG_DONTWAIT))
		TH_LOG("recv: %s", strerror(errno));
	afib_uffd_close(&u);
	free(msg);
	free(rbuf);
}

TEST_F_TIMEOUT(pair, max_msg, afib_tmo(60))
{
	int max = afib_max_msg(self->cfd), v = -1;
	socklen_t l = sizeof(v);
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	char *buf, *rbuf;

	ASSERT_EQ(0, getsockopt(self->cfd, SOL_AFIB, AFIB_MAX_MSG_SIZE, &v,
				&l)) TH_LOG("AFIB_MAX_MSG_SIZE: %s",
					    strerror(errno));
	EXPECT_EQ(sizeof(int), l);
	ASSERT_LE(65536, max);
	EXPECT_EQ(max, afib_max_msg(self->sfd));
	EXPECT_EQ(max, afib_max_msg(self->lfd));

	buf = malloc(max + 1);
	rbuf = malloc(max + 1);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, rbuf);
	afib_fill(buf, max + 1, 77);
	EXPECT_EQ(max, send(self->cfd, buf, max, 0))
		TH_LOG("send max: %s", strerror(errno));
	EXPECT_EQ(max, recv(self->sfd, rbuf, max + 1, 0));
	EXPECT_EQ(-1, afib_check(rbuf, max, 77));

	EXPECT_EQ(-1, send(self->cfd, buf, max + 1, 0));
	EXPECT_EQ(EMSGSIZE, errno);
	iov[0].iov_base = buf;
	iov[0].iov_len = max;
	iov[1].iov_base = buf;
	iov[1].iov_len = 1;
	EXPECT_EQ(-1, sendmsg(self->cfd, &msg, 0));
	EXPECT_EQ(EMSGSIZE, errno);
	/* Nothing of the refused messages arrived; the pair still works. */
	EXPECT_EQ(-1, recv(self->sfd, rbuf, max + 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(max, send(self->sfd, buf, max, 0));
	EXPECT_EQ(max, recv(self->cfd, rbuf, max + 1, 0));
	EXPECT_EQ(-1, afib_check(rbuf, max, 77));
	free(buf);
	free(rbuf);
}

static bool mtu_ok(unsigned int mtu)
{
	return mtu == 256 || mtu == 512 || mtu == 1024 || mtu == 2048 ||
	       mtu == 4096;
}

static const char *gid_str(const void *gid)
{
	static char ring[4][INET6_ADDRSTRLEN];
	static int i;

	return inet_ntop(AF_INET6, gid, ring[i++ & 3], INET6_ADDRSTRLEN);
}

TEST_F_TIMEOUT(pair, info, afib_tmo(30))
{
	struct afib_info ci, si, li;
	struct ib_addr gid;
	socklen_t l;
	int max = afib_max_msg(self->cfd);

	memset(&ci, 0xa5, sizeof(ci));
	memset(&si, 0x5a, sizeof(si));
	l = sizeof(ci);
	ASSERT_EQ(0, getsockopt(self->cfd, SOL_AFIB, AFIB_INFO, &ci, &l))
		TH_LOG("AFIB_INFO: %s", strerror(errno));
	EXPECT_EQ(sizeof(ci), l);
	l = sizeof(si);
	ASSERT_EQ(0, getsockopt(self->sfd, SOL_AFIB, AFIB_INFO, &si, &l));
	EXPECT_EQ(sizeof(si), l);

	EXPECT_EQ(sizeof(ci), ci.size);
	EXPECT_EQ(sizeof(si), si.size);
	EXPECT_STREQ(afib_devname(), ci.dev_name);
	EXPECT_STREQ(afib_devname(), si.dev_name);
	EXPECT_LE(1, ci.port);
	EXPECT_EQ(ci.port, si.port);
	EXPECT_NE(0, ci.qp_num);
	EXPECT_NE(0, si.qp_num);
	EXPECT_NE(ci.qp_num, si.qp_num);
	EXPECT_EQ(si.qp_num, ci.dest_qp_num);
	EXPECT_EQ(ci.qp_num, si.dest_qp_num);
	EXPECT_TRUE(mtu_ok(ci.path_mtu)) TH_LOG("path_mtu %u", ci.path_mtu);
	EXPECT_EQ(ci.path_mtu, si.path_mtu);
	EXPECT_EQ((unsigned int)max, ci.max_msg_size);
	EXPECT_EQ((unsigned int)max, si.max_msg_size);
	EXPECT_EQ(TCP_ESTABLISHED, ci.state);
	EXPECT_EQ(TCP_ESTABLISHED, si.state);
	EXPECT_EQ(0, ci.reserved);
	EXPECT_EQ(0, si.reserved);
	TH_LOG("client local %s remote %s", gid_str(ci.local_gid),
	       gid_str(ci.remote_gid));
	TH_LOG("server local %s remote %s", gid_str(si.local_gid),
	       gid_str(si.remote_gid));
	EXPECT_EQ(0, memcmp(ci.local_gid, si.remote_gid, 16));
	EXPECT_EQ(0, memcmp(ci.remote_gid, si.local_gid, 16));
	/* Everything is local: both ends use the GID of the test address. */
	ASSERT_EQ(0, afib_parse_gid(variant->family == AF_INET6 ?
				    afib_ip6() : afib_ip4(), &gid));
	EXPECT_EQ(0, memcmp(&gid, ci.local_gid, 16));
	EXPECT_EQ(0, memcmp(&gid, ci.remote_gid, 16));

	/* The listener. */
	l = sizeof(li);
	ASSERT_EQ(0, getsockopt(self->lfd, SOL_AFIB, AFIB_INFO, &li, &l));
	EXPECT_EQ(TCP_LISTEN, li.state);
	EXPECT_EQ(0, li.dest_qp_num);

	/* A short buffer gets a truncated structure. */
	memset(&ci, 0, sizeof(ci));
	l = 8;
	EXPECT_EQ(0, getsockopt(self->cfd, SOL_AFIB, AFIB_INFO, &ci, &l));
	EXPECT_EQ(8, l);
	EXPECT_EQ(0, ci.qp_num);

	/* After the peer left: no longer established. */
	afib_close(&self->sfd);
	ASSERT_TRUE(afib_wait_hup(self->cfd) & POLLHUP);
	l = sizeof(ci);
	ASSERT_EQ(0, getsockopt(self->cfd, SOL_AFIB, AFIB_INFO, &ci, &l));
	/* TCP says CLOSE_WAIT here; anything but ESTABLISHED will do. */
	EXPECT_NE(TCP_ESTABLISHED, ci.state)
		TH_LOG("state still ESTABLISHED after the peer closed");
}

TEST_F_TIMEOUT(pair, device, afib_tmo(30))
{
	char name[64];
	socklen_t l = sizeof(name);

	memset(name, 0xa5, sizeof(name));
	ASSERT_EQ(0, getsockopt(self->cfd, SOL_AFIB, AFIB_DEVICE, name, &l))
		TH_LOG("AFIB_DEVICE: %s", strerror(errno));
	ASSERT_GT(l, 0);
	name[sizeof(name) - 1] = 0;
	EXPECT_STREQ(afib_devname(), name);
	EXPECT_LE(strlen(afib_devname()) + 1, l);
	l = sizeof(name);
	ASSERT_EQ(0, getsockopt(self->sfd, SOL_AFIB, AFIB_DEVICE, name, &l));
	name[sizeof(name) - 1] = 0;
	EXPECT_STREQ(afib_devname(), name);
}

TEST_HARNESS_MAIN
