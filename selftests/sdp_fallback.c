// SPDX-License-Identifier: GPL-2.0
/*
 * SDP's fallback to kernel TCP (sdp/sdp_fallback.c, sdp(7) "FALLBACK TO
 * TCP"), over every SDP transport variant (27 and 28, IPv4-mapped).
 *
 * fb      connect() with AFIB_SDP_FALLBACK_CONNECT to a port where only a
 *         plain TCP server listens: the SDP attempt is refused, the socket
 *         connects over TCP, carries data both ways (checksummed), says
 *         AF_INET/AF_INET6 in SO_DOMAIN, shows in /proc/net/sdp with
 *         tcp=1 and counts in /proc/net/sdp_stat.  Non-blocking, with an
 *         epoll and a poll() registered before the fallback: EPOLLOUT
 *         and SO_ERROR 0.  Without the option (or the sysctl) connect()
 *         is refused as before; with an SDP listener the connection is
 *         SDP.  Options set before connect() carry over.  A peer with
 *         neither: TCP's ECONNREFUSED, blocking or not.  A destination on
 *         a netdev without RDMA device still connects.  A destination with
 *         no route: ENETUNREACH at once, also from a bound socket.
 *
 * silent  A peer that has TCP but never answers SDP (a network namespace
 *         behind a veth pair; rxe's UDP socket is not in it): connect()
 *         goes over TCP once net.sdp.fallback_timeout_ms is over, blocking
 *         or not; without the option it times out as TCP does.
 *
 *         A listener with AFIB_SDP_FALLBACK_ACCEPT accepts SDP and plain
 *         TCP clients on one port, with blocking and non-blocking
 *         accept(), poll() and epoll; a TCP port already taken fails
 *         listen() with EADDRINUSE; unaccepted TCP clients are reset when
 *         it closes.  Bad option values get EINVAL or EFAULT.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include "afib_lib.h"
#include "sdp_lib.h"

#define FB_SYSCTL	"/proc/sys/net/sdp/fallback"
#define NORDMA_DEV	"fbnordma0"
#define NORDMA_IP4	"198.18.0.1"
#define NORDMA_IP6	"2001:db8:2::1"
/* Nothing routes there in the test VM. */
#define NOROUTE_IP4	"100.64.0.77"
#define NOROUTE_IP6	"2001:db8:99::77"

static int read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int write_sysctl(const char *path, int v)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%d\n", v) > 0 ? 0 : -1;
	if (fclose(f))
		ret = -1;
	return ret;
}

/* A counter of /proc/net/sdp_stat, -1 if missing. */
static long sdp_stat(const char *name)
{
	FILE *f = fopen("/proc/net/sdp_stat", "r");
	char key[64];
	long v, ret = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, name))
			ret = v;
	fclose(f);
	return ret;
}

/* The "tcp" column of @fd's line in /proc/net/sdp, -1 if none. */
static int proc_tcp_col(int fd)
{
	char line[512], *tok, *save, *last;
	unsigned long ino;
	struct stat st;
	int ret = -1, i;
	FILE *f;

	if (fstat(fd, &st))
		return -1;
	f = fopen("/proc/net/sdp", "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		goto out;
	while (fgets(line, sizeof(line), f)) {
		ino = 0;
		last = NULL;
		for (i = 0, tok = strtok_r(line, " \n", &save); tok;
		     i++, tok = strtok_r(NULL, " \n", &save)) {
			if (i == 9)
				ino = strtoul(tok, NULL, 10);
			last = tok;
		}
		if (ino == st.st_ino && last) {
			ret = atoi(last);
			break;
		}
	}
out:
	fclose(f);
	return ret;
}

/* Plain TCP listener on the test address of @tp; port in *@port. */
static int tcp_listener(const struct sdp_tp *tp, uint16_t port,
			uint16_t *got)
{
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, port, &ss);
	int fd = socket(tp->af, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (void *)&ss, len) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	if (got)
		*got = afib_getport(fd);
	return fd;
}

/* A plain TCP client of @tp's address family: sdp_connect() over TCP. */
static int tcp_connect(const struct sdp_tp *tp, uint16_t port)
{
	struct sdp_tp tcp = *tp;

	tcp.domain = tp->af;
	tcp.proto = 0;
	return sdp_connect(&tcp, port, 0);
}

/* 256 KiB each way, checksummed; both ends stay open. */
static void exchange(struct __test_metadata *_metadata, int a, int b)
{
	ASSERT_TRUE(sdp_xfer(_metadata, a, b, 256 * 1024, 11));
	ASSERT_TRUE(sdp_xfer(_metadata, b, a, 256 * 1024, 12));
}

static int sock_domain(int fd)
{
	return sdp_getint(fd, SOL_SOCKET, SO_DOMAIN);
}

/* The SDP transports; FIXTURE_VARIANT(f) must be { struct sdp_tp tp; }. */
#define FB_VARIANTS(f)							\
	SDP_VARIANT(f, sdp4, AF_INET_SDP, 0, AF_INET, false);		\
	SDP_VARIANT(f, sdp6, AF_INET6_SDP, 0, AF_INET6, false);		\
	SDP_VARIANT(f, sdp6_mapped, AF_INET6_SDP, 0, AF_INET6, true)

FIXTURE(fb) {
	int fd, lfd, sfd, cfd;
	int saved;
};

FIXTURE_VARIANT(fb) {
	struct sdp_tp tp;
};

FB_VARIANTS(fb);

FIXTURE_SETUP(fb)
{
	signal(SIGPIPE, SIG_IGN);
	self->fd = self->lfd = self->sfd = self->cfd = -1;
	self->saved = read_sysctl(FB_SYSCTL);
	ASSERT_LE(0, self->saved) TH_LOG("no %s", FB_SYSCTL);
	ASSERT_EQ(0, write_sysctl(FB_SYSCTL, 0));
}

FIXTURE_TEARDOWN(fb)
{
	afib_close(&self->fd);
	afib_close(&self->lfd);
	afib_close(&self->sfd);
	afib_close(&self->cfd);
	if (self->saved >= 0)
		write_sysctl(FB_SYSCTL, self->saved);
}

static int fb_socket(const struct sdp_tp *tp, int flags, int mode)
{
	int fd = sdp_socket(tp, flags);

	if (fd >= 0 && mode >= 0 &&
	    sdp_setint(fd, SOL_AFIB, AFIB_SDP_FALLBACK, mode)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F_TIMEOUT(fb, connect_tcp_only, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss, a, b;
	socklen_t len, la = sizeof(a), lb = sizeof(b);
	long before = sdp_stat("FallbackConnect");
	char cong[16] = "";
	socklen_t lc = sizeof(cong);
	uint16_t port;
	int64_t t0;

	ASSERT_LE(0, before);
	self->lfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	self->fd = fb_socket(tp, 0, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(AFIB_SDP_FALLBACK_CONNECT,
		  sdp_getint(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK));
	EXPECT_EQ(tp->domain, sock_domain(self->fd));
	len = sdp_addr(tp, port, &ss);
	t0 = afib_now_ms();
	ASSERT_EQ(0, connect(self->fd, (void *)&ss, len))
		TH_LOG("connect: %s", strerror(errno));
	TH_LOG("connected over TCP after %lld ms",
	       (long long)(afib_now_ms() - t0));
	self->sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->sfd);

	/* It is a TCP socket now. */
	EXPECT_EQ(tp->af, sock_domain(self->fd));
	EXPECT_EQ(IPPROTO_TCP, sdp_getint(self->fd, SOL_SOCKET, SO_PROTOCOL));
	EXPECT_EQ(0, getsockopt(self->fd, SOL_TCP, TCP_CONGESTION, cong, &lc));
	EXPECT_STRNE("sdp", cong);
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(0, getsockname(self->fd, (void *)&a, &la));
	EXPECT_EQ(0, getpeername(self->sfd, (void *)&b, &lb));
	EXPECT_TRUE(afib_same_addr(&a, &b))
		TH_LOG("%s vs %s", afib_ntop(&a), afib_ntop(&b));
	EXPECT_EQ(0, getpeername(self->fd, (void *)&a, &la));
	EXPECT_EQ(port, afib_port_of(&a));
	EXPECT_EQ(1, proc_tcp_col(self->fd));
	EXPECT_EQ(before + 1, sdp_stat("FallbackConnect"));

	exchange(_metadata, self->fd, self->sfd);
	/* Orderly close both ways, as TCP. */
	EXPECT_EQ(0, shutdown(self->fd, SHUT_WR));
	EXPECT_EQ(0, sdp_recv_all(self->sfd, cong, 1, afib_tmo(10) * 1000));
	afib_close(&self->sfd);
	EXPECT_EQ(0, recv(self->fd, cong, 1, 0));
}

TEST_F_TIMEOUT(fb, connect_nonblock_epoll, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLET };
	struct sockaddr_storage ss;
	uint16_t port;
	socklen_t len;
	int ep, n, rev;

	self->lfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	self->fd = fb_socket(tp, SOCK_NONBLOCK, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	/* Registered on the SDP socket, before it becomes TCP. */
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->fd, &ev));
	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(EINPROGRESS, errno);
	n = epoll_wait(ep, &ev, 1, afib_tmo(30) * 1000);
	EXPECT_EQ(1, n);
	EXPECT_TRUE(ev.events & EPOLLOUT) TH_LOG("events %#x", ev.events);
	EXPECT_FALSE(ev.events & EPOLLERR) TH_LOG("events %#x", ev.events);
	close(ep);
	rev = afib_poll1(self->fd, POLLOUT, afib_tmo(10) * 1000);
	EXPECT_EQ(POLLOUT, rev & (POLLOUT | POLLERR | POLLHUP));
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	/* connect() again answers as TCP's does: done once, then EISCONN. */
	EXPECT_EQ(0, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(EISCONN, errno);
	EXPECT_EQ(tp->af, sock_domain(self->fd));
	self->sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->sfd);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, 0));
	exchange(_metadata, self->fd, self->sfd);
}

/* A poll() already waiting on the SDP socket hears of the TCP connection. */
struct poller {
	int fd;
	int rev;
};

static void *poll_fn(void *arg)
{
	struct poller *p = arg;

	p->rev = afib_poll1(p->fd, POLLOUT, afib_tmo(30) * 1000);
	return NULL;
}

TEST_F_TIMEOUT(fb, connect_nonblock_poll_waiting, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	struct poller p = { .rev = -2 };
	pthread_t th;
	uint16_t port;
	socklen_t len;

	self->lfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	self->fd = fb_socket(tp, SOCK_NONBLOCK, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(EINPROGRESS, errno);
	p.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, poll_fn, &p));
	ASSERT_EQ(0, afib_join(th, afib_tmo(40) * 1000));
	EXPECT_TRUE(p.rev > 0 && (p.rev & POLLOUT)) TH_LOG("rev %#x", p.rev);
	EXPECT_FALSE(p.rev & POLLERR) TH_LOG("rev %#x", p.rev);
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(tp->af, sock_domain(self->fd));
}

TEST_F_TIMEOUT(fb, off_by_default, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	uint16_t port;
	socklen_t len;

	self->lfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	self->fd = sdp_socket(tp, 0);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK));
	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(ECONNREFUSED, errno);
	EXPECT_EQ(tp->domain, sock_domain(self->fd));
	EXPECT_EQ(0, proc_tcp_col(self->fd));
}

TEST_F_TIMEOUT(fb, sysctl_default, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	uint16_t port;
	socklen_t len;

	EXPECT_EQ(-1, write_sysctl(FB_SYSCTL, 4));
	EXPECT_EQ(0, read_sysctl(FB_SYSCTL));
	ASSERT_EQ(0, write_sysctl(FB_SYSCTL, AFIB_SDP_FALLBACK_CONNECT));
	self->lfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	self->fd = sdp_socket(tp, 0);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, write_sysctl(FB_SYSCTL, 0));
	/* The socket took the default when it was made. */
	EXPECT_EQ(AFIB_SDP_FALLBACK_CONNECT,
		  sdp_getint(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK));
	len = sdp_addr(tp, port, &ss);
	ASSERT_EQ(0, connect(self->fd, (void *)&ss, len))
		TH_LOG("connect: %s", strerror(errno));
	EXPECT_EQ(tp->af, sock_domain(self->fd));
}

TEST_F_TIMEOUT(fb, sdp_preferred, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	long before = sdp_stat("FallbackConnect");
	struct sockaddr_storage ss;
	uint16_t port;
	socklen_t len;

	self->lfd = sdp_listener(tp, 4, 0, &port);
	ASSERT_LE(0, self->lfd);
	self->fd = fb_socket(tp, 0, AFIB_SDP_FALLBACK_ALL);
	ASSERT_LE(0, self->fd);
	len = sdp_addr(tp, port, &ss);
	ASSERT_EQ(0, connect(self->fd, (void *)&ss, len))
		TH_LOG("connect: %s", strerror(errno));
	self->sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->sfd);
	EXPECT_EQ(tp->domain, sock_domain(self->fd));
	EXPECT_EQ(0, proc_tcp_col(self->fd));
	EXPECT_EQ(before, sdp_stat("FallbackConnect"));
	exchange(_metadata, self->fd, self->sfd);
}

TEST_F_TIMEOUT(fb, options_carried, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct timeval tv = { .tv_sec = 7 }, got;
	socklen_t lt = sizeof(got);
	struct sockaddr_storage ss;
	uint16_t port;
	socklen_t len;

	self->lfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	self->fd = fb_socket(tp, 0, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, sdp_setint(self->fd, SOL_TCP, TCP_NODELAY, 1));
	ASSERT_EQ(0, sdp_setint(self->fd, SOL_SOCKET, SO_KEEPALIVE, 1));
	ASSERT_EQ(0, sdp_setint(self->fd, SOL_TCP, TCP_KEEPIDLE, 77));
	ASSERT_EQ(0, sdp_setint(self->fd, SOL_TCP, TCP_KEEPCNT, 3));
	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	len = sdp_addr(tp, port, &ss);
	ASSERT_EQ(0, connect(self->fd, (void *)&ss, len))
		TH_LOG("connect: %s", strerror(errno));
	ASSERT_EQ(tp->af, sock_domain(self->fd));
	EXPECT_EQ(1, sdp_getint(self->fd, SOL_TCP, TCP_NODELAY));
	EXPECT_EQ(1, sdp_getint(self->fd, SOL_SOCKET, SO_KEEPALIVE));
	EXPECT_EQ(77, sdp_getint(self->fd, SOL_TCP, TCP_KEEPIDLE));
	EXPECT_EQ(3, sdp_getint(self->fd, SOL_TCP, TCP_KEEPCNT));
	EXPECT_EQ(0, getsockopt(self->fd, SOL_SOCKET, SO_RCVTIMEO, &got, &lt));
	EXPECT_EQ(7, got.tv_sec);
}

static volatile sig_atomic_t sigio_count;

static void on_sigio(int sig __attribute__((unused)))
{
	sigio_count++;
}

/*
 * O_ASYNC set before the fallback goes with the descriptor: the TCP
 * socket's events raise SIGIO, and close() finds the registration
 * (the SDP socket once said "fasync list not empty" and leaked it).
 */
TEST_F_TIMEOUT(fb, connect_o_async, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	/* SIGIO for the connect may come while accept() blocks: restart it. */
	struct sigaction sa = { .sa_handler = on_sigio,
				.sa_flags = SA_RESTART }, old;
	struct sockaddr_storage ss;
	int64_t end;
	uint16_t port;
	socklen_t len;

	ASSERT_EQ(0, sigaction(SIGIO, &sa, &old));
	self->lfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	self->fd = fb_socket(tp, SOCK_NONBLOCK, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, fcntl(self->fd, F_SETOWN, getpid()));
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, O_NONBLOCK | O_ASYNC));
	len = sdp_addr(tp, port, &ss);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(EINPROGRESS, errno);
	EXPECT_EQ(POLLOUT, afib_poll1(self->fd, POLLOUT, afib_tmo(30) * 1000));
	EXPECT_EQ(tp->af, sock_domain(self->fd));
	self->sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->sfd);
	sigio_count = 0;
	ASSERT_EQ(1, send(self->sfd, "x", 1, 0));
	end = afib_now_ms() + afib_tmo(10) * 1000;
	while (!sigio_count && afib_now_ms() < end)
		afib_msleep(10);
	EXPECT_LT(0, sigio_count) TH_LOG("no SIGIO for TCP's data");
	EXPECT_EQ(O_ASYNC, fcntl(self->fd, F_GETFL) & O_ASYNC);
	afib_close(&self->fd);
	sigaction(SIGIO, &old, NULL);
}

TEST_F_TIMEOUT(fb, refused_by_tcp_too, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	uint16_t port;
	socklen_t len;
	int rev;

	/* A port nobody listens on: take one and let it go. */
	self->lfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	afib_close(&self->lfd);
	len = sdp_addr(tp, port, &ss);

	self->fd = fb_socket(tp, 0, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(ECONNREFUSED, errno);
	afib_close(&self->fd);

	self->fd = fb_socket(tp, SOCK_NONBLOCK, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(EINPROGRESS, errno);
	rev = afib_poll1(self->fd, POLLOUT, afib_tmo(30) * 1000);
	EXPECT_TRUE(rev > 0 && (rev & POLLERR)) TH_LOG("rev %#x", rev);
	EXPECT_EQ(ECONNREFUSED, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
}

static void nordma_undo(void)
{
	afib_run_cmd("ip link delete " NORDMA_DEV " 2>/dev/null",
		     afib_tmo(10) * 1000);
}

/* A destination whose netdev has no RDMA device: rdma_cm cannot go. */
TEST_F_TIMEOUT(fb, no_rdma_device, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	int64_t t0, dt;
	uint16_t port;
	socklen_t len;
	int fd;

	ASSERT_EQ(0, geteuid());
	nordma_undo();
	ASSERT_EQ(0, afib_run_cmd(
		"ip link add " NORDMA_DEV " type dummy"
		" && ip addr add " NORDMA_IP4 "/24 dev " NORDMA_DEV
		" && ip addr add " NORDMA_IP6 "/64 dev " NORDMA_DEV " nodad"
		" && ip link set " NORDMA_DEV " up", afib_tmo(10) * 1000));
	len = sdp_addr_host(tp, NORDMA_IP4, NORDMA_IP6, 0, &ss);
	fd = socket(tp->af, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind(fd, (void *)&ss, len));
	ASSERT_EQ(0, listen(fd, 4));
	self->lfd = fd;
	port = afib_getport(fd);
	len = sdp_addr_host(tp, NORDMA_IP4, NORDMA_IP6, port, &ss);

	/* Without fallback SDP has no way there. */
	self->fd = sdp_socket(tp, 0);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	TH_LOG("SDP alone: %s", strerror(errno));
	afib_close(&self->fd);

	self->fd = fb_socket(tp, 0, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	t0 = afib_now_ms();
	EXPECT_EQ(0, connect(self->fd, (void *)&ss, len))
		TH_LOG("connect: %s", strerror(errno));
	dt = afib_now_ms() - t0;
	TH_LOG("fell back after %lld ms", (long long)dt);
	EXPECT_GT(afib_tmo(15) * 1000, dt);
	EXPECT_EQ(tp->af, sock_domain(self->fd));
	self->sfd = accept(self->lfd, NULL, NULL);
	EXPECT_LE(0, self->sfd);
	if (self->sfd >= 0)
		exchange(_metadata, self->fd, self->sfd);
	afib_close(&self->fd);
	afib_close(&self->sfd);
	afib_close(&self->lfd);
	nordma_undo();
}

/*
 * Bound to a local address, to a destination with no route: ENETUNREACH
 * at once, as TCP (SDP alone once waited for ARP on the bound netdev and
 * then timed out), and again on the same socket.
 */
TEST_F_TIMEOUT(fb, noroute_bound, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_storage ss, src;
	socklen_t len, slen;
	int i;

	self->fd = fb_socket(tp, 0, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	/* A connect() that waits fails the case in seconds. */
	ASSERT_EQ(0, setsockopt(self->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	slen = sdp_addr(tp, 0, &src);
	ASSERT_EQ(0, bind(self->fd, (void *)&src, slen));
	len = sdp_addr_host(tp, NOROUTE_IP4, NOROUTE_IP6, 80, &ss);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
		EXPECT_EQ(ENETUNREACH, errno) TH_LOG("try %d: %s", i,
						     strerror(errno));
	}
	EXPECT_EQ(tp->domain, sock_domain(self->fd));
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
}

/* ---- a peer with TCP but no SDP path --------------------------------- */

#define FB_TMO_SYSCTL	"/proc/sys/net/sdp/fallback_timeout_ms"
#define SILENT_PORT	7360
#define SILENT_TMO_MS	1500

FIXTURE(silent) {
	int fd, lfd, sfd;
	int saved, saved_tmo;
};

FIXTURE_VARIANT(silent) {
	struct sdp_tp tp;
};

FB_VARIANTS(silent);

FIXTURE_SETUP(silent)
{
	signal(SIGPIPE, SIG_IGN);
	self->fd = self->lfd = self->sfd = -1;
	self->saved = read_sysctl(FB_SYSCTL);
	self->saved_tmo = read_sysctl(FB_TMO_SYSCTL);
	ASSERT_LE(0, self->saved);
	ASSERT_LE(0, self->saved_tmo) TH_LOG("no %s", FB_TMO_SYSCTL);
	ASSERT_EQ(0, write_sysctl(FB_SYSCTL, 0));
	ASSERT_EQ(0, write_sysctl(FB_TMO_SYSCTL, SILENT_TMO_MS));
	ASSERT_EQ(0, afib_silent_setup()) TH_LOG("no namespace");
	self->lfd = afib_silent_listener(variant->tp.af, SILENT_PORT);
	ASSERT_LE(0, self->lfd) TH_LOG("listener: %s", strerror(errno));
}

FIXTURE_TEARDOWN(silent)
{
	afib_close(&self->fd);
	afib_close(&self->sfd);
	afib_close(&self->lfd);
	if (self->saved >= 0)
		write_sysctl(FB_SYSCTL, self->saved);
	if (self->saved_tmo >= 0)
		write_sysctl(FB_TMO_SYSCTL, self->saved_tmo);
	afib_silent_undo();
}

static socklen_t silent_addr(const struct sdp_tp *tp,
			     struct sockaddr_storage *ss)
{
	return sdp_addr_host(tp, AFIB_SILENT_IP4, AFIB_SILENT_IP6,
			     SILENT_PORT, ss);
}

/* Connected over TCP once the SDP attempt had its fallback_timeout_ms. */
static void silent_check(struct __test_metadata *_metadata,
			 FIXTURE_DATA(silent) *self, const struct sdp_tp *tp,
			 int64_t dt)
{
	TH_LOG("fell back after %lld ms", (long long)dt);
	EXPECT_LE(SILENT_TMO_MS - 50, dt);
	EXPECT_GT(SILENT_TMO_MS + afib_tmo(5) * 1000, dt);
	EXPECT_EQ(tp->af, sock_domain(self->fd));
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(1, proc_tcp_col(self->fd));
	self->sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->sfd) TH_LOG("accept: %s", strerror(errno));
	exchange(_metadata, self->fd, self->sfd);
}

TEST_F_TIMEOUT(silent, connect, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	long before = sdp_stat("FallbackConnect");
	struct sockaddr_storage ss;
	socklen_t len = silent_addr(tp, &ss);
	int64_t t0;

	self->fd = fb_socket(tp, 0, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	t0 = afib_now_ms();
	ASSERT_EQ(0, connect(self->fd, (void *)&ss, len))
		TH_LOG("connect: %s", strerror(errno));
	silent_check(_metadata, self, tp, afib_now_ms() - t0);
	EXPECT_EQ(before + 1, sdp_stat("FallbackConnect"));
}

TEST_F_TIMEOUT(silent, connect_nonblock, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len = silent_addr(tp, &ss);
	int64_t t0;
	int rev;

	self->fd = fb_socket(tp, SOCK_NONBLOCK, AFIB_SDP_FALLBACK_CONNECT);
	ASSERT_LE(0, self->fd);
	t0 = afib_now_ms();
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	ASSERT_EQ(EINPROGRESS, errno) TH_LOG("%s", strerror(errno));
	/* Nothing to report while SDP still waits. */
	EXPECT_EQ(0, afib_poll1(self->fd, POLLOUT, SILENT_TMO_MS / 2));
	rev = afib_poll1(self->fd, POLLOUT, afib_tmo(10) * 1000);
	EXPECT_EQ(POLLOUT, rev & (POLLOUT | POLLERR | POLLHUP))
		TH_LOG("revents %#x", rev);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, 0));
	silent_check(_metadata, self, tp, afib_now_ms() - t0);
}

/*
 * Without the fallback the timeout is TCP's (TCP_SYNCNT 1: 3 s), not
 * fallback_timeout_ms: SDP never gets through, and TCP is not tried.
 */
TEST_F_TIMEOUT(silent, no_fallback, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len = silent_addr(tp, &ss);
	int64_t t0, dt;
	int rev;

	self->fd = sdp_socket(tp, SOCK_NONBLOCK);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, sdp_setint(self->fd, IPPROTO_TCP, TCP_SYNCNT, 1));
	t0 = afib_now_ms();
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	ASSERT_EQ(EINPROGRESS, errno) TH_LOG("%s", strerror(errno));
	rev = afib_poll1(self->fd, POLLOUT, afib_tmo(15) * 1000);
	dt = afib_now_ms() - t0;
	EXPECT_TRUE(rev > 0 && (rev & POLLERR)) TH_LOG("revents %#x", rev);
	EXPECT_LE(2500, dt) TH_LOG("gave up after %lld ms", (long long)dt);
	EXPECT_EQ(ETIMEDOUT, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	EXPECT_EQ(tp->domain, sock_domain(self->fd));
	EXPECT_EQ(0, proc_tcp_col(self->fd));
}

/* ---- listeners that accept TCP too ----------------------------------- */

static int both_listener(const struct sdp_tp *tp, int flags, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, 0, &ss);
	int fd = fb_socket(tp, flags, AFIB_SDP_FALLBACK_ACCEPT);

	if (fd < 0)
		return -1;
	if (bind(fd, (void *)&ss, len) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	*port = afib_getport(fd);
	return fd;
}

TEST_F_TIMEOUT(fb, accept_both, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	long before = sdp_stat("FallbackAccept");
	uint16_t port;
	int sfd2, cfd2;

	self->lfd = both_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd) TH_LOG("listener: %s", strerror(errno));
	EXPECT_EQ(2, proc_tcp_col(self->lfd));

	/* A plain TCP client... */
	self->cfd = tcp_connect(tp, port);
	ASSERT_LE(0, self->cfd) TH_LOG("TCP connect: %s", strerror(errno));
	self->sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->sfd) TH_LOG("accept: %s", strerror(errno));
	EXPECT_EQ(tp->af, sock_domain(self->sfd));
	EXPECT_EQ(1, proc_tcp_col(self->sfd));
	EXPECT_EQ(before + 1, sdp_stat("FallbackAccept"));
	exchange(_metadata, self->cfd, self->sfd);

	/* ...and an SDP one, on the same port. */
	cfd2 = sdp_connect(tp, port, 0);
	ASSERT_LE(0, cfd2) TH_LOG("SDP connect: %s", strerror(errno));
	sfd2 = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, sfd2);
	EXPECT_EQ(tp->domain, sock_domain(sfd2));
	EXPECT_EQ(0, proc_tcp_col(sfd2));
	exchange(_metadata, cfd2, sfd2);
	close(sfd2);
	close(cfd2);
}

struct acceptor {
	int lfd;
	int fd;
	int err;
};

static void *accept_fn(void *arg)
{
	struct acceptor *a = arg;

	a->fd = accept(a->lfd, NULL, NULL);
	a->err = errno;
	return NULL;
}

TEST_F_TIMEOUT(fb, accept_blocking_wakes, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	struct acceptor a = { .fd = -2 };
	pthread_t th;
	uint16_t port;

	self->lfd = both_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	a.lfd = self->lfd;
	ASSERT_EQ(0, pthread_create(&th, NULL, accept_fn, &a));
	afib_msleep(300);
	self->cfd = tcp_connect(tp, port);
	ASSERT_LE(0, self->cfd);
	ASSERT_EQ(0, afib_join(th, afib_tmo(30) * 1000));
	ASSERT_LE(0, a.fd) TH_LOG("accept: %s", strerror(a.err));
	self->sfd = a.fd;
	EXPECT_EQ(tp->af, sock_domain(self->sfd));
	exchange(_metadata, self->cfd, self->sfd);
}

TEST_F_TIMEOUT(fb, accept_nonblock_poll_epoll, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	struct epoll_event ev = { .events = EPOLLIN };
	uint16_t port;
	int ep, rev;

	self->lfd = both_listener(tp, SOCK_NONBLOCK, &port);
	ASSERT_LE(0, self->lfd);
	EXPECT_EQ(-1, accept(self->lfd, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(0, afib_poll1(self->lfd, POLLIN, 0));
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->lfd, &ev));

	self->cfd = tcp_connect(tp, port);
	ASSERT_LE(0, self->cfd);
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, afib_tmo(30) * 1000));
	EXPECT_TRUE(ev.events & EPOLLIN);
	rev = afib_poll1(self->lfd, POLLIN, afib_tmo(10) * 1000);
	EXPECT_TRUE(rev > 0 && (rev & POLLIN)) TH_LOG("rev %#x", rev);
	self->sfd = accept4(self->lfd, NULL, NULL, SOCK_NONBLOCK);
	ASSERT_LE(0, self->sfd) TH_LOG("accept: %s", strerror(errno));
	EXPECT_EQ(O_NONBLOCK, fcntl(self->sfd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(-1, accept(self->lfd, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);

	/* The SDP side still works through the same epoll. */
	self->fd = sdp_socket(tp, 0);
	ASSERT_LE(0, self->fd);
	{
		struct sockaddr_storage ss;
		socklen_t len = sdp_addr(tp, port, &ss);
		int s;

		ASSERT_EQ(0, connect(self->fd, (void *)&ss, len));
		EXPECT_EQ(1, epoll_wait(ep, &ev, 1, afib_tmo(30) * 1000));
		s = accept(self->lfd, NULL, NULL);
		ASSERT_LE(0, s);
		EXPECT_EQ(tp->domain, sock_domain(s));
		close(s);
	}
	close(ep);
	ASSERT_EQ(0, fcntl(self->sfd, F_SETFL, 0));
	exchange(_metadata, self->cfd, self->sfd);
}

TEST_F_TIMEOUT(fb, accept_port_taken, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	uint16_t port;
	socklen_t len;

	self->sfd = tcp_listener(tp, 0, &port);
	ASSERT_LE(0, self->sfd);
	self->lfd = fb_socket(tp, 0, AFIB_SDP_FALLBACK_ACCEPT);
	ASSERT_LE(0, self->lfd);
	len = sdp_addr(tp, port, &ss);
	ASSERT_EQ(0, bind(self->lfd, (void *)&ss, len));
	EXPECT_EQ(-1, listen(self->lfd, 4));
	EXPECT_EQ(EADDRINUSE, errno);
	/* Not listening over SDP either. */
	self->fd = sdp_socket(tp, 0);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(ECONNREFUSED, errno);
}

TEST_F_TIMEOUT(fb, close_with_unaccepted, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	uint16_t port;
	char c;
	int i, fds[3];

	self->lfd = both_listener(tp, 0, &port);
	ASSERT_LE(0, self->lfd);
	for (i = 0; i < 3; i++) {
		fds[i] = tcp_connect(tp, port);
		ASSERT_LE(0, fds[i]);
	}
	afib_msleep(100);
	afib_close(&self->lfd);
	for (i = 0; i < 3; i++) {
		ssize_t n;

		ASSERT_TRUE(afib_poll1(fds[i], POLLIN, afib_tmo(10) * 1000) > 0);
		n = recv(fds[i], &c, 1, 0);
		EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET))
			TH_LOG("recv %zd %s", n, strerror(errno));
		close(fds[i]);
	}
	/* The port is free for TCP again. */
	self->sfd = tcp_listener(tp, port, NULL);
	EXPECT_LE(0, self->sfd) TH_LOG("%s", strerror(errno));
}

TEST_F(fb, bad_option)
{
	const struct sdp_tp *tp = &variant->tp;
	short s = 1;
	int v;

	self->fd = sdp_socket(tp, 0);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(-1, sdp_setint(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sdp_setint(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK, -1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK, &s,
				 sizeof(s)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK,
				 afib_bad_ptr(), sizeof(int)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK));
	{
		socklen_t l = 2;

		EXPECT_EQ(-1, getsockopt(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK,
					 &v, &l));
		EXPECT_EQ(EINVAL, errno);
	}
	EXPECT_EQ(0, sdp_setint(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK,
				AFIB_SDP_FALLBACK_ALL));
	EXPECT_EQ(AFIB_SDP_FALLBACK_ALL,
		  sdp_getint(self->fd, SOL_AFIB, AFIB_SDP_FALLBACK));
}

TEST_HARNESS_MAIN
