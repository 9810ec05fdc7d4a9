/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the SDP selftests (sdp_tcp.c).
 *
 * A struct sdp_tp describes one transport: the socket() family and
 * protocol, and the address family the program uses with it.  Every fixture
 * of sdp_tcp.c is run once per transport (SDP_VARIANTS()), so that each case
 * runs unchanged over kernel TCP and over SDP:
 *
 *   tcp4           socket(AF_INET, SOCK_STREAM, 0)          sockaddr_in
 *   tcp6           socket(AF_INET6, SOCK_STREAM, 0)         sockaddr_in6
 *   tcp6_mapped    socket(AF_INET6, SOCK_STREAM, 0)         ::ffff:IPv4
 *   sdp4           socket(AF_INET_SDP, SOCK_STREAM, 0)      sockaddr_in
 *   sdp4_tcpproto  socket(AF_INET_SDP, SOCK_STREAM, 6)      sockaddr_in
 *   sdp6           socket(AF_INET6_SDP, SOCK_STREAM, 0)     sockaddr_in6
 *   sdp6_mapped    socket(AF_INET6_SDP, SOCK_STREAM, 0)     ::ffff:IPv4
 *
 * tcp6_mapped is the TCP reference for sdp6_mapped.  The local addresses
 * are afib_ip4() and afib_ip6() (AFIB_IP4, AFIB_IP6); on the host use
 * AFIB_IP4=127.0.0.1 AFIB_IP6=::1 to run the TCP variants.
 */
#ifndef SDP_LIB_H
#define SDP_LIB_H

#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/wait.h>

#include "afib_lib.h"

#ifndef SIOCINQ
#define SIOCINQ		FIONREAD
#endif
#ifndef SIOCOUTQ
#define SIOCOUTQ	TIOCOUTQ
#endif
#ifndef SIOCATMARK
#define SIOCATMARK	0x8905
#endif

struct sdp_tp {
	int domain;	/* socket() family */
	int proto;	/* socket() protocol */
	int af;		/* address family: AF_INET or AF_INET6 */
	bool mapped;	/* AF_INET6 addresses are ::ffff:<IPv4> */
};

#define SDP_VARIANT(f, name, d, p, a, m)				\
	FIXTURE_VARIANT_ADD(f, name) {					\
		.tp = { .domain = d, .proto = p, .af = a, .mapped = m }	\
	}

/* Every transport; FIXTURE_VARIANT(f) must be { struct sdp_tp tp; }. */
#define SDP_VARIANTS(f)							\
	SDP_VARIANT(f, tcp4, AF_INET, 0, AF_INET, false);		\
	SDP_VARIANT(f, tcp6, AF_INET6, 0, AF_INET6, false);		\
	SDP_VARIANT(f, tcp6_mapped, AF_INET6, 0, AF_INET6, true);	\
	SDP_VARIANT(f, sdp4, AF_INET_SDP, 0, AF_INET, false);		\
	SDP_VARIANT(f, sdp4_tcpproto, AF_INET_SDP, IPPROTO_TCP,		\
		    AF_INET, false);					\
	SDP_VARIANT(f, sdp6, AF_INET6_SDP, 0, AF_INET6, false);	\
	SDP_VARIANT(f, sdp6_mapped, AF_INET6_SDP, 0, AF_INET6, true)

static inline int sdp_socket(const struct sdp_tp *tp, int flags)
{
	return socket(tp->domain, SOCK_STREAM | flags, tp->proto);
}

/*
 * An address of @tp's family for the IPv4 host @v4 or the IPv6 host @v6
 * (mapped variants: ::ffff:@v4), "any" for the wildcard, with @port.
 */
static inline socklen_t sdp_addr_host(const struct sdp_tp *tp, const char *v4,
				      const char *v6, uint16_t port,
				      struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *sin6 = (void *)ss;
	struct in_addr a4;

	if (tp->af == AF_INET)
		return afib_addr_host(AF_INET, v4, port, ss);
	if (!tp->mapped || !strcmp(v6, "any"))
		return afib_addr_host(AF_INET6, v6, port, ss);
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, v4, &a4) != 1)
		abort();
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr.s6_addr32[2] = htonl(0xffff);
	sin6->sin6_addr.s6_addr32[3] = a4.s_addr;
	return sizeof(*sin6);
}

/* The local test address of @tp with @port. */
static inline socklen_t sdp_addr(const struct sdp_tp *tp, uint16_t port,
				 struct sockaddr_storage *ss)
{
	return sdp_addr_host(tp, afib_ip4(), afib_ip6(), port, ss);
}

/* The wildcard address of @tp with @port. */
static inline socklen_t sdp_addr_any(const struct sdp_tp *tp, uint16_t port,
				     struct sockaddr_storage *ss)
{
	return sdp_addr_host(tp, "any", "any", port, ss);
}

static inline bool sdp_is_any(const void *addr)
{
	const struct sockaddr *sa = addr;

	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)addr)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)addr)->sin6_addr,
			       &in6addr_any, 16);
	return false;
}

/* SO_SNDBUF and SO_RCVBUF of @fd to @size (0: leave them alone). */
static inline int sdp_set_bufs(int fd, int size)
{
	if (!size)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)))
		return -1;
	return 0;
}

static inline int sdp_getint(int fd, int level, int name)
{
	socklen_t l = sizeof(int);
	int v = -12345;

	if (getsockopt(fd, level, name, &v, &l))
		return -12345;
	return v;
}

static inline int sdp_setint(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v));
}

static inline int sdp_ioctl(int fd, unsigned long req)
{
	int v = -12345;

	if (ioctl(fd, req, &v))
		return -12345;
	return v;
}

/*
 * Listener on the local test address of @tp, port 0, buffers @bufsize
 * (inherited by accepted sockets; 0: default).  fd (port in *@port) or -1
 * with errno set.
 */
static inline int sdp_listener(const struct sdp_tp *tp, int backlog,
			       int bufsize, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, 0, &ss);
	int fd = sdp_socket(tp, 0), p, e;

	if (fd < 0)
		return -1;
	if (sdp_set_bufs(fd, bufsize) || bind(fd, (void *)&ss, len) ||
	    listen(fd, backlog))
		goto err;
	p = afib_getport(fd);
	if (p <= 0) {
		errno = EPROTO;
		goto err;
	}
	if (port)
		*port = p;
	return fd;
err:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Blocking connect to the local test address; fd or -1 with errno set. */
static inline int sdp_connect(const struct sdp_tp *tp, uint16_t port,
			      int bufsize)
{
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(tp, port, &ss);
	int fd = sdp_socket(tp, 0), e;

	if (fd < 0)
		return -1;
	if (sdp_set_bufs(fd, bufsize) || connect(fd, (void *)&ss, len)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * A connected pair as afib_pair(), over @tp, with buffers of @bufsize on
 * both ends (0: defaults).  Returns 0, or -1 with errno set, the fds -1
 * and *@step naming the call that failed.
 */
static inline int sdp_pair(const struct sdp_tp *tp, int *cfd, int *sfd,
			   int *lfd, uint16_t *port, int bufsize,
			   const char **step)
{
	const char *what = "listener";
	uint16_t p;
	int l, e;

	*cfd = *sfd = -1;
	if (lfd)
		*lfd = -1;
	l = sdp_listener(tp, 16, bufsize, &p);
	if (l < 0)
		goto err;
	what = "connect";
	*cfd = sdp_connect(tp, p, bufsize);
	if (*cfd < 0)
		goto err;
	what = "accept";
	*sfd = accept(l, NULL, NULL);
	if (*sfd < 0)
		goto err;
	if (lfd)
		*lfd = l;
	else
		close(l);
	if (port)
		*port = p;
	return 0;
err:
	e = errno;
	afib_close(cfd);
	if (l >= 0)
		close(l);
	if (step)
		*step = what;
	errno = e;
	return -1;
}

/* The stream pattern: byte @off of stream @seed (afib_byte()). */
static inline void sdp_fill_at(void *buf, size_t len, uint32_t seed,
			       size_t off)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = afib_byte(seed, off + i);
}

/* Index of the first byte of @buf that is not stream @seed at @off, or -1. */
static inline long sdp_check_at(const void *buf, size_t len, uint32_t seed,
				size_t off)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != afib_byte(seed, off + i))
			return i;
	return -1;
}

/* Running Adler-32 (afib_csum() in pieces); start with *@sum = 1. */
static inline void sdp_csum(uint32_t *sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t a = *sum & 0xffff, b = *sum >> 16;
	size_t i;

	for (i = 0; i < len; i++) {
		a = (a + p[i]) % 65521;
		b = (b + a) % 65521;
	}
	*sum = (b << 16) | a;
}

/*
 * send() all of @buf, blocking.  Returns @len, or the bytes sent before
 * the error (errno set) -- which is -1 when nothing went out.
 */
static inline ssize_t sdp_send_all(int fd, const void *buf, size_t len,
				   int flags)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, (const char *)buf + done, len - done, flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return done ? (ssize_t)done : -1;
		done += n;
	}
	return done;
}

/* write() all of @buf (pipes), as sdp_send_all(). */
static inline ssize_t sdp_write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, (const char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return done ? (ssize_t)done : -1;
		done += n;
	}
	return done;
}

/*
 * Receive @len bytes, waiting at most @ms for each piece.  Returns the
 * bytes received: fewer on EOF (errno 0), error or timeout (ETIMEDOUT).
 */
static inline size_t sdp_recv_all(int fd, void *buf, size_t len, int ms)
{
	size_t done = 0;
	ssize_t n;

	errno = 0;
	while (done < len) {
		if (!(afib_poll1(fd, POLLIN, ms) & (POLLIN | POLLHUP |
						    POLLERR))) {
			errno = ETIMEDOUT;
			break;
		}
		n = recv(fd, (char *)buf + done, len - done, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			errno = 0;
			break;
		}
		done += n;
	}
	return done;
}

/* Wait up to @ms until ioctl(@req) on @fd reports @want; the last value. */
static inline int sdp_wait_ioctl(int fd, unsigned long req, int want, int ms)
{
	int64_t end = afib_now_ms() + ms;
	int v;

	for (;;) {
		v = sdp_ioctl(fd, req);
		if (v == want || afib_now_ms() >= end)
			return v;
		afib_msleep(5);
	}
}

/*
 * One direction of a checked stream, in a thread of its own: the writer
 * sends @total bytes of stream @seed in pieces of 1..@chunk bytes (random,
 * from @rnd), the reader receives and checks them in pieces of 1..@chunk
 * bytes, sleeping @sleep_us between pieces.  With @shut the writer ends
 * with shutdown(SHUT_WR) and the reader expects EOF after @total bytes.
 */
struct sdp_stream {
	int fd;
	bool tx;
	uint32_t seed;
	size_t total;
	size_t chunk;
	unsigned int rnd;
	int sleep_us;
	bool shut;
	bool fixed;		/* pieces of exactly @chunk bytes */
	bool rw;		/* write()/read(), for pipes */
	bool close;		/* writer: close(@fd) at the end */
	size_t base;		/* stream offset of the first byte */
	int delay_ms;		/* sleep before the first piece */
	/* results */
	size_t done;
	long bad;		/* reader: stream offset of bad byte, or -1 */
	bool eof;		/* reader: EOF seen after @total bytes */
	int err;		/* errno of what failed, 0 if nothing */
	const char *what;	/* what failed */
	uint32_t sum;		/* Adler-32 of the bytes sent / received */
	int64_t first_ms;	/* afib_now_ms() after the first piece */
	pthread_t th;
};

static inline size_t sdp_rand_len(unsigned int *rnd, size_t max)
{
	/* Log-uniform: as many small pieces as big ones. */
	unsigned int bits = 0;
	size_t m = max, n;

	while (m >>= 1)
		bits++;
	n = (size_t)rand_r(rnd) & ((2UL << (rand_r(rnd) % (bits + 1))) - 1);
	return n % max + 1;
}

static inline void *sdp_stream_fn(void *arg)
{
	struct sdp_stream *st = arg;
	char *buf = malloc(st->chunk);
	ssize_t n;
	size_t len;

	st->sum = 1;
	st->bad = -1;
	if (!buf) {
		st->err = ENOMEM;
		st->what = "malloc";
		return NULL;
	}
	afib_msleep(st->delay_ms);
	while (st->done < st->total) {
		len = st->fixed ? st->chunk :
				  sdp_rand_len(&st->rnd, st->chunk);
		if (len > st->total - st->done)
			len = st->total - st->done;
		if (st->tx) {
			sdp_fill_at(buf, len, st->seed, st->base + st->done);
			if (st->rw)
				n = sdp_write_all(st->fd, buf, len);
			else
				n = sdp_send_all(st->fd, buf, len,
						 MSG_NOSIGNAL);
			if (n != (ssize_t)len) {
				st->err = errno;
				st->what = "send";
				if (n > 0)
					st->done += n;
				break;
			}
			sdp_csum(&st->sum, buf, len);
		} else {
			if (!(afib_poll1(st->fd, POLLIN, AFIB_WAIT_MS) &
			      (POLLIN | POLLHUP | POLLERR))) {
				st->err = ETIMEDOUT;
				st->what = "poll";
				break;
			}
			if (st->rw)
				n = read(st->fd, buf, len);
			else
				n = recv(st->fd, buf, len, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				st->err = n ? errno : 0;
				st->what = n ? "recv" : "early EOF";
				break;
			}
			if (st->bad < 0) {
				long b = sdp_check_at(buf, n, st->seed,
						      st->base + st->done);

				if (b >= 0)
					st->bad = st->done + b;
			}
			sdp_csum(&st->sum, buf, n);
			len = n;
		}
		if (!st->done)
			st->first_ms = afib_now_ms();
		st->done += len;
		if (st->sleep_us)
			usleep(st->sleep_us);
	}
	if (st->tx && st->shut && !st->what &&
	    shutdown(st->fd, SHUT_WR)) {
		st->err = errno;
		st->what = "shutdown";
	}
	if (st->tx && st->close)
		afib_close(&st->fd);
	if (!st->tx && st->shut && !st->what) {
		char c;

		if (afib_poll1(st->fd, POLLIN, AFIB_WAIT_MS) & POLLIN) {
			n = st->rw ? read(st->fd, &c, 1) :
				     recv(st->fd, &c, 1, MSG_DONTWAIT);
			st->eof = n == 0;
			if (n) {
				st->err = n < 0 ? errno : 0;
				st->what = n < 0 ? "recv at EOF" :
						   "data after the end";
			}
		} else {
			st->err = ETIMEDOUT;
			st->what = "poll for EOF";
		}
	}
	free(buf);
	return NULL;
}

static inline int sdp_stream_start(struct sdp_stream *st)
{
	st->done = 0;
	st->err = 0;
	st->what = NULL;
	st->eof = false;
	return pthread_create(&st->th, NULL, sdp_stream_fn, st);
}

/*
 * Send @len bytes of stream @seed from @tx (in a thread) and receive them
 * on @rx; true if they arrived whole and in order.
 */
static inline bool sdp_xfer(struct __test_metadata *_metadata, int tx,
			    int rx, size_t len, uint32_t seed)
{
	struct sdp_stream *w = calloc(1, sizeof(*w));
	char *buf = malloc(len + 1);
	bool ok = false;
	size_t got;
	long bad;
	int e;

	if (!w || !buf)
		return false;
	*w = (struct sdp_stream){ .fd = tx, .tx = true, .seed = seed,
				  .total = len, .chunk = len, .fixed = true };
	if (sdp_stream_start(w)) {
		TH_LOG("pthread_create failed");
		return false;
	}
	got = sdp_recv_all(rx, buf, len, AFIB_WAIT_MS);
	e = errno;
	if (afib_join(w->th, AFIB_WAIT_MS)) {
		/* Leak @w and @buf: the writer still uses them. */
		TH_LOG("send %zu: still blocked, %zu received", len, got);
		return false;
	}
	bad = sdp_check_at(buf, got, seed, 0);
	if (w->what)
		TH_LOG("send %zu: %s: %s", len, w->what, strerror(w->err));
	else if (got != len)
		TH_LOG("recv %zu: got %zu: %s", len, got,
		       e ? strerror(e) : "EOF");
	else if (bad >= 0)
		TH_LOG("recv %zu: corrupt at %ld", len, bad);
	else
		ok = true;
	free(w);
	free(buf);
	return ok;
}

/*
 * poll() @fd for @events until all of @want are reported or @ms passed;
 * then the mask a moment later (0: nothing).
 */
static inline int sdp_wait_mask(int fd, short events, short want, int ms)
{
	int64_t end = afib_now_ms() + ms;
	int rev;

	for (;;) {
		rev = afib_poll1(fd, events, 50);
		if (rev > 0 && (rev & want) == want) {
			/*
			 * The state a wakeup announces may still be settling:
			 * TCP reports the error (POLLERR) before tcp_done()
			 * shuts the socket down.
			 */
			afib_msleep(20);
			return afib_poll1(fd, events, 0);
		}
		if (afib_now_ms() >= end)
			return rev;
		if (rev > 0)
			afib_msleep(5);
	}
}

#endif /* SDP_LIB_H */
