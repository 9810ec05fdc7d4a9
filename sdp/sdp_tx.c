// SPDX-License-Identifier: GPL-2.0
/*
 * SDP sending.
 *
 * The send ring is TCP's send buffer.  sendmsg() copies the stream into
 * its buffers, at most sdp_max_payload() bytes each after room for the
 * BSDH, and returns once everything is queued; it waits only for ring
 * space.  Small writes go into the last queued buffer while it is not
 * posted.  Queued buffers are posted oldest first, whenever a credit
 * allows (the last one is kept, CA4-82: sdp_can_send()), by the writer or
 * by the completion that brings the credit (__sdp_tx_push()).  A buffer's
 * BSDH is written when it is posted, under afib_sock.lock, so mseq,
 * mseq_ack and bufs are those of that moment and control messages posted
 * in between stay in sequence.
 *
 * Ring positions: tx_tail (oldest not completed) <= tx_posted <= tx_head
 * (after the last queued).  A writer filling the last buffer sets tx_busy;
 * nothing posts that buffer meanwhile.  A part-filled last buffer may wait
 * for more data (__sdp_hold()): under TCP_CORK or MSG_MORE for at most
 * SDP_CORK_TIMEOUT, and, as Nagle's algorithm does, while a signaled
 * message is in flight, whose completion sends it.  With TCP_NODELAY it
 * goes at once.  The last buffer a push posts is signaled when no more
 * can follow now, and at least every half ring, so a completion always
 * comes to post the rest and SIOCOUTQ (sent, not yet taken in by the
 * peer's adapter, or still queued) stays right.
 *
 * Control messages (credit updates, DisConn, AbortConn, ChRcvBufAck) have
 * no payload; they use afib_sock.ctrl and its mapped headers.
 */
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <net/tcp.h>
#include "sdp.h"

/* Write a BSDH with the connection's current sequence state. */
static void __sdp_bsdh(struct afib_sock *as, void *msg, u8 mid, u8 flags,
		       u32 len)
{
	struct sdp_bsdh_host h = {
		.mid		= mid,
		.flags		= flags,
		.bufs		= min_t(u32, as->sdp.rx_posted, U16_MAX),
		.len		= len,
		.mseq		= as->sdp.tx_mseq,
		.mseq_ack	= as->sdp.rx_mseq,
	};

	sdp_bsdh_build(msg, &h);
}

/* Bookkeeping after a message went out.  Caller holds as->lock. */
static void __sdp_sent(struct afib_sock *as)
{
	as->sdp.tx_mseq++;
	as->sdp.adv_bufs = as->sdp.rx_posted;
	as->sdp.rx_read = false;
}

/**
 * __sdp_send_ctrl() - post a control message.
 * @as: a connected socket; caller holds as->lock.
 * @mid: SDP_MID_DATA (a credit update, no payload), SDP_MID_DISCONN,
 *	SDP_MID_ABORT_CONN, SDP_MID_SENDSM, SDP_MID_CHRCVBUF or
 *	SDP_MID_CHRCVBUF_ACK.
 * @ext: the extended header's value (ChRcvBuf, ChRcvBufAck: the buffer
 *	size).
 *
 * Return: 0, -EAGAIN without a credit or a control slot, or the post's
 * error.
 */
int __sdp_send_ctrl(struct afib_sock *as, u8 mid, u32 ext)
{
	struct afib_ctrl *ctrl = &as->ctrl[as->ctrl_head % AFIB_CTRL_MAX];
	u32 len = sdp_hdrs_len(mid);
	struct ib_send_wr wr = {
		.wr_cqe		= &ctrl->cqe,
		.opcode		= IB_WR_SEND,
		.send_flags	= IB_SEND_SIGNALED,
		.sg_list	= &ctrl->sge,
		.num_sge	= 1,
	};
	int err;

	lockdep_assert_held(&as->lock);
	if (as->dead || !as->qp || as->ctrl_inflight >= AFIB_CTRL_MAX ||
	    !sdp_can_send(as->tx_credits, mid, 0))
		return -EAGAIN;
	__sdp_bsdh(as, ctrl->hdr, mid, 0, len);
	if (mid == SDP_MID_CHRCVBUF || mid == SDP_MID_CHRCVBUF_ACK)
		sdp_crbh_build(ctrl->hdr + sizeof(struct sdp_bsdh), ext);
	ctrl->sge.length = len;
	ib_dma_sync_single_for_device(as->dev->ibdev, ctrl->sge.addr, len,
				      DMA_TO_DEVICE);
	ctrl->seq = as->tx_posted;
	ctrl->bytes = as->sdp.tx_bytes;
	err = ib_post_send(as->qp, &wr, NULL);
	if (err)
		return err;
	__sdp_sent(as);
	as->tx_credits--;
	as->ctrl_inflight++;
	as->ctrl_head++;
	as->tx_unsig = 0;
	return 0;
}

/*
 * Post the queued buffer @buf, the oldest not posted, with a credit.
 * Caller holds as->lock.  Returns 0 or -ECONNRESET (the connection is
 * broken: the post failed).
 */
static int __sdp_post(struct afib_sock *as, struct afib_buf *buf, bool signal)
{
	u32 len = sizeof(struct sdp_bsdh) + buf->len;
	struct ib_send_wr *wr = &buf->swr;

	lockdep_assert_held(&as->lock);
	__sdp_bsdh(as, buf->addr, SDP_MID_DATA, buf->flags, len);
	memset(wr, 0, sizeof(*wr));
	if (buf->zc) {
		/* The header from the buffer, the payload from the pages. */
		buf->zc->sge[0] = buf->sge;
		buf->zc->sge[0].length = sizeof(struct sdp_bsdh);
		wr->sg_list = buf->zc->sge;
		wr->num_sge = buf->zc->npages + 1;
		len = sizeof(struct sdp_bsdh);
	} else {
		buf->sge.length = len;
		wr->sg_list = &buf->sge;
		wr->num_sge = 1;
	}
	ib_dma_sync_single_for_device(as->dev->ibdev, buf->dma, len,
				      DMA_TO_DEVICE);
	wr->wr_cqe = &buf->cqe;
	wr->opcode = IB_WR_SEND;
	if (signal || as->tx_unsig + 1 >= as->tx_slots / 2)
		wr->send_flags = IB_SEND_SIGNALED;
	if (ib_post_send(as->qp, wr, NULL)) {
		as->peer_gone = true;
		WRITE_ONCE(as->sk.sk_err, ECONNRESET);
		return -ECONNRESET;
	}
	__sdp_sent(as);
	as->tx_credits--;
	as->sdp.tx_bytes += buf->len;
	as->sdp.tx_unposted -= buf->len;
	buf->bytes = as->sdp.tx_bytes;
	as->tx_posted = buf->seq;
	as->tx_unsig = wr->send_flags ? 0 : as->tx_unsig + 1;
	return 0;
}

/*
 * May the last queued buffer, filled in part, wait for more data?  Under
 * TCP_CORK or after MSG_MORE, and while a signaled message is in flight,
 * whose completion sends it: for Nagle, and even with TCP_NODELAY when
 * the buffer holds the ring's last slot.  Posted, it could take no more
 * and the next small write would find the ring full (EAGAIN) where TCP
 * queues it.  Caller holds as->lock.
 */
static bool __sdp_hold(struct afib_sock *as)
{
	struct sdp_conn *c = &as->sdp;

	return c->cork || c->pend_more ||
	       ((!c->nodelay || !__afib_tx_space(as)) &&
		as->tx_tail != as->tx_posted && !as->tx_unsig);
}

/*
 * Post queued buffers, oldest first, while credits last; @force sends a
 * part-filled last buffer that could wait.  The last one posted is
 * signaled when no more can follow now, so a completion always comes to
 * send the rest (and keeps SIOCOUTQ right).  Caller holds as->lock.
 */
static void __sdp_tx_push(struct afib_sock *as, bool force)
{
	struct afib_buf *buf;
	bool last, held;

	lockdep_assert_held(&as->lock);
	as->sdp.tx_held = false;
	while (as->tx_posted != as->tx_head && !as->peer_gone) {
		buf = &as->tx_bufs[as->tx_posted % as->tx_slots];
		last = buf->seq == as->tx_head;
		if (last && as->tx_busy)
			break;	/* a writer is filling it */
		held = last && buf->len < sdp_buf_payload(as, buf) &&
		       !buf->flags && !buf->zc && !force &&
		       __sdp_hold(as);
		if (held) {
			as->sdp.tx_held = true;
			break;
		}
		if (!sdp_can_send(as->tx_credits, SDP_MID_DATA, buf->len))
			break;
		if (__sdp_post(as, buf, last || as->tx_credits <= 2 ||
			       (buf->seq + 1 == as->tx_head && as->tx_busy)))
			break;
	}
}

/**
 * __sdp_push() - send what is queued now, waiting buffer included.
 * @as: the socket; caller holds as->lock.
 *
 * For TCP_NODELAY, uncorking, the cork timer, shutdown() and close().
 */
void __sdp_push(struct afib_sock *as)
{
	as->sdp.pend_more = false;
	__sdp_tx_push(as, true);
}

void sdp_push(struct afib_sock *as)
{
	spin_lock_bh(&as->lock);
	if (!as->dead && as->qp) {
		__sdp_push(as);
		sdp_ctrl_flush(as);
	}
	spin_unlock_bh(&as->lock);
}

/**
 * sdp_ctrl_flush() - send what is due: queued data, DisConn, a credit
 * update.
 * @as: the socket; caller holds as->lock.
 */
void sdp_ctrl_flush(struct afib_sock *as)
{
	struct sdp_conn *c = &as->sdp;

	lockdep_assert_held(&as->lock);
	if (as->dead || !as->qp)
		return;
	__sdp_tx_push(as, as->fin_pending);
	/* DisConn goes after the whole stream. */
	if (as->fin_pending && !as->tx_busy && as->tx_posted == as->tx_head &&
	    !__sdp_send_ctrl(as, SDP_MID_DISCONN, 0)) {
		as->fin_pending = false;
		as->fin_sent = true;
	}
	if (c->ack_due && !as->peer_gone &&
	    !__sdp_send_ctrl(as, SDP_MID_CHRCVBUF_ACK, as->seg_size))
		c->ack_due = false;
	if (c->sendsm_due && !as->peer_gone &&
	    !__sdp_send_ctrl(as, SDP_MID_SENDSM, 0))
		c->sendsm_due = false;
	if (!as->peer_gone &&
	    sdp_credit_update_due(c->rx_posted, c->adv_bufs, c->rx_read))
		__sdp_send_ctrl(as, SDP_MID_DATA, 0);
}

/* afib_xport.send_ctrl: DisConn after the data, or AbortConn now. */
int sdp_send_ctrl(struct afib_sock *as, enum afib_msg_type type)
{
	int err = 0;

	spin_lock_bh(&as->lock);
	if (type == AFIB_MT_FIN) {
		if (!as->fin_sent)
			as->fin_pending = true;
		sdp_ctrl_flush(as);
	} else {
		/* What is queued and a pending DisConn are dropped: a reset. */
		as->fin_pending = false;
		err = __sdp_send_ctrl(as, SDP_MID_ABORT_CONN, 0);
		as->fin_sent = true;
	}
	spin_unlock_bh(&as->lock);
	return err;
}

/*
 * Everything sent completed: an idle connection keeps the memory of the
 * send buffer it uses next, and frees the others.  Caller holds as->lock;
 * no buffer is reserved, and afib_kill(), which unmaps them, has not
 * begun.
 */
static void __sdp_tx_shrink(struct afib_sock *as)
{
	struct afib_buf *next = &as->tx_bufs[as->tx_head % as->tx_slots];
	struct afib_buf *last = &as->tx_bufs[(as->tx_head - 1) % as->tx_slots];
	u32 i;

	if (as->tx_tail != as->tx_head || as->tx_busy || as->dead)
		return;
	if (!next->addr && last->addr) {
		swap(next->addr, last->addr);
		swap(next->dma, last->dma);
		swap(next->size, last->size);
		next->sge = last->sge;
		last->sge.addr = 0;
	}
	for (i = 0; i < as->tx_slots; i++)
		if (&as->tx_bufs[i] != next && as->tx_bufs[i].addr)
			afib_buf_empty(as, &as->tx_bufs[i], DMA_TO_DEVICE);
}

void sdp_tx_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_buf *buf = container_of(wc->wr_cqe, struct afib_buf, cqe);
	struct afib_sock *as = cq->cq_context;
	bool wake;

	spin_lock_bh(&as->lock);
	/* Flushed unsignaled requests may complete too, in order. */
	__afib_tx_complete(as, buf->seq, buf->bytes);
	sdp_ctrl_flush(as);
	__sdp_tx_shrink(as);
	wake = __afib_tx_wake(as);
	spin_unlock_bh(&as->lock);

	if (unlikely(afib_wc_fatal(as, wc)))
		sdp_conn_fail(as, -afib_wc_errno(as, wc));
	if (wake)
		as->sk.sk_write_space(&as->sk);
}

/* Queue the socket's work to run in @delay jiffies, or sooner. */
void sdp_work_at(struct afib_sock *as, unsigned long delay)
{
	struct delayed_work *w = &as->sdp.work;

	if (delayed_work_pending(w) &&
	    time_before_eq(w->timer.expires, jiffies + delay))
		return;
	/* Before it is queued: it may run and put at once. */
	sock_hold(&as->sk);	/* sock_put in sdp_work() */
	if (mod_delayed_work(afib_wq, w, delay))
		sock_put(&as->sk);	/* it was queued and held already */
}

/*
 * The buffer a writer holding tx_lock fills next: the last queued one if
 * it has room and is not posted, else a new one from the ring.  Sets
 * tx_busy.  Returns -EAGAIN when the ring is full (the wakeup is armed)
 * or the error that ends sending.
 */
static int sdp_tx_get(struct afib_sock *as, struct afib_buf **bufp,
		      bool *fresh)
{
	struct sock *sk = &as->sk;
	struct afib_buf *buf;
	int err = 0;

	spin_lock_bh(&as->lock);
	if (__afib_tx_over(as)) {
		/*
		 * Writing to a peer that is gone: as TCP's peer answers
		 * with a reset, the socket is closed now.
		 */
		if (as->peer_gone && sk->sk_state == TCP_ESTABLISHED &&
		    !READ_ONCE(sk->sk_err))
			__sdp_reset(as, EPIPE);
		err = sock_error(sk) ?: -EPIPE;
		goto out;
	}
	buf = &as->tx_bufs[(as->tx_head - 1) % as->tx_slots];
	*fresh = as->tx_posted == as->tx_head || buf->flags || buf->zc ||
		 buf->len == sdp_buf_payload(as, buf);
	if (!*fresh) {
		*bufp = buf;
	} else if (!__afib_tx_space(as)) {
		/* Also for MSG_DONTWAIT: an edge-triggered poller waits. */
		__afib_tx_want(as, 1);
		sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
		err = -EAGAIN;
		goto out;
	} else {
		buf = &as->tx_bufs[as->tx_head % as->tx_slots];
		buf->seq = ++as->tx_head;
		buf->len = 0;
		buf->flags = 0;
		*bufp = buf;
	}
	as->tx_busy = true;
out:
	spin_unlock_bh(&as->lock);
	return err;
}

static bool sdp_tx_ready(struct afib_sock *as)
{
	bool ready;

	spin_lock_bh(&as->lock);
	ready = __afib_tx_over(as) || __afib_tx_space(as);
	if (!ready)
		__afib_tx_want(as, 1);
	spin_unlock_bh(&as->lock);
	return ready;
}

/*
 * The writer added @n bytes to @buf (0 after a fault; a fresh buffer is
 * then given back).  @last: the call has no more data; @flags: its flags.
 */
static void sdp_tx_put(struct afib_sock *as, struct afib_buf *buf, bool fresh,
		       u32 n, bool last, int flags)
{
	struct sdp_conn *c = &as->sdp;
	bool arm = false, wake;

	spin_lock_bh(&as->lock);
	as->tx_busy = false;
	buf->len += n;
	c->tx_unposted += n;
	if (fresh && !buf->len)
		as->tx_head--;
	if (last && n) {
		if (flags & MSG_OOB)
			buf->flags = SDP_OOB_PRES | SDP_OOB_PEND;
		if ((flags & MSG_MORE) && !c->pend_more && !c->cork) {
			c->pend_until = jiffies + SDP_CORK_TIMEOUT;
			arm = true;
		} else if (c->cork && !c->pend_until) {
			c->pend_until = jiffies + SDP_CORK_TIMEOUT;
			arm = true;
		}
		c->pend_more = flags & MSG_MORE;
	}
	if (!as->dead)
		sdp_ctrl_flush(as);	/* the data, or a DisConn waiting */
	wake = __afib_tx_wake(as);
	spin_unlock_bh(&as->lock);
	if (arm)
		sdp_work_at(as, SDP_CORK_TIMEOUT);
	if (wake)
		as->sk.sk_write_space(&as->sk);
}

/* The size a send buffer needs for the peer's buffers. */
static u32 sdp_tx_size(struct afib_sock *as)
{
	u32 need = sdp_max_payload(as) + sizeof(struct sdp_bsdh);

	return need < PAGE_SIZE ? roundup_pow_of_two(need) :
				  PAGE_SIZE << get_order(need);
}

/*
 * Give a new send buffer its page when it is first used, or a bigger one
 * once the peer's buffers grew (ChRcvBufAck).
 */
static int sdp_tx_fill(struct afib_sock *as, struct afib_buf *buf)
{
	u32 size = sdp_tx_size(as);
	int err = -EPIPE;

	mutex_lock(&as->qp_lock);
	if (as->qp) {
		afib_buf_empty(as, buf, DMA_TO_DEVICE);
		err = afib_buf_fill(as, buf, size, DMA_TO_DEVICE);
	}
	mutex_unlock(&as->qp_lock);
	return err;
}

/*
 * Writes larger than the peer's buffers: ask it for bigger ones, once
 * (ChRcvBuf; the peer's ChRcvBufAck says what it did).
 */
static void sdp_ask_bigger(struct afib_sock *as, size_t size)
{
	struct sdp_conn *c = &as->sdp;

	if (READ_ONCE(c->chrcvbuf_out) || c->peer_rcvsz >= SDP_BIG_SIZE ||
	    size < 2 * sdp_max_payload(as))
		return;
	spin_lock_bh(&as->lock);
	if (!c->chrcvbuf_out && !as->peer_gone &&
	    !__sdp_send_ctrl(as, SDP_MID_CHRCVBUF, SDP_BIG_SIZE))
		c->chrcvbuf_out = true;
	spin_unlock_bh(&as->lock);
}

/*
 * Zero-copy sends.  While at least zcopy_thresh bytes of a write are left,
 * its next message is not copied into a send buffer: it is posted with
 * the BSDH from its buffer and the payload straight from the user's pages,
 * pinned and mapped meanwhile.  The rest is copied and keeps the
 * connection busy while the writer waits (the whole write zero-copy is
 * slower: the pipeline drains at every write).  That is
 * done only while nothing else is queued and a credit lets the message
 * go at once, so its completion (an RC ack, bounded by the retry
 * timeouts) comes soon: sendmsg() waits for it before it returns and
 * the user may change the memory.  Otherwise the write is copied.  The
 * peer's receiver copies once, so the data is copied once in all, not
 * twice.
 */
static bool sdp_zc_wanted(struct afib_sock *as, struct msghdr *msg,
			  size_t left, int flags)
{
	u32 thresh = READ_ONCE(as->sdp.zcopy_thresh);

	return thresh && left >= thresh && as->max_send_sge > 2 &&
	       user_backed_iter(&msg->msg_iter) &&
	       !(flags & (MSG_OOB | MSG_MORE | MSG_DONTWAIT)) &&
	       !READ_ONCE(as->sdp.cork);
}

/* Pin and map the next @len bytes of @iter into @zc.  Holds qp_lock. */
static ssize_t sdp_zc_map(struct afib_sock *as, struct afib_zc *zc,
			  struct iov_iter *iter, size_t len)
{
	struct ib_device *ibdev = as->dev->ibdev;
	size_t start, left;
	ssize_t bytes;
	u32 i, n;

	bytes = iov_iter_get_pages2(iter, zc->pages, len,
				    min(as->max_send_sge - 1, AFIB_ZC_PAGES),
				    &start);
	if (bytes <= 0)
		return bytes ?: -EFAULT;
	zc->npages = DIV_ROUND_UP(start + bytes, PAGE_SIZE);
	left = bytes;
	for (i = 0; i < zc->npages; i++) {
		n = min_t(size_t, left, PAGE_SIZE - start);
		zc->sge[i + 1].addr = ib_dma_map_page(ibdev, zc->pages[i],
						      start, n, DMA_TO_DEVICE);
		if (ib_dma_mapping_error(ibdev, zc->sge[i + 1].addr)) {
			zc->npages = i;
			zc->mapped = true;
			afib_zc_unmap(ibdev, zc);
			zc->npages = DIV_ROUND_UP(start + bytes, PAGE_SIZE);
			iov_iter_revert(iter, bytes);
			return -ENOMEM;
		}
		zc->sge[i + 1].length = n;
		zc->sge[i + 1].lkey = as->pd->local_dma_lkey;
		left -= n;
		start = 0;
	}
	zc->mapped = true;
	return bytes;
}

/* Unpin the pages of a completed zero-copy send.  Holds qp_lock. */
static void sdp_zc_put(struct afib_sock *as, struct afib_buf *buf)
{
	struct afib_zc *zc = buf->zc;
	u32 j;

	/* afib_kill() unmaps them itself, under qp_lock. */
	if (zc->mapped)
		afib_zc_unmap(as->dev->ibdev, zc);
	for (j = 0; j < zc->npages; j++)
		put_page(zc->pages[j]);
	kfree(zc);
	buf->zc = NULL;
}

/*
 * A send buffer the writer is about to use again may still hold the
 * pages of a zero-copy send of this call: it completed (the ring let
 * the buffer go), unpin them now.
 */
static void sdp_zc_reuse(struct afib_sock *as, struct afib_buf *buf)
{
	if (!buf->zc)
		return;
	mutex_lock(&as->qp_lock);
	sdp_zc_put(as, buf);
	mutex_unlock(&as->qp_lock);
}

/* Unpin what the zero-copy sends of this writer used; all completed. */
static void sdp_zc_release(struct afib_sock *as)
{
	u32 i;

	mutex_lock(&as->qp_lock);
	for (i = 0; as->tx_bufs && i < as->tx_slots; i++)
		if (as->tx_bufs[i].zc)
			sdp_zc_put(as, &as->tx_bufs[i]);
	mutex_unlock(&as->qp_lock);
}

/*
 * Send one message of at most @left bytes from the user's pages.
 * Returns its length, 0 when it cannot go at once (the caller copies
 * instead), or a negative errno.
 */
static ssize_t sdp_send_zc(struct afib_sock *as, struct msghdr *msg,
			   size_t left, u32 *last_seq)
{
	struct afib_buf *buf = NULL;
	ssize_t bytes = -ENOMEM;
	struct afib_zc *zc;

	zc = kzalloc(sizeof(*zc), GFP_KERNEL);
	if (!zc)
		return 0;
	spin_lock_bh(&as->lock);
	if (!__afib_tx_over(as) && as->tx_posted == as->tx_head &&
	    __afib_tx_space(as) &&
	    sdp_can_send(as->tx_credits, SDP_MID_DATA, 1)) {
		buf = &as->tx_bufs[as->tx_head % as->tx_slots];
		buf->seq = ++as->tx_head;
		buf->len = 0;
		buf->flags = 0;
		as->tx_busy = true;
	}
	spin_unlock_bh(&as->lock);
	if (!buf) {
		kfree(zc);
		return 0;
	}
	sdp_zc_reuse(as, buf);
	mutex_lock(&as->qp_lock);
	if (as->qp && !buf->addr)
		afib_buf_fill(as, buf, sdp_tx_size(as), DMA_TO_DEVICE);
	if (as->qp && buf->addr)
		bytes = sdp_zc_map(as, zc, &msg->msg_iter,
				   min_t(size_t, left, sdp_max_payload(as)));
	if (bytes > 0)
		buf->zc = zc;
	mutex_unlock(&as->qp_lock);
	if (bytes <= 0)
		kfree(zc);
	if (bytes > 0)
		*last_seq = buf->seq;
	sdp_tx_put(as, buf, true, max_t(ssize_t, bytes, 0), true, 0);
	return bytes == -ENOMEM ? 0 : bytes;
}

/*
 * Have the sends up to ring position @seq completed?  If not, the
 * completion that frees the ring up to there wakes the caller.
 */
static bool sdp_zc_done(struct afib_sock *as, u32 seq)
{
	bool done;

	spin_lock_bh(&as->lock);
	done = as->dead || (s32)(as->tx_tail - seq) >= 0;
	if (!done)
		__afib_tx_want(as, as->tx_slots - (as->tx_head - seq));
	spin_unlock_bh(&as->lock);
	return done;
}

/*
 * Wait, whatever the signals, until the zero-copy sends up to @seq
 * completed.  They were posted when they were queued, so nothing but the
 * adapters' own acknowledgments (or the connection's end) is waited for.
 */
static void sdp_zc_wait(struct afib_sock *as, u32 seq)
{
	long timeo;

	while (!sdp_zc_done(as, seq)) {
		timeo = HZ / 10;
		if (afib_wait_cq(as, &timeo, sdp_zc_done(as, seq)) &&
		    signal_pending(current))
			usleep_range(100, 200);
	}
	sdp_zc_release(as);
}

/* Wait for a connection in progress, as TCP's sendmsg() does. */
static int sdp_wait_connect(struct afib_sock *as, long *timeo)
{
	int state = READ_ONCE(as->sk.sk_state);

	if (state == TCP_ESTABLISHED)
		return 0;
	if (state != TCP_SYN_SENT)
		return sock_error(&as->sk) ?: -EPIPE;
	afib_wait(as, timeo, READ_ONCE(as->sk.sk_state) != TCP_SYN_SENT);
	if (READ_ONCE(as->sk.sk_state) == TCP_ESTABLISHED)
		return 0;
	if (READ_ONCE(as->sk.sk_state) == TCP_SYN_SENT)
		return *timeo ? sock_intr_errno(*timeo) : -EAGAIN;
	return sock_error(&as->sk) ?: -EPIPE;
}

int sdp_sendmsg(struct socket *sock, struct msghdr *msg, size_t size)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	int flags = msg->msg_flags;
	struct afib_buf *buf;
	bool fresh, zc = false;
	size_t copied = 0;
	u32 zc_seq;
	ssize_t sent;
	long timeo;
	u32 n;
	int err;

	timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);
	err = sdp_wait_connect(as, &timeo);
	if (err)
		goto out;
	if (mutex_lock_interruptible(&as->tx_lock)) {
		err = -ERESTARTSYS;
		goto out;
	}
	sdp_ask_bigger(as, size);
	while (copied < size) {
		if (sdp_zc_wanted(as, msg, size - copied, flags)) {
			sent = sdp_send_zc(as, msg, size - copied, &zc_seq);
			if (sent < 0) {
				err = sent;
				break;
			}
			zc |= sent > 0;
			copied += sent;
			if (sent)
				continue;
		}
		err = sdp_tx_get(as, &buf, &fresh);
		if (err == -EAGAIN && timeo) {
			err = afib_wait_cq(as, &timeo, sdp_tx_ready(as));
			if (!err)
				continue;
		}
		if (err)
			break;
		if (fresh)
			sdp_zc_reuse(as, buf);
		if (fresh && (!buf->addr || buf->size < sdp_tx_size(as))) {
			err = sdp_tx_fill(as, buf);
			if (err) {
				sdp_tx_put(as, buf, fresh, 0, true, flags);
				break;
			}
		}
		n = min_t(size_t, size - copied,
			  sdp_buf_payload(as, buf) - buf->len);
		/* No spinlock: the page stays ours even if afib_kill() runs. */
		if (copy_from_iter(buf->addr +
				   sizeof(struct sdp_bsdh) + buf->len, n,
				   &msg->msg_iter) != n) {
			sdp_tx_put(as, buf, fresh, 0, true, flags);
			err = -EFAULT;
			break;
		}
		copied += n;
		sdp_tx_put(as, buf, fresh, n, copied == size, flags);
	}
	if (zc)
		sdp_zc_wait(as, zc_seq);
	mutex_unlock(&as->tx_lock);
out:
	if (copied)
		return copied;
	if (err == -EPIPE && !(flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	return err;
}

/*
 * Keepalive: after TCP_KEEPIDLE seconds without a message from the peer,
 * a credit update goes every TCP_KEEPINTVL seconds.  Its completion says
 * the peer's adapter took it; an RC send that gets no answer fails after
 * its retries with ETIMEDOUT (afib_wc_errno()), and after TCP_KEEPCNT
 * probes that have not completed the connection is given up as TCP gives
 * it up.  Caller holds as->lock; returns when to look again.
 */
static unsigned long __sdp_keepalive(struct afib_sock *as, bool *dead)
{
	unsigned long idle = sdp_keep_value(as, TCP_KEEPIDLE) * HZ;
	unsigned long intvl = sdp_keep_value(as, TCP_KEEPINTVL) * HZ;
	struct sdp_conn *c = &as->sdp;
	unsigned long quiet = jiffies - c->rx_stamp;

	if (c->probes) {
		if (!as->ctrl_inflight) {
			/* The last probe completed: the peer is there. */
			c->probes = 0;
			c->rx_stamp = jiffies;
			return idle;
		}
		if (c->probes >= sdp_keep_value(as, TCP_KEEPCNT)) {
			*dead = true;
			return 0;
		}
		/* One probe in flight is enough: the adapter retries it. */
		c->probes++;
		return intvl;
	}
	if (quiet < idle)
		return idle - quiet;
	if (!__sdp_send_ctrl(as, SDP_MID_DATA, 0))
		c->probes = 1;
	return intvl;
}

void sdp_work(struct work_struct *work)
{
	struct afib_sock *as = container_of(to_delayed_work(work),
					    struct afib_sock, sdp.work);
	struct sock *sk = &as->sk;
	unsigned long next = 0, end = READ_ONCE(as->sdp.conn_end);
	bool dead = false;

	if (READ_ONCE(as->sdp.rx_grow))
		sdp_rx_grow(as);
	if (!list_empty_careful(&as->sdp.rx_park))
		sdp_rx_refill(as);
	/* connect() gave up waiting, as TCP's SYN retries would. */
	if (end && READ_ONCE(sk->sk_state) == TCP_SYN_SENT) {
		if (time_after_eq(jiffies, end))
			afib_connect_failed(as, ETIMEDOUT);
		else
			next = end - jiffies;
	}
	spin_lock_bh(&as->lock);
	if (!as->dead && as->qp) {
		unsigned long until = as->sdp.pend_until;

		if (as->sdp.tx_held && (as->sdp.cork || as->sdp.pend_more)) {
			if (time_after_eq(jiffies, until))
				__sdp_push(as);
			else
				next = min_not_zero(next, until - jiffies);
		}
		if (!as->sdp.tx_held)
			as->sdp.pend_until = 0;
		sdp_ctrl_flush(as);
		if (sock_flag(sk, SOCK_KEEPOPEN) && !as->peer_gone &&
		    READ_ONCE(sk->sk_state) == TCP_ESTABLISHED) {
			unsigned long ka = __sdp_keepalive(as, &dead);

			next = next ? min(next, ka) : ka;
		}
	}
	if (dead)
		__sdp_reset(as, ETIMEDOUT);
	spin_unlock_bh(&as->lock);
	if (dead) {
		sk_error_report(sk);
		sk->sk_state_change(sk);
	}
	if (next)
		sdp_work_at(as, next);
	sock_put(sk);	/* from sdp_work_at() */
}

/**
 * sdp_keepalive() - SO_KEEPALIVE or a TCP_KEEP* option changed.
 * @sk: the socket.
 * @on: keepalive is on.
 *
 * struct proto.keepalive, called before SOCK_KEEPOPEN changes: the work
 * runs after TCP_KEEPIDLE and reads the flag then.
 */
void sdp_keepalive(struct sock *sk, int on)
{
	struct afib_sock *as = afib_sk(sk);
	unsigned long idle = sdp_keep_value(as, TCP_KEEPIDLE) * HZ;

	if (!on || READ_ONCE(as->dead))
		return;
	spin_lock_bh(&as->lock);
	as->sdp.probes = 0;
	spin_unlock_bh(&as->lock);
	sdp_work_at(as, idle);
}
