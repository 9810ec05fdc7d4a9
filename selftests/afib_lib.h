/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the af_ib selftests.
 *
 * The tests run inside the test VM: dummy0 holds 192.0.2.1/24 and
 * 2001:db8::1/64, rxe0 sits on dummy0 and af_ib.ko is loaded.  Client and
 * server live in the same process and talk to the local address, so all
 * traffic loops through rxe.
 *
 * Environment overrides: AFIB_IPV4/AFIB_IP4, AFIB_IPV6/AFIB_IP6, AFIB_GID
 * (local addresses), AFIB_DEV/AFIB_RDMA_DEV (RDMA device name), AFIB_TIMEOUT_SCALE (multiplies every test
 * timeout and wait, for slow emulated or debug kernels).
 */
#ifndef AFIB_LIB_H
#define AFIB_LIB_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/af_ib.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"

/* Expected errno of socket(AF_IB, SOCK_DGRAM, 0): it works (afib_dgram.c). */
#define AFIB_DGRAM_ERRNO	0

/* Address families every fixture is run with. */
#define AFIB_VARIANTS(f)						\
	FIXTURE_VARIANT_ADD(f, ipv4) { .family = AF_INET };		\
	FIXTURE_VARIANT_ADD(f, ipv6) { .family = AF_INET6 };		\
	FIXTURE_VARIANT_ADD(f, sockaddr_ib) { .family = AF_IB }

static inline const char *afib_env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

/* tools/vm/run exports AFIB_IP4, AFIB_IP6 and AFIB_RDMA_DEV. */
static inline const char *afib_ip4(void)
{
	return afib_env("AFIB_IPV4", afib_env("AFIB_IP4", "192.0.2.1"));
}

static inline const char *afib_ip6(void)
{
	return afib_env("AFIB_IPV6", afib_env("AFIB_IP6", "2001:db8::1"));
}

static inline const char *afib_devname(void)
{
	return afib_env("AFIB_DEV", afib_env("AFIB_RDMA_DEV", "rxe0"));
}

/* Timeouts in seconds, scaled for slow kernels. */
static inline int afib_tmo(int seconds)
{
	int k = atoi(afib_env("AFIB_TIMEOUT_SCALE", "1"));

	return seconds * (k < 1 ? 1 : k);
}

/* A generous wait for something that should happen "soon", in ms. */
#define AFIB_WAIT_MS	(afib_tmo(15) * 1000)

static inline int64_t afib_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void afib_msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Fill @gid from @host: an IPv4 address becomes the IPv4-mapped GID
 * ::ffff:a.b.c.d (what RoCE uses), anything else is parsed as IPv6.
 */
static inline int afib_parse_gid(const char *host, struct ib_addr *gid)
{
	struct in_addr a4;

	memset(gid, 0, sizeof(*gid));
	if (inet_pton(AF_INET, host, &a4) == 1) {
		gid->sib_addr32[2] = htonl(0xffff);
		gid->sib_addr32[3] = a4.s_addr;
		return 0;
	}
	return inet_pton(AF_INET6, host, gid->sib_raw) == 1 ? 0 : -1;
}

/*
 * Build an address of @family for @host (NULL: the local test address,
 * "any": the wildcard) and @port.
 */
static inline socklen_t afib_addr_host(int family, const char *host,
				       uint16_t port,
				       struct sockaddr_storage *ss)
{
	bool any = host && !strcmp(host, "any");

	memset(ss, 0, sizeof(*ss));
	switch (family) {
	case AF_INET: {
		struct sockaddr_in *sin = (void *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (any)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host ?: afib_ip4(),
				   &sin->sin_addr) != 1)
			abort();
		return sizeof(*sin);
	}
	case AF_INET6: {
		struct sockaddr_in6 *sin6 = (void *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (any)
			sin6->sin6_addr = in6addr_any;
		else if (inet_pton(AF_INET6, host ?: afib_ip6(),
				   &sin6->sin6_addr) != 1)
			abort();
		return sizeof(*sin6);
	}
	case AF_IB: {
		struct sockaddr_ib *sib = (void *)ss;

		sib->sib_family = AF_IB;
		sib->sib_sid = htobe64(AFIB_SID_PS_TCP | port);
		sib->sib_sid_mask = htobe64(~0ULL);
		if (!any &&
		    afib_parse_gid(host ?: afib_env("AFIB_GID", afib_ip4()),
				   &sib->sib_addr))
			abort();
		return sizeof(*sib);
	}
	}
	abort();
}

static inline socklen_t afib_addr(int family, uint16_t port,
				  struct sockaddr_storage *ss)
{
	return afib_addr_host(family, NULL, port, ss);
}

static inline socklen_t afib_addr_len(int family)
{
	switch (family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	case AF_IB:
		return sizeof(struct sockaddr_ib);
	}
	return 0;
}

/* Port of an address, -1 if the family is not one of ours. */
static inline int afib_port_of(const void *addr)
{
	const struct sockaddr *sa = addr;

	switch (sa->sa_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)addr)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	case AF_IB:
		return be64toh(((const struct sockaddr_ib *)addr)->sib_sid) &
		       0xffff;
	}
	return -1;
}

/*
 * Same family, same host address and same port (sockaddr_ib: same GID and
 * same service ID).  Flow labels, scope ids, P_Keys and masks are ignored.
 */
static inline bool afib_same_addr(const void *a, const void *b)
{
	const struct sockaddr *x = a, *y = b;

	if (x->sa_family != y->sa_family)
		return false;
	switch (x->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *p = a, *q = b;

		return p->sin_port == q->sin_port &&
		       p->sin_addr.s_addr == q->sin_addr.s_addr;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *p = a, *q = b;

		return p->sin6_port == q->sin6_port &&
		       !memcmp(&p->sin6_addr, &q->sin6_addr, 16);
	}
	case AF_IB: {
		const struct sockaddr_ib *p = a, *q = b;

		return p->sib_sid == q->sib_sid &&
		       !memcmp(&p->sib_addr, &q->sib_addr, 16);
	}
	}
	return false;
}

/* Human readable address, for logs.  Uses a static buffer ring. */
static inline const char *afib_ntop(const void *addr)
{
	static char ring[4][128];
	static int idx;
	char *buf = ring[idx++ & 3];
	const struct sockaddr *sa = addr;
	char h[INET6_ADDRSTRLEN];

	switch (sa->sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr,
			  h, sizeof(h));
		snprintf(buf, 128, "%s:%d", h, afib_port_of(addr));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)addr)->sin6_addr,
			  h, sizeof(h));
		snprintf(buf, 128, "[%s]:%d", h, afib_port_of(addr));
		break;
	case AF_IB: {
		const struct sockaddr_ib *sib = addr;

		inet_ntop(AF_INET6, sib->sib_addr.sib_raw, h, sizeof(h));
		snprintf(buf, 128, "ib[%s]sid=%#llx", h,
			 (unsigned long long)be64toh(sib->sib_sid));
		break;
	}
	default:
		snprintf(buf, 128, "family=%d", sa->sa_family);
	}
	return buf;
}

static inline int afib_socket(int flags)
{
	return socket(AF_IB, SOCK_SEQPACKET | flags, 0);
}

static inline int afib_getport(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (void *)&ss, &len))
		return -1;
	return afib_port_of(&ss);
}

/*
 * Listening socket bound to the local test address of @family, port 0.
 * Returns the fd (port in *@port) or -1 with errno set.
 */
static inline int afib_listener(int family, int backlog, int flags,
				uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(family, 0, &ss);
	int fd = afib_socket(flags), p, e;

	if (fd < 0)
		return -1;
	if (bind(fd, (void *)&ss, len) || listen(fd, backlog))
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
static inline int afib_connect(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = afib_addr(family, port, &ss);
	int fd = afib_socket(0), e;

	if (fd < 0)
		return -1;
	if (connect(fd, (void *)&ss, len)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * A connected pair over the local test address of @family: a listener
 * (backlog @backlog), a client connected to it (*@cfd) and the server end
 * accept() returned (*@sfd).  With @lfd the listener stays open in *@lfd,
 * else it is closed; its port goes to *@port if @port is not NULL.
 * Returns 0, or -1 with errno set, all three fds -1 and *@step (if @step
 * is not NULL) naming the call that failed: "listener", "connect" or
 * "accept".
 */
static inline int afib_pair(int family, int *cfd, int *sfd, int *lfd,
			    uint16_t *port, int backlog, const char **step)
{
	const char *what = "listener";
	uint16_t p;
	int l, e;

	*cfd = *sfd = -1;
	if (lfd)
		*lfd = -1;
	l = afib_listener(family, backlog, 0, &p);
	if (l < 0)
		goto err;
	what = "connect";
	*cfd = afib_connect(family, p);
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
	if (*cfd >= 0)
		close(*cfd);
	if (l >= 0)
		close(l);
	*cfd = -1;
	if (step)
		*step = what;
	errno = e;
	return -1;
}

static inline void afib_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Close what afib_pair() opened (@lfd may be NULL), client end first. */
static inline void afib_pair_close(int *cfd, int *sfd, int *lfd)
{
	afib_close(cfd);
	afib_close(sfd);
	if (lfd)
		afib_close(lfd);
}

/* poll() one fd; returns revents, 0 on timeout, -1 on error. */
static inline int afib_poll1(int fd, short events, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret;

	do {
		ret = poll(&pfd, 1, ms);
	} while (ret < 0 && errno == EINTR);
	if (ret <= 0)
		return ret;
	return pfd.revents;
}

/*
 * Wait until the connection is gone in both directions (POLLHUP).  Like
 * TCP between FIN and RST, a send right after EOF may still succeed.
 */
static inline int afib_wait_hup(int fd)
{
	int64_t end = afib_now_ms() + AFIB_WAIT_MS;
	int rev;

	do {
		rev = afib_poll1(fd, POLLIN | POLLRDHUP, 100);
		if (rev & (POLLHUP | POLLERR))
			return rev;
	} while (afib_now_ms() < end);
	return rev;
}

/* Deterministic payload: byte i of message @seed. */
static inline uint8_t afib_byte(uint32_t seed, size_t i)
{
	uint32_t x = seed * 2654435761u + (uint32_t)i * 40503u;

	x ^= x >> 13;
	return (uint8_t)(x ^ (x >> 7) ^ (i >> 8));
}

static inline void afib_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = afib_byte(seed, i);
}

/* Offset of the first bad byte, or -1 if @buf holds message @seed. */
static inline long afib_check(const void *buf, size_t len, uint32_t seed)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != afib_byte(seed, i))
			return i;
	return -1;
}

static inline uint32_t afib_csum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t a = 1, b = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		a = (a + p[i]) % 65521;
		b = (b + a) % 65521;
	}
	return (b << 16) | a;
}

/* A page that is guaranteed to be unmapped. */
static inline void *afib_bad_ptr(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		abort();
	munmap(p, pg);
	return p;
}

static inline int afib_max_msg(int fd)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, SOL_AFIB, AFIB_MAX_MSG_SIZE, &v, &l))
		return -1;
	return v;
}

/*
 * pthread_join() @th if it ends within @ms: 0, else ETIMEDOUT and @th
 * still runs.
 */
static inline int afib_join(pthread_t th, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(th, NULL, &ts);
}

/* One send() (@tx) or recv() in a thread of its own: afib_io_start(). */
struct afib_io {
	int fd;
	bool tx;
	void *buf;
	size_t len;
	int flags;
	/* results */
	ssize_t ret;
	int err;
	pthread_t th;
};

static inline void *afib_io_fn(void *arg)
{
	struct afib_io *io = arg;

	if (io->tx)
		io->ret = send(io->fd, io->buf, io->len, io->flags);
	else
		io->ret = recv(io->fd, io->buf, io->len, io->flags);
	io->err = errno;
	return NULL;
}

/* 0, or an errno from pthread_create(). */
static inline int afib_io_start(struct afib_io *io)
{
	return pthread_create(&io->th, NULL, afib_io_fn, io);
}

/*
 * A page that blocks whoever touches it first, the kernel included, until
 * the test resolves the fault: one anonymous page registered with a
 * userfaultfd for missing-page faults.  No UFFD_USER_MODE_ONLY, so the
 * copy_to_user()/copy_from_user() of a system call blocks as well (that
 * needs CAP_SYS_PTRACE where vm.unprivileged_userfaultfd is 0: root).
 */
struct afib_uffd {
	int fd;
	char *page;
	size_t size;		/* of @page */
	uint64_t fault;		/* address afib_uffd_wait() saw fault */
};

static inline void afib_uffd_close(struct afib_uffd *u)
{
	if (u->page && u->page != MAP_FAILED)
		munmap(u->page, u->size);
	u->page = NULL;
	afib_close(&u->fd);
}

/*
 * Returns 0, or -1 with errno set (ENOSYS: the kernel has no
 * CONFIG_USERFAULTFD).
 */
static inline int afib_uffd_open(struct afib_uffd *u)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int e;

	u->size = sysconf(_SC_PAGESIZE);
	u->page = NULL;
	u->fault = 0;
	u->fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->fd < 0)
		return -1;
	if (ioctl(u->fd, UFFDIO_API, &api))
		goto err;
	u->page = mmap(NULL, u->size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->page == MAP_FAILED)
		goto err;
	reg.range.start = (uintptr_t)u->page;
	reg.range.len = u->size;
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg))
		goto err;
	if (!(reg.ioctls & (1ULL << _UFFDIO_COPY))) {
		errno = EOPNOTSUPP;
		goto err;
	}
	return 0;
err:
	e = errno;
	afib_uffd_close(u);
	errno = e;
	return -1;
}

/*
 * Wait up to @ms for someone to fault on the page (the fault stays
 * unresolved).  Returns 0, or -1 with errno set (ETIMEDOUT).
 */
static inline int afib_uffd_wait(struct afib_uffd *u, int ms)
{
	int64_t end = afib_now_ms() + ms, left;
	struct uffd_msg msg;
	ssize_t n;

	for (;;) {
		n = read(u->fd, &msg, sizeof(msg));
		if (n == sizeof(msg) && msg.event == UFFD_EVENT_PAGEFAULT) {
			u->fault = msg.arg.pagefault.address;
			return 0;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		left = end - afib_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		afib_poll1(u->fd, POLLIN, left);
	}
}

/*
 * Resolve the fault: map the page with a copy of @src (u->size bytes) and
 * wake whoever waits for it.  0, or -1 with errno set.
 */
static inline int afib_uffd_resolve(struct afib_uffd *u, const void *src)
{
	struct uffdio_copy copy = {
		.dst = (uintptr_t)u->page,
		.src = (uintptr_t)src,
		.len = u->size,
	};

	return ioctl(u->fd, UFFDIO_COPY, &copy) ? -1 : 0;
}

/* ---- the device and commands (the destructive tests) ----------------- */

static inline const char *afib_netdev(void)
{
	return afib_env("RXE_NETDEV", afib_env("AFIB_NETDEV", "dummy0"));
}

static inline bool afib_dev_present(void)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s",
		 afib_devname());
	return access(path, F_OK) == 0;
}

/* Run a shell command in the background; returns its pid. */
static inline pid_t afib_run_async(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Exit status of @pid, -1 if it did not end within @ms. */
static inline int afib_wait_pid(pid_t pid, int ms)
{
	int64_t end = afib_now_ms() + ms;
	int status;

	do {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		afib_msleep(20);
	} while (afib_now_ms() < end);
	return -1;
}

/* Run @cmd, killed after @ms: its exit status, -1 if it was killed. */
static inline int afib_run_cmd(const char *cmd, int ms)
{
	pid_t pid = afib_run_async(cmd);
	int ret = pid < 0 ? -1 : afib_wait_pid(pid, ms);

	if (ret == -1 && pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return ret;
}

/* Put the device back on its netdev (rdma link add). */
static inline int afib_dev_add(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rdma link add %s type rxe netdev %s",
		 afib_devname(), afib_netdev());
	return afib_run_cmd(cmd, afib_tmo(30) * 1000);
}

/* ---- a peer with TCP but no SDP path: the "silent" network namespace -- */

/*
 * A network namespace reached over a veth pair, with an rxe device on our
 * end: TCP reaches AFIB_SILENT_IP4/IP6, but rxe's UDP socket lives in the
 * initial namespace, so nothing in there answers a connection request
 * and an SDP attempt hears nothing (no refusal, no unreachable).
 */
#define AFIB_SILENT_NS		"afsilent"
#define AFIB_SILENT_IP4		"203.0.113.2"
#define AFIB_SILENT_IP6		"2001:db8:3::2"

static inline void afib_silent_undo(void)
{
	afib_run_cmd("rdma link delete afsil0rxe 2>/dev/null; "
		     "ip link delete afsil0 2>/dev/null; "
		     "ip netns delete " AFIB_SILENT_NS " 2>/dev/null",
		     afib_tmo(30) * 1000);
}

/*
 * Wait until TCP gets an answer (a reset from port 9) from @host: the
 * links are up and the neighbour is known.  0, or -1 after @ms.
 */
static inline int afib_tcp_answers(int family, const char *host, int ms)
{
	int64_t end = afib_now_ms() + ms;
	struct sockaddr_storage ss;
	socklen_t len = afib_addr_host(family, host, 9, &ss);
	int fd, err;

	do {
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -1;
		err = connect(fd, (void *)&ss, len) ? errno : 0;
		if (err == EINPROGRESS && afib_poll1(fd, POLLOUT, 500) > 0) {
			len = sizeof(err);
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		}
		close(fd);
		if (err == ECONNREFUSED)
			return 0;
		afib_msleep(100);
	} while (afib_now_ms() < end);
	return -1;
}

/* Set the namespace up and wait for it to answer; 0 or -1. */
static inline int afib_silent_setup(void)
{
	afib_silent_undo();
	if (afib_run_cmd(
		"ip netns add " AFIB_SILENT_NS
		" && ip link add afsil0 type veth peer name afsil1"
		" && ip link set afsil1 netns " AFIB_SILENT_NS
		" && ip addr add 203.0.113.1/24 dev afsil0"
		" && ip addr add 2001:db8:3::1/64 dev afsil0 nodad"
		" && ip link set afsil0 up"
		" && ip -n " AFIB_SILENT_NS " addr add " AFIB_SILENT_IP4
		"/24 dev afsil1"
		" && ip -n " AFIB_SILENT_NS " addr add " AFIB_SILENT_IP6
		"/64 dev afsil1 nodad"
		" && ip -n " AFIB_SILENT_NS " link set afsil1 up"
		" && ip -n " AFIB_SILENT_NS " link set lo up"
		" && rdma link add afsil0rxe type rxe netdev afsil0",
		afib_tmo(30) * 1000))
		return -1;
	return afib_tcp_answers(AF_INET, AFIB_SILENT_IP4, afib_tmo(10) * 1000) ?:
	       afib_tcp_answers(AF_INET6, AFIB_SILENT_IP6,
				afib_tmo(10) * 1000);
}

/*
 * A TCP listener inside the namespace, on AFIB_SILENT_IP4 or _IP6 (the
 * wildcard of @family, so that IPv4-mapped clients reach it too); a
 * socket keeps the namespace it was made in.  Its fd, or -1.
 */
static inline int afib_silent_listener(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	int self, ns, fd = -1, one = 1;
	socklen_t len;

	self = open("/proc/self/ns/net", O_RDONLY);
	ns = open("/var/run/netns/" AFIB_SILENT_NS, O_RDONLY);
	if (self < 0 || ns < 0 || setns(ns, CLONE_NEWNET))
		goto out;
	fd = socket(family, SOCK_STREAM, 0);
	len = afib_addr_host(family, "any", port, &ss);
	if (fd >= 0 &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	     bind(fd, (void *)&ss, len) || listen(fd, 16))) {
		close(fd);
		fd = -1;
	}
	if (setns(self, CLONE_NEWNET)) {
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
out:
	if (self >= 0)
		close(self);
	if (ns >= 0)
		close(ns);
	return fd;
}

#endif /* AFIB_LIB_H */
