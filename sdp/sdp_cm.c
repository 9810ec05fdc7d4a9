// SPDX-License-Identifier: GPL-2.0
/*
 * SDP connection setup and end.
 *
 * afib_cm.c runs rdma_cm in RDMA_PS_TCP for SDP as for SOCK_SEQPACKET;
 * here are the parts that differ.  The active side's request carries a
 * Hello, the passive side's reply a HelloAck (sdp_proto.h says why they
 * are shorter than OFED's).  Each announces the receive buffers its
 * sender posted before connecting (bufs: the peer's first credits) and
 * their size (localrcvsz, actrcvsz: the peer's largest message).
 *
 * The end: DisConn is SDP's FIN, AbortConn its RST.  When rdma_cm reports
 * the disconnect, messages the peer sent before may still wait in the CQ.
 * So the receive queue is closed with a marker (afib_sock.sdp.rx_end_wr)
 * whose flush completion comes after every receive; only then is a peer
 * that left without DisConn or AbortConn known to have reset the stream.
 */
#include "sdp.h"

void sdp_qp_size(struct afib_sock *as)
{
	u32 rcv = READ_ONCE(as->sk.sk_rcvbuf), snd = READ_ONCE(as->sk.sk_sndbuf);

	as->seg_size = SDP_SEG_SIZE;
	/*
	 * Up to rx_slots + 1 buffers, all announced; an idle connection
	 * posts a few, sdp_rx_grow() adds the others when the peer
	 * streams.  Send buffers get pages when first used.  A stream
	 * soon has buffers of SDP_BIG_SIZE (ChRcvBuf), so the arrays and
	 * the queues are sized for about twice SO_RCVBUF (sdp_rx_budget())
	 * and SO_SNDBUF of those: what an idle connection costs is mostly
	 * them.
	 */
	as->rx_slots = clamp_t(u32, rcv / (SDP_BIG_SIZE / 2), SDP_RX_INIT + 1,
			       SDP_MAX_BUFS) - 1;
	as->tx_slots = clamp_t(u32, snd / SDP_BIG_SIZE, 4, SDP_MAX_BUFS);
	as->rx_filled = SDP_RX_INIT;
	as->tx_filled = 0;
	/*
	 * The BSDH and the pages of a 32 KiB message, for zero-copy; one
	 * per page of an RDMA operation's iovec (sdp_rdma.c).
	 */
	as->max_send_sge = max_t(u32, 2 + SDP_BIG_SIZE / PAGE_SIZE,
				 AFIB_RDMA_IOV_PAGES);
}

/* The receive buffers are posted: start the sequence spaces. */
void sdp_qp_ready(struct afib_sock *as)
{
	struct sdp_conn *c = &as->sdp;
	u32 i;

	spin_lock_bh(&as->lock);
	c->tx_mseq = 1;
	c->rx_mseq = 0;
	c->rx_ack = 0;
	c->tx_unposted = 0;
	c->rx_posted = as->rx_filled;
	c->rx_grow = false;
	c->rcv_want = 0;
	c->ack_due = false;
	c->sendsm_due = false;
	c->chrcvbuf_out = false;
	INIT_LIST_HEAD(&c->rx_park);
	INIT_LIST_HEAD(&c->rx_spare);
	for (i = 0; i < as->rx_filled; i++)
		as->rx_bufs[i].posted = true;
	c->adv_bufs = c->rx_posted;
	c->rx_seq = 0;
	c->rx_end = 0;
	c->urg = SDP_URG_NONE;
	c->abort_rcvd = false;
	c->rx_over = false;
	c->tx_held = false;
	c->pend_until = 0;
	c->pend_more = false;
	c->rx_end_posted = false;
	c->write_imm = false;
	c->rx_imms = 0;
	c->tx_acked = 0;
	c->tx_bytes = 0;
	c->probes = 0;
	c->rx_stamp = jiffies;
	/* Until the peer says otherwise: its buffers are at least ours. */
	c->peer_rcvsz = as->seg_size;
	spin_unlock_bh(&as->lock);
}

static u8 sdp_ipv(struct afib_sock *as)
{
	struct rdma_cm_id *id = as->qp_id;

	if (id && id->route.addr.dst_addr.ss_family == AF_INET6)
		return SDP_IPV6;
	return SDP_IPV4;
}

int sdp_hello(struct afib_sock *as, void *buf, bool reply)
{
	struct sdp_hello_host h = {
		.bufs		= as->sdp.adv_bufs,
		.cap		= SDP_CAP_WRITE_IMM,
		.max_adverts	= 1,
	};
	struct sdp_hah_host hah;
	struct sdp_hh_host hh;

	BUILD_BUG_ON(sizeof(struct sdp_hh) > AFIB_PRIVATE_MAX ||
		     sizeof(struct sdp_hah) > AFIB_PRIVATE_MAX);
	if (reply) {
		/* The IP version of the Hello, which sdp_connected() kept. */
		h.ipv = as->sdp.ipv;
		hah = (struct sdp_hah_host){ .hello = h,
					     .actrcvsz = as->seg_size };
		sdp_hah_build(buf, &hah);
		return sizeof(struct sdp_hah);
	}
	as->sdp.ipv = sdp_ipv(as);
	h.ipv = as->sdp.ipv;
	hh = (struct sdp_hh_host){ .hello = h, .desremrcvsz = as->seg_size,
				   .localrcvsz = as->seg_size };
	sdp_hh_build(buf, &hh);
	return sizeof(struct sdp_hh);
}

int sdp_parse(struct afib_sock *as, const void *data, u8 len, bool reply,
	      union afib_peer *peer)
{
	int err;

	if (!reply)
		return sdp_hh_parse(data, len, &peer->hh);
	err = sdp_hah_parse(data, len, &peer->hah);
	if (!err && peer->hah.hello.ipv != as->sdp.ipv)
		err = -EPROTO;
	return err;
}

/* TCP's children inherit their listener's options; so do ours. */
static void sdp_inherit(struct afib_sock *child, struct afib_sock *lis)
{
	struct sock *sk = &child->sk, *lsk = &lis->sk;

	sock_valbool_flag(sk, SOCK_KEEPOPEN, sock_flag(lsk, SOCK_KEEPOPEN));
	sock_valbool_flag(sk, SOCK_URGINLINE, sock_flag(lsk, SOCK_URGINLINE));
	sock_valbool_flag(sk, SOCK_LINGER, sock_flag(lsk, SOCK_LINGER));
	sk->sk_lingertime = lsk->sk_lingertime;
	sk->sk_rcvlowat = READ_ONCE(lsk->sk_rcvlowat);
	sk->sk_rcvtimeo = READ_ONCE(lsk->sk_rcvtimeo);
	sk->sk_sndtimeo = READ_ONCE(lsk->sk_sndtimeo);
	child->sdp.nodelay = lis->sdp.nodelay;
	child->sdp.cork = lis->sdp.cork;
	child->sdp.keepidle = lis->sdp.keepidle;
	child->sdp.keepintvl = lis->sdp.keepintvl;
	child->sdp.keepcnt = lis->sdp.keepcnt;
}

int sdp_connected(struct afib_sock *as, const union afib_peer *peer)
{
	const struct sdp_hello_host *h;
	u32 rcvsz;

	if (as->parent) {
		/* Passive side: the peer's Hello. */
		h = &peer->hh.hello;
		rcvsz = peer->hh.localrcvsz;
		as->sdp.ipv = h->ipv;
		sdp_inherit(as, as->parent);
	} else {
		h = &peer->hah.hello;
		rcvsz = peer->hah.actrcvsz;
		sdp_fb_connected(as);
	}
	spin_lock_bh(&as->lock);
	as->sdp.peer_rcvsz = rcvsz;
	/* Ours always has it: both have it when the peer's has. */
	as->sdp.write_imm = h->cap & SDP_CAP_WRITE_IMM;
	/* A message from the peer may have come first, with newer credits. */
	if (!as->sdp.rx_mseq)
		as->tx_credits = sdp_tx_credits(h->bufs, 0, as->sdp.tx_mseq);
	spin_unlock_bh(&as->lock);
	if (sock_flag(&as->sk, SOCK_KEEPOPEN))
		sdp_keepalive(&as->sk, 1);
	return 0;
}

/*
 * The receive queue is closed: see the top of this file.  A peer that
 * sent DisConn first left as TCP's peer does after its FIN: the socket
 * stays in the state TCP calls CLOSE_WAIT (sending fails, see
 * sdp_tx_get()); one that did not reset the stream.
 */
static void sdp_rx_over(struct afib_sock *as)
{
	struct sock *sk = &as->sk;
	bool reset;

	spin_lock_bh(&as->lock);
	reset = !as->fin_rcvd && !as->sdp.abort_rcvd && !as->dead;
	/* A reader that sees rx_over must see the reset. */
	if (reset)
		__sdp_reset(as, ECONNRESET);
	/* Paired with the smp_rmb() in sdp_recvmsg(). */
	smp_wmb();
	WRITE_ONCE(as->sdp.rx_over, true);
	spin_unlock_bh(&as->lock);
	if (reset) {
		sk_error_report(sk);
		sk->sk_state_change(sk);
	}
	sk->sk_data_ready(sk);
}

static void sdp_rx_end_done(struct ib_cq *cq, struct ib_wc *wc)
{
	sdp_rx_over(cq->cq_context);
}

/* rdma_cm reported the disconnect and moved the QP to the error state. */
void sdp_disconnected(struct afib_sock *as)
{
	struct sdp_conn *c = &as->sdp;
	bool failed = false;

	c->rx_end_cqe.done = sdp_rx_end_done;
	c->rx_end_wr.wr_cqe = &c->rx_end_cqe;
	c->rx_end_wr.next = NULL;
	c->rx_end_wr.num_sge = 0;
	spin_lock_bh(&as->lock);
	if (!as->dead && as->qp && !c->rx_over && !c->rx_end_posted) {
		failed = ib_post_recv(as->qp, &c->rx_end_wr, NULL);
		c->rx_end_posted = true;
	}
	spin_unlock_bh(&as->lock);
	if (failed)
		sdp_rx_over(as);
}
