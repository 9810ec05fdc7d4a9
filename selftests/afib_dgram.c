// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib SOCK_DGRAM sockets over UD queue pairs: unicast exchange with the
 * sender's address reported, connect() as UDP, the datagram size limit,
 * truncation, drops on receive queue overflow, poll and non-blocking
 * calls, IPv4 and MGID multicast with several receivers in two processes,
 * IP_MULTICAST_LOOP, leave, close with memberships, the destination cache
 * (route and address changes, lifetime), non-blocking sends that hold
 * datagrams while their destination is resolved, bad input and, last
 * (it removes and re-adds the device), device removal.
 */
#include <poll.h>
#include <sys/wait.h>

#include "afib_lib.h"

#define GROUP4		"239.1.2.3"
#define GROUP4_B	"239.1.2.4"
#define MC_MS		1500	/* how long a datagram that should not come is awaited */

/* @host:@port in @family for a datagram socket (UDP port space SIDs). */
static socklen_t udaddr(int family, const char *host, uint16_t port,
			struct sockaddr_storage *ss)
{
	socklen_t len = afib_addr_host(family, host, port, ss);

	if (family == AF_IB)
		((struct sockaddr_ib *)ss)->sib_sid =
			htobe64(AFIB_SID_PS_UDP | port);
	return len;
}

/* A datagram socket bound to the local address (or "any") of @family. */
static int ud_bound(int family, const char *host)
{
	struct sockaddr_storage ss;
	socklen_t len = udaddr(family, host, 0, &ss);
	int fd = socket(AF_IB, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The address @fd is bound to, as @family reports it. */
static socklen_t ud_name(int fd, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	if (getsockname(fd, (struct sockaddr *)ss, &len))
		return 0;
	return len;
}

/* Receive one datagram within @ms: its length, -1 with errno. */
static ssize_t ud_recv(int fd, void *buf, size_t len, int ms,
		       struct sockaddr_storage *from, socklen_t *flen)
{
	if (afib_poll1(fd, POLLIN, ms) <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return recvfrom(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)from,
			flen);
}

/* IP_ADD_MEMBERSHIP (or DROP) of @group on the local interface. */
static int ud_mc4(int fd, int opt, const char *group, bool with_if)
{
	struct ip_mreq mreq = {};

	inet_pton(AF_INET, group, &mreq.imr_multiaddr);
	if (with_if)
		inet_pton(AF_INET, afib_ip4(), &mreq.imr_interface);
	return setsockopt(fd, IPPROTO_IP, opt, &mreq, sizeof(mreq));
}

static int ud_send_group(int fd, const char *group, uint16_t port,
			 const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = udaddr(AF_INET, group, port, &ss);

	return sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl);
}

/* Datagrams with payload "mc<i>" that @fd receives within @ms each. */
static int ud_count(int fd, int n, int ms)
{
	char buf[64];
	int got = 0;

	while (got < n) {
		ssize_t r = ud_recv(fd, buf, sizeof(buf), ms, NULL, NULL);

		if (r < 0)
			break;
		got++;
	}
	return got;
}

FIXTURE(uni)
{
	int a, b;
};

FIXTURE_VARIANT(uni)
{
	int family;
};

AFIB_VARIANTS(uni);

FIXTURE_SETUP(uni)
{
	self->a = ud_bound(variant->family, NULL);
	ASSERT_LE(0, self->a) TH_LOG("bind: %s", strerror(errno));
	self->b = ud_bound(variant->family, NULL);
	ASSERT_LE(0, self->b) TH_LOG("bind: %s", strerror(errno));
}

FIXTURE_TEARDOWN(uni)
{
	afib_close(&self->a);
	afib_close(&self->b);
}

/* a -> b, b replies to the address recvfrom() gave it, a -> b again. */
TEST_F(uni, exchange)
{
	struct sockaddr_storage an, bn, from;
	socklen_t alen, blen, flen;
	char buf[256];
	ssize_t n;
	int i;

	alen = ud_name(self->a, &an);
	blen = ud_name(self->b, &bn);
	ASSERT_NE(0, alen);
	ASSERT_NE(0, blen);
	EXPECT_EQ(variant->family, an.ss_family);
	EXPECT_NE(0, afib_port_of(&an));

	for (i = 0; i < 10; i++) {
		afib_fill(buf, 100 + i, i);
		ASSERT_EQ(100 + i, sendto(self->a, buf, 100 + i, 0,
					  (struct sockaddr *)&bn, blen))
			TH_LOG("sendto: %s", strerror(errno));
		memset(buf, 0, sizeof(buf));
		flen = sizeof(from);
		n = ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS, &from,
			    &flen);
		ASSERT_EQ(100 + i, n) TH_LOG("recv: %s", strerror(errno));
		EXPECT_EQ(-1, afib_check(buf, n, i));
		EXPECT_EQ(alen, flen);
		EXPECT_TRUE(afib_same_addr(&from, &an))
			TH_LOG("from %s", afib_ntop(&from));
	}
	/* The reported address is one a reply reaches. */
	ASSERT_EQ(5, sendto(self->b, "reply", 5, 0, (struct sockaddr *)&from,
			    flen)) TH_LOG("reply: %s", strerror(errno));
	n = ud_recv(self->a, buf, sizeof(buf), AFIB_WAIT_MS, NULL, NULL);
	ASSERT_EQ(5, n);
	EXPECT_EQ(0, memcmp(buf, "reply", 5));
	/* An empty datagram is a datagram. */
	ASSERT_EQ(0, sendto(self->a, buf, 0, 0, (struct sockaddr *)&bn, blen));
	EXPECT_EQ(0, ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
}

/* connect() fixes the default peer and filters what is received. */
TEST_F(uni, connected)
{
	struct sockaddr_storage an, bn, pn;
	socklen_t alen, blen, plen = sizeof(pn);
	char buf[64];
	int c;

	alen = ud_name(self->a, &an);
	blen = ud_name(self->b, &bn);
	EXPECT_EQ(-1, send(self->a, "x", 1, 0));
	EXPECT_EQ(EDESTADDRREQ, errno);
	EXPECT_EQ(-1, getpeername(self->a, (struct sockaddr *)&pn, &plen));
	EXPECT_EQ(ENOTCONN, errno);

	ASSERT_EQ(0, connect(self->a, (struct sockaddr *)&bn, blen))
		TH_LOG("connect: %s", strerror(errno));
	plen = sizeof(pn);
	ASSERT_EQ(0, getpeername(self->a, (struct sockaddr *)&pn, &plen));
	EXPECT_TRUE(afib_same_addr(&pn, &bn));
	ASSERT_EQ(4, send(self->a, "ping", 4, 0));
	ASSERT_EQ(4, ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));

	/* A third socket's datagram does not reach the connected a. */
	c = ud_bound(variant->family, NULL);
	ASSERT_LE(0, c);
	ASSERT_EQ(5, sendto(c, "other", 5, 0, (struct sockaddr *)&an, alen));
	ASSERT_EQ(4, sendto(self->b, "pong", 4, 0, (struct sockaddr *)&an,
			    alen));
	ASSERT_EQ(4, ud_recv(self->a, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
	EXPECT_EQ(0, memcmp(buf, "pong", 4));
	EXPECT_EQ(-1, ud_recv(self->a, buf, sizeof(buf), 300, NULL, NULL));

	/* AF_UNSPEC dissolves the association; c is heard again. */
	pn.ss_family = AF_UNSPEC;
	ASSERT_EQ(0, connect(self->a, (struct sockaddr *)&pn, sizeof(pn)));
	EXPECT_EQ(-1, send(self->a, "x", 1, 0));
	EXPECT_EQ(EDESTADDRREQ, errno);
	ASSERT_EQ(5, sendto(c, "again", 5, 0, (struct sockaddr *)&an, alen));
	EXPECT_EQ(5, ud_recv(self->a, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
	close(c);
}

/* The size limit is readable, reached and enforced. */
TEST_F(uni, max_size)
{
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);
	int max = 0, r;
	socklen_t ol = sizeof(max);
	char *buf;

	ASSERT_EQ(0, getsockopt(self->a, SOL_AFIB, AFIB_MAX_MSG_SIZE, &max,
				&ol)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(sizeof(int), ol);
	/* Path MTU (256..4096) less our header. */
	EXPECT_LE(256 - AFIB_UD_HDR_LEN, max);
	EXPECT_GE(4096 - AFIB_UD_HDR_LEN, max);
	buf = malloc(max + 1);
	ASSERT_NE(NULL, buf);
	afib_fill(buf, max + 1, 7);
	ASSERT_EQ(max, sendto(self->a, buf, max, 0, (struct sockaddr *)&bn,
			      blen));
	EXPECT_EQ(-1, sendto(self->a, buf, max + 1, 0, (struct sockaddr *)&bn,
			     blen));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(-1, sendto(self->a, buf, 1 << 20, 0, (struct sockaddr *)&bn,
			     blen));
	EXPECT_EQ(EMSGSIZE, errno);
	memset(buf, 0, max + 1);
	r = ud_recv(self->b, buf, max + 1, AFIB_WAIT_MS, NULL, NULL);
	EXPECT_EQ(max, r);
	EXPECT_EQ(-1, afib_check(buf, max, 7));
	EXPECT_EQ(-1, ud_recv(self->b, buf, max + 1, 300, NULL, NULL));
	free(buf);
}

/* A short buffer truncates with MSG_TRUNC; the rest is gone. */
TEST_F(uni, truncate)
{
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);
	struct iovec iov;
	struct msghdr mh = {};
	char buf[200];

	afib_fill(buf, 100, 3);
	ASSERT_EQ(100, sendto(self->a, buf, 100, 0, (struct sockaddr *)&bn,
			      blen));
	ASSERT_EQ(100, sendto(self->a, buf, 100, 0, (struct sockaddr *)&bn,
			      blen));
	ASSERT_EQ(1, afib_poll1(self->b, POLLIN, AFIB_WAIT_MS));
	memset(buf, 0, sizeof(buf));
	iov.iov_base = buf;
	iov.iov_len = 10;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	EXPECT_EQ(10, recvmsg(self->b, &mh, 0));
	EXPECT_TRUE(mh.msg_flags & MSG_TRUNC);
	EXPECT_EQ(-1, afib_check(buf, 10, 3));
	EXPECT_EQ(0, buf[10]);
	/* MSG_TRUNC returns the real length; MSG_PEEK leaves it queued. */
	ASSERT_EQ(1, afib_poll1(self->b, POLLIN, AFIB_WAIT_MS));
	EXPECT_EQ(100, recv(self->b, buf, 5, MSG_TRUNC | MSG_PEEK));
	EXPECT_EQ(100, recv(self->b, buf, 5, MSG_TRUNC));
	EXPECT_EQ(-1, recv(self->b, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

/* Overflow drops and counts; the sender never blocks. */
TEST_F(uni, overflow)
{
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);
	int rcvbuf = 4096, on = 1, i, got = 0, sent = 0;
	unsigned int drops = 0, ovfl = 0;
	socklen_t ol = sizeof(drops);
	char cbuf[CMSG_SPACE(sizeof(uint32_t))];
	char buf[1000];
	int64_t t0;

	ASSERT_EQ(0, setsockopt(self->b, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				sizeof(rcvbuf)));
	ASSERT_EQ(0, setsockopt(self->b, SOL_SOCKET, SO_RXQ_OVFL, &on,
				sizeof(on)));
	memset(buf, 'o', sizeof(buf));
	t0 = afib_now_ms();
	for (i = 0; i < 200; i++) {
		if (sendto(self->a, buf, 500, 0, (struct sockaddr *)&bn,
			   blen) == 500)
			sent++;
	}
	EXPECT_EQ(200, sent);
	EXPECT_GT(afib_tmo(20) * 1000, afib_now_ms() - t0);
	afib_msleep(afib_tmo(1) * 1000);
	while (recv(self->b, buf, sizeof(buf), MSG_DONTWAIT) == 500)
		got++;
	ASSERT_EQ(0, getsockopt(self->b, SOL_AFIB, AFIB_UD_DROPS, &drops,
				&ol));
	TH_LOG("sent %d received %d dropped %u", sent, got, drops);
	EXPECT_LT(0, got);
	EXPECT_LT(0, drops);
	EXPECT_GE(sent, got + (int)drops);
	/* Still works; SO_RXQ_OVFL tells the next datagram the drops. */
	ASSERT_EQ(3, sendto(self->a, "end", 3, 0, (struct sockaddr *)&bn,
			    blen));
	ASSERT_EQ(1, afib_poll1(self->b, POLLIN, AFIB_WAIT_MS));
	{
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *c;

		EXPECT_EQ(3, recvmsg(self->b, &mh, 0));
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SO_RXQ_OVFL)
				memcpy(&ovfl, CMSG_DATA(c), sizeof(ovfl));
		EXPECT_EQ(drops, ovfl);
	}
}

/* The SOL_AFIB counter @opt of @fd, ~0U on error. */
static unsigned int ud_counter(int fd, int opt)
{
	unsigned int v = 0;
	socklen_t ol = sizeof(v);

	if (getsockopt(fd, SOL_AFIB, opt, &v, &ol))
		return ~0U;
	return v;
}

static unsigned int ud_resolves(int fd)
{
	return ud_counter(fd, AFIB_UD_RESOLVES);
}

/* Send @msg from @a to @bn and check that @b receives it. */
static int ud_roundtrip(int a, int b, const struct sockaddr_storage *bn,
			socklen_t blen, const char *msg)
{
	char buf[64];
	ssize_t n;

	if (sendto(a, msg, strlen(msg), 0, (const struct sockaddr *)bn,
		   blen) != (ssize_t)strlen(msg))
		return -1;
	n = ud_recv(b, buf, sizeof(buf), AFIB_WAIT_MS, NULL, NULL);
	if (n != (ssize_t)strlen(msg) || memcmp(buf, msg, n))
		return -1;
	return 0;
}

/*
 * The destination cache: a second send uses the cached path; a route or
 * an address added or removed (any, in either family) makes it stale, so
 * the next send resolves again and still arrives.
 */
TEST_F(uni, dest_route_change)
{
	/* Routes to a prefix nobody uses, then an address in it. */
	static const char * const changes[] = {
		"ip route add 198.51.100.0/24 dev %1$s && "
		"ip route del 198.51.100.0/24 dev %1$s && "
		"ip -6 route add 2001:db8:f00::/64 dev %1$s && "
		"ip -6 route del 2001:db8:f00::/64 dev %1$s",
		"ip addr add 198.51.100.1/24 dev %1$s && "
		"ip addr del 198.51.100.1/24 dev %1$s && "
		"ip -6 addr add 2001:db8:f00::1/64 dev %1$s nodad && "
		"ip -6 addr del 2001:db8:f00::1/64 dev %1$s",
	};
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);
	char cmd[512];
	unsigned int i;

	EXPECT_EQ(0, ud_resolves(self->a));
	ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen, "first"));
	ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen, "cached"));
	EXPECT_EQ(1, ud_resolves(self->a));

	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		snprintf(cmd, sizeof(cmd), changes[i], afib_netdev());
		ASSERT_EQ(0, afib_run_cmd(cmd, afib_tmo(10) * 1000))
			TH_LOG("%s", cmd);
		/* The generation moved: resolved again, still delivered. */
		ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen,
					  "changed")) TH_LOG("after %s", cmd);
		EXPECT_EQ(2 + i, ud_resolves(self->a));
		ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen,
					  "cached"));
		EXPECT_EQ(2 + i, ud_resolves(self->a));
	}
	/* The receiver never sent: it resolved nothing. */
	EXPECT_EQ(0, ud_resolves(self->b));
}

/* poll, epoll-free non-blocking receive, SOCK_NONBLOCK. */
TEST_F(uni, poll_nonblock)
{
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);
	struct pollfd p = { .fd = self->b, .events = POLLIN | POLLOUT };
	char buf[16];
	int fd;

	ASSERT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLOUT, p.revents);
	EXPECT_EQ(-1, recv(self->b, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(2, sendto(self->a, "hi", 2, 0, (struct sockaddr *)&bn,
			    blen));
	EXPECT_EQ(1, afib_poll1(self->b, POLLIN, AFIB_WAIT_MS));
	EXPECT_EQ(2, recv(self->b, buf, sizeof(buf), 0));

	fd = socket(AF_IB, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, recv(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	/* An unbound socket binds itself on its first send. */
	EXPECT_EQ(2, sendto(fd, "ub", 2, 0, (struct sockaddr *)&bn, blen));
	EXPECT_EQ(2, ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
	close(fd);
}

/* ---- destinations resolved for non-blocking sends ------------------- */

/* An address on the test subnet nobody holds: SIDR is never answered. */
#define NOBODY4		"192.0.2.99"

static unsigned int ud_drops(int fd)
{
	return ud_counter(fd, AFIB_UD_DROPS);
}

/* Wait up to @ms for AFIB_UD_DROPS of @fd to reach @n: the last value. */
static unsigned int ud_drops_wait(int fd, unsigned int n, int ms)
{
	int64_t end = afib_now_ms() + ms;
	unsigned int v;

	while ((v = ud_drops(fd)) < n && afib_now_ms() < end)
		afib_msleep(50);
	return v;
}

/* Change the routes, so that every cached destination is stale. */
static int ud_route_bump(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "ip route add 198.51.100.0/24 dev %1$s && "
		 "ip route del 198.51.100.0/24 dev %1$s", afib_netdev());
	return afib_run_cmd(cmd, afib_tmo(10) * 1000);
}

FIXTURE(ud4)
{
	int a, b;
};

FIXTURE_SETUP(ud4)
{
	self->a = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, self->a) TH_LOG("bind: %s", strerror(errno));
	self->b = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, self->b) TH_LOG("bind: %s", strerror(errno));
}

FIXTURE_TEARDOWN(ud4)
{
	afib_close(&self->a);
	afib_close(&self->b);
}

/* Without a change, an entry lives 10 s (the same in every family). */
TEST_F_TIMEOUT(ud4, dest_ttl, afib_tmo(60))
{
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);

	ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen, "one"));
	EXPECT_EQ(1, ud_resolves(self->a));
	afib_msleep(5000);
	ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen, "two"));
	EXPECT_EQ(1, ud_resolves(self->a));
	afib_msleep(5500);
	ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen, "three"));
	EXPECT_EQ(2, ud_resolves(self->a));
}

/*
 * A non-blocking send does not wait for the resolution: to a host that
 * never answers it returns at once, where a blocking one waits 8 s for
 * EHOSTUNREACH.  It holds 16 datagrams (older ones are dropped and
 * counted), dropped and counted too when the resolution fails; an
 * unconnected socket hears no error.
 */
TEST_F_TIMEOUT(ud4, nonblock_unreachable, afib_tmo(60))
{
	struct sockaddr_storage nn;
	socklen_t nlen = udaddr(AF_INET, NOBODY4, 4791, &nn);
	unsigned int drops;
	char buf[16];
	int64_t t0, dt;
	int i;

	t0 = afib_now_ms();
	for (i = 0; i < 20; i++)
		ASSERT_EQ(2, sendto(self->a, "nb", 2, MSG_DONTWAIT,
				    (struct sockaddr *)&nn, nlen))
			TH_LOG("%d: %s", i, strerror(errno));
	dt = afib_now_ms() - t0;
	TH_LOG("20 non-blocking sends in %lld ms", (long long)dt);
	EXPECT_GT(afib_tmo(1) * 1000, dt);
	EXPECT_EQ(1, ud_resolves(self->a));
	EXPECT_EQ(4, ud_drops(self->a));
	/* The resolution gives up after 8 s: all 20 are lost. */
	drops = ud_drops_wait(self->a, 20, afib_tmo(20) * 1000);
	EXPECT_EQ(20, drops);
	EXPECT_EQ(-1, recv(self->a, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);

	/* A blocking send still waits and gets the error. */
	t0 = afib_now_ms();
	EXPECT_EQ(-1, sendto(self->a, "b", 1, 0, (struct sockaddr *)&nn,
			     nlen));
	EXPECT_EQ(EHOSTUNREACH, errno);
	EXPECT_LE(2000, afib_now_ms() - t0);
	EXPECT_EQ(2, ud_resolves(self->a));
	EXPECT_EQ(20, ud_drops(self->a));
}

/*
 * A blocking send that finds a non-blocking send's resolution pending
 * waits for what is left of that resolution's 8 s, not for 8 s more.
 */
TEST_F_TIMEOUT(ud4, nonblock_then_block_unreachable, afib_tmo(60))
{
	struct sockaddr_storage nn;
	socklen_t nlen = udaddr(AF_INET, NOBODY4, 4791, &nn);
	int64_t t0, dt;

	t0 = afib_now_ms();
	ASSERT_EQ(2, sendto(self->a, "nb", 2, MSG_DONTWAIT,
			    (struct sockaddr *)&nn, nlen));
	afib_msleep(4000);
	EXPECT_EQ(-1, sendto(self->a, "b", 1, 0, (struct sockaddr *)&nn,
			     nlen));
	EXPECT_EQ(EHOSTUNREACH, errno);
	dt = afib_now_ms() - t0;
	TH_LOG("unreachable after %lld ms", (long long)dt);
	/* The one resolution's bound, not 4 s + 8 s. */
	EXPECT_LE(7000, dt);
	EXPECT_GT(10500, dt);
	EXPECT_EQ(1, ud_resolves(self->a));
	EXPECT_EQ(1, ud_drops(self->a));
}

struct unreach_send {
	int fd;
	struct sockaddr_storage to;
	socklen_t len;
	ssize_t ret;
	int err;
	int64_t end;
};

static void *unreach_send_fn(void *arg)
{
	struct unreach_send *u = arg;

	u->ret = sendto(u->fd, "u", 1, 0, (struct sockaddr *)&u->to, u->len);
	u->err = errno;
	u->end = afib_now_ms();
	return NULL;
}

/* Start a thread's blocking send to NOBODY4 on @fd; wait until it waits. */
static int unreach_start(struct unreach_send *u, pthread_t *th, int fd)
{
	int i;

	u->fd = fd;
	u->len = udaddr(AF_INET, NOBODY4, 4791, &u->to);
	if (pthread_create(th, NULL, unreach_send_fn, u))
		return -1;
	/* Its resolution is counted before it waits for it. */
	for (i = 0; i < 200 && ud_resolves(fd) < 1; i++)
		afib_msleep(10);
	afib_msleep(100);
	return ud_resolves(fd) == 1 ? 0 : -1;
}

/*
 * A blocking send waiting for a host that never answers does not hold
 * up the socket: other threads send to other destinations (blocking or
 * not) and read its name meanwhile, as UDP never blocks on ARP.
 */
TEST_F_TIMEOUT(ud4, block_unreachable_others_go, afib_tmo(60))
{
	struct sockaddr_storage bn, an;
	socklen_t blen = ud_name(self->b, &bn), alen = sizeof(an);
	struct unreach_send u = {};
	char buf[16];
	int64_t t0, dt;
	pthread_t th;

	t0 = afib_now_ms();
	ASSERT_EQ(0, unreach_start(&u, &th, self->a));

	ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen, "block"));
	EXPECT_EQ(0, getsockname(self->a, (struct sockaddr *)&an, &alen));
	ASSERT_EQ(2, sendto(self->a, "nb", 2, MSG_DONTWAIT,
			    (struct sockaddr *)&bn, blen));
	ASSERT_EQ(2, ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
	EXPECT_EQ(0, memcmp(buf, "nb", 2));
	dt = afib_now_ms() - t0;
	TH_LOG("the other sends done after %lld ms", (long long)dt);
	/* While the unreachable one still waits for its 8 s. */
	EXPECT_EQ(EBUSY, pthread_tryjoin_np(th, NULL));

	ASSERT_EQ(0, afib_join(th, AFIB_WAIT_MS));
	EXPECT_EQ(-1, u.ret);
	EXPECT_EQ(EHOSTUNREACH, u.err);
	EXPECT_LE(7000, afib_now_ms() - t0);
	EXPECT_EQ(2, ud_resolves(self->a));
	EXPECT_EQ(0, ud_drops(self->a));
}

/* Held datagrams go out in order once the peer is resolved. */
TEST_F(ud4, nonblock_held)
{
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);
	char buf[16], msg[16];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(msg, sizeof(msg), "held%d", i);
		ASSERT_EQ(5, sendto(self->a, msg, 5, MSG_DONTWAIT,
				    (struct sockaddr *)&bn, blen))
			TH_LOG("%d: %s", i, strerror(errno));
	}
	for (i = 0; i < 5; i++) {
		snprintf(msg, sizeof(msg), "held%d", i);
		ASSERT_EQ(5, ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS,
				     NULL, NULL)) TH_LOG("%d: %s", i,
							 strerror(errno));
		EXPECT_EQ(0, memcmp(buf, msg, 5));
	}
	EXPECT_EQ(1, ud_resolves(self->a));
	EXPECT_EQ(0, ud_drops(self->a));
	/* A blocking send after them uses the entry they resolved. */
	ASSERT_EQ(0, ud_roundtrip(self->a, self->b, &bn, blen, "block"));
	EXPECT_EQ(1, ud_resolves(self->a));
}

/* O_NONBLOCK is non-blocking too; a blocking send joins the pending one. */
TEST_F(ud4, nonblock_then_block)
{
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);
	int fl = fcntl(self->a, F_GETFL);
	char buf[16];

	ASSERT_EQ(0, fcntl(self->a, F_SETFL, fl | O_NONBLOCK));
	ASSERT_EQ(2, sendto(self->a, "n1", 2, 0, (struct sockaddr *)&bn,
			    blen));
	ASSERT_EQ(0, fcntl(self->a, F_SETFL, fl));
	ASSERT_EQ(2, sendto(self->a, "b2", 2, 0, (struct sockaddr *)&bn,
			    blen));
	ASSERT_EQ(2, ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
	EXPECT_EQ(0, memcmp(buf, "n1", 2));
	ASSERT_EQ(2, ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
	EXPECT_EQ(0, memcmp(buf, "b2", 2));
	EXPECT_EQ(1, ud_resolves(self->a));
}

/*
 * Nobody at the port: a connected socket learns it after its
 * non-blocking send returned, once, from send() or recv(), as from an
 * ICMP error; an unconnected one drops the datagram silently.
 */
TEST_F_TIMEOUT(ud4, nonblock_refused, afib_tmo(60))
{
	struct sockaddr_storage bn;
	socklen_t blen = ud_name(self->b, &bn);
	char buf[16];

	ASSERT_EQ(0, connect(self->a, (struct sockaddr *)&bn, blen));
	ASSERT_EQ(2, send(self->a, "up", 2, 0));
	ASSERT_EQ(2, ud_recv(self->b, buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
	afib_close(&self->b);
	/* The cached entry goes stale: the next send resolves again. */
	ASSERT_EQ(0, ud_route_bump());

	ASSERT_EQ(4, send(self->a, "gone", 4, MSG_DONTWAIT))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(POLLERR, afib_poll1(self->a, POLLERR, AFIB_WAIT_MS));
	EXPECT_EQ(-1, send(self->a, "x", 1, MSG_DONTWAIT));
	EXPECT_EQ(ECONNREFUSED, errno);
	EXPECT_EQ(1, ud_drops(self->a));
	/* Reported once. */
	EXPECT_EQ(-1, recv(self->a, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);

	/* Again, seen by recv() this time. */
	ASSERT_EQ(4, send(self->a, "gone", 4, MSG_DONTWAIT));
	EXPECT_EQ(POLLERR, afib_poll1(self->a, POLLERR, AFIB_WAIT_MS));
	EXPECT_EQ(-1, recv(self->a, buf, sizeof(buf), 0));
	EXPECT_EQ(ECONNREFUSED, errno);
	EXPECT_EQ(2, ud_drops(self->a));

	/* Unconnected: dropped and counted, no error. */
	ASSERT_EQ(0, connect(self->a, (struct sockaddr *)&(struct sockaddr){
			.sa_family = AF_UNSPEC }, sizeof(struct sockaddr)));
	ASSERT_EQ(4, sendto(self->a, "gone", 4, MSG_DONTWAIT,
			    (struct sockaddr *)&bn, blen));
	EXPECT_EQ(3, ud_drops_wait(self->a, 3, AFIB_WAIT_MS));
	EXPECT_EQ(0, afib_poll1(self->a, POLLERR, 200));
	EXPECT_EQ(-1, recv(self->a, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

/* close() with held datagrams and resolutions under way: no wait. */
TEST_F(ud4, nonblock_close_pending)
{
	struct sockaddr_storage bn, nn;
	socklen_t blen = ud_name(self->b, &bn);
	socklen_t nlen = udaddr(AF_INET, NOBODY4, 4791, &nn);
	int64_t t0;
	int i;

	for (i = 0; i < 20; i++) {
		ASSERT_EQ(2, sendto(self->a, "nb", 2, MSG_DONTWAIT,
				    (struct sockaddr *)&nn, nlen));
		ASSERT_EQ(2, sendto(self->a, "nb", 2, MSG_DONTWAIT,
				    (struct sockaddr *)&bn, blen));
	}
	t0 = afib_now_ms();
	afib_close(&self->a);
	EXPECT_GT(afib_tmo(2) * 1000, afib_now_ms() - t0);
}

/* ---- multicast ------------------------------------------------------ */

FIXTURE(mc)
{
	int r[3];
	int s;
};

FIXTURE_SETUP(mc)
{
	int i;

	for (i = 0; i < 3; i++) {
		self->r[i] = ud_bound(AF_INET, NULL);
		ASSERT_LE(0, self->r[i]) TH_LOG("bind: %s", strerror(errno));
	}
	self->s = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, self->s);
}

FIXTURE_TEARDOWN(mc)
{
	int i;

	for (i = 0; i < 3; i++)
		afib_close(&self->r[i]);
	afib_close(&self->s);
}

/* Three sockets (one in a child process) each receive every datagram. */
TEST_F(mc, several_receivers)
{
	int i, status, pfd[2];
	char go;
	pid_t pid;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, ud_mc4(self->r[i], IP_ADD_MEMBERSHIP, GROUP4,
				    true)) TH_LOG("join: %s", strerror(errno));
	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = ud_bound(AF_INET, NULL);

		if (fd < 0 || ud_mc4(fd, IP_ADD_MEMBERSHIP, GROUP4, true))
			_exit(2);
		if (write(pfd[1], "j", 1) != 1)
			_exit(3);
		_exit(ud_count(fd, 5, AFIB_WAIT_MS) == 5 ? 0 : 1);
	}
	close(pfd[1]);
	ASSERT_EQ(1, read(pfd[0], &go, 1));
	close(pfd[0]);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(3, ud_send_group(self->s, GROUP4, 9999, "mc0", 3))
			TH_LOG("send: %s", strerror(errno));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(5, ud_count(self->r[i], 5, AFIB_WAIT_MS))
			TH_LOG("receiver %d", i);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %x", status);
}

/* The sender's own address is reported; loop off keeps it off-host. */
TEST_F(mc, loop)
{
	struct sockaddr_storage sn, from;
	socklen_t slen = ud_name(self->s, &sn), flen = sizeof(from);
	int loop = -1, off = 0, on = 1;
	socklen_t ol = sizeof(loop);
	char buf[16];

	ASSERT_EQ(0, ud_mc4(self->r[0], IP_ADD_MEMBERSHIP, GROUP4, true));
	ASSERT_EQ(0, getsockopt(self->s, IPPROTO_IP, IP_MULTICAST_LOOP, &loop,
				&ol));
	EXPECT_EQ(1, loop);
	ASSERT_EQ(3, ud_send_group(self->s, GROUP4, 1, "mc1", 3));
	ASSERT_EQ(3, ud_recv(self->r[0], buf, sizeof(buf), AFIB_WAIT_MS,
			     &from, &flen));
	EXPECT_EQ(slen, flen);
	EXPECT_TRUE(afib_same_addr(&from, &sn));

	ASSERT_EQ(0, setsockopt(self->s, IPPROTO_IP, IP_MULTICAST_LOOP, &off,
				sizeof(off)));
	ol = sizeof(loop);
	ASSERT_EQ(0, getsockopt(self->s, IPPROTO_IP, IP_MULTICAST_LOOP, &loop,
				&ol));
	EXPECT_EQ(0, loop);
	ASSERT_EQ(3, ud_send_group(self->s, GROUP4, 1, "mc2", 3));
	EXPECT_EQ(-1, ud_recv(self->r[0], buf, sizeof(buf), MC_MS, NULL,
			      NULL));
	ASSERT_EQ(0, setsockopt(self->s, IPPROTO_IP, IP_MULTICAST_LOOP, &on,
				1));	/* a char, as Linux accepts */
	ASSERT_EQ(3, ud_send_group(self->s, GROUP4, 1, "mc3", 3));
	EXPECT_EQ(3, ud_recv(self->r[0], buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
}

/* A member that left hears nothing; the others still do. */
TEST_F(mc, leave)
{
	ASSERT_EQ(0, ud_mc4(self->r[0], IP_ADD_MEMBERSHIP, GROUP4, true));
	ASSERT_EQ(0, ud_mc4(self->r[1], IP_ADD_MEMBERSHIP, GROUP4, true));
	ASSERT_EQ(3, ud_send_group(self->s, GROUP4, 1, "mc4", 3));
	EXPECT_EQ(1, ud_count(self->r[0], 1, AFIB_WAIT_MS));
	EXPECT_EQ(1, ud_count(self->r[1], 1, AFIB_WAIT_MS));
	ASSERT_EQ(0, ud_mc4(self->r[0], IP_DROP_MEMBERSHIP, GROUP4, false));
	EXPECT_EQ(-1, ud_mc4(self->r[0], IP_DROP_MEMBERSHIP, GROUP4, false));
	EXPECT_EQ(EADDRNOTAVAIL, errno);
	ASSERT_EQ(3, ud_send_group(self->s, GROUP4, 1, "mc5", 3));
	EXPECT_EQ(1, ud_count(self->r[1], 1, AFIB_WAIT_MS));
	EXPECT_EQ(0, ud_count(self->r[0], 1, MC_MS));
	/* And may join again. */
	ASSERT_EQ(0, ud_mc4(self->r[0], IP_ADD_MEMBERSHIP, GROUP4, true));
	ASSERT_EQ(3, ud_send_group(self->s, GROUP4, 1, "mc6", 3));
	EXPECT_EQ(1, ud_count(self->r[0], 1, AFIB_WAIT_MS));
	EXPECT_EQ(1, ud_count(self->r[1], 1, AFIB_WAIT_MS));
}

/* Closing a member ends its memberships only; many joins, one close. */
TEST_F(mc, close_joined)
{
	char g[32];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(g, sizeof(g), "239.1.3.%d", i + 1);
		ASSERT_EQ(0, ud_mc4(self->r[0], IP_ADD_MEMBERSHIP, g, true));
	}
	ASSERT_EQ(0, ud_mc4(self->r[1], IP_ADD_MEMBERSHIP, "239.1.3.1", true));
	afib_close(&self->r[0]);
	ASSERT_EQ(3, ud_send_group(self->s, "239.1.3.1", 1, "mc7", 3));
	EXPECT_EQ(1, ud_count(self->r[1], 1, AFIB_WAIT_MS));
	/* The groups are free for a new socket. */
	self->r[0] = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, self->r[0]);
	ASSERT_EQ(0, ud_mc4(self->r[0], IP_ADD_MEMBERSHIP, "239.1.3.2", true));
	ASSERT_EQ(3, ud_send_group(self->s, "239.1.3.2", 1, "mc8", 3));
	EXPECT_EQ(1, ud_count(self->r[0], 1, AFIB_WAIT_MS));
}

/* AFIB_MCAST_JOIN by MGID: ::ffff:239.1.2.4 is the IPv4 group on RoCE. */
TEST_F(mc, mgid_join)
{
	struct afib_mcast_req req = {};
	char buf[16];

	req.mgid[10] = 0xff;
	req.mgid[11] = 0xff;
	inet_pton(AF_INET, GROUP4_B, &req.mgid[12]);
	ASSERT_EQ(0, setsockopt(self->r[0], SOL_AFIB, AFIB_MCAST_JOIN, &req,
				sizeof(req))) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-1, setsockopt(self->r[0], SOL_AFIB, AFIB_MCAST_JOIN, &req,
				 sizeof(req)));
	EXPECT_EQ(EADDRINUSE, errno);
	ASSERT_EQ(3, ud_send_group(self->s, GROUP4_B, 1, "mc9", 3));
	EXPECT_EQ(3, ud_recv(self->r[0], buf, sizeof(buf), AFIB_WAIT_MS, NULL,
			     NULL));
	/* The same membership as IP_ADD_MEMBERSHIP's: it leaves by IP. */
	ASSERT_EQ(0, ud_mc4(self->r[0], IP_DROP_MEMBERSHIP, GROUP4_B, false));
	EXPECT_EQ(-1, setsockopt(self->r[0], SOL_AFIB, AFIB_MCAST_LEAVE, &req,
				 sizeof(req)));
	EXPECT_EQ(EADDRNOTAVAIL, errno);
}

/*
 * IPv6 groups: rdma_cm refuses them on RoCEv2 ports (ENOTSUPP in
 * cma_iboe_join_multicast()), which af_ib reports as EOPNOTSUPP.
 */
TEST(mc6_roce)
{
	struct ipv6_mreq m = {};
	int fd = ud_bound(AF_INET6, NULL);

	ASSERT_LE(0, fd);
	inet_pton(AF_INET6, "ff0e::1:2", &m.ipv6mr_multiaddr);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m,
				 sizeof(m)));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m,
				 sizeof(m)));
	EXPECT_EQ(EADDRNOTAVAIL, errno);
	close(fd);
}

/* ---- bad input ------------------------------------------------------ */

TEST(bad_input)
{
	struct sockaddr_storage ss, bn;
	struct afib_mcast_req req = {};
	struct ipv6_mreq m6 = {};
	socklen_t sl, blen;
	struct ip_mreq mreq = {};
	int fd, b, v = 0;
	socklen_t ol = sizeof(v);
	char buf[16];

	fd = socket(AF_IB, SOCK_DGRAM, 0);
	ASSERT_LE(0, fd);
	/* Joining before bind. */
	EXPECT_EQ(-1, ud_mc4(fd, IP_ADD_MEMBERSHIP, GROUP4, true));
	EXPECT_EQ(EINVAL, errno);
	/* No device yet: no size limit to report. */
	EXPECT_EQ(-1, getsockopt(fd, SOL_AFIB, AFIB_MAX_MSG_SIZE, &v, &ol));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-1, send(fd, "x", 1, 0));
	EXPECT_EQ(EDESTADDRREQ, errno);
	EXPECT_EQ(-1, listen(fd, 1));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EOPNOTSUPP, errno);
	sl = udaddr(AF_INET, NULL, 0, &ss);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, 3));
	EXPECT_EQ(EINVAL, errno);
	ss.ss_family = AF_UNIX;
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, sl));
	EXPECT_EQ(EAFNOSUPPORT, errno);
	/* A sockaddr_ib in the TCP port space is not a datagram address. */
	sl = afib_addr(AF_IB, 5, &ss);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, sl));
	EXPECT_EQ(EINVAL, errno);
	/* Binding to a group address. */
	sl = udaddr(AF_INET, GROUP4, 0, &ss);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, sl));
	EXPECT_EQ(EADDRNOTAVAIL, errno);
	sl = udaddr(AF_INET, NULL, 0, &ss);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&ss, sl));
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&ss, sl));
	EXPECT_EQ(EINVAL, errno);

	/* Group addresses that are not groups, short option buffers. */
	EXPECT_EQ(-1, ud_mc4(fd, IP_ADD_MEMBERSHIP, "192.0.2.7", true));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ud_mc4(fd, IP_ADD_MEMBERSHIP, "0.0.0.0", false));
	EXPECT_EQ(EINVAL, errno);
	inet_pton(AF_INET, GROUP4, &mreq.imr_multiaddr);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP,
				 afib_bad_ptr(), sizeof(mreq)));
	EXPECT_EQ(EFAULT, errno);
	inet_pton(AF_INET6, "2001:db8::5", &m6.ipv6mr_multiaddr);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6,
				 sizeof(m6)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, 3));
	EXPECT_EQ(EINVAL, errno);
	/* MGIDs: not multicast, reserved bits, short. */
	req.mgid[0] = 0xfe;
	EXPECT_EQ(-1, setsockopt(fd, SOL_AFIB, AFIB_MCAST_JOIN, &req,
				 sizeof(req)));
	EXPECT_EQ(EINVAL, errno);
	req.mgid[0] = 0xff;
	req.mgid[1] = 0x0e;
	req.reserved = 1;
	EXPECT_EQ(-1, setsockopt(fd, SOL_AFIB, AFIB_MCAST_JOIN, &req,
				 sizeof(req)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, SOL_AFIB, AFIB_MCAST_JOIN, &req, 8));
	EXPECT_EQ(EINVAL, errno);
	/* Leaving what was not joined. */
	EXPECT_EQ(-1, ud_mc4(fd, IP_DROP_MEMBERSHIP, GROUP4, false));
	EXPECT_EQ(EADDRNOTAVAIL, errno);
	/* Duplicate join. */
	ASSERT_EQ(0, ud_mc4(fd, IP_ADD_MEMBERSHIP, GROUP4, true));
	EXPECT_EQ(-1, ud_mc4(fd, IP_ADD_MEMBERSHIP, GROUP4, true));
	EXPECT_EQ(EADDRINUSE, errno);
	/* Read-only options, unknown ones. */
	EXPECT_EQ(-1, setsockopt(fd, SOL_AFIB, AFIB_UD_DROPS, &v, sizeof(v)));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, setsockopt(fd, SOL_AFIB, 999, &v, sizeof(v)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &v, 0));
	EXPECT_EQ(EINVAL, errno);
	ol = 2;
	EXPECT_EQ(-1, getsockopt(fd, SOL_AFIB, AFIB_UD_DROPS, &v, &ol));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, SOL_AFIB, AFIB_UD_RESOLVES, &v,
				 sizeof(v)));
	EXPECT_EQ(EPERM, errno);
	ol = 2;
	EXPECT_EQ(-1, getsockopt(fd, SOL_AFIB, AFIB_UD_RESOLVES, &v, &ol));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, getsockopt(fd, SOL_AFIB, AFIB_UD_RESOLVES, &v,
				 (socklen_t *)afib_bad_ptr()));
	EXPECT_EQ(EFAULT, errno);

	/* Flags a datagram socket does not have; nobody at the port. */
	b = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, b);
	blen = ud_name(b, &bn);
	EXPECT_EQ(-1, sendto(fd, "x", 1, MSG_OOB, (struct sockaddr *)&bn,
			     blen));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, recv(b, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, sendto(fd, afib_bad_ptr(), 8, 0, (struct sockaddr *)&bn,
			     blen));
	EXPECT_EQ(EFAULT, errno);
	close(b);
	/* Never sent to, so not cached: SIDR finds nobody there. */
	b = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, b);
	blen = ud_name(b, &bn);
	close(b);
	EXPECT_EQ(-1, sendto(fd, "x", 1, 0, (struct sockaddr *)&bn, blen));
	EXPECT_EQ(ECONNREFUSED, errno);
	close(fd);	/* with a membership */
}

/* ---- device removal (last: removes and re-adds the device) ----------- */

struct blocked_recv {
	int fd;
	ssize_t ret;
	int err;
};

static void *recv_fn(void *arg)
{
	struct blocked_recv *b = arg;
	char buf[16];

	b->ret = recv(b->fd, buf, sizeof(buf), 0);
	b->err = errno;
	return NULL;
}

/* Re-add the device: datagrams work on the new one. */
static void readd(struct __test_metadata *_metadata)
{
	struct sockaddr_storage bn;
	socklen_t blen;
	char buf[16];
	int a, b;

	ASSERT_EQ(0, afib_dev_add());
	afib_msleep(500);
	a = ud_bound(AF_INET, NULL);
	b = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	blen = ud_name(b, &bn);
	ASSERT_EQ(2, sendto(a, "ok", 2, 0, (struct sockaddr *)&bn, blen))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(2, ud_recv(b, buf, sizeof(buf), AFIB_WAIT_MS, NULL, NULL));
	close(a);
	close(b);
}

/* A fixture of its own, defined last, so that it runs after the others. */
FIXTURE(devremove)
{
};

FIXTURE_SETUP(devremove)
{
}

FIXTURE_TEARDOWN(devremove)
{
}

TEST_F(devremove, blocked_recv)
{
	struct blocked_recv br = {};
	struct sockaddr_storage bn;
	socklen_t blen;
	char cmd[128], buf[16];
	pthread_t th;
	int a, b, err;

	if (!afib_dev_present())
		SKIP(return, "no %s", afib_devname());
	a = ud_bound(AF_INET, NULL);
	b = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	blen = ud_name(b, &bn);
	ASSERT_EQ(0, ud_mc4(b, IP_ADD_MEMBERSHIP, GROUP4, true));
	ASSERT_EQ(2, sendto(a, "hi", 2, 0, (struct sockaddr *)&bn, blen));
	ASSERT_EQ(2, ud_recv(b, buf, sizeof(buf), AFIB_WAIT_MS, NULL, NULL));
	br.fd = b;
	ASSERT_EQ(0, pthread_create(&th, NULL, recv_fn, &br));
	afib_msleep(200);

	snprintf(cmd, sizeof(cmd), "rdma link delete %s", afib_devname());
	ASSERT_EQ(0, afib_run_cmd(cmd, afib_tmo(30) * 1000));
	err = afib_join(th, AFIB_WAIT_MS);
	EXPECT_EQ(0, err) TH_LOG("recv still blocked");
	if (!err) {
		EXPECT_EQ(-1, br.ret);
		EXPECT_EQ(ENODEV, br.err);
	}
	EXPECT_EQ(-1, recv(b, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_TRUE(afib_poll1(b, POLLIN, 0) == 1);
	EXPECT_EQ(-1, sendto(a, "hi", 2, 0, (struct sockaddr *)&bn, blen));
	EXPECT_EQ(ENODEV, errno);
	/* connect() answers at once, with no resolution started. */
	EXPECT_EQ(-1, connect(a, (struct sockaddr *)&bn, blen));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(1, ud_resolves(a));
	EXPECT_EQ(0, close(a));
	EXPECT_EQ(0, close(b));

	readd(_metadata);
}

/* A send waiting for a resolution wakes with ENODEV when the device goes. */
TEST_F_TIMEOUT(devremove, blocked_send_resolving, afib_tmo(90))
{
	struct unreach_send u = {};
	int64_t t0, t1, t2;
	char cmd[128];
	pthread_t th;
	int a, err;

	if (!afib_dev_present())
		SKIP(return, "no %s", afib_devname());
	a = ud_bound(AF_INET, NULL);
	ASSERT_LE(0, a);
	t0 = afib_now_ms();
	ASSERT_EQ(0, unreach_start(&u, &th, a));

	snprintf(cmd, sizeof(cmd), "rdma link delete %s", afib_devname());
	t1 = afib_now_ms();
	ASSERT_EQ(0, afib_run_cmd(cmd, afib_tmo(30) * 1000));
	t2 = afib_now_ms();
	err = afib_join(th, AFIB_WAIT_MS);
	ASSERT_EQ(0, err) TH_LOG("send still blocked");
	TH_LOG("send started, removal started, done, send done: 0 %lld %lld %lld ms",
	       (long long)(t1 - t0), (long long)(t2 - t0),
	       (long long)(u.end - t0));
	EXPECT_EQ(-1, u.ret);
	EXPECT_EQ(ENODEV, u.err);
	/* Woken by the removal, not by its 8 s running out. */
	if (t2 - t0 < 7000)
		EXPECT_GT(7500, u.end - t0);
	EXPECT_EQ(0, close(a));

	readd(_metadata);
}

TEST_HARNESS_MAIN
