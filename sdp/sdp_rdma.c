// SPDX-License-Identifier: GPL-2.0
/*
 * RDMA through the socket API on SDP sockets.
 *
 * The interface is SOCK_SEQPACKET's (af_ib/afib_rdma.c): memory regions
 * with setsockopt(SOL_AFIB, AFIB_MR_REG / AFIB_MR_DEREG), one operation
 * per sendmsg() control message, completions on the error queue.  Here
 * are the parts that are SDP's own.
 *
 * Order.  An operation is posted only once every byte queued before it
 * is posted (a part-filled buffer waiting for more is sent at once), so
 * that it takes its place in the stream: data written before an RDMA
 * write reaches the peer first, data written after it reaches the peer
 * after the written bytes.
 *
 * Room.  An operation takes an entry of the send ring, as a data message
 * does, and its completion (always signaled) frees the ring up to it; the
 * send queue thus needs no room of its own for operations.  A write with
 * immediate consumes one of the peer's receive buffers: it takes a send
 * credit, never the last one (CA4-82), and a message sequence number, as
 * a message does, so both sides' credit arithmetic stays right
 * (sdp_tx_credits()).  It carries no BSDH, so it tells the peer nothing
 * about our buffers.
 *
 * Immediates.  The receiver queues the buffer of a write with immediate
 * on the stream as an empty mark.  recvmsg() returns the data before a
 * mark first; one that starts at a mark returns 0 bytes and the value
 * in an AFIB_CMSG_IMM control message, and takes the mark (MSG_PEEK
 * leaves it).  The mark makes the socket readable.  Only a peer whose
 * Hello or HelloAck has SDP_CAP_WRITE_IMM is sent one (EOPNOTSUPP
 * otherwise); ours always has it.
 */
#include "sdp.h"

/**
 * sdp_rdma_room() - afib_xport.rdma_room of SDP.
 * @as: the socket; caller holds as->lock.
 * @type: the operation, AFIB_CMSG_*.
 *
 * Return: 0, -EAGAIN with the writers' wakeup armed (a completion or a
 * message from the peer wakes them), or -EOPNOTSUPP for a write with
 * immediate to a peer without SDP_CAP_WRITE_IMM.
 */
int sdp_rdma_room(struct afib_sock *as, u32 type)
{
	bool imm = type == AFIB_CMSG_RDMA_WRITE_IMM;

	lockdep_assert_held(&as->lock);
	if (imm && !as->sdp.write_imm)
		return -EOPNOTSUPP;
	/* After the data queued before it: send that first. */
	if (as->tx_posted != as->tx_head && !as->tx_busy)
		__sdp_push(as);
	if (as->tx_posted != as->tx_head || as->tx_busy ||
	    !__afib_tx_space(as) ||
	    (imm && !sdp_can_send(as->tx_credits, SDP_MID_DATA, 1))) {
		__afib_tx_want(as, 1);
		return -EAGAIN;
	}
	return 0;
}

/**
 * sdp_rdma_posted() - afib_xport.rdma_posted of SDP.
 * @as: the socket; caller holds as->lock.
 * @type: the operation just posted.
 * @bytes: payload bytes posted before it, for SIOCOUTQ.
 *
 * Return: the send ring position of the entry it took.
 */
u32 sdp_rdma_posted(struct afib_sock *as, u32 type, u32 *bytes)
{
	struct afib_buf *buf = &as->tx_bufs[as->tx_head % as->tx_slots];

	lockdep_assert_held(&as->lock);
	/* Nothing queued (sdp_rdma_room()): the entry is posted at once. */
	buf->seq = ++as->tx_head;
	buf->len = 0;
	buf->flags = 0;
	as->tx_posted = as->tx_head;
	as->tx_unsig = 0;
	if (type == AFIB_CMSG_RDMA_WRITE_IMM) {
		as->tx_credits--;
		as->sdp.tx_mseq++;
	}
	*bytes = as->sdp.tx_bytes;
	return as->tx_head;
}

/**
 * __sdp_rx_imm() - the peer's RDMA write with immediate took @buf.
 * @as: the socket; caller holds as->lock.
 * @buf: the receive buffer, no longer posted.
 * @imm: the immediate value, host order.
 *
 * It counts as one of the peer's messages (mseq) and goes on the stream
 * as a mark.
 *
 * Return: 0, or -EPROTO when nothing may come any more: after DisConn,
 * or to a closed socket (a reset, as for data).
 */
int __sdp_rx_imm(struct afib_sock *as, struct afib_buf *buf, u32 imm)
{
	struct sdp_conn *c = &as->sdp;

	lockdep_assert_held(&as->lock);
	if (as->fin_rcvd || sock_flag(&as->sk, SOCK_DEAD))
		return -EPROTO;
	c->rx_mseq++;
	c->rx_stamp = jiffies;
	buf->has_imm = true;
	buf->imm = imm;
	buf->off = 0;
	buf->len = 0;
	list_add_tail(&buf->list, &as->rx_queue);
	c->rx_imms++;
	return 0;
}

/**
 * __sdp_rx_imm_take() - the reader took the mark @buf, first on the stream.
 * @as: the socket; caller holds as->lock, socket not dead.
 * @buf: the mark.
 */
void __sdp_rx_imm_take(struct afib_sock *as, struct afib_buf *buf)
{
	lockdep_assert_held(&as->lock);
	list_del_init(&buf->list);
	buf->has_imm = false;
	as->sdp.rx_imms--;
	as->sdp.rx_read = true;
	__sdp_repost(as, buf);
	sdp_ctrl_flush(as);
}

/**
 * sdp_rdma_opt() - is @optname an RDMA option at level SOL_AFIB?
 * @optname: the option.
 *
 * Return: true for AFIB_MR_REG, AFIB_MR_DEREG and AFIB_RDMA_ASYNC.
 */
bool sdp_rdma_opt(int optname)
{
	return optname == AFIB_MR_REG || optname == AFIB_MR_DEREG ||
	       optname == AFIB_RDMA_ASYNC;
}

#define SDP_RDMA_FLAGS	(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_CMSG_COMPAT)

/**
 * sdp_rdma_sendmsg() - sendmsg() with an RDMA operation on SDP.
 * @sock: a socket that did not fall back.
 * @msg: the message, with a cmsg at SOL_AFIB.
 * @len: its iovec's length: the operation's local side.
 *
 * Return: as afib_rdma_cmsg(); EPIPE (with SIGPIPE unless MSG_NOSIGNAL)
 * once the connection is over.
 */
int sdp_rdma_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct afib_sock *as = afib_sk(sock->sk);
	struct sock *sk = sock->sk;
	int err;

	if (msg->msg_flags & ~SDP_RDMA_FLAGS)
		return -EOPNOTSUPP;
	switch (READ_ONCE(sk->sk_state)) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		err = afib_rdma_cmsg(as, msg, len);
		break;
	default:
		err = sock_error(sk);
		if (!err)
			err = READ_ONCE(as->peer_gone) ? -EPIPE : -ENOTCONN;
		break;
	}
	if (err == -EPIPE && !(msg->msg_flags & MSG_NOSIGNAL))
		send_sig(SIGPIPE, current, 0);
	return err;
}
