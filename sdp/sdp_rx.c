// SPDX-License-Identifier: GPL-2.0
/*
 * SDP receiving.
 *
 * A completed receive buffer holds one message.  Its BSDH is checked
 * (sdp_bsdh_parse(), then mseq and mseq_ack against the connection) before
 * anything in it is believed; a peer that breaks the protocol is sent an
 * AbortConn and the user sees ECONNRESET.  Its bufs and mseq_ack give our
 * new send credits.  Data buffers go on afib_sock.rx_queue with their
 * payload (afib_buf.off, .len); every other message is acted on and its
 * buffer posted again at once.
 *
 * recvmsg() copies from the head of rx_queue without the spinlock: only
 * the reader (rx_lock) takes buffers off the queue, and a buffer's page
 * outlives afib_kill().  A buffer read to its end is posted again, and a
 * credit update goes when the peer's view of our buffers has fallen far
 * enough (sdp_credit_update_due()).
 *
 * Urgent data follows TCP: the last byte of a message flagged OOB_PRES is
 * the urgent byte, at stream offset sdp_conn.urg_pos.  Unless SO_OOBINLINE
 * is set it is left out of the stream and read by recv(MSG_OOB); a read
 * never goes past the mark once it has copied something, so SIOCATMARK
 * tells where it is.
 */
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include "sdp.h"

/* Post the buffers on @bufs.  Caller holds as->lock, socket not dead. */
static void __sdp_post_recvs(struct afib_sock *as, struct list_head *bufs,
			     u32 n)
{
	struct afib_buf *buf;

	if (afib_post_recvs(as, bufs)) {
		as->peer_gone = true;
		WRITE_ONCE(as->sk.sk_err, ECONNRESET);
		return;
	}
	list_for_each_entry(buf, bufs, list)
		buf->posted = true;
	as->sdp.rx_posted += n;
}

/*
 * Post @buf again, or, when it has not the size the peer is told about
 * or asked for (ChRcvBuf), park it for sdp_rx_refill().  Caller holds
 * as->lock, socket not dead.
 */
void __sdp_repost(struct afib_sock *as, struct afib_buf *buf)
{
	struct sdp_conn *c = &as->sdp;
	LIST_HEAD(one);

	if (buf->size != (c->rcv_want ?: as->seg_size)) {
		list_add_tail(&buf->list, &c->rx_park);
		sdp_work_at(as, 0);
		return;
	}
	list_add(&buf->list, &one);
	__sdp_post_recvs(as, &one, 1);
	list_del_init(&buf->list);
}

/* Is a buffer of the old size still posted?  Caller holds as->lock. */
static bool __sdp_rx_old_posted(struct afib_sock *as)
{
	u32 i;

	for (i = 0; i < as->rx_filled; i++)
		if (as->rx_bufs[i].posted &&
		    as->rx_bufs[i].size != as->sdp.rcv_want)
			return true;
	return false;
}

/**
 * __sdp_rx_resized() - acknowledge the peer's ChRcvBuf once every posted
 * buffer has the size it asked for.
 * @as: the socket; caller holds as->lock.
 *
 * Only then may the peer send messages of the new size: the receive
 * queue hands out buffers in order, and every one it still holds must
 * fit them.
 */
void __sdp_rx_resized(struct afib_sock *as)
{
	struct sdp_conn *c = &as->sdp;

	if (!c->rcv_want || !list_empty(&c->rx_park) ||
	    __sdp_rx_old_posted(as))
		return;
	as->seg_size = c->rcv_want;
	c->rcv_want = 0;
	c->ack_due = true;
}

/*
 * Check the sequence numbers of a message the parser accepted and take
 * its credits.  Caller holds as->lock.
 */
static int __sdp_rx_seq(struct afib_sock *as, const struct sdp_bsdh_host *h)
{
	struct sdp_conn *c = &as->sdp;

	if (!sdp_mseq_in_order(h->mseq, c->rx_mseq) ||
	    !sdp_mseq_ack_ok(h->mseq_ack, c->rx_ack, c->tx_mseq))
		return -EPROTO;
	c->rx_mseq = h->mseq;
	c->rx_ack = h->mseq_ack;
	c->rx_stamp = jiffies;
	as->tx_credits = sdp_tx_credits(h->bufs, h->mseq_ack, c->tx_mseq);
	return 0;
}

/*
 * A small message that fits after the last unread one is copied there
 * and its buffer posted again at once, as TCP collapses its receive
 * queue: otherwise every small write the reader has not taken yet would
 * hold a whole buffer, and the peer's credits, while TCP's window would
 * have room.  The reader may be copying from the last buffer meanwhile,
 * but only below its end, where nothing is written.  Caller holds
 * as->lock.
 */
static bool __sdp_rx_merge(struct afib_sock *as, struct afib_buf *buf)
{
	struct afib_buf *tail;

	if (buf->len > buf->size / 4 || list_empty(&as->rx_queue))
		return false;
	tail = list_last_entry(&as->rx_queue, struct afib_buf, list);
	/* Not into an immediate's mark: the data comes after it. */
	if (tail->has_imm || tail->off + tail->len + buf->len > tail->size)
		return false;
	memcpy(tail->addr + tail->off + tail->len,
	       buf->addr + buf->off, buf->len);
	tail->len += buf->len;
	as->sdp.rx_read = true;	/* a buffer freed: tell a starved peer */
	return true;
}

/*
 * Queue the @n payload bytes at @off in @buf as stream data, or merge
 * them into the last unread buffer.  Returns true if @buf is kept.
 * Caller holds as->lock.
 */
static bool __sdp_rx_data(struct afib_sock *as, struct afib_buf *buf, u32 off,
			  u32 n)
{
	struct sdp_conn *c = &as->sdp;

	buf->off = off;
	buf->len = n;
	as->rx_bytes += n;
	c->rx_end += n;
	if (__sdp_rx_merge(as, buf))
		return false;
	list_add_tail(&buf->list, &as->rx_queue);
	/*
	 * A sender out of credits: the window is too small.  As TCP's
	 * grows up to SO_RCVBUF, more buffers are posted, reader or not
	 * (sdp_rx_grow(), from the socket's work).
	 */
	if (c->adv_bufs <= SDP_CREDITS_KEPT && !c->rx_grow &&
	    (as->rx_filled < as->rx_slots + 1 || !list_empty(&c->rx_spare))) {
		c->rx_grow = true;
		sdp_work_at(as, 0);
	}
	return true;
}

/*
 * Act on a message whose header is sound.  Returns 0 with the buffer
 * kept (queued data) or reposted, 1 when the buffer is done with (the
 * stream is over), or -EPROTO.  Caller holds as->lock.
 */
static int __sdp_rx_msg(struct afib_sock *as, struct afib_buf *buf,
			const struct sdp_bsdh_host *h, bool *urg, bool *wake)
{
	const u8 *msg = buf->addr;
	struct sdp_conn *c = &as->sdp;
	u32 n = sdp_payload_len(h), size;
	struct sdp_srcah_host sa;

	/*
	 * After DisConn no data may follow, nor a second DisConn: the
	 * peer only receives now, and may still resize its buffers.
	 */
	if (as->fin_rcvd && (h->mid == SDP_MID_DISCONN ||
			     h->mid == SDP_MID_SRCAVAIL ||
			     (sdp_mid_has_payload(h->mid) && n)))
		return -EPROTO;
	*wake = true;
	switch (h->mid) {
	case SDP_MID_DATA:
		if (!n) {
			*wake = false;	/* a credit update */
			break;
		}
		/* Data for a closed socket resets the stream, as in TCP. */
		if (sock_flag(&as->sk, SOCK_DEAD))
			return -EPROTO;
		if (h->flags & SDP_OOB_PRES) {
			c->urg_pos = c->rx_end + n - 1;
			c->urg_byte = msg[sdp_hdrs_len(h->mid) + n - 1];
			c->urg = SDP_URG_VALID;
			*urg = true;
		}
		if (__sdp_rx_data(as, buf, sdp_hdrs_len(h->mid), n))
			return 0;
		break;
	case SDP_MID_SRCAVAIL:
		/*
		 * The peer offers a buffer to RDMA-read.  This side's
		 * zero-copy is the sender's (sdp_tx.c): it takes the bytes
		 * sent inline as data and refuses the rest with SendSM,
		 * after which the source sends it as Data, as an OFED sink
		 * does when it does not read.
		 */
		if (sdp_srcah_parse(sdp_ext_hdr(msg), n, &sa))
			return -EPROTO;
		if (sock_flag(&as->sk, SOCK_DEAD))
			return -EPROTO;
		c->sendsm_due = true;
		if (n && __sdp_rx_data(as, buf, sdp_hdrs_len(h->mid), n))
			return 0;
		break;
	case SDP_MID_SRCAVAIL_CANCEL:
		/* Nothing was read of it: the rest comes as Data. */
		break;
	case SDP_MID_DISCONN:
		as->fin_rcvd = true;
		WRITE_ONCE(as->sk.sk_shutdown,
			   as->sk.sk_shutdown | RCV_SHUTDOWN);
		break;
	case SDP_MID_ABORT_CONN:
		c->abort_rcvd = true;
		return 1;
	case SDP_MID_CHRCVBUF:
		if (sdp_crbh_parse(sdp_ext_hdr(msg), &size))
			return -EPROTO;
		/*
		 * Buffers only grow: to whole pages, a power of two of them,
		 * SDP_MAX_SIZE at most.  A size we have already is
		 * acknowledged at once, and so is a smaller one (the
		 * acknowledgment tells the size we keep).
		 */
		size = min(size, SDP_MAX_SIZE);
		if (size > as->seg_size)
			size = PAGE_SIZE << get_order(size);
		c->rcv_want = size > as->seg_size ? size : 0;
		if (!c->rcv_want)
			c->ack_due = true;	/* nothing to change */
		break;
	case SDP_MID_CHRCVBUF_ACK:
		if (sdp_crbh_parse(sdp_ext_hdr(msg), &size))
			return -EPROTO;
		c->peer_rcvsz = size;
		c->chrcvbuf_out = false;
		break;
	case SDP_MID_SENDSM:
		/* We never advertise buffers (SrcAvail): nothing to cancel. */
		break;
	default:
		/*
		 * SinkAvail offers a buffer to RDMA-write into, which this
		 * side does not do: reset, as OFED resets a SinkAvail.  An
		 * RdmaRdCompl answers a SrcAvail this side never sent.
		 */
		return -EPROTO;
	}
	__sdp_repost(as, buf);
	return 0;
}

/*
 * The stream is reset, as tcp_reset(): the error, then the closed state
 * and both directions shut, so a reader that sees the shutdown sees the
 * error (sdp_recvmsg()).  Caller holds as->lock and reports the error.
 */
int __sdp_reset(struct afib_sock *as, int err)
{
	struct sock *sk = &as->sk;

	as->peer_gone = true;
	WRITE_ONCE(sk->sk_err, err);
	/* Paired with the smp_rmb() in sdp_recvmsg(). */
	smp_wmb();
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	if (sk->sk_state == TCP_ESTABLISHED)
		sk->sk_state = TCP_CLOSE;
	return err;
}

/**
 * sdp_conn_fail() - a work request failed: the QP is in the error state
 * and the stream is over, reset as TCP's is after its retransmissions
 * failed (tcp_write_err()) or a reset came: the error once, then EOF and
 * EPIPE.
 * @as: the socket; no locks held.
 * @err: the positive errno to report.
 */
void sdp_conn_fail(struct afib_sock *as, int err)
{
	struct sock *sk = &as->sk;
	bool reset;

	spin_lock_bh(&as->lock);
	reset = !as->peer_gone && !as->dead;
	if (reset)
		__sdp_reset(as, err);
	spin_unlock_bh(&as->lock);
	if (!reset)
		return;
	sk_error_report(sk);
	sk->sk_state_change(sk);
	sk->sk_data_ready(sk);
	sk->sk_write_space(sk);
}

void sdp_rx_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_buf *buf = container_of(wc->wr_cqe, struct afib_buf, cqe);
	struct afib_sock *as = cq->cq_context;
	bool urg = false, wake_rx = false, wake_tx = false;
	struct sock *sk = &as->sk;
	struct sdp_bsdh_host h;
	int err = 0, reset = 0;
	bool imm;

	if (unlikely(wc->status != IB_WC_SUCCESS)) {
		if (afib_wc_fatal(as, wc))
			sdp_conn_fail(as, ECONNRESET);
		return;
	}
	/* An RDMA write with immediate: no message in the buffer. */
	imm = wc->opcode == IB_WC_RECV_RDMA_WITH_IMM;
	buf->has_imm = false;
	if (!imm) {
		ib_dma_sync_single_for_cpu(as->dev->ibdev, buf->dma,
					   min(wc->byte_len, buf->size),
					   DMA_FROM_DEVICE);
		err = sdp_bsdh_parse(buf->addr, wc->byte_len, buf->size, &h);
	}

	spin_lock_bh(&as->lock);
	buf->posted = false;
	as->sdp.rx_posted--;
	if (as->sdp.adv_bufs)
		as->sdp.adv_bufs--;
	if (as->dead)
		goto unlock;
	if (imm) {
		err = __sdp_rx_imm(as, buf, be32_to_cpu(wc->ex.imm_data));
		wake_rx = true;
	} else {
		if (!err)
			err = __sdp_rx_seq(as, &h);
		if (!err)
			err = __sdp_rx_msg(as, buf, &h, &urg, &wake_rx);
	}
	if (err < 0) {
		/* Never trust a peer that breaks the protocol: reset it. */
		as->fin_pending = false;
		as->fin_sent = true;
		__sdp_send_ctrl(as, SDP_MID_ABORT_CONN, 0);
		reset = __sdp_reset(as, ECONNRESET);
	} else if (err) {
		/* AbortConn: as TCP, EPIPE once we had the peer's FIN. */
		reset = __sdp_reset(as, as->fin_rcvd ? EPIPE : ECONNRESET);
	} else {
		sdp_ctrl_flush(as);
		wake_tx = __afib_tx_wake(as);
	}
unlock:
	spin_unlock_bh(&as->lock);

	if (reset) {
		sk_error_report(sk);
		sk->sk_state_change(sk);
	}
	if (urg)
		sk_send_sigurg(sk);
	if (wake_rx || reset)
		sk->sk_data_ready(sk);
	if (wake_tx)
		sk->sk_write_space(sk);
}

/* Bytes received and not read, the urgent byte included. */
u32 sdp_inq(struct afib_sock *as)
{
	return READ_ONCE(as->sdp.rx_end) - READ_ONCE(as->sdp.rx_seq);
}

/*
 * SIOCINQ, as tcp_inq(): with an urgent byte ahead that is not inline,
 * the bytes before it.  Caller holds as->lock.
 */
u32 __sdp_siocinq(struct afib_sock *as)
{
	struct sdp_conn *c = &as->sdp;

	if (c->urg != SDP_URG_NONE && !sock_flag(&as->sk, SOCK_URGINLINE) &&
	    (s32)(c->urg_pos - c->rx_seq) >= 0)
		return c->urg_pos - c->rx_seq;
	return c->rx_end - c->rx_seq;
}

/* afib_xport.readable: SO_RCVLOWAT bytes are there, as tcp_poll(). */
bool sdp_readable(struct afib_sock *as)
{
	struct sock *sk = &as->sk;
	u32 avail = sdp_inq(as);
	int target = sock_rcvlowat(sk, 0, INT_MAX);

	if (READ_ONCE(as->sdp.urg) != SDP_URG_NONE &&
	    READ_ONCE(as->sdp.urg_pos) == READ_ONCE(as->sdp.rx_seq) &&
	    !sock_flag(sk, SOCK_URGINLINE))
		target++;
	return (avail && avail >= target) || READ_ONCE(as->sdp.rx_imms);
}

bool sdp_unread(struct afib_sock *as)
{
	return READ_ONCE(as->rx_bytes) || READ_ONCE(as->sdp.rx_imms);
}

/* recv(MSG_OOB), as tcp_recv_urg(). */
static int sdp_recv_urg(struct afib_sock *as, struct msghdr *msg, size_t len,
			int flags)
{
	struct sock *sk = &as->sk;
	int err = -EINVAL;
	u8 byte;

	spin_lock_bh(&as->lock);
	if (!sock_flag(sk, SOCK_URGINLINE) && as->sdp.urg == SDP_URG_VALID) {
		byte = as->sdp.urg_byte;
		if (!(flags & MSG_PEEK))
			as->sdp.urg = SDP_URG_READ;
		err = 0;
	} else if (READ_ONCE(sk->sk_state) == TCP_CLOSE && !as->peer_gone) {
		err = -ENOTCONN;
	}
	spin_unlock_bh(&as->lock);
	if (err)
		return err;
	msg->msg_flags |= MSG_OOB;
	if (!len) {
		msg->msg_flags |= MSG_TRUNC;
		return 0;
	}
	if (copy_to_iter(&byte, 1, &msg->msg_iter) != 1)
		return -EFAULT;
	return 1;
}

/* Is there more than @have bytes, or is the stream over? */
static bool sdp_rx_ready(struct afib_sock *as, u32 have)
{
	struct sock *sk = &as->sk;

	return sdp_inq(as) > have || READ_ONCE(as->sdp.rx_imms) ||
	       READ_ONCE(as->fin_rcvd) ||
	       READ_ONCE(as->sdp.rx_over) || READ_ONCE(as->dead) ||
	       READ_ONCE(sk->sk_err) ||
	       (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN);
}

/*
 * Find the bytes at stream offset @pos: their buffer, where they start in
 * its page and how many follow, stopping before the urgent byte.  If @pos
 * is the urgent byte and it is not inline, *@skip says so instead.  The
 * mark of an immediate at @pos comes before the bytes there: its buffer
 * (has_imm) is returned with *@avail 0.  Caller holds as->lock.
 */
static struct afib_buf *__sdp_rx_at(struct afib_sock *as, u32 pos, u32 *off,
				    u32 *avail, bool *skip)
{
	struct sdp_conn *c = &as->sdp;
	u32 at = c->rx_seq, uoff;
	struct afib_buf *buf;

	*skip = false;
	list_for_each_entry(buf, &as->rx_queue, list) {
		if (buf->has_imm) {
			if (pos != at)
				continue;
			*avail = 0;
			return buf;
		}
		if (pos - at < buf->len) {
			*off = buf->off + (pos - at);
			*avail = buf->len - (pos - at);
			if (c->urg == SDP_URG_NONE)
				return buf;
			uoff = c->urg_pos - pos;
			if (uoff >= *avail)
				return buf;
			if (uoff) {
				*avail = uoff;
			} else if (!sock_flag(&as->sk, SOCK_URGINLINE)) {
				*skip = true;
				*avail = 1;
			}
			return buf;
		}
		at += buf->len;
	}
	return NULL;
}

/* The reader consumed @n bytes of @buf, the first queued buffer. */
static void __sdp_rx_consume(struct afib_sock *as, struct afib_buf *buf, u32 n)
{
	struct sdp_conn *c = &as->sdp;

	buf->off += n;
	buf->len -= n;
	as->rx_bytes -= n;
	c->rx_seq += n;
	if (c->urg != SDP_URG_NONE && (s32)(c->rx_seq - c->urg_pos) > 0)
		c->urg = SDP_URG_NONE;
	if (!buf->len) {
		list_del_init(&buf->list);
		__sdp_repost(as, buf);
		c->rx_read = true;
		sdp_ctrl_flush(as);
	}
}

/* Receive buffers that have pages, and their bytes.  Holds qp_lock. */
static u32 sdp_rx_pages(struct afib_sock *as, u32 *bytes)
{
	u32 i, n = 0;

	*bytes = 0;
	for (i = 0; i < as->rx_filled; i++) {
		if (as->rx_bufs[i].addr) {
			*bytes += as->rx_bufs[i].size;
			n++;
		}
	}
	return n;
}

/*
 * Bytes of receive buffers a streaming peer may have, SDP_RX_INIT of @size
 * at least: SO_RCVBUF when the user set it, else twice the default, as
 * TCP's receive autotuning grows its window past where it starts.  With
 * the default rmem_default that is 13 buffers of SDP_BIG_SIZE (what the
 * arrays hold, sdp_qp_size()) instead of 6: half as many credit updates,
 * a deeper pipeline, measured 10-15% more bandwidth on rxe.  An idle
 * connection posts SDP_RX_INIT small buffers whatever the budget.
 */
static u32 sdp_rx_budget(struct afib_sock *as, u32 size)
{
	u32 rcv = READ_ONCE(as->sk.sk_rcvbuf);

	if (!(as->sk.sk_userlocks & SOCK_RCVBUF_LOCK))
		rcv = min_t(u32, rcv, INT_MAX / 2) * 2;
	return max_t(u32, rcv, SDP_RX_INIT * size);
}

/**
 * sdp_rx_grow() - post more receive buffers, the peer needs them.
 * @as: the socket; process context, no locks held.
 *
 * Up to SDP_RX_GROW buffers get pages and are posted; the credit update
 * that announces them follows from sdp_ctrl_flush().
 */
void sdp_rx_grow(struct afib_sock *as)
{
	struct afib_buf *buf, *tmp;
	u32 n = 0, size, bytes;
	LIST_HEAD(fresh);

	mutex_lock(&as->qp_lock);
	if (!as->qp)
		goto unlock;
	size = READ_ONCE(as->sdp.rcv_want) ?: READ_ONCE(as->seg_size);
	sdp_rx_pages(as, &bytes);
	while (n < SDP_RX_GROW && bytes + size <= sdp_rx_budget(as, size)) {
		/* A spare buffer first, else the next one of the array. */
		spin_lock_bh(&as->lock);
		buf = list_first_entry_or_null(&as->sdp.rx_spare,
					       struct afib_buf, list);
		if (buf)
			list_del_init(&buf->list);
		spin_unlock_bh(&as->lock);
		if (!buf && as->rx_filled == as->rx_slots + 1)
			break;
		if (!buf)
			buf = &as->rx_bufs[as->rx_filled++];
		if (afib_buf_fill(as, buf, size, DMA_FROM_DEVICE)) {
			spin_lock_bh(&as->lock);
			list_add(&buf->list, &as->sdp.rx_spare);
			spin_unlock_bh(&as->lock);
			break;
		}
		list_add_tail(&buf->list, &fresh);
		bytes += size;
		n++;
	}
	spin_lock_bh(&as->lock);
	as->sdp.rx_grow = false;
	if (as->sdp.rcv_want && as->sdp.rcv_want != size) {
		/* A ChRcvBuf came meanwhile: sdp_rx_refill() resizes them. */
		list_splice_tail_init(&fresh, &as->sdp.rx_park);
		sdp_work_at(as, 0);
	} else if (!as->dead && n) {
		__sdp_post_recvs(as, &fresh, n);
		sdp_ctrl_flush(as);
	}
	list_for_each_entry_safe(buf, tmp, &fresh, list)
		list_del_init(&buf->list);
	spin_unlock_bh(&as->lock);
unlock:
	mutex_unlock(&as->qp_lock);
}

/**
 * sdp_rx_refill() - give parked receive buffers the size the peer asked
 * for and post them.
 * @as: the socket; process context, no locks held.
 *
 * A page of the new size that cannot be had gives up the change: the
 * buffer keeps the size announced, and the acknowledgment says so.
 */
void sdp_rx_refill(struct afib_sock *as)
{
	struct sdp_conn *c = &as->sdp;
	u32 want, n = 0, k = 0, bytes;
	struct afib_buf *buf, *tmp;
	LIST_HEAD(parked);

	mutex_lock(&as->qp_lock);
	spin_lock_bh(&as->lock);
	list_splice_init(&c->rx_park, &parked);
	want = c->rcv_want ?: as->seg_size;
	spin_unlock_bh(&as->lock);
	if (!as->qp)
		goto unlock;
	list_for_each_entry_safe(buf, tmp, &parked, list) {
		afib_buf_empty(as, buf, DMA_FROM_DEVICE);
		sdp_rx_pages(as, &bytes);
		if (bytes + want > sdp_rx_budget(as, want)) {
			/* Bigger buffers, fewer of them. */
			spin_lock_bh(&as->lock);
			list_move(&buf->list, &c->rx_spare);
			spin_unlock_bh(&as->lock);
			continue;
		}
		if (afib_buf_fill(as, buf, want, DMA_FROM_DEVICE)) {
			want = as->seg_size;
			if (afib_buf_fill(as, buf, want, DMA_FROM_DEVICE))
				break;	/* no memory at all: left unposted */
			spin_lock_bh(&as->lock);
			c->rcv_want = want == as->seg_size ? 0 : c->rcv_want;
			c->ack_due = true;
			spin_unlock_bh(&as->lock);
		}
		n++;
	}
	spin_lock_bh(&as->lock);
	if (!as->dead) {
		/* The first @n have pages; any after them keep waiting. */
		LIST_HEAD(posts);

		list_for_each_entry_safe(buf, tmp, &parked, list) {
			if (k == n)
				break;
			list_move_tail(&buf->list, &posts);
			k++;
		}
		if (k)
			__sdp_post_recvs(as, &posts, k);
		list_for_each_entry_safe(buf, tmp, &posts, list)
			list_del_init(&buf->list);
		/* Also when every one went spare: the last old one is gone. */
		__sdp_rx_resized(as);
		sdp_ctrl_flush(as);
	}
	list_splice(&parked, &c->rx_park);
	spin_unlock_bh(&as->lock);
unlock:
	mutex_unlock(&as->qp_lock);
}

#define SDP_RECV_FLAGS	(MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC | MSG_WAITALL | \
			 MSG_CMSG_COMPAT | MSG_NOSIGNAL | MSG_OOB | MSG_ERRQUEUE)

int sdp_recvmsg(struct socket *sock, struct msghdr *msg, size_t len,
		int flags)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	bool peek = flags & MSG_PEEK, skip, over, got_imm = false;
	u32 off, avail, pos, n, imm = 0;
	struct afib_buf *buf;
	size_t copied = 0;
	int target, err = 0;
	long timeo;

	if (flags & MSG_ERRQUEUE)
		return afib_rdma_recv_errqueue(as, msg, len);
	if (flags & MSG_OOB)
		return sdp_recv_urg(as, msg, len, flags);
	switch (READ_ONCE(sk->sk_state)) {
	case TCP_LISTEN:
		return -ENOTCONN;
	case TCP_CLOSE:
		/* Never connected: as tcp_recvmsg(). */
		if (!READ_ONCE(as->peer_gone))
			return -ENOTCONN;
		break;
	default:
		break;
	}
	if (!len)
		return 0;

	if (mutex_lock_interruptible(&as->rx_lock))
		return -ERESTARTSYS;
	target = sock_rcvlowat(sk, flags & MSG_WAITALL, len);
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	pos = READ_ONCE(as->sdp.rx_seq);
	while (copied < len) {
		spin_lock_bh(&as->lock);
		/* A read stops at the urgent mark. */
		if (copied && as->sdp.urg != SDP_URG_NONE &&
		    as->sdp.urg_pos == pos) {
			spin_unlock_bh(&as->lock);
			break;
		}
		buf = NULL;
		if (!as->dead)
			buf = __sdp_rx_at(as, pos, &off, &avail, &skip);
		if (buf && buf->has_imm) {
			/* The data before it first, alone (sdp_rdma.c). */
			if (!copied) {
				got_imm = true;
				imm = buf->imm;
				if (!peek)
					__sdp_rx_imm_take(as, buf);
			}
			spin_unlock_bh(&as->lock);
			break;
		}
		if (buf && skip) {
			if (!peek)
				__sdp_rx_consume(as, buf, 1);
			spin_unlock_bh(&as->lock);
			pos++;
			continue;
		}
		spin_unlock_bh(&as->lock);

		if (buf) {
			/* No spinlock: the page stays ours, see the top. */
			n = min_t(size_t, avail, len - copied);
			if (!(flags & MSG_TRUNC) &&
			    copy_to_iter(buf->addr + off, n,
					 &msg->msg_iter) != n) {
				err = -EFAULT;
				break;
			}
			copied += n;
			pos += n;
			if (!peek) {
				spin_lock_bh(&as->lock);
				if (!as->dead)
					__sdp_rx_consume(as, buf, n);
				spin_unlock_bh(&as->lock);
			}
			continue;
		}

		/* Nothing at @pos: as tcp_recvmsg(), in this order. */
		if (copied >= target)
			break;
		if (READ_ONCE(as->fin_rcvd))
			break;
		over = READ_ONCE(as->sdp.rx_over) || READ_ONCE(as->dead) ||
		       (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN);
		/* Paired with sdp_rx_over(), __sdp_reset(), afib_kill(). */
		smp_rmb();
		if (READ_ONCE(sk->sk_err)) {
			if (!copied)
				err = sock_error(sk);
			break;
		}
		if (over)
			break;
		if (READ_ONCE(sk->sk_state) == TCP_CLOSE &&
		    !READ_ONCE(as->peer_gone)) {
			err = -ENOTCONN;
			break;
		}
		err = afib_wait_cq(as, &timeo,
				   sdp_rx_ready(as, pos - READ_ONCE(as->sdp.rx_seq)));
		if (err)
			break;
	}
	if (READ_ONCE(as->sdp.rx_grow))
		sdp_rx_grow(as);
	mutex_unlock(&as->rx_lock);
	if (got_imm)
		return put_cmsg(msg, SOL_AFIB, AFIB_CMSG_IMM, sizeof(imm),
				&imm);
	if (copied)
		return copied;
	return err;
}
