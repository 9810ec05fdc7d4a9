/* SPDX-License-Identifier: GPL-2.0 */
/*
 * af_ib SOCK_SEQPACKET wire format and credit arithmetic.
 *
 * A message of up to AFIB_MAX_MSG bytes travels as one or more SEND WITH
 * IMMEDIATE work requests, each filling at most one of the receiver's
 * posted buffers (a "segment", the receiver's seg_size bytes).  The 32-bit
 * immediate value, in network byte order, carries everything else:
 *
 *   bits  0..15  credits: receive buffers the sender has reposted since its
 *                last report (the peer may consume that many more)
 *   bit  16      EOR: last segment of a message
 *   bits 24..27  type: DATA, CREDIT (no payload), FIN (no more messages),
 *                ABORT (connection reset by the sender)
 *
 * Control messages carry no payload but consume a receive buffer like
 * any SEND.  Flow control: a sender needs one credit per segment and
 * keeps the last credit for CREDIT messages, so credit updates can always
 * flow (SDP's compliance point CA4-82 makes the same rule).  A receiver
 * sends a CREDIT message once it owes at least afib_credit_thresh()
 * credits.  FIN and ABORT end a direction, so at most one of them is ever
 * sent each way: each side posts one buffer more than it announces and
 * FIN or ABORT lands there without a credit, so ending a stream never
 * takes the credit a CREDIT message needs.
 *
 * The connection request and reply carry struct afib_hello as rdma_cm
 * private data.  Everything here is pure so KUnit can test it.
 */
#ifndef _AFIB_PROTO_H
#define _AFIB_PROTO_H

#include <linux/types.h>
#include <linux/build_bug.h>
#include <linux/minmax.h>
#include <asm/byteorder.h>

#define AFIB_PROTO_VERSION	1

enum afib_msg_type {
	AFIB_MT_DATA	= 0,
	AFIB_MT_CREDIT	= 1,
	AFIB_MT_FIN	= 2,
	AFIB_MT_ABORT	= 3,
	AFIB_MT_MAX	= AFIB_MT_ABORT,
};

#define AFIB_IMM_CREDITS_MASK	0x0000ffffU
#define AFIB_IMM_EOR		0x00010000U
#define AFIB_IMM_TYPE_SHIFT	24
#define AFIB_IMM_TYPE_MASK	0x0f000000U
#define AFIB_IMM_RSVD_MASK	0xf0fe0000U

/* Largest credit count one message can return. */
#define AFIB_MAX_CREDITS	AFIB_IMM_CREDITS_MASK

/**
 * struct afib_hello - connection request/reply private data.
 * @version: AFIB_PROTO_VERSION.
 * @flags: must be 0.
 * @credits: receive buffers the sender posted before connecting.
 * @seg_size: size of each of those buffers, bytes.
 * @max_msg: largest message the sender accepts, bytes.
 *
 * In network byte order.  rdma_cm's TCP port space leaves 56 bytes of
 * private data in a request; this needs 12.
 */
struct afib_hello {
	__u8	version;
	__u8	flags;
	__be16	credits;
	__be32	seg_size;
	__be32	max_msg;
};

static_assert(sizeof(struct afib_hello) == 12);

/**
 * struct afib_hello_host - host-order mirror of struct afib_hello.
 * @credits: initial credits granted by the peer.
 * @seg_size: the peer's receive segment size.
 * @max_msg: the peer's largest message.
 */
struct afib_hello_host {
	u32 credits;
	u32 seg_size;
	u32 max_msg;
};

static inline __be32 afib_imm_encode(enum afib_msg_type type, bool eor,
				     u32 credits)
{
	u32 v = (u32)type << AFIB_IMM_TYPE_SHIFT;

	v |= min_t(u32, credits, AFIB_MAX_CREDITS);
	if (eor)
		v |= AFIB_IMM_EOR;
	return cpu_to_be32(v);
}

/**
 * afib_imm_decode() - split an immediate value received from the peer.
 * @imm: the immediate value as received.
 * @type: message type.
 * @eor: end of message.
 * @credits: credits returned by the peer.
 *
 * Return: 0, or -EPROTO for reserved bits or an unknown type; the peer
 * is then broken and the connection must be reset.
 */
static inline int afib_imm_decode(__be32 imm, enum afib_msg_type *type,
				  bool *eor, u32 *credits)
{
	u32 v = be32_to_cpu(imm);
	u32 t = (v & AFIB_IMM_TYPE_MASK) >> AFIB_IMM_TYPE_SHIFT;

	if ((v & AFIB_IMM_RSVD_MASK) || t > AFIB_MT_MAX)
		return -EPROTO;
	if (t != AFIB_MT_DATA && (v & AFIB_IMM_EOR))
		return -EPROTO;
	*type = t;
	*eor = v & AFIB_IMM_EOR;
	*credits = v & AFIB_IMM_CREDITS_MASK;
	return 0;
}

/* Segments a message of @len bytes needs; an empty message needs one. */
static inline u32 afib_msg_segs(u32 len, u32 seg_size)
{
	return len ? DIV_ROUND_UP(len, seg_size) : 1;
}

/* Receive buffers needed so that any message fits plus one control slot. */
static inline u32 afib_min_rx_slots(u32 max_msg, u32 seg_size)
{
	return afib_msg_segs(max_msg, seg_size) + 2;
}

/**
 * afib_credit_thresh() - owed credits that justify a CREDIT message.
 * @rx_slots: receive buffers this side posts.
 * @max_segs: segments of the largest message the peer may send.
 *
 * At least 2, so that CREDIT messages (which themselves consume a buffer
 * and so create one owed credit) cannot ping-pong forever; at most
 * @rx_slots - @max_segs, so a peer blocked on a largest message is always
 * released.
 *
 * Return: the threshold.
 */
static inline u32 afib_credit_thresh(u32 rx_slots, u32 max_segs)
{
	u32 hi = rx_slots > max_segs + 2 ? rx_slots - max_segs : 2;

	return clamp_t(u32, rx_slots / 4, 2, hi);
}

/**
 * afib_credit_due() - is a CREDIT message due?
 * @owed: buffers reposted and not yet reported to the peer.
 * @thresh: afib_credit_thresh() of this side.
 *
 * Return: true if a CREDIT message should be sent.
 */
static inline bool afib_credit_due(u32 owed, u32 thresh)
{
	return owed >= thresh;
}

/**
 * afib_can_send() - may a message of @segs segments be posted now?
 * @credits: current send credits.
 * @segs: segments to post.
 * @ctrl: true for a control message, which may use the last credit.
 *
 * Return: true if the credits allow it.
 */
static inline bool afib_can_send(u32 credits, u32 segs, bool ctrl)
{
	return ctrl ? credits >= segs : credits > segs;
}

/**
 * afib_hello_parse() - validate and convert a peer's hello.
 * @data: private data as received, may be NULL.
 * @len: its length; rdma_cm may pad it.
 * @out: host-order result.
 *
 * Return: 0, or -EPROTO for a short, wrong-version or inconsistent hello.
 */
static inline int afib_hello_parse(const void *data, size_t len,
				   struct afib_hello_host *out)
{
	const struct afib_hello *h = data;
	u32 credits, seg, max;

	if (!h || len < sizeof(*h) || h->version != AFIB_PROTO_VERSION ||
	    h->flags)
		return -EPROTO;
	credits = be16_to_cpu(h->credits);
	seg = be32_to_cpu(h->seg_size);
	max = be32_to_cpu(h->max_msg);
	if (seg < 256 || seg > (1U << 20) || max < seg || max > (1U << 24))
		return -EPROTO;
	if (credits < afib_min_rx_slots(max, seg))
		return -EPROTO;
	out->credits = credits;
	out->seg_size = seg;
	out->max_msg = max;
	return 0;
}

static inline void afib_hello_build(struct afib_hello *h, u32 credits,
				    u32 seg_size, u32 max_msg)
{
	h->version = AFIB_PROTO_VERSION;
	h->flags = 0;
	h->credits = cpu_to_be16(min_t(u32, credits, U16_MAX));
	h->seg_size = cpu_to_be32(seg_size);
	h->max_msg = cpu_to_be32(max_msg);
}

#endif /* _AFIB_PROTO_H */
