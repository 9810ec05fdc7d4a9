/* SPDX-License-Identifier: GPL-2.0 */
/*
 * af_ib private definitions.
 *
 * Locking, outermost first:
 *   rdma_cm handler_mutex (held around every CM event handler)
 *   lock_sock()          connection state, bind/listen/connect/accept
 *   afib_sock.rx_lock    one receiver at a time (a message is read whole)
 *   afib_sock.tx_lock    one sender at a time (a message is posted whole)
 *   afib_sock.mr_mutex   one MR registration or deregistration at a
 *                        time (afib_rdma.c)
 *   afib_sock.qp_lock    creation and destruction of the QP, CQ and
 *                        buffer mappings; getsockopt()'s view of them;
 *                        mapping and posting of RDMA operations
 *                        (then afib_sock.cm_lock, or afib_dev.lock)
 *   afib_sock.mr_lock    release of an MR's verbs resources; taken by
 *                        completion handlers too
 *   afib_sock.lock       spinlock, BH: credits, buffers, posting, accept
 *                        queue
 *
 * Process context never calls rdma_destroy_id(), rdma_connect() or
 * rdma_accept() with lock_sock() held: those take the handler_mutex.
 * Completion handlers run in process context, either in a reader or
 * writer that sleeps in recvmsg()/sendmsg() and polls the CQ itself when
 * the CQ event wakes it, or else in afib_sock.poll_work; they take only
 * afib_sock.lock.  See afib_cq_poll().
 * Work requests are posted only under afib_sock.lock, after checking
 * afib_sock.dead, so afib_kill() never waits for a reader or a writer
 * (who may be stuck in a page fault on the user's buffer).
 */
#ifndef _AFIB_H
#define _AFIB_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/xarray.h>
#include <linux/spinlock.h>
#include <linux/kref.h>
#include <linux/sched/signal.h>
#include <net/sock.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>
#include <rdma/ib.h>
#include <uapi/linux/af_ib.h>

#include "afib_proto.h"
#include "sdp_conn.h"

struct afib_sock;

/**
 * union afib_peer - what a peer's connection request or reply told us.
 * @seq: SOCK_SEQPACKET hello.
 * @hh: SDP Hello (a request).
 * @hah: SDP HelloAck (a reply).
 */
union afib_peer {
	struct afib_hello_host	seq;
	struct sdp_hh_host	hh;
	struct sdp_hah_host	hah;
};

/* Largest private data a transport puts in a request or reply. */
#define AFIB_PRIVATE_MAX	32

/**
 * struct afib_xport - what a socket type does its own way.
 * @ops: its socket calls.
 * @prot: its struct proto.
 * @type: SOCK_SEQPACKET or SOCK_STREAM.
 * @protocol: sk_protocol of its sockets.
 * @bind_later: bind() with SO_REUSEADDR and a port binds at listen() or
 *	connect(), see afib_bind_probe().
 * @hold_requests: a listener whose backlog is full holds connection
 *	requests until accept() makes room, as TCP, instead of refusing.
 * @ctrl_size: bytes of the mapped header each control send carries, 0
 *	for none (SOCK_SEQPACKET sends only an immediate value).
 * @init: set up a new socket; optional.
 * @destruct: the socket is freed; optional.
 * @killed: afib_kill() released the verbs resources; optional.
 * @kill: replaces afib_kill() for a type with verbs resources of its own
 *	(SOCK_DGRAM); optional.
 * @connecting: connect() started; optional.
 * @connect_failed: the attempt failed with positive @err; lock_sock()
 *	held.  Return true to take it over (the socket stays in SYN_SENT and
 *	the transport settles it); optional.
 * @close: close() of a connection in @state: return true to finish it
 *	in the background (afib_finish()) instead of afib_teardown();
 *	optional.
 * @addr: check a user address and convert it for rdma_cm, as
 *	afib_addr_to_cm().
 * @qp_size: choose seg_size, rx_slots, tx_slots, rx_filled and tx_filled
 *	before afib_qp_create() allocates the queues.
 * @qp_ready: the buffers are posted; last step of afib_qp_create().
 * @rx_done: completion handler of the receive buffers.
 * @tx_done: completion handler of the send buffers.
 * @ctrl_flush: send the control messages that are due; as->lock held.
 * @send_ctrl: queue FIN or send ABORT, as afib_send_ctrl().
 * @hello: write our request (@reply false) or reply private data into
 *	@buf (AFIB_PRIVATE_MAX bytes); returns its length.
 * @parse: check the private data of a peer's request (@reply false; @as
 *	is the listener) or reply; -EPROTO rejects it.
 * @connected: take what @parse found once the QP exists.
 * @disconnected: the peer or the fabric ended the connection; optional.
 *	With it the socket's state is left alone (the transport sets it).
 * @readable: data for recv(), for poll()'s EPOLLIN.
 * @unread: data nobody read, so close() must abort.
 * @poll_segs: send segments that must fit for poll()'s EPOLLOUT.
 * @rdma_room: may the RDMA operation of type @type (AFIB_CMSG_*) be
 *	posted now, behind everything sent before it?  0, -EAGAIN with the
 *	writers' wakeup armed, or why not; as->lock held.  NULL: the type
 *	does no RDMA (EOPNOTSUPP).
 * @rdma_posted: account for the operation of type @type just posted;
 *	as->lock held.  Returns the send ring position whose completion
 *	the operation's completion stands for, and in *@bytes the SDP
 *	payload bytes posted by then (see __afib_tx_complete()).
 * @rdma_fail: an RDMA work request failed and broke the connection:
 *	report @err (positive errno); no locks held.
 */
struct afib_xport {
	const struct proto_ops	*ops;
	struct proto		*prot;
	int			type;
	int			protocol;
	bool			hold_requests;
	bool			bind_later;
	u32			ctrl_size;
	void (*init)(struct afib_sock *as);
	void (*destruct)(struct afib_sock *as);
	void (*killed)(struct afib_sock *as);
	void (*kill)(struct afib_sock *as, int err);
	void (*connecting)(struct afib_sock *as);
	bool (*connect_failed)(struct afib_sock *as, int err);
	bool (*close)(struct afib_sock *as, int state);
	int (*addr)(struct afib_sock *as, const struct sockaddr *uaddr,
		    int len, struct sockaddr_storage *out, int *family);
	void (*qp_size)(struct afib_sock *as);
	void (*qp_ready)(struct afib_sock *as);
	void (*rx_done)(struct ib_cq *cq, struct ib_wc *wc);
	void (*tx_done)(struct ib_cq *cq, struct ib_wc *wc);
	void (*ctrl_flush)(struct afib_sock *as);
	int (*send_ctrl)(struct afib_sock *as, enum afib_msg_type type);
	int (*hello)(struct afib_sock *as, void *buf, bool reply);
	int (*parse)(struct afib_sock *as, const void *data, u8 len,
		     bool reply, union afib_peer *peer);
	int (*connected)(struct afib_sock *as, const union afib_peer *peer);
	void (*disconnected)(struct afib_sock *as);
	bool (*readable)(struct afib_sock *as);
	bool (*unread)(struct afib_sock *as);
	u32 (*poll_segs)(struct afib_sock *as);
	int (*rdma_room)(struct afib_sock *as, u32 type);
	u32 (*rdma_posted)(struct afib_sock *as, u32 type, u32 *bytes);
	void (*rdma_fail)(struct afib_sock *as, int err);
};

/**
 * struct afib_dev - per RDMA device state, published by the ib_client.
 * @ibdev: the device.
 * @pd: protection domain shared by every socket on the device.
 * @ref: one per socket using the device, plus the client's.
 * @socks: sockets holding QPs on this device (afib_sock.dev_node).
 * @lock: protects @socks and @dead.
 * @dead: the device is being removed; no new users.
 * @done: completed when @ref drops to zero.
 * @list: on afib_devices.
 */
struct afib_dev {
	struct ib_device	*ibdev;
	struct ib_pd		*pd;
	struct kref		ref;
	struct list_head	socks;
	struct mutex		lock;		/* @socks, @dead */
	bool			dead;
	struct completion	done;
	struct list_head	list;
};

/* Pages a zero-copy send can gather from: 64 KiB, unaligned. */
#define AFIB_ZC_PAGES		17

/**
 * struct afib_zc - user pages an SDP send gathers from, not copied.
 * @npages: pages pinned.
 * @mapped: @sge[1..@npages] are mapped for the device.
 * @pages: the pages, with a reference each.
 * @sge: the header (the send buffer's memory), then the pages.
 */
struct afib_zc {
	u32			npages;
	bool			mapped;
	struct page		*pages[AFIB_ZC_PAGES];
	struct ib_sge		sge[AFIB_ZC_PAGES + 1];
};

/**
 * struct afib_buf - one segment buffer, receive or send.
 * @cqe: completion entry of the work request using it.
 * @list: on the received list (receive buffers).
 * @rwr: receive work request (receive buffers).
 * @swr: send work request (send buffers).
 * @sge: the one scatter/gather entry of @rwr or @swr.
 * @dma: DMA address of @addr; 0 when unmapped.
 * @addr: the memory: whole pages, or a kmalloc() block below a page.
 * @size: bytes at @addr; SDP's buffers change size (ChRcvBuf).
 * @len: received length (receive buffers); payload bytes (SDP send
 *	buffers).
 * @off: where the unread payload starts (SDP receive buffers).
 * @seq: ring position after this buffer (send buffers).
 * @bytes: SDP payload bytes posted up to and including this buffer, a
 *	free-running count (send buffers).
 * @eor: end of message (receive buffers).
 * @flags: BSDH flags of an SDP send buffer; urgent data ends it, no
 *	more is added.
 * @posted: an SDP receive buffer is on the receive queue.
 * @zc: an SDP send buffer's payload is user pages, not a copy; its
 *	memory only holds the BSDH.
 * @has_imm: a receive buffer took an RDMA write with immediate: an empty
 *	message carrying @imm.
 * @imm: that immediate value, host order.
 */
struct afib_buf {
	struct ib_cqe		cqe;
	struct list_head	list;
	union {
		struct ib_recv_wr	rwr;
		struct ib_send_wr	swr;
	};
	struct ib_sge		sge;
	u64			dma;
	void			*addr;
	u32			size;
	u32			len;
	u32			off;
	u32			seq;
	u32			bytes;
	bool			eor;
	u8			flags;
	bool			posted;
	struct afib_zc		*zc;
	bool			has_imm;
	u32			imm;
};

/**
 * struct afib_rdma_req - an RDMA operation as sendmsg() asked for it.
 * @type: AFIB_CMSG_RDMA_WRITE ... AFIB_CMSG_CMP_SWAP.
 * @op: the cmsg's data.
 */
struct afib_rdma_req {
	u32			type;
	struct afib_rdma_op	op;
};

/* afib_sock.cq_flags */
enum {
	AFIB_CQ_BUSY,	/* someone polls the CQ, or there is none to poll */
	AFIB_CQ_WAITER,	/* a sleeping reader or writer will poll it */
	AFIB_CQ_AGAIN,	/* a poll was asked for while one ran */
};

/* Payload-less control sends in flight at once. */
#define AFIB_CTRL_MAX		4U

/**
 * struct afib_ctrl - a control send in flight.
 * @cqe: its completion entry.
 * @seq: send ring position posted before it: its completion (the send
 *	queue completes in order) frees the ring up to there.
 * @bytes: afib_buf.bytes of the buffer before it (SDP).
 * @hdr: the header it sends (SDP), afib_xport.ctrl_size bytes.
 * @sge: where @hdr is mapped.
 */
struct afib_ctrl {
	struct ib_cqe		cqe;
	u32			seq;
	u32			bytes;
	void			*hdr;
	struct ib_sge		sge;
};

/**
 * struct afib_sock - an AF_IB socket.
 * @sk: must be first.
 * @xp: the socket type's own parts.
 * @cm_id: rdma_cm identifier; see afib_take_id() for who destroys it.
 * @cm_lock: protects @cm_id.
 * @dev: device the QP lives on, with a reference, or NULL.
 * @dev_node: on @dev's socket list.
 * @cq: completion queue for sends and receives.
 * @cq_flags: AFIB_CQ_* bits.
 * @poll_work: polls the CQ when no reader or writer waits to do it.
 * @qp: the RC queue pair.
 * @qp_id: the rdma_cm id @qp was created on; alive while @qp is.
 * @dest_qpn: the peer's QP number.
 * @bound: the id is bound (bind(), listen() or connect()).
 * @user_bound: bind() succeeded; @src is the address.
 * @tried: connect() was called: a new attempt needs a new id.
 * @bind_later: bound to @src, but the id will be bound only by listen()
 *	or connect() (afib_xport.bind_later).
 * @src: the address given to bind().
 * @family: address family reported by getsockname and friends.
 * @any_family: family of the wildcard address listen() binds to and
 *	getsockname() reports before a bind.
 * @lock: protects the fields below it, BH safe.
 * @tx_credits: receive buffers the peer has available for us.
 * @tx_head: send ring position of the next buffer to take (free running).
 * @tx_posted: send ring position after the last buffer posted.
 * @tx_tail: send ring position of the oldest buffer not completed.  Only
 *	some messages' last work request is signaled (see afib_tx_post());
 *	its completion, or a later control send's, frees the ring up to it
 *	(an RC send queue completes in order).
 * @tx_unsig: buffers posted since the last signaled work request.
 * @tx_want: segments a blocked sender or poller waits for; 0 if none.
 *	Completions wake writers only when that much room is free.
 * @tx_busy: a sender holds buffers it has not posted yet: FIN waits.
 * @drain_wait: someone waits for afib_tx_idle().
 * @ctrl_inflight: control sends not completed.
 * @ctrl_head: control sends posted (free running; indexes @ctrl).
 * @rx_owed: buffers reposted but not yet reported to the peer.
 * @rx_queue: received data segments in order.
 * @rx_msgs: complete messages (EOR seen) on @rx_queue.
 * @rx_bytes: payload bytes on @rx_queue.
 * @fin_pending: shutdown(SHUT_WR) waits for a credit to send FIN.
 * @fin_sent: FIN (or ABORT) posted.
 * @fin_rcvd: the peer sent FIN: EOF after @rx_queue drains.
 * @abort_rcvd: the peer sent ABORT.
 * @peer_gone: the connection is down (disconnect, reset or error).
 * @dead: verbs resources are being torn down; post nothing.
 * @accept_q: established children waiting for accept() (listener).
 * @held_q: children whose requests wait for room in the backlog
 *	(listener, afib_xport.hold_requests); whoever takes one off owns it.
 * @held_n: their number.
 * @accept_node: on the parent's @accept_q or @held_q.
 * @held: the child's request is held, not accepted yet.
 * @held_dead: the held request failed while afib_unhold() had it.
 * @held_peer: what the held request's private data said.
 * @parent: listener that owns this child until accept(), with a ref.
 * @rx_lock: serialises receivers.
 * @tx_lock: serialises senders.
 * @qp_lock: serialises creation and destruction of the verbs resources.
 * @rx_bufs: receive buffer array, @rx_slots + 1 long.  Its pages outlive
 *	afib_kill() (a reader may be copying from one) until the socket is
 *	destroyed or reconnects; afib_kill() only unmaps them.
 * @tx_bufs: send buffer array, @tx_slots long; likewise.
 * @rx_slots: receive buffers announced to the peer; one more is posted
 *	for the peer's FIN or ABORT.
 * @tx_slots: send buffers.
 * @max_send_sge: scatter/gather entries of a send work request.
 * @rx_filled: receive buffers that have pages, the first ones; only
 *	these are posted.  SDP adds more as the peer streams.
 * @tx_filled: send buffers given pages at creation; SDP gives the
 *	others theirs when it first uses them.
 * @seg_size: size of our receive buffers (and of send buffers).
 * @peer: the peer's hello: its segment size, message limit, credits.
 * @credit_thresh: owed credits that trigger a CREDIT message.
 * @ctrl: payload-less control sends in flight, a ring.
 * @ctrl_buf: the headers of @ctrl (SDP), kept like @tx_bufs.
 * @ctrl_dma: where @ctrl_buf is mapped, 0 when it is not.
 * @path_mtu: path MTU in bytes.
 * @pd: protection domain of the QP and of everything it uses, under
 *	qp_lock: every connection has one of its own, so that only its peer
 *	can use the rkeys of its MRs.
 * @rd_init: RDMA reads and atomics we may have outstanding (rdma_cm's
 *	initiator depth); for a child, what the request offered.
 * @rd_resp: those the peer may have outstanding at us (responder
 *	resources); likewise.
 * @mrs: registered memory regions by handle (afib_rdma.c).
 * @mr_next: next handle to try.
 * @mr_key: last key byte given to an MR's rkey.
 * @mr_list: MRs holding verbs resources, under @mr_lock.
 * @mr_mutex: serialises registration and deregistration.
 * @mr_lock: serialises the release of MRs' verbs resources.
 * @rdma_inflight: RDMA operations posted and not completed, under @lock.
 * @rdma_async: AFIB_RDMA_ASYNC.
 * @sdp: SDP state (SOCK_STREAM).
 */
struct afib_sock {
	struct sock		sk;
	const struct afib_xport	*xp;
	struct rdma_cm_id	*cm_id;
	struct mutex		cm_lock;	/* @cm_id */
	struct afib_dev		*dev;
	struct list_head	dev_node;
	struct ib_cq		*cq;
	unsigned long		cq_flags;
	struct work_struct	poll_work;
	struct ib_qp		*qp;
	struct rdma_cm_id	*qp_id;
	u32			dest_qpn;
	bool			bound;
	bool			user_bound;
	bool			tried;
	bool			bind_later;
	struct sockaddr_storage	src;
	int			family;
	int			any_family;

	spinlock_t		lock;		/* fields below */
	u32			tx_credits;
	u32			tx_head;
	u32			tx_posted;
	u32			tx_tail;
	u32			tx_unsig;
	u32			tx_want;
	bool			tx_busy;
	bool			drain_wait;
	u32			ctrl_inflight;
	u32			ctrl_head;
	u32			rx_owed;
	struct list_head	rx_queue;
	u32			rx_msgs;
	u32			rx_bytes;
	bool			fin_pending;
	bool			fin_sent;
	bool			fin_rcvd;
	bool			abort_rcvd;
	bool			peer_gone;
	bool			dead;
	struct list_head	accept_q;
	struct list_head	held_q;
	u32			held_n;
	struct list_head	accept_node;
	bool			held;
	bool			held_dead;
	union afib_peer		held_peer;
	struct afib_sock	*parent;

	struct mutex		rx_lock;	/* one reader */
	struct mutex		tx_lock;	/* one writer */
	struct mutex		qp_lock;	/* verbs resources */
	struct afib_buf		*rx_bufs;
	struct afib_buf		*tx_bufs;
	u32			rx_slots;
	u32			tx_slots;
	u32			max_send_sge;
	u32			rx_filled;
	u32			tx_filled;
	u32			seg_size;
	struct afib_hello_host	peer;
	u32			credit_thresh;
	struct afib_ctrl	ctrl[AFIB_CTRL_MAX];
	void			*ctrl_buf;
	u64			ctrl_dma;
	u32			path_mtu;
	struct ib_pd		*pd;
	u8			rd_init;
	u8			rd_resp;
	struct xarray		mrs;
	u32			mr_next;
	u8			mr_key;
	struct list_head	mr_list;
	struct mutex		mr_mutex;	/* registration */
	struct mutex		mr_lock;	/* MR verbs resources */
	u32			rdma_inflight;
	bool			rdma_async;
	struct sdp_conn		sdp;
};

static inline struct afib_sock *afib_sk(struct sock *sk)
{
	return container_of(sk, struct afib_sock, sk);
}

extern struct proto afib_proto;
extern struct proto sdp_prot;
extern struct workqueue_struct *afib_wq;
extern const struct proto_ops afib_seqpacket_ops;
extern const struct afib_xport afib_seq_xport;
extern const struct afib_xport sdp_xport;

/* afib_addr.c: address translation, pure (KUnit) */
int afib_addr_to_cm(const struct sockaddr *uaddr, int len,
		    struct sockaddr_storage *out, int *family);
int afib_addr_from_cm(const struct sockaddr *cm, int family,
		      struct sockaddr_storage *out);
int afib_sid_to_port(__be64 sid, __be64 mask, u16 *port);

/* afib_ib.c: devices */
int afib_ib_init(void);
void afib_ib_exit(void);
struct afib_dev *afib_dev_get(struct ib_device *ibdev);
void afib_dev_put(struct afib_dev *dev);
int afib_dev_attach(struct afib_dev *dev, struct afib_sock *as);
void afib_dev_detach(struct afib_sock *as);

/* afib_cm.c: connection management */
struct rdma_cm_id *afib_create_id(struct afib_sock *as, struct net *net);
struct rdma_cm_id *afib_take_id(struct afib_sock *as);
void afib_destroy_id(struct afib_sock *as);
int afib_cm_connect(struct afib_sock *as, struct sockaddr *dst);
void afib_set_error(struct sock *sk, int err);
void afib_connect_failed(struct afib_sock *as, int err);
void afib_unhold(struct afib_sock *lis);
bool afib_drop_held(struct afib_sock *lis);

/* afib_data.c: queues and the data path */
int afib_qp_create(struct afib_sock *as, struct rdma_cm_id *id);
void afib_cq_poll(struct afib_sock *as);
void afib_poll_work(struct work_struct *work);
int afib_cq_create(struct afib_sock *as, struct ib_device *ibdev, int cqe);
void afib_cq_start(struct afib_sock *as);
void afib_cq_stop(struct afib_sock *as);
void afib_cq_destroy(struct afib_sock *as);
void afib_kill(struct afib_sock *as, int err);
void afib_free_bufs(struct afib_sock *as);
int afib_sendmsg(struct socket *sock, struct msghdr *msg, size_t len);
int afib_recvmsg(struct socket *sock, struct msghdr *msg, size_t len,
		 int flags);
int afib_send_ctrl(struct afib_sock *as, enum afib_msg_type type);
bool afib_tx_idle(struct afib_sock *as);
bool afib_tx_writable(struct afib_sock *as, u32 segs);
void afib_write_space(struct sock *sk);
void afib_conn_error(struct afib_sock *as, int err);
void afib_disconnect(struct afib_sock *as, struct rdma_cm_id *id);

/**
 * afib_wc_fatal() - does the failed completion @wc end the connection?
 * @as: the socket whose QP it came from.
 * @wc: the completion.
 *
 * A flushed request means the QP is in the error state.  Before the
 * connection is established, rdma_cm puts it there when the attempt
 * fails and reports why (REJECTED, UNREACHABLE...); after our own
 * disconnect, the peer's, a reset or afib_kill() (each sets peer_gone
 * first) it is the teardown.  Otherwise the QP failed by itself: rxe, for
 * one, flushes a request it could not send (no GID any more) without an
 * error completion of its own.
 *
 * Return: true if the connection is broken.
 */
static inline bool afib_wc_fatal(struct afib_sock *as, const struct ib_wc *wc)
{
	if (wc->status == IB_WC_SUCCESS)
		return false;
	if (wc->status != IB_WC_WR_FLUSH_ERR)
		return true;
	if (READ_ONCE(as->peer_gone))
		return false;
	switch (READ_ONCE(as->sk.sk_state)) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSING:
	case TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

int afib_wc_errno(struct afib_sock *as, const struct ib_wc *wc);
bool __afib_tx_over(struct afib_sock *as);
int afib_post_recvs(struct afib_sock *as, struct list_head *bufs);
int afib_buf_fill(struct afib_sock *as, struct afib_buf *buf, u32 size,
		  enum dma_data_direction dir);
void afib_buf_empty(struct afib_sock *as, struct afib_buf *buf,
		    enum dma_data_direction dir);
void afib_zc_unmap(struct ib_device *ibdev, struct afib_zc *zc);
u32 __afib_tx_space(struct afib_sock *as);
bool __afib_tx_room(struct afib_sock *as, u32 segs);
void __afib_tx_want(struct afib_sock *as, u32 segs);
bool __afib_tx_wake(struct afib_sock *as);
void __afib_tx_complete(struct afib_sock *as, u32 seq, u32 bytes);

/*
 * Wait for @cond, for at most *@timeo.  Returns 0 when it holds, else
 * -EAGAIN or the signal's errno.  No socket lock is held.
 *
 * With @poll_cq (afib_wait_cq(), for a reader or writer whose condition
 * depends on completions) it polls the CQ before it sleeps, and when it
 * sleeps it asks the CQ event to wake it rather than the poll worker,
 * saving a context switch per message; if the event came to it, it polls
 * before it leaves.
 *
 * With @killable (afib_wait_cq_killable()) only a fatal signal ends the
 * wait, with -EINTR; the usual interruptible wakeups still wake it.
 */
#define __afib_wait(as, timeo, cond, poll_cq, killable)			\
({									\
	const bool __kill = (killable);					\
	DEFINE_WAIT_FUNC(__wait, __kill ? afib_woken_killable :		\
			 woken_wake_function);				\
	struct afib_sock *__as = (as);					\
	struct sock *__sk = &__as->sk;					\
	const bool __poll = (poll_cq);					\
	long *__timeo = (timeo);					\
	bool __armed = false;						\
	int __err = 0;							\
									\
	add_wait_queue(sk_sleep(__sk), &__wait);			\
	for (;;) {							\
		if (__poll)						\
			afib_cq_poll(__as);				\
		if (cond)						\
			break;						\
		if (!*__timeo) {					\
			__err = -EAGAIN;				\
			break;						\
		}							\
		if (__kill && fatal_signal_pending(current)) {		\
			__err = -EINTR;					\
			break;						\
		}							\
		if (!__kill && signal_pending(current)) {		\
			__err = sock_intr_errno(*__timeo);		\
			break;						\
		}							\
		if (__poll) {						\
			set_bit(AFIB_CQ_WAITER, &__as->cq_flags);	\
			__armed = true;					\
		}							\
		*__timeo = wait_woken(&__wait, __kill ? TASK_KILLABLE :	\
				      TASK_INTERRUPTIBLE, *__timeo);	\
	}								\
	remove_wait_queue(sk_sleep(__sk), &__wait);			\
	if (__armed &&							\
	    !test_and_clear_bit(AFIB_CQ_WAITER, &__as->cq_flags))	\
		afib_cq_poll(__as);					\
	__err;								\
})

int afib_woken_killable(struct wait_queue_entry *wq, unsigned int mode,
			int sync, void *key);

#define afib_wait(as, timeo, cond)	__afib_wait(as, timeo, cond, false, false)
#define afib_wait_cq(as, timeo, cond)	__afib_wait(as, timeo, cond, true, false)
#define afib_wait_cq_killable(as, timeo, cond)				\
	__afib_wait(as, timeo, cond, true, true)

/* afib_rdma.c: RDMA operations and memory regions */
int afib_rdma_wc_errno(enum ib_wc_status status);
int afib_rdma_parse(struct msghdr *msg, struct afib_rdma_req *req);
int afib_rdma_access(u32 access);
u64 afib_rdma_pages(u64 addr, u64 len);
u64 afib_mr_blocks(u64 addr, u64 len, u64 pgsz);
unsigned int afib_mr_pgsz(struct scatterlist *sgl, int nents, u64 va,
			  u64 len, u64 pgsz_cap);
int afib_rdma_setsockopt(struct afib_sock *as, int optname, sockptr_t optval,
			 unsigned int optlen);
int afib_rdma_cmsg(struct afib_sock *as, struct msghdr *msg, size_t len);
bool afib_rdma_is_cmsg(struct msghdr *msg, bool bad);
int afib_seq_rdma_room(struct afib_sock *as, u32 type);
u32 afib_seq_rdma_posted(struct afib_sock *as, u32 type, u32 *bytes);
int afib_rdma_recv_errqueue(struct afib_sock *as, struct msghdr *msg,
			    size_t len);
void afib_rdma_init(struct afib_sock *as);
void afib_rdma_kill(struct afib_sock *as);
void afib_rdma_release(struct afib_sock *as);
void afib_rdma_destruct(struct afib_sock *as);

/* RDMA reads and atomics outstanding each way that we ask for. */
#define AFIB_RD_ATOMIC		16

/* afib_sock.c */
struct sock *afib_sk_alloc(struct net *net, int family,
			   const struct afib_xport *xp, struct socket *sock,
			   int kern);
int afib_getsockopt(struct socket *sock, int level, int optname,
		    char __user *optval, int __user *optlen);
int afib_bind(struct socket *sock, struct sockaddr *uaddr, int len);
int afib_listen(struct socket *sock, int backlog);
int afib_connect(struct socket *sock, struct sockaddr *uaddr, int len,
		 int flags);
int afib_getname(struct socket *sock, struct sockaddr *uaddr, int peer);
__poll_t afib_poll(struct file *file, struct socket *sock, poll_table *wait);
int afib_shutdown(struct socket *sock, int how);
int afib_release(struct socket *sock);
void afib_finish(struct afib_sock *as);
#ifdef AFIB_HAVE_PROTO_ACCEPT_ARG
int afib_accept(struct socket *sock, struct socket *newsock,
		struct proto_accept_arg *arg);
#else
int afib_accept(struct socket *sock, struct socket *newsock, int flags,
		bool kern);
#endif

#endif /* _AFIB_H */
