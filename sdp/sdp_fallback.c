// SPDX-License-Identifier: GPL-2.0
/*
 * SDP's fallback to kernel TCP.
 *
 * A program that asked for SDP still gets its connection when the peer
 * has no SDP: with AFIB_SDP_FALLBACK_CONNECT a failed SDP attempt is
 * followed by a TCP connect() to the same address, and with
 * AFIB_SDP_FALLBACK_ACCEPT a listener also listens on the same TCP port
 * and accept() returns TCP connections too.
 *
 * A socket that fell back becomes that TCP socket, as SMC's do: its file
 * is pointed at the kernel TCP socket (sdp_fb_swap()), so that every
 * later call is TCP's own, with TCP's errors, options and SO_ERROR.  The
 * SDP socket stays behind the file's inode, holds the TCP socket and
 * releases it on close().  Calls already inside the SDP socket when it
 * fell back, and waiters queued on its wait queue (poll(), epoll), are
 * served by forwarding: the SDP calls pass through to the TCP socket
 * (sdp_fb_tcp()), and the TCP socket's wakeups also wake the SDP one
 * (sdp_fb_attach()).
 *
 * The TCP socket is made in the caller's context when connect() or
 * listen() starts, so that it has the caller's credentials, namespace
 * and cgroup; the fallback itself may run from a work item.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/sysctl.h>
#include <net/inet_connection_sock.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include "sdp.h"

static int sdp_fallback_default;
static int sdp_fallback_timeout_ms = 5000;
static int sdp_fallback_max = AFIB_SDP_FALLBACK_ALL;
static int sdp_timeout_min = 1;
static int sdp_timeout_max = 600000;

static struct ctl_table sdp_sysctl_table[] = {
	{
		.procname	= "fallback",
		.data		= &sdp_fallback_default,
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= &sdp_fallback_max,
	},
	{
		.procname	= "fallback_timeout_ms",
		.data		= &sdp_fallback_timeout_ms,
		.maxlen		= sizeof(int),
		.mode		= 0644,
		.proc_handler	= proc_dointvec_minmax,
		.extra1		= &sdp_timeout_min,
		.extra2		= &sdp_timeout_max,
	},
	{ }
};

static struct ctl_table_header *sdp_sysctl_hdr;

/* The errors of an SDP attempt after which TCP may still get through. */
static bool sdp_fb_err(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENODEV:
	case EADDRNOTAVAIL:
	case ECONNRESET:
	case ECONNABORTED:
	case EPROTO:
		return true;
	default:
		return false;
	}
}

static int sdp_tcp_family(const struct afib_sock *as)
{
	return as->sk.sk_family == PF_INET6_SDP ? AF_INET6 : AF_INET;
}

void sdp_fb_init(struct afib_sock *as)
{
	as->sdp.fallback = READ_ONCE(sdp_fallback_default);
	INIT_WORK(&as->sdp.fb_work, sdp_fb_work);
}

/**
 * sdp_fb_timeout() - how long an SDP connect() may take before TCP is
 * tried instead.
 * @as: the socket.
 * @tmo: the attempt's own limit, jiffies.
 *
 * Return: @tmo, or less if a fallback is ready.
 */
unsigned long sdp_fb_timeout(struct afib_sock *as, unsigned long tmo)
{
	if (!as->sdp.tcp_new)
		return tmo;
	return min(tmo, msecs_to_jiffies(READ_ONCE(sdp_fallback_timeout_ms)));
}

/* Wake the SDP socket's waiters: they are the file's since before. */
static void sdp_fb_wake(struct sock *tsk)
{
	struct afib_sock *as;
	struct socket_wq *wq;

	as = tsk->sk_user_data;
	if (!as)
		return;
	rcu_read_lock();
	wq = rcu_dereference(as->sk.sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, EPOLLIN | EPOLLRDNORM |
					   EPOLLOUT | EPOLLWRNORM | EPOLLERR |
					   EPOLLHUP | EPOLLRDHUP | EPOLLPRI);
	rcu_read_unlock();
}

#define SDP_FB_CALLBACK(name)						\
static void sdp_fb_##name(struct sock *tsk)				\
{									\
	struct afib_sock *as;						\
									\
	read_lock_bh(&tsk->sk_callback_lock);				\
	as = tsk->sk_user_data;						\
	if (as) {							\
		as->sdp.fb_cb.name(tsk);				\
		sdp_fb_wake(tsk);					\
	}								\
	read_unlock_bh(&tsk->sk_callback_lock);				\
}

SDP_FB_CALLBACK(state_change)
SDP_FB_CALLBACK(data_ready)
SDP_FB_CALLBACK(write_space)
SDP_FB_CALLBACK(error_report)

/* @as's waiters hear of @tcp from now on. */
static void sdp_fb_attach(struct afib_sock *as, struct socket *tcp)
{
	struct sock *tsk = tcp->sk;

	write_lock_bh(&tsk->sk_callback_lock);
	as->sdp.fb_cb.state_change = tsk->sk_state_change;
	as->sdp.fb_cb.data_ready = tsk->sk_data_ready;
	as->sdp.fb_cb.write_space = tsk->sk_write_space;
	as->sdp.fb_cb.error_report = tsk->sk_error_report;
	tsk->sk_user_data = as;
	tsk->sk_state_change = sdp_fb_state_change;
	tsk->sk_data_ready = sdp_fb_data_ready;
	tsk->sk_write_space = sdp_fb_write_space;
	tsk->sk_error_report = sdp_fb_error_report;
	write_unlock_bh(&tsk->sk_callback_lock);
}

static void sdp_fb_detach(struct afib_sock *as, struct socket *tcp)
{
	struct sock *tsk = tcp->sk;

	write_lock_bh(&tsk->sk_callback_lock);
	tsk->sk_state_change = as->sdp.fb_cb.state_change;
	tsk->sk_data_ready = as->sdp.fb_cb.data_ready;
	tsk->sk_write_space = as->sdp.fb_cb.write_space;
	tsk->sk_error_report = as->sdp.fb_cb.error_report;
	tsk->sk_user_data = NULL;
	write_unlock_bh(&tsk->sk_callback_lock);
}

/*
 * An O_ASYNC set on the SDP socket goes with the file to @tcp: TCP's events
 * raise SIGIO, and close() (sock_fasync() on the file's socket) finds the
 * entry where it looks.  lock_sock() on @sock, held by the caller, keeps
 * sock_fasync() off the list; lock_sock() on @tcp keeps TCP's softirq, which
 * changes sk_flags with non-atomic bit operations (SOCK_QUEUE_SHRUNK when an
 * ACK frees the SYN), from losing SOCK_FASYNC.
 */
static void sdp_fb_move_fasync(struct socket *sock, struct socket *tcp)
{
	struct sock *tsk = tcp->sk;

	if (!sock->wq.fasync_list)
		return;
	lock_sock(tsk);
	tcp->wq.fasync_list = sock->wq.fasync_list;
	sock_set_flag(tsk, SOCK_FASYNC);
	release_sock(tsk);
	sock->wq.fasync_list = NULL;
	clear_bit(SOCK_FASYNC, &sock->sk->sk_flags);
}

/* Point @sock's file at @tcp: from now on the descriptor is TCP's. */
static void sdp_fb_swap(struct afib_sock *as, struct socket *sock,
			struct socket *tcp)
{
	struct file *file = READ_ONCE(sock->file);

	spin_lock_bh(&as->lock);
	if (file && !as->sdp.fb_swapped) {
		as->sdp.fb_swapped = true;
		tcp->file = file;
		WRITE_ONCE(file->private_data, tcp);
	}
	spin_unlock_bh(&as->lock);
}

/*
 * RDMA (sdp_rdma.c) is SDP's: a socket that fell back answers its options
 * and control messages with EOPNOTSUPP, not with TCP's ENOPROTOOPT or by
 * sending the data alone.  Its TCP socket gets a copy of TCP's calls with
 * sendmsg() and the options wrapped, one copy per family, made on first
 * use (TCP's calls are not exported).  The owner stays TCP's (built in).
 */
struct sdp_fb_ops {
	/* Changed at run time, as net/tls's copies of TCP's: not const. */
	struct
	proto_ops		ops;
	const struct proto_ops	*tcp;
};

static struct sdp_fb_ops sdp_fb_ops[2];
static DEFINE_MUTEX(sdp_fb_ops_lock);

static const struct proto_ops *sdp_fb_tcp_ops(struct socket *tcp)
{
	return sdp_fb_ops[tcp->sk->sk_family == AF_INET6].tcp;
}

static int sdp_fb_sendmsg(struct socket *tcp, struct msghdr *msg, size_t len)
{
	if (afib_rdma_is_cmsg(msg, false))
		return -EOPNOTSUPP;
	return sdp_fb_tcp_ops(tcp)->sendmsg(tcp, msg, len);
}

static int sdp_fb_setsockopt(struct socket *tcp, int level, int optname,
			     sockptr_t optval, unsigned int optlen)
{
	if (level == SOL_AFIB && sdp_rdma_opt(optname))
		return -EOPNOTSUPP;
	return sdp_fb_tcp_ops(tcp)->setsockopt(tcp, level, optname, optval,
					       optlen);
}

static int sdp_fb_getsockopt(struct socket *tcp, int level, int optname,
			     char __user *optval, int __user *optlen)
{
	if (level == SOL_AFIB && sdp_rdma_opt(optname))
		return -EOPNOTSUPP;
	return sdp_fb_tcp_ops(tcp)->getsockopt(tcp, level, optname, optval,
					       optlen);
}

/* Give @tcp the wrapped calls; process context. */
static void sdp_fb_wrap(struct socket *tcp)
{
	struct sdp_fb_ops *w = &sdp_fb_ops[tcp->sk->sk_family == AF_INET6];

	mutex_lock(&sdp_fb_ops_lock);
	if (!w->tcp) {
		w->ops = *tcp->ops;
		w->ops.sendmsg = sdp_fb_sendmsg;
		w->ops.setsockopt = sdp_fb_setsockopt;
		w->ops.getsockopt = sdp_fb_getsockopt;
		w->tcp = tcp->ops;
	}
	if (w->tcp == tcp->ops)
		WRITE_ONCE(tcp->ops, &w->ops);
	mutex_unlock(&sdp_fb_ops_lock);
}

/* @as is @tcp from now on; lock_sock() held or @as not yet shared. */
static void sdp_fb_publish(struct afib_sock *as, struct socket *tcp)
{
	struct socket *sock = as->sk.sk_socket;

	sdp_fb_wrap(tcp);
	sdp_fb_attach(as, tcp);
	/* Paired with smp_load_acquire() in sdp_fb_tcp(). */
	smp_store_release(&as->sdp.tcp, tcp);
	if (sock) {
#ifdef AFIB_HAVE_CUSTOM_SOCKOPT
		/* SOL_SOCKET options of calls still on @sock go to @tcp. */
		set_bit(SOCK_CUSTOM_SOCKOPT, &sock->flags);
#endif
		sdp_fb_move_fasync(sock, tcp);
		sdp_fb_swap(as, sock, tcp);
	}
}

/**
 * sdp_fb_tcp() - the TCP socket @sock fell back to.
 * @sock: an SDP socket.
 *
 * Return: the TCP socket, or NULL while @sock is SDP.
 */
struct socket *sdp_fb_tcp(struct socket *sock)
{
	struct afib_sock *as = afib_sk(sock->sk);

	/* Paired with smp_store_release() in sdp_fb_publish(). */
	return smp_load_acquire(&as->sdp.tcp);
}

/* Give @tcp the options set on @as that TCP has too. */
static int sdp_fb_options(struct afib_sock *as, struct socket *tcp)
{
	struct sock *sk = &as->sk, *tsk = tcp->sk;
	struct sdp_conn *c = &as->sdp;
	struct {
		int name;
		int val;
	} opts[] = {
		{ TCP_NODELAY, c->nodelay },
		{ TCP_CORK, c->cork },
		{ TCP_KEEPIDLE, c->keepidle },
		{ TCP_KEEPINTVL, c->keepintvl },
		{ TCP_KEEPCNT, c->keepcnt },
		{ TCP_SYNCNT, c->syncnt },
		{ TCP_USER_TIMEOUT, c->user_timeout },
	};
	unsigned int i;
	int err;

	lock_sock(tsk);
	tsk->sk_reuse = sk->sk_reuse;
	tsk->sk_reuseport = sk->sk_reuseport;
	tsk->sk_bound_dev_if = sk->sk_bound_dev_if;
	WRITE_ONCE(tsk->sk_mark, READ_ONCE(sk->sk_mark));
	WRITE_ONCE(tsk->sk_priority, READ_ONCE(sk->sk_priority));
	WRITE_ONCE(tsk->sk_rcvtimeo, READ_ONCE(sk->sk_rcvtimeo));
	WRITE_ONCE(tsk->sk_sndtimeo, READ_ONCE(sk->sk_sndtimeo));
	WRITE_ONCE(tsk->sk_rcvlowat, READ_ONCE(sk->sk_rcvlowat));
	if (sk->sk_userlocks & SOCK_SNDBUF_LOCK) {
		WRITE_ONCE(tsk->sk_sndbuf, READ_ONCE(sk->sk_sndbuf));
		tsk->sk_userlocks |= SOCK_SNDBUF_LOCK;
	}
	if (sk->sk_userlocks & SOCK_RCVBUF_LOCK) {
		WRITE_ONCE(tsk->sk_rcvbuf, READ_ONCE(sk->sk_rcvbuf));
		tsk->sk_userlocks |= SOCK_RCVBUF_LOCK;
	}
	sock_valbool_flag(tsk, SOCK_URGINLINE, sock_flag(sk, SOCK_URGINLINE));
	sock_valbool_flag(tsk, SOCK_LINGER, sock_flag(sk, SOCK_LINGER));
	WRITE_ONCE(tsk->sk_lingertime, READ_ONCE(sk->sk_lingertime));
	release_sock(tsk);
	if (sock_flag(sk, SOCK_KEEPOPEN))
		sock_set_keepalive(tsk);

	for (i = 0; i < ARRAY_SIZE(opts); i++) {
		if (!opts[i].val)
			continue;
		err = tcp->ops->setsockopt(tcp, SOL_TCP, opts[i].name,
					   KERNEL_SOCKPTR(&opts[i].val),
					   sizeof(opts[i].val));
		if (err)
			return err;
	}
	return 0;
}

/* Bind @tcp where the user bound @as, in @tcp's family. */
static int sdp_fb_bind(struct afib_sock *as, struct socket *tcp)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const struct sockaddr_in *src = (const struct sockaddr_in *)&as->src;

	if (!as->user_bound)
		return 0;
	if (sdp_tcp_family(as) == AF_INET6 && src->sin_family == AF_INET) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = src->sin_port;
		ipv6_addr_set_v4mapped(src->sin_addr.s_addr, &sin6->sin6_addr);
	} else {
		memcpy(&ss, &as->src, sizeof(ss));
	}
	if (ss.ss_family != sdp_tcp_family(as))
		return -EAFNOSUPPORT;
	return kernel_bind(tcp, (struct sockaddr *)&ss,
			   ss.ss_family == AF_INET6 ? sizeof(*sin6) :
			   sizeof(struct sockaddr_in));
}

/**
 * sdp_fb_prepare() - get a TCP socket ready in case connect() falls back.
 * @as: the socket, about to connect.
 * @uaddr: the user's destination, checked by sdp_addr().
 * @len: its length.
 *
 * Return: 0 or a negative errno; without AFIB_SDP_FALLBACK_CONNECT or
 * for a sockaddr_ib destination (no TCP address) there is nothing to do.
 */
int sdp_fb_prepare(struct afib_sock *as, const struct sockaddr *uaddr,
		   int len)
{
	struct sockaddr_storage *dst = &as->sdp.fb_dst;
	struct socket *tcp;
	int family = sdp_tcp_family(as), err;

	if (!(READ_ONCE(as->sdp.fallback) & AFIB_SDP_FALLBACK_CONNECT) ||
	    as->sdp.tcp_new || uaddr->sa_family == AF_IB)
		return 0;
	memset(dst, 0, sizeof(*dst));
	if (family == AF_INET6) {
		len = min_t(int, len, sizeof(struct sockaddr_in6));
		memcpy(dst, uaddr, len);
	} else {
		len = sizeof(struct sockaddr_in);
		memcpy(dst, uaddr, len);
	}
	dst->ss_family = family;
	as->sdp.fb_dst_len = len;
	err = __sock_create(sock_net(&as->sk), family, SOCK_STREAM,
			    IPPROTO_TCP, &tcp, 0);
	if (err)
		return err;
	as->sdp.tcp_new = tcp;
	return 0;
}

/*
 * Connect the prepared TCP socket and become it.  lock_sock() held.
 * Either way the prepared socket is used up: a later connect() prepares
 * another.
 * Return: 0 once @as is TCP, else the error that kept TCP from trying.
 */
static int sdp_fb_switch(struct afib_sock *as)
{
	struct socket *tcp = as->sdp.tcp_new;
	struct sock *sk = &as->sk;
	int err;

	if (!tcp)
		return -ENOENT;
	as->sdp.tcp_new = NULL;
	err = sdp_fb_options(as, tcp) ?: sdp_fb_bind(as, tcp);
	if (!err)
		err = kernel_connect(tcp, (struct sockaddr *)&as->sdp.fb_dst,
				     as->sdp.fb_dst_len, O_NONBLOCK);
	if (err && err != -EINPROGRESS) {
		sock_release(tcp);
		return err;
	}
	spin_lock_bh(&as->lock);
	as->peer_gone = true;
	sk->sk_state = TCP_CLOSE;
	spin_unlock_bh(&as->lock);
	sdp_fb_publish(as, tcp);
	sdp_stat_fallback(sock_net(sk), false);
	return 0;
}

/**
 * sdp_fb_connected() - the SDP connection is up: no fallback any more.
 * @as: the connecting socket.
 *
 * The TCP socket connect() made ready goes.
 */
void sdp_fb_connected(struct afib_sock *as)
{
	struct sock *sk = &as->sk;
	struct socket *tcp;

	lock_sock(sk);
	tcp = as->sdp.tcp_new;
	as->sdp.tcp_new = NULL;
	release_sock(sk);
	if (tcp)
		sock_release(tcp);
}

/* The SDP side of a socket that fell back is of no more use. */
static void sdp_fb_done(struct afib_sock *as)
{
	struct sock *sk = &as->sk;

	afib_kill(as, 0);
	afib_destroy_id(as);
	sk->sk_state_change(sk);
}

/* afib_xport.connect_failed: try TCP if the socket is ready for it. */
bool sdp_connect_failed(struct afib_sock *as, int err)
{
	if (!as->sdp.tcp_new || as->sdp.fb_queued || !sdp_fb_err(err))
		return false;
	as->sdp.fb_queued = true;
	as->sdp.fb_err = err;
	sock_hold(&as->sk);	/* sock_put in sdp_fb_work() */
	schedule_work(&as->sdp.fb_work);
	return true;
}

void sdp_fb_work(struct work_struct *work)
{
	struct afib_sock *as = container_of(work, struct afib_sock,
					    sdp.fb_work);
	struct sock *sk = &as->sk;
	int err = -ENOENT;

	lock_sock(sk);
	as->sdp.fb_queued = false;
	if (sk->sk_state == TCP_SYN_SENT) {
		err = sdp_fb_switch(as);
		if (err) {
			/* TCP cannot be tried: the SDP failure stands. */
			release_sock(sk);
			afib_connect_failed(as, as->sdp.fb_err);
			goto out;
		}
	}
	release_sock(sk);
	if (!err)
		sdp_fb_done(as);
out:
	sock_put(sk);	/* from sdp_connect_failed() */
}

/**
 * sdp_fb_connect() - fall back now after a connect() that failed at once.
 * @sock: the socket.
 * @err: what the SDP connect() returned.
 *
 * Return: true if @sock is TCP now and connect() goes on there.
 */
bool sdp_fb_connect(struct socket *sock, int err)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct sock *sk = sock->sk;

	if (err >= 0 || !sdp_fb_err(-err))
		return false;
	lock_sock(sk);
	err = sk->sk_state == TCP_CLOSE ? sdp_fb_switch(as) : -EINVAL;
	release_sock(sk);
	if (err)
		return false;
	sdp_fb_done(as);
	return true;
}

/**
 * sdp_fb_listen() - listen on the same TCP port as well.
 * @sock: an SDP listener with AFIB_SDP_FALLBACK_ACCEPT.
 * @backlog: listen()'s.
 *
 * The TCP listener wakes @sock's waiters: it shares @sock's wait queue.
 *
 * Return: 0 or a negative errno (EADDRINUSE if another TCP socket
 * listens on the port).
 */
int sdp_fb_listen(struct socket *sock, int backlog)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct sockaddr_storage addr;
	struct socket *lis = as->sdp.tcp_lis;
	struct sock *sk = sock->sk;
	int len, err;

	if (lis)
		return kernel_listen(lis, backlog);
	len = afib_getname(sock, (struct sockaddr *)&addr, 0);
	if (len < 0)
		return len;
	err = __sock_create(sock_net(sk), sdp_tcp_family(as), SOCK_STREAM,
			    IPPROTO_TCP, &lis, 0);
	if (err)
		return err;
	lock_sock(lis->sk);
	lis->sk->sk_reuse = sk->sk_reuse;
	lis->sk->sk_reuseport = sk->sk_reuseport;
	lis->sk->sk_bound_dev_if = sk->sk_bound_dev_if;
	release_sock(lis->sk);
	err = kernel_bind(lis, (struct sockaddr *)&addr, len) ?:
	      kernel_listen(lis, backlog);
	if (err) {
		sock_release(lis);
		return err;
	}
	write_lock_bh(&lis->sk->sk_callback_lock);
	rcu_assign_pointer(lis->sk->sk_wq, &sock->wq);
	write_unlock_bh(&lis->sk->sk_callback_lock);
	/* Paired with smp_load_acquire() in sdp_fb_lis(). */
	smp_store_release(&as->sdp.tcp_lis, lis);
	return 0;
}

/**
 * sdp_fb_lis() - the TCP listener beside SDP listener @as.
 * @as: the socket.
 *
 * Return: it, or NULL.  It lives until sdp_release().
 */
struct socket *sdp_fb_lis(struct afib_sock *as)
{
	/* Paired with smp_store_release() in sdp_fb_listen(). */
	return smp_load_acquire(&as->sdp.tcp_lis);
}

/* A TCP connection to accept() on @lis's TCP listener? */
bool sdp_fb_acceptable(struct afib_sock *lis)
{
	struct socket *tcp = sdp_fb_lis(lis);

	return tcp && !reqsk_queue_empty(&inet_csk(tcp->sk)->icsk_accept_queue);
}

/**
 * sdp_fb_accept() - accept a TCP connection into @newsock.
 * @lis: an SDP listener with a TCP one beside it.
 * @newsock: the socket accept() returns.
 * @kern: for the kernel's own use.
 *
 * Return: 0, -EAGAIN if no TCP connection waits, or a negative errno.
 */
int sdp_fb_accept(struct afib_sock *lis, struct socket *newsock, bool kern)
{
	struct socket *tcp, *ltcp = sdp_fb_lis(lis);
	struct sock *sk;
	int err;

	if (!ltcp)
		return -EAGAIN;
	err = kernel_accept(ltcp, &tcp, O_NONBLOCK);
	if (err)
		return err;
	sk = afib_sk_alloc(sock_net(&lis->sk), lis->sk.sk_family, &sdp_xport,
			   newsock, kern);
	if (!sk) {
		sock_release(tcp);
		return -ENOMEM;
	}
	newsock->state = SS_CONNECTED;
	sdp_fb_publish(afib_sk(sk), tcp);
	sdp_stat_fallback(sock_net(sk), true);
	return 0;
}

/* Close the TCP side of @as: sdp_release(). */
void sdp_fb_release(struct afib_sock *as)
{
	struct socket *tcp;

	if (cancel_work_sync(&as->sdp.fb_work))
		sock_put(&as->sk);	/* from sdp_connect_failed() */
	/* No call is under way any more; /proc/net/sdp may look at it. */
	mutex_lock(&as->cm_lock);
	tcp = as->sdp.tcp;
	WRITE_ONCE(as->sdp.tcp, NULL);
	mutex_unlock(&as->cm_lock);
	if (tcp) {
		sdp_fb_detach(as, tcp);
		tcp->file = NULL;
		sock_release(tcp);
	}
	if (as->sdp.tcp_new)
		sock_release(as->sdp.tcp_new);
	if (as->sdp.tcp_lis)
		sock_release(as->sdp.tcp_lis);
	as->sdp.tcp_new = NULL;
	as->sdp.tcp_lis = NULL;
}

/* Stop the TCP listener too: shutdown(SHUT_RD) of an SDP listener. */
void sdp_fb_unlisten(struct afib_sock *as)
{
	struct socket *lis = sdp_fb_lis(as);

	if (lis)
		kernel_sock_shutdown(lis, SHUT_RDWR);
}

int sdp_fb_init_sysctl(void)
{
#ifdef AFIB_HAVE_SYSCTL_SZ
	/* The sentinel only for older kernels, which need it. */
	sdp_sysctl_hdr = register_net_sysctl_sz(&init_net, "net/sdp",
						sdp_sysctl_table,
						ARRAY_SIZE(sdp_sysctl_table) - 1);
#else
	sdp_sysctl_hdr = register_net_sysctl(&init_net, "net/sdp",
					     sdp_sysctl_table);
#endif
	return sdp_sysctl_hdr ? 0 : -ENOMEM;
}

void sdp_fb_exit_sysctl(void)
{
	unregister_net_sysctl_table(sdp_sysctl_hdr);
}
