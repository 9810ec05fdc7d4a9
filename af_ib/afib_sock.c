// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib SOCK_SEQPACKET socket calls.
 *
 * States use TCP's numbering, as SMC does: CLOSE, LISTEN, SYN_SENT,
 * SYN_RECV (a child accepting), ESTABLISHED.  A connection the peer or
 * the fabric ended goes back to CLOSE with peer_gone set; what was
 * received stays readable, then recv() returns 0.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/delay.h>
#include <net/sock.h>
#include <rdma/ib_cache.h>
#include "afib.h"

/* Upper bound on close()'s wait for sends to reach the peer. */
#define AFIB_CLOSE_TIMEOUT	(2 * HZ)

static struct lock_class_key afib_slock_key[3];
static struct lock_class_key afib_lock_key[3];

static void afib_destruct(struct sock *sk)
{
	struct afib_sock *as = afib_sk(sk);

	WARN_ON_ONCE(as->qp || as->cm_id || as->dev);
	if (as->xp->destruct)
		as->xp->destruct(as);
	afib_rdma_destruct(as);
	afib_free_bufs(as);
}

/**
 * afib_sk_alloc() - a new AF_IB or SDP socket.
 * @net: its network namespace.
 * @family: PF_IB (PF_INET_SDP) or PF_INET6_SDP.
 * @xp: its type.
 * @sock: the socket it belongs to, NULL for a child of a listener.
 * @kern: for the kernel's own use.
 *
 * Return: the socket, or NULL.
 */
struct sock *afib_sk_alloc(struct net *net, int family,
			   const struct afib_xport *xp, struct socket *sock,
			   int kern)
{
	bool stream = xp->type == SOCK_STREAM;
	struct afib_sock *as;
	struct sock *sk;

	sk = sk_alloc(net, family, GFP_KERNEL, xp->prot, kern);
	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	if (stream)
		sock_lock_init_class_and_name(sk, "slock-AF_INET_SDP",
					      &afib_slock_key[1],
					      "sk_lock-AF_INET_SDP",
					      &afib_lock_key[1]);
	else if (xp->type == SOCK_DGRAM)
		sock_lock_init_class_and_name(sk, "slock-AF_IB-DGRAM",
					      &afib_slock_key[2],
					      "sk_lock-AF_IB-DGRAM",
					      &afib_lock_key[2]);
	else
		sock_lock_init_class_and_name(sk, "slock-AF_IB-SEQPACKET",
					      &afib_slock_key[0],
					      "sk_lock-AF_IB-SEQPACKET",
					      &afib_lock_key[0]);
	sk->sk_type = xp->type;
	sk->sk_protocol = xp->protocol;
	sk->sk_state = TCP_CLOSE;
	sk->sk_destruct = afib_destruct;

	as = afib_sk(sk);
	as->xp = xp;
	mutex_init(&as->cm_lock);
	mutex_init(&as->rx_lock);
	mutex_init(&as->tx_lock);
	mutex_init(&as->qp_lock);
	spin_lock_init(&as->lock);
	INIT_WORK(&as->poll_work, afib_poll_work);
	/* No CQ to poll yet. */
	set_bit(AFIB_CQ_BUSY, &as->cq_flags);
	INIT_LIST_HEAD(&as->rx_queue);
	INIT_LIST_HEAD(&as->accept_q);
	INIT_LIST_HEAD(&as->held_q);
	INIT_LIST_HEAD(&as->accept_node);
	INIT_LIST_HEAD(&as->dev_node);
	afib_rdma_init(as);
	as->family = AF_IB;
	as->any_family = AF_INET6;
	sk->sk_write_space = afib_write_space;
	if (xp->init)
		xp->init(as);
	return sk;
}

/* A scratch id sees no events: it is bound and destroyed at once. */
static int afib_scratch_handler(struct rdma_cm_id *id,
				struct rdma_cm_event *ev)
{
	return 0;
}

static struct rdma_cm_id *afib_get_id(struct afib_sock *as)
{
	struct rdma_cm_id *id = as->cm_id;

	return id ?: afib_create_id(as, sock_net(&as->sk));
}

/*
 * rdma_cm says EADDRNOTAVAIL both for an address that is not local and
 * for a port taken where either binding is a wildcard; TCP says
 * EADDRINUSE for the latter.  Tell them apart by binding a scratch id to
 * the same address with port 0.  Without lock_sock(): rdma_destroy_id()
 * takes the handler mutex, which is outside it.
 */
static int afib_bind_errno(struct afib_sock *as, int err,
			   const struct sockaddr_storage *addr)
{
	struct sockaddr_storage any_port = *addr;
	struct rdma_cm_id *id;

	if (err == -ENODEV || err == -ENETDOWN)
		return -EADDRNOTAVAIL;
	if (err != -EADDRNOTAVAIL)
		return err;
	if (any_port.ss_family == AF_INET)
		((struct sockaddr_in *)&any_port)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&any_port)->sin6_port = 0;
	id = rdma_create_id(sock_net(&as->sk), afib_scratch_handler, NULL,
			    RDMA_PS_TCP, IB_QPT_RC);
	if (IS_ERR(id))
		return err;
	if (!rdma_bind_addr(id, (struct sockaddr *)&any_port))
		err = -EADDRINUSE;
	rdma_destroy_id(id);
	return err;
}

/* The port of an address afib_xport.addr() made, host order. */
static u16 afib_port(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)addr)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
}

/*
 * Could a socket with SO_REUSEADDR bind @addr now?  TCP lets such
 * sockets share a port as long as none of them listens; rdma_cm refuses
 * a listen while any other id holds the port.  So, for
 * afib_xport.bind_later, bind() only checks with a scratch id, and the
 * socket's own id is bound by listen() or connect().
 */
static int afib_bind_probe(struct afib_sock *as,
			   const struct sockaddr_storage *addr)
{
	struct rdma_cm_id *id;
	int err;

	id = rdma_create_id(sock_net(&as->sk), afib_scratch_handler, NULL,
			    RDMA_PS_TCP, IB_QPT_RC);
	if (IS_ERR(id))
		return PTR_ERR(id);
	rdma_set_reuseaddr(id, 1);
	err = rdma_bind_addr(id, (struct sockaddr *)addr);
	rdma_destroy_id(id);
	return err ? afib_bind_errno(as, err, addr) : 0;
}

int afib_bind(struct socket *sock, struct sockaddr *uaddr, int len)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	struct rdma_cm_id *id, *failed = NULL;
	struct sockaddr_storage addr;
	bool later;
	int family, err;

	err = as->xp->addr(as, uaddr, len, &addr, &family);
	if (err)
		return err;
	later = as->xp->bind_later && sk->sk_reuse &&
		afib_port(&addr);
	if (later) {
		err = afib_bind_probe(as, &addr);
		if (err)
			return err;
	}

	lock_sock(sk);
	if (as->bound || sk->sk_state != TCP_CLOSE || as->peer_gone) {
		err = -EINVAL;
		goto out;
	}
	if (later) {
		as->bound = true;
		as->user_bound = true;
		as->bind_later = true;
		as->family = family;
		as->src = addr;
		goto out;
	}
	id = afib_get_id(as);
	if (IS_ERR(id)) {
		err = PTR_ERR(id);
		goto out;
	}
	if (sk->sk_reuse)
		rdma_set_reuseaddr(id, 1);
	err = rdma_bind_addr(id, (struct sockaddr *)&addr);
	if (!err) {
		as->bound = true;
		as->user_bound = true;
		as->family = family;
		as->src = addr;
	} else {
		/* It may be left half bound: the next call starts afresh. */
		failed = afib_take_id(as);
	}
out:
	release_sock(sk);
	if (failed) {
		rdma_destroy_id(failed);
		sock_put(sk);	/* the id's reference */
		err = afib_bind_errno(as, err, &addr);
	}
	return err;
}

/*
 * A failed attempt leaves the rdma_cm id unusable: start again with a
 * new one, bound where the user bound the old one.  Called and returns
 * with lock_sock() held, drops it meanwhile (rdma_destroy_id() waits for
 * handlers, which take it).
 */
static int afib_connect_reset(struct afib_sock *as)
{
	struct sock *sk = &as->sk;
	struct rdma_cm_id *id;

	release_sock(sk);
	afib_kill(as, 0);
	afib_destroy_id(as);
	lock_sock(sk);

	/*
	 * A reader or writer of the failed connection may still be copying
	 * to or from its buffers: wait for it before they go.
	 */
	if (mutex_lock_interruptible(&as->rx_lock))
		return -ERESTARTSYS;
	if (mutex_lock_interruptible(&as->tx_lock)) {
		mutex_unlock(&as->rx_lock);
		return -ERESTARTSYS;
	}
	WRITE_ONCE(sk->sk_shutdown, 0);
	spin_lock_bh(&as->lock);
	as->dead = false;
	as->peer_gone = false;
	as->fin_pending = false;
	as->fin_sent = false;
	as->fin_rcvd = false;
	as->tx_credits = 0;
	as->tx_want = 0;
	as->tx_busy = false;
	as->drain_wait = false;
	as->rx_owed = 0;
	as->ctrl_inflight = 0;
	spin_unlock_bh(&as->lock);
	afib_free_bufs(as);
	mutex_unlock(&as->tx_lock);
	mutex_unlock(&as->rx_lock);
	as->bound = false;
	as->tried = false;
	if (as->cm_id || sk->sk_state != TCP_CLOSE)
		return -EISCONN;	/* another thread got there first */
	id = afib_create_id(as, sock_net(sk));
	if (IS_ERR(id))
		return PTR_ERR(id);
	if (!as->user_bound)
		return 0;
	if (as->xp->bind_later && sk->sk_reuse && afib_port(&as->src)) {
		as->bind_later = true;
		as->bound = true;
		return 0;
	}
	if (sk->sk_reuse)
		rdma_set_reuseaddr(id, 1);
	as->bound = !rdma_bind_addr(id, (struct sockaddr *)&as->src);
	return as->bound ? 0 : -EADDRINUSE;
}

int afib_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	struct sockaddr_storage any = { .ss_family = as->any_family };
	struct rdma_cm_id *id;
	int err = 0;

	lock_sock(sk);
	if (sock->state != SS_UNCONNECTED || as->peer_gone) {
		err = -EINVAL;
		goto out;
	}
	backlog = clamp(backlog, 0, (int)READ_ONCE(sock_net(sk)->core.sysctl_somaxconn));
	if (sk->sk_state == TCP_LISTEN) {
		WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
		goto out;
	}
	if (sk->sk_state != TCP_CLOSE) {
		err = -EINVAL;
		goto out;
	}
	if (as->tried) {
		err = afib_connect_reset(as);
		if (err)
			goto out;
	}
	id = afib_get_id(as);
	if (IS_ERR(id)) {
		err = PTR_ERR(id);
		goto out;
	}
	if (as->bind_later) {
		rdma_set_reuseaddr(id, 1);
		err = rdma_bind_addr(id, (struct sockaddr *)&as->src);
		if (err) {
			/* Another one listens there now, as TCP says. */
			err = err == -EADDRNOTAVAIL ? -EADDRINUSE : err;
			goto out;
		}
		as->bind_later = false;
	} else if (!as->bound) {
		/* Like TCP: listening unbound picks a port on any address. */
		err = rdma_bind_addr(id, (struct sockaddr *)&any);
		if (err)
			goto out;
		as->bound = true;
	}
	WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
	err = rdma_listen(id, backlog ?: 1);
	if (err)
		goto out;
	spin_lock_bh(&as->lock);
	sk->sk_state = TCP_LISTEN;
	spin_unlock_bh(&as->lock);
out:
	release_sock(sk);
	return err;
}

#ifdef AFIB_HAVE_PROTO_ACCEPT_ARG
int afib_accept(struct socket *sock, struct socket *newsock,
		struct proto_accept_arg *arg)
{
	int flags = arg->flags;
#else
int afib_accept(struct socket *sock, struct socket *newsock, int flags,
		bool kern)
{
#endif
	struct sock *sk = sock->sk;
	struct afib_sock *lis = afib_sk(sk);
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct afib_sock *child = NULL;
	long timeo;
	int err = 0;

	lock_sock(sk);
	if (sk->sk_state != TCP_LISTEN) {
		err = -EINVAL;
		goto out;
	}
	timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
	for (;;) {
		spin_lock_bh(&lis->lock);
		child = list_first_entry_or_null(&lis->accept_q,
						 struct afib_sock,
						 accept_node);
		if (child) {
			list_del_init(&child->accept_node);
			sk_acceptq_removed(sk);
		}
		spin_unlock_bh(&lis->lock);
		if (child)
			break;
		err = sock_error(sk);
		if (err)
			goto out;
		if (sk->sk_state != TCP_LISTEN) {
			err = -EINVAL;
			goto out;
		}
		if (!timeo) {
			err = -EAGAIN;
			goto out;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(timeo);
			goto out;
		}
		add_wait_queue(sk_sleep(sk), &wait);
		sk_wait_event(sk, &timeo,
			      !list_empty_careful(&lis->accept_q) ||
			      READ_ONCE(sk->sk_err) ||
			      READ_ONCE(sk->sk_state) != TCP_LISTEN, &wait);
		remove_wait_queue(sk_sleep(sk), &wait);
	}
	release_sock(sk);

	lock_sock(&child->sk);
	sock_graft(&child->sk, newsock);
	newsock->state = SS_CONNECTED;
	child->parent = NULL;
	release_sock(&child->sk);
	/* Room in the backlog: a held request may go on. */
	afib_unhold(lis);
	sock_put(sk);		/* the child's reference on its listener */
	return 0;
out:
	release_sock(sk);
	return err;
}

/* Wait for the connection attempt to end; lock_sock() held. */
static int afib_wait_connect(struct sock *sk, long *timeo)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	int err = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	while (READ_ONCE(sk->sk_state) == TCP_SYN_SENT) {
		if (!*timeo) {
			err = -EINPROGRESS;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(*timeo);
			break;
		}
		sk_wait_event(sk, timeo,
			      READ_ONCE(sk->sk_state) != TCP_SYN_SENT, &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	return err;
}

int afib_connect(struct socket *sock, struct sockaddr *uaddr, int len,
		 int flags)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	struct rdma_cm_id *id, *failed = NULL;
	struct sockaddr_storage addr;
	int family, err;
	long timeo;

	err = as->xp->addr(as, uaddr, len, &addr, &family);
	if (err)
		return err;

	lock_sock(sk);
	switch (sock->state) {
	case SS_CONNECTED:
		err = -EISCONN;
		goto out;
	case SS_CONNECTING:
		if (sk->sk_state == TCP_SYN_SENT) {
			err = (flags & O_NONBLOCK) ? -EALREADY : 0;
			if (err)
				goto out;
			goto wait;
		}
		/* finished, successfully or not: report as TCP does */
		goto done;
	default:
		break;
	}
	if (sk->sk_state == TCP_LISTEN) {
		err = -EISCONN;
		goto out;
	}
	if (as->tried) {
		/* A new attempt after a failed one (never connected). */
		err = afib_connect_reset(as);
		if (err)
			goto out;
	}
	if (as->peer_gone || sk->sk_state != TCP_CLOSE) {
		err = -EISCONN;
		goto out;
	}
	id = afib_get_id(as);
	if (IS_ERR(id)) {
		err = PTR_ERR(id);
		goto out;
	}
	if (!as->bound)
		as->family = family;
	sk->sk_state = TCP_SYN_SENT;
	sock->state = SS_CONNECTING;
	as->tried = true;
	err = afib_cm_connect(as, (struct sockaddr *)&addr);
	if (err) {
		sk->sk_state = TCP_CLOSE;
		sock->state = SS_UNCONNECTED;
		if (!as->bound) {
			/*
			 * rdma_cm may have bound the id before it failed; as
			 * TCP, the socket stays unbound: start afresh.
			 */
			failed = afib_take_id(as);
			as->tried = false;
		}
		if (err == -ENODEV || err == -ENETUNREACH)
			err = -ENETUNREACH;
		goto out;
	}
	as->bound = true;
	if (as->xp->connecting)
		as->xp->connecting(as);
	if (flags & O_NONBLOCK) {
		err = -EINPROGRESS;
		goto out;
	}
wait:
	timeo = sock_sndtimeo(sk, flags & O_NONBLOCK);
	err = afib_wait_connect(sk, &timeo);
	if (err)
		goto out;	/* still connecting: EALREADY next time */
done:
	if (sk->sk_state == TCP_ESTABLISHED) {
		sock->state = SS_CONNECTED;
		err = 0;
	} else {
		/* As TCP: the error once, ECONNABORTED if already read. */
		err = sock_error(sk) ?: -ECONNABORTED;
		sock->state = SS_UNCONNECTED;
	}
out:
	release_sock(sk);
	if (failed) {
		rdma_destroy_id(failed);
		sock_put(sk);	/* the id's reference */
	}
	return err;
}

int afib_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	struct sockaddr_storage tmp;
	struct sockaddr_storage any = { .ss_family = as->any_family };
	const struct sockaddr *cm = (struct sockaddr *)&any;
	int len;

	lock_sock(sk);
	if (peer && (sk->sk_state != TCP_ESTABLISHED || !as->cm_id)) {
		release_sock(sk);
		return -ENOTCONN;
	}
	mutex_lock(&as->cm_lock);
	if (!peer && as->bind_later) {
		cm = (struct sockaddr *)&as->src;
	} else if (as->cm_id) {
		struct rdma_addr *a = &as->cm_id->route.addr;

		cm = peer ? (struct sockaddr *)&a->dst_addr :
			    (struct sockaddr *)&a->src_addr;
		if (!cm->sa_family)
			cm = (struct sockaddr *)&any;
	}
	if (as->family == AF_INET && cm == (struct sockaddr *)&any)
		any.ss_family = AF_INET;
	len = afib_addr_from_cm(cm, as->family, &tmp);
	mutex_unlock(&as->cm_lock);
	release_sock(sk);
	if (len < 0)
		return len;
	memcpy(uaddr, &tmp, len);
	return len;
}

__poll_t afib_poll(struct file *file, struct socket *sock, poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	__poll_t mask = 0;
	int state;

	sock_poll_wait(file, sock, wait);
	state = inet_sk_state_load(sk);

	if (state == TCP_LISTEN) {
		if (!list_empty_careful(&as->accept_q))
			mask |= EPOLLIN | EPOLLRDNORM;
		if (READ_ONCE(sk->sk_err))
			mask |= EPOLLERR;
		return mask;
	}

	if (state == TCP_CLOSE ||
	    READ_ONCE(sk->sk_shutdown) == SHUTDOWN_MASK)
		mask |= EPOLLHUP;
	if ((READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) ||
	    READ_ONCE(as->fin_rcvd) || READ_ONCE(as->peer_gone))
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
	if (as->xp->readable(as))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (READ_ONCE(as->sdp.urg) == SDP_URG_VALID)
		mask |= EPOLLPRI;

	if (state == TCP_ESTABLISHED) {
		u32 segs = as->xp->poll_segs(as);

		if (READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN) {
			mask |= EPOLLOUT | EPOLLWRNORM;
		} else if (afib_tx_writable(as, segs)) {
			mask |= EPOLLOUT | EPOLLWRNORM;
		} else {
			/*
			 * afib_tx_writable() armed the wakeup.  Look again
			 * after asking for SIGIO, so that room freed in
			 * between is not missed by O_ASYNC users.
			 */
			sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
			if (afib_tx_writable(as, segs))
				mask |= EPOLLOUT | EPOLLWRNORM;
		}
	} else if (state == TCP_CLOSE) {
		mask |= EPOLLOUT | EPOLLWRNORM;
	}

	/* Paired with the smp_wmb() in afib_set_error(). */
	smp_rmb();
	if (READ_ONCE(sk->sk_err) ||
	    !skb_queue_empty_lockless(&sk->sk_error_queue))
		mask |= EPOLLERR;
	return mask;
}

static void afib_drop_children(struct afib_sock *lis);

int afib_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	int mask, err = 0;

	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	mask = how + 1;	/* SHUT_RD -> RCV_SHUTDOWN, ... */

	lock_sock(sk);
	if (sk->sk_state == TCP_LISTEN) {
		if (!(mask & RCV_SHUTDOWN))
			goto out;
		/* As TCP: stop listening; accept() then fails with EINVAL. */
		spin_lock_bh(&as->lock);
		sk->sk_state = TCP_CLOSE;
		spin_unlock_bh(&as->lock);
		sk->sk_state_change(sk);
		release_sock(sk);
		afib_destroy_id(as);
		afib_drop_children(as);
		return 0;
	}
	if (sk->sk_state != TCP_ESTABLISHED) {
		err = -ENOTCONN;
		goto out;
	}
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | mask);
	sk->sk_state_change(sk);
	/* FIN goes after a message being posted; blocked senders fail. */
	if (mask & SEND_SHUTDOWN)
		afib_send_ctrl(as, AFIB_MT_FIN);
out:
	release_sock(sk);
	return err;
}

static int afib_info_get(struct afib_sock *as, struct afib_info *info)
{
	struct ib_qp_init_attr init;
	struct ib_qp_attr attr;
	struct rdma_cm_id *id;
	int err;

	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->max_msg_size = AFIB_MAX_MSG;
	info->state = READ_ONCE(as->sk.sk_state);

	mutex_lock(&as->qp_lock);
	mutex_lock(&as->cm_lock);
	id = as->cm_id;
	if (id && id->device) {
		strscpy(info->dev_name, dev_name(&id->device->dev),
			sizeof(info->dev_name));
		info->port = id->port_num;
	}
	mutex_unlock(&as->cm_lock);
	if (as->qp) {
		info->qp_num = as->qp->qp_num;
		info->dest_qp_num = as->dest_qpn;
		err = ib_query_qp(as->qp, &attr, IB_QP_PATH_MTU | IB_QP_AV,
				  &init);
		if (!err) {
			const struct ib_global_route *grh;
			const struct ib_gid_attr *sgid;

			if (attr.path_mtu)
				info->path_mtu = ib_mtu_enum_to_int(attr.path_mtu);
			grh = rdma_ah_read_grh(&attr.ah_attr);
			if (rdma_ah_get_ah_flags(&attr.ah_attr) & IB_AH_GRH) {
				memcpy(info->remote_gid, grh->dgid.raw, 16);
				sgid = rdma_get_gid_attr(as->qp->device,
							 rdma_ah_get_port_num(&attr.ah_attr),
							 grh->sgid_index);
				if (!IS_ERR(sgid)) {
					memcpy(info->local_gid, sgid->gid.raw,
					       16);
					rdma_put_gid_attr(sgid);
				}
			}
			rdma_destroy_ah_attr(&attr.ah_attr);
			rdma_destroy_ah_attr(&attr.alt_ah_attr);
		}
	}
	mutex_unlock(&as->qp_lock);
	return 0;
}

int afib_getsockopt(struct socket *sock, int level, int optname,
		    char __user *optval, int __user *optlen)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct afib_info info;
	int len, val;

	if (level != SOL_AFIB)
		return -ENOPROTOOPT;
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;

	switch (optname) {
	case AFIB_MAX_MSG_SIZE:
		if (len < (int)sizeof(int))
			return -EINVAL;
		val = AFIB_MAX_MSG;
		len = sizeof(int);
		if (copy_to_user(optval, &val, len))
			return -EFAULT;
		break;
	case AFIB_INFO:
		afib_info_get(as, &info);
		len = min_t(int, len, sizeof(info));
		info.size = len;
		if (copy_to_user(optval, &info, len))
			return -EFAULT;
		break;
	case AFIB_RDMA_ASYNC:
		if (!as->xp->rdma_room)
			return -ENOPROTOOPT;
		if (len < (int)sizeof(int))
			return -EINVAL;
		val = READ_ONCE(as->rdma_async);
		len = sizeof(int);
		if (copy_to_user(optval, &val, len))
			return -EFAULT;
		break;
	case AFIB_DEVICE:
		afib_info_get(as, &info);
		if (!info.dev_name[0])
			return -ENOTCONN;
		val = strlen(info.dev_name) + 1;
		if (len < val)
			return -EINVAL;
		len = val;
		if (copy_to_user(optval, info.dev_name, len))
			return -EFAULT;
		break;
	default:
		return -ENOPROTOOPT;
	}
	return put_user(len, optlen);
}

static int afib_setsockopt(struct socket *sock, int level, int optname,
			   sockptr_t optval, unsigned int optlen)
{
	if (level != SOL_AFIB)
		return -ENOPROTOOPT;
	switch (optname) {
	case AFIB_INFO:
	case AFIB_MAX_MSG_SIZE:
	case AFIB_DEVICE:
		return -EPERM;	/* read only */
	default:
		return afib_rdma_setsockopt(afib_sk(sock->sk), optname, optval,
					    optlen);
	}
}

/*
 * Orderly or abortive end of a connection, then release everything.
 * Only an established connection has a peer to tell.
 */
static void afib_teardown(struct afib_sock *as, bool abort, bool established)
{
	struct sock *sk = &as->sk;
	long timeo;
	bool sent;

	if (established && as->qp && !as->dead && !as->peer_gone) {
		/* The FIN or ABORT completes after everything sent before. */
		if (abort || as->xp->unread(as) ||
		    (sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime))
			sent = !afib_send_ctrl(as, AFIB_MT_ABORT);
		else
			sent = !afib_send_ctrl(as, AFIB_MT_FIN);
		timeo = sock_flag(sk, SOCK_LINGER) ? sk->sk_lingertime :
			AFIB_CLOSE_TIMEOUT;
		if (!sent)
			timeo = 0;	/* no ABORT: disconnect at once */
		if (sk->sk_socket) {
			afib_wait(as, &timeo, afib_tx_idle(as));
		} else {
			/* A child never accepted has no wait queue. */
			unsigned long end = jiffies + timeo;

			while (!afib_tx_idle(as) && time_before(jiffies, end))
				usleep_range(500, 1000);
		}
	}
	afib_finish(as);
}

/**
 * afib_finish() - end the connection now and release everything.
 * @as: the socket, closing.
 *
 * The last step of close(): disconnect, drop the QP, CQ and buffers and
 * destroy the rdma_cm id.
 */
void afib_finish(struct afib_sock *as)
{
	struct rdma_cm_id *id = afib_take_id(as);

	if (id && as->qp)
		afib_disconnect(as, id);
	afib_kill(as, 0);
	if (id) {
		rdma_destroy_id(id);
		sock_put(&as->sk);	/* the id's reference */
	}
}

/* Close a child that was never accepted (its listener is closing). */
static void afib_child_release(struct afib_sock *child)
{
	struct afib_sock *lis = child->parent;

	afib_teardown(child, true, true);
	child->parent = NULL;
	sock_put(&lis->sk);	/* the child's reference on its listener */
	sock_put(&child->sk);	/* the owner's reference */
}

/* Close the children a listener holds; it takes no new ones. */
static void afib_drop_children(struct afib_sock *lis)
{
	struct afib_sock *child, *tmp;
	LIST_HEAD(children);

	spin_lock_bh(&lis->lock);
	list_splice_init(&lis->accept_q, &children);
	spin_unlock_bh(&lis->lock);
	list_for_each_entry_safe(child, tmp, &children, accept_node) {
		list_del_init(&child->accept_node);
		afib_child_release(child);
	}
	while (afib_drop_held(lis))
		;
}

int afib_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as;
	int state;

	if (!sk)
		return 0;
	as = afib_sk(sk);

	lock_sock(sk);
	state = sk->sk_state;
	spin_lock_bh(&as->lock);
	sk->sk_state = TCP_CLOSE;
	spin_unlock_bh(&as->lock);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	release_sock(sk);

	if (state != TCP_LISTEN)
		afib_rdma_release(as);	/* before a lingering close */
	if (state == TCP_LISTEN)
		afib_destroy_id(as);	/* no new children after this */
	else if (!as->xp->close || !as->xp->close(as, state))
		afib_teardown(as, false, state == TCP_ESTABLISHED);

	/* A listener the device removal stopped may still hold children. */
	afib_drop_children(as);

	lock_sock(sk);
	sock_orphan(sk);
	sock->sk = NULL;
	release_sock(sk);
	sock_put(sk);		/* the owner's reference */
	return 0;
}

const struct proto_ops afib_seqpacket_ops = {
	.family		= PF_IB,
	.owner		= THIS_MODULE,
	.release	= afib_release,
	.bind		= afib_bind,
	.connect	= afib_connect,
	.socketpair	= sock_no_socketpair,
	.accept		= afib_accept,
	.getname	= afib_getname,
	.poll		= afib_poll,
	.ioctl		= sock_no_ioctl,
	.listen		= afib_listen,
	.shutdown	= afib_shutdown,
	.setsockopt	= afib_setsockopt,
	.getsockopt	= afib_getsockopt,
	.sendmsg	= afib_sendmsg,
	.recvmsg	= afib_recvmsg,
	.mmap		= sock_no_mmap,
};
