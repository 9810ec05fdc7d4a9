// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib flow control: fast writer/slow reader, non-blocking writer against
 * a reader that stops, buffer sizes, many concurrent connections.
 *
 * Every message carries a header with a sequence number, its length and a
 * checksum of the payload, so loss, reordering, duplication, truncation and
 * corruption are all detected.
 */
#include "afib_lib.h"

struct hdr {
	uint32_t seq;
	uint32_t len;
	uint32_t csum;
	uint32_t stream;
};

#define HDR	((int)sizeof(struct hdr))

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Size of message @seq: mostly small, some large, 1 and max included. */
static uint32_t msg_size(uint32_t stream, uint32_t seq, uint32_t max)
{
	uint32_t s = (stream + 1) * 7919u + seq * 104729u + 1;

	rnd(&s);
	rnd(&s);
	if (seq % 97 == 13)
		return max;
	if (seq % 89 == 7)
		return HDR;
	if (seq % 32 == 3)
		return HDR + rnd(&s) % (max - HDR + 1);
	return HDR + rnd(&s) % 2048;
}

static void build(char *buf, uint32_t stream, uint32_t seq, uint32_t len)
{
	struct hdr *h = (void *)buf;

	afib_fill(buf + HDR, len - HDR, stream * 1000003u + seq);
	h->seq = seq;
	h->len = len;
	h->stream = stream;
	h->csum = afib_csum(buf + HDR, len - HDR);
}

/* NULL if fine, else a description of what is wrong. */
static const char *verify(const char *buf, ssize_t n, uint32_t stream,
			  uint32_t seq, uint32_t max)
{
	const struct hdr *h = (const void *)buf;

	if (n < HDR)
		return "short message";
	if (h->stream != stream)
		return "wrong stream";
	if (h->seq != seq)
		return "out of sequence (lost, duplicated or reordered)";
	if (h->len != n || n != (ssize_t)msg_size(stream, seq, max))
		return "wrong length";
	if (h->csum != afib_csum(buf + HDR, n - HDR) ||
	    afib_check(buf + HDR, n - HDR, stream * 1000003u + seq) >= 0)
		return "corrupt payload";
	return NULL;
}

FIXTURE(flow) {
	int lfd, cfd, sfd;
	uint16_t port;
	int max;
};

FIXTURE_VARIANT(flow) {
	int family;
};

AFIB_VARIANTS(flow);

FIXTURE_SETUP(flow)
{
	const char *step = "";

	ASSERT_EQ(0, afib_pair(variant->family, &self->cfd, &self->sfd,
			       &self->lfd, &self->port, 64, &step))
		TH_LOG("%s: %s", step, strerror(errno));
	self->max = afib_max_msg(self->cfd);
	ASSERT_LE(65536, self->max);
}

FIXTURE_TEARDOWN(flow)
{
	afib_pair_close(&self->cfd, &self->sfd, &self->lfd);
}

struct reader {
	int fd;
	uint32_t stream, count, max;
	int slow_every, slow_ms;
	/* results */
	volatile int done;
	uint32_t got;
	const char *err;
	int err_errno;
	ssize_t err_n;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	char *buf = malloc(r->max + 1);
	ssize_t n;

	while (r->got < r->count) {
		if (r->slow_every && r->got % r->slow_every == 0)
			afib_msleep(r->slow_ms);
		n = recv(r->fd, buf, r->max + 1, 0);
		if (n <= 0) {
			r->err = n ? "recv failed" : "unexpected EOF";
			r->err_errno = errno;
			r->err_n = n;
			break;
		}
		r->err = verify(buf, n, r->stream, r->got, r->max);
		if (r->err) {
			r->err_n = n;
			break;
		}
		r->got++;
	}
	free(buf);
	r->done = 1;
	return NULL;
}

struct writer {
	int fd;
	uint32_t stream, count, max;
	uint32_t sent;
	int err_errno;
	volatile int done;
};

static void *writer_fn(void *arg)
{
	struct writer *w = arg;
	char *buf = malloc(w->max);
	uint32_t len;

	for (w->sent = 0; w->sent < w->count; w->sent++) {
		len = msg_size(w->stream, w->sent, w->max);
		build(buf, w->stream, w->sent, len);
		if (send(w->fd, buf, len, 0) != (ssize_t)len) {
			w->err_errno = errno ?: EIO;
			break;
		}
	}
	free(buf);
	w->done = 1;
	return NULL;
}

/*
 * Wait for the threads.  If no message moves for a while, log where each
 * stream is, shut the sockets down to release the threads and fail,
 * instead of running into the test timeout without a clue.
 */
static bool watch(struct __test_metadata *_metadata, pthread_t *th, int nth,
		  struct reader *r, int nr, struct writer *w, int nw,
		  const int *fds, int nfds)
{
	int64_t since = afib_now_ms();
	uint64_t last = ~0ULL, now;
	bool stalled = false, done, failed;
	int i;

	for (;;) {
		done = true;
		failed = false;
		now = 0;
		for (i = 0; i < nr; i++) {
			now += r[i].got;
			done &= !!r[i].done;
			failed |= r[i].done && r[i].err;
		}
		for (i = 0; i < nw; i++) {
			now += w[i].sent;
			done &= !!w[i].done;
			failed |= w[i].done && w[i].err_errno;
		}
		if (done)
			break;
		if (now != last) {
			last = now;
			since = afib_now_ms();
		}
		/* A stream failed (its peer would wait forever) or stalled. */
		if (failed || afib_now_ms() - since > afib_tmo(30) * 1000) {
			stalled = true;
			TH_LOG("%s:", failed ? "a stream failed" :
			       "no progress for 30 s");
			for (i = 0; i < nw; i++)
				TH_LOG("  writer stream %u: sent %u/%u%s %s",
				       w[i].stream, w[i].sent, w[i].count,
				       w[i].done ? " done" : "",
				       w[i].err_errno ?
				       strerror(w[i].err_errno) : "");
			for (i = 0; i < nr; i++)
				TH_LOG("  reader stream %u: got %u/%u%s %s",
				       r[i].stream, r[i].got, r[i].count,
				       r[i].done ? " done" : "",
				       r[i].err ?: "");
			for (i = 0; i < nfds; i++)
				shutdown(fds[i], SHUT_RDWR);
			break;
		}
		afib_msleep(100);
	}
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	return !stalled;
}

static uint32_t env_count(const char *name, uint32_t def)
{
	const char *v = getenv(name);

	return v && atoi(v) > 0 ? (uint32_t)atoi(v) : def;
}

TEST_F_TIMEOUT(flow, fast_writer_slow_reader, afib_tmo(240))
{
	uint32_t n = env_count("AFIB_FLOW_MSGS", 2000);
	struct reader r = { .fd = self->sfd, .stream = 1, .count = n,
			    .max = self->max, .slow_every = 50,
			    .slow_ms = 20 };
	struct writer w = { .fd = self->cfd, .stream = 1, .count = n,
			    .max = self->max };
	int fds[] = { self->cfd, self->sfd };
	pthread_t th[2];

	ASSERT_EQ(0, pthread_create(&th[0], NULL, reader_fn, &r));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, writer_fn, &w));
	EXPECT_TRUE(watch(_metadata, th, 2, &r, 1, &w, 1, fds, 2));
	EXPECT_EQ(0, w.err_errno) TH_LOG("send %u: %s", w.sent,
					 strerror(w.err_errno));
	EXPECT_EQ(n, r.got);
	EXPECT_EQ(NULL, r.err) TH_LOG("message %u: %s (n=%zd, %s)", r.got,
				      r.err, r.err_n,
				      strerror(r.err_errno));
}

/* Both directions at once on one connection. */
TEST_F_TIMEOUT(flow, bidirectional, afib_tmo(240))
{
	uint32_t n = env_count("AFIB_FLOW_MSGS", 2000) / 4;
	struct reader r1 = { .fd = self->sfd, .stream = 1, .count = n,
			     .max = self->max };
	struct reader r2 = { .fd = self->cfd, .stream = 2, .count = n,
			     .max = self->max, .slow_every = 20,
			     .slow_ms = 10 };
	struct writer w1 = { .fd = self->cfd, .stream = 1, .count = n,
			     .max = self->max };
	struct writer w2 = { .fd = self->sfd, .stream = 2, .count = n,
			     .max = self->max };
	struct reader r[2];
	struct writer w[2];
	int fds[] = { self->cfd, self->sfd };
	pthread_t t[4];

	r[0] = r1;
	r[1] = r2;
	w[0] = w1;
	w[1] = w2;
	ASSERT_EQ(0, pthread_create(&t[0], NULL, reader_fn, &r[0]));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, reader_fn, &r[1]));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, writer_fn, &w[0]));
	ASSERT_EQ(0, pthread_create(&t[3], NULL, writer_fn, &w[1]));
	EXPECT_TRUE(watch(_metadata, t, 4, r, 2, w, 2, fds, 2));
	r1 = r[0];
	r2 = r[1];
	w1 = w[0];
	w2 = w[1];
	EXPECT_EQ(0, w1.err_errno);
	EXPECT_EQ(0, w2.err_errno);
	EXPECT_EQ(NULL, r1.err) TH_LOG("c->s message %u: %s", r1.got, r1.err);
	EXPECT_EQ(NULL, r2.err) TH_LOG("s->c message %u: %s", r2.got, r2.err);
	EXPECT_EQ(n, r1.got);
	EXPECT_EQ(n, r2.got);
}

/*
 * Non-blocking writer, reader not reading: EAGAIN eventually, and after
 * the reader catches up every message arrives exactly once, in order.
 */
TEST_F_TIMEOUT(flow, nonblock_writer_eagain, afib_tmo(240))
{
	uint32_t total = env_count("AFIB_FLOW_MSGS", 2000) / 2, seq = 0;
	uint32_t got = 0, eagain = 0, at_first_eagain = 0;
	char *buf = malloc(self->max), *rbuf = malloc(self->max + 1);
	int64_t start = afib_now_ms();
	const char *err = NULL;
	ssize_t n;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, rbuf);
	ASSERT_EQ(0, fcntl(self->cfd, F_SETFL, O_NONBLOCK));
	/* Phase 1: only write, until the pipe is full. */
	while (!eagain) {
		uint32_t len = msg_size(3, seq, self->max);

		build(buf, 3, seq, len);
		n = send(self->cfd, buf, len, 0);
		if (n < 0) {
			ASSERT_EQ(EAGAIN, errno);
			if (afib_poll1(self->cfd, POLLOUT, 500) & POLLOUT)
				continue;
			eagain++;
			at_first_eagain = seq;
			break;
		}
		ASSERT_EQ((ssize_t)len, n);
		seq++;
		ASSERT_GT(afib_tmo(60) * 1000, afib_now_ms() - start)
			TH_LOG("never got EAGAIN after %u messages", seq);
	}
	TH_LOG("EAGAIN after %u messages", at_first_eagain);
	if (total < seq + 100)
		total = seq + 100;

	/* Phase 2: alternate reading and writing until all are through. */
	while (got < total && !err) {
		ASSERT_GT(afib_tmo(180) * 1000, afib_now_ms() - start)
			TH_LOG("stuck: sent %u got %u", seq, got);
		while (seq < total) {
			uint32_t len = msg_size(3, seq, self->max);

			build(buf, 3, seq, len);
			n = send(self->cfd, buf, len, 0);
			if (n < 0) {
				ASSERT_EQ(EAGAIN, errno);
				eagain++;
				break;
			}
			ASSERT_EQ((ssize_t)len, n);
			seq++;
		}
		/* Read a few, then go back to writing. */
		for (int i = 0; i < 20 && got < seq && !err; i++) {
			if (!(afib_poll1(self->sfd, POLLIN, AFIB_WAIT_MS) &
			      POLLIN)) {
				err = "reader starved";
				break;
			}
			n = recv(self->sfd, rbuf, self->max + 1, 0);
			err = verify(rbuf, n, 3, got, self->max);
			got++;
		}
	}
	EXPECT_EQ(NULL, err) TH_LOG("message %u: %s", got - 1, err);
	EXPECT_EQ(total, got);
	EXPECT_LE(1, eagain);
	/* Nothing extra. */
	EXPECT_EQ(-1, recv(self->sfd, rbuf, self->max + 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	free(buf);
	free(rbuf);
}

/* SO_SNDBUF/SO_RCVBUF set before connect are honoured (like TCP). */
TEST_F_TIMEOUT(flow, bufsizes, afib_tmo(30))
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(variant->family, self->port, &ss), l;
	int want[] = { 65536, 98304 }, v, fd, sfd, lfd, i;
	int opt[] = { SO_SNDBUF, SO_RCVBUF };
	uint16_t port;

	fd = afib_socket(0);
	ASSERT_LE(0, fd);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, setsockopt(fd, SOL_SOCKET, opt[i], &want[i],
					sizeof(int)));
	}
	ASSERT_EQ(0, connect(fd, (void *)&ss, len))
		TH_LOG("connect: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		l = sizeof(v);
		ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, opt[i], &v, &l));
		EXPECT_LE(want[i], v) TH_LOG("opt %d: %d < %d", opt[i], v,
					     want[i]);
	}
	sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	close(sfd);
	close(fd);

	/* Set on the listener: inherited by accepted sockets (like TCP). */
	lfd = afib_socket(0);
	ASSERT_LE(0, lfd);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, setsockopt(lfd, SOL_SOCKET, opt[i], &want[i],
					sizeof(int)));
	}
	len = afib_addr(variant->family, 0, &ss);
	ASSERT_EQ(0, bind(lfd, (void *)&ss, len));
	ASSERT_EQ(0, listen(lfd, 4));
	port = afib_getport(lfd);
	fd = afib_connect(variant->family, port);
	ASSERT_LE(0, fd);
	sfd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, sfd);
	for (i = 0; i < 2; i++) {
		l = sizeof(v);
		ASSERT_EQ(0, getsockopt(sfd, SOL_SOCKET, opt[i], &v, &l));
		EXPECT_LE(want[i], v) TH_LOG("accepted opt %d: %d < %d",
					     opt[i], v, want[i]);
	}
	close(sfd);
	close(fd);
	close(lfd);
}

/*
 * Connection churn: connect, exchange, close (either side first).  Lifetime
 * bugs show up as KASAN/lockdep splats, hangs, or a module that cannot be
 * unloaded afterwards (afib_lifecycle.sh).
 */
TEST_F_TIMEOUT(flow, churn, afib_tmo(120))
{
	uint32_t n = env_count("AFIB_CHURN", 40), i;
	char buf[64];

	for (i = 0; i < n; i++) {
		int cfd = afib_connect(variant->family, self->port), sfd;

		ASSERT_LE(0, cfd) TH_LOG("connect %u: %s", i, strerror(errno));
		sfd = accept(self->lfd, NULL, NULL);
		ASSERT_LE(0, sfd) TH_LOG("accept %u: %s", i, strerror(errno));
		ASSERT_EQ(10, send(cfd, "0123456789", 10, 0));
		if (i % 3 == 0) {
			/* Close with the message unread. */
			close(sfd);
			close(cfd);
			continue;
		}
		ASSERT_EQ(10, recv(sfd, buf, sizeof(buf), 0));
		ASSERT_EQ(5, send(sfd, "abcde", 5, 0));
		ASSERT_EQ(5, recv(cfd, buf, sizeof(buf), 0));
		if (i % 3 == 1) {
			close(cfd);
			EXPECT_EQ(0, recv(sfd, buf, sizeof(buf), 0));
			close(sfd);
		} else {
			close(sfd);
			EXPECT_EQ(0, recv(cfd, buf, sizeof(buf), 0));
			close(cfd);
		}
	}
}

#define NCONN 16

/* Many connections at once, both directions, one thread per direction. */
TEST_F_TIMEOUT(flow, many_connections, afib_tmo(240))
{
	uint32_t n = env_count("AFIB_MANY_MSGS", 50);
	int cfd[NCONN], sfd[NCONN], i;
	struct reader r[2 * NCONN];
	struct writer w[2 * NCONN];
	pthread_t t[4 * NCONN];
	uint32_t max = 4096 + HDR;

	for (i = 0; i < NCONN; i++) {
		cfd[i] = afib_connect(variant->family, self->port);
		ASSERT_LE(0, cfd[i]) TH_LOG("connect %d: %s", i,
					    strerror(errno));
		sfd[i] = accept(self->lfd, NULL, NULL);
		ASSERT_LE(0, sfd[i]);
	}
	memset(r, 0, sizeof(r));
	memset(w, 0, sizeof(w));
	for (i = 0; i < 2 * NCONN; i++) {
		int c = i / 2, dir = i % 2;

		/* max < 65536 keeps the volume down: sizes wrap at max. */
		w[i].fd = dir ? sfd[c] : cfd[c];
		w[i].stream = 10 + i;
		w[i].count = n;
		w[i].max = max;
		r[i].fd = dir ? cfd[c] : sfd[c];
		r[i].stream = 10 + i;
		r[i].count = n;
		r[i].max = max;
		ASSERT_EQ(0, pthread_create(&t[2 * i], NULL, reader_fn, &r[i]));
		ASSERT_EQ(0, pthread_create(&t[2 * i + 1], NULL, writer_fn,
					    &w[i]));
	}
	int fds[2 * NCONN];

	for (i = 0; i < NCONN; i++) {
		fds[2 * i] = cfd[i];
		fds[2 * i + 1] = sfd[i];
	}
	EXPECT_TRUE(watch(_metadata, t, 4 * NCONN, r, 2 * NCONN, w,
			  2 * NCONN, fds, 2 * NCONN));
	for (i = 0; i < 2 * NCONN; i++) {
		EXPECT_EQ(0, w[i].err_errno) TH_LOG("writer %d: %s", i,
						    strerror(w[i].err_errno));
		EXPECT_EQ(NULL, r[i].err) TH_LOG("reader %d msg %u: %s", i,
						 r[i].got, r[i].err);
		EXPECT_EQ(n, r[i].got);
	}
	for (i = 0; i < NCONN; i++) {
		close(cfd[i]);
		close(sfd[i]);
	}
}

TEST_HARNESS_MAIN
