// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib SOCK_SEQPACKET data path.
 *
 * Each connected socket owns one CQ (see afib_cq_poll()) and one RC QP.
 * Receive buffers are pages posted on the RQ; a completed data segment is
 * appended to rx_queue and recvmsg() copies whole messages out of it,
 * then reposts the buffers and owes the peer that many credits.  Send
 * buffers form a ring; sendmsg() waits until the whole message fits
 * (buffers and credits), copies it in and posts it as one chain, of which
 * at most the last work request is signaled, so a message is never half
 * sent and a signal or timeout never splits one.  Credits ride on every
 * message's immediate value; see afib_proto.h.
 *
 * Work requests are posted under afib_sock.lock after checking
 * afib_sock.dead; user memory is copied outside it.  afib_kill() sets
 * dead, then destroys the QP under qp_lock and unmaps the buffers; their
 * pages stay until the socket goes or reconnects (afib_free_bufs(), under
 * rx_lock and tx_lock), so a reader or writer still copying never
 * touches freed memory.
 *
 * Completions wake writers only when the room they wait for is there
 * (tx_want) and close() only when the send queue is idle (drain_wait), so
 * most send completions wake nobody.
 */
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <linux/slab.h>
#include "afib.h"

/* Segment size of our buffers; peers negotiate min(ours, theirs). */
#define AFIB_SEG_SIZE		16384U
#define AFIB_MAX_SLOTS		1024U

static void afib_ctrl_done(struct ib_cq *cq, struct ib_wc *wc);

void afib_write_space(struct sock *sk)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, EPOLLOUT | EPOLLWRNORM |
					   EPOLLWRBAND);
	if (wq && wq->fasync_list)
		sock_wake_async(wq, SOCK_WAKE_SPACE, POLL_OUT);
	rcu_read_unlock();
}

/**
 * afib_woken_killable() - wake function of a killable afib_wait_cq().
 * @wq: the waiter's entry.
 * @mode: ignored: the socket's wakeups are interruptible ones, which
 *	would pass over a TASK_KILLABLE sleeper.
 * @sync: as woken_wake_function().
 * @key: as woken_wake_function().
 *
 * Return: as woken_wake_function().
 */
int afib_woken_killable(struct wait_queue_entry *wq, unsigned int mode,
			int sync, void *key)
{
	return woken_wake_function(wq, TASK_NORMAL, sync, key);
}

/* Payload of segment @i of a @len-byte message. */
static u32 afib_seg_len(struct afib_sock *as, size_t len, u32 i)
{
	return min_t(size_t, len - (size_t)i * as->seg_size, as->seg_size);
}

/* Largest number of segments one message can take in either direction. */
static u32 afib_max_segs(struct afib_sock *as)
{
	return afib_msg_segs(AFIB_MAX_MSG, as->seg_size);
}

static void afib_unmap_array(struct afib_sock *as, struct afib_buf *bufs,
			     u32 n, enum dma_data_direction dir)
{
	struct ib_device *ibdev = as->dev->ibdev;
	u32 i;

	for (i = 0; bufs && i < n; i++) {
		if (bufs[i].zc)
			afib_zc_unmap(ibdev, bufs[i].zc);
		if (!bufs[i].dma)
			continue;
		ib_dma_unmap_single(ibdev, bufs[i].dma, bufs[i].size, dir);
		bufs[i].dma = 0;
	}
}

/**
 * afib_zc_unmap() - unmap the user pages of a zero-copy send.
 * @ibdev: the device they were mapped for.
 * @zc: the pages; the caller holds qp_lock.  Idempotent.
 */
void afib_zc_unmap(struct ib_device *ibdev, struct afib_zc *zc)
{
	u32 i;

	if (!zc->mapped)
		return;
	for (i = 1; i <= zc->npages; i++)
		ib_dma_unmap_page(ibdev, zc->sge[i].addr, zc->sge[i].length,
				  DMA_TO_DEVICE);
	zc->mapped = false;
}

/* Free the memory of an unmapped buffer. */
static void afib_buf_free(struct afib_buf *buf)
{
	if (!buf->addr)
		return;
	if (buf->size < PAGE_SIZE)
		kfree(buf->addr);
	else
		free_pages((unsigned long)buf->addr, get_order(buf->size));
	buf->addr = NULL;
}

static void afib_free_array(struct afib_sock *as, struct afib_buf *bufs,
			    u32 n)
{
	u32 i;

	for (i = 0; bufs && i < n; i++)
		afib_buf_free(&bufs[i]);
	kfree(bufs);
}

/**
 * afib_free_bufs() - free the buffers a dead socket kept.
 * @as: a socket without a QP; the caller holds rx_lock and tx_lock, or
 *	the socket is being destroyed.
 */
void afib_free_bufs(struct afib_sock *as)
{
	afib_free_array(as, as->rx_bufs, as->rx_slots + 1);
	afib_free_array(as, as->tx_bufs, as->tx_slots);
	kfree(as->ctrl_buf);
	as->rx_bufs = NULL;
	as->tx_bufs = NULL;
	as->ctrl_buf = NULL;
}

/**
 * afib_buf_fill() - give a buffer its page, mapped.
 * @as: the socket; the caller holds qp_lock, or owns the QP alone
 *	(creation), and the socket has a device.
 * @buf: a buffer of @as without a page.
 * @size: its size, a power of two of pages.
 * @dir: DMA_FROM_DEVICE for receive buffers, DMA_TO_DEVICE for send.
 *
 * Return: 0 or -ENOMEM.
 */
int afib_buf_fill(struct afib_sock *as, struct afib_buf *buf, u32 size,
		  enum dma_data_direction dir)
{
	struct ib_device *ibdev = as->dev->ibdev;

	if (size < PAGE_SIZE)
		buf->addr = kmalloc(size, GFP_KERNEL);
	else
		buf->addr = (void *)__get_free_pages(GFP_KERNEL | __GFP_NOWARN,
						     get_order(size));
	if (!buf->addr)
		return -ENOMEM;
	buf->size = size;
	buf->dma = ib_dma_map_single(ibdev, buf->addr, size, dir);
	if (ib_dma_mapping_error(ibdev, buf->dma)) {
		buf->dma = 0;
		afib_buf_free(buf);
		return -ENOMEM;
	}
	buf->sge.addr = buf->dma;
	buf->sge.lkey = as->pd->local_dma_lkey;
	return 0;
}

/**
 * afib_buf_empty() - take a buffer's memory away, to give it another size.
 * @as: the socket; the caller holds qp_lock, or as->lock before
 *	afib_kill() began, and the buffer is idle.
 * @buf: the buffer.
 * @dir: as afib_buf_fill().
 */
void afib_buf_empty(struct afib_sock *as, struct afib_buf *buf,
		    enum dma_data_direction dir)
{
	if (buf->dma)
		ib_dma_unmap_single(as->dev->ibdev, buf->dma, buf->size, dir);
	buf->dma = 0;
	afib_buf_free(buf);
}

/* @n buffers, the first @filled of them with pages. */
static struct afib_buf *afib_alloc_bufs(struct afib_sock *as, u32 n,
					u32 filled,
					enum dma_data_direction dir,
					void (*done)(struct ib_cq *cq,
						     struct ib_wc *wc))
{
	struct afib_buf *bufs;
	u32 i;

	bufs = kcalloc(n, sizeof(*bufs), GFP_KERNEL);
	if (!bufs)
		return NULL;
	for (i = 0; i < n; i++) {
		bufs[i].cqe.done = done;
		INIT_LIST_HEAD(&bufs[i].list);
		if (i < filled &&
		    afib_buf_fill(as, &bufs[i], as->seg_size, dir))
			goto err;
	}
	return bufs;
err:
	afib_unmap_array(as, bufs, n, dir);
	afib_free_array(as, bufs, n);
	return NULL;
}

/*
 * The headers control sends carry (SDP): one mapped array, an entry per
 * afib_sock.ctrl slot.  Kept after afib_kill() like the other buffers.
 */
static int afib_ctrl_alloc(struct afib_sock *as)
{
	struct ib_device *ibdev = as->dev->ibdev;
	u32 size = as->xp->ctrl_size, i;

	if (!size)
		return 0;
	as->ctrl_buf = kcalloc(AFIB_CTRL_MAX, size, GFP_KERNEL);
	if (!as->ctrl_buf)
		return -ENOMEM;
	as->ctrl_dma = ib_dma_map_single(ibdev, as->ctrl_buf,
					 AFIB_CTRL_MAX * size, DMA_TO_DEVICE);
	if (ib_dma_mapping_error(ibdev, as->ctrl_dma)) {
		as->ctrl_dma = 0;
		return -ENOMEM;
	}
	for (i = 0; i < AFIB_CTRL_MAX; i++) {
		as->ctrl[i].hdr = as->ctrl_buf + i * size;
		as->ctrl[i].sge.addr = as->ctrl_dma + i * size;
		as->ctrl[i].sge.lkey = as->pd->local_dma_lkey;
	}
	return 0;
}

static void afib_ctrl_unmap(struct afib_sock *as)
{
	if (!as->ctrl_dma)
		return;
	ib_dma_unmap_single(as->dev->ibdev, as->ctrl_dma,
			    AFIB_CTRL_MAX * as->xp->ctrl_size, DMA_TO_DEVICE);
	as->ctrl_dma = 0;
}

/*
 * Post the receive buffers on @bufs (linked by @list) as one chain.
 * Caller holds as->lock, or owns the QP alone (creation).
 */
int afib_post_recvs(struct afib_sock *as, struct list_head *bufs)
{
	struct ib_recv_wr *first = NULL, **next = &first;
	struct afib_buf *buf;

	list_for_each_entry(buf, bufs, list) {
		ib_dma_sync_single_for_device(as->dev->ibdev, buf->dma,
					      buf->size, DMA_FROM_DEVICE);
		buf->sge.length = buf->size;
		buf->rwr.wr_cqe = &buf->cqe;
		buf->rwr.sg_list = &buf->sge;
		buf->rwr.num_sge = 1;
		buf->rwr.next = NULL;
		*next = &buf->rwr;
		next = &buf->rwr.next;
	}
	return first ? ib_post_recv(as->qp, first, NULL) : 0;
}

/*
 * Repost consumed buffers and owe the peer their credits; a repost that
 * fails breaks the connection.  Caller holds as->lock, socket not dead.
 */
static void __afib_repost(struct afib_sock *as, struct list_head *bufs,
			  u32 n)
{
	if (!afib_post_recvs(as, bufs)) {
		as->rx_owed += n;
		return;
	}
	as->peer_gone = true;
	WRITE_ONCE(as->sk.sk_err, ECONNRESET);
}

static void __afib_repost_one(struct afib_sock *as, struct afib_buf *buf)
{
	LIST_HEAD(one);

	list_add(&buf->list, &one);
	__afib_repost(as, &one, 1);
	list_del_init(&buf->list);
}

/* Completions polled at once. */
#define AFIB_POLL_BATCH		8

/**
 * afib_cq_poll() - run the completions of a socket's CQ and rearm it.
 * @as: the socket.
 *
 * Process context.  One poller at a time (AFIB_CQ_BUSY).  A caller that
 * finds another at work leaves a request (AFIB_CQ_AGAIN) and returns: the
 * one at work polls again after it lets go, so an event that came just
 * before it did is not lost.  AFIB_CQ_BUSY is also held while there is
 * no CQ, and for good once afib_kill() drained the QP.
 */
void afib_cq_poll(struct afib_sock *as)
{
	struct ib_wc wcs[AFIB_POLL_BATCH];
	int n, i;

	set_bit(AFIB_CQ_AGAIN, &as->cq_flags);
	/* The request before the look at BUSY; pairs with the one below. */
	smp_mb__after_atomic();
	while (test_bit(AFIB_CQ_AGAIN, &as->cq_flags) &&
	       !test_and_set_bit_lock(AFIB_CQ_BUSY, &as->cq_flags)) {
		clear_bit(AFIB_CQ_AGAIN, &as->cq_flags);
		/* Requests from now on are for completions after this poll. */
		smp_mb__after_atomic();
		do {
			while ((n = ib_poll_cq(as->cq, AFIB_POLL_BATCH,
					       wcs)) > 0) {
				for (i = 0; i < n; i++)
					wcs[i].wr_cqe->done(as->cq, &wcs[i]);
				cond_resched();
			}
		} while (ib_req_notify_cq(as->cq, IB_CQ_NEXT_COMP |
					  IB_CQ_REPORT_MISSED_EVENTS) > 0);
		clear_bit_unlock(AFIB_CQ_BUSY, &as->cq_flags);
		/* Letting go before the look at AGAIN; pairs with the above. */
		smp_mb__after_atomic();
		wake_up_bit(&as->cq_flags, AFIB_CQ_BUSY);	/* afib_kill() */
	}
}

void afib_poll_work(struct work_struct *work)
{
	afib_cq_poll(container_of(work, struct afib_sock, poll_work));
}

/*
 * CQ event, any context: wake the reader or writer that will poll, or
 * have the worker poll.  Exactly one of them clears AFIB_CQ_WAITER.
 */
static void afib_cq_event(struct ib_cq *cq, void *ctx)
{
	struct afib_sock *as = ctx;
	struct socket_wq *wq;

	if (!test_and_clear_bit(AFIB_CQ_WAITER, &as->cq_flags)) {
		queue_work(afib_wq, &as->poll_work);
		return;
	}
	rcu_read_lock();
	wq = rcu_dereference(as->sk.sk_wq);
	if (wq)
		wake_up_interruptible_all(&wq->wait);
	rcu_read_unlock();
}

/* CQ overrun: completions were lost, the connection cannot go on. */
static void afib_cq_error(struct ib_event *ev, void *ctx)
{
	struct afib_sock *as = ctx;

	WRITE_ONCE(as->peer_gone, true);	/* any context: no lock */
	afib_set_error(&as->sk, ECONNRESET);
}

/* Drain markers: the last work requests of a QP being destroyed. */
struct afib_drain {
	struct ib_cqe		cqe;
	bool			done;
};

static void afib_drain_done(struct ib_cq *cq, struct ib_wc *wc)
{
	container_of(wc->wr_cqe, struct afib_drain, cqe)->done = true;
}

/*
 * Flush the QP and run every completion it had coming, then keep the CQ
 * to ourselves for good.  Like ib_drain_qp() (which wants a CQ from
 * ib_alloc_cq()), with a marker on each queue after moving the QP to
 * the error state, but polling the CQ here instead of waiting for a
 * reader, a writer or the worker to do it.  Completion handlers no
 * longer run when this returns.
 */
static void afib_qp_drain(struct afib_sock *as)
{
	struct ib_qp_attr attr = { .qp_state = IB_QPS_ERR };
	struct afib_drain sd = { .cqe.done = afib_drain_done };
	struct afib_drain rd = { .cqe.done = afib_drain_done };
	/* Drivers read an RDMA WRITE as the whole struct ib_rdma_wr. */
	struct ib_rdma_wr swr = {
		.wr = {
			.wr_cqe		= &sd.cqe,
			.opcode		= IB_WR_RDMA_WRITE,
			.send_flags	= IB_SEND_SIGNALED,
		},
	};
	struct ib_recv_wr rwr = { .wr_cqe = &rd.cqe };
	struct ib_wc wcs[AFIB_POLL_BATCH];
	int n, i;

	afib_cq_stop(as);
	/* A marker that cannot be posted has nothing to wait for. */
	if (ib_modify_qp(as->qp, &attr, IB_QP_STATE)) {
		sd.done = true;
		rd.done = true;
	} else {
		sd.done = !!ib_post_send(as->qp, &swr.wr, NULL);
		rd.done = !!ib_post_recv(as->qp, &rwr, NULL);
	}
	while (!sd.done || !rd.done) {
		n = ib_poll_cq(as->cq, AFIB_POLL_BATCH, wcs);
		for (i = 0; i < n; i++)
			wcs[i].wr_cqe->done(as->cq, &wcs[i]);
		if (n <= 0)
			usleep_range(100, 200);
	}
}

/**
 * afib_cq_create() - create the CQ of a socket, polled by its sleeping
 * reader or writer (afib_wait_cq()) or else by its poll worker.
 * @as: the socket; AFIB_CQ_BUSY is held, so nobody polls it yet.
 * @ibdev: the device.
 * @cqe: its size.
 *
 * Return: 0 or a negative errno.
 */
int afib_cq_create(struct afib_sock *as, struct ib_device *ibdev, int cqe)
{
	struct ib_cq_init_attr cq_attr = { .cqe = cqe };

	as->cq = ib_create_cq(ibdev, afib_cq_event, afib_cq_error, as,
			      &cq_attr);
	if (IS_ERR(as->cq)) {
		int err = PTR_ERR(as->cq);

		as->cq = NULL;
		return err;
	}
	return 0;
}

/**
 * afib_cq_start() - arm a new CQ and let pollers at it.
 * @as: the socket.  Completions that came before are polled too.
 */
void afib_cq_start(struct afib_sock *as)
{
	int missed = ib_req_notify_cq(as->cq, IB_CQ_NEXT_COMP |
				      IB_CQ_REPORT_MISSED_EVENTS);

	clear_bit_unlock(AFIB_CQ_BUSY, &as->cq_flags);
	if (missed > 0)
		queue_work(afib_wq, &as->poll_work);
}

/**
 * afib_cq_stop() - wait for the poller at work, then keep everybody out.
 * @as: the socket.  Completion handlers no longer run when it returns.
 */
void afib_cq_stop(struct afib_sock *as)
{
	wait_on_bit_lock(&as->cq_flags, AFIB_CQ_BUSY, TASK_UNINTERRUPTIBLE);
}

/**
 * afib_cq_destroy() - free a stopped CQ (afib_cq_stop(), or
 * afib_qp_drain()) and its poll worker's pending run.
 * @as: the socket.
 */
void afib_cq_destroy(struct afib_sock *as)
{
	ib_destroy_cq(as->cq);
	as->cq = NULL;
	cancel_work_sync(&as->poll_work);
}

/* Free send ring entries.  Caller holds as->lock. */
u32 __afib_tx_space(struct afib_sock *as)
{
	return as->tx_slots - (as->tx_head - as->tx_tail);
}

/*
 * Can a writer have @segs segments now?  SOCK_SEQPACKET posts what it
 * takes at once, so it needs credits too; SDP queues it.  Caller holds
 * as->lock.
 */
bool __afib_tx_room(struct afib_sock *as, u32 segs)
{
	if (as->xp->type == SOCK_STREAM)
		return __afib_tx_space(as) >= segs;
	return afib_can_send(as->tx_credits, segs, false) &&
	       __afib_tx_space(as) >= segs;
}

/* Has everything been sent, FIN included?  Caller holds as->lock. */
static bool __afib_tx_idle(struct afib_sock *as)
{
	return as->dead || (as->tx_head == as->tx_tail && !as->ctrl_inflight &&
			    !as->fin_pending);
}

/* Note that a writer waits for @segs segments.  Holds as->lock. */
void __afib_tx_want(struct afib_sock *as, u32 segs)
{
	as->tx_want = as->tx_want ? min(as->tx_want, segs) : segs;
}

/*
 * Should a completion or a credit wake the writers?  Only when one waits
 * and what it waits for is there.  Caller holds as->lock.
 */
bool __afib_tx_wake(struct afib_sock *as)
{
	bool wake = false;

	if (as->tx_want && __afib_tx_room(as, as->tx_want)) {
		as->tx_want = 0;
		wake = true;
	}
	if (as->drain_wait && __afib_tx_idle(as)) {
		as->drain_wait = false;
		wake = true;
	}
	return wake;
}

static void afib_seq_qp_size(struct afib_sock *as)
{
	u32 min_rx;

	as->seg_size = AFIB_SEG_SIZE;
	min_rx = afib_min_rx_slots(AFIB_MAX_MSG, as->seg_size);
	as->rx_slots = clamp_t(u32, READ_ONCE(as->sk.sk_rcvbuf) / as->seg_size,
			       min_rx, AFIB_MAX_SLOTS);
	/* At least two messages: see afib_tx_post(). */
	as->tx_slots = clamp_t(u32, READ_ONCE(as->sk.sk_sndbuf) / as->seg_size,
			       2 * afib_max_segs(as), AFIB_MAX_SLOTS);
	as->credit_thresh = afib_credit_thresh(as->rx_slots, afib_max_segs(as));
	as->rx_filled = as->rx_slots + 1;
	as->tx_filled = as->tx_slots;
	/* One per page of an RDMA operation's iovec (afib_rdma.c). */
	as->max_send_sge = AFIB_RDMA_IOV_PAGES;
}

/* Free the socket's own PD, if it has one (empty by now). */
static void afib_pd_put(struct afib_sock *as)
{
	if (as->pd && as->pd != as->dev->pd)
		ib_dealloc_pd(as->pd);
	as->pd = NULL;
}

/**
 * afib_qp_create() - create the CQ, QP and buffers of a socket.
 * @as: the socket, not yet connected.
 * @id: its rdma_cm id, bound to a device.
 *
 * Called from CM event handlers.  Receive buffers are posted before the
 * connection is requested or accepted, so the credits we announce exist.
 *
 * Return: 0 or a negative errno.
 */
int afib_qp_create(struct afib_sock *as, struct rdma_cm_id *id)
{
	struct ib_qp_init_attr attr = {};
	struct afib_dev *dev;
	LIST_HEAD(posts);
	u32 i, rdma_room;
	bool dead;
	int err;

	dev = afib_dev_get(id->device);
	if (!dev)
		return -ENODEV;

	mutex_lock(&as->qp_lock);
	spin_lock_bh(&as->lock);
	dead = as->dead;
	spin_unlock_bh(&as->lock);
	if (dead || as->qp || as->rx_bufs || as->tx_bufs) {
		err = dead ? -ECONNABORTED : -EISCONN;
		afib_dev_put(dev);
		goto unlock;
	}
	err = afib_dev_attach(dev, as);
	if (err) {
		afib_dev_put(dev);
		goto unlock;
	}

	/* Its own PD: the rkeys of its MRs are good on this QP only. */
	as->pd = ib_alloc_pd(dev->ibdev, 0);
	if (IS_ERR(as->pd)) {
		err = PTR_ERR(as->pd);
		as->pd = NULL;
		goto detach;
	}
	as->xp->qp_size(as);
	/*
	 * One registration (afib_rdma.c) has send queue room of its own.
	 * SOCK_SEQPACKET's RDMA operations too; SDP's take send ring
	 * entries (sdp_rdma.c).
	 */
	rdma_room = as->xp->type == SOCK_SEQPACKET ? AFIB_RDMA_MAX_OPS + 1 : 1;
	/* Our own handler: see afib_cq_poll() and afib_wait_cq(). */
	err = afib_cq_create(as, dev->ibdev, as->rx_slots + as->tx_slots +
			     AFIB_CTRL_MAX + 4 + rdma_room);
	if (err)
		goto detach;

	attr.qp_context = as;
	attr.send_cq = as->cq;
	attr.recv_cq = as->cq;
	attr.cap.max_send_wr = as->tx_slots + AFIB_CTRL_MAX + 1 + rdma_room;
	/* + FIN (SDP: + rx_end marker), + drain */
	attr.cap.max_recv_wr = as->rx_slots + 3;
	as->max_send_sge = clamp_t(u32, as->max_send_sge, 1,
				   dev->ibdev->attrs.max_send_sge);
	attr.cap.max_send_sge = as->max_send_sge;
	attr.cap.max_recv_sge = 1;
	attr.sq_sig_type = IB_SIGNAL_REQ_WR;
	attr.qp_type = IB_QPT_RC;
	err = rdma_create_qp(id, as->pd, &attr);
	if (err)
		goto free_cq;
	as->qp = id->qp;
	as->qp_id = id;

	as->rx_bufs = afib_alloc_bufs(as, as->rx_slots + 1, as->rx_filled,
				      DMA_FROM_DEVICE, as->xp->rx_done);
	as->tx_bufs = afib_alloc_bufs(as, as->tx_slots, as->tx_filled,
				      DMA_TO_DEVICE, as->xp->tx_done);
	if (!as->rx_bufs || !as->tx_bufs || afib_ctrl_alloc(as)) {
		err = -ENOMEM;
		goto free_bufs;
	}
	spin_lock_bh(&as->lock);
	as->tx_head = 0;
	as->tx_posted = 0;
	as->tx_tail = 0;
	as->tx_unsig = 0;
	spin_unlock_bh(&as->lock);
	for (i = 0; i < as->rx_filled; i++)
		list_add_tail(&as->rx_bufs[i].list, &posts);
	err = afib_post_recvs(as, &posts);
	for (i = 0; i < as->rx_filled; i++)
		list_del_init(&as->rx_bufs[i].list);
	if (err)
		goto free_bufs;
	for (i = 0; i < AFIB_CTRL_MAX; i++)
		as->ctrl[i].cqe.done = afib_ctrl_done;
	if (as->xp->qp_ready)
		as->xp->qp_ready(as);
	/* Polling may start: arm the CQ, nothing has completed yet. */
	afib_cq_start(as);
	mutex_unlock(&as->qp_lock);
	return 0;

free_bufs:
	/* Nobody polls (AFIB_CQ_BUSY): no handler sees these buffers. */
	rdma_destroy_qp(id);
	as->qp = NULL;
	as->qp_id = NULL;
	afib_unmap_array(as, as->rx_bufs, as->rx_slots + 1, DMA_FROM_DEVICE);
	afib_unmap_array(as, as->tx_bufs, as->tx_slots, DMA_TO_DEVICE);
	afib_ctrl_unmap(as);
	afib_free_bufs(as);
free_cq:
	/* Never armed, never polled. */
	ib_destroy_cq(as->cq);
	as->cq = NULL;
detach:
	afib_pd_put(as);
	afib_dev_detach(as);
unlock:
	mutex_unlock(&as->qp_lock);
	return err;
}

/*
 * Caller holds qp_lock and has set as->dead, so nothing posts any more.
 * The buffers are unmapped but kept: see afib_free_bufs().
 */
static void __afib_qp_destroy(struct afib_sock *as)
{
	if (!as->qp)
		return;
	afib_qp_drain(as);
	rdma_destroy_qp(as->qp_id);
	as->qp = NULL;
	as->qp_id = NULL;
	afib_cq_destroy(as);

	spin_lock_bh(&as->lock);
	INIT_LIST_HEAD(&as->rx_queue);
	as->rx_msgs = 0;
	as->rx_bytes = 0;
	spin_unlock_bh(&as->lock);

	afib_unmap_array(as, as->rx_bufs, as->rx_slots + 1, DMA_FROM_DEVICE);
	afib_unmap_array(as, as->tx_bufs, as->tx_slots, DMA_TO_DEVICE);
	afib_ctrl_unmap(as);
	afib_rdma_kill(as);
	afib_pd_put(as);
	afib_dev_detach(as);
}

/**
 * afib_kill() - stop all traffic and release the verbs resources.
 * @as: the socket.
 * @err: positive errno reported to the user, 0 for none.
 *
 * Idempotent.  Waiters wake up and fail; the QP is drained and destroyed,
 * the CQ freed, the buffers unmapped and the device released.  Never
 * waits for a reader or a writer.  The rdma_cm id is left alone: its
 * owner destroys it after this returns.
 */
void afib_kill(struct afib_sock *as, int err)
{
	struct sock *sk = &as->sk;

	if (as->xp->kill) {
		as->xp->kill(as, err);
		return;
	}
	/* The error first: a reader that sees dead sees it (sdp_recvmsg()). */
	if (err)
		afib_set_error(sk, err);
	spin_lock_bh(&as->lock);
	as->dead = true;
	as->peer_gone = true;
	spin_unlock_bh(&as->lock);
	sk->sk_state_change(sk);

	mutex_lock(&as->qp_lock);
	__afib_qp_destroy(as);
	mutex_unlock(&as->qp_lock);
	if (as->xp->killed)
		as->xp->killed(as);
}

/**
 * afib_wc_errno() - the socket error a failed send completion means.
 * @as: the socket.
 * @wc: the completion, neither a success nor a flush.
 *
 * A stream socket reports retries that ran out (the peer is unreachable
 * or dead) as TCP reports its retransmissions timing out.
 *
 * Return: a negative errno.
 */
int afib_wc_errno(struct afib_sock *as, const struct ib_wc *wc)
{
	if (as->xp->type == SOCK_STREAM &&
	    (wc->status == IB_WC_RETRY_EXC_ERR ||
	     wc->status == IB_WC_RNR_RETRY_EXC_ERR))
		return -ETIMEDOUT;
	return -ECONNRESET;
}

/* Report a broken connection from completion context. */
void afib_conn_error(struct afib_sock *as, int err)
{
	spin_lock_bh(&as->lock);
	as->peer_gone = true;
	spin_unlock_bh(&as->lock);
	afib_set_error(&as->sk, err);
}

/*
 * Post a payload-less control message.  Caller holds as->lock and has
 * checked the credit.  Returns every owed credit to the peer.
 */
static int __afib_seq_ctrl(struct afib_sock *as, enum afib_msg_type type)
{
	struct afib_ctrl *ctrl = &as->ctrl[as->ctrl_head % AFIB_CTRL_MAX];
	struct ib_send_wr wr = {
		.wr_cqe		= &ctrl->cqe,
		.opcode		= IB_WR_SEND_WITH_IMM,
		.send_flags	= IB_SEND_SIGNALED,
	};
	bool credit;
	u32 owed;
	int err;

	lockdep_assert_held(&as->lock);
	/* FIN and ABORT use the buffer the peer keeps for them. */
	credit = type == AFIB_MT_CREDIT;
	if (as->dead || !as->qp || as->ctrl_inflight >= AFIB_CTRL_MAX ||
	    (credit && !afib_can_send(as->tx_credits, 1, true)))
		return -EAGAIN;
	owed = min_t(u32, as->rx_owed, AFIB_MAX_CREDITS);
	wr.ex.imm_data = afib_imm_encode(type, false, owed);
	ctrl->seq = as->tx_posted;
	err = ib_post_send(as->qp, &wr, NULL);
	if (err)
		return err;
	as->rx_owed -= owed;
	as->tx_credits -= credit;
	as->ctrl_inflight++;
	as->ctrl_head++;
	as->tx_unsig = 0;
	return 0;
}

/*
 * Send a pending FIN (once no sender holds unposted data) and any credit
 * update that is due.  Caller holds as->lock.
 */
static void afib_seq_ctrl_flush(struct afib_sock *as)
{
	lockdep_assert_held(&as->lock);
	if (as->fin_pending && !as->tx_busy &&
	    !__afib_seq_ctrl(as, AFIB_MT_FIN)) {
		as->fin_pending = false;
		as->fin_sent = true;
	}
	if (!as->peer_gone && afib_credit_due(as->rx_owed, as->credit_thresh))
		__afib_seq_ctrl(as, AFIB_MT_CREDIT);
}

static void __afib_ctrl_flush(struct afib_sock *as)
{
	as->xp->ctrl_flush(as);
}

/* afib_xport.send_ctrl of SOCK_SEQPACKET; see afib_send_ctrl(). */
static int afib_seq_send_ctrl(struct afib_sock *as, enum afib_msg_type type)
{
	int err = 0;

	spin_lock_bh(&as->lock);
	if (type == AFIB_MT_FIN) {
		if (!as->fin_sent)
			as->fin_pending = true;
		__afib_ctrl_flush(as);
	} else if (!as->fin_sent) {
		err = __afib_seq_ctrl(as, type);
		as->fin_sent = !err;
		as->fin_pending = false;
	}
	spin_unlock_bh(&as->lock);
	return err;
}

/**
 * afib_send_ctrl() - queue FIN or send ABORT.
 * @as: a connected socket.
 * @type: AFIB_MT_FIN (sent after any message being sent, as soon as the
 *	protocol allows) or AFIB_MT_ABORT (sent now if it can be, else
 *	dropped: the disconnect follows).
 *
 * Return: 0, or -EAGAIN when an ABORT could not be sent.
 */
int afib_send_ctrl(struct afib_sock *as, enum afib_msg_type type)
{
	return as->xp->send_ctrl(as, type);
}

static void afib_rx_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_buf *buf = container_of(wc->wr_cqe, struct afib_buf, cqe);
	struct afib_sock *as = cq->cq_context;
	struct sock *sk = &as->sk;
	bool eor, wake_rx = false, wake_tx;
	enum afib_msg_type type;
	u32 credits;

	if (unlikely(wc->status != IB_WC_SUCCESS)) {
		if (afib_wc_fatal(as, wc))
			afib_conn_error(as, ECONNRESET);
		return;
	}
	if (wc->opcode == IB_WC_RECV_RDMA_WITH_IMM) {
		/* The peer's immediate value, not ours: an empty message. */
		buf->has_imm = true;
		buf->imm = be32_to_cpu(wc->ex.imm_data);
		type = AFIB_MT_DATA;
		eor = true;
		credits = 0;
		goto data;
	}
	buf->has_imm = false;
	if (unlikely(!(wc->wc_flags & IB_WC_WITH_IMM) ||
		     afib_imm_decode(wc->ex.imm_data, &type, &eor, &credits) ||
		     (type != AFIB_MT_DATA && wc->byte_len))) {
		/* A peer breaking the protocol loses the connection. */
		afib_conn_error(as, ECONNRESET);
		return;
	}

data:
	spin_lock_bh(&as->lock);
	as->tx_credits += credits;
	if (type == AFIB_MT_DATA) {
		buf->len = buf->has_imm ? 0 : wc->byte_len;
		buf->eor = eor;
		list_add_tail(&buf->list, &as->rx_queue);
		as->rx_bytes += buf->len;
		if (eor) {
			as->rx_msgs++;
			wake_rx = true;
		}
	} else if (type == AFIB_MT_CREDIT) {
		if (!as->dead)
			__afib_repost_one(as, buf);
	} else if (as->fin_rcvd || as->abort_rcvd) {
		/* A second FIN or ABORT: the peer broke the protocol. */
		as->peer_gone = true;
		type = AFIB_MT_ABORT;
		wake_rx = true;
	} else {
		/*
		 * The spare buffer took it; nothing to repost or report.  The
		 * peer's disconnect may have been handled before this
		 * completion (peer_gone already set): its FIN still ends the
		 * stream in order.
		 */
		if (type == AFIB_MT_FIN) {
			as->fin_rcvd = true;
		} else {
			as->abort_rcvd = true;
			as->peer_gone = true;
		}
		wake_rx = true;
	}
	if (!as->dead)
		__afib_ctrl_flush(as);
	wake_tx = __afib_tx_wake(as);
	spin_unlock_bh(&as->lock);

	if (type == AFIB_MT_ABORT)
		afib_set_error(sk, ECONNRESET);
	if (wake_rx)
		sk->sk_data_ready(sk);
	if (wake_tx)
		sk->sk_write_space(sk);
}

/*
 * Sends up to ring position @seq, @bytes of SDP payload, completed.
 * Caller holds as->lock.
 */
void __afib_tx_complete(struct afib_sock *as, u32 seq, u32 bytes)
{
	if ((s32)(seq - as->tx_tail) > 0) {
		as->tx_tail = seq;
		as->sdp.tx_acked = bytes;
	}
}

/* A signaled data send completed, and all before it. */
static void afib_tx_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_buf *buf = container_of(wc->wr_cqe, struct afib_buf, cqe);
	struct afib_sock *as = cq->cq_context;
	bool wake;

	spin_lock_bh(&as->lock);
	/* Flushed unsignaled requests may complete too, in order. */
	__afib_tx_complete(as, buf->seq, buf->bytes);
	wake = __afib_tx_wake(as);
	spin_unlock_bh(&as->lock);

	if (unlikely(afib_wc_fatal(as, wc)))
		afib_conn_error(as, -afib_wc_errno(as, wc));
	if (wake)
		as->sk.sk_write_space(&as->sk);
}

static void afib_ctrl_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_ctrl *ctrl = container_of(wc->wr_cqe, struct afib_ctrl,
					      cqe);
	struct afib_sock *as = cq->cq_context;
	bool wake;

	spin_lock_bh(&as->lock);
	as->ctrl_inflight--;
	__afib_tx_complete(as, ctrl->seq, ctrl->bytes);
	if (!as->dead)
		__afib_ctrl_flush(as);
	wake = __afib_tx_wake(as);
	spin_unlock_bh(&as->lock);

	if (unlikely(afib_wc_fatal(as, wc)))
		afib_conn_error(as, -afib_wc_errno(as, wc));
	if (wake)
		as->sk.sk_write_space(&as->sk);
}

/*
 * afib_xport.connected: take the peer's hello.  Fails with -EPROTO if the
 * peer's buffers are smaller than our segments (we send in our segment
 * size).
 */
static int afib_seq_connected(struct afib_sock *as,
			      const union afib_peer *peer)
{
	const struct afib_hello_host *h = &peer->seq;

	/* Our largest message to it must fit its window, reserve kept. */
	if (h->seg_size < as->seg_size ||
	    h->credits <= afib_msg_segs(min(AFIB_MAX_MSG, h->max_msg),
					as->seg_size))
		return -EPROTO;
	spin_lock_bh(&as->lock);
	as->peer = *h;
	/* += : data the peer sent before our ESTABLISHED returned some. */
	as->tx_credits += h->credits;
	spin_unlock_bh(&as->lock);
	return 0;
}

static int afib_seq_hello(struct afib_sock *as, void *buf, bool reply)
{
	afib_hello_build(buf, as->rx_slots, as->seg_size, AFIB_MAX_MSG);
	return sizeof(struct afib_hello);
}

static int afib_seq_parse(struct afib_sock *as, const void *data, u8 len,
			  bool reply, union afib_peer *peer)
{
	return afib_hello_parse(data, len, &peer->seq);
}

static bool afib_rx_readable(struct afib_sock *as)
{
	return READ_ONCE(as->rx_msgs) || READ_ONCE(as->fin_rcvd) ||
	       READ_ONCE(as->peer_gone);
}

/**
 * afib_tx_writable() - could @segs segments be posted now?
 * @as: a connected socket.
 * @segs: segments, at least 1.
 *
 * If not, the next completion that makes it so wakes the caller.
 *
 * Return: true if they could.
 */
bool afib_tx_writable(struct afib_sock *as, u32 segs)
{
	bool ok;

	spin_lock_bh(&as->lock);
	ok = __afib_tx_room(as, segs);
	if (!ok)
		__afib_tx_want(as, segs);
	spin_unlock_bh(&as->lock);
	return ok;
}

/* Writable when a largest message, or half the window, could be posted. */
static u32 afib_seq_poll_segs(struct afib_sock *as)
{
	return min(afib_max_segs(as), as->peer.credits / 2);
}

/* Has everything sent completed?  If not, the completion that makes it
 * so wakes the caller.
 */
bool afib_tx_idle(struct afib_sock *as)
{
	bool idle;

	spin_lock_bh(&as->lock);
	idle = __afib_tx_idle(as);
	if (!idle)
		as->drain_wait = true;
	spin_unlock_bh(&as->lock);
	return idle;
}

/* Is sending over?  Caller holds as->lock; sk_err is left in place. */
bool __afib_tx_over(struct afib_sock *as)
{
	struct sock *sk = &as->sk;

	return READ_ONCE(sk->sk_err) ||
	       (READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN) ||
	       as->peer_gone || as->fin_sent || as->dead;
}

static bool afib_tx_ready(struct afib_sock *as, u32 segs)
{
	bool ready;

	spin_lock_bh(&as->lock);
	ready = __afib_tx_over(as) || __afib_tx_room(as, segs);
	if (!ready)
		__afib_tx_want(as, segs);
	spin_unlock_bh(&as->lock);
	return ready;
}

/* Take @segs send buffers and credits, or say why not. */
static int afib_tx_reserve(struct afib_sock *as, struct afib_buf **bufs,
			   u32 segs)
{
	struct sock *sk = &as->sk;
	int err = 0;
	u32 i;

	spin_lock_bh(&as->lock);
	if (__afib_tx_over(as)) {
		err = sock_error(sk) ?: -EPIPE;
	} else if (!__afib_tx_room(as, segs)) {
		/* Also for MSG_DONTWAIT: an edge-triggered poller waits. */
		__afib_tx_want(as, segs);
		sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
		err = -EAGAIN;
	} else {
		for (i = 0; i < segs; i++) {
			bufs[i] = &as->tx_bufs[(as->tx_head + i) %
					       as->tx_slots];
			bufs[i]->seq = as->tx_head + i + 1;
		}
		as->tx_head += segs;
		as->tx_credits -= segs;
		as->tx_busy = true;
	}
	spin_unlock_bh(&as->lock);
	return err;
}

/* Give back what afib_tx_reserve() took; nothing was posted. */
static void afib_tx_unreserve(struct afib_sock *as, u32 segs)
{
	bool wake;

	spin_lock_bh(&as->lock);
	as->tx_head -= segs;
	as->tx_credits += segs;
	as->tx_busy = false;
	if (!as->dead)
		__afib_ctrl_flush(as);	/* a FIN may wait for us */
	wake = __afib_tx_wake(as);
	spin_unlock_bh(&as->lock);
	if (wake)
		as->sk.sk_write_space(&as->sk);
}

/*
 * Post a reserved, filled message as one chain.  Only the last work
 * request of a message that brings the unsignaled buffers to half the
 * ring is signaled, so fewer than half of the ring's buffers wait for a
 * completion that will not come; with at least two messages' worth of
 * buffers a blocked sender always gets room.  A control send's
 * completion also frees what was posted before it (close() relies on
 * its FIN for that).
 */
static int afib_tx_post(struct afib_sock *as, struct afib_buf **bufs,
			u32 segs, size_t len)
{
	struct ib_device *ibdev;
	struct ib_send_wr *wr;
	u32 i, n, owed;
	int err = 0;

	spin_lock_bh(&as->lock);
	as->tx_busy = false;
	if (as->dead || as->peer_gone) {
		err = sock_error(&as->sk) ?: -EPIPE;
		goto out;
	}
	ibdev = as->dev->ibdev;
	owed = min_t(u32, as->rx_owed, AFIB_MAX_CREDITS);
	for (i = 0; i < segs; i++) {
		wr = &bufs[i]->swr;
		n = afib_seg_len(as, len, i);
		memset(wr, 0, sizeof(*wr));
		if (n) {
			ib_dma_sync_single_for_device(ibdev, bufs[i]->dma, n,
						      DMA_TO_DEVICE);
			bufs[i]->sge.length = n;
			wr->sg_list = &bufs[i]->sge;
			wr->num_sge = 1;
		}
		wr->wr_cqe = &bufs[i]->cqe;
		wr->opcode = IB_WR_SEND_WITH_IMM;
		wr->ex.imm_data = afib_imm_encode(AFIB_MT_DATA, i + 1 == segs,
						  i ? 0 : owed);
		if (i + 1 < segs)
			wr->next = &bufs[i + 1]->swr;
	}
	if (as->tx_unsig + segs >= as->tx_slots / 2)
		wr->send_flags = IB_SEND_SIGNALED;
	err = ib_post_send(as->qp, &bufs[0]->swr, NULL);
	if (err) {
		/* The QP is broken: the connection is over. */
		as->peer_gone = true;
		err = -ECONNRESET;
		goto out;
	}
	as->rx_owed -= owed;
	as->tx_posted = bufs[segs - 1]->seq;
	as->tx_unsig = wr->send_flags ? 0 : as->tx_unsig + segs;
out:
	if (!as->dead)
		__afib_ctrl_flush(as);	/* a FIN may wait for us */
	spin_unlock_bh(&as->lock);
	if (err == -ECONNRESET)
		afib_set_error(&as->sk, ECONNRESET);
	return err;
}

#define AFIB_SEND_FLAGS	(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_EOR | MSG_MORE | \
			 MSG_CMSG_COMPAT)

int afib_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	struct afib_buf *bufs[AFIB_MAX_MSG / AFIB_SEG_SIZE];
	u32 segs, i, n;
	long timeo;
	int err;

	if (msg->msg_flags & ~AFIB_SEND_FLAGS)
		return -EOPNOTSUPP;
	switch (READ_ONCE(sk->sk_state)) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		break;
	default:
		err = sock_error(sk);
		if (!err)
			err = READ_ONCE(as->peer_gone) ? -EPIPE : -ENOTCONN;
		goto out;
	}
	if (msg->msg_controllen) {
		/* An RDMA operation: the iovec is its local side. */
		err = afib_rdma_cmsg(as, msg, len);
		goto out;
	}
	if (len > min(AFIB_MAX_MSG, as->peer.max_msg))
		return -EMSGSIZE;
	segs = afib_msg_segs(len, as->seg_size);

	if (mutex_lock_interruptible(&as->tx_lock))
		return -ERESTARTSYS;
	timeo = sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT);
	/* A CREDIT sent after a wakeup may take the credit we woke for. */
	while ((err = afib_tx_reserve(as, bufs, segs)) == -EAGAIN && timeo) {
		err = afib_wait_cq(as, &timeo, afib_tx_ready(as, segs));
		if (err)
			break;
	}
	if (err)
		goto unlock;

	/* No spinlock: the pages stay ours even if afib_kill() runs. */
	for (i = 0; i < segs; i++) {
		n = afib_seg_len(as, len, i);
		if (n && copy_from_iter(bufs[i]->addr, n,
					&msg->msg_iter) != n) {
			afib_tx_unreserve(as, segs);
			err = -EFAULT;
			goto unlock;
		}
	}
	err = afib_tx_post(as, bufs, segs, len);
unlock:
	mutex_unlock(&as->tx_lock);
out:
	if (err == -EPIPE && !(msg->msg_flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	return err ?: len;
}

/* Anything for a reader: a message, an error or the end of the stream. */
static bool afib_rx_ready(struct afib_sock *as)
{
	return afib_rx_readable(as) || READ_ONCE(as->sk.sk_err) ||
	       (READ_ONCE(as->sk.sk_shutdown) & RCV_SHUTDOWN);
}

/*
 * Take the first complete message off rx_queue into @local, synced for
 * the CPU; returns its length, or -1 if there is none.
 */
static long afib_rx_detach(struct afib_sock *as, struct list_head *local,
			   u32 *nbufs)
{
	struct afib_buf *buf, *eor = NULL;
	long total = 0;

	spin_lock_bh(&as->lock);
	if (as->rx_msgs && !as->dead) {
		*nbufs = 0;
		list_for_each_entry(buf, &as->rx_queue, list) {
			if (buf->len)
				ib_dma_sync_single_for_cpu(as->dev->ibdev,
							   buf->dma, buf->len,
							   DMA_FROM_DEVICE);
			total += buf->len;
			++*nbufs;
			if (buf->eor) {
				eor = buf;
				break;
			}
		}
	}
	if (eor)
		list_cut_position(local, &as->rx_queue, &eor->list);
	spin_unlock_bh(&as->lock);
	return eor ? total : -1;
}

#define AFIB_RECV_FLAGS	(MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC | MSG_WAITALL | \
			 MSG_CMSG_COMPAT | MSG_NOSIGNAL | MSG_ERRQUEUE)

int afib_recvmsg(struct socket *sock, struct msghdr *msg, size_t len,
		 int flags)
{
	struct sock *sk = sock->sk;
	struct afib_sock *as = afib_sk(sk);
	struct afib_buf *buf;
	u32 copied = 0, n, nbufs, imm = 0;
	bool has_imm = false;
	LIST_HEAD(local);
	long timeo, total;
	int err;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (flags & ~AFIB_RECV_FLAGS)
		return -EINVAL;
	if (flags & MSG_ERRQUEUE)
		return afib_rdma_recv_errqueue(as, msg, len);
	switch (READ_ONCE(sk->sk_state)) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		break;
	case TCP_CLOSE:
		if (READ_ONCE(as->peer_gone))
			break;
		fallthrough;
	default:
		return -ENOTCONN;
	}

	if (mutex_lock_interruptible(&as->rx_lock))
		return -ERESTARTSYS;
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	err = afib_rx_ready(as) ? 0 :
	      afib_wait_cq(as, &timeo, afib_rx_ready(as));
	if (err)
		goto unlock;

	/* rx_lock makes us the message's only consumer. */
	total = afib_rx_detach(as, &local, &nbufs);
	if (total < 0) {
		/* Data first, then errors, then the end of the stream. */
		err = sock_error(sk);
		goto unlock;
	}

	/* No spinlock: the pages stay ours even if afib_kill() runs. */
	list_for_each_entry(buf, &local, list) {
		if (buf->has_imm) {
			has_imm = true;
			imm = buf->imm;
		}
		n = min_t(u32, buf->len, len - copied);
		if (!n)
			continue;
		if (copy_to_iter(buf->addr, n,
				 &msg->msg_iter) != n) {
			err = -EFAULT;
			break;
		}
		copied += n;
	}

	spin_lock_bh(&as->lock);
	if (as->dead) {
		/* afib_kill() emptied the queue; the buffers are idle. */
	} else if (flags & MSG_PEEK) {
		list_splice(&local, &as->rx_queue);
	} else {
		as->rx_msgs--;
		as->rx_bytes -= total;
		__afib_repost(as, &local, nbufs);
		__afib_ctrl_flush(as);
	}
	spin_unlock_bh(&as->lock);

	if (!err && has_imm)
		put_cmsg(msg, SOL_AFIB, AFIB_CMSG_IMM, sizeof(imm), &imm);
	if (!err) {
		msg->msg_flags |= MSG_EOR;
		if (total > len)
			msg->msg_flags |= MSG_TRUNC;
		err = (flags & MSG_TRUNC) ? total : copied;
	}
unlock:
	mutex_unlock(&as->rx_lock);
	return err;
}

static bool afib_seq_readable(struct afib_sock *as)
{
	return READ_ONCE(as->rx_msgs);
}

static int afib_seq_addr(struct afib_sock *as, const struct sockaddr *uaddr,
			 int len, struct sockaddr_storage *out, int *family)
{
	return afib_addr_to_cm(uaddr, len, out, family);
}

const struct afib_xport afib_seq_xport = {
	.ops		= &afib_seqpacket_ops,
	.prot		= &afib_proto,
	.type		= SOCK_SEQPACKET,
	.addr		= afib_seq_addr,
	.qp_size	= afib_seq_qp_size,
	.rx_done	= afib_rx_done,
	.tx_done	= afib_tx_done,
	.ctrl_flush	= afib_seq_ctrl_flush,
	.send_ctrl	= afib_seq_send_ctrl,
	.hello		= afib_seq_hello,
	.parse		= afib_seq_parse,
	.connected	= afib_seq_connected,
	.readable	= afib_seq_readable,
	.unread		= afib_seq_readable,
	.poll_segs	= afib_seq_poll_segs,
	.rdma_room	= afib_seq_rdma_room,
	.rdma_posted	= afib_seq_rdma_posted,
	.rdma_fail	= afib_conn_error,
};
