/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SDP per-connection state, part of struct afib_sock.
 *
 * Sequence numbers, credits and the receive stream are protected by
 * afib_sock.lock; the options by lock_sock().  The ends of the stream use
 * afib_sock's flags: fin_rcvd (DisConn received), fin_pending and
 * fin_sent (ours), peer_gone (disconnected or reset).
 */
#ifndef _SDP_CONN_H
#define _SDP_CONN_H

#include <linux/list.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <rdma/ib_verbs.h>
#include "sdp_proto.h"

struct afib_buf;

/* sdp_conn.urg */
enum {
	SDP_URG_NONE,	/* no urgent byte announced */
	SDP_URG_VALID,	/* the urgent byte at urg_pos is unread */
	SDP_URG_READ,	/* it was read with MSG_OOB (or passed inline) */
};

/**
 * struct sdp_conn - SDP state of a connection.
 * @tx_mseq: mseq of our next message.
 * @rx_mseq: mseq of the last message received (0: the Hello).
 * @rx_ack: mseq_ack of the last message received.
 * @tx_unposted: payload bytes queued on the send ring, not posted yet.
 * @rx_posted: receive buffers posted now.
 * @rx_read: the reader freed a data buffer since our last message.
 * @rx_grow: the peer ran out of credits while streaming: the reader
 *	should post more buffers (sdp_rx_grow()).
 * @adv_bufs: what the peer believes we have posted: bufs of our last
 *	message less the messages received since.
 * @peer_rcvsz: the peer's receive buffer size: our largest message,
 *	BSDH included.
 * @rcv_want: the size the peer asked for with ChRcvBuf, 0 if none: new
 *	buffers have it, and once no smaller or larger one is posted the
 *	ChRcvBufAck goes and afib_sock.seg_size becomes it.
 * @rx_park: consumed buffers of the old size, waiting for their new page
 *	(sdp_rx_refill()).
 * @rx_spare: receive buffers without a page: a resize to bigger ones
 *	left them out to stay within SO_RCVBUF; sdp_rx_grow() uses them
 *	first.
 * @ack_due: a ChRcvBufAck waits for a credit.
 * @sendsm_due: a SendSM (refusing a SrcAvail) waits for a credit.
 * @chrcvbuf_out: our ChRcvBuf waits for its acknowledgment.
 * @ipv: IP version of the connection, SDP_IPV4 or SDP_IPV6.
 * @write_imm: the peer's Hello or HelloAck had SDP_CAP_WRITE_IMM (ours
 *	always has it): RDMA writes with immediate may go both ways.
 * @rx_imms: immediates of the peer's RDMA writes on afib_sock.rx_queue,
 *	unread (sdp_rdma.c).
 * @rx_seq: stream offset of the next byte to read.
 * @rx_end: stream offset after the last byte received.
 * @urg_pos: stream offset of the urgent byte, if @urg is not NONE.
 * @urg_byte: its value.
 * @urg: SDP_URG_*.
 * @abort_rcvd: the peer sent AbortConn.
 * @rx_over: no receive completion can come any more (the receive queue
 *	was flushed after the disconnect): EOF or reset are final.
 * @pend_more: the last write had MSG_MORE: a part-filled last buffer
 *	waits for more.
 * @pend_until: jiffies when a corked or MSG_MORE buffer goes anyway.
 * @tx_acked: afib_buf.bytes of the last completed send: bytes the peer
 *	took in, for SIOCOUTQ.
 * @tx_bytes: payload bytes posted, a free-running count.
 * @tx_held: a part-filled last buffer waits (Nagle, TCP_CORK, MSG_MORE).
 * @zcopy_thresh: writes of at least this many bytes gather from the
 *	user's pages instead of copying (AFIB_SDP_ZCOPY_THRESH), 0: never.
 * @nodelay: TCP_NODELAY.
 * @cork: TCP_CORK.
 * @keepidle: TCP_KEEPIDLE, seconds.
 * @keepintvl: TCP_KEEPINTVL, seconds.
 * @keepcnt: TCP_KEEPCNT.
 * @probes: keepalive probes sent without an answer.
 * @syncnt: TCP_SYNCNT, 0 for the sysctl's.
 * @user_timeout: TCP_USER_TIMEOUT, ms (kept for getsockopt()).
 * @conn_end: jiffies when connect() gives up, as TCP after its SYN
 *	retries.
 * @rx_stamp: jiffies of the last message received.
 * @work: the cork timer and keepalive.
 * @close_work: finishes a close() in the background.
 * @close_end: jiffies when it gives up waiting for the peer.
 * @rx_end_cqe: completion of the marker that closes the receive queue.
 * @rx_end_wr: that marker.
 * @rx_end_posted: it was posted.
 * @list: on sdp_socks, for /proc/net/sdp.
 * @fallback: AFIB_SDP_FALLBACK_* bits of this socket.
 * @fb_queued: a failed connect waits for sdp_fb_work().
 * @fb_swapped: the file points at @tcp now (sdp_fb_swap()).
 * @fb_err: why the SDP attempt failed, for when TCP cannot be tried.
 * @tcp: the kernel TCP socket this one fell back to; set once
 *	(smp_store_release()), released with the socket.
 * @tcp_new: TCP socket made ready by connect() for a fallback.
 * @tcp_lis: TCP listener on our port (AFIB_SDP_FALLBACK_ACCEPT); it
 *	shares our wait queue.
 * @fb_dst: where connect() was asked to go, as TCP takes it.
 * @fb_dst_len: its length.
 * @fb_work: connects @tcp_new once the SDP attempt failed.
 * @fb_cb: @tcp's callbacks before sdp_fb_attach() took them over.
 */
struct sdp_conn {
	u32			tx_mseq;
	u32			rx_mseq;
	u32			rx_ack;
	u32			tx_unposted;
	u32			rx_posted;
	bool			rx_read;
	bool			rx_grow;
	u32			adv_bufs;
	u32			peer_rcvsz;
	u32			rcv_want;
	struct list_head	rx_park;
	struct list_head	rx_spare;
	bool			ack_due;
	bool			sendsm_due;
	bool			chrcvbuf_out;
	u8			ipv;
	bool			write_imm;
	u32			rx_imms;
	u32			rx_seq;
	u32			rx_end;
	u32			urg_pos;
	u8			urg_byte;
	u8			urg;
	bool			abort_rcvd;
	bool			rx_over;
	bool			pend_more;
	unsigned long		pend_until;
	u32			tx_acked;
	u32			tx_bytes;
	bool			tx_held;
	u32			zcopy_thresh;
	bool			nodelay;
	bool			cork;
	int			keepidle;
	int			keepintvl;
	int			keepcnt;
	int			probes;
	int			syncnt;
	int			user_timeout;
	unsigned long		conn_end;
	unsigned long		rx_stamp;
	struct delayed_work	work;
	struct delayed_work	close_work;
	unsigned long		close_end;
	struct ib_cqe		rx_end_cqe;
	struct ib_recv_wr	rx_end_wr;
	bool			rx_end_posted;
	struct list_head	list;
	u8			fallback;
	bool			fb_queued;
	bool			fb_swapped;
	int			fb_err;
	struct socket		*tcp;
	struct socket		*tcp_new;
	struct socket		*tcp_lis;
	struct sockaddr_storage	fb_dst;
	int			fb_dst_len;
	struct work_struct	fb_work;
	struct {
		void (*state_change)(struct sock *sk);
		void (*data_ready)(struct sock *sk);
		void (*write_space)(struct sock *sk);
		void (*error_report)(struct sock *sk);
	} fb_cb;
};

#endif /* _SDP_CONN_H */
