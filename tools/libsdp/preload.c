// SPDX-License-Identifier: GPL-2.0
/*
 * libsdp.so: run unmodified TCP programs over SDP (LD_PRELOAD).
 *
 * Model.  socket(AF_INET/AF_INET6, SOCK_STREAM, 0|IPPROTO_TCP) still
 * creates a TCP socket, and the fd is remembered as a candidate.  Which
 * transport it gets depends on an address the program gives later, so the
 * choice is made then, by the rules of libsdp.conf (config.c):
 *
 *   listen()    server rules, on the address the socket is bound to;
 *   connect()   client rules, on the destination.
 *
 * "sdp" creates an SDP socket (family AF_INET_SDP/AF_INET6_SDP), gives it
 * the socket options the program set (recorded by setsockopt()), the local
 * address the program bound, and the program's O_NONBLOCK, O_ASYNC and
 * FD_CLOEXEC, then puts it at the program's fd number with dup3(), which
 * closes the TCP socket.  "tcp" forgets the fd.  "both" on a server keeps
 * the TCP listener and adds a shadow SDP listener on the same address and
 * port (rdma_cm's port space is not the kernel's, so both can have it);
 * accept(), poll(), select() and epoll_ctl() on the program's fd take the
 * shadow into account.  "both" on a client tries SDP first, for at most
 * LIBSDP_CONNECT_TIMEOUT ms, and keeps TCP when that fails.
 *
 * State.  One fixed-size entry per fd number (fds beyond LIBSDP_MAX_FDS
 * stay TCP), written by the thread that owns the fd, published with
 * atomic stores; nothing here allocates or takes a lock, so the wrappers
 * are as async-signal-safe as the calls they wrap.  Entries are dropped
 * before close() so that a racing socket() cannot lose its new entry.
 * fork() copies the table with the fds; exec() starts afresh, and
 * LD_PRELOAD and LIBSDP_* carry the settings on.
 *
 * errno: every wrapper returns with the errno of the call the program
 * asked for; what libsdp tried underneath is not visible.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "libsdp.h"

#ifndef AF_INET_SDP
#define AF_INET_SDP	27	/* include/uapi/linux/af_ib.h */
#define AF_INET6_SDP	28
#endif

#ifndef LIBSDP_SYSCONFDIR
#define LIBSDP_SYSCONFDIR "/usr/local/etc"
#endif

#define LIBSDP_MAX_FDS	65536
#define LIBSDP_MAX_OPTS	12
#define LIBSDP_OPT_LEN	16
#define LIBSDP_CONNECT_TIMEOUT_MS 3000

enum sdp_fd_state {
	SDP_FD_NONE,		/* not ours: a plain fd, or decided for TCP */
	SDP_FD_CANDIDATE,	/* a TCP socket whose transport is open */
	SDP_FD_SDP,		/* swapped for an SDP socket */
	SDP_FD_BOTH,		/* TCP listener with a shadow SDP listener */
};

struct sdp_opt {
	int level, name;
	socklen_t len;
	unsigned char val[LIBSDP_OPT_LEN];
};

struct sdp_fd {
	int state;		/* enum sdp_fd_state, atomic */
	int domain, proto;
	int shadow;		/* SDP_FD_BOTH: the SDP listener's fd */
	int nopts;
	struct sdp_opt opts[LIBSDP_MAX_OPTS];
};

static struct sdp_fd sdp_fds[LIBSDP_MAX_FDS];
static struct sdp_config sdp_cfg;
static int sdp_force = SDP_MODE_NONE;	/* LIBSDP_FORCE, SIMPLE_LIBSDP */
static int sdp_connect_timeout = LIBSDP_CONNECT_TIMEOUT_MS;
static int sdp_log_fd = -1;
static int sdp_inited;

static int (*real_socket)(int, int, int);
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_close)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_fcntl64)(int, int, ...);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_ppoll)(struct pollfd *, nfds_t, const struct timespec *,
			 const sigset_t *);
static int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
static int (*real_pselect)(int, fd_set *, fd_set *, fd_set *,
			   const struct timespec *, const sigset_t *);
static int (*real_epoll_ctl)(int, int, int, struct epoll_event *);

/* ---- logging ------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static void sdp_log(int level, const char *fmt, ...)
{
	int saved = errno, n, m;
	char buf[512];
	va_list ap;

	if (level < sdp_cfg.log_level)
		return;
	n = snprintf(buf, sizeof(buf), "libsdp[%d] %s: ", (int)getpid(),
		     program_invocation_short_name);
	if (n < 0 || n >= (int)sizeof(buf))
		n = 0;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	switch (sdp_cfg.log_dest) {
	case SDP_LOG_SYSLOG:
		buf[n - 1] = '\0';
		syslog(level >= SDP_LOG_ERR ? LOG_ERR :
		       level >= SDP_LOG_WARN ? LOG_WARNING :
		       level >= SDP_LOG_INFO ? LOG_INFO : LOG_DEBUG, "%s", buf);
		break;
	case SDP_LOG_FILE:
		if (sdp_log_fd >= 0 && write(sdp_log_fd, buf, n) == n)
			break;
		/* fall through */
	default:
		if (write(STDERR_FILENO, buf, n) < 0)
			break;
	}
	errno = saved;
}

static const char *sdp_addr_str(const struct sockaddr *sa, char *buf,
				size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
		snprintf(buf, len, "%s:%u", a, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, len, "[%s]:%u", a, port);
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
	return buf;
}

/* ---- initialisation -------------------------------------------------- */

#define SDP_RESOLVE(name) do {						\
	if (!real_##name)						\
		real_##name = dlsym(RTLD_NEXT, #name);			\
} while (0)

static void sdp_resolve(void)
{
	SDP_RESOLVE(socket);
	SDP_RESOLVE(bind);
	SDP_RESOLVE(listen);
	SDP_RESOLVE(connect);
	SDP_RESOLVE(accept);
	SDP_RESOLVE(accept4);
	SDP_RESOLVE(close);
	SDP_RESOLVE(dup);
	SDP_RESOLVE(dup2);
	SDP_RESOLVE(dup3);
	SDP_RESOLVE(fcntl);
	SDP_RESOLVE(fcntl64);
	SDP_RESOLVE(setsockopt);
	SDP_RESOLVE(getsockopt);
	SDP_RESOLVE(poll);
	SDP_RESOLVE(ppoll);
	SDP_RESOLVE(select);
	SDP_RESOLVE(pselect);
	SDP_RESOLVE(epoll_ctl);
	if (!real_fcntl64)
		real_fcntl64 = real_fcntl;
}

/*
 * Bad lines are reported once the whole file is read: a "log" line may
 * come after them and say where reports go.
 */
#define SDP_MAX_REPORTS	16
static char sdp_reports[SDP_MAX_REPORTS][320];
static int sdp_nreports;

static void sdp_report(void *arg, const char *path, int line, const char *msg)
{
	(void)arg;
	if (sdp_nreports < SDP_MAX_REPORTS)
		snprintf(sdp_reports[sdp_nreports], sizeof(sdp_reports[0]),
			 "%s:%d: %s; line ignored", path, line, msg);
	sdp_nreports++;
}

static void sdp_flush_reports(void)
{
	int i;

	for (i = 0; i < sdp_nreports && i < SDP_MAX_REPORTS; i++)
		sdp_log(SDP_LOG_ERR, "%s", sdp_reports[i]);
	if (sdp_nreports > SDP_MAX_REPORTS)
		sdp_log(SDP_LOG_ERR, "%d more bad lines",
			sdp_nreports - SDP_MAX_REPORTS);
}

static int sdp_mode_parse(const char *s)
{
	if (!s || !*s)
		return SDP_MODE_NONE;
	if (!strcmp(s, "sdp"))
		return SDP_MODE_SDP;
	if (!strcmp(s, "tcp"))
		return SDP_MODE_TCP;
	if (!strcmp(s, "both"))
		return SDP_MODE_BOTH;
	return -1;
}

__attribute__((constructor))
static void sdp_init(void)
{
	const char *path, *s;
	int saved = errno;

	if (sdp_inited)
		return;
	sdp_inited = 1;
	sdp_resolve();
	sdp_config_init(&sdp_cfg);
	path = getenv("LIBSDP_CONFIG_FILE");
	if (!path || !*path)
		path = LIBSDP_SYSCONFDIR "/libsdp.conf";
	if (sdp_config_load(&sdp_cfg, path, sdp_report, NULL))
		sdp_log(SDP_LOG_WARN, "cannot read %s: %s; using SDP for "
			"every socket", path, strerror(errno));
	s = getenv("LIBSDP_LOG_LEVEL");	/* the environment wins */
	if (s && *s)
		sdp_cfg.log_level = atoi(s);
	if (sdp_cfg.log_dest == SDP_LOG_FILE) {
		int fd = open(sdp_cfg.log_path, O_WRONLY | O_APPEND | O_CREAT |
			      O_CLOEXEC, 0644);

		/* Out of the way of programs that expect fds 0-2 free. */
		if (fd >= 0) {
			sdp_log_fd = real_fcntl(fd, F_DUPFD_CLOEXEC, 100);
			real_close(fd);
		}
	} else if (sdp_cfg.log_dest == SDP_LOG_SYSLOG) {
		openlog("libsdp", LOG_PID, LOG_USER);
	}
	sdp_flush_reports();
	if (getenv("SIMPLE_LIBSDP") || getenv("ALWAYS_USE_SDP"))
		sdp_force = SDP_MODE_SDP;
	s = getenv("LIBSDP_FORCE");
	if (s && *s) {
		int m = sdp_mode_parse(s);

		if (m < 0)
			sdp_log(SDP_LOG_ERR, "LIBSDP_FORCE=%s: not sdp, tcp or "
				"both; ignored", s);
		else
			sdp_force = m;
	}
	s = getenv("LIBSDP_CONNECT_TIMEOUT");
	if (s && *s && atoi(s) > 0)
		sdp_connect_timeout = atoi(s);
	sdp_log(SDP_LOG_DEBUG, "config %s: %d rules, %d bad lines, force %s",
		path, sdp_cfg.nrules, sdp_cfg.errors, sdp_mode_name(sdp_force));
	errno = saved;
}

/* Called by every wrapper: another constructor may use sockets first. */
static inline void sdp_ready(void)
{
	if (__builtin_expect(!real_close, 0))
		sdp_resolve();
}

/* ---- the fd table -------------------------------------------------- */

static inline struct sdp_fd *sdp_fd(int fd)
{
	if (fd < 0 || fd >= LIBSDP_MAX_FDS)
		return NULL;
	return &sdp_fds[fd];
}

static inline int sdp_fd_state(int fd)
{
	struct sdp_fd *e = sdp_fd(fd);

	return e ? __atomic_load_n(&e->state, __ATOMIC_ACQUIRE) : SDP_FD_NONE;
}

static inline void sdp_fd_set_state(struct sdp_fd *e, int state)
{
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
}

/* Is another fd number a BOTH entry with this shadow (a dup)? */
static int sdp_shadow_shared(int fd, int shadow)
{
	int i;

	for (i = 0; i < LIBSDP_MAX_FDS; i++)
		if (i != fd && sdp_fd_state(i) == SDP_FD_BOTH &&
		    sdp_fds[i].shadow == shadow)
			return 1;
	return 0;
}

/* @fd is about to be closed or replaced: forget it, and its shadow. */
static void sdp_fd_drop(int fd)
{
	struct sdp_fd *e = sdp_fd(fd);
	int state, shadow;

	if (!e)
		return;
	state = __atomic_exchange_n(&e->state, SDP_FD_NONE, __ATOMIC_ACQ_REL);
	if (state == SDP_FD_BOTH) {
		shadow = e->shadow;
		if (!sdp_shadow_shared(fd, shadow))
			real_close(shadow);
	}
}

/* @dst is a dup of @src. */
static void sdp_fd_copy(int src, int dst)
{
	struct sdp_fd *s = sdp_fd(src), *d = sdp_fd(dst);
	int state = sdp_fd_state(src);

	if (!d)
		return;
	if (!s || state == SDP_FD_NONE) {
		sdp_fd_set_state(d, SDP_FD_NONE);
		return;
	}
	d->domain = s->domain;
	d->proto = s->proto;
	d->shadow = s->shadow;
	d->nopts = s->nopts;
	memcpy(d->opts, s->opts, sizeof(d->opts[0]) * s->nopts);
	sdp_fd_set_state(d, state);
}

/* ---- swapping ---------------------------------------------------------- */

static int sdp_family(int domain)
{
	return domain == AF_INET6 ? AF_INET6_SDP : AF_INET_SDP;
}

/* A new SDP socket for candidate @e with the options the program set. */
static int sdp_make(const struct sdp_fd *e)
{
	int s, i;

	s = real_socket(sdp_family(e->domain), SOCK_STREAM | SOCK_CLOEXEC,
			e->proto);
	if (s < 0)
		return -1;
	for (i = 0; i < e->nopts; i++) {
		const struct sdp_opt *o = &e->opts[i];

		if (real_setsockopt(s, o->level, o->name, o->val, o->len))
			sdp_log(SDP_LOG_DEBUG, "option %d/%d not carried over: %s",
				o->level, o->name, strerror(errno));
	}
	return s;
}

/*
 * Bind @s where @fd is bound, if the program bound it (a port or an
 * address), or always with @always.
 */
static int sdp_bind_like(int s, int fd, int always)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int bound;

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (void *)&ss;

		bound = sin->sin_port || sin->sin_addr.s_addr != htonl(INADDR_ANY);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (void *)&ss;

		bound = sin6->sin6_port ||
			!IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
	} else {
		return 0;
	}
	if (!bound && !always)
		return 0;
	return real_bind(s, (struct sockaddr *)&ss, len);
}

/*
 * Put SDP socket @s at @fd's number with @fd's O_NONBLOCK, O_ASYNC, owner
 * and FD_CLOEXEC.  @s is consumed.  Return: 0, or -1 with errno.
 */
static int sdp_swap(int fd, int s)
{
	int fl = real_fcntl(fd, F_GETFL);
	int fdfl = real_fcntl(fd, F_GETFD);
	int own = real_fcntl(fd, F_GETOWN);
	int r, e;

	if (fl < 0 || fdfl < 0)
		goto err;
	if (own > 0)
		real_fcntl(s, F_SETOWN, own);
	if (real_fcntl(s, F_SETFL, fl & (O_NONBLOCK | O_ASYNC)))
		goto err;
	r = real_dup3(s, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
	if (r < 0)
		goto err;
	real_close(s);
	return 0;
err:
	e = errno;
	real_close(s);
	errno = e;
	return -1;
}

static int sdp_decide(int fd, int role, const struct sockaddr *sa,
		      socklen_t len)
{
	char a[80];
	int mode, line;

	if (sdp_force != SDP_MODE_NONE) {
		mode = sdp_force;
		line = 0;
	} else {
		mode = sdp_config_decide(&sdp_cfg, role, program_invocation_short_name,
					 sa, len, &line);
	}
	sdp_log(SDP_LOG_DEBUG, "fd %d %s %s: %s (%s%d)", fd,
		role == SDP_ROLE_SERVER ? "listen" : "connect",
		sdp_addr_str(sa, a, sizeof(a)), sdp_mode_name(mode),
		line ? "rule at line " : "default", line);
	return mode;
}

/* ---- socket, setsockopt, bind, listen, connect ------------------------- */

static int sdp_is_tcp(int domain, int type, int proto)
{
	return (domain == AF_INET || domain == AF_INET6) &&
	       (type & 0xf) == SOCK_STREAM &&
	       (proto == 0 || proto == IPPROTO_TCP);
}

int socket(int domain, int type, int proto)
{
	struct sdp_fd *e;
	int fd, saved;

	sdp_ready();
	if (!sdp_is_tcp(domain, type, proto) || sdp_force == SDP_MODE_TCP) {
		fd = real_socket(domain, type, proto);
		if (fd >= 0 && sdp_fd(fd))
			sdp_fd_set_state(sdp_fd(fd), SDP_FD_NONE);
		return fd;
	}
	saved = errno;
	if (sdp_force == SDP_MODE_SDP) {
		/* Nothing to decide: SDP from the start, TCP if there is none. */
		fd = real_socket(sdp_family(domain), type, proto);
		if (fd >= 0) {
			if (sdp_fd(fd))
				sdp_fd_set_state(sdp_fd(fd), SDP_FD_SDP);
			errno = saved;
			return fd;
		}
		sdp_log(SDP_LOG_WARN, "no SDP socket (%s), using TCP",
			strerror(errno));
		errno = saved;
	}
	fd = real_socket(domain, type, proto);
	e = sdp_fd(fd);
	if (!e)
		return fd;
	e->domain = domain;
	e->proto = proto;
	e->shadow = -1;
	e->nopts = 0;
	sdp_fd_set_state(e, SDP_FD_CANDIDATE);
	return fd;
}

/* Remember an option for the SDP socket that may replace @e's. */
static void sdp_record_opt(struct sdp_fd *e, int level, int name,
			   const void *val, socklen_t len)
{
	struct sdp_opt *o = NULL;
	int i;

	if (!val || len > LIBSDP_OPT_LEN)
		return;
	for (i = 0; i < e->nopts; i++)
		if (e->opts[i].level == level && e->opts[i].name == name)
			o = &e->opts[i];
	if (!o) {
		if (e->nopts == LIBSDP_MAX_OPTS) {
			sdp_log(SDP_LOG_WARN, "too many socket options to carry "
				"over; %d/%d dropped", level, name);
			return;
		}
		o = &e->opts[e->nopts++];
	}
	o->level = level;
	o->name = name;
	o->len = len;
	memcpy(o->val, val, len);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int r, state, saved;

	sdp_ready();
	r = real_setsockopt(fd, level, name, val, len);
	state = sdp_fd_state(fd);
	if (r || state == SDP_FD_NONE || state == SDP_FD_SDP)
		return r;
	saved = errno;
	if (state == SDP_FD_CANDIDATE)
		sdp_record_opt(sdp_fd(fd), level, name, val, len);
	else if (state == SDP_FD_BOTH)
		real_setsockopt(sdp_fds[fd].shadow, level, name, val, len);
	errno = saved;
	return r;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int r;

	sdp_ready();
	r = real_getsockopt(fd, level, name, val, len);
	/* The SDP family is an implementation detail: say what TCP says. */
	if (!r && level == SOL_SOCKET && name == SO_DOMAIN && val && len &&
	    *len >= sizeof(int)) {
		int *d = val;

		if (*d == AF_INET_SDP)
			*d = AF_INET;
		else if (*d == AF_INET6_SDP)
			*d = AF_INET6;
	}
	return r;
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	sdp_ready();
	/*
	 * The TCP socket is bound: errors (EADDRINUSE...) and getsockname()
	 * are TCP's until listen() or connect() decide, which take the
	 * address from it.
	 */
	return real_bind(fd, sa, len);
}

/* listen() on a candidate: decide by the server rules. */
static int sdp_listen(int fd, int backlog)
{
	struct sdp_fd *e = sdp_fd(fd);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int saved = errno, mode, s, r;
	char a[80];

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return real_listen(fd, backlog);
	mode = sdp_decide(fd, SDP_ROLE_SERVER, (struct sockaddr *)&ss, len);
	if (mode == SDP_MODE_TCP) {
		sdp_fd_set_state(e, SDP_FD_NONE);
		return real_listen(fd, backlog);
	}
	if (mode == SDP_MODE_SDP) {
		s = sdp_make(e);
		if (s < 0) {
			sdp_log(SDP_LOG_WARN, "fd %d: no SDP socket (%s), "
				"listening on TCP", fd, strerror(errno));
			sdp_fd_set_state(e, SDP_FD_NONE);
			errno = saved;
			return real_listen(fd, backlog);
		}
		if (sdp_bind_like(s, fd, 0) || real_listen(s, backlog)) {
			r = errno;
			real_close(s);
			sdp_log(SDP_LOG_INFO, "fd %d: SDP listen on %s failed: %s",
				fd, sdp_addr_str((struct sockaddr *)&ss, a,
						 sizeof(a)), strerror(r));
			errno = r;
			return -1;
		}
		if (sdp_swap(fd, s))
			return -1;
		sdp_fd_set_state(e, SDP_FD_SDP);
		sdp_log(SDP_LOG_INFO, "fd %d: listening on SDP %s", fd,
			sdp_addr_str((struct sockaddr *)&ss, a, sizeof(a)));
		errno = saved;
		return 0;
	}
	/* both: TCP listens on the program's fd, SDP on a shadow next to it. */
	r = real_listen(fd, backlog);
	if (r)
		return r;
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	s = sdp_make(e);
	if (s < 0 || sdp_bind_like(s, fd, 1) || real_listen(s, backlog) ||
	    real_fcntl(s, F_SETFL, O_NONBLOCK)) {
		sdp_log(SDP_LOG_WARN, "fd %d: no SDP listener on %s (%s), "
			"TCP only", fd, sdp_addr_str((struct sockaddr *)&ss, a,
						    sizeof(a)), strerror(errno));
		if (s >= 0)
			real_close(s);
		sdp_fd_set_state(e, SDP_FD_NONE);
		errno = saved;
		return 0;
	}
	e->shadow = s;
	sdp_fd_set_state(e, SDP_FD_BOTH);
	sdp_log(SDP_LOG_INFO, "fd %d: listening on TCP and SDP %s (shadow fd %d)",
		fd, sdp_addr_str((struct sockaddr *)&ss, a, sizeof(a)), s);
	errno = saved;
	return 0;
}

int listen(int fd, int backlog)
{
	int state;

	sdp_ready();
	state = sdp_fd_state(fd);
	if (state == SDP_FD_CANDIDATE)
		return sdp_listen(fd, backlog);
	if (state == SDP_FD_BOTH) {
		int saved = errno;

		real_listen(sdp_fds[fd].shadow, backlog);
		errno = saved;
	}
	return real_listen(fd, backlog);
}

static long sdp_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Try SDP for a "both" client: connect @s to @sa within the time bound.
 * Return: 0 when connected, else the errno that made us give up.
 */
static int sdp_try_connect(int s, const struct sockaddr *sa, socklen_t len)
{
	struct timespec t0;
	socklen_t elen;
	int err, r;

	if (real_fcntl(s, F_SETFL, O_NONBLOCK))
		return errno;
	if (!real_connect(s, sa, len))
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLOUT };
		long left = sdp_connect_timeout - sdp_ms_since(&t0);

		if (left <= 0)
			return ETIMEDOUT;
		r = real_poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r > 0)
			break;
	}
	elen = sizeof(err);
	if (real_getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen))
		return errno;
	return err;
}

static int sdp_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sdp_fd *e = sdp_fd(fd);
	int saved = errno, mode, s, err;
	char a[80];

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return real_connect(fd, sa, len);	/* AF_UNSPEC... */
	mode = sdp_decide(fd, SDP_ROLE_CLIENT, sa, len);
	if (mode == SDP_MODE_TCP) {
		sdp_fd_set_state(e, SDP_FD_NONE);
		return real_connect(fd, sa, len);
	}
	s = sdp_make(e);
	if (s < 0 || sdp_bind_like(s, fd, 0)) {
		sdp_log(SDP_LOG_WARN, "fd %d: no SDP socket for %s (%s), using TCP",
			fd, sdp_addr_str(sa, a, sizeof(a)), strerror(errno));
		if (s >= 0)
			real_close(s);
		sdp_fd_set_state(e, SDP_FD_NONE);
		errno = saved;
		return real_connect(fd, sa, len);
	}
	if (mode == SDP_MODE_SDP) {
		if (sdp_swap(fd, s))
			return -1;
		sdp_fd_set_state(e, SDP_FD_SDP);
		sdp_log(SDP_LOG_INFO, "fd %d: connecting over SDP to %s", fd,
			sdp_addr_str(sa, a, sizeof(a)));
		errno = saved;
		return real_connect(fd, sa, len);
	}
	/* both */
	err = sdp_try_connect(s, sa, len);
	if (err) {
		real_close(s);
		sdp_fd_set_state(e, SDP_FD_NONE);
		sdp_log(SDP_LOG_INFO, "fd %d: SDP to %s failed (%s), falling back "
			"to TCP", fd, sdp_addr_str(sa, a, sizeof(a)), strerror(err));
		errno = saved;
		return real_connect(fd, sa, len);
	}
	if (sdp_swap(fd, s))
		return -1;
	sdp_fd_set_state(e, SDP_FD_SDP);
	sdp_log(SDP_LOG_INFO, "fd %d: connected over SDP to %s", fd,
		sdp_addr_str(sa, a, sizeof(a)));
	errno = saved;
	return 0;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	sdp_ready();
	if (sa && len >= sizeof(sa_family_t) &&
	    sdp_fd_state(fd) == SDP_FD_CANDIDATE)
		return sdp_connect(fd, sa, len);
	return real_connect(fd, sa, len);
}

/* ---- accept ------------------------------------------------------------ */

/* accept4() on a "both" listener: SDP clients first, then TCP ones. */
static int sdp_both_accept(int fd, int shadow, struct sockaddr *sa,
			   socklen_t *len, int flags)
{
	int saved = errno, fl, r;

	fl = real_fcntl(fd, F_GETFL);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = shadow, .events = POLLIN },
		};

		r = real_accept4(shadow, sa, len, flags);	/* never blocks */
		if (r >= 0) {
			errno = saved;
			return r;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR)
			sdp_log(SDP_LOG_WARN, "fd %d: accept on SDP: %s", fd,
				strerror(errno));
		errno = saved;
		if (fl < 0 || (fl & O_NONBLOCK))
			return real_accept4(fd, sa, len, flags);
		r = real_poll(p, 2, -1);
		if (r < 0)
			return -1;		/* EINTR, as accept() */
		if (p[1].revents & POLLIN)
			continue;
		if (p[0].revents) {
			errno = saved;
			return real_accept4(fd, sa, len, flags);
		}
	}
}

int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int r;

	sdp_ready();
	if (sdp_fd_state(fd) == SDP_FD_BOTH)
		r = sdp_both_accept(fd, sdp_fds[fd].shadow, sa, len, flags);
	else
		r = real_accept4(fd, sa, len, flags);
	if (r >= 0 && sdp_fd(r))
		sdp_fd_set_state(sdp_fd(r), SDP_FD_NONE);
	return r;
}

int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	int r;

	sdp_ready();
	if (sdp_fd_state(fd) == SDP_FD_BOTH)
		r = sdp_both_accept(fd, sdp_fds[fd].shadow, sa, len, 0);
	else
		r = real_accept(fd, sa, len);
	if (r >= 0 && sdp_fd(r))
		sdp_fd_set_state(sdp_fd(r), SDP_FD_NONE);
	return r;
}

/* ---- close, dup, fcntl ------------------------------------------------- */

int close(int fd)
{
	sdp_ready();
	sdp_fd_drop(fd);
	return real_close(fd);
}

int dup(int fd)
{
	int r;

	sdp_ready();
	r = real_dup(fd);
	if (r >= 0)
		sdp_fd_copy(fd, r);
	return r;
}

/* dup2() and dup3(): @fd2's old file is closed, so forget it first. */
static int sdp_dup_onto(int fd, int fd2, int flags, int is_dup3)
{
	int r;

	sdp_ready();
	if (fd == fd2 || real_fcntl(fd, F_GETFD) < 0)
		return is_dup3 ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
	sdp_fd_drop(fd2);
	r = is_dup3 ? real_dup3(fd, fd2, flags) : real_dup2(fd, fd2);
	if (r >= 0)
		sdp_fd_copy(fd, r);
	return r;
}

int dup2(int fd, int fd2)
{
	return sdp_dup_onto(fd, fd2, 0, 0);
}

int dup3(int fd, int fd2, int flags)
{
	return sdp_dup_onto(fd, fd2, flags, 1);
}

static int sdp_fcntl(int (*fn)(int, int, ...), int fd, int cmd, void *arg)
{
	int r = fn(fd, cmd, arg);

	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		sdp_fd_copy(fd, r);
	return r;
}

/* fcntl64 is what programs built with _FILE_OFFSET_BITS=64 call. */
#define SDP_DEFINE_FCNTL(name)						\
int name(int fd, int cmd, ...)						\
{									\
	va_list ap;							\
	void *arg;							\
									\
	va_start(ap, cmd);						\
	arg = va_arg(ap, void *);					\
	va_end(ap);							\
	sdp_ready();							\
	return sdp_fcntl(real_##name, fd, cmd, arg);			\
}

SDP_DEFINE_FCNTL(fcntl)
SDP_DEFINE_FCNTL(fcntl64)

/* ---- readiness of "both" listeners: poll, select, epoll --------------- */

#define SDP_POLL_MAX	4096	/* larger poll sets see the TCP side only */

static int sdp_poll_common(struct pollfd *fds, nfds_t n, int timeout,
			   const struct timespec *ts, const sigset_t *sigmask,
			   int is_ppoll)
{
	nfds_t i, extra = 0;
	int r;

	if (n <= SDP_POLL_MAX)
		for (i = 0; i < n; i++)
			if ((fds[i].events & POLLIN) &&
			    sdp_fd_state(fds[i].fd) == SDP_FD_BOTH)
				extra++;
	if (!extra)
		return is_ppoll ? real_ppoll(fds, n, ts, sigmask) :
				  real_poll(fds, n, timeout);
	{
		struct pollfd p[n + extra];
		nfds_t k = n;

		memcpy(p, fds, sizeof(*fds) * n);
		for (i = 0; i < n; i++)
			if ((fds[i].events & POLLIN) &&
			    sdp_fd_state(fds[i].fd) == SDP_FD_BOTH) {
				p[k].fd = sdp_fds[fds[i].fd].shadow;
				p[k].events = POLLIN;
				p[k].revents = 0;
				k++;
			}
		r = is_ppoll ? real_ppoll(p, k, ts, sigmask) :
			       real_poll(p, k, timeout);
		if (r <= 0)
			return r;
		r = 0;
		k = n;
		for (i = 0; i < n; i++) {
			fds[i].revents = p[i].revents;
			if ((fds[i].events & POLLIN) &&
			    sdp_fd_state(fds[i].fd) == SDP_FD_BOTH)
				fds[i].revents |= p[k++].revents & POLLIN;
			if (fds[i].revents)
				r++;
		}
		return r;
	}
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	sdp_ready();
	return sdp_poll_common(fds, n, timeout, NULL, NULL, 0);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return poll(fds, n, timeout);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
	  const sigset_t *sigmask)
{
	sdp_ready();
	return sdp_poll_common(fds, n, 0, ts, sigmask, 1);
}

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		const sigset_t *sigmask, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		abort();
	return ppoll(fds, n, ts, sigmask);
}

static int sdp_select_common(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
			     struct timeval *tv, const struct timespec *ts,
			     const sigset_t *sigmask, int is_pselect)
{
	int fd, max = nfds, any = 0, r;
	fd_set mine;

	if (rd) {
		for (fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
			if (FD_ISSET(fd, rd) && sdp_fd_state(fd) == SDP_FD_BOTH &&
			    sdp_fds[fd].shadow < FD_SETSIZE) {
				if (!any) {
					mine = *rd;
					any = 1;
				}
				FD_SET(sdp_fds[fd].shadow, &mine);
				if (sdp_fds[fd].shadow >= max)
					max = sdp_fds[fd].shadow + 1;
			}
		}
	}
	if (!any)
		return is_pselect ? real_pselect(nfds, rd, wr, ex, ts, sigmask) :
				    real_select(nfds, rd, wr, ex, tv);
	r = is_pselect ? real_pselect(max, &mine, wr, ex, ts, sigmask) :
			 real_select(max, &mine, wr, ex, tv);
	if (r < 0)
		return r;
	for (fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		int sh;

		if (!FD_ISSET(fd, rd) || sdp_fd_state(fd) != SDP_FD_BOTH)
			continue;
		sh = sdp_fds[fd].shadow;
		if (sh >= FD_SETSIZE || !FD_ISSET(sh, &mine))
			continue;
		/* The shadow's readiness is the listener's. */
		if (!FD_ISSET(sh, rd))
			FD_CLR(sh, &mine);
		if (FD_ISSET(fd, &mine))
			r--;
		else
			FD_SET(fd, &mine);
	}
	*rd = mine;
	return r;
}

int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	sdp_ready();
	return sdp_select_common(nfds, rd, wr, ex, tv, NULL, NULL, 0);
}

int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
	    const struct timespec *ts, const sigset_t *sigmask)
{
	sdp_ready();
	return sdp_select_common(nfds, rd, wr, ex, NULL, ts, sigmask, 1);
}

/*
 * epoll: the shadow joins the same epoll set with the program's event
 * (data included), so epoll_wait() needs no wrapper: an SDP client makes
 * the program's listener look readable, and its accept() takes it.
 */
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int r, saved;

	sdp_ready();
	r = real_epoll_ctl(epfd, op, fd, ev);
	if (r || sdp_fd_state(fd) != SDP_FD_BOTH)
		return r;
	saved = errno;
	if (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) {
		struct epoll_event sev = *ev;

		if (real_epoll_ctl(epfd, op, sdp_fds[fd].shadow, &sev) &&
		    op == EPOLL_CTL_MOD && errno == ENOENT)
			real_epoll_ctl(epfd, EPOLL_CTL_ADD, sdp_fds[fd].shadow,
				       &sev);
	} else if (op == EPOLL_CTL_DEL) {
		real_epoll_ctl(epfd, op, sdp_fds[fd].shadow, ev);
	}
	errno = saved;
	return r;
}
