/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SDP private definitions.
 *
 * An SDP socket is a struct afib_sock of type SOCK_STREAM whose afib_xport
 * is sdp_xport: it shares the rdma_cm handling, the QP, CQ and buffer
 * management, the send ring and the teardown with SOCK_SEQPACKET, and has
 * its own wire protocol (sdp_proto.h), data path and socket calls.
 *
 * Buffers: every receive buffer holds one message, BSDH first; the size
 * announced to the peer is afib_sock.seg_size, which ChRcvBuf changes
 * (sdp_rx.c).  A send buffer carries one message of at most
 * sdp_max_payload() bytes after its BSDH.  Locking as in afib.h.
 */
#ifndef _SDP_H
#define _SDP_H

#include "afib.h"

/*
 * Receive buffers, BSDH included: their size at first; how many an idle
 * connection posts, and how many are added at a time, up to SO_RCVBUF
 * (at most SDP_MAX_BUFS), when the peer streams.  A sender whose writes
 * are larger than the peer's buffers asks for SDP_BIG_SIZE ones
 * (ChRcvBuf); a receiver posts buffers of up to SDP_MAX_SIZE.
 */
#define SDP_SEG_SIZE		2048U
#define SDP_BIG_SIZE		32768U
#define SDP_MAX_SIZE		65536U
#define SDP_RX_INIT		(SDP_MIN_BUFS + 1)
#define SDP_RX_GROW		4U
#define SDP_MAX_BUFS		64U

/* Bytes of mapped header each control send has: BSDH + extended. */
#define SDP_CTRL_SIZE		32U

/* Writes at least this large are sent from the user's pages, not copied. */
#define SDP_ZCOPY_THRESH	(64 * 1024)

/* The longest a corked or MSG_MORE write waits, as TCP_CORK. */
#define SDP_CORK_TIMEOUT	(HZ / 5)

/*
 * How long a closed socket goes on sending what it was given (the
 * default of tcp_fin_timeout) and how often it looks.
 */
#define SDP_FIN_TIMEOUT		(60 * HZ)
#define SDP_CLOSE_POLL		msecs_to_jiffies(10)

extern const struct proto_ops sdp_stream_ops;

/* Our largest message's payload: the peer's buffers, ours at most. */
static inline u32 sdp_max_payload(const struct afib_sock *as)
{
	return min(as->sdp.peer_rcvsz, SDP_MAX_SIZE) -
	       (u32)sizeof(struct sdp_bsdh);
}

/* The payload send buffer @buf can carry. */
static inline u32 sdp_buf_payload(const struct afib_sock *as,
				  const struct afib_buf *buf)
{
	return min_t(u32, sdp_max_payload(as),
		     buf->size - sizeof(struct sdp_bsdh));
}

/* sdp_main.c */
int sdp_create(struct net *net, struct socket *sock, int protocol, int kern,
	       int family);
int sdp_init(void);
void sdp_exit(void);
int sdp_keep_value(struct afib_sock *as, int optname);
int sdp_tcp_state(struct afib_sock *as);

/* sdp_fallback.c: falling back to kernel TCP */
void sdp_fb_init(struct afib_sock *as);
unsigned long sdp_fb_timeout(struct afib_sock *as, unsigned long tmo);
struct socket *sdp_fb_tcp(struct socket *sock);
int sdp_fb_prepare(struct afib_sock *as, const struct sockaddr *uaddr,
		   int len);
bool sdp_connect_failed(struct afib_sock *as, int err);
void sdp_fb_work(struct work_struct *work);
bool sdp_fb_connect(struct socket *sock, int err);
void sdp_fb_connected(struct afib_sock *as);
int sdp_fb_listen(struct socket *sock, int backlog);
struct socket *sdp_fb_lis(struct afib_sock *as);
bool sdp_fb_acceptable(struct afib_sock *lis);
int sdp_fb_accept(struct afib_sock *lis, struct socket *newsock, bool kern);
void sdp_fb_release(struct afib_sock *as);
void sdp_fb_unlisten(struct afib_sock *as);
int sdp_fb_init_sysctl(void);
void sdp_fb_exit_sysctl(void);

/* sdp_cm.c: connection setup */
void sdp_qp_size(struct afib_sock *as);
void sdp_qp_ready(struct afib_sock *as);
int sdp_hello(struct afib_sock *as, void *buf, bool reply);
int sdp_parse(struct afib_sock *as, const void *data, u8 len, bool reply,
	      union afib_peer *peer);
int sdp_connected(struct afib_sock *as, const union afib_peer *peer);
void sdp_disconnected(struct afib_sock *as);

/* sdp_tx.c: sending */
int sdp_sendmsg(struct socket *sock, struct msghdr *msg, size_t len);
void sdp_tx_done(struct ib_cq *cq, struct ib_wc *wc);
void sdp_ctrl_flush(struct afib_sock *as);
int sdp_send_ctrl(struct afib_sock *as, enum afib_msg_type type);
int __sdp_send_ctrl(struct afib_sock *as, u8 mid, u32 ext);
void __sdp_push(struct afib_sock *as);
void sdp_push(struct afib_sock *as);
void sdp_work(struct work_struct *work);
void sdp_work_at(struct afib_sock *as, unsigned long delay);
void sdp_keepalive(struct sock *sk, int on);

/* sdp_rx.c: receiving */
int sdp_recvmsg(struct socket *sock, struct msghdr *msg, size_t len,
		int flags);
void sdp_rx_grow(struct afib_sock *as);
void sdp_rx_refill(struct afib_sock *as);
void __sdp_rx_resized(struct afib_sock *as);
int __sdp_reset(struct afib_sock *as, int err);
void sdp_conn_fail(struct afib_sock *as, int err);
void sdp_rx_done(struct ib_cq *cq, struct ib_wc *wc);
bool sdp_readable(struct afib_sock *as);
bool sdp_unread(struct afib_sock *as);
u32 sdp_inq(struct afib_sock *as);
u32 __sdp_siocinq(struct afib_sock *as);
void __sdp_repost(struct afib_sock *as, struct afib_buf *buf);

/* sdp_rdma.c: RDMA operations */
int sdp_rdma_room(struct afib_sock *as, u32 type);
u32 sdp_rdma_posted(struct afib_sock *as, u32 type, u32 *bytes);
int __sdp_rx_imm(struct afib_sock *as, struct afib_buf *buf, u32 imm);
void __sdp_rx_imm_take(struct afib_sock *as, struct afib_buf *buf);
bool sdp_rdma_opt(int optname);
int sdp_rdma_sendmsg(struct socket *sock, struct msghdr *msg, size_t len);

/* sdp_proc.c: /proc/net/sdp */
int sdp_proc_init(void);
void sdp_proc_exit(void);
void sdp_sock_link(struct afib_sock *as);
void sdp_sock_unlink(struct afib_sock *as);
void sdp_stat_fallback(struct net *net, bool accepted);

#endif /* _SDP_H */
