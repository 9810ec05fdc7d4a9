/* SPDX-License-Identifier: GPL-2.0 */
/*
 * af_ib SOCK_DGRAM sockets: private state and the datagram header.
 */
#ifndef _AFIB_UD_H
#define _AFIB_UD_H

#include <linux/types.h>
#include <linux/completion.h>
#include <linux/refcount.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>

/**
 * struct afib_ud_hdr - leads every datagram, in network byte order.
 * @sport: the sender's port (its rdma_cm UDP port space binding), so
 *	that recvfrom() reports an address a reply can be sent to.
 * @version: AFIB_UD_VERSION; a receiver drops other versions.
 * @flags: AFIB_UD_F_*.
 */
struct afib_ud_hdr {
	__be16	sport;
	u8	version;
	u8	flags;
};

static_assert(sizeof(struct afib_ud_hdr) == AFIB_UD_HDR_LEN);

#define AFIB_UD_VERSION		1
/* IP_MULTICAST_LOOP off: receivers on the sender's host drop it. */
#define AFIB_UD_F_NOLOOP	0x01

struct afib_ud_sock;

/**
 * struct afib_ud_wait - an rdma_cm resolution a caller waits for.
 * @done: completed by the first result.
 * @finished: @done was completed.
 * @err: 0 or a negative errno.
 * @mcast: join the group @group once the address is resolved, rather
 *	than resolve the route and ask for the peer's QPN (SIDR).
 * @join_state: the rdma_join_multicast() join state.
 * @group: the group address (AF_INET, AF_INET6 or AF_IB).
 * @ah_attr: how to reach the peer or group (valid when @err is 0).
 * @qpn: the peer's QP number (0xFFFFFF for a group).
 * @qkey: the peer's or group's Q_Key.
 * @notify: a destination's resolution: the socket whose resolve_work
 *	finishes it once @done is completed; NULL for a join.
 */
struct afib_ud_wait {
	struct completion	done;
	bool			finished;
	int			err;
	bool			mcast;
	u8			join_state;
	struct sockaddr_storage	group;
	struct rdma_ah_attr	ah_attr;
	u32			qpn;
	u32			qkey;
	struct afib_ud_sock	*notify;
};

/**
 * struct afib_ud_dest - a cached destination.
 * @node: on afib_ud_sock.dests or .stale.
 * @addr: the destination as rdma_cm takes it.
 * @id: a send-only membership of the group @addr, or NULL; while
 *	@pending, the id that resolves @addr.
 * @ah: address handle on the socket's PD.
 * @qpn: remote QP number.
 * @qkey: remote Q_Key.
 * @expires: jiffies after which it is resolved again.
 * @rt_genid: the route generation of @addr's family when it was resolved
 *	(rt_genid_ipv4() or rt_genid_ipv6()): any route or address change
 *	since makes it stale.
 * @addr_gen: afib_ud_sock.addr_gen when it was resolved.
 * @pending: the resolution has not been finished yet: no @ah, @held
 *	datagrams (of non-blocking sends) wait for it.
 * @started: jiffies when the pending resolution started.
 * @held: datagrams (skbs charged to the socket's send buffer) waiting for
 *	the pending resolution, at most AFIB_UD_HELD, oldest first.
 * @w: the resolution.
 * @ref: the list's reference and one per blocking sender waiting for
 *	@w without the ud lock (afib_ud_dest_get()).
 * @gone: off the lists, its resources released (afib_ud_dest_free()).
 * @err: why the resolution failed, once @gone.
 */
struct afib_ud_dest {
	struct list_head	node;
	struct sockaddr_storage	addr;
	struct rdma_cm_id	*id;
	struct ib_ah		*ah;
	u32			qpn;
	u32			qkey;
	unsigned long		expires;
	int			rt_genid;
	int			addr_gen;
	bool			pending;
	unsigned long		started;
	struct sk_buff_head	held;
	struct afib_ud_wait	w;
	refcount_t		ref;
	bool			gone;
	int			err;
};

/**
 * struct afib_ud_group - a multicast membership.
 * @node: on afib_ud_sock.groups.
 * @addr: the group as the user named it, converted for rdma_cm.
 * @id: the rdma_cm id holding the membership.
 * @mgid: the fabric's multicast GID.
 * @mlid: the multicast LID (0 on RoCE).
 * @attached: the socket's QP is attached to @mgid.
 * @w: the join.
 */
struct afib_ud_group {
	struct list_head	node;
	struct sockaddr_storage	addr;
	struct rdma_cm_id	*id;
	union ib_gid		mgid;
	u16			mlid;
	bool			attached;
	struct afib_ud_wait	w;
};

/**
 * struct afib_ud_buf - a receive or send buffer.
 * @cqe: completion entry.
 * @sge: its one scatter/gather entry.
 * @addr: the memory.
 * @dma: where it is mapped.
 * @size: bytes at @addr, all mapped.
 */
struct afib_ud_buf {
	struct ib_cqe		cqe;
	struct ib_sge		sge;
	void			*addr;
	u64			dma;
	u32			size;
};

/**
 * struct afib_ud_sock - a SOCK_DGRAM socket.
 * @as: the AF_IB socket; as.lock protects @tx_head, @tx_tail and @dead,
 *	as.qp_lock the creation and destruction of @qp, @cq and the buffers,
 *	as.cm_lock @id.
 * @id: rdma_cm id bound to our address and listening for SIDR requests,
 *	with a socket reference; NULL before bind (explicit or automatic).
 * @lock: serialises senders, joins and leaves; protects @dests, @stale,
 *	@groups, @peer and the counts.  Outside as.qp_lock.  A sender
 *	waiting for a destination's resolution does not hold it.
 * @ibdev: device of @qp.
 * @port_num: its port.
 * @qp: the UD queue pair, NULL until the socket has a device; its CQ
 *	(receives and sends) is as.cq, polled as SOCK_SEQPACKET's is.
 * @rx: receive buffers, @rx_n of them.
 * @tx: send buffers, AFIB_UD_TX of them.
 * @rx_n: receive buffers posted, from SO_RCVBUF.
 * @qkey: our Q_Key.
 * @mtu: path MTU: largest UD payload, our header included.
 * @tx_head: sends posted (free running).
 * @tx_tail: sends completed.
 * @dead: verbs resources gone or going; post nothing.
 * @dests: cached destinations, most recent first.
 * @stale: destinations retired while sends may still use their AH.
 * @ndests: entries on @dests.
 * @addr_gen: bumped by RDMA_CM_EVENT_ADDR_CHANGE on @id: the cached
 *	destinations resolved before are stale.  Atomic: the handler cannot
 *	take @lock, which a join holds while it waits for rdma_cm.
 * @resolves: destination resolutions started (AFIB_UD_RESOLVES).
 * @resolve_work: finishes the pending resolutions of destinations
 *	(queued by their rdma_cm handler, or when the oldest times out);
 *	cancelled at release, after the ids that queue it are destroyed.
 * @groups: memberships.
 * @ngroups: entries on @groups.
 * @src: the address bound, for rdma_cm.
 * @bound: @id is bound.
 * @connected: @peer is the default destination and the only source
 *	received from.
 * @peer: the default destination.
 * @peer_gid: @peer's address as a GID.
 * @sport: our port, network order.
 * @loop: IP_MULTICAST_LOOP.
 * @bad: malformed datagrams dropped.
 */
struct afib_ud_sock {
	struct afib_sock	as;
	struct rdma_cm_id	*id;
	struct mutex		lock;	/* senders, groups, destinations */
	struct ib_device	*ibdev;
	u32			port_num;
	struct ib_qp		*qp;
	struct afib_ud_buf	*rx;
	struct afib_ud_buf	*tx;
	u32			rx_n;
	u32			qkey;
	u32			mtu;
	u32			tx_head;
	u32			tx_tail;
	bool			dead;
	struct list_head	dests;
	struct list_head	stale;
	u32			ndests;
	atomic_t		addr_gen;
	u32			resolves;
	struct delayed_work	resolve_work;
	struct list_head	groups;
	u32			ngroups;
	struct sockaddr_storage	src;
	bool			bound;
	bool			connected;
	struct sockaddr_storage	peer;
	union ib_gid		peer_gid;
	__be16			sport;
	bool			loop;
	atomic_t		bad;
};

extern struct proto afib_ud_proto;
extern const struct proto_ops afib_dgram_ops;
extern const struct afib_xport afib_ud_xport;

#endif /* _AFIB_UD_H */
