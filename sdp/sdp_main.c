// SPDX-License-Identifier: GPL-2.0
/*
 * SDP socket calls: socket(AF_INET_SDP, SOCK_STREAM, 0 or IPPROTO_TCP) and
 * socket(AF_INET6_SDP, ...), OFED's binary ABI.
 *
 * AF_INET_SDP is AF_IB (27): afib_main.c hands its SOCK_STREAM sockets
 * here.  AF_INET6_SDP is 28, AF_MPLS in mainline, where no socket family
 * is registered; this module registers it.  An SDP socket behaves as a
 * TCP socket of the matching family: it takes sockaddr_in (27) or
 * sockaddr_in6 (28; IPv4-mapped addresses go to rdma_cm as IPv4), reports
 * its addresses as AF_INET or AF_INET6, and takes TCP's options at
 * IPPROTO_TCP.  OFED's programs also pass AF_INET_SDP or AF_INET6_SDP as
 * sa_family, which is accepted; on 27 a sockaddr_ib still works.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/sockios.h>
#include <asm/ioctls.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <net/tcp.h>
#include "sdp.h"

struct proto sdp_prot = {
	.name		= "SDP",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct afib_sock),
	.keepalive	= sdp_keepalive,
};

/* afib_xport.addr: what tcp_v4_connect() or tcp_v6_connect() would take. */
static int sdp_addr(struct afib_sock *as, const struct sockaddr *uaddr,
		    int len, struct sockaddr_storage *out, int *family)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	sa_family_t fam;

	if (len < (int)sizeof(uaddr->sa_family))
		return -EINVAL;
	fam = uaddr->sa_family;
	memset(out, 0, sizeof(*out));
	if (as->sk.sk_family == PF_INET6_SDP) {
		if (len < SIN6_LEN_RFC2133)
			return -EINVAL;
		if (fam != AF_INET6 && fam != AF_INET6_SDP)
			return -EAFNOSUPPORT;
		memcpy(out, uaddr, min_t(int, len, sizeof(*sin6)));
		sin6->sin6_family = AF_INET6;
		*family = AF_INET6;
		if (ipv6_addr_v4mapped(&sin6->sin6_addr)) {
			__be32 a = sin6->sin6_addr.s6_addr32[3];
			__be16 port = sin6->sin6_port;

			memset(out, 0, sizeof(*out));
			sin->sin_family = AF_INET;
			sin->sin_port = port;
			sin->sin_addr.s_addr = a;
		}
		return 0;
	}
	if (fam == AF_IB && len >= (int)sizeof(struct sockaddr_ib))
		return afib_addr_to_cm(uaddr, len, out, family);
	if (len < (int)sizeof(*sin))
		return -EINVAL;
	if (fam != AF_INET && fam != AF_INET_SDP)
		return -EAFNOSUPPORT;
	memcpy(out, uaddr, sizeof(*sin));
	sin->sin_family = AF_INET;
	*family = AF_INET;
	return 0;
}

/* The background part of close(): see sdp_close(). */
static void sdp_close_work(struct work_struct *work)
{
	struct afib_sock *as = container_of(to_delayed_work(work),
					    struct afib_sock, sdp.close_work);

	if (!afib_tx_idle(as) && !READ_ONCE(as->peer_gone) &&
	    time_before(jiffies, as->sdp.close_end)) {
		queue_delayed_work(afib_wq, &as->sdp.close_work,
				   SDP_CLOSE_POLL);
		return;
	}
	afib_finish(as);
	sock_put(&as->sk);	/* from sdp_close() */
}

/*
 * afib_xport.close: as TCP, close() queues DisConn after the data and
 * returns (with SO_LINGER, once that went or the linger time is over);
 * what the peer has not taken in yet follows in the background, for at
 * most SDP_FIN_TIMEOUT.  Unread data and SO_LINGER 0 still reset the
 * connection at once, in afib_teardown().
 */
static bool sdp_close(struct afib_sock *as, int state)
{
	struct sock *sk = &as->sk;
	long timeo;

	if (state != TCP_ESTABLISHED || !READ_ONCE(as->qp) ||
	    READ_ONCE(as->peer_gone) || sdp_unread(as) ||
	    (sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime))
		return false;
	afib_send_ctrl(as, AFIB_MT_FIN);
	if (sock_flag(sk, SOCK_LINGER)) {
		timeo = sk->sk_lingertime;
		afib_wait(as, &timeo, afib_tx_idle(as));
	}
	if (afib_tx_idle(as))
		return false;
	as->sdp.close_end = jiffies + SDP_FIN_TIMEOUT;
	sock_hold(sk);	/* sock_put in sdp_close_work() */
	queue_delayed_work(afib_wq, &as->sdp.close_work, SDP_CLOSE_POLL);
	return true;
}

/*
 * Destinations TCP refuses before sending anything: multicast and
 * broadcast (ENETUNREACH), and IPv6 link-local addresses without a scope
 * (EINVAL).
 */
static int sdp_check_dst(struct afib_sock *as, const struct sockaddr *dst)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)dst;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)dst;
	struct net *net = sock_net(&as->sk);
	int type;

	if (dst->sa_family == AF_INET) {
		if (ipv4_is_multicast(sin->sin_addr.s_addr) ||
		    ipv4_is_lbcast(sin->sin_addr.s_addr))
			return -ENETUNREACH;
		type = inet_addr_type(net, sin->sin_addr.s_addr);
		if (type == RTN_BROADCAST || type == RTN_MULTICAST)
			return -ENETUNREACH;
		return 0;
	}
	if (dst->sa_family != AF_INET6)
		return 0;
	if (ipv6_addr_is_multicast(&sin6->sin6_addr))
		return -ENETUNREACH;
	if ((ipv6_addr_type(&sin6->sin6_addr) & IPV6_ADDR_LINKLOCAL) &&
	    !sin6->sin6_scope_id && !as->sk.sk_bound_dev_if)
		return -EINVAL;
	return 0;
}

static int sdp_connect(struct socket *sock, struct sockaddr *uaddr, int len,
		       int flags)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct sockaddr_storage dst;
	struct socket *tcp;
	int family, err;

	tcp = sdp_fb_tcp(sock);
	if (tcp)
		return tcp->ops->connect(tcp, uaddr, len, flags);
	err = sdp_addr(as, uaddr, len, &dst, &family);
	if (!err)
		err = sdp_check_dst(as, (struct sockaddr *)&dst);
	if (!err && READ_ONCE(sock->state) == SS_UNCONNECTED) {
		lock_sock(sock->sk);
		err = sdp_fb_prepare(as, uaddr, len);
		release_sock(sock->sk);
	}
	if (err)
		return err;
	err = afib_connect(sock, uaddr, len, flags);
	/* Fell back meanwhile (sdp_fb_work()), or now: TCP goes on. */
	tcp = sdp_fb_tcp(sock);
	if (!tcp && sdp_fb_connect(sock, err))
		tcp = sdp_fb_tcp(sock);
	if (!tcp)
		return err;
	/*
	 * sdp_fb_switch() started TCP's connect: a non-blocking caller gets
	 * EINPROGRESS, as from TCP's first connect(), not EALREADY or 0
	 * depending on how far the handshake got meanwhile.
	 */
	if (flags & O_NONBLOCK)
		return -EINPROGRESS;
	return tcp->ops->connect(tcp, (struct sockaddr *)&as->sdp.fb_dst,
				 as->sdp.fb_dst_len, flags);
}

static void sdp_sock_init(struct afib_sock *as)
{
	int family = as->sk.sk_family == PF_INET6_SDP ? AF_INET6 : AF_INET;

	as->family = family;
	as->any_family = family;
	INIT_DELAYED_WORK(&as->sdp.work, sdp_work);
	INIT_DELAYED_WORK(&as->sdp.close_work, sdp_close_work);
	INIT_LIST_HEAD(&as->sdp.rx_park);
	INIT_LIST_HEAD(&as->sdp.rx_spare);
	as->sdp.zcopy_thresh = SDP_ZCOPY_THRESH;
	sdp_fb_init(as);
	sdp_sock_link(as);
}

static void sdp_destruct(struct afib_sock *as)
{
	sdp_sock_unlink(as);
}

/* Stop the socket's work; it holds a reference while queued. */
static void sdp_work_stop(struct afib_sock *as)
{
	if (cancel_delayed_work_sync(&as->sdp.work))
		sock_put(&as->sk);	/* from sdp_work_at() */
}

static int sdp_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (!sk)
		return 0;
	sock_hold(sk);	/* for sdp_work_stop(); put below */
	sdp_fb_release(afib_sk(sk));
	afib_release(sock);
	sdp_work_stop(afib_sk(sk));
	sock_put(sk);
	return 0;
}

static u32 sdp_poll_segs(struct afib_sock *as)
{
	return 1;
}

static int sdp_ioctl(struct socket *sock, unsigned int cmd, unsigned long arg)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct socket *tcp = sdp_fb_tcp(sock);
	struct sdp_conn *c = &as->sdp;
	int answ;

	if (tcp)
		return tcp->ops->ioctl(tcp, cmd, arg);
	if (READ_ONCE(sock->sk->sk_state) == TCP_LISTEN &&
	    (cmd == SIOCINQ || cmd == SIOCOUTQ || cmd == SIOCOUTQNSD))
		return -EINVAL;
	spin_lock_bh(&as->lock);
	switch (cmd) {
	case SIOCINQ:
		answ = __sdp_siocinq(as);
		break;
	case SIOCOUTQ:
		/* Sent and not yet taken in by the peer, or still waiting. */
		answ = c->tx_bytes - c->tx_acked + c->tx_unposted;
		break;
	case SIOCOUTQNSD:
		answ = c->tx_unposted;
		break;
	case SIOCATMARK:
		answ = c->urg != SDP_URG_NONE && c->urg_pos == c->rx_seq;
		break;
	default:
		answ = -1;
		break;
	}
	spin_unlock_bh(&as->lock);
	if (answ < 0)
		return -ENOIOCTLCMD;
	return put_user(answ, (int __user *)arg);
}

/**
 * sdp_keep_value() - the keepalive option in effect.
 * @as: the socket.
 * @optname: TCP_KEEPIDLE, TCP_KEEPINTVL or TCP_KEEPCNT.
 *
 * Return: the socket's value, else TCP's sysctl: seconds or a count.
 */
int sdp_keep_value(struct afib_sock *as, int optname)
{
	struct net *net = sock_net(&as->sk);
	int val;

	switch (optname) {
	case TCP_KEEPIDLE:
		val = READ_ONCE(as->sdp.keepidle);
		return val ?: READ_ONCE(net->ipv4.sysctl_tcp_keepalive_time) / HZ;
	case TCP_KEEPINTVL:
		val = READ_ONCE(as->sdp.keepintvl);
		return val ?: READ_ONCE(net->ipv4.sysctl_tcp_keepalive_intvl) / HZ;
	default:
		val = READ_ONCE(as->sdp.keepcnt);
		return val ?: READ_ONCE(net->ipv4.sysctl_tcp_keepalive_probes);
	}
}

static int sdp_setsockopt_tcp(struct afib_sock *as, int optname,
			      sockptr_t optval, unsigned int optlen)
{
	struct sock *sk = &as->sk;
	int val, err = 0;

	if (optname == TCP_CONGESTION || optname == TCP_ULP)
		return 0;	/* the fabric does congestion control */
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;

	lock_sock(sk);
	switch (optname) {
	case TCP_NODELAY:
		as->sdp.nodelay = val;
		if (val)
			sdp_push(as);
		break;
	case TCP_CORK:
		as->sdp.cork = val;
		if (!val)
			sdp_push(as);
		break;
	case TCP_KEEPIDLE:
		if (val < 1 || val > MAX_TCP_KEEPIDLE) {
			err = -EINVAL;
			break;
		}
		as->sdp.keepidle = val;
		if (sock_flag(sk, SOCK_KEEPOPEN))
			sdp_keepalive(sk, 1);
		break;
	case TCP_KEEPINTVL:
		if (val < 1 || val > MAX_TCP_KEEPINTVL)
			err = -EINVAL;
		else
			as->sdp.keepintvl = val;
		break;
	case TCP_KEEPCNT:
		if (val < 1 || val > MAX_TCP_KEEPCNT)
			err = -EINVAL;
		else
			as->sdp.keepcnt = val;
		break;
	case TCP_MAXSEG:
		if (val && (val < TCP_MIN_MSS || val > MAX_TCP_WINDOW))
			err = -EINVAL;
		break;
	case TCP_SYNCNT:
		if (val < 1 || val > MAX_TCP_SYNCNT)
			err = -EINVAL;
		else
			as->sdp.syncnt = val;
		break;
	case TCP_USER_TIMEOUT:
		if (val < 0)
			err = -EINVAL;
		else
			as->sdp.user_timeout = val;
		break;
	case TCP_QUICKACK:
	case TCP_DEFER_ACCEPT:
	case TCP_LINGER2:
	case TCP_WINDOW_CLAMP:
	case TCP_NOTSENT_LOWAT:
	case TCP_THIN_LINEAR_TIMEOUTS:
	case TCP_FASTOPEN:
	case TCP_FASTOPEN_CONNECT:
		/* Accepted as TCP would; SDP has no use for them. */
		if (val < 0)
			err = -EINVAL;
		break;
	default:
		err = -ENOPROTOOPT;
		break;
	}
	release_sock(sk);
	return err;
}

static int sdp_syncnt(struct afib_sock *as)
{
	return READ_ONCE(as->sdp.syncnt) ?:
	       READ_ONCE(sock_net(&as->sk)->ipv4.sysctl_tcp_syn_retries);
}

/*
 * afib_xport.connecting: as TCP gives up after its SYN retries, 1 s
 * doubling each time, so does connect().
 */
static void sdp_connecting(struct afib_sock *as)
{
	unsigned long tmo = ((2UL << min(sdp_syncnt(as), 16)) - 1) * HZ;
	int user = READ_ONCE(as->sdp.user_timeout);

	/* TCP_USER_TIMEOUT bounds a connect() too. */
	if (user)
		tmo = min(tmo, msecs_to_jiffies(user));
	tmo = sdp_fb_timeout(as, tmo);
	WRITE_ONCE(as->sdp.conn_end, jiffies + tmo);
	sdp_work_at(as, tmo);
}

/**
 * sdp_tcp_state() - the TCP state an SDP connection corresponds to.
 * @as: the socket.
 *
 * For TCP_INFO and /proc/net/sdp: the end of the stream shows as TCP's
 * CLOSE_WAIT (the peer's DisConn came), FIN_WAIT2 (ours went) or
 * LAST_ACK (both).
 *
 * Return: a TCP_* state.
 */
int sdp_tcp_state(struct afib_sock *as)
{
	int state = READ_ONCE(as->sk.sk_state);
	bool in = READ_ONCE(as->fin_rcvd);
	bool out = READ_ONCE(as->fin_sent) || READ_ONCE(as->fin_pending);

	if (state != TCP_ESTABLISHED || (!in && !out))
		return state;
	if (in && out)
		return TCP_LAST_ACK;
	return in ? TCP_CLOSE_WAIT : TCP_FIN_WAIT2;
}

static void sdp_tcp_info(struct afib_sock *as, struct tcp_info *info)
{
	memset(info, 0, sizeof(*info));
	info->tcpi_state = sdp_tcp_state(as);
	spin_lock_bh(&as->lock);
	if (as->qp) {
		info->tcpi_snd_mss = sdp_max_payload(as);
		info->tcpi_rcv_mss = as->seg_size - sizeof(struct sdp_bsdh);
		info->tcpi_unacked = as->tx_posted - as->tx_tail;
		info->tcpi_snd_cwnd = as->tx_credits;
		info->tcpi_bytes_acked = as->sdp.tx_acked;
		info->tcpi_bytes_received = as->sdp.rx_end;
		info->tcpi_segs_out = as->sdp.tx_mseq - 1;
		info->tcpi_segs_in = as->sdp.rx_mseq;
	}
	spin_unlock_bh(&as->lock);
}

static int sdp_getsockopt_tcp(struct afib_sock *as, int optname,
			      char __user *optval, int __user *optlen)
{
	static const char cong[] = "sdp";
	struct tcp_info info;
	int len, val;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	switch (optname) {
	case TCP_INFO:
		sdp_tcp_info(as, &info);
		len = min_t(int, len, sizeof(info));
		if (put_user(len, optlen) || copy_to_user(optval, &info, len))
			return -EFAULT;
		return 0;
	case TCP_CONGESTION:
		len = min_t(int, len, sizeof(cong));
		if (put_user(len, optlen) || copy_to_user(optval, cong, len))
			return -EFAULT;
		return 0;
	case TCP_NODELAY:
		val = READ_ONCE(as->sdp.nodelay);
		break;
	case TCP_CORK:
		val = READ_ONCE(as->sdp.cork);
		break;
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
	case TCP_KEEPCNT:
		val = sdp_keep_value(as, optname);
		break;
	case TCP_MAXSEG:
		val = as->qp ? sdp_max_payload(as) : TCP_MSS_DEFAULT;
		break;
	case TCP_SYNCNT:
		val = sdp_syncnt(as);
		break;
	case TCP_USER_TIMEOUT:
		val = READ_ONCE(as->sdp.user_timeout);
		break;
	default:
		return -ENOPROTOOPT;
	}
	len = min_t(int, len, sizeof(int));
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
	return 0;
}

static int sdp_setsockopt(struct socket *sock, int level, int optname,
			  sockptr_t optval, unsigned int optlen)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct socket *tcp = sdp_fb_tcp(sock);
	int val;

	if (tcp && level == SOL_AFIB && sdp_rdma_opt(optname))
		return -EOPNOTSUPP;	/* no RDMA over TCP */
	if (tcp && level == SOL_SOCKET)
		return sock_setsockopt(tcp, level, optname, optval, optlen);
	if (tcp)
		return tcp->ops->setsockopt(tcp, level, optname, optval,
					    optlen);
	if (level == SOL_TCP)
		return sdp_setsockopt_tcp(as, optname, optval, optlen);
	if (level == SOL_AFIB && optname == AFIB_SDP_FALLBACK) {
		if (optlen < sizeof(int))
			return -EINVAL;
		if (copy_from_sockptr(&val, optval, sizeof(val)))
			return -EFAULT;
		if (val & ~AFIB_SDP_FALLBACK_ALL)
			return -EINVAL;
		WRITE_ONCE(as->sdp.fallback, val);
		return 0;
	}
	if (level == SOL_AFIB && optname == AFIB_SDP_ZCOPY_THRESH) {
		if (optlen < sizeof(int))
			return -EINVAL;
		if (copy_from_sockptr(&val, optval, sizeof(val)))
			return -EFAULT;
		if (val < 0)
			return -EINVAL;
		WRITE_ONCE(as->sdp.zcopy_thresh, val);
		return 0;
	}
	if (level == SOL_AFIB)
		return afib_seqpacket_ops.setsockopt(sock, level, optname,
						     optval, optlen);
	return -ENOPROTOOPT;
}

static int sdp_getsockopt(struct socket *sock, int level, int optname,
			  char __user *optval, int __user *optlen)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct socket *tcp = sdp_fb_tcp(sock);
	int len, val;

	if (tcp && level == SOL_AFIB && sdp_rdma_opt(optname))
		return -EOPNOTSUPP;
	if (tcp)
		return tcp->ops->getsockopt(tcp, level, optname, optval,
					    optlen);
	if (level == SOL_TCP)
		return sdp_getsockopt_tcp(as, optname, optval, optlen);
	if (level == SOL_AFIB && (optname == AFIB_SDP_ZCOPY_THRESH ||
				  optname == AFIB_SDP_FALLBACK)) {
		if (get_user(len, optlen))
			return -EFAULT;
		if (len < (int)sizeof(int))
			return -EINVAL;
		val = optname == AFIB_SDP_FALLBACK ?
		      READ_ONCE(as->sdp.fallback) :
		      READ_ONCE(as->sdp.zcopy_thresh);
		len = sizeof(int);
		if (put_user(len, optlen) || copy_to_user(optval, &val, len))
			return -EFAULT;
		return 0;
	}
	return afib_getsockopt(sock, level, optname, optval, optlen);
}

/*
 * The socket calls below pass through to the TCP socket once the socket
 * fell back (sdp_fallback.c): only calls that were already under way
 * then still come here, later ones go to TCP directly.
 */
static int sdp_bind(struct socket *sock, struct sockaddr *uaddr, int len)
{
	struct socket *tcp = sdp_fb_tcp(sock);

	return tcp ? tcp->ops->bind(tcp, uaddr, len) :
		     afib_bind(sock, uaddr, len);
}

static int sdp_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct socket *tcp = sdp_fb_tcp(sock);

	return tcp ? tcp->ops->getname(tcp, uaddr, peer) :
		     afib_getname(sock, uaddr, peer);
}

static __poll_t sdp_poll(struct file *file, struct socket *sock,
			 poll_table *wait)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct socket *tcp = sdp_fb_tcp(sock);
	__poll_t mask;

	if (tcp)
		return tcp->ops->poll(file, tcp, wait);
	mask = afib_poll(file, sock, wait);
	/* The TCP listener beside us wakes our wait queue. */
	if (inet_sk_state_load(sock->sk) == TCP_LISTEN &&
	    sdp_fb_acceptable(as))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static int sdp_listen(struct socket *sock, int backlog)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct socket *tcp = sdp_fb_tcp(sock);
	int err;

	if (tcp)
		return tcp->ops->listen(tcp, backlog);
	err = afib_listen(sock, backlog);
	if (err || !(READ_ONCE(as->sdp.fallback) & AFIB_SDP_FALLBACK_ACCEPT))
		return err;
	err = sdp_fb_listen(sock, backlog);
	if (err)
		/* Listen over both or not at all. */
		afib_shutdown(sock, SHUT_RD);
	return err;
}

static int sdp_shutdown(struct socket *sock, int how)
{
	struct socket *tcp = sdp_fb_tcp(sock);
	int err;

	if (tcp)
		return tcp->ops->shutdown(tcp, how);
	err = afib_shutdown(sock, how);
	if (!err && READ_ONCE(sock->sk->sk_state) != TCP_LISTEN)
		sdp_fb_unlisten(afib_sk(sock->sk));
	return err;
}

static int sdp_sock_sendmsg(struct socket *sock, struct msghdr *msg,
			    size_t len)
{
	struct socket *tcp = sdp_fb_tcp(sock);

	if (afib_rdma_is_cmsg(msg, !tcp))
		return tcp ? -EOPNOTSUPP : sdp_rdma_sendmsg(sock, msg, len);
	return tcp ? tcp->ops->sendmsg(tcp, msg, len) :
		     sdp_sendmsg(sock, msg, len);
}

static int sdp_sock_recvmsg(struct socket *sock, struct msghdr *msg,
			    size_t len, int flags)
{
	struct socket *tcp = sdp_fb_tcp(sock);

	return tcp ? tcp->ops->recvmsg(tcp, msg, len, flags) :
		     sdp_recvmsg(sock, msg, len, flags);
}

/* Wait for an SDP or a TCP connection, as inet_csk_wait_for_connect(). */
static int sdp_accept_wait(struct afib_sock *lis, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sock *sk = &lis->sk;

	add_wait_queue(sk_sleep(sk), &wait);
	if (list_empty_careful(&lis->accept_q) && !sdp_fb_acceptable(lis) &&
	    !READ_ONCE(sk->sk_err) && READ_ONCE(sk->sk_state) == TCP_LISTEN)
		*timeo = wait_woken(&wait, TASK_INTERRUPTIBLE, *timeo);
	remove_wait_queue(sk_sleep(sk), &wait);
	return signal_pending(current) ? sock_intr_errno(*timeo) : 0;
}

#ifdef AFIB_HAVE_PROTO_ACCEPT_ARG
static int sdp_accept(struct socket *sock, struct socket *newsock,
		      struct proto_accept_arg *arg)
{
	struct proto_accept_arg nb = *arg;
	int flags = arg->flags;
	bool kern = arg->kern;
#define sdp_accept_sdp() afib_accept(sock, newsock, &nb)
#else
static int sdp_accept(struct socket *sock, struct socket *newsock, int flags,
		      bool kern)
{
#define sdp_accept_sdp() afib_accept(sock, newsock, flags | O_NONBLOCK, kern)
#endif
	struct afib_sock *lis = afib_sk(sock->sk);
	long timeo;
	int err;

	if (sdp_fb_tcp(sock))
		return -EINVAL;	/* as TCP's accept() on a connection */
	if (!sdp_fb_lis(lis))
#ifdef AFIB_HAVE_PROTO_ACCEPT_ARG
		return afib_accept(sock, newsock, arg);
	nb.flags |= O_NONBLOCK;
#else
		return afib_accept(sock, newsock, flags, kern);
#endif
	timeo = sock_rcvtimeo(sock->sk, flags & O_NONBLOCK);
	for (;;) {
		err = sdp_accept_sdp();
		if (err != -EAGAIN)
			return err;
		err = sdp_fb_accept(lis, newsock, kern);
		if (err != -EAGAIN)
			return err;
		if (!timeo)
			return -EAGAIN;
		err = sdp_accept_wait(lis, &timeo);
		if (err)
			return err;
	}
}

#undef sdp_accept_sdp

const struct proto_ops sdp_stream_ops = {
	.family		= PF_INET_SDP,
	.owner		= THIS_MODULE,
	.release	= sdp_release,
	.bind		= sdp_bind,
	.connect	= sdp_connect,
	.socketpair	= sock_no_socketpair,
	.accept		= sdp_accept,
	.getname	= sdp_getname,
	.poll		= sdp_poll,
	.ioctl		= sdp_ioctl,
	.listen		= sdp_listen,
	.shutdown	= sdp_shutdown,
	.setsockopt	= sdp_setsockopt,
	.getsockopt	= sdp_getsockopt,
	.sendmsg	= sdp_sock_sendmsg,
	.recvmsg	= sdp_sock_recvmsg,
	.mmap		= sock_no_mmap,
};

const struct afib_xport sdp_xport = {
	.ops		= &sdp_stream_ops,
	.prot		= &sdp_prot,
	.type		= SOCK_STREAM,
	.protocol	= IPPROTO_TCP,
	.hold_requests	= true,
	.bind_later	= true,
	.ctrl_size	= SDP_CTRL_SIZE,
	.init		= sdp_sock_init,
	.destruct	= sdp_destruct,
	.killed		= sdp_work_stop,
	.connecting	= sdp_connecting,
	.connect_failed	= sdp_connect_failed,
	.close		= sdp_close,
	.addr		= sdp_addr,
	.qp_size	= sdp_qp_size,
	.qp_ready	= sdp_qp_ready,
	.rx_done	= sdp_rx_done,
	.tx_done	= sdp_tx_done,
	.ctrl_flush	= sdp_ctrl_flush,
	.send_ctrl	= sdp_send_ctrl,
	.hello		= sdp_hello,
	.parse		= sdp_parse,
	.connected	= sdp_connected,
	.disconnected	= sdp_disconnected,
	.readable	= sdp_readable,
	.unread		= sdp_unread,
	.poll_segs	= sdp_poll_segs,
	.rdma_room	= sdp_rdma_room,
	.rdma_posted	= sdp_rdma_posted,
	.rdma_fail	= sdp_conn_fail,
};

/**
 * sdp_create() - make an SDP socket.
 * @net: its network namespace.
 * @sock: the socket, SOCK_STREAM.
 * @protocol: 0 or IPPROTO_TCP.
 * @kern: for the kernel's own use.
 * @family: PF_INET_SDP or PF_INET6_SDP.
 *
 * Return: 0 or a negative errno.
 */
int sdp_create(struct net *net, struct socket *sock, int protocol, int kern,
	       int family)
{
	struct sock *sk;

	if (sock->type != SOCK_STREAM)
		return -ESOCKTNOSUPPORT;
	if (protocol && protocol != IPPROTO_TCP)
		return -EPROTONOSUPPORT;
	sk = afib_sk_alloc(net, family, &sdp_xport, sock, kern);
	if (!sk)
		return -ENOMEM;
	sock->ops = &sdp_stream_ops;
	sock->state = SS_UNCONNECTED;
	return 0;
}

static int sdp6_create(struct net *net, struct socket *sock, int protocol,
		       int kern)
{
	return sdp_create(net, sock, protocol, kern, PF_INET6_SDP);
}

static const struct net_proto_family sdp6_family_ops = {
	.family	= PF_INET6_SDP,
	.create	= sdp6_create,
	.owner	= THIS_MODULE,
};

int sdp_init(void)
{
	int err;

	err = proto_register(&sdp_prot, 1);
	if (err)
		return err;
	err = sdp_proc_init();
	if (err)
		goto unregister_proto;
	err = sdp_fb_init_sysctl();
	if (err)
		goto proc_exit;
	err = sock_register(&sdp6_family_ops);
	if (err) {
		pr_err("af_ib: family %d is taken (%d)\n", PF_INET6_SDP, err);
		goto sysctl_exit;
	}
	return 0;

sysctl_exit:
	sdp_fb_exit_sysctl();
proc_exit:
	sdp_proc_exit();
unregister_proto:
	proto_unregister(&sdp_prot);
	return err;
}

void sdp_exit(void)
{
	sock_unregister(PF_INET6_SDP);
	sdp_fb_exit_sysctl();
	sdp_proc_exit();
	proto_unregister(&sdp_prot);
}

MODULE_ALIAS_NETPROTO(PF_INET6_SDP);
