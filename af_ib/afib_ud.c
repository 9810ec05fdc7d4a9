// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib SOCK_DGRAM sockets: datagrams and multicast over a UD queue pair.
 *
 * A socket's rdma_cm id lives in the UDP port space (RDMA_PS_UDP).  bind()
 * binds it and listens on it, so that peers can learn our QP number and
 * Q_Key by SIDR; an unbound socket binds to the wildcard address and an
 * ephemeral port when it first sends, connects or joins.  The UD QP, its
 * CQ and the buffers are created once the socket has a device: at bind()
 * to a local address, or on the device of the first resolution, join or
 * SIDR request.
 *
 * A send to a destination not in the cache resolves it on an id of its
 * own as udaddy does (address, route, then rdma_connect() for SIDR), or,
 * for a multicast address, by a send-only join; the address handle, QPN
 * and Q_Key are cached for AFIB_UD_DEST_TTL and dropped with the device.
 * An entry is also stale once the routes or addresses of its family have
 * changed (the route generation, as a dst_entry's check) or rdma_cm has
 * reported RDMA_CM_EVENT_ADDR_CHANGE on the socket's id.  A non-blocking
 * send does not wait: it starts the resolution (the entry is pending),
 * holds up to AFIB_UD_HELD datagrams for it and returns; resolve_work
 * sends them once the result is in, or drops and counts them (and
 * reports the error on a connected socket, as UDP an ICMP error).
 * Every datagram carries a 4-byte header with the sender's port; the
 * receive completion handler copies each datagram into an skb on
 * sk_receive_queue with sock_queue_rcv_skb(), which charges it to
 * SO_RCVBUF and drops and counts what does not fit, so a slow reader
 * never stalls the sender.  The receive buffer is reposted at once.
 * The CQ is polled as SOCK_SEQPACKET's (afib_cq_poll()): by the reader or
 * writer that sleeps for it, else by the poll worker.
 *
 * IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP and AFIB_MCAST_JOIN join a group on
 * an id of their own through rdma_join_multicast(), which maps the IP
 * group to the fabric's MGID, and attach the QP with ib_attach_mcast()
 * (rdma_cm attaches only userspace QPs).
 *
 * Locking: afib_ud_sock.lock, then afib_sock.qp_lock, then afib_sock.lock.
 * rdma_cm handlers take at most afib_sock.qp_lock and afib_sock.cm_lock;
 * no rdma_cm id is destroyed from a handler of another (they share one
 * lockdep class) or with afib_sock.qp_lock held.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/igmp.h>
#include <net/sock.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <rdma/ib_cache.h>
#include <rdma/ib_sa.h>
#include "afib.h"
#include "afib_ud.h"

#define AFIB_UD_TX		64U
#define AFIB_UD_RX_MIN		16U
#define AFIB_UD_RX_MAX		512U
#define AFIB_UD_GRH		sizeof(union rdma_network_hdr)
#define AFIB_UD_RESOLVE_MS	2000
/* Bound on a resolution or join, beyond rdma_cm's own timeouts. */
#define AFIB_UD_WAIT		(8 * HZ)
#define AFIB_UD_DEST_TTL	(10 * HZ)
#define AFIB_UD_DESTS		64U
/* Datagrams held per destination being resolved, as the ARP queue. */
#define AFIB_UD_HELD		16U
#define AFIB_UD_GROUPS		20U	/* IP_MAX_MEMBERSHIPS */
#define AFIB_UD_MCAST_QPN	0xFFFFFF

/* What a received datagram's skb carries besides its payload. */
struct afib_ud_cb {
	union ib_gid	sgid;
	__be16		sport;
};

static_assert(sizeof(struct afib_ud_cb) <= SOCK_SKB_CB_OFFSET);

static struct afib_ud_sock *afib_ud_sk(struct sock *sk)
{
	return container_of(afib_sk(sk), struct afib_ud_sock, as);
}

static struct afib_ud_cb *afib_ud_skb_cb(struct sk_buff *skb)
{
	return (struct afib_ud_cb *)skb->cb;
}

/* Address conversion */

static void afib_ud_addr_gid(const struct sockaddr_storage *ss,
			     union ib_gid *gid, __be16 *port)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	const struct sockaddr_in *sin = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		ipv6_addr_set_v4mapped(sin->sin_addr.s_addr,
				       (struct in6_addr *)gid->raw);
		*port = sin->sin_port;
	} else {
		memcpy(gid->raw, &sin6->sin6_addr, sizeof(gid->raw));
		*port = sin6->sin6_port;
	}
}

/*
 * A user address for rdma_cm: sockaddr_in/in6 as they are; a sockaddr_ib
 * with a service ID in the UDP port space becomes the IP address its GID
 * encodes, as afib_addr_to_cm() does for SOCK_SEQPACKET.
 */
static int afib_ud_addr(const struct sockaddr *uaddr, int len,
			struct sockaddr_storage *out, int *family)
{
	const struct sockaddr_ib *sib = (const void *)uaddr;
	struct sockaddr_ib tmp;
	u64 sid, mask;

	if (len < (int)sizeof(uaddr->sa_family))
		return -EINVAL;
	if (uaddr->sa_family != AF_IB)
		return afib_addr_to_cm(uaddr, len, out, family);
	if (len < (int)sizeof(*sib))
		return -EINVAL;
	sid = be64_to_cpu(sib->sib_sid);
	mask = sib->sib_sid_mask ? be64_to_cpu(sib->sib_sid_mask) : ~0ULL;
	if (sid && ((mask & AFIB_SID_PS_MASK) != AFIB_SID_PS_MASK ||
		    (sid & AFIB_SID_PS_MASK) != AFIB_SID_PS_UDP))
		return -EINVAL;
	/* Reuse the SOCK_SEQPACKET translation with the port re-based. */
	tmp = *sib;
	tmp.sib_sid = sid ? cpu_to_be64(AFIB_SID_PS_TCP | (sid & 0xffff)) : 0;
	tmp.sib_sid_mask = 0;
	return afib_addr_to_cm((struct sockaddr *)&tmp, sizeof(tmp), out,
			       family);
}

/* Report @gid:@port in @family; returns the length written to @out. */
static int afib_ud_report(const union ib_gid *gid, __be16 port, int family,
			  struct sockaddr_storage *out)
{
	const struct in6_addr *a = (const struct in6_addr *)gid->raw;
	struct sockaddr_in6 *sin6 = (void *)out;
	struct sockaddr_in *sin = (void *)out;
	struct sockaddr_ib *sib = (void *)out;

	memset(out, 0, sizeof(*out));
	switch (family) {
	case AF_INET:
		if (ipv6_addr_v4mapped(a) || ipv6_addr_any(a)) {
			sin->sin_family = AF_INET;
			sin->sin_port = port;
			sin->sin_addr.s_addr = a->s6_addr32[3];
			return sizeof(*sin);
		}
		fallthrough;
	case AF_INET6:
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		sin6->sin6_addr = *a;
		return sizeof(*sin6);
	default:
		sib->sib_family = AF_IB;
		sib->sib_pkey = cpu_to_be16(0xffff);
		memcpy(&sib->sib_addr, gid->raw, sizeof(gid->raw));
		sib->sib_sid = cpu_to_be64(AFIB_SID_PS_UDP | ntohs(port));
		sib->sib_sid_mask = cpu_to_be64(~0ULL);
		return sizeof(*sib);
	}
}

static bool afib_ud_addr_eq(const struct sockaddr_storage *a,
			    const struct sockaddr_storage *b)
{
	union ib_gid ga, gb;
	__be16 pa, pb;

	afib_ud_addr_gid(a, &ga, &pa);
	afib_ud_addr_gid(b, &gb, &pb);
	return pa == pb && !memcmp(&ga, &gb, sizeof(ga));
}

static bool afib_ud_is_mcast(const struct sockaddr_storage *ss)
{
	union ib_gid gid;
	__be16 port;

	afib_ud_addr_gid(ss, &gid, &port);
	return rdma_is_multicast_addr((struct in6_addr *)gid.raw);
}

/* The address to resolve from: ours without the port, NULL if any. */
static struct sockaddr *afib_ud_src(struct afib_ud_sock *us,
				    struct sockaddr_storage *buf)
{
	union ib_gid gid;
	__be16 port;

	if (!us->bound)
		return NULL;
	afib_ud_addr_gid(&us->src, &gid, &port);
	if (ipv6_addr_any((struct in6_addr *)gid.raw) ||
	    (ipv6_addr_v4mapped((struct in6_addr *)gid.raw) &&
	     !gid.raw[12] && !gid.raw[13] && !gid.raw[14] && !gid.raw[15]))
		return NULL;
	*buf = us->src;
	if (buf->ss_family == AF_INET)
		((struct sockaddr_in *)buf)->sin_port = 0;
	else
		((struct sockaddr_in6 *)buf)->sin6_port = 0;
	return (struct sockaddr *)buf;
}

/* Verbs resources */

static void afib_ud_free_bufs(struct ib_device *ibdev, struct afib_ud_buf *b,
			      u32 n, enum dma_data_direction dir)
{
	u32 i;

	for (i = 0; b && i < n; i++) {
		if (b[i].dma)
			ib_dma_unmap_single(ibdev, b[i].dma, b[i].size, dir);
		kfree(b[i].addr);
	}
	kfree(b);
}

static struct afib_ud_buf *afib_ud_alloc_bufs(struct ib_device *ibdev, u32 n,
					      u32 size, u32 lkey,
					      enum dma_data_direction dir,
					      void (*done)(struct ib_cq *,
							   struct ib_wc *))
{
	struct afib_ud_buf *b;
	u32 i;

	b = kcalloc(n, sizeof(*b), GFP_KERNEL);
	if (!b)
		return NULL;
	for (i = 0; i < n; i++) {
		b[i].addr = kmalloc(size, GFP_KERNEL);
		if (!b[i].addr)
			goto fail;
		b[i].dma = ib_dma_map_single(ibdev, b[i].addr, size, dir);
		if (ib_dma_mapping_error(ibdev, b[i].dma)) {
			b[i].dma = 0;
			goto fail;
		}
		b[i].size = size;
		b[i].sge.addr = b[i].dma;
		b[i].sge.length = size;
		b[i].sge.lkey = lkey;
		b[i].cqe.done = done;
	}
	return b;

fail:
	afib_ud_free_bufs(ibdev, b, n, dir);
	return NULL;
}

/* Post receive buffer @b, unless the QP is going.  Process context. */
static void afib_ud_post_rx(struct afib_ud_sock *us, struct afib_ud_buf *b)
{
	struct ib_recv_wr wr = {
		.wr_cqe		= &b->cqe,
		.sg_list	= &b->sge,
		.num_sge	= 1,
	};
	unsigned long flags;
	int err;

	spin_lock_irqsave(&us->as.lock, flags);
	if (!us->dead) {
		ib_dma_sync_single_for_device(us->ibdev, b->dma, b->size,
					      DMA_FROM_DEVICE);
		err = ib_post_recv(us->qp, &wr, NULL);
		if (err)
			pr_debug("af_ib: UD receive post failed: %d\n", err);
	}
	spin_unlock_irqrestore(&us->as.lock, flags);
}

static bool afib_ud_local_gid(struct afib_ud_sock *us, const union ib_gid *gid)
{
	static const enum ib_gid_type types[] = {
		IB_GID_TYPE_ROCE_UDP_ENCAP, IB_GID_TYPE_IB,
	};
	const struct ib_gid_attr *attr;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		attr = rdma_find_gid(us->ibdev, gid, types[i], NULL);
		if (!IS_ERR(attr)) {
			rdma_put_gid_attr(attr);
			return true;
		}
	}
	return false;
}

/* Queue the datagram in receive buffer @b for recvmsg().  CQ poller. */
static void afib_ud_deliver(struct afib_ud_sock *us, struct afib_ud_buf *b,
			    const struct ib_wc *wc)
{
	struct sock *sk = &us->as.sk;
	const struct afib_ud_hdr *hdr;
	enum rdma_network_type type;
	union ib_gid sgid = {}, dgid;
	struct afib_ud_cb *cb;
	struct sk_buff *skb;
	u32 len = wc->byte_len;

	ib_dma_sync_single_for_cpu(us->ibdev, b->dma, b->size,
				   DMA_FROM_DEVICE);
	if (len < AFIB_UD_GRH + sizeof(*hdr) || len > b->size) {
		atomic_inc(&us->bad);
		return;
	}
	hdr = b->addr + AFIB_UD_GRH;
	if (hdr->version != AFIB_UD_VERSION) {
		atomic_inc(&us->bad);
		return;
	}
	if (wc->wc_flags & IB_WC_GRH) {
		type = wc->wc_flags & IB_WC_WITH_NETWORK_HDR_TYPE ?
		       wc->network_hdr_type : RDMA_NETWORK_IB;
		if (ib_get_gids_from_rdma_hdr(b->addr, type, &sgid, &dgid)) {
			atomic_inc(&us->bad);
			return;
		}
	}
	if ((hdr->flags & AFIB_UD_F_NOLOOP) && afib_ud_local_gid(us, &sgid))
		return;		/* IP_MULTICAST_LOOP off: not for this host */
	if (READ_ONCE(us->connected) &&
	    (hdr->sport != READ_ONCE(((struct sockaddr_in *)&us->peer)->sin_port) ||
	     memcmp(&sgid, &us->peer_gid, sizeof(sgid))))
		return;		/* as UDP: a connected socket hears its peer */

	len -= AFIB_UD_GRH + sizeof(*hdr);
	skb = alloc_skb(len, GFP_ATOMIC);
	if (!skb) {
		atomic_inc(&sk->sk_drops);
		return;
	}
	skb_put_data(skb, hdr + 1, len);
	cb = afib_ud_skb_cb(skb);
	cb->sgid = sgid;
	cb->sport = hdr->sport;
	/* Charged to SO_RCVBUF; over it, dropped and counted in sk_drops. */
	if (sock_queue_rcv_skb(sk, skb) < 0)
		kfree_skb(skb);
}

static void afib_ud_rx_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_ud_buf *b = container_of(wc->wr_cqe, struct afib_ud_buf,
					     cqe);
	struct afib_ud_sock *us = afib_ud_sk(&((struct afib_sock *)
						cq->cq_context)->sk);

	if (wc->status == IB_WC_WR_FLUSH_ERR)
		return;		/* the QP is being destroyed */
	if (wc->status == IB_WC_SUCCESS)
		afib_ud_deliver(us, b, wc);
	else
		pr_debug("af_ib: UD receive failed: %s\n",
			 ib_wc_status_msg(wc->status));
	afib_ud_post_rx(us, b);
}

static void afib_ud_write_space(struct sock *sk)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_sync_poll(&wq->wait, EPOLLOUT |
						EPOLLWRNORM | EPOLLWRBAND);
	rcu_read_unlock();
	sk_wake_async(sk, SOCK_WAKE_SPACE, POLL_OUT);
}

static void afib_ud_tx_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_ud_sock *us = afib_ud_sk(&((struct afib_sock *)
						cq->cq_context)->sk);
	unsigned long flags;

	if (wc->status != IB_WC_SUCCESS && wc->status != IB_WC_WR_FLUSH_ERR)
		pr_debug("af_ib: UD send failed: %s\n",
			 ib_wc_status_msg(wc->status));
	/* Every send is signaled and a send queue completes in order. */
	spin_lock_irqsave(&us->as.lock, flags);
	us->tx_tail++;
	spin_unlock_irqrestore(&us->as.lock, flags);
	afib_ud_write_space(&us->as.sk);
}

static bool afib_ud_tx_room(struct afib_ud_sock *us)
{
	return READ_ONCE(us->tx_head) - READ_ONCE(us->tx_tail) < AFIB_UD_TX;
}

/*
 * Give @us its QP on the device and port of @id, if it has none yet.
 * @id is any rdma_cm id of ours that has a device.  Handlers call this
 * too.  Return: 0, -EXDEV if the socket lives on another device, or the
 * error.
 */
static int afib_ud_qp_get(struct afib_ud_sock *us, struct rdma_cm_id *id)
{
	struct ib_qp_init_attr init = {};
	struct ib_device *ibdev = id->device;
	struct afib_sock *as = &us->as;
	struct ib_port_attr pattr;
	struct ib_qp_attr attr;
	struct afib_dev *dev;
	int mask, err;
	u32 i, rcvbuf;

	mutex_lock(&as->qp_lock);
	if (us->qp) {
		err = us->ibdev == ibdev && us->port_num == id->port_num ?
		      0 : -EXDEV;
		goto unlock;
	}
	err = -ENODEV;
	if (READ_ONCE(us->dead) || !ibdev)
		goto unlock;
	dev = afib_dev_get(ibdev);
	if (!dev)
		goto unlock;
	err = afib_dev_attach(dev, as);
	if (err) {
		afib_dev_put(dev);
		goto unlock;
	}
	err = ib_query_port(ibdev, id->port_num, &pattr);
	if (err)
		goto detach;
	us->ibdev = ibdev;
	us->port_num = id->port_num;
	us->mtu = ib_mtu_enum_to_int(pattr.active_mtu);
	if ((int)us->mtu <= (int)sizeof(struct afib_ud_hdr)) {
		err = -EINVAL;
		goto detach;
	}
	rcvbuf = READ_ONCE(as->sk.sk_rcvbuf);
	us->rx_n = clamp_t(u32, rcvbuf / (AFIB_UD_GRH + us->mtu),
			   AFIB_UD_RX_MIN, AFIB_UD_RX_MAX);
	us->rx_n = min_t(u32, us->rx_n, ibdev->attrs.max_qp_wr);

	/* Polled by a sleeping reader or writer, as SOCK_SEQPACKET's. */
	err = afib_cq_create(as, ibdev, us->rx_n + AFIB_UD_TX);
	if (err)
		goto detach;
	init.qp_type = IB_QPT_UD;
	init.send_cq = as->cq;
	init.recv_cq = as->cq;
	init.sq_sig_type = IB_SIGNAL_ALL_WR;
	init.cap.max_send_wr = AFIB_UD_TX;
	init.cap.max_recv_wr = us->rx_n;
	init.cap.max_send_sge = 1;
	init.cap.max_recv_sge = 1;
	init.port_num = id->port_num;
	us->qp = ib_create_qp(dev->pd, &init);
	if (IS_ERR(us->qp)) {
		err = PTR_ERR(us->qp);
		us->qp = NULL;
		goto free_cq;
	}
	err = -ENOMEM;
	us->rx = afib_ud_alloc_bufs(ibdev, us->rx_n, AFIB_UD_GRH + us->mtu,
				    dev->pd->local_dma_lkey, DMA_FROM_DEVICE,
				    afib_ud_rx_done);
	if (!us->rx)
		goto destroy_qp;
	us->tx = afib_ud_alloc_bufs(ibdev, AFIB_UD_TX, us->mtu,
				    dev->pd->local_dma_lkey, DMA_TO_DEVICE,
				    afib_ud_tx_done);
	if (!us->tx)
		goto free_rx;

	/* P_Key index, port and the port space's Q_Key, from rdma_cm. */
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_INIT;
	err = rdma_init_qp_attr(id, &attr, &mask);
	if (err)
		goto free_tx;
	err = ib_modify_qp(us->qp, &attr, mask);
	if (err)
		goto free_tx;
	us->qkey = attr.qkey;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IB_QPS_RTR;
	err = ib_modify_qp(us->qp, &attr, IB_QP_STATE);
	if (err)
		goto free_tx;
	attr.qp_state = IB_QPS_RTS;
	attr.sq_psn = 0;
	err = ib_modify_qp(us->qp, &attr, IB_QP_STATE | IB_QP_SQ_PSN);
	if (err)
		goto free_tx;
	for (i = 0; i < us->rx_n; i++)
		afib_ud_post_rx(us, &us->rx[i]);
	afib_cq_start(as);
	mutex_unlock(&as->qp_lock);
	return 0;

free_tx:
	afib_ud_free_bufs(ibdev, us->tx, AFIB_UD_TX, DMA_TO_DEVICE);
	us->tx = NULL;
free_rx:
	afib_ud_free_bufs(ibdev, us->rx, us->rx_n, DMA_FROM_DEVICE);
	us->rx = NULL;
destroy_qp:
	ib_destroy_qp(us->qp);
	us->qp = NULL;
free_cq:
	/* Never armed, never polled. */
	ib_destroy_cq(as->cq);
	as->cq = NULL;
detach:
	afib_dev_detach(as);
unlock:
	mutex_unlock(&as->qp_lock);
	return err;
}

/* Destroy the QP, CQ and buffers; the groups are detached already. */
static void afib_ud_qp_destroy(struct afib_ud_sock *us)
{
	struct afib_sock *as = &us->as;

	mutex_lock(&as->qp_lock);
	spin_lock_bh(&as->lock);
	us->dead = true;
	spin_unlock_bh(&as->lock);
	if (us->qp) {
		/*
		 * Not a drain: a UD QP refuses its RDMA write marker.  The
		 * poller at work finishes and no other starts; once the QP
		 * is destroyed nothing is posted (dead) or completed.
		 */
		afib_cq_stop(as);
		ib_destroy_qp(us->qp);
		afib_cq_destroy(as);
		afib_ud_free_bufs(us->ibdev, us->rx, us->rx_n,
				  DMA_FROM_DEVICE);
		afib_ud_free_bufs(us->ibdev, us->tx, AFIB_UD_TX, DMA_TO_DEVICE);
		us->qp = NULL;
		us->rx = NULL;
		us->tx = NULL;
	}
	mutex_unlock(&as->qp_lock);
	afib_dev_detach(as);
}

/* rdma_cm */

static void afib_ud_finish(struct afib_ud_wait *w, int err)
{
	if (w->finished)
		return;
	w->finished = true;
	w->err = err == -ENOTSUPP ? -EOPNOTSUPP : err;
	/* All of them: blocking senders may wait for one destination. */
	complete_all(&w->done);
	/* rdma_destroy_id() waits for us: @w and its socket are alive. */
	if (w->notify)
		mod_delayed_work(system_wq, &w->notify->resolve_work, 0);
}

/* Handler of the ids that resolve destinations and hold memberships. */
static int afib_ud_wait_handler(struct rdma_cm_id *id,
				struct rdma_cm_event *ev)
{
	struct afib_ud_wait *w = id->context;
	struct rdma_conn_param param = {};
	int err;

	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		if (w->mcast)
			err = rdma_join_multicast(id, (struct sockaddr *)&w->group,
						  w->join_state, w);
		else
			err = rdma_resolve_route(id, AFIB_UD_RESOLVE_MS);
		if (err)
			afib_ud_finish(w, err);
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		/* SIDR: the peer's listening id answers with QPN and Q_Key. */
		err = rdma_connect_locked(id, &param);
		if (err)
			afib_ud_finish(w, err);
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
	case RDMA_CM_EVENT_MULTICAST_JOIN:
		if (w->finished)
			break;
		rdma_copy_ah_attr(&w->ah_attr, &ev->param.ud.ah_attr);
		w->qpn = ev->param.ud.qp_num;
		w->qkey = ev->param.ud.qkey;
		afib_ud_finish(w, 0);
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
		afib_ud_finish(w, ev->status == -ENETUNREACH ? -ENETUNREACH :
			       -EHOSTUNREACH);
		break;
	case RDMA_CM_EVENT_ROUTE_ERROR:
		afib_ud_finish(w, -EHOSTUNREACH);
		break;
	case RDMA_CM_EVENT_UNREACHABLE:
		afib_ud_finish(w, ev->status == -ETIMEDOUT ? -EHOSTUNREACH :
			       -ECONNREFUSED);
		break;
	case RDMA_CM_EVENT_REJECTED:
		afib_ud_finish(w, -ECONNREFUSED);
		break;
	case RDMA_CM_EVENT_MULTICAST_ERROR:
		afib_ud_finish(w, ev->status < 0 ? ev->status : -EADDRNOTAVAIL);
		break;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		afib_ud_finish(w, -ENODEV);
		break;
	default:
		break;
	}
	return 0;	/* the waiter or the owner destroys the id */
}

/*
 * Start resolving @dst (unicast: address, route, SIDR) or joining the
 * group @dst with @join_state on a new id whose context is @w.  Return:
 * the id, or an ERR_PTR.
 */
static struct rdma_cm_id *afib_ud_resolve_start(struct afib_ud_sock *us,
						const struct sockaddr_storage *dst,
						const struct sockaddr *src,
						bool mcast, u8 join_state,
						struct afib_ud_wait *w)
{
	struct rdma_cm_id *id;
	int err;

	init_completion(&w->done);
	w->mcast = mcast;
	w->join_state = join_state;
	w->group = *dst;
	id = rdma_create_id(sock_net(&us->as.sk), afib_ud_wait_handler, w,
			    RDMA_PS_UDP, IB_QPT_UD);
	if (IS_ERR(id))
		return id;
	err = rdma_resolve_addr(id, (struct sockaddr *)src,
				(struct sockaddr *)dst, AFIB_UD_RESOLVE_MS);
	if (err) {
		rdma_destroy_id(id);
		return ERR_PTR(err);
	}
	return id;
}

/*
 * The resolution on @id is over (@w->done completed) or abandoned with
 * @err: give the socket its QP.  Return: 0 with @w->ah_attr to release,
 * or the error, @id destroyed.
 */
static int afib_ud_resolved(struct afib_ud_sock *us, struct rdma_cm_id *id,
			    struct afib_ud_wait *w, int err)
{
	if (err) {
		rdma_destroy_id(id);
		/* No events after rdma_destroy_id(): a late result is final. */
		if (w->finished && !w->err)
			rdma_destroy_ah_attr(&w->ah_attr);
		return err;
	}
	err = w->err;
	if (err)
		goto destroy;
	err = afib_ud_qp_get(us, id);
	if (err) {
		rdma_destroy_ah_attr(&w->ah_attr);
		goto destroy;
	}
	return 0;

destroy:
	rdma_destroy_id(id);
	return err;
}

/*
 * Resolve @dst or join it as afib_ud_resolve_start() does, and wait (a
 * join).  Called with afib_ud_sock.lock held.  Return: the id (the caller
 * destroys it) with @w filled in, or an ERR_PTR.
 */
static struct rdma_cm_id *afib_ud_resolve(struct afib_ud_sock *us,
					  const struct sockaddr_storage *dst,
					  const struct sockaddr *src,
					  bool mcast, u8 join_state,
					  struct afib_ud_wait *w)
{
	struct rdma_cm_id *id;
	long left;
	int err;

	id = afib_ud_resolve_start(us, dst, src, mcast, join_state, w);
	if (IS_ERR(id))
		return id;
	left = wait_for_completion_interruptible_timeout(&w->done,
							 AFIB_UD_WAIT);
	err = left > 0 ? 0 : left ? -ERESTARTSYS : -EHOSTUNREACH;
	err = afib_ud_resolved(us, id, w, err);
	return err ? ERR_PTR(err) : id;
}

/* Drop the datagrams @d holds, counted as AFIB_UD_DROPS. */
static void afib_ud_drop_held(struct afib_ud_sock *us, struct afib_ud_dest *d)
{
	atomic_add(skb_queue_len(&d->held), &us->as.sk.sk_drops);
	__skb_queue_purge(&d->held);
}

static void afib_ud_dest_put(struct afib_ud_dest *d)
{
	if (refcount_dec_and_test(&d->ref))
		kfree(d);
}

/*
 * Release what @d holds, off the lists already, and drop the lists'
 * reference; a sender still waiting for its resolution is woken and
 * finds it @gone.
 */
static void afib_ud_dest_free(struct afib_ud_sock *us, struct afib_ud_dest *d)
{
	if (d->ah)
		rdma_destroy_ah(d->ah, RDMA_DESTROY_AH_SLEEPABLE);
	d->ah = NULL;
	if (d->id)
		rdma_destroy_id(d->id);
	d->id = NULL;
	/* Pending: no events now, a result nobody took is ours. */
	if (d->pending && d->w.finished && !d->w.err)
		rdma_destroy_ah_attr(&d->w.ah_attr);
	d->pending = false;
	afib_ud_drop_held(us, d);
	d->gone = true;
	complete_all(&d->w.done);
	afib_ud_dest_put(d);
}

/*
 * Free retired destinations once no send can use their AH: none is in
 * flight and no blocking sender waits to use it (afib_ud_dest_get()); all
 * of them when the socket or its device goes.
 */
static void afib_ud_reap(struct afib_ud_sock *us, bool all)
{
	struct afib_ud_dest *d, *tmp;

	if (!all && READ_ONCE(us->tx_head) != READ_ONCE(us->tx_tail))
		return;
	list_for_each_entry_safe(d, tmp, &us->stale, node) {
		if (!all && refcount_read(&d->ref) > 1)
			continue;
		list_del(&d->node);
		afib_ud_dest_free(us, d);
	}
}

static void afib_ud_retire(struct afib_ud_sock *us, struct afib_ud_dest *d)
{
	us->ndests--;
	/* No AH yet: nothing in flight uses it. */
	if (d->pending) {
		list_del(&d->node);
		afib_ud_dest_free(us, d);
		return;
	}
	list_move(&d->node, &us->stale);
}

/*
 * The route generation of @ss's family: it changes with every route or
 * address added or removed in the socket's namespace.  @ss is AF_INET or
 * AF_INET6 (afib_ud_addr() turns a sockaddr_ib into the IP address its
 * GID encodes); anything else has none and lives for its TTL.
 */
static int afib_ud_rt_genid(struct afib_ud_sock *us,
			    const struct sockaddr_storage *ss)
{
	struct net *net = sock_net(&us->as.sk);

	switch (ss->ss_family) {
	case AF_INET:
		return rt_genid_ipv4(net);
#if IS_ENABLED(CONFIG_IPV6)
	case AF_INET6:
		return rt_genid_ipv6(net);
#endif
	default:
		return 0;
	}
}

/* @d may still be used: not expired, and its path has not changed. */
static bool afib_ud_dest_fresh(struct afib_ud_sock *us,
			       const struct afib_ud_dest *d)
{
	return time_before(jiffies, d->expires) &&
	       d->addr_gen == atomic_read(&us->addr_gen) &&
	       d->rt_genid == afib_ud_rt_genid(us, &d->addr);
}

/*
 * The entry of @dst: usable, or pending; NULL if there is none (a stale
 * one is retired).  ud lock held.
 */
static struct afib_ud_dest *afib_ud_dest_find(struct afib_ud_sock *us,
					      const struct sockaddr_storage *dst)
{
	struct afib_ud_dest *d;

	list_for_each_entry(d, &us->dests, node) {
		if (!afib_ud_addr_eq(&d->addr, dst))
			continue;
		if (d->pending || afib_ud_dest_fresh(us, d)) {
			list_move(&d->node, &us->dests);
			return d;
		}
		afib_ud_retire(us, d);
		break;
	}
	return NULL;
}

/* A new entry for @dst, its generations sampled before it is resolved. */
static struct afib_ud_dest *afib_ud_dest_new(struct afib_ud_sock *us,
					     const struct sockaddr_storage *dst)
{
	struct afib_ud_dest *d;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return NULL;
	d->addr = *dst;
	refcount_set(&d->ref, 1);
	skb_queue_head_init(&d->held);
	/* Sampled first: a change while we resolve makes the entry stale. */
	d->rt_genid = afib_ud_rt_genid(us, dst);
	d->addr_gen = atomic_read(&us->addr_gen);
	WRITE_ONCE(us->resolves, us->resolves + 1);
	return d;
}

static void afib_ud_dest_add(struct afib_ud_sock *us, struct afib_ud_dest *d)
{
	struct afib_ud_dest *old;

	list_add(&d->node, &us->dests);
	if (++us->ndests <= AFIB_UD_DESTS)
		return;
	/*
	 * The least recently used entry no blocking sender waits for: the
	 * cache is over its size by the waiters at most.
	 */
	list_for_each_entry_reverse(old, &us->dests, node) {
		if (old != d && refcount_read(&old->ref) == 1) {
			afib_ud_retire(us, old);
			return;
		}
	}
}

/*
 * Make @d usable from its resolution on @id (@id kept for a group's
 * membership, else destroyed).  Return: 0, or the error with @id
 * destroyed.
 */
static int afib_ud_dest_fill(struct afib_ud_sock *us, struct afib_ud_dest *d,
			     struct rdma_cm_id *id)
{
	bool mcast = d->w.mcast;
	int err;

	d->ah = rdma_create_ah(us->as.dev->pd, &d->w.ah_attr,
			       RDMA_CREATE_AH_SLEEPABLE);
	rdma_destroy_ah_attr(&d->w.ah_attr);
	if (IS_ERR(d->ah)) {
		err = PTR_ERR(d->ah);
		d->ah = NULL;
		d->id = NULL;
		rdma_destroy_id(id);
		return err;
	}
	d->qpn = mcast ? AFIB_UD_MCAST_QPN : d->w.qpn;
	d->qkey = d->w.qkey;
	d->expires = jiffies + AFIB_UD_DEST_TTL;
	d->id = mcast ? id : NULL;	/* keep the send-only membership */
	if (!mcast)
		rdma_destroy_id(id);
	return 0;
}

static int afib_ud_post(struct afib_ud_sock *us, struct afib_ud_dest *d,
			struct afib_ud_buf *b, size_t len);

/*
 * Finish the pending resolution of @d: it is over, or abandoned with
 * @err.  Send what @d holds, or drop it and @d; @report: report the
 * error on a connected socket whose peer @d is (the sender is gone).
 * ud lock held.  Return: 0, or the error with @d freed.
 */
static int afib_ud_pending_done(struct afib_ud_sock *us,
				struct afib_ud_dest *d, int err, bool report)
{
	struct sock *sk = &us->as.sk;
	struct rdma_cm_id *id = d->id;
	struct afib_ud_buf *b;
	struct sk_buff *skb;

	d->pending = false;
	d->id = NULL;
	err = afib_ud_resolved(us, id, &d->w, err);
	if (!err)
		err = afib_ud_dest_fill(us, d, id);
	if (err) {
		list_del(&d->node);
		us->ndests--;
		/* A blocking sender waiting for it returns the error. */
		if (report && refcount_read(&d->ref) == 1 &&
		    !skb_queue_empty(&d->held) && us->connected &&
		    afib_ud_addr_eq(&us->peer, &d->addr))
			afib_set_error(sk, -err);
		d->err = err;
		afib_ud_dest_free(us, d);
		return err;
	}
	while ((skb = __skb_dequeue(&d->held))) {
		/* No room or too large: lost as a full queue loses it. */
		if (READ_ONCE(us->dead) || !afib_ud_tx_room(us) ||
		    skb->len > us->mtu - sizeof(struct afib_ud_hdr)) {
			atomic_inc(&sk->sk_drops);
		} else {
			b = &us->tx[us->tx_head % AFIB_UD_TX];
			if (skb_copy_bits(skb, 0, b->addr + sizeof(struct
						  afib_ud_hdr), skb->len) ||
			    afib_ud_post(us, d, b, skb->len))
				atomic_inc(&sk->sk_drops);
		}
		consume_skb(skb);
	}
	return 0;
}

/*
 * The entry of @dst: usable, or pending (the resolution started here if
 * need be, finished by afib_ud_resolve_work() unless a blocking sender
 * waiting for it does first).  ud lock held.
 */
static struct afib_ud_dest *afib_ud_dest_get_nb(struct afib_ud_sock *us,
						const struct sockaddr_storage *dst)
{
	struct sockaddr_storage srcbuf;
	struct afib_ud_dest *d;
	struct rdma_cm_id *id;

	d = afib_ud_dest_find(us, dst);
	if (d)
		return d;
	d = afib_ud_dest_new(us, dst);
	if (!d)
		return ERR_PTR(-ENOMEM);
	d->w.notify = us;
	id = afib_ud_resolve_start(us, dst, afib_ud_src(us, &srcbuf),
				   afib_ud_is_mcast(dst),
				   BIT(SENDONLY_FULLMEMBER_JOIN), &d->w);
	if (IS_ERR(id)) {
		kfree(d);
		return ERR_CAST(id);
	}
	d->id = id;
	d->pending = true;
	d->started = jiffies;
	afib_ud_dest_add(us, d);
	/* The bound of the resolution; a no-op if the work is due sooner. */
	queue_delayed_work(system_wq, &us->resolve_work, AFIB_UD_WAIT);
	return d;
}

/*
 * The cached destination @dst, resolved if need be, for a blocking send
 * or connect().  Called with the ud lock held, which it drops while it
 * waits for the resolution (its own or a non-blocking send's, for what
 * is left of that one's AFIB_UD_WAIT, the bound afib_ud_resolve_work()
 * keeps): other senders to other destinations go on meanwhile.
 */
static struct afib_ud_dest *afib_ud_dest_get(struct afib_ud_sock *us,
					     const struct sockaddr_storage *dst)
{
	struct afib_ud_dest *d;
	unsigned long end;
	long left;
	int err;

	d = afib_ud_dest_get_nb(us, dst);
	if (IS_ERR(d) || !d->pending)
		return d;
	refcount_inc(&d->ref);
	end = d->started + AFIB_UD_WAIT;
	left = time_after(end, jiffies) ? end - jiffies : 0;
	mutex_unlock(&us->lock);
	left = wait_for_completion_interruptible_timeout(&d->w.done, left);
	mutex_lock(&us->lock);
	/*
	 * An entry somebody waits for is neither evicted nor reaped: it is
	 * gone only because its resolution failed or its device went.
	 */
	if (READ_ONCE(us->dead))
		err = -ENODEV;
	else if (d->gone)
		err = d->err ?: -ENODEV;
	else if (!d->pending)
		err = 0;		/* afib_ud_resolve_work() finished it */
	else if (left < 0)
		err = -ERESTARTSYS;	/* still pending */
	else
		err = afib_ud_pending_done(us, d, left ? 0 : -EHOSTUNREACH,
					   false);
	afib_ud_dest_put(d);
	return err ? ERR_PTR(err) : d;
}

/* Finish the pending resolutions that are over or timed out. */
static void afib_ud_resolve_work(struct work_struct *work)
{
	struct afib_ud_sock *us = container_of(to_delayed_work(work),
					       struct afib_ud_sock,
					       resolve_work);
	unsigned long next = 0, end;
	struct afib_ud_dest *d, *tmp;
	bool more = false;

	mutex_lock(&us->lock);
	list_for_each_entry_safe(d, tmp, &us->dests, node) {
		if (!d->pending)
			continue;
		end = d->started + AFIB_UD_WAIT;
		if (completion_done(&d->w.done)) {
			afib_ud_pending_done(us, d, 0, true);
		} else if (time_after_eq(jiffies, end)) {
			afib_ud_pending_done(us, d, -EHOSTUNREACH, true);
		} else if (!more || time_before(end, next)) {
			next = end;
			more = true;
		}
	}
	if (more)
		queue_delayed_work(system_wq, &us->resolve_work,
				   time_after(next, jiffies) ? next - jiffies : 0);
	mutex_unlock(&us->lock);
}

/*
 * Handler of the socket's own id: SIDR requests, address changes and
 * device removal.
 */
static int afib_ud_cm_handler(struct rdma_cm_id *id, struct rdma_cm_event *ev)
{
	struct afib_ud_sock *us = id->context;
	struct sock *sk = &us->as.sk;
	struct rdma_conn_param param = {};

	switch (ev->event) {
	case RDMA_CM_EVENT_CONNECT_REQUEST:
		/* @id is the request's own id: answer, then let it go. */
		if (afib_ud_qp_get(us, id))
			return 1;	/* destroyed: the request is rejected */
		mutex_lock(&us->as.qp_lock);
		if (us->qp) {
			param.qp_num = us->qp->qp_num;
			param.qkey = us->qkey;
		}
		mutex_unlock(&us->as.qp_lock);
		if (param.qp_num)
			rdma_accept(id, &param);
		return 1;
	case RDMA_CM_EVENT_ADDR_CHANGE:
		/*
		 * The netdev under our address changed (bonding failover):
		 * retire every cached path.  Not under afib_ud_sock.lock: a
		 * sender may hold it while it waits for rdma_cm.
		 */
		atomic_inc(&us->addr_gen);
		return 0;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		/*
		 * afib_ib_remove() killed the socket before rdma_cm's own
		 * removal got here; only our id is left to go.
		 */
		afib_set_error(sk, ENODEV);
		mutex_lock(&us->as.cm_lock);
		if (us->id != id) {
			mutex_unlock(&us->as.cm_lock);
			return 0;
		}
		us->id = NULL;
		mutex_unlock(&us->as.cm_lock);
		sock_put(sk);	/* the id's reference */
		return 1;	/* rdma_cm destroys it */
	default:
		return 0;
	}
}

/* Bind to @addr (rdma_cm form) and listen for SIDR; ud lock held. */
static int afib_ud_do_bind(struct afib_ud_sock *us,
			   const struct sockaddr_storage *addr)
{
	struct sock *sk = &us->as.sk;
	struct rdma_cm_id *id;
	int err;

	if (us->bound)
		return -EINVAL;
	if (READ_ONCE(us->dead))
		return -ENODEV;
	id = rdma_create_id(sock_net(sk), afib_ud_cm_handler, us, RDMA_PS_UDP,
			    IB_QPT_UD);
	if (IS_ERR(id))
		return PTR_ERR(id);
	if (sk->sk_reuse)
		rdma_set_reuseaddr(id, 1);
	err = rdma_bind_addr(id, (struct sockaddr *)addr);
	if (err)
		goto destroy;
	err = rdma_listen(id, 64);
	if (err)
		goto destroy;
	sock_hold(sk);	/* put by whoever destroys the id */
	mutex_lock(&us->as.cm_lock);
	us->id = id;
	mutex_unlock(&us->as.cm_lock);
	/* rdma_cm chose the port if we asked for any. */
	memcpy(&us->src, &id->route.addr.src_addr, sizeof(us->src));
	if (us->src.ss_family == AF_INET)
		us->sport = ((struct sockaddr_in *)&us->src)->sin_port;
	else
		us->sport = ((struct sockaddr_in6 *)&us->src)->sin6_port;
	us->bound = true;
	/* Bound to a local address: the device is known now. */
	if (id->device) {
		err = afib_ud_qp_get(us, id);
		if (err)
			return err;
	}
	return 0;

destroy:
	rdma_destroy_id(id);
	if (err == -ENODEV || err == -ENETDOWN)
		err = -EADDRNOTAVAIL;
	return err;
}

static int afib_ud_autobind(struct afib_ud_sock *us, int family)
{
	struct sockaddr_storage any = { .ss_family = family };

	if (us->bound)
		return 0;
	return afib_ud_do_bind(us, &any);
}

/* Socket calls */

static int afib_ud_bind(struct socket *sock, struct sockaddr *uaddr, int len)
{
	struct afib_ud_sock *us = afib_ud_sk(sock->sk);
	struct sockaddr_storage addr;
	int family, err;

	err = afib_ud_addr(uaddr, len, &addr, &family);
	if (err)
		return err;
	if (afib_ud_is_mcast(&addr))
		return -EADDRNOTAVAIL;
	if (mutex_lock_interruptible(&us->lock))
		return -ERESTARTSYS;
	err = afib_ud_do_bind(us, &addr);
	if (!err)
		us->as.family = family;
	mutex_unlock(&us->lock);
	return err;
}

static int afib_ud_connect(struct socket *sock, struct sockaddr *uaddr,
			   int len, int flags)
{
	struct sock *sk = sock->sk;
	struct afib_ud_sock *us = afib_ud_sk(sk);
	struct sockaddr_storage addr;
	struct afib_ud_dest *d;
	int family, err;
	__be16 port;

	if (len >= (int)sizeof(uaddr->sa_family) &&
	    uaddr->sa_family == AF_UNSPEC) {
		mutex_lock(&us->lock);
		WRITE_ONCE(us->connected, false);
		sk->sk_state = TCP_CLOSE;
		sock->state = SS_UNCONNECTED;
		mutex_unlock(&us->lock);
		return 0;
	}
	err = afib_ud_addr(uaddr, len, &addr, &family);
	if (err)
		return err;
	if (mutex_lock_interruptible(&us->lock))
		return -ERESTARTSYS;
	if (READ_ONCE(us->dead)) {
		err = -ENODEV;
		goto out;
	}
	if (!us->bound) {
		err = afib_ud_autobind(us, addr.ss_family);
		if (err)
			goto out;
		us->as.family = family;	/* names are reported as given */
	}
	d = afib_ud_dest_get(us, &addr);
	if (IS_ERR(d)) {
		err = PTR_ERR(d);
		goto out;
	}
	us->peer = addr;
	afib_ud_addr_gid(&addr, &us->peer_gid, &port);
	WRITE_ONCE(us->connected, true);
	sk->sk_state = TCP_ESTABLISHED;
	sock->state = SS_CONNECTED;
out:
	mutex_unlock(&us->lock);
	return err;
}

static int afib_ud_getname(struct socket *sock, struct sockaddr *uaddr,
			   int peer)
{
	struct afib_ud_sock *us = afib_ud_sk(sock->sk);
	struct sockaddr_storage tmp;
	union ib_gid gid = {};
	__be16 port = 0;
	int len, family;

	mutex_lock(&us->lock);
	family = us->as.family;
	if (peer) {
		if (!us->connected) {
			mutex_unlock(&us->lock);
			return -ENOTCONN;
		}
		afib_ud_addr_gid(&us->peer, &gid, &port);
	} else if (us->bound) {
		afib_ud_addr_gid(&us->src, &gid, &port);
	}
	if (family == AF_INET && !us->bound)
		ipv6_addr_set_v4mapped(0, (struct in6_addr *)gid.raw);
	if (family == AF_IB && !us->bound && !peer)
		family = AF_INET6;
	len = afib_ud_report(&gid, port, family, &tmp);
	mutex_unlock(&us->lock);
	memcpy(uaddr, &tmp, len);
	return len;
}

/*
 * Post tx buffer @b, @len bytes of payload after the header, to @d.  Only
 * the ud lock holder posts, so the slot at tx_head is ours until posted.
 * Return: 0 or a negative errno.
 */
static int afib_ud_post(struct afib_ud_sock *us, struct afib_ud_dest *d,
			struct afib_ud_buf *b, size_t len)
{
	struct afib_ud_hdr *hdr = b->addr;
	struct ib_ud_wr wr = {};
	int err;

	hdr->sport = us->sport;
	hdr->version = AFIB_UD_VERSION;
	hdr->flags = us->loop ? 0 : AFIB_UD_F_NOLOOP;
	ib_dma_sync_single_for_device(us->ibdev, b->dma, sizeof(*hdr) + len,
				      DMA_TO_DEVICE);
	b->sge.length = sizeof(*hdr) + len;
	wr.wr.wr_cqe = &b->cqe;
	wr.wr.sg_list = &b->sge;
	wr.wr.num_sge = 1;
	wr.wr.opcode = IB_WR_SEND;
	wr.wr.send_flags = IB_SEND_SIGNALED;
	wr.ah = d->ah;
	wr.remote_qpn = d->qpn;
	wr.remote_qkey = d->qkey;

	spin_lock_bh(&us->as.lock);
	if (us->dead) {
		err = -ENODEV;
	} else {
		err = ib_post_send(us->qp, &wr.wr, NULL);
		if (!err)
			us->tx_head++;
	}
	spin_unlock_bh(&us->as.lock);
	if (err && err != -ENODEV)
		err = -ENOBUFS;
	return err;
}

/*
 * Hold a non-blocking send's datagram for the pending @d, in an skb
 * charged to the send buffer; beyond AFIB_UD_HELD the oldest is dropped.
 * Return: @len, or a negative errno.
 */
static int afib_ud_hold(struct afib_ud_sock *us, struct afib_ud_dest *d,
			struct msghdr *msg, size_t len)
{
	struct sock *sk = &us->as.sk;
	struct sk_buff *skb;
	int err;

	skb = sock_alloc_send_skb(sk, len, 1, &err);
	if (!skb)
		return err;
	if (!copy_from_iter_full(skb_put(skb, len), len, &msg->msg_iter)) {
		kfree_skb(skb);
		return -EFAULT;
	}
	if (skb_queue_len(&d->held) >= AFIB_UD_HELD) {
		kfree_skb(__skb_dequeue(&d->held));
		atomic_inc(&sk->sk_drops);
	}
	__skb_queue_tail(&d->held, skb);
	return len;
}

static int afib_ud_sendmsg(struct socket *sock, struct msghdr *msg,
			   size_t len)
{
	struct sock *sk = sock->sk;
	struct afib_ud_sock *us = afib_ud_sk(sk);
	struct afib_sock *as = &us->as;
	bool nb = msg->msg_flags & MSG_DONTWAIT;
	struct sockaddr_storage dst;
	struct afib_ud_dest *d;
	struct afib_ud_buf *b;
	int family, err;
	long timeo;

	if (msg->msg_flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_CONFIRM))
		return -EOPNOTSUPP;
	if (msg->msg_name) {
		err = afib_ud_addr(msg->msg_name, msg->msg_namelen, &dst,
				   &family);
		if (err)
			return err;
	} else if (!READ_ONCE(us->connected)) {
		return -EDESTADDRREQ;
	}
	if (len > AFIB_MAX_MSG)
		return -EMSGSIZE;
	/* A resolution that failed after its send returned, as UDP's ICMP. */
	err = sock_error(sk);
	if (err)
		return err;
	if (mutex_lock_interruptible(&us->lock))
		return -ERESTARTSYS;
	err = -ENODEV;
	if (READ_ONCE(us->dead))
		goto out;
	if (!msg->msg_name) {
		if (!us->connected) {
			err = -EDESTADDRREQ;
			goto out;
		}
		dst = us->peer;
	}
	if (us->qp && len > us->mtu - sizeof(struct afib_ud_hdr)) {
		err = -EMSGSIZE;
		goto out;
	}
	if (!us->bound) {
		err = afib_ud_autobind(us, dst.ss_family);
		if (err)
			goto out;
		if (msg->msg_name)
			us->as.family = family;
	}
	afib_ud_reap(us, false);
	d = nb ? afib_ud_dest_get_nb(us, &dst) : afib_ud_dest_get(us, &dst);
	if (IS_ERR(d)) {
		err = PTR_ERR(d);
		goto out;
	}
	if (d->pending) {
		err = afib_ud_hold(us, d, msg, len);
		goto out;
	}
	if (len > us->mtu - sizeof(struct afib_ud_hdr)) {
		err = -EMSGSIZE;
		goto out;
	}
	timeo = sock_sndtimeo(sk, nb);
	err = afib_wait_cq(as, &timeo, READ_ONCE(us->dead) ||
			   afib_ud_tx_room(us));
	if (err)
		goto out;
	err = -ENODEV;
	if (READ_ONCE(us->dead))
		goto out;

	b = &us->tx[us->tx_head % AFIB_UD_TX];
	if (!copy_from_iter_full(b->addr + sizeof(struct afib_ud_hdr), len,
				 &msg->msg_iter)) {
		err = -EFAULT;
		goto out;
	}
	err = afib_ud_post(us, d, b, len);
	if (!err)
		err = len;
out:
	mutex_unlock(&us->lock);
	return err;
}

static int afib_ud_recvmsg(struct socket *sock, struct msghdr *msg,
			   size_t len, int flags)
{
	struct sock *sk = sock->sk;
	struct afib_ud_sock *us = afib_ud_sk(sk);
	struct sockaddr_storage addr;
	struct sk_buff *skb;
	int copied, err, n;
	long timeo;

	if (flags & ~(MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC | MSG_WAITALL |
		      MSG_CMSG_CLOEXEC | MSG_CMSG_COMPAT | MSG_NOSIGNAL))
		return -EOPNOTSUPP;
	/*
	 * The reader polls the CQ itself and sleeps until its event: the
	 * datagram is queued and read in one go, without the softirq's or
	 * the worker's hop.  Another reader may take it first: try again.
	 */
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	do {
		err = afib_wait_cq(&us->as, &timeo,
				   !skb_queue_empty_lockless(&sk->sk_receive_queue) ||
				   READ_ONCE(sk->sk_err) || READ_ONCE(us->dead) ||
				   (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN));
		if (err)
			return err;
		skb = skb_recv_datagram(sk, flags | MSG_DONTWAIT, &err);
	} while (!skb && err == -EAGAIN && timeo && !READ_ONCE(us->dead));
	if (!skb) {
		/* Device gone, its error reported: nothing more to come. */
		if ((!err || err == -EAGAIN) && READ_ONCE(us->dead))
			err = -ENODEV;
		return err;
	}
	copied = skb->len;
	if (copied > len) {
		copied = len;
		msg->msg_flags |= MSG_TRUNC;
	}
	err = skb_copy_datagram_msg(skb, 0, msg, copied);
	if (err)
		goto out;
	if (msg->msg_name) {
		n = afib_ud_report(&afib_ud_skb_cb(skb)->sgid,
				   afib_ud_skb_cb(skb)->sport,
				   READ_ONCE(us->as.family), &addr);
		memcpy(msg->msg_name, &addr, n);
		msg->msg_namelen = n;
	}
	sock_recv_cmsgs(msg, sk, skb);
	err = flags & MSG_TRUNC ? skb->len : copied;
out:
	skb_free_datagram(sk, skb);
	return err;
}

static __poll_t afib_ud_poll(struct file *file, struct socket *sock,
			     poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct afib_ud_sock *us = afib_ud_sk(sk);
	__poll_t mask;

	mask = datagram_poll(file, sock, wait);
	mask &= ~(EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
	if (READ_ONCE(us->dead)) {
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM;
	} else if (afib_ud_tx_room(us)) {
		mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
	} else {
		sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
		/* Paired with the lock in afib_ud_tx_done(). */
		smp_mb();
		if (afib_ud_tx_room(us))
			mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
	}
	return mask;
}

/* Multicast */

static struct afib_ud_group *afib_ud_group_find(struct afib_ud_sock *us,
						const struct sockaddr_storage *g)
{
	struct afib_ud_group *grp;

	list_for_each_entry(grp, &us->groups, node)
		if (afib_ud_addr_eq(&grp->addr, g))
			return grp;
	return NULL;
}

static void afib_ud_group_free(struct afib_ud_sock *us,
			       struct afib_ud_group *grp)
{
	if (grp->attached)
		ib_detach_mcast(us->qp, &grp->mgid, grp->mlid);
	rdma_destroy_id(grp->id);	/* leaves the group */
	kfree(grp);
}

/*
 * Join group @g (rdma_cm form, port 0) from @src (NULL: ours, or route).
 * Return: 0 or a negative errno.
 */
static int afib_ud_join(struct afib_ud_sock *us,
			const struct sockaddr_storage *g,
			const struct sockaddr_storage *ifaddr)
{
	struct sockaddr_storage srcbuf;
	struct afib_ud_group *grp;
	const struct sockaddr *src;
	struct rdma_cm_id *id;
	int err;

	if (!afib_ud_is_mcast(g))
		return -EINVAL;
	if (mutex_lock_interruptible(&us->lock))
		return -ERESTARTSYS;
	err = -EINVAL;
	if (!us->bound)
		goto out;
	err = -ENODEV;
	if (READ_ONCE(us->dead))
		goto out;
	err = -EADDRINUSE;
	if (afib_ud_group_find(us, g))
		goto out;
	err = -ENOBUFS;
	if (us->ngroups >= AFIB_UD_GROUPS)
		goto out;
	err = -ENOMEM;
	grp = kzalloc(sizeof(*grp), GFP_KERNEL);
	if (!grp)
		goto out;
	src = ifaddr ? (const struct sockaddr *)ifaddr :
		       afib_ud_src(us, &srcbuf);
	id = afib_ud_resolve(us, g, src, true, BIT(FULLMEMBER_JOIN), &grp->w);
	if (IS_ERR(id)) {
		err = PTR_ERR(id);
		kfree(grp);
		goto out;
	}
	grp->id = id;
	grp->addr = *g;
	grp->mgid = grp->w.ah_attr.grh.dgid;
	grp->mlid = rdma_ah_get_dlid(&grp->w.ah_attr);
	rdma_destroy_ah_attr(&grp->w.ah_attr);
	err = -EINVAL;
	if (grp->w.qkey != us->qkey)
		goto free;
	err = ib_attach_mcast(us->qp, &grp->mgid, grp->mlid);
	if (err)
		goto free;
	grp->attached = true;
	list_add_tail(&grp->node, &us->groups);
	us->ngroups++;
	goto out;

free:
	afib_ud_group_free(us, grp);
out:
	mutex_unlock(&us->lock);
	return err;
}

static int afib_ud_leave(struct afib_ud_sock *us,
			 const struct sockaddr_storage *g)
{
	struct afib_ud_group *grp;
	int err = 0;

	if (!afib_ud_is_mcast(g))
		return -EINVAL;
	mutex_lock(&us->lock);
	grp = afib_ud_group_find(us, g);
	if (grp) {
		list_del(&grp->node);
		us->ngroups--;
		afib_ud_group_free(us, grp);
	} else {
		err = -EADDRNOTAVAIL;
	}
	mutex_unlock(&us->lock);
	return err;
}

static int afib_ud_mreq4(sockptr_t optval, unsigned int optlen,
			 struct sockaddr_storage *g,
			 struct sockaddr_storage *ifaddr, bool *have_if)
{
	struct sockaddr_in *sin = (void *)g;
	struct ip_mreqn mreq = {};

	if (optlen < sizeof(struct ip_mreq))
		return -EINVAL;
	if (copy_from_sockptr(&mreq, optval,
			      min_t(unsigned int, optlen, sizeof(mreq))))
		return -EFAULT;
	memset(g, 0, sizeof(*g));
	sin->sin_family = AF_INET;
	sin->sin_addr = mreq.imr_multiaddr;
	*have_if = mreq.imr_address.s_addr != htonl(INADDR_ANY);
	if (*have_if) {
		memset(ifaddr, 0, sizeof(*ifaddr));
		sin = (void *)ifaddr;
		sin->sin_family = AF_INET;
		sin->sin_addr = mreq.imr_address;
	}
	return 0;
}

static int afib_ud_mreq6(sockptr_t optval, unsigned int optlen,
			 struct sockaddr_storage *g)
{
	struct sockaddr_in6 *sin6 = (void *)g;
	struct ipv6_mreq mreq;

	if (optlen < sizeof(mreq))
		return -EINVAL;
	if (copy_from_sockptr(&mreq, optval, sizeof(mreq)))
		return -EFAULT;
	memset(g, 0, sizeof(*g));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = mreq.ipv6mr_multiaddr;
	/* An IPv4-mapped group is the IPv4 group, as for the MGID join. */
	if (ipv6_addr_v4mapped(&sin6->sin6_addr)) {
		struct sockaddr_in *sin = (void *)g;
		__be32 a = mreq.ipv6mr_multiaddr.s6_addr32[3];

		memset(g, 0, sizeof(*g));
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = a;
	}
	return 0;
}

/* An MGID names the IP group rdma_cm maps to it on RoCE (see uAPI). */
static int afib_ud_mreq_gid(sockptr_t optval, unsigned int optlen,
			    struct sockaddr_storage *g)
{
	struct sockaddr_in6 *sin6 = (void *)g;
	struct afib_mcast_req req;
	struct ipv6_mreq m6 = {};

	if (optlen < sizeof(req))
		return -EINVAL;
	if (copy_from_sockptr(&req, optval, sizeof(req)))
		return -EFAULT;
	if (req.reserved)
		return -EINVAL;
	memcpy(&m6.ipv6mr_multiaddr, req.mgid, sizeof(req.mgid));
	afib_ud_mreq6(KERNEL_SOCKPTR(&m6), sizeof(m6), g);
	if (g->ss_family == AF_INET6 &&
	    !ipv6_addr_is_multicast(&sin6->sin6_addr))
		return -EINVAL;
	return 0;
}

static int afib_ud_get_bool(sockptr_t optval, unsigned int optlen, bool *v)
{
	int val = 0;
	u8 c;

	if (optlen >= sizeof(int)) {
		if (copy_from_sockptr(&val, optval, sizeof(val)))
			return -EFAULT;
	} else if (optlen >= 1) {
		if (copy_from_sockptr(&c, optval, 1))
			return -EFAULT;
		val = c;
	} else {
		return -EINVAL;
	}
	*v = !!val;
	return 0;
}

static int afib_ud_setsockopt(struct socket *sock, int level, int optname,
			      sockptr_t optval, unsigned int optlen)
{
	struct afib_ud_sock *us = afib_ud_sk(sock->sk);
	struct sockaddr_storage g, ifaddr;
	bool have_if = false, loop;
	int err;

	switch (level) {
	case SOL_IP:
		switch (optname) {
		case IP_ADD_MEMBERSHIP:
		case IP_DROP_MEMBERSHIP:
			err = afib_ud_mreq4(optval, optlen, &g, &ifaddr,
					    &have_if);
			if (err)
				return err;
			if (optname == IP_DROP_MEMBERSHIP)
				return afib_ud_leave(us, &g);
			return afib_ud_join(us, &g, have_if ? &ifaddr : NULL);
		case IP_MULTICAST_LOOP:
			err = afib_ud_get_bool(optval, optlen, &loop);
			if (!err)
				WRITE_ONCE(us->loop, loop);
			return err;
		}
		return -ENOPROTOOPT;
	case SOL_IPV6:
		switch (optname) {
		case IPV6_ADD_MEMBERSHIP:
		case IPV6_DROP_MEMBERSHIP:
			err = afib_ud_mreq6(optval, optlen, &g);
			if (err)
				return err;
			if (optname == IPV6_DROP_MEMBERSHIP)
				return afib_ud_leave(us, &g);
			return afib_ud_join(us, &g, NULL);
		case IPV6_MULTICAST_LOOP:
			err = afib_ud_get_bool(optval, optlen, &loop);
			if (!err)
				WRITE_ONCE(us->loop, loop);
			return err;
		}
		return -ENOPROTOOPT;
	case SOL_AFIB:
		switch (optname) {
		case AFIB_MCAST_JOIN:
		case AFIB_MCAST_LEAVE:
			err = afib_ud_mreq_gid(optval, optlen, &g);
			if (err)
				return err;
			if (optname == AFIB_MCAST_LEAVE)
				return afib_ud_leave(us, &g);
			return afib_ud_join(us, &g, NULL);
		case AFIB_INFO:
		case AFIB_MAX_MSG_SIZE:
		case AFIB_DEVICE:
		case AFIB_UD_DROPS:
		case AFIB_UD_BAD:
		case AFIB_UD_RESOLVES:
			return -EPERM;	/* read only */
		}
		return -ENOPROTOOPT;
	default:
		return -ENOPROTOOPT;
	}
}

static int afib_ud_put_int(int val, char __user *optval, int __user *optlen)
{
	int len;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < (int)sizeof(int))
		return -EINVAL;
	len = sizeof(int);
	if (copy_to_user(optval, &val, len))
		return -EFAULT;
	return put_user(len, optlen);
}

static void afib_ud_info(struct afib_ud_sock *us, struct afib_info *info)
{
	memset(info, 0, sizeof(*info));
	mutex_lock(&us->as.qp_lock);
	if (us->qp) {
		info->port = us->port_num;
		info->qp_num = us->qp->qp_num;
		info->path_mtu = us->mtu;
		info->max_msg_size = us->mtu - sizeof(struct afib_ud_hdr);
		strscpy(info->dev_name, dev_name(&us->ibdev->dev),
			sizeof(info->dev_name));
	}
	mutex_unlock(&us->as.qp_lock);
	info->state = READ_ONCE(us->as.sk.sk_state);
}

static int afib_ud_getsockopt(struct socket *sock, int level, int optname,
			      char __user *optval, int __user *optlen)
{
	struct afib_ud_sock *us = afib_ud_sk(sock->sk);
	struct afib_info info;
	int len;

	if ((level == SOL_IP && optname == IP_MULTICAST_LOOP) ||
	    (level == SOL_IPV6 && optname == IPV6_MULTICAST_LOOP))
		return afib_ud_put_int(READ_ONCE(us->loop), optval, optlen);
	if (level != SOL_AFIB)
		return -ENOPROTOOPT;
	switch (optname) {
	case AFIB_MAX_MSG_SIZE:
		afib_ud_info(us, &info);
		if (!info.max_msg_size)
			return -ENOTCONN;
		return afib_ud_put_int(info.max_msg_size, optval, optlen);
	case AFIB_UD_DROPS:
		return afib_ud_put_int(atomic_read(&us->as.sk.sk_drops), optval,
				       optlen);
	case AFIB_UD_BAD:
		return afib_ud_put_int(atomic_read(&us->bad), optval, optlen);
	case AFIB_UD_RESOLVES:
		return afib_ud_put_int(READ_ONCE(us->resolves), optval, optlen);
	case AFIB_INFO:
		if (get_user(len, optlen))
			return -EFAULT;
		if (len < 0)
			return -EINVAL;
		afib_ud_info(us, &info);
		len = min_t(int, len, sizeof(info));
		info.size = len;
		if (copy_to_user(optval, &info, len))
			return -EFAULT;
		return put_user(len, optlen);
	case AFIB_DEVICE:
		if (get_user(len, optlen))
			return -EFAULT;
		afib_ud_info(us, &info);
		if (!info.dev_name[0])
			return -ENOTCONN;
		if (len < (int)strlen(info.dev_name) + 1)
			return -EINVAL;
		len = strlen(info.dev_name) + 1;
		if (copy_to_user(optval, info.dev_name, len))
			return -EFAULT;
		return put_user(len, optlen);
	default:
		return -ENOPROTOOPT;
	}
}

/* Free everything but the socket's own id; ud lock held. */
static void afib_ud_teardown(struct afib_ud_sock *us)
{
	struct afib_ud_group *grp, *gtmp;
	struct afib_ud_dest *d, *dtmp;

	list_for_each_entry_safe(grp, gtmp, &us->groups, node) {
		list_del(&grp->node);
		afib_ud_group_free(us, grp);
	}
	us->ngroups = 0;
	afib_ud_qp_destroy(us);
	list_for_each_entry_safe(d, dtmp, &us->dests, node)
		afib_ud_retire(us, d);
	afib_ud_reap(us, true);
}

/* The device is going: fail the socket with @err and drop it all. */
static void afib_ud_kill(struct afib_sock *as, int err)
{
	struct afib_ud_sock *us = container_of(as, struct afib_ud_sock, as);
	struct sock *sk = &as->sk;

	if (err)
		afib_set_error(sk, err);
	spin_lock_bh(&as->lock);
	us->dead = true;
	spin_unlock_bh(&as->lock);
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | RCV_SHUTDOWN);
	sk->sk_state_change(sk);
	mutex_lock(&us->lock);
	afib_ud_teardown(us);
	mutex_unlock(&us->lock);
}

static int afib_ud_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct afib_ud_sock *us;
	struct rdma_cm_id *id;

	if (!sk)
		return 0;
	us = afib_ud_sk(sk);

	/* No more SIDR answers: the id goes first, without our locks. */
	mutex_lock(&us->as.cm_lock);
	id = us->id;
	us->id = NULL;
	mutex_unlock(&us->as.cm_lock);
	if (id) {
		rdma_destroy_id(id);
		sock_put(sk);	/* the id's reference */
	}
	spin_lock_bh(&us->as.lock);
	us->dead = true;
	spin_unlock_bh(&us->as.lock);
	mutex_lock(&us->lock);
	afib_ud_teardown(us);	/* memberships end here */
	mutex_unlock(&us->lock);
	/* The ids that queue it are destroyed: it does not come back. */
	cancel_delayed_work_sync(&us->resolve_work);

	lock_sock(sk);
	sk->sk_state = TCP_CLOSE;
	sock_orphan(sk);
	sock->sk = NULL;
	release_sock(sk);
	skb_queue_purge(&sk->sk_receive_queue);
	sock_put(sk);		/* the owner's reference */
	return 0;
}

static int afib_ud_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;

	how++;
	if (how <= 0 || how > SHUTDOWN_MASK)
		return -EINVAL;
	lock_sock(sk);
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | how);
	release_sock(sk);
	sk->sk_state_change(sk);
	return 0;
}

static void afib_ud_init(struct afib_sock *as)
{
	struct afib_ud_sock *us = container_of(as, struct afib_ud_sock, as);

	mutex_init(&us->lock);
	INIT_LIST_HEAD(&us->dests);
	INIT_LIST_HEAD(&us->stale);
	INIT_LIST_HEAD(&us->groups);
	INIT_DELAYED_WORK(&us->resolve_work, afib_ud_resolve_work);
	us->loop = true;
	as->family = AF_INET6;
	as->sk.sk_write_space = afib_ud_write_space;
}

static void afib_ud_destruct(struct afib_sock *as)
{
	struct afib_ud_sock *us = container_of(as, struct afib_ud_sock, as);

	WARN_ON_ONCE(us->qp || us->id || !list_empty(&us->groups) ||
		     delayed_work_pending(&us->resolve_work));
	mutex_destroy(&us->lock);
}

struct proto afib_ud_proto = {
	.name		= "AF_IB-DGRAM",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct afib_ud_sock),
};

const struct proto_ops afib_dgram_ops = {
	.family		= PF_IB,
	.owner		= THIS_MODULE,
	.release	= afib_ud_release,
	.bind		= afib_ud_bind,
	.connect	= afib_ud_connect,
	.socketpair	= sock_no_socketpair,
	.accept		= sock_no_accept,
	.getname	= afib_ud_getname,
	.poll		= afib_ud_poll,
	.ioctl		= sock_no_ioctl,
	.listen		= sock_no_listen,
	.shutdown	= afib_ud_shutdown,
	.setsockopt	= afib_ud_setsockopt,
	.getsockopt	= afib_ud_getsockopt,
	.sendmsg	= afib_ud_sendmsg,
	.recvmsg	= afib_ud_recvmsg,
	.mmap		= sock_no_mmap,
};

const struct afib_xport afib_ud_xport = {
	.ops		= &afib_dgram_ops,
	.prot		= &afib_ud_proto,
	.type		= SOCK_DGRAM,
	.init		= afib_ud_init,
	.destruct	= afib_ud_destruct,
	.kill		= afib_ud_kill,
};
