// SPDX-License-Identifier: GPL-2.0
/*
 * SDP beyond TCP conformance: what sdp_tcp.c cannot compare with TCP
 * because TCP has nothing like it, or because it needs a broken network.
 *
 * proc    /proc/net/sdp (Documentation/sdp.rst, sdp/sdp_proc.c): the
 *         columns of /proc/net/tcp, IPv6 addresses as /proc/net/tcp6
 *         prints them.  A listener is 0A, a connected pair two lines 01
 *         whose addresses are getsockname()/getpeername(), uid getuid(),
 *         inode the st_ino of the socket's fd; tx_queue is SIOCOUTQ and
 *         rx_queue SIOCINQ; the receiver of a FIN is CLOSE_WAIT (08) and
 *         its sender FIN_WAIT2 (05); closed sockets go away (a close()
 *         may finish in the background: we wait a little).
 *
 * dead    A peer that can no longer be reached.  SO_KEEPALIVE with
 *         TCP_KEEPIDLE 1, TCP_KEEPINTVL 1, TCP_KEEPCNT 2 must find it out
 *         as TCP does: a blocked recv() fails, a blocked poll() returns
 *         POLLERR and SO_ERROR is set, within seconds (bound: 30 s).  The
 *         tcp4 variant shows TCP's result: ETIMEDOUT after about 3 s.  A
 *         third, idle pair without keepalive is cut off too and must not
 *         notice anything (it sends nothing), as with TCP: that is what
 *         shows it was keepalive that found the others out.
 *
 * dead_send  The same without keepalive, with data in flight: the send
 *         must fail (the RC retries run out, 7 x about 0.5 s, or the QP
 *         fails at once, see below), and the socket with it, as TCP's
 *         does after its retransmissions (TCP takes tcp_retries2, ~15
 *         min: no TCP variant).
 *
 * dev     "rdma link delete" with a listener (accept() blocked on it), an
 *         idle pair, a pair with a blocked reader, one with a writer
 *         blocked on a full connection and non-blocking connects still in
 *         progress (held by a full backlog, with a poll() waiting on one):
 *         every blocked call returns at once with -1 and ENODEV (the
 *         implementation's choice, afib_kill(as, ENODEV); ECONNRESET would
 *         do as well, the test insists on what the code promises), poll()
 *         reports POLLERR or POLLHUP, SO_ERROR is ENODEV where no call took
 *         it yet, send() fails (EPIPE, ENODEV or ECONNRESET), close() does
 *         not wait, the closed sockets leave /proc/net/sdp, and once the
 *         device is back a new connection carries data.
 *
 * unreach  connect() to an address on a local subnet that nobody has (a
 *         veth pair whose far end has no address, an rxe device "rxeu" on
 *         its near end): EHOSTUNREACH once address resolution gives up,
 *         blocking or not (poll: POLLOUT | POLLERR | POLLHUP, SO_ERROR), as
 *         TCP after its ARP or neighbour discovery probes.
 *
 * How the peer is cut off.  Client and server are local, on rxe0, and
 * rxe hands a packet whose destination MAC is its netdev's own straight
 * to its own receive path (rxe_loopback()): SDP traffic never reaches a
 * network device, so a qdisc or netfilter on lo or dummy0 cannot drop it
 * (their packet counters do not move; the guest has tc, not nft or
 * iptables).  There is no way to blackhole it on one host.  What does cut
 * an existing connection off is changing dummy0's MAC address: ib_core
 * deletes and re-adds dummy0's GIDs, the QPs' source GID index no longer
 * resolves, and the next packet a QP sends fails in rxe (rxe_init_packet()),
 * which puts the QP in the error state -- as a port or path that went
 * away would.  rxe reports that request flushed (IB_WC_WR_FLUSH_ERR), not
 * failed: the module must take a flush it did not cause for the failure
 * it is (afib_wc_fatal()).  That is not silence but a dead QP, so SDP may
 * report it
 * as ETIMEDOUT or ECONNRESET; what it must not do is carry on as if
 * nothing happened.  Kernel TCP to 192.0.2.1 goes over lo, where a netem
 * qdisc with 100% loss is a real blackhole.  Every variant gets both; the
 * teardown (and every set-up, and the end of the program) undoes them,
 * the old MAC is kept in /run/sdp_devremove.mac meanwhile.  New
 * connections made meanwhile would work (they use the new MAC); the cases
 * make none.
 *
 * The dev cases remove and re-add the device (rxe0 on dummy0), so
 * run_all.sh runs this program late, after which the device is back as
 * it was.  Needs root, iproute2's "rdma", "ip" and "tc", and sch_netem;
 * refuses to run outside the test VM unless AFIB_DESTRUCTIVE=1.
 */
#include <sys/stat.h>

#include "sdp_lib.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define SMALL_BUF	65536		/* SO_SNDBUF/SO_RCVBUF to fill */
#define FILL_MAX	(16 << 20)	/* most a filling sender may send */

/* What device removal gives a socket that had a connection or an id. */
#define DEVREMOVE_ERRNO	ENODEV

#define CUT_MAC		"02:00:5d:00:00:01"
#define CUT_SAVE		"/run/sdp_devremove.mac"

/* ---- commands -------------------------------------------------------- */

static int __attribute__((format(printf, 2, 3)))
run_fmt(int ms, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return afib_run_cmd(cmd, ms);
}

/* ---- cutting the peer off ------------------------------------------- */

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return -1;
	ok = fgets(buf, len, f);
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int netdev_mac(char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", afib_netdev());
	return read_line(path, buf, len);
}

/* Undo cut_on(), whatever part of it was done.  0 if all is well. */
static int cut_undo(void)
{
	char mac[64], cur[64];
	int err = 0;

	afib_run_cmd("tc qdisc show dev lo | grep -q netem && "
		"tc qdisc del dev lo root", afib_tmo(10) * 1000);
	if (read_line(CUT_SAVE, mac, sizeof(mac)))
		return 0;
	if (!netdev_mac(cur, sizeof(cur)) && strcmp(cur, mac) &&
	    run_fmt(afib_tmo(10) * 1000, "ip link set dev %s address %s",
		    afib_netdev(), mac))
		err = -1;
	if (!err)
		unlink(CUT_SAVE);
	return err;
}

/* Cut every existing connection's peer off; see the top. */
static int cut_on(struct __test_metadata *_metadata)
{
	char mac[64];
	FILE *f;

	if (netdev_mac(mac, sizeof(mac)) || !strcmp(mac, CUT_MAC)) {
		TH_LOG("cannot read %s's MAC address", afib_netdev());
		return -1;
	}
	f = fopen(CUT_SAVE, "wx");
	if (!f) {
		TH_LOG("%s: %s", CUT_SAVE, strerror(errno));
		return -1;
	}
	fprintf(f, "%s\n", mac);
	if (fclose(f))
		return -1;
	afib_run_cmd("modprobe sch_netem 2>/dev/null", afib_tmo(10) * 1000);
	if (run_fmt(afib_tmo(10) * 1000, "ip link set dev %s address %s",
		    afib_netdev(), CUT_MAC)) {
		TH_LOG("ip link set dev %s address %s failed", afib_netdev(),
		       CUT_MAC);
		return -1;
	}
	if (afib_run_cmd("tc qdisc add dev lo root netem loss 100%",
		    afib_tmo(10) * 1000)) {
		TH_LOG("tc qdisc add dev lo root netem loss 100%% failed "
		       "(sch_netem?)");
		return -1;
	}
	return 0;
}

static pid_t main_pid;

static void __attribute__((constructor)) at_start(void)
{
	main_pid = getpid();
}

/* A test that timed out had no teardown: leave the network as it was. */
static void __attribute__((destructor)) at_end(void)
{
	if (getpid() == main_pid && (!strcmp(afib_env("AFIB_IN_VM", ""), "1") ||
				     !strcmp(afib_env("AFIB_DESTRUCTIVE", ""),
					     "1")))
		cut_undo();
}

/* ---- sockets --------------------------------------------------------- */

/* A connected pair over @tp, retried while the device (re)appears. */
static int pair_retry(const struct sdp_tp *tp, int *cfd, int *sfd,
		      int bufsize)
{
	int64_t end = afib_now_ms() + afib_tmo(30) * 1000;
	const char *step = "";
	int err;

	do {
		if (!sdp_pair(tp, cfd, sfd, NULL, NULL, bufsize, &step))
			return 0;
		err = errno;
		if (!strcmp(step, "accept"))
			break;
		afib_msleep(200);
	} while (afib_now_ms() < end);
	errno = err;
	return -1;
}

static int listener_retry(const struct sdp_tp *tp, int backlog,
			  uint16_t *port)
{
	int64_t end = afib_now_ms() + afib_tmo(30) * 1000;
	int fd;

	while ((fd = sdp_listener(tp, backlog, 0, port)) < 0 &&
	       afib_now_ms() < end)
		afib_msleep(200);
	return fd;
}

static unsigned long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* Close now: SO_LINGER 0 does not wait for a peer that does not answer. */
static void close_abort(int *fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (*fd < 0)
		return;
	setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	shutdown(*fd, SHUT_RDWR);	/* wakes a thread still blocked */
	afib_close(fd);
}

static bool is_sdp(const struct sdp_tp *tp)
{
	return tp->domain == AF_INET_SDP || tp->domain == AF_INET6_SDP;
}

/* How a connection to a peer that was cut off must fail (see the top). */
static bool cut_errno(const struct sdp_tp *tp, int e)
{
	return e == ETIMEDOUT || (is_sdp(tp) && e == ECONNRESET);
}

/* ---- /proc/net/sdp --------------------------------------------------- */

struct proc_ent {
	char local[40], remote[40];	/* hex address as printed */
	unsigned int lport, rport, st, txq, rxq, uid;
	unsigned long ino;
};

/*
 * Read /proc/net/sdp into @e (at most @max lines).  Returns the number of
 * lines, -1 if the file cannot be read or a line is malformed (logged).
 */
static int proc_read(struct __test_metadata *_metadata, struct proc_ent *e,
		     int max)
{
	FILE *f = fopen("/proc/net/sdp", "r");
	char line[512];
	int n = 0, sl;

	if (!f) {
		TH_LOG("/proc/net/sdp: %s", strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof(line), f) || strncmp(line, "  sl  local", 11)) {
		TH_LOG("/proc/net/sdp: bad header");
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct proc_ent x;

		if (sscanf(line, "%d: %39[0-9A-F]:%x %39[0-9A-F]:%x %x %x:%x "
			   "%*x:%*x %*x %u %*d %lu", &sl, x.local, &x.lport,
			   x.remote, &x.rport, &x.st, &x.txq, &x.rxq, &x.uid,
			   &x.ino) != 10) {
			TH_LOG("/proc/net/sdp: bad line: %s", line);
			fclose(f);
			return -1;
		}
		if (n < max)
			e[n] = x;
		n++;
	}
	fclose(f);
	return n < max ? n : max;
}

/* The line of inode @ino: 1 (in *@out), 0 if there is none, -1 on error. */
static int proc_find(struct __test_metadata *_metadata, unsigned long ino,
		     struct proc_ent *out)
{
	static struct proc_ent e[4096];
	int n = proc_read(_metadata, e, 4096), i;

	for (i = 0; i < n; i++) {
		if (e[i].ino == ino) {
			if (out)
				*out = e[i];
			return 1;
		}
	}
	return n < 0 ? -1 : 0;
}

/* Wait up to @ms until none of @ino[@n] is listed; how many still are. */
static int proc_wait_gone(struct __test_metadata *_metadata,
			  const unsigned long *ino, int n, int ms)
{
	int64_t end = afib_now_ms() + ms;
	int left, i;

	for (;;) {
		left = 0;
		for (i = 0; i < n; i++)
			left += proc_find(_metadata, ino[i], NULL) != 0;
		if (!left || afib_now_ms() >= end)
			return left;
		afib_msleep(50);
	}
}

/* Wait up to @ms until inode @ino shows state @st; the line in *@out. */
static int proc_wait_state(struct __test_metadata *_metadata,
			   unsigned long ino, unsigned int st,
			   struct proc_ent *out, int ms)
{
	int64_t end = afib_now_ms() + ms;
	int r;

	for (;;) {
		r = proc_find(_metadata, ino, out);
		if ((r == 1 && out->st == st) || afib_now_ms() >= end)
			return r;
		afib_msleep(20);
	}
}

/*
 * The address of a line, as struct sockaddr: IPv4 is one %08X of the
 * address in network byte order read as a host u32 (/proc/net/tcp), IPv6
 * four of them (/proc/net/tcp6).  0 or -1 if @hex has neither length.
 */
static int proc_addr(const char *hex, unsigned int port,
		     struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *sin6 = (void *)ss;
	struct sockaddr_in *sin = (void *)ss;
	char w[9] = { 0 };
	int i;

	memset(ss, 0, sizeof(*ss));
	if (strlen(hex) == 8) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = strtoul(hex, NULL, 16);
		return 0;
	}
	if (strlen(hex) != 32)
		return -1;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	for (i = 0; i < 4; i++) {
		memcpy(w, hex + 8 * i, 8);
		sin6->sin6_addr.s6_addr32[i] = strtoul(w, NULL, 16);
	}
	return 0;
}

/* Width of an address of family @af in /proc/net/tcp or tcp6. */
static size_t hex_len(int af)
{
	return af == AF_INET6 ? 32 : 8;
}

/*
 * Check the line of @fd: state @st, addresses as getsockname() and (if
 * @peer) getpeername() report them, else the zero address of the
 * family, uid and inode.
 */
static void check_line(struct __test_metadata *_metadata,
		       const struct sdp_tp *tp, int fd, unsigned int st,
		       bool peer, const char *what)
{
	struct sockaddr_storage name, got;
	socklen_t len = sizeof(name);
	struct proc_ent e;
	int r;

	r = proc_wait_state(_metadata, ino_of(fd), st, &e, AFIB_WAIT_MS);
	ASSERT_EQ(1, r) TH_LOG("%s (inode %lu) not in /proc/net/sdp", what,
			       ino_of(fd));
	EXPECT_EQ(st, e.st) TH_LOG("%s: state %02X, want %02X", what, e.st,
				   st);
	EXPECT_EQ((unsigned int)getuid(), e.uid) TH_LOG("%s: uid", what);
	EXPECT_EQ(hex_len(tp->af), strlen(e.local))
		TH_LOG("%s: local address %s, not in %s format", what,
		       e.local, tp->af == AF_INET6 ? "tcp6" : "tcp");
	EXPECT_EQ(hex_len(tp->af), strlen(e.remote))
		TH_LOG("%s: remote address %s, not in %s format", what,
		       e.remote, tp->af == AF_INET6 ? "tcp6" : "tcp");

	ASSERT_EQ(0, getsockname(fd, (void *)&name, &len));
	if (!proc_addr(e.local, e.lport, &got))
		EXPECT_TRUE(afib_same_addr(&name, &got))
			TH_LOG("%s: local %s:%04X, getsockname %s", what,
			       e.local, e.lport, afib_ntop(&name));
	if (peer) {
		len = sizeof(name);
		ASSERT_EQ(0, getpeername(fd, (void *)&name, &len));
	} else {
		sdp_addr_any(tp, 0, &name);
	}
	if (!proc_addr(e.remote, e.rport, &got))
		EXPECT_TRUE(afib_same_addr(&name, &got))
			TH_LOG("%s: remote %s:%04X, want %s", what, e.remote,
			       e.rport, afib_ntop(&name));
}

FIXTURE(proc) {
	int lfd, cfd, sfd;
	uint16_t port;
};

FIXTURE_VARIANT(proc) {
	struct sdp_tp tp;
};

SDP_VARIANT(proc, sdp4, AF_INET_SDP, 0, AF_INET, false);
SDP_VARIANT(proc, sdp6, AF_INET6_SDP, 0, AF_INET6, false);

static void setup_common(struct __test_metadata *_metadata)
{
	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(0, geteuid()) TH_LOG("needs root");
	/* Destructive: never touch a real host's network and devices. */
	ASSERT_TRUE(!strcmp(afib_env("AFIB_IN_VM", ""), "1") ||
		    !strcmp(afib_env("AFIB_DESTRUCTIVE", ""), "1"))
		TH_LOG("refusing to change %s and %s outside the test VM "
		       "(set AFIB_DESTRUCTIVE=1 to override)", afib_netdev(),
		       afib_devname());
	ASSERT_EQ(0, cut_undo()) TH_LOG("cannot undo an earlier cut_on()");
	if (!afib_dev_present())
		ASSERT_EQ(0, afib_dev_add());
	ASSERT_TRUE(afib_dev_present());
}

FIXTURE_SETUP(proc)
{
	self->lfd = -1;
	self->cfd = -1;
	self->sfd = -1;
	setup_common(_metadata);
	self->lfd = listener_retry(&variant->tp, 4, &self->port);
	ASSERT_LE(0, self->lfd) TH_LOG("listener: %s", strerror(errno));
}

FIXTURE_TEARDOWN(proc)
{
	afib_pair_close(&self->cfd, &self->sfd, &self->lfd);
}

static void proc_connect(struct __test_metadata *_metadata,
			 FIXTURE_DATA(proc) *self, const struct sdp_tp *tp)
{
	self->cfd = sdp_connect(tp, self->port, 0);
	ASSERT_LE(0, self->cfd) TH_LOG("connect: %s", strerror(errno));
	self->sfd = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->sfd) TH_LOG("accept: %s", strerror(errno));
}

/* A listener: 0A, its address and port, no peer. */
TEST_F_TIMEOUT(proc, listener, afib_tmo(60))
{
	struct proc_ent e;

	check_line(_metadata, &variant->tp, self->lfd, TCP_LISTEN, false,
		   "listener");
	ASSERT_EQ(1, proc_find(_metadata, ino_of(self->lfd), &e));
	EXPECT_EQ(self->port, e.lport);
	EXPECT_EQ(0, e.rport);
	EXPECT_EQ(0, e.txq);
	EXPECT_EQ(0, e.rxq);
}

/* A connected pair: two lines 01 that mirror each other. */
TEST_F_TIMEOUT(proc, connected, afib_tmo(60))
{
	struct proc_ent c, s;

	proc_connect(_metadata, self, &variant->tp);
	check_line(_metadata, &variant->tp, self->cfd, TCP_ESTABLISHED, true,
		   "client");
	check_line(_metadata, &variant->tp, self->sfd, TCP_ESTABLISHED, true,
		   "server");
	ASSERT_EQ(1, proc_find(_metadata, ino_of(self->cfd), &c));
	ASSERT_EQ(1, proc_find(_metadata, ino_of(self->sfd), &s));
	EXPECT_STREQ(c.local, s.remote);
	EXPECT_STREQ(c.remote, s.local);
	EXPECT_EQ(c.lport, s.rport);
	EXPECT_EQ(c.rport, s.lport);
	EXPECT_EQ(self->port, s.lport);
	EXPECT_NE(ino_of(self->cfd), ino_of(self->sfd));
	/* The listener is still there, and still listening. */
	check_line(_metadata, &variant->tp, self->lfd, TCP_LISTEN, false,
		   "listener");
}

/*
 * Queues: rx_queue is what the receiver has not read (SIOCINQ), tx_queue
 * what the peer has not taken in (SIOCOUTQ); on a full connection they
 * add up to every byte sent.
 */
TEST_F_TIMEOUT(proc, queues, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct proc_ent c, s;
	char *buf = calloc(1, SMALL_BUF);
	int i, inq = -1, outq = -1;
	long sent = 0;
	int64_t end;
	ssize_t n;

	ASSERT_NE(NULL, buf);
	proc_connect(_metadata, self, tp);
	ASSERT_EQ(1000, send(self->cfd, buf, 1000, 0));
	EXPECT_EQ(1000, sdp_wait_ioctl(self->sfd, SIOCINQ, 1000,
				       AFIB_WAIT_MS));
	EXPECT_EQ(0, sdp_wait_ioctl(self->cfd, SIOCOUTQ, 0, AFIB_WAIT_MS));
	ASSERT_EQ(1, proc_find(_metadata, ino_of(self->sfd), &s));
	ASSERT_EQ(1, proc_find(_metadata, ino_of(self->cfd), &c));
	EXPECT_EQ(1000, s.rxq);
	EXPECT_EQ(0, s.txq);
	EXPECT_EQ(0, c.rxq);
	EXPECT_EQ(0, c.txq);
	EXPECT_EQ(400, recv(self->sfd, buf, 400, 0));
	ASSERT_EQ(1, proc_find(_metadata, ino_of(self->sfd), &s));
	EXPECT_EQ(600, s.rxq);
	EXPECT_EQ(600, recv(self->sfd, buf, 1000, 0));

	/* A fresh pair with small buffers, filled: tx_queue too. */
	afib_pair_close(&self->cfd, &self->sfd, NULL);
	ASSERT_EQ(0, pair_retry(tp, &self->cfd, &self->sfd, SMALL_BUF));
	while (sent < FILL_MAX) {
		n = send(self->cfd, buf, SMALL_BUF, MSG_DONTWAIT);
		if (n < 0) {
			ASSERT_EQ(EAGAIN, errno) TH_LOG("%s", strerror(errno));
			/* Let what is in flight land, then look again. */
			afib_msleep(100);
			n = send(self->cfd, buf, SMALL_BUF, MSG_DONTWAIT);
			if (n < 0)
				break;
		}
		sent += n;
	}
	ASSERT_GT(FILL_MAX, sent) TH_LOG("the receiver takes it all");
	/* Until the numbers stand still. */
	end = afib_now_ms() + AFIB_WAIT_MS;
	for (i = 0; afib_now_ms() < end; i++) {
		inq = sdp_ioctl(self->sfd, SIOCINQ);
		outq = sdp_ioctl(self->cfd, SIOCOUTQ);
		ASSERT_EQ(1, proc_find(_metadata, ino_of(self->sfd), &s));
		ASSERT_EQ(1, proc_find(_metadata, ino_of(self->cfd), &c));
		if (inq == sdp_ioctl(self->sfd, SIOCINQ) &&
		    outq == sdp_ioctl(self->cfd, SIOCOUTQ) &&
		    s.rxq == (unsigned int)inq && c.txq == (unsigned int)outq)
			break;
		afib_msleep(50);
	}
	TH_LOG("sent %ld: tx_queue %u (SIOCOUTQ %d), peer rx_queue %u "
	       "(SIOCINQ %d)", sent, c.txq, outq, s.rxq, inq);
	EXPECT_EQ((unsigned int)outq, c.txq);
	EXPECT_EQ((unsigned int)inq, s.rxq);
	EXPECT_EQ(sent, (long)c.txq + s.rxq);
	EXPECT_LT(0, s.rxq);
	EXPECT_EQ(0, c.rxq);
	EXPECT_EQ(0, s.txq);
	free(buf);
}

/* shutdown(SHUT_WR): the receiver is CLOSE_WAIT, the sender FIN_WAIT2. */
TEST_F_TIMEOUT(proc, close_wait, afib_tmo(60))
{
	const struct sdp_tp *tp = &variant->tp;
	struct proc_ent e;
	char c;

	proc_connect(_metadata, self, tp);
	ASSERT_EQ(0, shutdown(self->cfd, SHUT_WR));
	ASSERT_TRUE(afib_poll1(self->sfd, POLLRDHUP, AFIB_WAIT_MS) &
		    POLLRDHUP);
	EXPECT_EQ(1, proc_wait_state(_metadata, ino_of(self->sfd),
				     TCP_CLOSE_WAIT, &e, AFIB_WAIT_MS));
	EXPECT_EQ(TCP_CLOSE_WAIT, e.st) TH_LOG("receiver of the FIN: %02X",
					       e.st);
	EXPECT_EQ(1, proc_wait_state(_metadata, ino_of(self->cfd),
				     TCP_FIN_WAIT2, &e, AFIB_WAIT_MS));
	EXPECT_EQ(TCP_FIN_WAIT2, e.st) TH_LOG("sender of the FIN: %02X",
					      e.st);
	/* Addresses stay what they were. */
	check_line(_metadata, tp, self->sfd, TCP_CLOSE_WAIT, true, "server");
	EXPECT_EQ(0, recv(self->sfd, &c, 1, MSG_DONTWAIT));
	/* The other way still works. */
	EXPECT_TRUE(sdp_xfer(_metadata, self->sfd, self->cfd, 100, 3));
}

/* Closed sockets leave the list; the others stay. */
TEST_F_TIMEOUT(proc, close_gone, afib_tmo(60))
{
	unsigned long ino[3];
	struct proc_ent e;

	proc_connect(_metadata, self, &variant->tp);
	EXPECT_TRUE(sdp_xfer(_metadata, self->cfd, self->sfd, 1000, 4));
	EXPECT_TRUE(sdp_xfer(_metadata, self->sfd, self->cfd, 1000, 5));
	ino[0] = ino_of(self->cfd);
	ino[1] = ino_of(self->sfd);
	ino[2] = ino_of(self->lfd);
	afib_close(&self->cfd);
	/* The peer's close made it CLOSE_WAIT, it stays until closed. */
	EXPECT_EQ(0, proc_wait_gone(_metadata, &ino[0], 1, afib_tmo(5) * 1000))
		TH_LOG("closed client still listed");
	EXPECT_EQ(1, proc_wait_state(_metadata, ino[1], TCP_CLOSE_WAIT, &e,
				     AFIB_WAIT_MS));
	EXPECT_EQ(TCP_CLOSE_WAIT, e.st);
	afib_close(&self->sfd);
	afib_close(&self->lfd);
	EXPECT_EQ(0, proc_wait_gone(_metadata, ino, 3, afib_tmo(5) * 1000))
		TH_LOG("closed sockets still listed");
}

/* ---- a peer that is cut off ----------------------------------------- */

/*
 * Three pairs: cfd[0] gets a blocked recv(), cfd[1] a blocked poll(),
 * pair 2 is the control: idle, no keepalive, it must not notice a thing
 * (as an idle TCP connection does not).
 */
#define NPAIR	3

struct dead_data {
	int cfd[NPAIR], sfd[NPAIR];
};

FIXTURE(dead) {
	struct dead_data d;
};

FIXTURE_VARIANT(dead) {
	struct sdp_tp tp;
};

SDP_VARIANT(dead, tcp4, AF_INET, 0, AF_INET, false);
SDP_VARIANT(dead, sdp4, AF_INET_SDP, 0, AF_INET, false);
SDP_VARIANT(dead, sdp6, AF_INET6_SDP, 0, AF_INET6, false);

FIXTURE(dead_send) {
	struct dead_data d;
};

FIXTURE_VARIANT(dead_send) {
	struct sdp_tp tp;
};

SDP_VARIANT(dead_send, sdp4, AF_INET_SDP, 0, AF_INET, false);
SDP_VARIANT(dead_send, sdp6, AF_INET6_SDP, 0, AF_INET6, false);

static void pairs_setup(struct __test_metadata *_metadata,
			struct dead_data *self, const struct sdp_tp *tp)
{
	int i;

	for (i = 0; i < NPAIR; i++) {
		self->cfd[i] = -1;
		self->sfd[i] = -1;
	}
	setup_common(_metadata);
	for (i = 0; i < NPAIR; i++) {
		ASSERT_EQ(0, pair_retry(tp, &self->cfd[i], &self->sfd[i], 0))
			TH_LOG("pair %d: %s", i, strerror(errno));
	}
	for (i = 0; i < NPAIR; i++) {
		EXPECT_TRUE(sdp_xfer(_metadata, self->cfd[i], self->sfd[i], 100,
				 10 + i));
		EXPECT_TRUE(sdp_xfer(_metadata, self->sfd[i], self->cfd[i], 100,
				 20 + i));
	}
}

static void pairs_teardown(struct __test_metadata *_metadata,
			   struct dead_data *self)
{
	unsigned long ino[2 * NPAIR];
	int i, n = 0;

	for (i = 0; i < NPAIR; i++) {
		if (self->cfd[i] >= 0)
			ino[n++] = ino_of(self->cfd[i]);
		if (self->sfd[i] >= 0)
			ino[n++] = ino_of(self->sfd[i]);
		close_abort(&self->cfd[i]);
		close_abort(&self->sfd[i]);
	}
	if (cut_undo())
		TH_LOG("could not undo cut_on()");
	/* Nothing may linger for what runs next (rmmod, for one). */
	if (n && proc_wait_gone(_metadata, ino, n, afib_tmo(5) * 1000))
		TH_LOG("closed sockets still in /proc/net/sdp");
}

FIXTURE_SETUP(dead)
{
	pairs_setup(_metadata, &self->d, &variant->tp);
}

FIXTURE_TEARDOWN(dead)
{
	pairs_teardown(_metadata, &self->d);
}

FIXTURE_SETUP(dead_send)
{
	pairs_setup(_metadata, &self->d, &variant->tp);
}

FIXTURE_TEARDOWN(dead_send)
{
	pairs_teardown(_metadata, &self->d);
}

/* A recv() or a poll() in a thread of its own. */
struct waiter {
	int fd;
	bool poll;
	int64_t t0;
	/* results */
	volatile bool done;
	ssize_t ret;
	int err;
	short revents;
	int64_t ms;		/* how long it waited */
	pthread_t th;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
	char buf[16];

	if (w->poll) {
		w->ret = poll(&pfd, 1, 600 * 1000);
		w->revents = pfd.revents;
	} else {
		w->ret = recv(w->fd, buf, sizeof(buf), 0);
	}
	w->err = errno;
	w->ms = afib_now_ms() - w->t0;
	w->done = true;
	return NULL;
}

/* Let what the pairs still had to say go out, then cut them off. */
static void settle_and_cut(struct __test_metadata *_metadata,
			   struct dead_data *self)
{
	int i;

	for (i = 0; i < NPAIR; i++) {
		EXPECT_EQ(0, sdp_wait_ioctl(self->cfd[i], SIOCOUTQ, 0,
					    AFIB_WAIT_MS));
		EXPECT_EQ(0, sdp_wait_ioctl(self->sfd[i], SIOCOUTQ, 0,
					    AFIB_WAIT_MS));
	}
	afib_msleep(200);
	ASSERT_EQ(0, cut_on(_metadata));
}

/*
 * With the peer cut off, wait up to @ms for a recv() on cfd[0] and a
 * poll() on cfd[1]: the recv() must fail, the poll() report POLLERR with
 * SO_ERROR set (cut_errno()).  The control pair 2 must not have noticed.
 */
static void expect_dead(struct __test_metadata *_metadata,
			const struct sdp_tp *tp, struct dead_data *self,
			int ms)
{
	/* Static: a thread that never returns may still write them. */
	static struct waiter w[2];
	int64_t t0 = afib_now_ms();
	int i, err, rev;

	for (i = 0; i < 2; i++) {
		w[i] = (struct waiter){ .fd = self->cfd[i], .poll = i == 1,
					.t0 = t0 };
		ASSERT_EQ(0, pthread_create(&w[i].th, NULL, waiter_fn, &w[i]));
	}
	for (i = 0; i < 2; i++) {
		if (afib_join(w[i].th, ms - (afib_now_ms() - t0))) {
			pthread_detach(w[i].th);
			EXPECT_TRUE(w[i].done)
				TH_LOG("%s still blocked %lld ms after the peer "
				       "was cut off", i ? "poll()" : "recv()",
				       (long long)(afib_now_ms() - t0));
		}
	}
	for (i = 0; i < 2; i++) {
		if (w[i].done)
			continue;
		err = sdp_getint(self->cfd[i], SOL_SOCKET, SO_ERROR);
		TH_LOG("pair %d: SO_ERROR %s, poll %#x, SIOCOUTQ %d, peer's "
		       "SIOCINQ %d", i, strerror(err),
		       afib_poll1(self->cfd[i], POLLIN | POLLOUT, 0),
		       sdp_ioctl(self->cfd[i], SIOCOUTQ),
		       sdp_ioctl(self->sfd[i], SIOCINQ));
	}
	if (w[0].done) {
		TH_LOG("recv(): %zd %s after %lld ms", w[0].ret,
		       strerror(w[0].err), (long long)w[0].ms);
		EXPECT_EQ(-1, w[0].ret);
		EXPECT_TRUE(cut_errno(tp, w[0].err))
			TH_LOG("recv(): %s", strerror(w[0].err));
	}
	if (w[1].done) {
		err = sdp_getint(self->cfd[1], SOL_SOCKET, SO_ERROR);
		TH_LOG("poll(): %zd revents %#x after %lld ms, SO_ERROR %s",
		       w[1].ret, w[1].revents, (long long)w[1].ms,
		       strerror(err));
		EXPECT_EQ(1, w[1].ret);
		EXPECT_TRUE(w[1].revents & POLLERR)
			TH_LOG("revents %#x", w[1].revents);
		EXPECT_TRUE(cut_errno(tp, err))
			TH_LOG("SO_ERROR %s", strerror(err));
		/* Given up for good: sending fails, nothing blocks. */
		errno = 0;
		EXPECT_EQ(-1, send(self->cfd[1], "x", 1, MSG_NOSIGNAL));
		EXPECT_TRUE(errno == EPIPE || cut_errno(tp, errno))
			TH_LOG("send after the timeout: %s", strerror(errno));
	}
	/* The idle control pair sent nothing, so it knows nothing. */
	for (i = 0; i < 2; i++) {
		int fd = i ? self->sfd[2] : self->cfd[2];

		rev = afib_poll1(fd, POLLIN, 0);
		err = sdp_getint(fd, SOL_SOCKET, SO_ERROR);
		EXPECT_EQ(0, rev) TH_LOG("idle %s without keepalive: revents "
					 "%#x", i ? "server" : "client", rev);
		EXPECT_EQ(0, err) TH_LOG("idle %s without keepalive: %s",
					 i ? "server" : "client",
					 strerror(err));
	}
}

/*
 * Keepalive finds a peer that is cut off: idle 1 s, then 2 probes 1 s
 * apart, about 3 s for TCP; 30 s is the bound.  Probes that the peer
 * answers change nothing.
 */
TEST_F_TIMEOUT(dead, keepalive, afib_tmo(120))
{
	struct dead_data *d = &self->d;
	int i;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, sdp_setint(d->cfd[i], SOL_SOCKET, SO_KEEPALIVE,
					1));
		ASSERT_EQ(0, sdp_setint(d->cfd[i], IPPROTO_TCP, TCP_KEEPIDLE,
					1));
		ASSERT_EQ(0, sdp_setint(d->cfd[i], IPPROTO_TCP,
					TCP_KEEPINTVL, 1));
		ASSERT_EQ(0, sdp_setint(d->cfd[i], IPPROTO_TCP, TCP_KEEPCNT,
					2));
	}
	/* A peer that answers: several probes later, all is well. */
	afib_msleep(3500);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, afib_poll1(d->cfd[i], POLLIN, 0));
		EXPECT_EQ(0, sdp_getint(d->cfd[i], SOL_SOCKET, SO_ERROR));
		EXPECT_TRUE(sdp_xfer(_metadata, d->cfd[i], d->sfd[i], 100, 30 + i));
		EXPECT_TRUE(sdp_xfer(_metadata, d->sfd[i], d->cfd[i], 100, 40 + i));
	}
	settle_and_cut(_metadata, d);
	expect_dead(_metadata, &variant->tp, d, afib_tmo(30) * 1000);
}

/*
 * No keepalive, but data in flight that never arrives: the send must
 * fail (retries that run out, or the dead QP), and the socket with it.
 */
TEST_F_TIMEOUT(dead_send, pending_send, afib_tmo(120))
{
	struct dead_data *d = &self->d;
	char buf[1000];
	int i;

	for (i = 0; i < NPAIR; i++) {
		EXPECT_EQ(0, sdp_getint(d->cfd[i], SOL_SOCKET, SO_KEEPALIVE));
	}
	settle_and_cut(_metadata, d);
	memset(buf, 'z', sizeof(buf));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(sizeof(buf), send(d->cfd[i], buf, sizeof(buf),
					    MSG_NOSIGNAL));
	}
	expect_dead(_metadata, &variant->tp, d, afib_tmo(30) * 1000);
	/* It never got there. */
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, sdp_ioctl(d->sfd[i], SIOCINQ));
	}
}

/* ---- a neighbour that never answers ---------------------------------- */

/*
 * A veth pair whose far end has no address: ARP and neighbour discovery
 * for UNREACH_IP4/UNREACH_IP6 go unanswered.  An rxe device on its near
 * end gives SDP the same path.
 */
#define UNREACH_DEV	"afu0"
#define UNREACH_PEER	"afu1"
#define UNREACH_RXE	"rxeu"
#define UNREACH_IP4	"198.51.100.2"
#define UNREACH_IP6	"2001:db8:1::2"

static void unreach_undo(void)
{
	afib_run_cmd("rdma link delete " UNREACH_RXE " 2>/dev/null",
		     afib_tmo(30) * 1000);
	afib_run_cmd("ip link delete " UNREACH_DEV " 2>/dev/null",
		     afib_tmo(10) * 1000);
}

FIXTURE(unreach) {
	int fd;
};

FIXTURE_VARIANT(unreach) {
	struct sdp_tp tp;
};

SDP_VARIANT(unreach, tcp4, AF_INET, 0, AF_INET, false);
SDP_VARIANT(unreach, tcp6, AF_INET6, 0, AF_INET6, false);
SDP_VARIANT(unreach, sdp4, AF_INET_SDP, 0, AF_INET, false);
SDP_VARIANT(unreach, sdp6, AF_INET6_SDP, 0, AF_INET6, false);

FIXTURE_SETUP(unreach)
{
	self->fd = -1;
	setup_common(_metadata);
	unreach_undo();
	ASSERT_EQ(0, afib_run_cmd(
		"ip link add " UNREACH_DEV " type veth peer name " UNREACH_PEER
		" && ip addr add 198.51.100.1/24 dev " UNREACH_DEV
		" && ip addr add 2001:db8:1::1/64 dev " UNREACH_DEV " nodad"
		" && ip link set " UNREACH_PEER " up"
		" && ip link set " UNREACH_DEV " up"
		" && rdma link add " UNREACH_RXE " type rxe netdev " UNREACH_DEV,
		afib_tmo(30) * 1000)) TH_LOG("cannot set up %s", UNREACH_DEV);
}

FIXTURE_TEARDOWN(unreach)
{
	afib_close(&self->fd);
	unreach_undo();
}

/*
 * Connecting to an address on a local subnet that nobody has: as TCP,
 * EHOSTUNREACH once address resolution gives up (TCP: 3 ARP or ND
 * probes, about 3 s; SDP: rdma_cm's resolution, 2 s), blocking or not,
 * then nothing is connected.
 */
TEST_F_TIMEOUT(unreach, connect_hostunreach, afib_tmo(120))
{
	const struct sdp_tp *tp = &variant->tp;
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t t0, dt;
	int rev, err;

	len = sdp_addr_host(tp, UNREACH_IP4, UNREACH_IP6, 9, &ss);
	self->fd = sdp_socket(tp, 0);
	ASSERT_LE(0, self->fd);
	t0 = afib_now_ms();
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	err = errno;
	dt = afib_now_ms() - t0;
	TH_LOG("blocking connect: %s after %lld ms", strerror(err),
	       (long long)dt);
	EXPECT_EQ(EHOSTUNREACH, err) TH_LOG("%s", strerror(err));
	EXPECT_GT(afib_tmo(20) * 1000, dt);
	EXPECT_EQ(0, sdp_getint(self->fd, SOL_SOCKET, SO_ERROR));
	afib_close(&self->fd);

	self->fd = sdp_socket(tp, SOCK_NONBLOCK);
	ASSERT_LE(0, self->fd);
	t0 = afib_now_ms();
	EXPECT_EQ(-1, connect(self->fd, (void *)&ss, len));
	EXPECT_EQ(EINPROGRESS, errno) TH_LOG("%s", strerror(errno));
	rev = afib_poll1(self->fd, POLLOUT, afib_tmo(20) * 1000);
	dt = afib_now_ms() - t0;
	TH_LOG("non-blocking connect: revents %#x after %lld ms", rev,
	       (long long)dt);
	EXPECT_TRUE(rev & POLLERR) TH_LOG("revents %#x", rev);
	/*
	 * TCP reports the error (waking the poller) a moment before it
	 * closes the socket, so its first wakeup may lack POLLOUT|POLLHUP;
	 * SDP settles the socket before it wakes anyone. POLLERR stays set,
	 * so a plain second poll() returns at once: wait for POLLHUP.
	 */
	if (!is_sdp(tp) && !(rev & POLLHUP))
		rev = sdp_wait_mask(self->fd, POLLOUT, POLLHUP, 1000);
	EXPECT_TRUE(rev & POLLOUT) TH_LOG("revents %#x", rev);
	EXPECT_TRUE(rev & POLLHUP) TH_LOG("revents %#x", rev);
	err = sdp_getint(self->fd, SOL_SOCKET, SO_ERROR);
	EXPECT_EQ(EHOSTUNREACH, err) TH_LOG("SO_ERROR %s", strerror(err));
	EXPECT_EQ(-1, send(self->fd, "x", 1, MSG_NOSIGNAL));
	EXPECT_TRUE(errno == EPIPE || errno == ENOTCONN)
		TH_LOG("send: %s", strerror(errno));
}

/* ---- device removal -------------------------------------------------- */

/* A call blocked on a socket, in a thread of its own. */
struct blocked {
	const char *what;
	int fd;
	int op;		/* OP_* */
	int max;
	int64_t t0;	/* when the removal started, set before it */
	pthread_t th;
	/* results */
	volatile bool done;
	ssize_t ret;	/* of the last call */
	int err;
	ssize_t first;	/* the writer: what the blocked send() returned */
	short revents;
	long bytes;
	int64_t ms;	/* returned that long after t0 */
};

enum { OP_RECV, OP_SEND, OP_ACCEPT, OP_POLL_OUT };

static void *blocked_fn(void *arg)
{
	struct blocked *b = arg;
	struct pollfd pfd = { .fd = b->fd, .events = POLLOUT };
	char *buf = calloc(1, b->max ?: 16);
	bool first = true;

	switch (b->op) {
	case OP_RECV:
		b->ret = recv(b->fd, buf, 16, 0);
		break;
	case OP_SEND:
		/* The first send() blocks; once it returns, go on. */
		while ((b->ret = send(b->fd, buf, b->max, MSG_NOSIGNAL)) > 0) {
			if (first)
				b->first = b->ret;
			first = false;
			b->bytes += b->ret;
		}
		if (first)
			b->first = b->ret;
		break;
	case OP_ACCEPT:
		b->ret = accept(b->fd, NULL, NULL);
		break;
	case OP_POLL_OUT:
		b->ret = poll(&pfd, 1, 600 * 1000);
		b->revents = pfd.revents;
		break;
	}
	b->err = errno;
	b->ms = afib_now_ms() - b->t0;
	b->done = true;
	free(buf);
	return NULL;
}

/* poll() @fd until it reports POLLERR or POLLHUP, at most @ms: revents. */
static int wait_err_hup(int fd, int ms)
{
	int64_t end = afib_now_ms() + ms;
	int rev;

	do {
		rev = afib_poll1(fd, POLLIN | POLLOUT, 50);
		if (rev > 0 && (rev & (POLLERR | POLLHUP)))
			break;
		afib_msleep(10);
	} while (afib_now_ms() < end);
	return rev;
}

static bool send_errno(int e)
{
	return e == EPIPE || e == ENODEV || e == ECONNRESET;
}

/* Send until send() would block, pausing once for what is in flight. */
static long fill(struct __test_metadata *_metadata, int fd)
{
	char *buf = calloc(1, SMALL_BUF);
	long sent = 0;
	ssize_t r;

	if (!buf)
		abort();
	while (sent < FILL_MAX) {
		r = send(fd, buf, SMALL_BUF, MSG_DONTWAIT);
		if (r < 0) {
			EXPECT_EQ(EAGAIN, errno) TH_LOG("filling: %s",
							strerror(errno));
			afib_msleep(100);
			r = send(fd, buf, SMALL_BUF, MSG_DONTWAIT);
			if (r < 0)
				break;
		}
		sent += r;
	}
	free(buf);
	return sent;
}

#define NCONN	3	/* connects to a listener with backlog 1 */
#define NSOCK	(8 + NCONN)

FIXTURE(dev) {
	int fd[NSOCK];		/* all of them, see the S_* */
};

/* self->fd[]: what each socket is. */
enum {
	S_LFD,		/* listener, accept() blocked on it */
	S_C1, S_S1,	/* idle pair */
	S_C2, S_S2,	/* c2: recv() blocked */
	S_C3, S_S3,	/* c3: send() blocked, s3 does not read */
	S_L2,		/* listener, backlog 1, does not accept */
	S_Q,		/* NCONN non-blocking connects to S_L2 */
};

static const char * const sock_name[NSOCK] = {
	"listener", "idle client", "idle server", "reader", "reader's peer",
	"writer", "writer's peer", "full listener", "connect 0", "connect 1",
	"connect 2",
};

FIXTURE_VARIANT(dev) {
	struct sdp_tp tp;
};

SDP_VARIANT(dev, sdp4, AF_INET_SDP, 0, AF_INET, false);
SDP_VARIANT(dev, sdp6, AF_INET6_SDP, 0, AF_INET6, false);

FIXTURE_SETUP(dev)
{
	int i;

	for (i = 0; i < NSOCK; i++)
		self->fd[i] = -1;
	setup_common(_metadata);
}

FIXTURE_TEARDOWN(dev)
{
	int i;

	for (i = 0; i < NSOCK; i++)
		afib_close(&self->fd[i]);
	/* Leave the device in place for whatever runs next. */
	if (!afib_dev_present() && afib_dev_add())
		TH_LOG("could not re-add %s", afib_devname());
}

/*
 * Everything that is to see the device go: returns the index (in
 * self->fd) of a connect still in progress.
 */
static int dev_prepare(struct __test_metadata *_metadata,
		       FIXTURE_DATA(dev) *self, const struct sdp_tp *tp)
{
	int *fd = self->fd, i, rev, n = 0, inp = -1;
	struct sockaddr_storage ss;
	struct proc_ent e;
	uint16_t port;
	socklen_t len;

	fd[S_LFD] = listener_retry(tp, 4, &port);
	if (fd[S_LFD] < 0)
		return -1;
	if (pair_retry(tp, &fd[S_C1], &fd[S_S1], 0) ||
	    pair_retry(tp, &fd[S_C2], &fd[S_S2], 0) ||
	    pair_retry(tp, &fd[S_C3], &fd[S_S3], SMALL_BUF)) {
		TH_LOG("pair: %s", strerror(errno));
		return -1;
	}
	/* The idle pair worked before. */
	EXPECT_TRUE(sdp_xfer(_metadata, fd[S_C1], fd[S_S1], 100000, 40));
	EXPECT_TRUE(sdp_xfer(_metadata, fd[S_S1], fd[S_C1], 100000, 41));
	EXPECT_GT(FILL_MAX, fill(_metadata, fd[S_C3]))
		TH_LOG("the receiver takes it all");

	/* Connects that a full backlog holds in progress. */
	fd[S_L2] = listener_retry(tp, 1, &port);
	if (fd[S_L2] < 0)
		return -1;
	len = sdp_addr(tp, port, &ss);
	for (i = S_Q; i < S_Q + NCONN; i++) {
		fd[i] = sdp_socket(tp, SOCK_NONBLOCK);
		if (fd[i] < 0)
			return -1;
		EXPECT_EQ(-1, connect(fd[i], (void *)&ss, len));
		EXPECT_EQ(EINPROGRESS, errno) TH_LOG("%s: %s", sock_name[i],
						     strerror(errno));
	}
	afib_poll1(fd[S_Q], POLLOUT, AFIB_WAIT_MS);
	afib_msleep(500 * afib_tmo(1));
	for (i = S_Q; i < S_Q + NCONN; i++) {
		rev = afib_poll1(fd[i], POLLOUT, 0);
		EXPECT_FALSE(rev & (POLLERR | POLLHUP))
			TH_LOG("%s failed: %#x %s", sock_name[i], rev,
			       strerror(sdp_getint(fd[i], SOL_SOCKET,
						   SO_ERROR)));
		if (!rev) {
			n++;
			if (inp < 0)
				inp = i;
		}
	}
	TH_LOG("%d of %d connects in progress", n, NCONN);
	if (inp < 0)
		return -1;
	EXPECT_EQ(-1, connect(fd[inp], (void *)&ss, len));
	EXPECT_EQ(EALREADY, errno) TH_LOG("connect again: %s",
					  strerror(errno));

	/* All listed, the connect in progress as SYN_SENT. */
	for (i = 0; i < NSOCK; i++) {
		EXPECT_EQ(1, proc_find(_metadata, ino_of(fd[i]), &e))
			TH_LOG("%s not in /proc/net/sdp", sock_name[i]);
	}
	if (proc_find(_metadata, ino_of(fd[inp]), &e) == 1)
		EXPECT_EQ(TCP_SYN_SENT, e.st)
			TH_LOG("connect in progress: %02X", e.st);
	return inp;
}

TEST_F_TIMEOUT(dev, remove_device, afib_tmo(180))
{
	const struct sdp_tp *tp = &variant->tp;
	int *fd = self->fd, i, n, rev, err, inp, all;
	static const int unseen[] = { S_S1, S_S2, S_S3, S_L2, S_Q, S_Q + 1,
				      S_Q + 2 };
	unsigned long ino[NSOCK];
	struct blocked b[4];
	struct proc_ent e;
	char cmd[128], c;
	int64_t t0;
	pid_t del;
	ssize_t r;

	inp = dev_prepare(_metadata, self, tp);
	ASSERT_LE(0, inp) TH_LOG("setting up failed");
	for (i = 0; i < NSOCK; i++)
		ino[i] = ino_of(fd[i]);

	b[0] = (struct blocked){ .what = "accept", .fd = fd[S_LFD],
				 .op = OP_ACCEPT };
	b[1] = (struct blocked){ .what = "recv", .fd = fd[S_C2],
				 .op = OP_RECV };
	b[2] = (struct blocked){ .what = "send", .fd = fd[S_C3],
				 .op = OP_SEND, .max = SMALL_BUF };
	b[3] = (struct blocked){ .what = "poll on the connect",
				 .fd = fd[inp], .op = OP_POLL_OUT };
	for (i = 0; i < 4; i++) {
		b[i].t0 = afib_now_ms();
		ASSERT_EQ(0, pthread_create(&b[i].th, NULL, blocked_fn, &b[i]));
	}
	afib_msleep(500 * afib_tmo(1));
	for (i = 0; i < 4; i++) {
		EXPECT_FALSE(b[i].done) TH_LOG("%s did not block: %zd %s",
					       b[i].what, b[i].ret,
					       strerror(b[i].err));
	}

	t0 = afib_now_ms();
	for (i = 0; i < 4; i++)
		b[i].t0 = t0;
	snprintf(cmd, sizeof(cmd), "rdma link delete %s", afib_devname());
	del = afib_run_async(cmd);
	ASSERT_LT(0, del);

	/* Every blocked call wakes up, promptly. */
	do {
		for (all = 1, i = 0; i < 4; i++)
			all &= b[i].done;
		if (!all)
			afib_msleep(10);
	} while (!all && afib_now_ms() - t0 < afib_tmo(30) * 1000);
	for (i = 0; i < 4; i++) {
		EXPECT_TRUE(b[i].done) TH_LOG("%s still blocked %lld ms after "
					      "the removal began", b[i].what,
					      (long long)(afib_now_ms() - t0));
		if (!b[i].done)
			continue;
		EXPECT_GE(afib_tmo(5) * 1000, b[i].ms)
			TH_LOG("%s took %lld ms to wake up", b[i].what,
			       (long long)b[i].ms);
		if (b[i].op == OP_POLL_OUT) {
			TH_LOG("%s: %zd, revents %#x after %lld ms", b[i].what,
			       b[i].ret, b[i].revents, (long long)b[i].ms);
			EXPECT_EQ(1, b[i].ret);
			EXPECT_TRUE(b[i].revents & (POLLERR | POLLHUP))
				TH_LOG("revents %#x", b[i].revents);
			continue;
		}
		TH_LOG("%s: %zd %s after %lld ms", b[i].what, b[i].ret,
		       strerror(b[i].err), (long long)b[i].ms);
		if (b[i].op == OP_SEND)
			TH_LOG("the blocked send() returned %zd", b[i].first);
		EXPECT_EQ(-1, b[i].ret);
		EXPECT_EQ(DEVREMOVE_ERRNO, b[i].err)
			TH_LOG("%s: %s", b[i].what, strerror(b[i].err));
	}

	/* The removal itself completes. */
	EXPECT_EQ(0, afib_wait_pid(del, afib_tmo(30) * 1000))
		TH_LOG("rdma link delete did not finish");
	TH_LOG("rdma link delete took %lld ms",
	       (long long)(afib_now_ms() - t0));
	EXPECT_FALSE(afib_dev_present());

	/* poll() tells event loops, on every socket. */
	for (i = 0; i < NSOCK; i++) {
		rev = wait_err_hup(fd[i], afib_tmo(5) * 1000);
		EXPECT_TRUE(rev > 0 && (rev & (POLLERR | POLLHUP)))
			TH_LOG("poll %s: revents %#x", sock_name[i], rev);
		if (proc_find(_metadata, ino[i], &e) == 1)
			TH_LOG("%s: revents %#x, in /proc/net/sdp %02X "
			       "%s:%04X %s:%04X", sock_name[i], rev, e.st,
			       e.local, e.lport, e.remote, e.rport);
	}
	/* SO_ERROR where no call took the error yet. */
	for (i = 0; i < (int)ARRAY_SIZE(unseen); i++) {
		err = sdp_getint(fd[unseen[i]], SOL_SOCKET, SO_ERROR);
		EXPECT_EQ(DEVREMOVE_ERRNO, err)
			TH_LOG("SO_ERROR %s: %s", sock_name[unseen[i]],
			       strerror(err));
	}
	/* Where the blocked call took it, TCP would leave 0. */
	for (i = 0; i < 3; i++) {
		err = sdp_getint(b[i].fd, SOL_SOCKET, SO_ERROR);
		EXPECT_TRUE(err == 0 || err == DEVREMOVE_ERRNO)
			TH_LOG("SO_ERROR after %s failed: %s", b[i].what,
			       strerror(err));
	}
	/* The first call on a socket nobody used reports it. */
	errno = 0;
	EXPECT_EQ(-1, recv(fd[S_C1], &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(DEVREMOVE_ERRNO, errno)
		TH_LOG("recv on the idle client: %s", strerror(errno));
	/* Sending fails everywhere, and blocks nowhere. */
	for (i = 0; i < NSOCK; i++) {
		if (i == S_LFD || i == S_L2)
			continue;
		errno = 0;
		EXPECT_EQ(-1, send(fd[i], "x", 1, MSG_NOSIGNAL));
		EXPECT_TRUE(send_errno(errno))
			TH_LOG("send on %s: %s", sock_name[i], strerror(errno));
	}
	/* The connections the full listener held are gone with it. */
	r = accept4(fd[S_L2], NULL, NULL, SOCK_NONBLOCK);
	TH_LOG("accept on the full listener: %zd %s", r,
	       r < 0 ? strerror(errno) : "");
	if (r >= 0) {
		EXPECT_EQ(-1, recv(r, &c, 1, MSG_DONTWAIT));
		EXPECT_TRUE(send_errno(errno)) TH_LOG("%s", strerror(errno));
		close(r);
	}

	/* close() does not wait for anything. */
	t0 = afib_now_ms();
	for (i = 0; i < NSOCK; i++)
		afib_close(&fd[i]);
	EXPECT_GT(afib_tmo(5) * 1000, afib_now_ms() - t0)
		TH_LOG("close() took %lld ms", (long long)(afib_now_ms() - t0));
	for (i = 0; i < 4; i++) {
		if (b[i].done)
			pthread_join(b[i].th, NULL);
		else
			pthread_detach(b[i].th);
	}
	/* The closed sockets are gone (before new inodes can reuse theirs). */
	n = proc_wait_gone(_metadata, ino, NSOCK, afib_tmo(5) * 1000);
	EXPECT_EQ(0, n) TH_LOG("%d closed sockets still in /proc/net/sdp", n);

	/* Back again: a new connection carries data. */
	ASSERT_EQ(0, afib_dev_add());
	ASSERT_EQ(0, pair_retry(tp, &fd[S_C1], &fd[S_S1], 0))
		TH_LOG("connect after re-adding %s: %s", afib_devname(),
		       strerror(errno));
	EXPECT_TRUE(sdp_xfer(_metadata, fd[S_C1], fd[S_S1], 100000, 42));
	EXPECT_TRUE(sdp_xfer(_metadata, fd[S_S1], fd[S_C1], 100000, 43));
	check_line(_metadata, tp, fd[S_C1], TCP_ESTABLISHED, true,
		   "new client");
	ino[0] = ino_of(fd[S_C1]);
	ino[1] = ino_of(fd[S_S1]);
	afib_close(&fd[S_C1]);
	afib_close(&fd[S_S1]);
	EXPECT_EQ(0, proc_wait_gone(_metadata, ino, 2, afib_tmo(5) * 1000));
}

TEST_HARNESS_MAIN
