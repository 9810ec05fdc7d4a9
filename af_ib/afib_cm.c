// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib connection management over rdma_cm.
 *
 * Active side: connect() resolves the address; the rest runs in CM event
 * handlers: ADDR_RESOLVED resolves the route, ROUTE_RESOLVED creates the
 * QP, posts receives and sends the request carrying our hello, and
 * ESTABLISHED takes the peer's hello from the reply.
 *
 * Passive side: CONNECT_REQUEST arrives on a new id whose context is the
 * listener.  If the listener is listening and its backlog has room, a
 * child socket is made, gets a QP and accepts; the child counts against
 * the backlog from then on, and on ESTABLISHED moves to the listener's
 * accept queue.  A child holds a reference on its listener until
 * accept() takes it or it dies.
 *
 * Whoever takes afib_sock.cm_id (afib_take_id()) destroys it, after
 * afib_kill() released the QP.  A handler destroys its id by returning
 * non-zero, so it may only do so after taking it.
 */
#include <linux/module.h>
#include <net/route.h>
#include "afib.h"

#define AFIB_RESOLVE_TIMEOUT_MS	2000
#define AFIB_RETRY_COUNT	7
#define AFIB_RNR_RETRY_COUNT	7

static int afib_cm_handler(struct rdma_cm_id *id, struct rdma_cm_event *ev);

/**
 * afib_set_error() - record an error for the user and wake everybody.
 * @sk: the socket.
 * @err: positive errno.
 */
void afib_set_error(struct sock *sk, int err)
{
	WRITE_ONCE(sk->sk_err, err);
	/* Paired with the smp_rmb() in afib_poll(). */
	smp_wmb();
	sk_error_report(sk);
}

/**
 * afib_create_id() - give @as an rdma_cm id.
 * @as: the socket.
 * @net: its network namespace.
 *
 * The id holds a reference on the socket, dropped by afib_destroy_id()
 * or by the handler that has rdma_cm destroy it.
 *
 * Return: the id or an ERR_PTR.
 */
struct rdma_cm_id *afib_create_id(struct afib_sock *as, struct net *net)
{
	struct rdma_cm_id *id;

	id = rdma_create_id(net, afib_cm_handler, as, RDMA_PS_TCP, IB_QPT_RC);
	if (IS_ERR(id))
		return id;
	sock_hold(&as->sk);	/* sock_put in afib_destroy_id() */
	mutex_lock(&as->cm_lock);
	as->cm_id = id;
	mutex_unlock(&as->cm_lock);
	return id;
}

/* Take ownership of the id: the caller must destroy it. */
struct rdma_cm_id *afib_take_id(struct afib_sock *as)
{
	struct rdma_cm_id *id;

	mutex_lock(&as->cm_lock);
	id = as->cm_id;
	as->cm_id = NULL;
	mutex_unlock(&as->cm_lock);
	return id;
}

void afib_destroy_id(struct afib_sock *as)
{
	struct rdma_cm_id *id = afib_take_id(as);

	if (!id)
		return;
	rdma_destroy_id(id);
	sock_put(&as->sk);	/* the id's reference */
}

/* @pdata: AFIB_PRIVATE_MAX bytes for the request's or reply's hello. */
static void afib_conn_param(struct afib_sock *as, void *pdata, bool reply,
			    struct rdma_conn_param *param)
{
	memset(param, 0, sizeof(*param));
	param->private_data = pdata;
	param->private_data_len = as->xp->hello(as, pdata, reply);
	param->flow_control = 1;
	param->retry_count = AFIB_RETRY_COUNT;
	param->rnr_retry_count = AFIB_RNR_RETRY_COUNT;
	if (as->xp->rdma_room && as->qp) {
		/*
		 * RDMA reads and atomics (afib_rdma.c).  A request offers
		 * ours; a reply takes no more than the request offered.
		 */
		const struct ib_device_attr *a = &as->qp->device->attrs;
		u32 init = min_t(u32, AFIB_RD_ATOMIC, a->max_qp_init_rd_atom);
		u32 resp = min_t(u32, AFIB_RD_ATOMIC, a->max_qp_rd_atom);

		if (reply) {
			init = min_t(u32, init, as->rd_resp);
			resp = min_t(u32, resp, as->rd_init);
		}
		param->initiator_depth = init;
		param->responder_resources = resp;
	}
}

/**
 * afib_connect_failed() - a connection attempt failed.
 * @as: the socket.
 * @err: positive errno for connect() or SO_ERROR.
 *
 * As TCP, a failed attempt shuts the socket down both ways, which poll()
 * reports, unless the transport takes the failure over
 * (afib_xport.connect_failed).  Process context, without lock_sock().
 */
void afib_connect_failed(struct afib_sock *as, int err)
{
	struct sock *sk = &as->sk;

	lock_sock(sk);
	if (sk->sk_state == TCP_SYN_SENT &&
	    !(as->xp->connect_failed && as->xp->connect_failed(as, err))) {
		spin_lock_bh(&as->lock);
		as->peer_gone = true;
		spin_unlock_bh(&as->lock);
		/* The whole outcome before anyone is woken: poll sees it. */
		WRITE_ONCE(sk->sk_err, err);
		WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
		/* Paired with the smp_rmb() in afib_poll(). */
		smp_wmb();
		sk->sk_state = TCP_CLOSE;
		sk_error_report(sk);
		sk->sk_state_change(sk);
	}
	release_sock(sk);
}

/* Reasons rdma_cm gives for a failed connection, as socket errors. */
static int afib_cm_errno(const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_ERROR:
		return ev->status == -ENETUNREACH ? -ENETUNREACH :
		       -EHOSTUNREACH;
	case RDMA_CM_EVENT_ROUTE_ERROR:
		return -ENETUNREACH;
	case RDMA_CM_EVENT_UNREACHABLE:
		return -ETIMEDOUT;
	default:
		return -ECONNREFUSED;
	}
}

static int afib_cm_route_resolved(struct afib_sock *as,
				  struct rdma_cm_id *id)
{
	u8 pdata[AFIB_PRIVATE_MAX];
	struct rdma_conn_param param;
	int err;

	err = afib_qp_create(as, id);
	if (err)
		return err;
	afib_conn_param(as, pdata, false, &param);
	return rdma_connect_locked(id, &param);
}

/* Active side: the peer accepted. */
static void afib_cm_established(struct afib_sock *as, struct rdma_cm_id *id,
				const struct rdma_cm_event *ev)
{
	struct sock *sk = &as->sk;
	union afib_peer peer;
	int err;

	err = as->xp->parse(as, ev->param.conn.private_data,
			    ev->param.conn.private_data_len, true, &peer);
	if (!err)
		err = as->xp->connected(as, &peer);
	if (err) {
		afib_disconnect(as, id);
		afib_connect_failed(as, EPROTO);
		return;
	}
	lock_sock(sk);
	as->dest_qpn = ev->param.conn.qp_num;
	if (sk->sk_state == TCP_SYN_SENT)
		sk->sk_state = TCP_ESTABLISHED;
	release_sock(sk);
	sk->sk_state_change(sk);
	sk->sk_write_space(sk);
}

/* Release a child nobody will accept; from a handler of its own id. */
static int afib_child_drop(struct afib_sock *child)
{
	struct afib_sock *lis = child->parent;
	struct rdma_cm_id *id;

	afib_kill(child, 0);
	if (lis) {
		spin_lock_bh(&lis->lock);
		if (!list_empty(&child->accept_node))
			list_del_init(&child->accept_node);
		sk_acceptq_removed(&lis->sk);
		spin_unlock_bh(&lis->lock);
		child->parent = NULL;
		sock_put(&lis->sk);	/* the child's reference */
	}
	id = afib_take_id(child);
	sock_put(&child->sk);		/* the owner's reference */
	if (!id)
		return 0;
	sock_put(&child->sk);		/* the id's reference */
	return 1;			/* rdma_cm destroys the id */
}

/*
 * Held requests (afib_xport.hold_requests).  When a listener's backlog is
 * full, TCP drops SYNs and the client keeps trying until accept() makes
 * room.  Here the child is made without a QP and parked on the
 * listener's held_q; rdma_cm tells the peer to wait (an MRA, about a
 * minute).  afib_unhold() accepts the oldest one once accept() took a
 * child.  Whoever takes a child off held_q, under the listener's lock,
 * owns it and its id: an event on it (the peer gave up, the device
 * went) finds it still queued and frees it, or finds it taken and only
 * marks it dead for afib_unhold().
 */

/* Most requests a listener holds beyond its backlog. */
#define AFIB_HELD_MAX	128

/* Free a held child its caller owns; @destroy its id, else rdma_cm will. */
static void afib_held_free(struct afib_sock *child, bool destroy)
{
	struct afib_sock *lis = child->parent;
	struct rdma_cm_id *id = afib_take_id(child);

	if (id && destroy)
		rdma_destroy_id(id);	/* rejects the peer's request */
	child->parent = NULL;
	sock_put(&lis->sk);		/* the child's reference */
	if (id)
		sock_put(&child->sk);	/* the id's reference */
	sock_put(&child->sk);		/* the owner's reference */
}

/* Take @child off its listener's held_q; false if someone else did. */
static bool afib_held_take(struct afib_sock *child)
{
	struct afib_sock *lis = child->parent;
	bool mine;

	spin_lock_bh(&lis->lock);
	mine = !list_empty(&child->accept_node);
	if (mine) {
		list_del_init(&child->accept_node);
		lis->held_n--;
	}
	spin_unlock_bh(&lis->lock);
	return mine;
}

/* An event on a held child's id. */
static int afib_held_event(struct afib_sock *child, struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_REJECTED:
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_DISCONNECTED:
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		break;
	default:
		return 0;
	}
	if (!afib_held_take(child)) {
		child->held_dead = true;	/* afib_unhold() has it */
		return 0;
	}
	afib_held_free(child, false);
	return 1;			/* rdma_cm destroys the id */
}

/* Accept a held request afib_unhold() took; no locks held. */
static void afib_held_accept(struct afib_sock *child)
{
	struct afib_sock *lis = child->parent;
	struct rdma_cm_id *id = child->cm_id;
	u8 pdata[AFIB_PRIVATE_MAX];
	struct rdma_conn_param param;
	int err = -ECONNABORTED;

	rdma_lock_handler(id);
	if (!child->held_dead) {
		err = afib_qp_create(child, id);
		if (!err)
			err = child->xp->connected(child, &child->held_peer);
		if (!err) {
			afib_conn_param(child, pdata, true, &param);
			err = rdma_accept(id, &param);
		}
	}
	/* From now on its events are those of any child. */
	child->held = false;
	rdma_unlock_handler(id);
	if (!err)
		return;
	afib_kill(child, 0);
	spin_lock_bh(&lis->lock);
	sk_acceptq_removed(&lis->sk);
	spin_unlock_bh(&lis->lock);
	afib_held_free(child, true);
}

/**
 * afib_unhold() - accept held requests while the backlog has room.
 * @lis: a listener; process context, no locks held.
 */
void afib_unhold(struct afib_sock *lis)
{
	struct afib_sock *child;

	for (;;) {
		child = NULL;
		spin_lock_bh(&lis->lock);
		if (lis->sk.sk_state == TCP_LISTEN &&
		    !sk_acceptq_is_full(&lis->sk))
			child = list_first_entry_or_null(&lis->held_q,
							 struct afib_sock,
							 accept_node);
		if (child) {
			list_del_init(&child->accept_node);
			lis->held_n--;
			sk_acceptq_added(&lis->sk);
		}
		spin_unlock_bh(&lis->lock);
		if (!child)
			return;
		afib_held_accept(child);
	}
}

/**
 * afib_drop_held() - refuse the oldest held request of a closing listener.
 * @lis: the listener, no longer listening; process context.
 *
 * Return: true if there was one.
 */
bool afib_drop_held(struct afib_sock *lis)
{
	struct afib_sock *child;

	spin_lock_bh(&lis->lock);
	child = list_first_entry_or_null(&lis->held_q, struct afib_sock,
					 accept_node);
	if (child) {
		list_del_init(&child->accept_node);
		lis->held_n--;
	}
	spin_unlock_bh(&lis->lock);
	if (!child)
		return false;
	afib_held_free(child, true);
	return true;
}

/* Passive side: the child is up; hand it to the listener. */
static int afib_cm_child_established(struct afib_sock *child)
{
	struct afib_sock *lis = child->parent;
	struct sock *sk = &child->sk;
	bool queued = false;

	lock_sock(sk);
	sk->sk_state = TCP_ESTABLISHED;
	release_sock(sk);

	spin_lock_bh(&lis->lock);
	if (lis->sk.sk_state == TCP_LISTEN && !child->dead) {
		list_add_tail(&child->accept_node, &lis->accept_q);
		queued = true;
		/*
		 * Under the lock: once it is dropped, accept() may take the
		 * child and its reference on @lis, and @lis may be freed.
		 */
		lis->sk.sk_data_ready(&lis->sk);
	}
	spin_unlock_bh(&lis->lock);
	if (!queued)
		return afib_child_drop(child);
	return 0;
}

static int afib_cm_request(struct afib_sock *lis, struct rdma_cm_id *id,
			   const struct rdma_cm_event *ev)
{
	u8 pdata[AFIB_PRIVATE_MAX];
	struct rdma_conn_param param;
	struct afib_sock *child;
	union afib_peer peer;
	bool hold, queued;
	struct sock *sk;
	int err;

	err = lis->xp->parse(lis, ev->param.conn.private_data,
			     ev->param.conn.private_data_len, false, &peer);
	if (err)
		return err;

	spin_lock_bh(&lis->lock);
	hold = sk_acceptq_is_full(&lis->sk);
	if (lis->sk.sk_state != TCP_LISTEN ||
	    (hold && (!lis->xp->hold_requests ||
		      lis->held_n >= AFIB_HELD_MAX))) {
		spin_unlock_bh(&lis->lock);
		return -ECONNREFUSED;
	}
	if (hold)
		lis->held_n++;
	else
		sk_acceptq_added(&lis->sk);
	spin_unlock_bh(&lis->lock);

	sk = afib_sk_alloc(sock_net(&lis->sk), lis->sk.sk_family, lis->xp,
			   NULL, 0);
	if (!sk) {
		spin_lock_bh(&lis->lock);
		if (hold)
			lis->held_n--;
		else
			sk_acceptq_removed(&lis->sk);
		spin_unlock_bh(&lis->lock);
		return -ENOMEM;
	}
	child = afib_sk(sk);
	sk->sk_rcvbuf = READ_ONCE(lis->sk.sk_rcvbuf);
	sk->sk_sndbuf = READ_ONCE(lis->sk.sk_sndbuf);
	sk->sk_userlocks = lis->sk.sk_userlocks;
	child->family = lis->family;
	child->any_family = lis->any_family;
	child->bound = true;
	child->dest_qpn = ev->param.conn.qp_num;
	child->rd_init = ev->param.conn.initiator_depth;
	child->rd_resp = ev->param.conn.responder_resources;
	sock_hold(&lis->sk);		/* put when accepted or dropped */
	child->parent = lis;
	sock_hold(sk);			/* the id's reference */
	child->cm_id = id;
	id->context = child;
	sk->sk_state = TCP_SYN_RECV;

	if (hold) {
		child->held = true;
		child->held_peer = peer;
		spin_lock_bh(&lis->lock);
		queued = lis->sk.sk_state == TCP_LISTEN;
		if (queued)
			list_add_tail(&child->accept_node, &lis->held_q);
		else
			lis->held_n--;
		spin_unlock_bh(&lis->lock);
		if (queued)
			return 0;	/* rdma_cm has the peer wait */
		afib_held_free(child, false);
		return -ECONNREFUSED;
	}

	err = afib_qp_create(child, id);
	if (!err)
		err = child->xp->connected(child, &peer);
	if (!err) {
		afib_conn_param(child, pdata, true, &param);
		err = rdma_accept(id, &param);
	}
	if (err) {
		afib_child_drop(child);
		return err;
	}
	return 0;
}

/**
 * afib_disconnect() - disconnect @id, @as's connection.
 * @as: the socket.
 * @id: its rdma_cm id.
 *
 * The connection is marked down first: what the QP flushes from then on
 * is the teardown, not a failure (afib_wc_fatal()).
 */
void afib_disconnect(struct afib_sock *as, struct rdma_cm_id *id)
{
	spin_lock_bh(&as->lock);
	as->peer_gone = true;
	spin_unlock_bh(&as->lock);
	rdma_disconnect(id);
}

static void afib_cm_disconnected(struct afib_sock *as, struct rdma_cm_id *id)
{
	struct sock *sk = &as->sk;

	afib_disconnect(as, id);
	lock_sock(sk);
	/* A transport with its own end decides itself (sdp_rx_over()). */
	if (!as->xp->disconnected &&
	    (sk->sk_state == TCP_ESTABLISHED || sk->sk_state == TCP_SYN_RECV))
		sk->sk_state = TCP_CLOSE;
	release_sock(sk);
	if (as->xp->disconnected)
		as->xp->disconnected(as);
	sk->sk_state_change(sk);
	sk->sk_data_ready(sk);
	sk->sk_write_space(sk);
}

static int afib_cm_handler(struct rdma_cm_id *id, struct rdma_cm_event *ev)
{
	struct afib_sock *as = id->context;
	struct sock *sk = &as->sk;
	int err, state;

	if (as->held)
		return afib_held_event(as, ev);
	switch (ev->event) {
	case RDMA_CM_EVENT_CONNECT_REQUEST:
		/* @as is the listener, @id the new connection's id. */
		return afib_cm_request(as, id, ev) ? 1 : 0;

	case RDMA_CM_EVENT_ADDR_RESOLVED:
		err = rdma_resolve_route(id, AFIB_RESOLVE_TIMEOUT_MS);
		if (err)
			afib_connect_failed(as, EHOSTUNREACH);
		return 0;

	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		err = afib_cm_route_resolved(as, id);
		if (err)
			afib_connect_failed(as, err == -ENODEV ? ENODEV :
					    ECONNREFUSED);
		return 0;

	case RDMA_CM_EVENT_ESTABLISHED:
		if (as->parent)
			return afib_cm_child_established(as);
		afib_cm_established(as, id, ev);
		return 0;

	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_REJECTED:
	case RDMA_CM_EVENT_CONNECT_ERROR:
		if (as->parent && sk->sk_state == TCP_SYN_RECV)
			return afib_child_drop(as);
		afib_connect_failed(as, -afib_cm_errno(ev));
		return 0;

	case RDMA_CM_EVENT_DISCONNECTED:
		state = READ_ONCE(sk->sk_state);
		afib_cm_disconnected(as, id);
		/* A child gone before it was established is nobody's. */
		if (as->parent && state == TCP_SYN_RECV)
			return afib_child_drop(as);
		return 0;

	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		afib_kill(as, ENODEV);
		lock_sock(sk);
		state = sk->sk_state;
		spin_lock_bh(&as->lock);
		sk->sk_state = TCP_CLOSE;
		spin_unlock_bh(&as->lock);
		release_sock(sk);
		sk->sk_state_change(sk);
		if (as->parent && state == TCP_SYN_RECV)
			return afib_child_drop(as);
		if (afib_take_id(as) != id)
			return 0;
		sock_put(sk);	/* the id's reference */
		return 1;	/* rdma_cm destroys the id */

	default:
		return 0;
	}
}

/*
 * As TCP, connect() to an IPv4 destination with no route fails at once
 * with ENETUNREACH.  rdma_cm would not say so for a socket bound to an
 * address: it looks the route up on that address's netdev, and an IPv4
 * lookup with an output interface takes a destination it has no route
 * to for on-link (ip_route_output_key()), so the attempt would wait for
 * ARP and then time out.
 */
static int afib_route_check(struct afib_sock *as, const struct sockaddr *dst)
{
	const struct sockaddr_in *src = (const struct sockaddr_in *)&as->src;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)dst;
	struct flowi4 fl4 = {
		.daddr		= sin->sin_addr.s_addr,
		.flowi4_oif	= as->sk.sk_bound_dev_if,
		.flowi4_proto	= IPPROTO_TCP,	/* rdma_cm's port space */
	};
	struct rtable *rt;

	if (dst->sa_family != AF_INET)
		return 0;
	if (as->user_bound && src->sin_family == AF_INET)
		fl4.saddr = src->sin_addr.s_addr;
	rt = ip_route_output_key(sock_net(&as->sk), &fl4);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	ip_rt_put(rt);
	return 0;
}

/**
 * afib_cm_connect() - start connecting to @dst.
 * @as: an unconnected socket with an id, lock_sock() held.
 * @dst: AF_INET or AF_INET6 destination.
 *
 * Return: 0 once resolution started, or a negative errno.
 */
int afib_cm_connect(struct afib_sock *as, struct sockaddr *dst)
{
	struct sockaddr *src = NULL;
	int err;

	err = afib_route_check(as, dst);
	if (err)
		return err;
	if (as->bind_later) {
		/* bind() left it to us: see afib_bind_probe(). */
		rdma_set_reuseaddr(as->cm_id, 1);
		src = (struct sockaddr *)&as->src;
	}
	err = rdma_resolve_addr(as->cm_id, src, dst, AFIB_RESOLVE_TIMEOUT_MS);
	if (!err)
		as->bind_later = false;
	return err;
}
