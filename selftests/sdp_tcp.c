// SPDX-License-Identifier: GPL-2.0
/*
 * SDP's TCP conformance suite.
 *
 * SDP sockets (AF_INET_SDP, AF_INET6_SDP) promise TCP's semantics, so the
 * acceptance rule is: every case runs over kernel TCP and over SDP and
 * must give the same observable result -- return values, errno, the data,
 * poll events.  Each fixture is run once per transport of SDP_VARIANTS()
 * (sdp_lib.h): tcp4, tcp6, tcp6_mapped, sdp4, sdp4_tcpproto, sdp6,
 * sdp6_mapped.  The expectations are written as what TCP does (measured
 * on Linux 6.1, 6.12 and 6.18); nothing is special-cased for SDP, so a
 * case fails where SDP deviates.  The TCP variants are the proof that the
 * expectations are TCP's.
 *
 * Two details are by choice:
 * - SO_DOMAIN must report the family given to socket(), as it does for
 *   TCP (AF_INET -> AF_INET): 27 or 28 for SDP.  Addresses, on the other
 *   hand, must come back as AF_INET / AF_INET6, as TCP's.
 * - AF_INET6_SDP also takes a plain sockaddr_in, which AF_INET6 TCP
 *   refuses; no case passes one to an AF_INET6 socket.
 *
 * Client and server are in one process and use the local test address
 * (afib_ip4(), afib_ip6()): in the VM all SDP traffic loops through rxe0
 * on dummy0.  Waits for something that should happen are scaled with
 * AFIB_TIMEOUT_SCALE (AFIB_WAIT_MS); lower bounds of durations (timeouts,
 * linger, MSG_WAITALL) are not, and neither are the short windows in which
 * TCP is known to hold data back (TCP_CORK, MSG_MORE: about 200 ms).
 * Cases that fill a connection use 64 KiB socket buffers to keep the
 * volume small.  SDP_BIG=1 makes the case "big" move 64 MiB, not 1 MiB.
 *
 * connect_silent and connect_timeout need a host on the test subnet that
 * never answers, connect_noroute a destination without a route: the VM has
 * both (192.0.2.2 / 2001:db8::2 on dummy0, no default route); elsewhere
 * they SKIP rather than send packets off the machine (SDP_SILENT_IP4 and
 * SDP_SILENT_IP6 name a silent host).
 *
 * Fixtures: sock (one fresh socket) and conn (a connected pair, client
 * cfd, server sfd, and its listener lfd, default buffers).
 */
#include <ifaddrs.h>

#include "sdp_lib.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Every event a byte stream can report, for exact poll() masks. */
#define ALL_EV		(POLLIN | POLLOUT | POLLPRI | POLLRDHUP)
/* The masks TCP reports. */
#define EV_EOF		(POLLIN | POLLOUT | POLLRDHUP)
#define EV_HUP		(EV_EOF | POLLHUP)
#define EV_RESET	(EV_HUP | POLLERR)

#define SMALL_BUF	65536		/* SO_SNDBUF/SO_RCVBUF to fill */
#define FILL_MAX	(16 << 20)	/* most a filling sender may send */

/* Hosts that are never reached: bind/connect fail before sending. */
#define NONLOCAL4	"198.51.100.1"
#define NONLOCAL6	"2001:db8:ffff::1"

static volatile sig_atomic_t sigpipes, sigurgs;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static void on_sigurg(int sig)
{
	(void)sig;
	sigurgs++;
}

static void catch_signal(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static int read_proc_int(const char *path, int def)
{
	FILE *f = fopen(path, "r");
	int v = def;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = def;
		fclose(f);
	}
	return v;
}

static bool port_in_range(int port)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int lo = 1, hi = 65535;

	if (f) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2) {
			lo = 1;
			hi = 65535;
		}
		fclose(f);
	}
	return port >= lo && port <= hi;
}

/* getsockname() / getpeername() into @ss; the length, 0 on error. */
static socklen_t name_of(int fd, struct sockaddr_storage *ss, bool peer)
{
	socklen_t len = sizeof(*ss);
	int ret;

	memset(ss, 0xa5, sizeof(*ss));
	ret = peer ? getpeername(fd, (void *)ss, &len) :
		     getsockname(fd, (void *)ss, &len);
	return ret ? 0 : len;
}

/* A port of @tp's family that nothing listens on. */
static int closed_port(const struct sdp_tp *tp)
{
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, 0, &ss);
	int fd = sdp_socket(tp, 0), port;

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

/*
 * Fill @fd with stream @seed from *@off on (MSG_DONTWAIT) until it stays
 * unwritable: EAGAIN and no POLLOUT for 200 ms (scaled).  TCP makes a little room
 * again after the first EAGAIN (ACKs shrink the send queue), so this
 * loops.  *@shorts counts short writes.  0, or -1 with errno set on an
 * error or after FILL_MAX bytes or AFIB_WAIT_MS.
 */
static int fill(int fd, uint32_t seed, size_t *off, int *shorts, int *eagains)
{
	const size_t sz = 65536;
	int64_t end = afib_now_ms() + AFIB_WAIT_MS;
	char *buf = malloc(sz);
	int ret = -1;
	ssize_t n;

	if (!buf)
		return -1;
	for (;;) {
		sdp_fill_at(buf, sz, seed, *off);
		n = send(fd, buf, sz, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			*off += n;
			if ((size_t)n < sz && shorts)
				(*shorts)++;
		} else if (n < 0 && errno == EAGAIN) {
			if (eagains)
				(*eagains)++;
			if (!(afib_poll1(fd, POLLOUT, 200 * afib_tmo(1)) &
			      POLLOUT)) {
				ret = 0;
				break;
			}
		} else {
			if (!n)
				errno = EPROTO;
			break;
		}
		if (*off > FILL_MAX) {
			errno = EMSGSIZE;
			break;
		}
		if (afib_now_ms() > end) {
			errno = ETIMEDOUT;
			break;
		}
	}
	free(buf);
	return ret;
}

/* Check a reader stream that should have received @total bytes. */
static bool stream_ok(struct __test_metadata *_metadata,
		      const struct sdp_stream *st, size_t total)
{
	if (st->what) {
		TH_LOG("%s %zu bytes: %s after %zu: %s",
		       st->tx ? "writer" : "reader", total, st->what,
		       st->done, strerror(st->err));
		return false;
	}
	if (st->done != total) {
		TH_LOG("%zu of %zu bytes", st->done, total);
		return false;
	}
	if (st->bad >= 0) {
		TH_LOG("corrupt at stream offset %ld", st->bad);
		return false;
	}
	return true;
}

/* Send @n pieces of @len bytes of stream @seed after @ms each; shut. */
struct later {
	int fd, ms, n;
	size_t len;
	uint32_t seed;
	bool shut;
	int err;
	pthread_t th;
};

static void *later_fn(void *arg)
{
	struct later *l = arg;
	char *buf = malloc(l->len);
	int i;

	for (i = 0; buf && i < l->n; i++) {
		afib_msleep(l->ms);
		sdp_fill_at(buf, l->len, l->seed, i * l->len);
		if (sdp_send_all(l->fd, buf, l->len, MSG_NOSIGNAL) !=
		    (ssize_t)l->len) {
			l->err = errno;
			break;
		}
	}
	if (l->shut) {
		afib_msleep(l->ms);
		if (shutdown(l->fd, SHUT_WR))
			l->err = errno;
	}
	free(buf);
	return NULL;
}

/* ---- one fresh socket ------------------------------------------------ */

FIXTURE(sock) {
	int fd;
};

FIXTURE_VARIANT(sock) {
	struct sdp_tp tp;
};

SDP_VARIANTS(sock);

FIXTURE_SETUP(sock)
{
	signal(SIGPIPE, SIG_IGN);
	self->fd = sdp_socket(&variant->tp, 0);
	ASSERT_LE(0, self->fd) TH_LOG("socket(%d, SOCK_STREAM, %d): %s",
				      variant->tp.domain, variant->tp.proto,
				      strerror(errno));
}

FIXTURE_TEARDOWN(sock)
{
	afib_close(&self->fd);
}

/* socket(): protocols, SO_TYPE/SO_PROTOCOL/SO_DOMAIN, flags, names. */
TEST_F_TIMEOUT(sock, create, afib_tmo(60))
{
	static const int good[] = { 0, IPPROTO_TCP };
	static const int bad[] = { IPPROTO_ICMP, IPPROTO_UDP, IPPROTO_RAW };
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		fd = socket(tp->domain, SOCK_STREAM, good[i]);
		ASSERT_LE(0, fd) TH_LOG("protocol %d: %s", good[i],
					strerror(errno));
		EXPECT_EQ(SOCK_STREAM, sdp_getint(fd, SOL_SOCKET, SO_TYPE));
		/* TCP reports IPPROTO_TCP for protocol 0 too. */
		EXPECT_EQ(IPPROTO_TCP,
			  sdp_getint(fd, SOL_SOCKET, SO_PROTOCOL))
			TH_LOG("protocol %d", good[i]);
		EXPECT_EQ(tp->domain, sdp_getint(fd, SOL_SOCKET, SO_DOMAIN));
		EXPECT_EQ(0, sdp_getint(fd, SOL_SOCKET, SO_ACCEPTCONN));
		EXPECT_EQ(0, sdp_getint(fd, SOL_SOCKET, SO_ERROR));
		close(fd);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		fd = socket(tp->domain, SOCK_STREAM, bad[i]);
		EXPECT_EQ(-1, fd) TH_LOG("protocol %d accepted", bad[i]);
		EXPECT_EQ(EPROTONOSUPPORT, errno)
			TH_LOG("protocol %d: %s", bad[i], strerror(errno));
		if (fd >= 0)
			close(fd);
	}

	fd = sdp_socket(tp, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	EXPECT_FALSE(fcntl(self->fd, F_GETFL) & O_NONBLOCK);
	EXPECT_FALSE(fcntl(self->fd, F_GETFD) & FD_CLOEXEC);

	/* Unbound: the wildcard, port 0, in the TCP family. */
	len = name_of(self->fd, &ss, false);
	EXPECT_EQ(afib_addr_len(tp->af), len);
	EXPECT_EQ(tp->af, ss.ss_family);
	EXPECT_EQ(0, afib_port_of(&ss));
	EXPECT_TRUE(sdp_is_any(&ss)) TH_LOG("unbound name %s",
					    afib_ntop(&ss));
	EXPECT_EQ(0, name_of(self->fd, &ss, true));
	EXPECT_EQ(ENOTCONN, errno);
	/* A fresh TCP socket polls writable and hung up. */
	EXPECT_EQ(POLLOUT | POLLHUP, afib_poll1(self->fd, ALL_EV, 0));
}

TEST_F_TIMEOUT(sock, bind_ephemeral, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss, got;
	socklen_t len = sdp_addr(tp, 0, &ss);
	int port;

	ASSERT_EQ(0, bind(self->fd, (void *)&ss, len))
		TH_LOG("bind %s: %s", afib_ntop(&ss), strerror(errno));
	len = name_of(self->fd, &got, false);
	EXPECT_EQ(afib_addr_len(tp->af), len);
	ASSERT_EQ(tp->af, got.ss_family);
	port = afib_port_of(&got);
	EXPECT_TRUE(port_in_range(port)) TH_LOG("port %d", port);
	sdp_addr(tp, port, &ss);
	EXPECT_TRUE(afib_same_addr(&ss, &got))
		TH_LOG("getsockname %s, bound %s", afib_ntop(&got),
		       afib_ntop(&ss));
	EXPECT_EQ(0, name_of(self->fd, &got, true));
	EXPECT_EQ(ENOTCONN, errno);
}

/* Bound to the wildcard: accepted sockets have the specific address. */
TEST_F_TIMEOUT(sock, bind_wildcard, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss, got;
	socklen_t len = sdp_addr_any(tp, 0, &ss);
	int port, cfd, sfd;

	ASSERT_EQ(0, bind(self->fd, (void *)&ss, len))
		TH_LOG("bind %s: %s", afib_ntop(&ss), strerror(errno));
	len = name_of(self->fd, &got, false);
	EXPECT_EQ(afib_addr_len(tp->af), len);
	EXPECT_EQ(tp->af, got.ss_family);
	EXPECT_TRUE(sdp_is_any(&got)) TH_LOG("name %s", afib_ntop(&got));
	port = afib_port_of(&got);
	EXPECT_TRUE(port_in_range(port)) TH_LOG("port %d", port);
	ASSERT_EQ(0, listen(self->fd, 4));

	cfd = sdp_connect(tp, port, 0);
	ASSERT_LE(0, cfd) TH_LOG("connect: %s", strerror(errno));
	sfd = accept(self->fd, NULL, NULL);
	ASSERT_LE(0, sfd) TH_LOG("accept: %s", strerror(errno));
	sdp_addr(tp, port, &ss);
	name_of(sfd, &got, false);
	EXPECT_TRUE(afib_same_addr(&ss, &got))
		TH_LOG("accepted %s, want %s", afib_ntop(&got),
		       afib_ntop(&ss));
	name_of(self->fd, &got, false);
	EXPECT_TRUE(sdp_is_any(&got)) TH_LOG("listener %s", afib_ntop(&got));
	EXPECT_TRUE(sdp_xfer(_metadata, cfd, sfd, 1000, 1));
	close(cfd);
	close(sfd);
}

TEST_F_TIMEOUT(sock, bind_inuse, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, 0, &ss);
	int fd2, port;

	ASSERT_EQ(0, bind(self->fd, (void *)&ss, len));
	port = afib_getport(self->fd);
	ASSERT_LT(0, port);
	fd2 = sdp_socket(tp, 0);
	ASSERT_LE(0, fd2);

	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, bind(fd2, (void *)&ss, len));
	EXPECT_EQ(EADDRINUSE, errno);
	len = sdp_addr_any(tp, port, &ss);
	EXPECT_EQ(-1, bind(fd2, (void *)&ss, len));
	EXPECT_EQ(EADDRINUSE, errno);

	/* Bound once: a second bind is EINVAL, even to the same address. */
	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, bind(self->fd, (void *)&ss, len));
	EXPECT_EQ(EINVAL, errno);
	len = sdp_addr(tp, 0, &ss);
	EXPECT_EQ(-1, bind(self->fd, (void *)&ss, len));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, listen(self->fd, 4));
	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, bind(fd2, (void *)&ss, len));
	EXPECT_EQ(EADDRINUSE, errno);
	EXPECT_EQ(-1, bind(self->fd, (void *)&ss, len));
	EXPECT_EQ(EINVAL, errno);
	/* The failed binds left fd2 unbound. */
	len = sdp_addr(tp, 0, &ss);
	EXPECT_EQ(0, bind(fd2, (void *)&ss, len)) TH_LOG("%s",
							 strerror(errno));
	EXPECT_NE(port, afib_getport(fd2));
	close(fd2);
}

TEST_F_TIMEOUT(sock, bind_badaddr, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss, bad;
	socklen_t len = sdp_addr(tp, 0, &ss);
	/* TCP/IPv6 takes the RFC 2133 sockaddr_in6 (24 bytes, no scope). */
	socklen_t shortlen = tp->af == AF_INET ?
			     sizeof(struct sockaddr_in) - 1 : 24 - 1;

	EXPECT_EQ(-1, bind(self->fd, (void *)&ss, shortlen));
	EXPECT_EQ(EINVAL, errno) TH_LOG("length %u: %s", shortlen,
					strerror(errno));
	EXPECT_EQ(-1, bind(self->fd, (void *)&ss, 0));
	EXPECT_EQ(EINVAL, errno);

	bad = ss;
	bad.ss_family = AF_UNIX;
	EXPECT_EQ(-1, bind(self->fd, (void *)&bad, len));
	EXPECT_EQ(EAFNOSUPPORT, errno) TH_LOG("AF_UNIX: %s", strerror(errno));
	if (tp->af == AF_INET) {
		socklen_t l6 = afib_addr(AF_INET6, 0, &bad);

		EXPECT_EQ(-1, bind(self->fd, (void *)&bad, l6));
		EXPECT_EQ(EAFNOSUPPORT, errno)
			TH_LOG("sockaddr_in6: %s", strerror(errno));
	}

	len = sdp_addr_host(tp, NONLOCAL4, NONLOCAL6, 0, &bad);
	EXPECT_EQ(-1, bind(self->fd, (void *)&bad, len));
	EXPECT_EQ(EADDRNOTAVAIL, errno) TH_LOG("%s: %s", afib_ntop(&bad),
					       strerror(errno));

	/* Still unbound: a good address binds. */
	EXPECT_EQ(0, afib_getport(self->fd));
	len = sdp_addr(tp, 0, &ss);
	EXPECT_EQ(0, bind(self->fd, (void *)&ss, len)) TH_LOG("%s",
							      strerror(errno));
}

/*
 * SO_REUSEADDR: two sockets may share a port while neither listens, but
 * only one can listen; a listener restarts on the port of a connection
 * it closed.
 */
TEST_F_TIMEOUT(sock, reuseaddr, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, 0, &ss);
	int a = self->fd, b, c, lfd, cfd, sfd, ret;
	int port;
	char ch;

	ASSERT_EQ(0, sdp_setint(a, SOL_SOCKET, SO_REUSEADDR, 1));
	EXPECT_EQ(1, sdp_getint(a, SOL_SOCKET, SO_REUSEADDR));
	ASSERT_EQ(0, bind(a, (void *)&ss, len));
	port = afib_getport(a);
	len = sdp_addr(tp, port, &ss);
	b = sdp_socket(tp, 0);
	c = sdp_socket(tp, 0);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, sdp_setint(b, SOL_SOCKET, SO_REUSEADDR, 1));
	EXPECT_EQ(0, bind(b, (void *)&ss, len)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, listen(a, 4))
		TH_LOG("listen, another socket bound: %s", strerror(errno));
	EXPECT_EQ(-1, listen(b, 4));
	EXPECT_EQ(EADDRINUSE, errno) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, sdp_setint(c, SOL_SOCKET, SO_REUSEADDR, 1));
	EXPECT_EQ(-1, bind(c, (void *)&ss, len));
	EXPECT_EQ(EADDRINUSE, errno) TH_LOG("%s", strerror(errno));
	close(b);
	close(c);
	afib_close(&self->fd);

	/* A server closes its end first, then restarts on the same port. */
	lfd = sdp_socket(tp, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, sdp_setint(lfd, SOL_SOCKET, SO_REUSEADDR, 1));
	len = sdp_addr(tp, 0, &ss);
	ASSERT_EQ(0, bind(lfd, (void *)&ss, len));
	ASSERT_EQ(0, listen(lfd, 4));
	port = afib_getport(lfd);
	cfd = sdp_connect(tp, port, 0);
	ASSERT_LE(0, cfd) TH_LOG("connect: %s", strerror(errno));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_TRUE(sdp_xfer(_metadata, cfd, sfd, 100, 2));
	close(lfd);
	close(sfd);
	EXPECT_TRUE(sdp_wait_mask(cfd, POLLIN, POLLIN, AFIB_WAIT_MS) & POLLIN);
	EXPECT_EQ(0, recv(cfd, &ch, 1, 0));
	close(cfd);

	len = sdp_addr(tp, port, &ss);
	b = sdp_socket(tp, 0);
	ASSERT_LE(0, b);
	ret = bind(b, (void *)&ss, len);
	/* TCP: EADDRINUSE (TIME_WAIT).  Not required of SDP. */
	TH_LOG("without SO_REUSEADDR: %s", ret ? strerror(errno) : "bound");
	close(b);
	lfd = sdp_socket(tp, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, sdp_setint(lfd, SOL_SOCKET, SO_REUSEADDR, 1));
	ASSERT_EQ(0, bind(lfd, (void *)&ss, len)) TH_LOG("rebind: %s",
							 strerror(errno));
	ASSERT_EQ(0, listen(lfd, 4));
	cfd = sdp_connect(tp, port, 0);
	ASSERT_LE(0, cfd) TH_LOG("connect: %s", strerror(errno));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_TRUE(sdp_xfer(_metadata, sfd, cfd, 100, 3));
	close(cfd);
	close(sfd);
	close(lfd);
}

/* connect() without bind() picks the local address and a port. */
TEST_F_TIMEOUT(sock, connect_autobind, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss, got;
	socklen_t len;
	uint16_t port;
	int lfd, sfd, p;

	lfd = sdp_listener(tp, 4, 0, &port);
	ASSERT_LE(0, lfd) TH_LOG("listener: %s", strerror(errno));
	len = sdp_addr(tp, port, &ss);
	ASSERT_EQ(0, connect(self->fd, (void *)&ss, len))
		TH_LOG("connect %s: %s", afib_ntop(&ss), strerror(errno));
	len = name_of(self->fd, &got, false);
	EXPECT_EQ(afib_addr_len(tp->af), len);
	EXPECT_EQ(tp->af, got.ss_family);
	p = afib_port_of(&got);
	EXPECT_NE(port, p);
	EXPECT_TRUE(port_in_range(p)) TH_LOG("port %d", p);
	sdp_addr(tp, p, &ss);
	EXPECT_TRUE(afib_same_addr(&ss, &got)) TH_LOG("name %s want %s",
						      afib_ntop(&got),
						      afib_ntop(&ss));
	len = name_of(self->fd, &got, true);
	EXPECT_EQ(afib_addr_len(tp->af), len);
	sdp_addr(tp, port, &ss);
	EXPECT_TRUE(afib_same_addr(&ss, &got)) TH_LOG("peer %s want %s",
						      afib_ntop(&got),
						      afib_ntop(&ss));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_TRUE(sdp_xfer(_metadata, sfd, self->fd, 10, 4));
	close(sfd);
	close(lfd);
}

/* Nothing listens: ECONNREFUSED, and the socket may connect again. */
TEST_F_TIMEOUT(sock, connect_refused, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	int port = closed_port(tp), lfd, sfd;
	socklen_t len;
	uint16_t lport;
	int64_t t0;

	ASSERT_LT(0, port);
	len = sdp_addr(tp, port, &ss);
	t0 = afib_now_ms();
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(ECONNREFUSED, errno) TH_LOG("%s", strerror(errno));
	EXPECT_GT(AFIB_WAIT_MS, afib_now_ms() - t0);
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(0, name_of(self->fd, &ss, true));
	EXPECT_EQ(ENOTCONN, errno);

	lfd = sdp_listener(tp, 4, 0, &lport);
	ASSERT_LE(0, lfd);
	len = sdp_addr(tp, lport, &ss);
	EXPECT_EQ(0, connect(self->fd, (void *)&ss, len))
		TH_LOG("connect after ECONNREFUSED: %s", strerror(errno));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_TRUE(sdp_xfer(_metadata, self->fd, sfd, 10, 5));
	close(sfd);
	close(lfd);
}

TEST_F_TIMEOUT(sock, connect_nonblock, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t port;
	int lfd, sfd, fd, ret, rev;

	lfd = sdp_listener(tp, 4, 0, &port);
	ASSERT_LE(0, lfd);
	fd = sdp_socket(tp, SOCK_NONBLOCK);
	ASSERT_LE(0, fd);
	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	ASSERT_EQ(EINPROGRESS, errno) TH_LOG("%s", strerror(errno));
	/*
	 * Still in progress (EALREADY) or done by now: then TCP's next
	 * connect() returns 0, once, and EISCONN after that.
	 */
	ret = connect(fd, (void *)&ss, len);
	if (ret)
		EXPECT_EQ(EALREADY, errno) TH_LOG("second connect: %s",
						  strerror(errno));
	rev = sdp_wait_mask(fd, ALL_EV, POLLOUT, AFIB_WAIT_MS);
	EXPECT_EQ(POLLOUT, rev) TH_LOG("revents %#x", rev);
	EXPECT_EQ(0, sdp_getint(fd, SOL_SOCKET, SO_ERROR));
	if (ret)
		EXPECT_EQ(0, connect(fd, (void *)&ss, len))
			TH_LOG("connect once connected: %s",
			       strerror(errno));
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(EISCONN, errno) TH_LOG("%s", strerror(errno));
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_TRUE(sdp_xfer(_metadata, fd, sfd, 100, 6));
	EXPECT_TRUE(sdp_xfer(_metadata, sfd, fd, 100, 7));
	close(sfd);
	close(fd);
	close(lfd);
}

TEST_F_TIMEOUT(sock, connect_nonblock_refused, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	int port = closed_port(tp), rev;
	socklen_t len;

	ASSERT_LT(0, port);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	ASSERT_EQ(EINPROGRESS, errno) TH_LOG("%s", strerror(errno));
	rev = sdp_wait_mask(self->fd, ALL_EV, POLLERR, AFIB_WAIT_MS);
	EXPECT_EQ(EV_RESET, rev) TH_LOG("revents %#x", rev);
	EXPECT_EQ(ECONNREFUSED, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	rev = afib_poll1(self->fd, ALL_EV, 0);
	EXPECT_EQ(EV_HUP, rev) TH_LOG("revents %#x after SO_ERROR", rev);
}

/* The broadcast address of the subnet of the IPv4 test address, or NULL. */
static const char *subnet_bcast(void)
{
	static char buf[INET_ADDRSTRLEN];
	struct ifaddrs *ifa, *i;
	struct in_addr me, b;
	const char *ret = NULL;

	if (inet_pton(AF_INET, afib_ip4(), &me) != 1 || getifaddrs(&ifa))
		return NULL;
	for (i = ifa; i; i = i->ifa_next) {
		struct sockaddr_in *a = (void *)i->ifa_addr;
		struct sockaddr_in *m = (void *)i->ifa_netmask;

		if (!a || !m || a->sin_family != AF_INET ||
		    a->sin_addr.s_addr != me.s_addr)
			continue;
		if (m->sin_addr.s_addr == htonl(0xffffffff))
			break;
		b.s_addr = me.s_addr | ~m->sin_addr.s_addr;
		ret = inet_ntop(AF_INET, &b, buf, sizeof(buf));
		break;
	}
	freeifaddrs(ifa);
	return ret;
}

/*
 * Multicast and broadcast destinations: ENETUNREACH from connect() itself,
 * even non-blocking; a link-local IPv6 address without a scope: EINVAL.
 * No packet leaves.
 */
TEST_F_TIMEOUT(sock, connect_unroutable, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	const char *v4[] = { "224.0.0.1", "255.255.255.255", subnet_bcast() };
	struct sockaddr_storage ss;
	unsigned int i;
	socklen_t len;
	int fd;

	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	len = sdp_addr_host(tp, "224.0.0.1", "ff02::1", 9, &ss);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(ENETUNREACH, errno) TH_LOG("%s: %s", afib_ntop(&ss),
					     strerror(errno));
	for (i = 1; (tp->af == AF_INET || tp->mapped) && i < 3; i++) {
		if (!v4[i])
			continue;
		fd = sdp_socket(tp, SOCK_NONBLOCK);
		ASSERT_LE(0, fd);
		len = sdp_addr_host(tp, v4[i], "", 9, &ss);
		EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
		EXPECT_EQ(ENETUNREACH, errno) TH_LOG("%s: %s",
						     afib_ntop(&ss),
						     strerror(errno));
		close(fd);
	}
	if (tp->af == AF_INET6 && !tp->mapped) {
		len = sdp_addr_host(tp, "", "fe80::1", 9, &ss);
		EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
		EXPECT_EQ(EINVAL, errno) TH_LOG("%s: %s", afib_ntop(&ss),
						strerror(errno));
	}
	/* Nothing happened to the socket. */
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(0, name_of(self->fd, &ss, true));
	EXPECT_EQ(ENOTCONN, errno);
}

/*
 * An address this machine has no route to, in *@ss; false if it has one
 * (only the VM really has none: elsewhere a SYN would leave).  A UDP
 * connect() looks the route up and sends nothing.
 */
static bool noroute_addr(struct __test_metadata *_metadata,
			 const struct sdp_tp *tp, struct sockaddr_storage *ss,
			 socklen_t *len)
{
	int probe = socket(tp->af, SOCK_DGRAM, 0), ret;

	*len = sdp_addr_host(tp, NONLOCAL4, NONLOCAL6, 9, ss);
	if (probe < 0)
		return false;
	ret = connect(probe, (void *)ss, *len);
	close(probe);
	if (!ret)
		return false;
	EXPECT_EQ(ENETUNREACH, errno) TH_LOG("UDP probe: %s",
					     strerror(errno));
	return errno == ENETUNREACH;
}

/* No route to the destination: ENETUNREACH at once. */
TEST_F_TIMEOUT(sock, connect_noroute, afib_tmo(60))
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!noroute_addr(_metadata, &variant->tp, &ss, &len))
		SKIP(return, "this machine has a route to %s",
		     afib_ntop(&ss));
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(ENETUNREACH, errno) TH_LOG("%s: %s", afib_ntop(&ss),
					     strerror(errno));
}

/* The same from a socket bound to a local address (2 s to answer). */
TEST_F_TIMEOUT(sock, connect_noroute_bound, afib_tmo(60))
{
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_storage ss, src;
	socklen_t len, slen = sdp_addr(&variant->tp, 0, &src);

	if (!noroute_addr(_metadata, &variant->tp, &ss, &len))
		SKIP(return, "this machine has a route to %s",
		     afib_ntop(&ss));
	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	ASSERT_EQ(0, bind(self->fd, (void *)&src, slen));
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(ENETUNREACH, errno) TH_LOG("%s: %s", afib_ntop(&ss),
					     strerror(errno));
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
}

/*
 * A host on the test subnet that never answers (dummy0 drops everything):
 * only in the VM (AFIB_IN_VM=1), or with SDP_SILENT_IP4 and SDP_SILENT_IP6
 * set.  False if there is none: elsewhere the SYNs would leave.
 */
static bool silent_addr(const struct sdp_tp *tp, uint16_t port,
			struct sockaddr_storage *ss, socklen_t *len)
{
	const char *v4 = getenv("SDP_SILENT_IP4");
	const char *v6 = getenv("SDP_SILENT_IP6");

	if (!v4 || !v6) {
		if (strcmp(afib_env("AFIB_IN_VM", "0"), "1"))
			return false;
		v4 = "192.0.2.2";
		v6 = "2001:db8::2";
	}
	*len = sdp_addr_host(tp, v4, v6, port, ss);
	return true;
}

/*
 * Connecting to a host that never answers: pending, with no event and no
 * error; a blocking connect() with SO_SNDTIMEO returns EINPROGRESS when
 * the timeout expires.
 */
TEST_F_TIMEOUT(sock, connect_silent, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct timeval tv = { 1, 0 };
	struct sockaddr_storage ss, got;
	socklen_t len;
	int64_t t0, dt;
	int fd, rev;

	if (!silent_addr(tp, 80, &ss, &len))
		SKIP(return, "no silent host here (the VM has one)");
	fd = sdp_socket(tp, SOCK_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	ASSERT_EQ(EINPROGRESS, errno) TH_LOG("%s: %s", afib_ntop(&ss),
					     strerror(errno));
	rev = afib_poll1(fd, ALL_EV, 1000);
	EXPECT_EQ(0, rev) TH_LOG("revents %#x", rev);
	EXPECT_EQ(0, sdp_getint(fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(0, name_of(fd, &got, true));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	EXPECT_EQ(EALREADY, errno) TH_LOG("%s", strerror(errno));
	t0 = afib_now_ms();
	close(fd);
	EXPECT_GT(afib_tmo(2) * 1000, afib_now_ms() - t0);

	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	t0 = afib_now_ms();
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	dt = afib_now_ms() - t0;
	EXPECT_EQ(EINPROGRESS, errno) TH_LOG("%s", strerror(errno));
	EXPECT_LE(950, dt);
	EXPECT_GT(1000 + afib_tmo(5) * 1000, dt);
	EXPECT_EQ(0, afib_poll1(self->fd, ALL_EV, 0));
}

/*
 * A connect() that gives up: TCP_SYNCNT 1 after two SYNs (3 s),
 * TCP_USER_TIMEOUT 2000 after 2 s, with ETIMEDOUT (here as SO_ERROR of
 * non-blocking connects, so that a connect that never gives up fails the
 * case in seconds).
 */
static void timeout_one(struct __test_metadata *_metadata,
			const struct sdp_tp *tp, int opt, int val, int min_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t t0, dt;
	int fd, rev;

	silent_addr(tp, 80, &ss, &len);
	fd = sdp_socket(tp, SOCK_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, sdp_setint(fd, IPPROTO_TCP, opt, val))
		TH_LOG("option %d: %s", opt, strerror(errno));
	EXPECT_EQ(val, sdp_getint(fd, IPPROTO_TCP, opt));
	EXPECT_EQ(-1, connect(fd, (void *)&ss, len));
	ASSERT_EQ(EINPROGRESS, errno) TH_LOG("%s", strerror(errno));
	t0 = afib_now_ms();
	rev = sdp_wait_mask(fd, ALL_EV, POLLERR, afib_tmo(10) * 1000);
	dt = afib_now_ms() - t0;
	EXPECT_EQ(EV_RESET, rev) TH_LOG("option %d: revents %#x after %lld ms",
					opt, rev, (long long)dt);
	EXPECT_LE(min_ms, dt) TH_LOG("option %d: gave up after %lld ms", opt,
				     (long long)dt);
	EXPECT_EQ(ETIMEDOUT, sdp_getint(fd, SOL_SOCKET, SO_ERROR));
	close(fd);
}

TEST_F_TIMEOUT(sock, connect_timeout, afib_tmo(60))
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!silent_addr(&variant->tp, 80, &ss, &len))
		SKIP(return, "no silent host here (the VM has one)");
	timeout_one(_metadata, &variant->tp, TCP_SYNCNT, 1, 2500);
	timeout_one(_metadata, &variant->tp, TCP_USER_TIMEOUT, 2000, 1900);
}

TEST_F_TIMEOUT(sock, shutdown_unconnected, afib_tmo(60))
{
	static const int bad[] = { 3, -1, 100 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-1, shutdown(self->fd, bad[i]));
		EXPECT_EQ(EINVAL, errno) TH_LOG("how %d: %s", bad[i],
						strerror(errno));
	}
	EXPECT_EQ(-1, shutdown(self->fd, SHUT_RD));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-1, shutdown(self->fd, SHUT_WR));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-1, shutdown(self->fd, SHUT_RDWR));
	EXPECT_EQ(ENOTCONN, errno);
}

/* listen() without bind() binds the wildcard and an ephemeral port. */
TEST_F_TIMEOUT(sock, listen_autobind, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage got;
	int port, cfd, sfd;
	socklen_t len;

	ASSERT_EQ(0, listen(self->fd, 4)) TH_LOG("%s", strerror(errno));
	len = name_of(self->fd, &got, false);
	EXPECT_EQ(afib_addr_len(tp->af), len);
	EXPECT_EQ(tp->af, got.ss_family);
	EXPECT_TRUE(sdp_is_any(&got)) TH_LOG("name %s", afib_ntop(&got));
	port = afib_port_of(&got);
	EXPECT_TRUE(port_in_range(port)) TH_LOG("port %d", port);
	EXPECT_EQ(1, sdp_getint(self->fd, SOL_SOCKET, SO_ACCEPTCONN));
	cfd = sdp_connect(tp, port, 0);
	ASSERT_LE(0, cfd) TH_LOG("connect: %s", strerror(errno));
	sfd = accept(self->fd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_TRUE(sdp_xfer(_metadata, cfd, sfd, 10, 8));
	close(cfd);
	close(sfd);
}

TEST_F_TIMEOUT(sock, accept_unlistened, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, 0, &ss);

	EXPECT_EQ(-1, accept(self->fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno) TH_LOG("fresh: %s", strerror(errno));
	ASSERT_EQ(0, bind(self->fd, (void *)&ss, len));
	EXPECT_EQ(-1, accept(self->fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno) TH_LOG("bound: %s", strerror(errno));
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, accept(self->fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno) TH_LOG("non-blocking: %s", strerror(errno));
}

/*
 * Backlog 1: TCP completes backlog + 1 = 2 handshakes without accept();
 * the others wait (their SYNs are dropped and retried) instead of being
 * refused, and complete once accept() makes room.
 */
TEST_F_TIMEOUT(sock, backlog, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss, peer, name;
	int cfd[4], sfd[4], done = 0, i, j, rev, n;
	bool matched[4] = { false };
	socklen_t len;
	uint16_t port;
	int64_t end;
	int lfd;

	lfd = sdp_listener(tp, 1, 0, &port);
	ASSERT_LE(0, lfd);
	len = sdp_addr(tp, port, &ss);
	for (i = 0; i < 4; i++) {
		cfd[i] = sdp_socket(tp, SOCK_NONBLOCK);
		sfd[i] = -1;
		ASSERT_LE(0, cfd[i]);
		EXPECT_EQ(-1, connect(cfd[i], (void *)&ss, len));
		EXPECT_EQ(EINPROGRESS, errno) TH_LOG("client %d: %s", i,
						     strerror(errno));
	}
	/* The first completes soon; give the others a moment more. */
	sdp_wait_mask(cfd[0], POLLOUT, POLLOUT, AFIB_WAIT_MS);
	afib_msleep(300 * afib_tmo(1));
	n = 0;
	for (i = 0; i < 4; i++) {
		rev = afib_poll1(cfd[i], POLLOUT, 0);
		EXPECT_FALSE(rev & (POLLERR | POLLHUP))
			TH_LOG("client %d refused: revents %#x, %s", i, rev,
			       strerror(sdp_getint(cfd[i], SOL_SOCKET,
						   SO_ERROR)));
		n += (rev & POLLOUT) && !(rev & (POLLERR | POLLHUP));
	}
	EXPECT_LE(1, n);
	EXPECT_GE(2, n) TH_LOG("%d connections completed with backlog 1", n);
	EXPECT_EQ(POLLIN, afib_poll1(lfd, ALL_EV, 0));

	end = afib_now_ms() + AFIB_WAIT_MS;
	while (done < 4 && afib_now_ms() < end) {
		if (!(afib_poll1(lfd, POLLIN, 100) & POLLIN))
			continue;
		sfd[done] = accept(lfd, NULL, NULL);
		ASSERT_LE(0, sfd[done]) TH_LOG("accept: %s", strerror(errno));
		done++;
	}
	EXPECT_EQ(4, done);
	for (i = 0; i < 4; i++) {
		rev = sdp_wait_mask(cfd[i], POLLOUT, POLLOUT, AFIB_WAIT_MS);
		EXPECT_EQ(POLLOUT, rev) TH_LOG("client %d: revents %#x", i,
					       rev);
		EXPECT_EQ(0, sdp_getint(cfd[i], SOL_SOCKET, SO_ERROR));
	}
	/* Each accepted socket is one of the clients. */
	for (j = 0; j < done; j++) {
		name_of(sfd[j], &peer, true);
		for (i = 0; i < 4; i++) {
			name_of(cfd[i], &name, false);
			if (!matched[i] && afib_same_addr(&peer, &name)) {
				matched[i] = true;
				EXPECT_TRUE(sdp_xfer(_metadata, cfd[i], sfd[j],
						 10, 10 + i));
				break;
			}
		}
		EXPECT_GT(4, i) TH_LOG("accepted %s: no such client",
				       afib_ntop(&peer));
	}
	for (i = 0; i < 4; i++) {
		afib_close(&cfd[i]);
		afib_close(&sfd[i]);
	}
	close(lfd);
}

/* ---- a connected pair ------------------------------------------------ */

FIXTURE(conn) {
	int lfd, cfd, sfd;
	uint16_t port;
};

FIXTURE_VARIANT(conn) {
	struct sdp_tp tp;
};

SDP_VARIANTS(conn);

FIXTURE_SETUP(conn)
{
	const char *step = "";

	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(0, sdp_pair(&variant->tp, &self->cfd, &self->sfd,
			      &self->lfd, &self->port, 0, &step))
		TH_LOG("%s: %s", step, strerror(errno));
}

FIXTURE_TEARDOWN(conn)
{
	afib_pair_close(&self->cfd, &self->sfd, &self->lfd);
}

/* ---- names, listen, accept ------------------------------------------- */

TEST_F_TIMEOUT(conn, names, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage want, lname, cname, cpeer, sname, speer, acc;
	socklen_t alen = sizeof(acc), len;
	int cfd, sfd;

	sdp_addr(tp, self->port, &want);
	len = name_of(self->lfd, &lname, false);
	EXPECT_EQ(afib_addr_len(tp->af), len);
	EXPECT_TRUE(afib_same_addr(&want, &lname))
		TH_LOG("listener %s want %s", afib_ntop(&lname),
		       afib_ntop(&want));
	EXPECT_EQ(0, name_of(self->lfd, &lname, true));
	EXPECT_EQ(ENOTCONN, errno);

	cfd = sdp_connect(tp, self->port, 0);
	ASSERT_LE(0, cfd) TH_LOG("connect: %s", strerror(errno));
	memset(&acc, 0xa5, sizeof(acc));
	sfd = accept(self->lfd, (void *)&acc, &alen);
	ASSERT_LE(0, sfd) TH_LOG("accept: %s", strerror(errno));
	EXPECT_EQ(afib_addr_len(tp->af), alen);
	EXPECT_EQ(tp->af, acc.ss_family);

	EXPECT_EQ(afib_addr_len(tp->af), name_of(cfd, &cname, false));
	EXPECT_EQ(afib_addr_len(tp->af), name_of(cfd, &cpeer, true));
	EXPECT_EQ(afib_addr_len(tp->af), name_of(sfd, &sname, false));
	EXPECT_EQ(afib_addr_len(tp->af), name_of(sfd, &speer, true));
	EXPECT_TRUE(afib_same_addr(&cname, &speer))
		TH_LOG("client %s, server's peer %s", afib_ntop(&cname),
		       afib_ntop(&speer));
	EXPECT_TRUE(afib_same_addr(&acc, &speer))
		TH_LOG("accept() %s, server's peer %s", afib_ntop(&acc),
		       afib_ntop(&speer));
	EXPECT_TRUE(afib_same_addr(&want, &cpeer))
		TH_LOG("client's peer %s want %s", afib_ntop(&cpeer),
		       afib_ntop(&want));
	EXPECT_TRUE(afib_same_addr(&want, &sname))
		TH_LOG("server %s want %s", afib_ntop(&sname),
		       afib_ntop(&want));
	sdp_addr(tp, afib_port_of(&cname), &want);
	EXPECT_TRUE(afib_same_addr(&want, &cname))
		TH_LOG("client %s want %s", afib_ntop(&cname),
		       afib_ntop(&want));
	close(cfd);
	close(sfd);

	/* A short buffer: truncated, the full length reported. */
	cfd = sdp_connect(tp, self->port, 0);
	ASSERT_LE(0, cfd);
	alen = 4;
	memset(&acc, 0xa5, sizeof(acc));
	sfd = accept(self->lfd, (void *)&acc, &alen);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(afib_addr_len(tp->af), alen);
	EXPECT_EQ(0xa5, ((unsigned char *)&acc)[4]);
	len = 4;
	EXPECT_EQ(0, getsockname(sfd, (void *)&acc, &len));
	EXPECT_EQ(afib_addr_len(tp->af), len);
	close(cfd);
	close(sfd);
	EXPECT_EQ(1, sdp_getint(self->lfd, SOL_SOCKET, SO_ACCEPTCONN));
	EXPECT_EQ(0, sdp_getint(self->cfd, SOL_SOCKET, SO_ACCEPTCONN));
	EXPECT_EQ(0, sdp_getint(self->sfd, SOL_SOCKET, SO_ACCEPTCONN));
	EXPECT_EQ(tp->domain, sdp_getint(self->sfd, SOL_SOCKET, SO_DOMAIN));
	EXPECT_EQ(IPPROTO_TCP, sdp_getint(self->sfd, SOL_SOCKET,
					  SO_PROTOCOL));
}

TEST_F_TIMEOUT(conn, accept_nonblock, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	int cfd, sfd, rev;
	char c;

	ASSERT_EQ(0, fcntl(self->lfd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, accept(self->lfd, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, afib_poll1(self->lfd, ALL_EV, 0));

	cfd = sdp_connect(tp, self->port, 0);
	ASSERT_LE(0, cfd);
	rev = sdp_wait_mask(self->lfd, ALL_EV, POLLIN, AFIB_WAIT_MS);
	EXPECT_EQ(POLLIN, rev) TH_LOG("listener revents %#x", rev);
	EXPECT_EQ(-1, accept4(self->lfd, NULL, NULL, 0x1));
	EXPECT_EQ(EINVAL, errno);
	sfd = accept4(self->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_LE(0, sfd) TH_LOG("accept4: %s", strerror(errno));
	EXPECT_TRUE(fcntl(sfd, F_GETFL) & O_NONBLOCK);
	EXPECT_TRUE(fcntl(sfd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(-1, recv(sfd, &c, 1, 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_TRUE(sdp_xfer(_metadata, cfd, sfd, 100, 11));
	EXPECT_TRUE(sdp_xfer(_metadata, sfd, cfd, 100, 12));
	close(cfd);
	close(sfd);
	EXPECT_EQ(0, afib_poll1(self->lfd, ALL_EV, 0));
	EXPECT_EQ(-1, accept(self->lfd, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);

	/* accept() on a non-blocking listener: a blocking socket. */
	cfd = sdp_connect(tp, self->port, 0);
	ASSERT_LE(0, cfd);
	ASSERT_TRUE(sdp_wait_mask(self->lfd, POLLIN, POLLIN, AFIB_WAIT_MS) &
		    POLLIN);
	sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_FALSE(fcntl(sfd, F_GETFL) & O_NONBLOCK);
	EXPECT_FALSE(fcntl(sfd, F_GETFD) & FD_CLOEXEC);
	close(cfd);
	close(sfd);
}

struct acceptor {
	int fd, ret, err;
	pthread_t th;
};

static void *acceptor_fn(void *arg)
{
	struct acceptor *a = arg;

	a->ret = accept(a->fd, NULL, NULL);
	a->err = errno;
	return NULL;
}

/*
 * shutdown(SHUT_WR) of a listener does nothing; SHUT_RD stops it: a
 * blocked accept() returns EINVAL and new connections are refused.
 */
TEST_F_TIMEOUT(conn, listener_shutdown, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	struct acceptor a = { .fd = self->lfd };
	socklen_t len;
	int cfd, sfd, rev;

	EXPECT_EQ(0, shutdown(self->lfd, SHUT_WR)) TH_LOG("%s",
							  strerror(errno));
	cfd = sdp_connect(tp, self->port, 0);
	ASSERT_LE(0, cfd) TH_LOG("connect after SHUT_WR: %s",
				 strerror(errno));
	sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_TRUE(sdp_xfer(_metadata, cfd, sfd, 10, 13));
	close(cfd);
	close(sfd);

	ASSERT_EQ(0, pthread_create(&a.th, NULL, acceptor_fn, &a));
	afib_msleep(300);
	EXPECT_EQ(0, shutdown(self->lfd, SHUT_RD)) TH_LOG("%s",
							  strerror(errno));
	ASSERT_EQ(0, afib_join(a.th, AFIB_WAIT_MS))
		TH_LOG("accept() not woken by shutdown(SHUT_RD)");
	EXPECT_EQ(-1, a.ret);
	EXPECT_EQ(EINVAL, a.err) TH_LOG("%s", strerror(a.err));
	EXPECT_EQ(-1, accept(self->lfd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, sdp_getint(self->lfd, SOL_SOCKET, SO_ACCEPTCONN));
	rev = afib_poll1(self->lfd, ALL_EV, 0);
	EXPECT_EQ(POLLOUT | POLLHUP, rev) TH_LOG("revents %#x", rev);
	len = sdp_addr(tp, self->port, &ss);
	cfd = sdp_socket(tp, 0);
	ASSERT_LE(0, cfd);
	EXPECT_EQ(-1, connect(cfd, (void *)&ss, len));
	EXPECT_EQ(ECONNREFUSED, errno) TH_LOG("%s", strerror(errno));
	close(cfd);
}

/* What a listening and a connected socket refuse. */
TEST_F_TIMEOUT(conn, wrong_state, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, self->port, &ss);
	char c;

	EXPECT_EQ(-1, connect(self->lfd, (void *)&ss, len));
	EXPECT_EQ(EISCONN, errno) TH_LOG("connect on a listener: %s",
					 strerror(errno));
	EXPECT_EQ(-1, connect(self->cfd, (void *)&ss, len));
	EXPECT_EQ(EISCONN, errno) TH_LOG("connect twice: %s",
					 strerror(errno));
	EXPECT_EQ(-1, connect(self->sfd, (void *)&ss, len));
	EXPECT_EQ(EISCONN, errno) TH_LOG("connect on accepted: %s",
					 strerror(errno));
	EXPECT_EQ(-1, listen(self->cfd, 4));
	EXPECT_EQ(EINVAL, errno) TH_LOG("listen on connected: %s",
					strerror(errno));
	EXPECT_EQ(-1, accept(self->cfd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno) TH_LOG("accept on connected: %s",
					strerror(errno));
	len = sdp_addr(tp, 0, &ss);
	EXPECT_EQ(-1, bind(self->cfd, (void *)&ss, len));
	EXPECT_EQ(EINVAL, errno) TH_LOG("bind on connected: %s",
					strerror(errno));
	/* listen() again changes the backlog. */
	EXPECT_EQ(0, listen(self->lfd, 8));
	EXPECT_EQ(-1, recv(self->lfd, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(ENOTCONN, errno) TH_LOG("recv on a listener: %s",
					  strerror(errno));
	EXPECT_EQ(-1, send(self->lfd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno) TH_LOG("send on a listener: %s",
				       strerror(errno));
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, 10, 14));
}

/* ---- data ------------------------------------------------------------ */

TEST_F_TIMEOUT(conn, send_recv, afib_tmo(60))
{
	static const size_t sizes[] = { 1, 100, 1460, 4096, 65537, 200000 };
	char buf[16];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, sizes[i],
				 20 + i));
		EXPECT_TRUE(sdp_xfer(_metadata, self->sfd, self->cfd, sizes[i],
				 40 + i));
	}
	/* Zero bytes: nothing is sent, it is not EOF. */
	EXPECT_EQ(0, send(self->cfd, buf, 0, 0));
	EXPECT_EQ(0, write(self->cfd, buf, 0));
	EXPECT_EQ(0, afib_poll1(self->sfd, POLLIN, 200));
	/* read() and write() */
	EXPECT_EQ(5, write(self->cfd, "hello", 5));
	EXPECT_EQ(5, sdp_recv_all(self->sfd, buf, 5, AFIB_WAIT_MS));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(2, write(self->sfd, "ok", 2));
	ASSERT_TRUE(sdp_wait_mask(self->cfd, POLLIN, POLLIN, AFIB_WAIT_MS) &
		    POLLIN);
	EXPECT_EQ(2, read(self->cfd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "ok", 2));
}

/* A byte stream: reads take what is there, up to the length asked. */
TEST_F_TIMEOUT(conn, partial_read, afib_tmo(60))
{
	char buf[200], rbuf[200];

	sdp_fill_at(buf, 100, 50, 0);
	ASSERT_EQ(100, send(self->cfd, buf, 100, 0));
	ASSERT_EQ(100, sdp_wait_ioctl(self->sfd, SIOCINQ, 100, AFIB_WAIT_MS));
	EXPECT_EQ(30, recv(self->sfd, rbuf, 30, 0));
	EXPECT_EQ(-1, sdp_check_at(rbuf, 30, 50, 0));
	EXPECT_EQ(70, sdp_ioctl(self->sfd, SIOCINQ));
	EXPECT_EQ(70, recv(self->sfd, rbuf, sizeof(rbuf), 0));
	EXPECT_EQ(-1, sdp_check_at(rbuf, 70, 50, 30));
	EXPECT_EQ(-1, recv(self->sfd, rbuf, sizeof(rbuf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);

	/* Three sends, one read: no message boundaries. */
	ASSERT_EQ(2, send(self->cfd, "ab", 2, 0));
	ASSERT_EQ(2, send(self->cfd, "cd", 2, 0));
	ASSERT_EQ(2, send(self->cfd, "ef", 2, 0));
	ASSERT_EQ(6, sdp_wait_ioctl(self->sfd, SIOCINQ, 6, AFIB_WAIT_MS));
	EXPECT_EQ(6, recv(self->sfd, rbuf, sizeof(rbuf), 0));
	EXPECT_EQ(0, memcmp(rbuf, "abcdef", 6));
}

/*
 * A peer that does not read: MSG_DONTWAIT sends make progress, then get
 * EAGAIN (TCP may also return a short count); POLLOUT goes away and comes
 * back when the peer reads, and every byte arrives.
 */
TEST_F_TIMEOUT(conn, fill_drain, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct timeval tv = { 0, 300000 };
	struct sdp_stream r = { .seed = 60, .chunk = 65536 };
	size_t off = 0;
	int shorts = 0, eagains = 0, cfd, sfd;
	const char *step = "";
	char *buf = malloc(65536);
	int64_t t0, dt;
	ssize_t n;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, sdp_pair(tp, &cfd, &sfd, NULL, NULL, SMALL_BUF, &step))
		TH_LOG("%s: %s", step, strerror(errno));
	ASSERT_EQ(0, fill(cfd, 60, &off, &shorts, &eagains))
		TH_LOG("fill: %s after %zu bytes", strerror(errno), off);
	TH_LOG("sender blocked after %zu bytes, %d short writes, %d EAGAIN",
	       off, shorts, eagains);
	EXPECT_LT(0, off);
	EXPECT_LT(0, eagains);
	EXPECT_EQ(0, afib_poll1(cfd, POLLOUT, 0));

	/* SO_SNDTIMEO: EAGAIN or a short count after the timeout. */
	ASSERT_EQ(0, setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	sdp_fill_at(buf, 65536, 60, off);
	t0 = afib_now_ms();
	n = send(cfd, buf, 65536, MSG_NOSIGNAL);
	dt = afib_now_ms() - t0;
	if (n < 0) {
		EXPECT_EQ(EAGAIN, errno) TH_LOG("%s", strerror(errno));
	} else {
		EXPECT_GT(65536, n);
		off += n;
	}
	EXPECT_LE(250, dt);
	EXPECT_GT(afib_tmo(5) * 1000, dt);

	r.fd = sfd;
	r.total = off;
	ASSERT_EQ(0, sdp_stream_start(&r));
	EXPECT_EQ(POLLOUT, sdp_wait_mask(cfd, POLLOUT, POLLOUT, AFIB_WAIT_MS))
		TH_LOG("no POLLOUT while the peer reads");
	ASSERT_EQ(0, afib_join(r.th, AFIB_WAIT_MS));
	EXPECT_TRUE(stream_ok(_metadata, &r, off));
	EXPECT_EQ(-1, recv(sfd, buf, 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	free(buf);
	close(cfd);
	close(sfd);
}

TEST_F_TIMEOUT(conn, iov, afib_tmo(60))
{
	char a[10], b[1], c[5000], r0[1], r1[99], r2[4000], r3[2000];
	char flat[5011];
	struct iovec wv[] = { { a, sizeof(a) }, { b, 0 }, { c, sizeof(c) } };
	struct iovec rv[] = { { r0, sizeof(r0) }, { r1, sizeof(r1) },
			      { r2, sizeof(r2) }, { r3, sizeof(r3) } };
	struct msghdr msg = { .msg_iov = rv, .msg_iovlen = 4 };
	struct msghdr empty = { 0 };
	size_t off = 0;
	unsigned int i;

	sdp_fill_at(a, sizeof(a), 61, 0);
	sdp_fill_at(c, sizeof(c), 61, sizeof(a));
	EXPECT_EQ(5010, writev(self->cfd, wv, 3));
	ASSERT_EQ(5010, sdp_wait_ioctl(self->sfd, SIOCINQ, 5010,
				       AFIB_WAIT_MS));
	EXPECT_EQ(5010, recvmsg(self->sfd, &msg, 0));
	EXPECT_EQ(0, msg.msg_flags);
	for (i = 0; i < 4 && off < 5010; i++) {
		size_t n = rv[i].iov_len < 5010 - off ? rv[i].iov_len :
							 5010 - off;

		memcpy(flat + off, rv[i].iov_base, n);
		off += n;
	}
	EXPECT_EQ(-1, sdp_check_at(flat, 5010, 61, 0));

	/* readv() and sendmsg() with the other end. */
	empty.msg_iov = wv;
	empty.msg_iovlen = 3;
	EXPECT_EQ(5010, sendmsg(self->sfd, &empty, 0))
		TH_LOG("sendmsg: %s", strerror(errno));
	ASSERT_EQ(5010, sdp_wait_ioctl(self->cfd, SIOCINQ, 5010,
				       AFIB_WAIT_MS));
	memset(flat, 0, sizeof(flat));
	EXPECT_EQ(5010, readv(self->cfd, rv, 4));
	EXPECT_EQ(0, memcmp(r0, a, 1));
	EXPECT_EQ(0, memcmp(r1, a + 1, 9));
	EXPECT_EQ(-1, sdp_check_at(r1 + 9, 90, 61, 10));

	/* Nothing to send. */
	memset(&empty, 0, sizeof(empty));
	EXPECT_EQ(0, sendmsg(self->cfd, &empty, 0));
	EXPECT_EQ(0, afib_poll1(self->sfd, POLLIN, 100));
}

TEST_F_TIMEOUT(conn, peek, afib_tmo(60))
{
	char buf[100];

	ASSERT_EQ(11, send(self->cfd, "hello world", 11, 0));
	ASSERT_EQ(11, sdp_wait_ioctl(self->sfd, SIOCINQ, 11, AFIB_WAIT_MS));
	EXPECT_EQ(5, recv(self->sfd, buf, 5, MSG_PEEK));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(11, recv(self->sfd, buf, sizeof(buf), MSG_PEEK));
	EXPECT_EQ(11, recv(self->sfd, buf, sizeof(buf),
			   MSG_PEEK | MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(buf, "hello world", 11));
	EXPECT_EQ(11, sdp_ioctl(self->sfd, SIOCINQ));
	EXPECT_EQ(3, recv(self->sfd, buf, 3, 0));
	EXPECT_EQ(0, memcmp(buf, "hel", 3));
	EXPECT_EQ(8, recv(self->sfd, buf, sizeof(buf), MSG_PEEK));
	EXPECT_EQ(0, memcmp(buf, "lo world", 8));
	EXPECT_EQ(8, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "lo world", 8));
	EXPECT_EQ(-1, recv(self->sfd, buf, sizeof(buf),
			   MSG_PEEK | MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

/* MSG_WAITALL waits for all the bytes, or returns what came before EOF. */
TEST_F_TIMEOUT(conn, waitall, afib_tmo(60))
{
	struct later l = { .fd = self->cfd, .ms = 150, .n = 3, .len = 100,
			   .seed = 62 };
	char buf[1000];
	int64_t t0, dt;

	ASSERT_EQ(0, pthread_create(&l.th, NULL, later_fn, &l));
	t0 = afib_now_ms();
	EXPECT_EQ(300, recv(self->sfd, buf, 300, MSG_WAITALL));
	dt = afib_now_ms() - t0;
	EXPECT_LE(400, dt) TH_LOG("MSG_WAITALL returned after %lld ms",
				  (long long)dt);
	EXPECT_EQ(-1, sdp_check_at(buf, 300, 62, 0));
	pthread_join(l.th, NULL);
	EXPECT_EQ(0, l.err);

	l = (struct later){ .fd = self->cfd, .ms = 150, .n = 1, .len = 50,
			    .seed = 63, .shut = true };
	ASSERT_EQ(0, pthread_create(&l.th, NULL, later_fn, &l));
	EXPECT_EQ(50, recv(self->sfd, buf, sizeof(buf), MSG_WAITALL));
	EXPECT_EQ(-1, sdp_check_at(buf, 50, 63, 0));
	EXPECT_EQ(0, recv(self->sfd, buf, sizeof(buf), MSG_WAITALL));
	pthread_join(l.th, NULL);
	EXPECT_EQ(0, l.err);
}

TEST_F_TIMEOUT(conn, dontwait, afib_tmo(60))
{
	char c;

	EXPECT_EQ(-1, recv(self->cfd, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, recv(self->sfd, &c, 1, MSG_DONTWAIT | MSG_PEEK));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, recv(self->sfd, &c, 1, MSG_DONTWAIT | MSG_WAITALL));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, fcntl(self->cfd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, read(self->cfd, &c, 1));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(1, send(self->sfd, "x", 1, MSG_DONTWAIT));
	ASSERT_TRUE(sdp_wait_mask(self->cfd, POLLIN, POLLIN, AFIB_WAIT_MS) &
		    POLLIN);
	EXPECT_EQ(1, read(self->cfd, &c, 1));
	EXPECT_EQ('x', c);
}

/*
 * MSG_MORE: TCP holds the bytes back (about 200 ms) until a send without
 * it; all of them then arrive.
 */
TEST_F_TIMEOUT(conn, msg_more, afib_tmo(60))
{
	char buf[16];
	int64_t t0;

	EXPECT_EQ(2, send(self->cfd, "ab", 2, MSG_MORE));
	EXPECT_EQ(0, afib_poll1(self->sfd, POLLIN, 50))
		TH_LOG("MSG_MORE bytes sent at once");
	EXPECT_EQ(2, send(self->cfd, "cd", 2, 0));
	EXPECT_EQ(4, sdp_recv_all(self->sfd, buf, 4, AFIB_WAIT_MS));
	EXPECT_EQ(0, memcmp(buf, "abcd", 4));

	/* Without the last send they still go out, later. */
	t0 = afib_now_ms();
	EXPECT_EQ(2, send(self->cfd, "ef", 2, MSG_MORE));
	EXPECT_EQ(0, afib_poll1(self->sfd, POLLIN, 50))
		TH_LOG("MSG_MORE bytes sent at once");
	EXPECT_EQ(2, sdp_recv_all(self->sfd, buf, 2, AFIB_WAIT_MS));
	EXPECT_EQ(0, memcmp(buf, "ef", 2));
	TH_LOG("MSG_MORE bytes held back %lld ms",
	       (long long)(afib_now_ms() - t0));
}

TEST_F_TIMEOUT(conn, rcvtimeo, afib_tmo(60))
{
	struct timeval tv = { 0, 300000 }, got;
	socklen_t l = sizeof(got);
	int64_t t0, dt;
	char c;

	ASSERT_EQ(0, setsockopt(self->cfd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	ASSERT_EQ(0, getsockopt(self->cfd, SOL_SOCKET, SO_RCVTIMEO, &got,
				&l));
	EXPECT_EQ(0, got.tv_sec);
	EXPECT_EQ(300000, got.tv_usec);
	t0 = afib_now_ms();
	EXPECT_EQ(-1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(EAGAIN, errno);
	dt = afib_now_ms() - t0;
	EXPECT_LE(290, dt);
	EXPECT_GT(afib_tmo(5) * 1000, dt);
	EXPECT_EQ(-1, read(self->cfd, &c, 1));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_TRUE(sdp_xfer(_metadata, self->sfd, self->cfd, 10, 64));
}

/* ---- EOF and close --------------------------------------------------- */

TEST_F_TIMEOUT(conn, half_close, afib_tmo(60))
{
	char buf[2000];
	int rev;

	sdp_fill_at(buf, 1000, 70, 0);
	ASSERT_EQ(1000, send(self->cfd, buf, 1000, 0));
	ASSERT_EQ(0, shutdown(self->cfd, SHUT_WR));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(1000, sdp_recv_all(self->sfd, buf, sizeof(buf),
				     AFIB_WAIT_MS));
	EXPECT_EQ(-1, sdp_check_at(buf, 1000, 70, 0));
	EXPECT_EQ(0, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, recv(self->sfd, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(0, read(self->sfd, buf, sizeof(buf)));
	rev = afib_poll1(self->sfd, ALL_EV, 0);
	EXPECT_EQ(EV_EOF, rev) TH_LOG("reader's revents %#x", rev);
	rev = afib_poll1(self->cfd, ALL_EV, 0);
	EXPECT_EQ(POLLOUT, rev) TH_LOG("writer's revents %#x", rev);

	/* The other direction still works. */
	EXPECT_TRUE(sdp_xfer(_metadata, self->sfd, self->cfd, 2000, 71));
	EXPECT_EQ(-1, send(self->cfd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(0, shutdown(self->cfd, SHUT_WR));
	EXPECT_EQ(-1, shutdown(self->cfd, 3));
	EXPECT_EQ(EINVAL, errno);

	afib_close(&self->sfd);
	EXPECT_EQ(0, recv(self->cfd, buf, sizeof(buf), 0));
	rev = sdp_wait_mask(self->cfd, ALL_EV, POLLHUP, AFIB_WAIT_MS);
	EXPECT_EQ(EV_HUP, rev) TH_LOG("revents %#x", rev);
}

/*
 * After the peer closed, sends fail with EPIPE (the first may still
 * succeed: TCP learns of the close from the RST it provokes), with
 * SIGPIPE unless MSG_NOSIGNAL.
 */
TEST_F_TIMEOUT(conn, epipe, afib_tmo(60))
{
	int64_t end;
	int sent = 0;
	ssize_t n;
	char c;

	catch_signal(SIGPIPE, on_sigpipe);
	sigpipes = 0;
	afib_close(&self->sfd);
	ASSERT_TRUE(sdp_wait_mask(self->cfd, POLLIN, POLLIN, AFIB_WAIT_MS) &
		    POLLIN);
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	end = afib_now_ms() + AFIB_WAIT_MS;
	for (;;) {
		n = send(self->cfd, "x", 1, MSG_NOSIGNAL);
		if (n < 0 || afib_now_ms() > end)
			break;
		sent++;
		afib_msleep(10);
	}
	TH_LOG("%d sends succeeded after the peer closed", sent);
	ASSERT_EQ(-1, n) TH_LOG("send never failed");
	EXPECT_EQ(EPIPE, errno) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, sigpipes);
	EXPECT_EQ(-1, send(self->cfd, "x", 1, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(1, sigpipes);
	EXPECT_EQ(-1, write(self->cfd, "x", 1));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(2, sigpipes);
	EXPECT_EQ(-1, send(self->cfd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(2, sigpipes);
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(EV_HUP, afib_poll1(self->cfd, ALL_EV, 0));
}

/* close() right after the last send: the peer reads every byte, then 0. */
TEST_F_TIMEOUT(conn, orderly_close, afib_tmo(60))
{
	struct sdp_stream w = { .fd = self->sfd, .tx = true, .seed = 72,
				.total = 256 << 10, .chunk = 32768,
				.rnd = 72, .close = true };
	struct sdp_stream r = { .fd = self->cfd, .seed = 72,
				.total = 256 << 10, .chunk = 65536, .rnd = 73,
				.shut = true };
	char c;

	self->sfd = -1;		/* the writer closes it */
	ASSERT_EQ(0, sdp_stream_start(&w));
	ASSERT_EQ(0, sdp_stream_start(&r));
	ASSERT_EQ(0, afib_join(w.th, AFIB_WAIT_MS * 2));
	ASSERT_EQ(0, afib_join(r.th, AFIB_WAIT_MS * 2));
	EXPECT_TRUE(stream_ok(_metadata, &w, w.total));
	EXPECT_TRUE(stream_ok(_metadata, &r, r.total));
	EXPECT_TRUE(r.eof);
	EXPECT_EQ(w.sum, r.sum);
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(EV_EOF, sdp_wait_mask(self->cfd, ALL_EV, POLLRDHUP,
					AFIB_WAIT_MS));
}

/* SO_LINGER {1, 0}: close() resets the connection. */
TEST_F_TIMEOUT(conn, abort_close, afib_tmo(60))
{
	struct linger lg = { 1, 0 }, got;
	socklen_t l = sizeof(got);
	int rev;
	char c;

	ASSERT_EQ(0, setsockopt(self->sfd, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	ASSERT_EQ(0, getsockopt(self->sfd, SOL_SOCKET, SO_LINGER, &got, &l));
	EXPECT_EQ(sizeof(got), l);
	EXPECT_EQ(1, got.l_onoff);
	EXPECT_EQ(0, got.l_linger);
	afib_close(&self->sfd);
	rev = sdp_wait_mask(self->cfd, ALL_EV, POLLERR, AFIB_WAIT_MS);
	EXPECT_EQ(EV_RESET, rev) TH_LOG("revents %#x", rev);
	EXPECT_EQ(-1, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(ECONNRESET, errno) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(0, sdp_getint(self->cfd, SOL_SOCKET, SO_ERROR));
	rev = afib_poll1(self->cfd, ALL_EV, 0);
	EXPECT_EQ(EV_HUP, rev) TH_LOG("revents %#x after the error", rev);
	EXPECT_EQ(-1, send(self->cfd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
}

/* close() with unread data resets the connection too. */
TEST_F_TIMEOUT(conn, close_unread, afib_tmo(60))
{
	char buf[100];
	int rev;

	memset(buf, 'u', sizeof(buf));
	ASSERT_EQ(100, send(self->cfd, buf, 100, 0));
	ASSERT_EQ(100, sdp_wait_ioctl(self->sfd, SIOCINQ, 100, AFIB_WAIT_MS));
	afib_close(&self->sfd);
	rev = sdp_wait_mask(self->cfd, ALL_EV, POLLERR, AFIB_WAIT_MS);
	EXPECT_EQ(EV_RESET, rev) TH_LOG("revents %#x", rev);
	EXPECT_EQ(ECONNRESET, sdp_getint(self->cfd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(0, recv(self->cfd, buf, sizeof(buf), 0));
	EXPECT_EQ(-1, send(self->cfd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
}

/*
 * SO_LINGER {1, 5} with undelivered data: close() waits until the peer
 * (which starts reading after 500 ms) has it all.
 */
TEST_F_TIMEOUT(conn, linger, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct linger lg = { 1, 5 }, got;
	struct sdp_stream r = { .seed = 74, .chunk = 65536, .rnd = 74,
				.shut = true };
	socklen_t l = sizeof(got);
	const char *step = "";
	int cfd, sfd;
	size_t off = 0;
	int64_t ts, t0, dt;

	ASSERT_EQ(0, sdp_pair(tp, &cfd, &sfd, NULL, NULL, SMALL_BUF, &step))
		TH_LOG("%s: %s", step, strerror(errno));
	ASSERT_EQ(0, setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	ASSERT_EQ(0, getsockopt(cfd, SOL_SOCKET, SO_LINGER, &got, &l));
	EXPECT_EQ(1, got.l_onoff);
	EXPECT_EQ(5, got.l_linger);
	ASSERT_EQ(0, fill(cfd, 74, &off, NULL, NULL))
		TH_LOG("fill: %s", strerror(errno));
	r.fd = sfd;
	r.total = off;
	r.delay_ms = 500;
	ts = afib_now_ms();
	ASSERT_EQ(0, sdp_stream_start(&r));
	t0 = afib_now_ms();
	EXPECT_EQ(0, close(cfd));
	dt = afib_now_ms() - t0;
	TH_LOG("close() with %zu bytes queued took %lld ms", off,
	       (long long)dt);
	EXPECT_GE(5000 + afib_tmo(2) * 1000, dt);
	ASSERT_EQ(0, afib_join(r.th, AFIB_WAIT_MS));
	/*
	 * Not before the peer had begun to read (its first recv() may
	 * return a little after the close() it let finish).
	 */
	EXPECT_LE(ts + r.delay_ms, t0 + dt)
		TH_LOG("close() returned %lld ms before the reader began",
		       (long long)(ts + r.delay_ms - t0 - dt));
	EXPECT_TRUE(stream_ok(_metadata, &r, off));
	EXPECT_TRUE(r.eof);
	close(sfd);
}

/*
 * SO_LINGER {1, 1} and a peer that does not read: close() returns after
 * the second; the data is still delivered when the peer reads later.
 */
TEST_F_TIMEOUT(conn, linger_timeout, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct linger lg = { 1, 1 };
	struct sdp_stream r = { .seed = 75, .chunk = 65536, .rnd = 75,
				.shut = true };
	const char *step = "";
	int cfd, sfd;
	size_t off = 0;
	int64_t t0, dt;

	ASSERT_EQ(0, sdp_pair(tp, &cfd, &sfd, NULL, NULL, SMALL_BUF, &step))
		TH_LOG("%s: %s", step, strerror(errno));
	ASSERT_EQ(0, setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	ASSERT_EQ(0, fill(cfd, 75, &off, NULL, NULL))
		TH_LOG("fill: %s", strerror(errno));
	t0 = afib_now_ms();
	EXPECT_EQ(0, close(cfd));
	dt = afib_now_ms() - t0;
	TH_LOG("close() with %zu bytes queued took %lld ms", off,
	       (long long)dt);
	EXPECT_LE(900, dt);
	EXPECT_GE(1000 + afib_tmo(2) * 1000, dt);
	r.fd = sfd;
	r.total = off;
	ASSERT_EQ(0, sdp_stream_start(&r));
	ASSERT_EQ(0, afib_join(r.th, AFIB_WAIT_MS));
	EXPECT_TRUE(stream_ok(_metadata, &r, off));
	EXPECT_TRUE(r.eof);
	close(sfd);
}

/* ---- options --------------------------------------------------------- */

TEST_F_TIMEOUT(conn, nodelay, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	int fd = sdp_socket(tp, 0), cfd, sfd;
	short two = 1;

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, sdp_getint(fd, IPPROTO_TCP, TCP_NODELAY));
	EXPECT_EQ(0, sdp_setint(fd, SOL_TCP, TCP_NODELAY, 1));
	EXPECT_EQ(1, sdp_getint(fd, SOL_TCP, TCP_NODELAY));
	close(fd);

	EXPECT_EQ(0, sdp_getint(self->cfd, IPPROTO_TCP, TCP_NODELAY));
	EXPECT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, TCP_NODELAY, 1));
	EXPECT_EQ(1, sdp_getint(self->cfd, IPPROTO_TCP, TCP_NODELAY));
	EXPECT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, TCP_NODELAY, 7));
	EXPECT_EQ(1, sdp_getint(self->cfd, IPPROTO_TCP, TCP_NODELAY));
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, 1000, 80));
	EXPECT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, TCP_NODELAY, 0));
	EXPECT_EQ(0, sdp_getint(self->cfd, IPPROTO_TCP, TCP_NODELAY));
	EXPECT_EQ(-1, setsockopt(self->cfd, IPPROTO_TCP, TCP_NODELAY, &two,
				 sizeof(two)));
	EXPECT_EQ(EINVAL, errno);

	/* Accepted sockets inherit it from the listener. */
	EXPECT_EQ(0, sdp_setint(self->lfd, IPPROTO_TCP, TCP_NODELAY, 1));
	cfd = sdp_connect(tp, self->port, 0);
	ASSERT_LE(0, cfd);
	sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(1, sdp_getint(sfd, IPPROTO_TCP, TCP_NODELAY));
	EXPECT_EQ(0, sdp_getint(cfd, IPPROTO_TCP, TCP_NODELAY));
	close(cfd);
	close(sfd);
}

/*
 * TCP_CORK: what was written before arrives; small writes under the cork
 * are held back (TCP: about 200 ms) and readable, together, once it is
 * removed.
 */
TEST_F_TIMEOUT(conn, cork, afib_tmo(60))
{
	char buf[16];
	int64_t t0;

	ASSERT_EQ(3, send(self->cfd, "pre", 3, 0));
	EXPECT_EQ(0, sdp_getint(self->cfd, IPPROTO_TCP, TCP_CORK));
	ASSERT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, TCP_CORK, 1));
	EXPECT_EQ(1, sdp_getint(self->cfd, IPPROTO_TCP, TCP_CORK));
	EXPECT_EQ(3, sdp_recv_all(self->sfd, buf, 3, AFIB_WAIT_MS));
	EXPECT_EQ(0, memcmp(buf, "pre", 3));

	EXPECT_EQ(1, send(self->cfd, "a", 1, 0));
	EXPECT_EQ(1, send(self->cfd, "b", 1, 0));
	EXPECT_EQ(1, send(self->cfd, "c", 1, 0));
	EXPECT_EQ(0, afib_poll1(self->sfd, POLLIN, 50))
		TH_LOG("corked bytes sent at once");
	ASSERT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, TCP_CORK, 0));
	EXPECT_EQ(0, sdp_getint(self->cfd, IPPROTO_TCP, TCP_CORK));
	EXPECT_EQ(3, sdp_wait_ioctl(self->sfd, SIOCINQ, 3, AFIB_WAIT_MS));
	EXPECT_EQ(3, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));

	/* Corked and never uncorked: still delivered, later. */
	ASSERT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, TCP_CORK, 1));
	t0 = afib_now_ms();
	EXPECT_EQ(1, send(self->cfd, "d", 1, 0));
	EXPECT_EQ(0, afib_poll1(self->sfd, POLLIN, 50))
		TH_LOG("corked bytes sent at once");
	EXPECT_EQ(1, sdp_recv_all(self->sfd, buf, 1, AFIB_WAIT_MS));
	EXPECT_EQ('d', buf[0]);
	TH_LOG("corked byte held back %lld ms",
	       (long long)(afib_now_ms() - t0));
	/* Full segments are not held back by the cork. */
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, 200000, 81));
}

/* SO_SNDBUF/SO_RCVBUF: set to n reads back 2n, capped by [rw]mem_max. */
TEST_F_TIMEOUT(conn, bufsizes, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	int rmax = read_proc_int("/proc/sys/net/core/rmem_max", -1);
	int wmax = read_proc_int("/proc/sys/net/core/wmem_max", -1);
	int fd = sdp_socket(tp, 0), ref = socket(tp->af, SOCK_STREAM, 0);
	int fds[] = { fd, self->cfd, self->sfd };
	unsigned int i;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, ref);
	ASSERT_LT(0, rmax);
	ASSERT_LT(0, wmax);
	EXPECT_LT(0, sdp_getint(fd, SOL_SOCKET, SO_SNDBUF));
	EXPECT_LT(0, sdp_getint(fd, SOL_SOCKET, SO_RCVBUF));
	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		int f = fds[i];

		EXPECT_EQ(0, sdp_setint(f, SOL_SOCKET, SO_SNDBUF, 65536));
		EXPECT_EQ(131072, sdp_getint(f, SOL_SOCKET, SO_SNDBUF));
		EXPECT_EQ(0, sdp_setint(f, SOL_SOCKET, SO_RCVBUF, 65536));
		EXPECT_EQ(131072, sdp_getint(f, SOL_SOCKET, SO_RCVBUF));
		EXPECT_EQ(0, sdp_setint(f, SOL_SOCKET, SO_SNDBUF, 1 << 30));
		EXPECT_EQ(2 * wmax, sdp_getint(f, SOL_SOCKET, SO_SNDBUF));
		EXPECT_EQ(0, sdp_setint(f, SOL_SOCKET, SO_RCVBUF, 1 << 30));
		EXPECT_EQ(2 * rmax, sdp_getint(f, SOL_SOCKET, SO_RCVBUF));
		/* The minimum is the kernel's: compare with TCP's. */
		EXPECT_EQ(0, sdp_setint(f, SOL_SOCKET, SO_SNDBUF, 1));
		EXPECT_EQ(0, sdp_setint(ref, SOL_SOCKET, SO_SNDBUF, 1));
		EXPECT_EQ(sdp_getint(ref, SOL_SOCKET, SO_SNDBUF),
			  sdp_getint(f, SOL_SOCKET, SO_SNDBUF));
		EXPECT_EQ(0, sdp_setint(f, SOL_SOCKET, SO_RCVBUF, 1));
		EXPECT_EQ(0, sdp_setint(ref, SOL_SOCKET, SO_RCVBUF, 1));
		EXPECT_EQ(sdp_getint(ref, SOL_SOCKET, SO_RCVBUF),
			  sdp_getint(f, SOL_SOCKET, SO_RCVBUF));
	}
	close(fd);
	close(ref);
	/* Tiny buffers still carry data. */
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, 20000, 82));
}

/* SO_RCVLOWAT: no POLLIN and no return from recv() below the mark. */
TEST_F_TIMEOUT(conn, rcvlowat, afib_tmo(60))
{
	struct later l = { .fd = self->cfd, .ms = 300, .n = 2, .len = 5,
			   .seed = 83 };
	char buf[100];
	int64_t t0, dt;

	EXPECT_EQ(1, sdp_getint(self->sfd, SOL_SOCKET, SO_RCVLOWAT));
	EXPECT_EQ(0, sdp_setint(self->sfd, SOL_SOCKET, SO_RCVLOWAT, 0));
	EXPECT_EQ(1, sdp_getint(self->sfd, SOL_SOCKET, SO_RCVLOWAT));
	EXPECT_EQ(0, sdp_setint(self->sfd, SOL_SOCKET, SO_RCVLOWAT, 10));
	EXPECT_EQ(10, sdp_getint(self->sfd, SOL_SOCKET, SO_RCVLOWAT));

	ASSERT_EQ(5, send(self->cfd, "12345", 5, 0));
	ASSERT_EQ(5, sdp_wait_ioctl(self->sfd, SIOCINQ, 5, AFIB_WAIT_MS));
	EXPECT_EQ(0, afib_poll1(self->sfd, POLLIN, 100))
		TH_LOG("POLLIN with 5 bytes, SO_RCVLOWAT 10");
	/* Asked for less than the mark, or not waiting: what is there. */
	EXPECT_EQ(3, recv(self->sfd, buf, 3, 0));
	EXPECT_EQ(2, recv(self->sfd, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(buf, "45", 2));

	/* 5 bytes after 300 ms, 5 more after 600: recv() returns 10 then. */
	ASSERT_EQ(0, pthread_create(&l.th, NULL, later_fn, &l));
	t0 = afib_now_ms();
	EXPECT_EQ(10, recv(self->sfd, buf, sizeof(buf), 0));
	dt = afib_now_ms() - t0;
	EXPECT_LE(550, dt) TH_LOG("recv() returned after %lld ms",
				  (long long)dt);
	EXPECT_EQ(-1, sdp_check_at(buf, 10, 83, 0));
	pthread_join(l.th, NULL);
	EXPECT_EQ(0, l.err);

	/* Enough bytes: POLLIN. */
	ASSERT_EQ(12, send(self->cfd, "abcdefghijkl", 12, 0));
	EXPECT_TRUE(sdp_wait_mask(self->sfd, POLLIN, POLLIN, AFIB_WAIT_MS) &
		    POLLIN);
	EXPECT_EQ(12, sdp_recv_all(self->sfd, buf, 12, AFIB_WAIT_MS));
}

TEST_F_TIMEOUT(conn, keepalive, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	static const struct {
		int opt, lo, hi;
		const char *sysctl;
	} t[] = {
		{ TCP_KEEPIDLE, 1, 32767,
		  "/proc/sys/net/ipv4/tcp_keepalive_time" },
		{ TCP_KEEPINTVL, 1, 32767,
		  "/proc/sys/net/ipv4/tcp_keepalive_intvl" },
		{ TCP_KEEPCNT, 1, 127,
		  "/proc/sys/net/ipv4/tcp_keepalive_probes" },
	};
	int fd = sdp_socket(tp, 0), cfd, sfd;
	unsigned int i;

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, sdp_getint(self->cfd, SOL_SOCKET, SO_KEEPALIVE));
	EXPECT_EQ(0, sdp_setint(self->cfd, SOL_SOCKET, SO_KEEPALIVE, 1));
	EXPECT_EQ(1, sdp_getint(self->cfd, SOL_SOCKET, SO_KEEPALIVE));
	EXPECT_EQ(0, sdp_setint(self->cfd, SOL_SOCKET, SO_KEEPALIVE, 0));
	EXPECT_EQ(0, sdp_getint(self->cfd, SOL_SOCKET, SO_KEEPALIVE));
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		int def = read_proc_int(t[i].sysctl, -1);

		EXPECT_EQ(def, sdp_getint(fd, IPPROTO_TCP, t[i].opt))
			TH_LOG("option %d default", t[i].opt);
		EXPECT_EQ(def, sdp_getint(self->cfd, IPPROTO_TCP, t[i].opt));
		EXPECT_EQ(0, sdp_setint(fd, IPPROTO_TCP, t[i].opt, 3));
		EXPECT_EQ(3, sdp_getint(fd, IPPROTO_TCP, t[i].opt));
		EXPECT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, t[i].opt,
					t[i].hi));
		EXPECT_EQ(t[i].hi, sdp_getint(self->cfd, IPPROTO_TCP,
					      t[i].opt));
		EXPECT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, t[i].opt,
					t[i].lo));
		EXPECT_EQ(t[i].lo, sdp_getint(self->cfd, IPPROTO_TCP,
					      t[i].opt));
		EXPECT_EQ(-1, sdp_setint(self->cfd, IPPROTO_TCP, t[i].opt,
					 t[i].lo - 1));
		EXPECT_EQ(EINVAL, errno) TH_LOG("option %d = %d", t[i].opt,
						t[i].lo - 1);
		EXPECT_EQ(-1, sdp_setint(self->cfd, IPPROTO_TCP, t[i].opt,
					 t[i].hi + 1));
		EXPECT_EQ(EINVAL, errno) TH_LOG("option %d = %d", t[i].opt,
						t[i].hi + 1);
		EXPECT_EQ(t[i].lo, sdp_getint(self->cfd, IPPROTO_TCP,
					      t[i].opt));
		/* Set on the listener, inherited by accepted sockets. */
		EXPECT_EQ(0, sdp_setint(self->lfd, IPPROTO_TCP, t[i].opt,
					10 + i));
	}
	EXPECT_EQ(0, sdp_setint(self->lfd, SOL_SOCKET, SO_KEEPALIVE, 1));
	cfd = sdp_connect(tp, self->port, 0);
	ASSERT_LE(0, cfd);
	sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(1, sdp_getint(sfd, SOL_SOCKET, SO_KEEPALIVE));
	EXPECT_EQ(0, sdp_getint(cfd, SOL_SOCKET, SO_KEEPALIVE));
	for (i = 0; i < ARRAY_SIZE(t); i++)
		EXPECT_EQ(10 + (int)i, sdp_getint(sfd, IPPROTO_TCP, t[i].opt));

	/* Keepalive on an idle connection changes nothing visible. */
	EXPECT_EQ(0, sdp_setint(self->cfd, SOL_SOCKET, SO_KEEPALIVE, 1));
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, 100, 85));
	close(cfd);
	close(sfd);
	close(fd);
}

/* TCP_USER_TIMEOUT and TCP_SYNCNT: get/set (what they do: connect_timeout). */
TEST_F_TIMEOUT(conn, user_timeout, afib_tmo(60))
{
	EXPECT_EQ(0, sdp_getint(self->cfd, IPPROTO_TCP, TCP_USER_TIMEOUT));
	EXPECT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, TCP_USER_TIMEOUT,
				5000));
	EXPECT_EQ(5000, sdp_getint(self->cfd, IPPROTO_TCP,
				   TCP_USER_TIMEOUT));
	EXPECT_EQ(-1, sdp_setint(self->cfd, IPPROTO_TCP, TCP_USER_TIMEOUT,
				 -1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(read_proc_int("/proc/sys/net/ipv4/tcp_syn_retries", -1),
		  sdp_getint(self->cfd, IPPROTO_TCP, TCP_SYNCNT));
	EXPECT_EQ(0, sdp_setint(self->cfd, IPPROTO_TCP, TCP_SYNCNT, 2));
	EXPECT_EQ(2, sdp_getint(self->cfd, IPPROTO_TCP, TCP_SYNCNT));
	EXPECT_EQ(-1, sdp_setint(self->cfd, IPPROTO_TCP, TCP_SYNCNT, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sdp_setint(self->cfd, IPPROTO_TCP, TCP_SYNCNT, 128));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, 100, 87));
}

/* TCP_INFO: at least the state, which many programs look at. */
TEST_F_TIMEOUT(conn, tcp_info, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	int fd = sdp_socket(tp, 0), i;
	int fds[] = { fd, self->lfd, self->cfd, self->sfd };
	int want[] = { TCP_CLOSE, TCP_LISTEN, TCP_ESTABLISHED,
		       TCP_ESTABLISHED };
	struct tcp_info ti;
	socklen_t l;

	ASSERT_LE(0, fd);
	for (i = 0; i < 4; i++) {
		memset(&ti, 0xa5, sizeof(ti));
		l = sizeof(ti);
		ASSERT_EQ(0, getsockopt(fds[i], IPPROTO_TCP, TCP_INFO, &ti,
					&l)) TH_LOG("TCP_INFO: %s",
						    strerror(errno));
		EXPECT_LT(8, l);
		EXPECT_EQ(want[i], ti.tcpi_state) TH_LOG("socket %d", i);
	}
	afib_close(&self->sfd);
	ASSERT_TRUE(sdp_wait_mask(self->cfd, POLLRDHUP, POLLRDHUP, AFIB_WAIT_MS)
		    & POLLRDHUP);
	l = sizeof(ti);
	ASSERT_EQ(0, getsockopt(self->cfd, IPPROTO_TCP, TCP_INFO, &ti, &l));
	EXPECT_EQ(TCP_CLOSE_WAIT, ti.tcpi_state);
	close(fd);
}

TEST_F_TIMEOUT(conn, unknown_opt, afib_tmo(60))
{
	int v = 1;
	socklen_t l = sizeof(v);

	EXPECT_EQ(-1, getsockopt(self->cfd, IPPROTO_TCP, 9999, &v, &l));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, setsockopt(self->cfd, IPPROTO_TCP, 9999, &v, l));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, getsockopt(self->cfd, SOL_SOCKET, 9999, &v, &l));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, setsockopt(self->cfd, IPPROTO_TCP, TCP_NODELAY, &v, 0));
	EXPECT_EQ(EINVAL, errno);
}

/* ---- ioctl ----------------------------------------------------------- */

TEST_F_TIMEOUT(conn, inq_outq, afib_tmo(60))
{
	char buf[1000];

	EXPECT_EQ(0, sdp_ioctl(self->cfd, SIOCINQ));
	EXPECT_EQ(0, sdp_ioctl(self->cfd, SIOCOUTQ));
	EXPECT_EQ(0, sdp_ioctl(self->cfd, SIOCATMARK));
	memset(buf, 'q', sizeof(buf));
	ASSERT_EQ(1000, send(self->sfd, buf, 1000, 0));
	EXPECT_EQ(1000, sdp_wait_ioctl(self->cfd, SIOCINQ, 1000,
				       AFIB_WAIT_MS));
	EXPECT_EQ(1000, sdp_ioctl(self->cfd, FIONREAD));
	/* Received, not read: acknowledged all the same. */
	EXPECT_EQ(0, sdp_wait_ioctl(self->sfd, SIOCOUTQ, 0, AFIB_WAIT_MS));
	EXPECT_EQ(400, recv(self->cfd, buf, 400, 0));
	EXPECT_EQ(600, sdp_ioctl(self->cfd, SIOCINQ));
	EXPECT_EQ(0, sdp_ioctl(self->cfd, SIOCATMARK));
	EXPECT_EQ(600, recv(self->cfd, buf, 1000, 0));
	EXPECT_EQ(0, sdp_ioctl(self->cfd, SIOCINQ));

	/* Not on a listener. */
	EXPECT_EQ(-12345, sdp_ioctl(self->lfd, SIOCINQ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-12345, sdp_ioctl(self->lfd, SIOCOUTQ));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * A full connection: SIOCOUTQ counts what the peer has not received,
 * SIOCINQ on the peer what it has, together every byte sent.
 */
TEST_F_TIMEOUT(conn, outq_full, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sdp_stream r = { .seed = 86, .chunk = 65536, .rnd = 86 };
	const char *step = "";
	int cfd, sfd, outq = 0, inq = 0;
	size_t off = 0;
	int64_t end;

	ASSERT_EQ(0, sdp_pair(tp, &cfd, &sfd, NULL, NULL, SMALL_BUF, &step))
		TH_LOG("%s: %s", step, strerror(errno));
	ASSERT_EQ(0, fill(cfd, 86, &off, NULL, NULL))
		TH_LOG("fill: %s", strerror(errno));
	end = afib_now_ms() + AFIB_WAIT_MS;
	do {
		outq = sdp_ioctl(cfd, SIOCOUTQ);
		inq = sdp_ioctl(sfd, SIOCINQ);
		if (outq + inq == (int)off)
			break;
		afib_msleep(10);
	} while (afib_now_ms() < end);
	TH_LOG("%zu bytes sent: SIOCOUTQ %d, peer's SIOCINQ %d", off, outq,
	       inq);
	EXPECT_EQ((int)off, outq + inq);
	EXPECT_LT(0, outq);
	EXPECT_LT(0, inq);
	r.fd = sfd;
	r.total = off;
	ASSERT_EQ(0, sdp_stream_start(&r));
	ASSERT_EQ(0, afib_join(r.th, AFIB_WAIT_MS));
	EXPECT_TRUE(stream_ok(_metadata, &r, off));
	EXPECT_EQ(0, sdp_wait_ioctl(cfd, SIOCOUTQ, 0, AFIB_WAIT_MS));
	EXPECT_EQ(0, sdp_ioctl(sfd, SIOCINQ));
	close(cfd);
	close(sfd);
}

/* ---- MSG_OOB --------------------------------------------------------- */

static bool wait_sigurg(int n)
{
	int64_t end = afib_now_ms() + AFIB_WAIT_MS;

	while (sigurgs < n && afib_now_ms() < end)
		afib_msleep(5);
	return sigurgs >= n;
}

/*
 * send(MSG_OOB) of "c" between "ab" and "de": SIGURG, POLLPRI, reads stop
 * at the mark, SIOCATMARK, the byte from recv(MSG_OOB) and not inline.
 */
TEST_F_TIMEOUT(conn, oob, afib_tmo(60))
{
	struct timeval tv = { 0, 0 };
	fd_set rs, es;
	char buf[16];
	int rev;

	catch_signal(SIGURG, on_sigurg);
	sigurgs = 0;
	ASSERT_EQ(0, fcntl(self->sfd, F_SETOWN, getpid()));
	EXPECT_EQ(getpid(), fcntl(self->sfd, F_GETOWN));
	ASSERT_EQ(2, send(self->cfd, "ab", 2, 0));
	ASSERT_EQ(1, send(self->cfd, "c", 1, MSG_OOB)) TH_LOG("%s",
							     strerror(errno));
	ASSERT_EQ(2, send(self->cfd, "de", 2, 0)) TH_LOG("after MSG_OOB: %s",
							 strerror(errno));
	ASSERT_TRUE(wait_sigurg(1)) TH_LOG("no SIGURG");
	rev = sdp_wait_mask(self->sfd, ALL_EV, POLLPRI, AFIB_WAIT_MS);
	EXPECT_EQ(POLLIN | POLLOUT | POLLPRI, rev) TH_LOG("revents %#x", rev);
	FD_ZERO(&rs);
	FD_ZERO(&es);
	FD_SET(self->sfd, &rs);
	FD_SET(self->sfd, &es);
	EXPECT_EQ(2, select(self->sfd + 1, &rs, NULL, &es, &tv));
	EXPECT_TRUE(FD_ISSET(self->sfd, &es));

	EXPECT_EQ(0, sdp_ioctl(self->sfd, SIOCATMARK));
	/* SIOCINQ: the bytes before the mark. */
	EXPECT_EQ(2, sdp_ioctl(self->sfd, SIOCINQ));
	EXPECT_EQ(2, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "ab", 2));
	EXPECT_EQ(1, sdp_ioctl(self->sfd, SIOCATMARK));
	EXPECT_TRUE(afib_poll1(self->sfd, POLLPRI, 0) & POLLPRI);
	EXPECT_EQ(1, recv(self->sfd, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ('c', buf[0]);
	EXPECT_FALSE(afib_poll1(self->sfd, POLLPRI, 0) & POLLPRI);
	EXPECT_EQ(-1, recv(self->sfd, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(2, sdp_recv_all(self->sfd, buf, 2, AFIB_WAIT_MS));
	EXPECT_EQ(0, memcmp(buf, "de", 2));
	EXPECT_EQ(0, sdp_ioctl(self->sfd, SIOCATMARK));
	EXPECT_EQ(-1, recv(self->sfd, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(1, sigurgs);

	/* Several bytes with MSG_OOB: the last one is urgent. */
	ASSERT_EQ(3, send(self->cfd, "xyz", 3, MSG_OOB));
	ASSERT_TRUE(wait_sigurg(2)) TH_LOG("no SIGURG");
	EXPECT_TRUE(sdp_wait_mask(self->sfd, POLLPRI, POLLPRI, AFIB_WAIT_MS) &
		    POLLPRI);
	EXPECT_EQ(2, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "xy", 2));
	EXPECT_EQ(1, sdp_ioctl(self->sfd, SIOCATMARK));
	EXPECT_EQ(1, recv(self->sfd, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ('z', buf[0]);
	/* And the other direction. */
	ASSERT_EQ(1, send(self->sfd, "!", 1, MSG_OOB));
	EXPECT_TRUE(sdp_wait_mask(self->cfd, POLLPRI, POLLPRI, AFIB_WAIT_MS) &
		    POLLPRI);
	EXPECT_EQ(1, recv(self->cfd, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ('!', buf[0]);
}

/* SO_OOBINLINE: the urgent byte stays in the stream, at the mark. */
TEST_F_TIMEOUT(conn, oob_inline, afib_tmo(60))
{
	char buf[16];
	int rev;

	catch_signal(SIGURG, on_sigurg);
	sigurgs = 0;
	ASSERT_EQ(0, fcntl(self->sfd, F_SETOWN, getpid()));
	ASSERT_EQ(0, sdp_setint(self->sfd, SOL_SOCKET, SO_OOBINLINE, 1));
	EXPECT_EQ(1, sdp_getint(self->sfd, SOL_SOCKET, SO_OOBINLINE));
	ASSERT_EQ(2, send(self->cfd, "ab", 2, 0));
	ASSERT_EQ(1, send(self->cfd, "c", 1, MSG_OOB)) TH_LOG("%s",
							     strerror(errno));
	ASSERT_EQ(2, send(self->cfd, "de", 2, 0)) TH_LOG("after MSG_OOB: %s",
							 strerror(errno));
	ASSERT_TRUE(wait_sigurg(1)) TH_LOG("no SIGURG");
	EXPECT_EQ(5, sdp_wait_ioctl(self->sfd, SIOCINQ, 5, AFIB_WAIT_MS));
	rev = afib_poll1(self->sfd, ALL_EV, 0);
	EXPECT_EQ(POLLIN | POLLOUT | POLLPRI, rev) TH_LOG("revents %#x", rev);
	EXPECT_EQ(-1, recv(self->sfd, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, sdp_ioctl(self->sfd, SIOCATMARK));
	EXPECT_EQ(2, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "ab", 2));
	EXPECT_EQ(1, sdp_ioctl(self->sfd, SIOCATMARK));
	EXPECT_EQ(3, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "cde", 3));
	EXPECT_EQ(0, sdp_ioctl(self->sfd, SIOCATMARK));
	EXPECT_EQ(1, sigurgs);
}

TEST_F_TIMEOUT(conn, oob_none, afib_tmo(60))
{
	char buf[4];

	EXPECT_EQ(-1, recv(self->sfd, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(1, send(self->cfd, "n", 1, 0));
	ASSERT_EQ(1, sdp_wait_ioctl(self->sfd, SIOCINQ, 1, AFIB_WAIT_MS));
	EXPECT_EQ(-1, recv(self->sfd, buf, sizeof(buf), MSG_OOB));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, sdp_ioctl(self->sfd, SIOCATMARK));
	EXPECT_FALSE(afib_poll1(self->sfd, POLLPRI, 0) & POLLPRI);
	EXPECT_EQ(1, recv(self->sfd, buf, sizeof(buf), 0));
}

/* ---- poll, select, epoll --------------------------------------------- */

TEST_F_TIMEOUT(conn, poll_data, afib_tmo(60))
{
	struct timeval tv = { 0, 0 };
	fd_set rs, ws;
	char buf[16];
	int rev;

	EXPECT_EQ(POLLOUT, afib_poll1(self->cfd, ALL_EV, 0));
	EXPECT_EQ(POLLOUT, afib_poll1(self->sfd, ALL_EV, 0));
	EXPECT_EQ(0, afib_poll1(self->cfd, POLLIN | POLLRDHUP, 200));

	ASSERT_EQ(3, send(self->sfd, "abc", 3, 0));
	EXPECT_EQ(POLLIN, afib_poll1(self->cfd, POLLIN, AFIB_WAIT_MS));
	rev = afib_poll1(self->cfd, ALL_EV, 0);
	EXPECT_EQ(POLLIN | POLLOUT, rev) TH_LOG("revents %#x", rev);
	/* Level triggered. */
	EXPECT_EQ(POLLIN, afib_poll1(self->cfd, POLLIN, 0));
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_SET(self->cfd, &rs);
	FD_SET(self->cfd, &ws);
	EXPECT_EQ(2, select(self->cfd + 1, &rs, &ws, NULL, &tv));
	EXPECT_EQ(3, sdp_recv_all(self->cfd, buf, 3, AFIB_WAIT_MS));
	EXPECT_EQ(POLLOUT, afib_poll1(self->cfd, ALL_EV, 0));
	FD_ZERO(&rs);
	FD_SET(self->cfd, &rs);
	EXPECT_EQ(0, select(self->cfd + 1, &rs, NULL, NULL, &tv));
}

/* A sleeping poll() and epoll_wait() are woken by arriving data. */
TEST_F_TIMEOUT(conn, poll_wakeup, afib_tmo(60))
{
	struct later l = { .fd = self->sfd, .ms = 300, .n = 1, .len = 1,
			   .seed = 90 };
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0), rev;
	int64_t t0, dt;
	char c;

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->cfd, &ev));
	ASSERT_EQ(0, pthread_create(&l.th, NULL, later_fn, &l));
	t0 = afib_now_ms();
	rev = afib_poll1(self->cfd, POLLIN, AFIB_WAIT_MS);
	dt = afib_now_ms() - t0;
	EXPECT_EQ(POLLIN, rev);
	EXPECT_LE(250, dt);
	pthread_join(l.th, NULL);
	EXPECT_EQ(1, recv(self->cfd, &c, 1, 0));

	ASSERT_EQ(0, pthread_create(&l.th, NULL, later_fn, &l));
	t0 = afib_now_ms();
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, AFIB_WAIT_MS));
	dt = afib_now_ms() - t0;
	EXPECT_EQ(EPOLLIN, ev.events);
	EXPECT_LE(250, dt);
	pthread_join(l.th, NULL);
	EXPECT_EQ(1, recv(self->cfd, &c, 1, 0));
	close(ep);
}

/* EPOLLET: one event per arrival of new data, read or not. */
TEST_F_TIMEOUT(conn, epoll_et, afib_tmo(60))
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int ep = epoll_create1(0);
	char buf[16];

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->sfd, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(1, send(self->cfd, "a", 1, 0));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, AFIB_WAIT_MS));
	EXPECT_EQ(EPOLLIN, ev.events);
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 200)) TH_LOG("second event");
	ASSERT_EQ(1, send(self->cfd, "b", 1, 0));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, AFIB_WAIT_MS));
	EXPECT_EQ(EPOLLIN, ev.events);
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 200)) TH_LOG("second event");
	EXPECT_EQ(2, sdp_wait_ioctl(self->sfd, SIOCINQ, 2, AFIB_WAIT_MS));
	EXPECT_EQ(2, recv(self->sfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "ab", 2));
	/* Reading raises no event; the next data does. */
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 200));
	ASSERT_EQ(1, send(self->cfd, "c", 1, 0));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, AFIB_WAIT_MS));
	EXPECT_EQ(EPOLLIN, ev.events);
	close(ep);
}

/*
 * EPOLLOUT|EPOLLET: one event at first, then none while nothing changes;
 * an EAGAIN arms the next one, which comes when there is room again.
 * (A full TCP connection may get a little room back by itself, through
 * window probes: what matters is that the last EAGAIN is followed by an
 * event.)
 */
TEST_F_TIMEOUT(conn, epoll_et_out, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	struct sdp_stream r = { .seed = 91, .chunk = 65536, .rnd = 91 };
	const char *step = "";
	int ep = epoll_create1(0), cfd, sfd, i;
	size_t off = 0;
	char *buf = malloc(65536);
	ssize_t n;

	ASSERT_LE(0, ep);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, sdp_pair(tp, &cfd, &sfd, NULL, NULL, SMALL_BUF, &step))
		TH_LOG("%s: %s", step, strerror(errno));
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(EPOLLOUT, ev.events);
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 100));
	ASSERT_EQ(0, fill(cfd, 91, &off, NULL, NULL))
		TH_LOG("fill: %s", strerror(errno));
	/* Forget the events of the filling; end on an EAGAIN. */
	for (i = 0; i < 1000; i++) {
		while (epoll_wait(ep, &ev, 1, 0) > 0)
			;
		sdp_fill_at(buf, 65536, 91, off);
		n = send(cfd, buf, 65536, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			break;
		off += n;
	}
	ASSERT_EQ(-1, n);
	ASSERT_EQ(EAGAIN, errno) TH_LOG("%s", strerror(errno));
	r.fd = sfd;
	r.total = off;
	ASSERT_EQ(0, sdp_stream_start(&r));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, AFIB_WAIT_MS))
		TH_LOG("no EPOLLOUT after EAGAIN while the peer reads");
	EXPECT_EQ(EPOLLOUT, ev.events);
	ASSERT_EQ(0, afib_join(r.th, AFIB_WAIT_MS));
	EXPECT_TRUE(stream_ok(_metadata, &r, off));
	free(buf);
	close(ep);
	close(cfd);
	close(sfd);
}

TEST_F_TIMEOUT(conn, epoll_rdhup, afib_tmo(60))
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };
	int et = epoll_create1(0), lt = epoll_create1(0);

	ASSERT_LE(0, et);
	ASSERT_LE(0, lt);
	ASSERT_EQ(0, epoll_ctl(et, EPOLL_CTL_ADD, self->sfd, &ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
	ASSERT_EQ(0, epoll_ctl(lt, EPOLL_CTL_ADD, self->sfd, &ev));
	EXPECT_EQ(0, epoll_wait(et, &ev, 1, 0));
	ASSERT_EQ(0, shutdown(self->cfd, SHUT_WR));
	EXPECT_EQ(1, epoll_wait(et, &ev, 1, AFIB_WAIT_MS));
	EXPECT_EQ(EPOLLIN | EPOLLRDHUP, ev.events) TH_LOG("events %#x",
							  ev.events);
	EXPECT_EQ(0, epoll_wait(et, &ev, 1, 200));
	EXPECT_EQ(1, epoll_wait(lt, &ev, 1, 0));
	EXPECT_EQ(EPOLLIN | EPOLLOUT | EPOLLRDHUP, ev.events)
		TH_LOG("events %#x", ev.events);
	close(et);
	close(lt);
}

/* Both directions shut down: POLLHUP on both ends. */
TEST_F_TIMEOUT(conn, poll_hup, afib_tmo(60))
{
	char c;
	int rev;

	ASSERT_EQ(0, shutdown(self->cfd, SHUT_WR));
	ASSERT_EQ(0, shutdown(self->sfd, SHUT_WR));
	rev = sdp_wait_mask(self->cfd, ALL_EV, POLLHUP, AFIB_WAIT_MS);
	EXPECT_EQ(EV_HUP, rev) TH_LOG("client revents %#x", rev);
	rev = sdp_wait_mask(self->sfd, ALL_EV, POLLHUP, AFIB_WAIT_MS);
	EXPECT_EQ(EV_HUP, rev) TH_LOG("server revents %#x", rev);
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(0, recv(self->sfd, &c, 1, 0));
}

/* SHUT_RDWR on one end: POLLHUP there at once, EOF on the other. */
TEST_F_TIMEOUT(conn, shut_rdwr, afib_tmo(60))
{
	char c;
	int rev;

	ASSERT_EQ(0, shutdown(self->cfd, SHUT_RDWR));
	rev = afib_poll1(self->cfd, ALL_EV, 0);
	EXPECT_EQ(EV_HUP, rev) TH_LOG("revents %#x", rev);
	EXPECT_EQ(0, recv(self->cfd, &c, 1, 0));
	EXPECT_EQ(-1, send(self->cfd, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	rev = sdp_wait_mask(self->sfd, ALL_EV, POLLRDHUP, AFIB_WAIT_MS);
	EXPECT_EQ(EV_EOF, rev) TH_LOG("peer revents %#x", rev);
	EXPECT_EQ(0, recv(self->sfd, &c, 1, 0));
}

/* read() @len bytes from the pipe @fd; how many were read. */
static size_t read_all(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if (!(afib_poll1(fd, POLLIN, AFIB_WAIT_MS) & POLLIN))
			break;
		n = read(fd, (char *)buf + done, len - done);
		if (n <= 0)
			break;
		done += n;
	}
	return done;
}

/* ---- sendfile, splice ------------------------------------------------ */

TEST_F_TIMEOUT(conn, sendfile, afib_tmo(60))
{
	const size_t flen = 300000, from = 1000, count = 200000;
	struct sdp_stream r = { .fd = self->sfd, .seed = 92, .chunk = 65536,
				.rnd = 92, .base = from, .total = count };
	int mfd = memfd_create("sdp_tcp", 0);
	char *buf = malloc(flen);
	off_t off = from;
	size_t done = 0;
	ssize_t n;

	ASSERT_LE(0, mfd);
	ASSERT_NE(NULL, buf);
	sdp_fill_at(buf, flen, 92, 0);
	ASSERT_EQ((ssize_t)flen, write(mfd, buf, flen));
	ASSERT_EQ(0, sdp_stream_start(&r));
	while (done < count) {
		n = sendfile(self->cfd, mfd, &off, count - done);
		if (n <= 0) {
			TH_LOG("sendfile: %zd: %s", n, strerror(errno));
			break;
		}
		done += n;
	}
	EXPECT_EQ(count, done);
	EXPECT_EQ((off_t)(from + count), off);
	ASSERT_EQ(0, afib_join(r.th, AFIB_WAIT_MS));
	EXPECT_TRUE(stream_ok(_metadata, &r, count));
	EXPECT_EQ(0, sendfile(self->cfd, mfd, &off, 0));
	free(buf);
	close(mfd);
}

TEST_F_TIMEOUT(conn, splice_to_sock, afib_tmo(60))
{
	const size_t total = 200000;
	struct sdp_stream w, r = { .fd = self->sfd, .seed = 93,
				   .chunk = 65536, .rnd = 93,
				   .total = total };
	size_t done = 0;
	int p[2];
	ssize_t n;

	ASSERT_EQ(0, pipe(p));
	w = (struct sdp_stream){ .fd = p[1], .tx = true, .seed = 93,
				 .total = total, .chunk = 30000, .rnd = 94,
				 .rw = true, .close = true };
	ASSERT_EQ(0, sdp_stream_start(&w));
	ASSERT_EQ(0, sdp_stream_start(&r));
	for (;;) {
		n = splice(p[0], NULL, self->cfd, NULL, 65536, 0);
		if (n <= 0)
			break;
		done += n;
	}
	EXPECT_EQ(0, n) TH_LOG("splice: %s", strerror(errno));
	EXPECT_EQ(total, done);
	ASSERT_EQ(0, afib_join(w.th, AFIB_WAIT_MS));
	ASSERT_EQ(0, afib_join(r.th, AFIB_WAIT_MS));
	EXPECT_TRUE(stream_ok(_metadata, &w, total));
	EXPECT_TRUE(stream_ok(_metadata, &r, total));
	close(p[0]);
}

TEST_F_TIMEOUT(conn, splice_from_sock, afib_tmo(60))
{
	const size_t total = 200000;
	struct sdp_stream w = { .fd = self->cfd, .tx = true, .seed = 95,
				.total = total, .chunk = 30000, .rnd = 95,
				.shut = true };
	char *buf = malloc(65536);
	size_t done = 0, got;
	long bad = -1, b;
	int p[2];
	ssize_t n;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, sdp_stream_start(&w));
	for (;;) {
		n = splice(self->sfd, NULL, p[1], NULL, 65536, 0);
		if (n <= 0)
			break;
		got = read_all(p[0], buf, n);
		if (got != (size_t)n) {
			TH_LOG("read from the pipe: %zu of %zd", got, n);
			break;
		}
		b = sdp_check_at(buf, n, 95, done);
		if (bad < 0 && b >= 0)
			bad = done + b;
		done += n;
	}
	EXPECT_EQ(0, n) TH_LOG("splice: %s", strerror(errno));
	EXPECT_EQ(total, done);
	EXPECT_EQ(-1, bad);
	ASSERT_EQ(0, afib_join(w.th, AFIB_WAIT_MS));
	EXPECT_TRUE(stream_ok(_metadata, &w, total));
	close(p[0]);
	close(p[1]);
	free(buf);
}

/* ---- fork ------------------------------------------------------------ */

/* In a child: send @len bytes of @seed on @tx, then check @rlen on @rx. */
static int child_io(int tx, size_t len, uint32_t seed, int rx, size_t rlen,
		    uint32_t rseed)
{
	char *buf = malloc(len > rlen ? len : rlen);

	if (!buf)
		return 10;
	if (len) {
		sdp_fill_at(buf, len, seed, 0);
		if (sdp_send_all(tx, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
			return 11;
	}
	if (rlen) {
		if (sdp_recv_all(rx, buf, rlen, AFIB_WAIT_MS) != rlen)
			return 12;
		if (sdp_check_at(buf, rlen, rseed, 0) >= 0)
			return 13;
	}
	return 0;
}

static int wait_child(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * A connected socket is shared by parent and child: either can send and
 * receive on it; the child's exit (closing its copy) does not close it.
 */
TEST_F_TIMEOUT(conn, fork_share, afib_tmo(60))
{
	const size_t len = 100000;
	pid_t pid;

	/* The child uses the client end, the parent the server end. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_io(self->cfd, len, 100, self->cfd, len, 101));
	{
		char *buf = malloc(len);

		ASSERT_NE(NULL, buf);
		EXPECT_EQ(len, sdp_recv_all(self->sfd, buf, len,
					    AFIB_WAIT_MS));
		EXPECT_EQ(-1, sdp_check_at(buf, len, 100, 0));
		sdp_fill_at(buf, len, 101, 0);
		EXPECT_EQ((ssize_t)len, sdp_send_all(self->sfd, buf, len,
						     MSG_NOSIGNAL));
		free(buf);
	}
	EXPECT_EQ(0, wait_child(pid));
	/* The parent still has the client end. */
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, len, 102));
	EXPECT_TRUE(sdp_xfer(_metadata, self->sfd, self->cfd, len, 103));

	/* The other way: the child uses the server end. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_io(self->sfd, len, 104, self->sfd, len, 105));
	{
		char *buf = malloc(len);

		ASSERT_NE(NULL, buf);
		EXPECT_EQ(len, sdp_recv_all(self->cfd, buf, len,
					    AFIB_WAIT_MS));
		EXPECT_EQ(-1, sdp_check_at(buf, len, 104, 0));
		sdp_fill_at(buf, len, 105, 0);
		EXPECT_EQ((ssize_t)len, sdp_send_all(self->cfd, buf, len,
						     MSG_NOSIGNAL));
		free(buf);
	}
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_TRUE(sdp_xfer(_metadata, self->sfd, self->cfd, 1000, 106));
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, 1000, 107));
}

/* The parent closes its copy at once: the connection lives in the child. */
TEST_F_TIMEOUT(conn, fork_last_close, afib_tmo(60))
{
	const size_t len = 65536;
	char *buf = malloc(len);
	char c;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		afib_msleep(200);
		_exit(child_io(self->cfd, len, 108, -1, 0, 0));
	}
	afib_close(&self->cfd);
	EXPECT_EQ(len, sdp_recv_all(self->sfd, buf, len, AFIB_WAIT_MS));
	EXPECT_EQ(-1, sdp_check_at(buf, len, 108, 0));
	EXPECT_EQ(0, wait_child(pid));
	/* The child's exit closed the last reference: EOF. */
	EXPECT_TRUE(sdp_wait_mask(self->sfd, POLLIN, POLLIN, AFIB_WAIT_MS) &
		    POLLIN);
	EXPECT_EQ(0, recv(self->sfd, &c, 1, MSG_DONTWAIT));
	free(buf);
}

/* ---- integrity ------------------------------------------------------- */

/* Run @n streams to completion; true if all of them went well. */
static bool run_streams(struct __test_metadata *_metadata,
			struct sdp_stream *st, int n, int ms)
{
	bool ok = true;
	int i;

	for (i = 0; i < n; i++)
		if (sdp_stream_start(&st[i])) {
			TH_LOG("pthread_create failed");
			return false;
		}
	for (i = 0; i < n; i++) {
		if (afib_join(st[i].th, ms)) {
			TH_LOG("stream %d (%s) stuck after %zu of %zu bytes",
			       i, st[i].tx ? "writer" : "reader", st[i].done,
			       st[i].total);
			/* The threads use @st: never return. */
			abort();
		}
	}
	for (i = 0; i < n; i++) {
		if (!stream_ok(_metadata, &st[i], st[i].total)) {
			TH_LOG("in stream %d", i);
			ok = false;
		}
		if (!st[i].tx && st[i].shut && !st[i].eof) {
			TH_LOG("stream %d: no EOF at the end", i);
			ok = false;
		}
	}
	return ok;
}

#define STREAM(f, t, s, tot, ch) \
	{ .fd = (f), .tx = (t), .seed = (s), .total = (tot), .chunk = (ch), \
	  .rnd = (s) * 7 + (t), .shut = true }

/* Random sizes from 1 byte to 300 KiB, one direction. */
TEST_F_TIMEOUT(conn, random_sizes, afib_tmo(120))
{
	struct sdp_stream st[] = {
		STREAM(self->cfd, true, 110, 2 << 20, 300 << 10),
		STREAM(self->sfd, false, 110, 2 << 20, 300 << 10),
	};

	EXPECT_TRUE(run_streams(_metadata, st, 2, afib_tmo(100) * 1000));
	EXPECT_EQ(st[0].sum, st[1].sum);
}

/* Both directions at once. */
TEST_F_TIMEOUT(conn, bidir, afib_tmo(120))
{
	struct sdp_stream st[] = {
		STREAM(self->cfd, true, 111, 1 << 20, 100 << 10),
		STREAM(self->sfd, false, 111, 1 << 20, 100 << 10),
		STREAM(self->sfd, true, 112, 1 << 20, 100 << 10),
		STREAM(self->cfd, false, 112, 1 << 20, 100 << 10),
	};

	EXPECT_TRUE(run_streams(_metadata, st, 4, afib_tmo(100) * 1000));
	EXPECT_EQ(st[0].sum, st[1].sum);
	EXPECT_EQ(st[2].sum, st[3].sum);
}

/* Eight connections at once, alternately in both directions. */
TEST_F_TIMEOUT(conn, parallel, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sdp_stream st[16];
	int c[8], s[8], i;
	const char *step = "";

	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, sdp_pair(tp, &c[i], &s[i], NULL, NULL, 0, &step))
			TH_LOG("pair %d: %s: %s", i, step, strerror(errno));
		st[2 * i] = (struct sdp_stream)
			STREAM(i & 1 ? s[i] : c[i], true, 120 + i, 256 << 10,
			       64 << 10);
		st[2 * i + 1] = (struct sdp_stream)
			STREAM(i & 1 ? c[i] : s[i], false, 120 + i, 256 << 10,
			       64 << 10);
	}
	EXPECT_TRUE(run_streams(_metadata, st, 16, afib_tmo(100) * 1000));
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(st[2 * i].sum, st[2 * i + 1].sum);
		close(c[i]);
		close(s[i]);
	}
}

/* A fast writer against a reader that sleeps between small reads. */
TEST_F_TIMEOUT(conn, slow_reader, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	const char *step = "";
	int cfd, sfd;

	ASSERT_EQ(0, sdp_pair(tp, &cfd, &sfd, NULL, NULL, SMALL_BUF, &step))
		TH_LOG("%s: %s", step, strerror(errno));
	{
		struct sdp_stream st[] = {
			STREAM(cfd, true, 130, 512 << 10, 64 << 10),
			STREAM(sfd, false, 130, 512 << 10, 8 << 10),
		};

		st[1].sleep_us = 2000;
		EXPECT_TRUE(run_streams(_metadata, st, 2,
					afib_tmo(100) * 1000));
		EXPECT_EQ(st[0].sum, st[1].sum);
	}
	close(cfd);
	close(sfd);
}

static bool big(void)
{
	return !strcmp(afib_env("SDP_BIG", "0"), "1");
}

/*
 * One 1 MiB send() against MSG_WAITALL reads; with SDP_BIG=1, 64 MiB in
 * 4 MiB sends.
 */
TEST_F_TIMEOUT(conn, big, big() ? afib_tmo(900) : afib_tmo(60))
{
	size_t chunk = big() ? 4 << 20 : 1 << 20;
	size_t total = big() ? 64 << 20 : 1 << 20;
	struct sdp_stream w = { .fd = self->cfd, .tx = true, .seed = 140,
				.total = total, .chunk = chunk,
				.fixed = true, .shut = true };
	char *buf = malloc(chunk);
	size_t done = 0;
	uint32_t sum = 1;
	long bad = -1, b;
	ssize_t n = 0;
	char c;

	ASSERT_NE(NULL, buf);
	TH_LOG("%zu MiB in sends of %zu MiB", total >> 20, chunk >> 20);
	ASSERT_EQ(0, sdp_stream_start(&w));
	while (done < total) {
		n = recv(self->sfd, buf, chunk, MSG_WAITALL);
		if (n <= 0)
			break;
		b = sdp_check_at(buf, n, 140, done);
		if (bad < 0 && b >= 0)
			bad = done + b;
		sdp_csum(&sum, buf, n);
		done += n;
		/* Only the last piece may be short, at EOF. */
		if ((size_t)n != chunk)
			break;
	}
	EXPECT_EQ(total, done) TH_LOG("recv: %zd: %s", n, strerror(errno));
	EXPECT_EQ(-1, bad);
	EXPECT_EQ(0, recv(self->sfd, &c, 1, 0));
	ASSERT_EQ(0, afib_join(w.th, AFIB_WAIT_MS));
	EXPECT_TRUE(stream_ok(_metadata, &w, total));
	EXPECT_EQ(w.sum, sum);
	free(buf);
}

TEST_HARNESS_MAIN
