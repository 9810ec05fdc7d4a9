/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SDP (Sockets Direct Protocol) wire format and credit arithmetic.
 *
 * SDP, specified in Annex A4 of the InfiniBand Architecture and implemented
 * by OFED's ib_sdp, carries a TCP-like byte stream over an RC QP.  Every
 * message is one SEND into one of the receiver's pre-posted buffers and
 * starts with the 16-byte Base Sockets Direct Header (BSDH):
 *
 *   off size field     meaning
 *     0   1  mid       message id, SDP_MID_*
 *     1   1  flags     SDP_OOB_PRES, SDP_OOB_PEND
 *     2   2  bufs      receive buffers the sender has posted
 *     4   4  len       length of the whole message, headers included
 *     8   4  mseq      sequence number of this message
 *    12   4  mseq_ack  mseq of the last message the sender received
 *
 * A few messages add an extended header; Data, SrcAvail and SinkAvail may
 * carry payload after their headers, all others are exactly as long as
 * their headers:
 *
 *   mid                  extended header         payload
 *   0xFF Data            -                       0 or more bytes
 *   0x02 DisConn         -                       -
 *   0x03 AbortConn       -                       -
 *   0x04 SendSM          -                       -
 *   0x06 RdmaRdCompl     sdp_rrch:  len          -
 *   0x08 SrcAvailCancel  -                       -
 *   0x0B ChRcvBuf        sdp_crbh:  size         -
 *   0x0C ChRcvBufAck     sdp_crbh:  size         -
 *   0xFD SinkAvail       sdp_snkah               0 or more bytes
 *   0xFE SrcAvail        sdp_srcah: len, rkey,   0 or more bytes, the
 *                        vaddr                   start of the buffer
 *
 * Every multi-byte field is big-endian.  The other mids of the IBTA
 * list (RdmaWrCompl, ModeChange, the sink-side cancels, Suspend) belong to
 * modes SDP does not use here and are rejected like unknown ones; Hello
 * and HelloAck travel only in the connection's private data.  SinkAvail
 * is understood so that its sender can be reset, as OFED did.
 *
 * Connection setup.  The active side puts a Hello (struct sdp_hh) in the
 * private data of its connection request, the passive side answers with
 * a HelloAck (struct sdp_hah) in the reply.  This deviates from the IBTA
 * and OFED.  They used SDP's own service IDs, 0x10000 + port (rdma_cm's
 * RDMA_PS_SDP port space), where the Hello itself served as rdma_cm's
 * header and carried the IP version, both addresses and the source port.
 * Mainline removed that port space, so SDP connects through RDMA_PS_TCP
 * (service ID 0x1060000 + port), where rdma_cm puts its own 36-byte
 * header (IP version, port, source and destination address) in front of
 * our private data.  That leaves 92 - 36 = 56 bytes of the IB CM REQ for
 * the Hello, and rdma_cm's header already holds the addresses and port:
 * our Hello stops after localrcvsz, 28 bytes instead of OFED's 92 (port,
 * addresses and reserved tail dropped).  With sockaddr_ib addresses
 * rdma_cm adds no header, and the Hello is the same.  The REP carries our
 * private data without an rdma_cm header (196 bytes); the HelloAck is 24
 * bytes and the CM pads the rest with zeroes.  Reserved fields are sent
 * as zero and ignored on receipt.
 *
 * Sequence numbers and credits.  A Hello counts as mseq 0 of its sender:
 * the first message on the QP carries mseq 1, each further one the next
 * value, wrapping at 2^32.  A side may send only while the peer has a
 * posted buffer for the message.  The BSDH of every message the peer
 * sends tells how many it has (bufs) and which of our messages it had
 * received (mseq_ack), so our send credits are bufs less the messages we
 * sent after mseq_ack (sdp_tx_credits()); the Hello's bufs give the first
 * credits.  Compliance point CA4-82 keeps the last credit for messages
 * that return credits and carry no payload: a zero-length Data message,
 * the credit update, is the only message that may use it
 * (sdp_can_send()).  A receiver sends a credit update when the peer runs
 * low (sdp_credit_update_due()), so a one-way stream never stalls.
 *
 * Everything here is pure so that KUnit can test it; parsers never trust
 * the peer and return -EPROTO for anything malformed, after which the
 * connection must be aborted.
 */
#ifndef _SDP_PROTO_H
#define _SDP_PROTO_H

#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/sizes.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <asm/byteorder.h>

/* Message ids (BSDH mid). */
enum sdp_mid {
	SDP_MID_HELLO		= 0x00,
	SDP_MID_HELLO_ACK	= 0x01,
	SDP_MID_DISCONN		= 0x02,
	SDP_MID_ABORT_CONN	= 0x03,
	SDP_MID_SENDSM		= 0x04,
	SDP_MID_RDMA_RD_COMPL	= 0x06,
	SDP_MID_SRCAVAIL_CANCEL	= 0x08,
	SDP_MID_CHRCVBUF	= 0x0B,
	SDP_MID_CHRCVBUF_ACK	= 0x0C,
	SDP_MID_SINKAVAIL	= 0xFD,
	SDP_MID_SRCAVAIL	= 0xFE,
	SDP_MID_DATA		= 0xFF,
};

/* BSDH flags. */
#define SDP_OOB_PRES	0x01	/* the last payload byte is urgent data */
#define SDP_OOB_PEND	0x02	/* urgent data is pending at the sender */
#define SDP_FLAGS_MASK	(SDP_OOB_PRES | SDP_OOB_PEND)

/*
 * Protocol version 2.2: major in the high nibble, minor in the low one.
 * OFED's first SDP (1.1, 0x11) cannot talk to it.
 */
#define SDP_MAJV_MINV	0x22
#define SDP_MAJV(v)	((v) >> 4)

/*
 * IP version, the high nibble of ipv_cap.  The low nibble holds
 * capabilities, reserved in the IBTA's SDP (sent as zero, ignored):
 * SDP_CAP_WRITE_IMM says the sender takes an RDMA write with immediate
 * in a receive buffer as a mark in the stream (sdp_rdma.c).  A
 * capability is used only when both Hello and HelloAck have it.
 */
#define SDP_IPV4	4
#define SDP_IPV6	6
#define SDP_IPV_SHIFT	4
#define SDP_CAP_WRITE_IMM	0x01
#define SDP_CAP_MASK		0x0f

/*
 * Receive buffer sizes (desremrcvsz, localrcvsz, actrcvsz, ChRcvBuf and
 * ChRcvBufAck) count the whole buffer, BSDH included.  A buffer must hold
 * any control message (at most 36 bytes) with room for payload; more than
 * 1 MiB per buffer is not a size anyone posts.
 */
#define SDP_RCVSZ_MIN	64U
#define SDP_RCVSZ_MAX	SZ_1M

/*
 * Fewest buffers a side may announce in its Hello or HelloAck: data needs
 * two credits (one is kept, CA4-82), and a credit update is sent only
 * when it returns at least SDP_CREDIT_UPDATE_MIN credits, so a peer with
 * one credit left is released only if a third buffer exists.
 */
#define SDP_MIN_BUFS		3U
/* Credits that only a credit update (zero-length Data) may use. */
#define SDP_CREDITS_KEPT	1U
/* Fewest credits a credit update returns; see sdp_credit_update_due(). */
#define SDP_CREDIT_UPDATE_MIN	2U

/*
 * rdma_cm private data limits: an IB CM REQ has 92 bytes
 * (IB_CM_REQ_PRIVATE_DATA_SIZE), of which rdma_cm's header (struct
 * cma_hdr in drivers/infiniband/core/cma.c) takes 36 for RDMA_PS_TCP; a
 * REP carries 196 (IB_CM_REP_PRIVATE_DATA_SIZE) with no rdma_cm header.
 */
#define SDP_CM_REQ_PRIVATE_DATA	92
#define SDP_CMA_HDR_LEN		36
#define SDP_HH_MAX_LEN		(SDP_CM_REQ_PRIVATE_DATA - SDP_CMA_HDR_LEN)
#define SDP_HAH_MAX_LEN		196

/**
 * struct sdp_bsdh - Base Sockets Direct Header, in front of every message.
 * @mid: message id, enum sdp_mid.
 * @flags: SDP_OOB_PRES and SDP_OOB_PEND; other bits must be zero.
 * @bufs: receive buffers the sender has posted.
 * @len: length of the whole message, this header included.
 * @mseq: sequence number of this message.
 * @mseq_ack: mseq of the last message the sender received.
 */
struct sdp_bsdh {
	__u8	mid;
	__u8	flags;
	__be16	bufs;
	__be32	len;
	__be32	mseq;
	__be32	mseq_ack;
};

static_assert(sizeof(struct sdp_bsdh) == 16);
static_assert(offsetof(struct sdp_bsdh, bufs) == 2);
static_assert(offsetof(struct sdp_bsdh, len) == 4);
static_assert(offsetof(struct sdp_bsdh, mseq_ack) == 12);

/**
 * struct sdp_bsdh_host - host-order mirror of struct sdp_bsdh.
 * @mid: message id.
 * @flags: BSDH flags.
 * @bufs: receive buffers posted by the sender.
 * @len: whole message length.
 * @mseq: sequence number.
 * @mseq_ack: last sequence number received by the sender.
 */
struct sdp_bsdh_host {
	u8	mid;
	u8	flags;
	u16	bufs;
	u32	len;
	u32	mseq;
	u32	mseq_ack;
};

/**
 * struct sdp_crbh - body of ChRcvBuf and ChRcvBufAck.
 * @size: ChRcvBuf: the receive buffer size the sender asks the peer to
 *	post; ChRcvBufAck: the size the peer now posts.  Whole buffers,
 *	BSDH included.
 */
struct sdp_crbh {
	__be32	size;
};

static_assert(sizeof(struct sdp_crbh) == 4);

/**
 * struct sdp_rrch - body of RdmaRdCompl.
 * @len: bytes of the advertised buffer the sink has RDMA-read.
 */
struct sdp_rrch {
	__be32	len;
};

static_assert(sizeof(struct sdp_rrch) == 4);

/**
 * struct sdp_srcah - body of SrcAvail: a buffer the sink may RDMA-read.
 * @len: length of the buffer, including what the message carries inline.
 * @rkey: remote key of the buffer.
 * @vaddr: its address.
 */
struct sdp_srcah {
	__be32	len;
	__be32	rkey;
	__be64	vaddr;
};

static_assert(sizeof(struct sdp_srcah) == 16);

/**
 * struct sdp_srcah_host - host-order mirror of struct sdp_srcah.
 * @len: advertised length.
 * @rkey: remote key.
 * @vaddr: address.
 */
struct sdp_srcah_host {
	u32	len;
	u32	rkey;
	u64	vaddr;
};

/**
 * struct sdp_snkah - body of SinkAvail: a buffer the source may RDMA-write.
 * @len: length of the buffer.
 * @rkey: remote key of the buffer.
 * @vaddr: its address.
 * @non_disc: data-carrying messages the sink had not discarded.
 *
 * Only its size matters here: SinkAvail is parsed so that its sender can
 * be reset.  The wire layout is 20 bytes, hence __packed.
 */
struct sdp_snkah {
	__be32	len;
	__be32	rkey;
	__be64	vaddr;
	__be32	non_disc;
} __packed;

static_assert(sizeof(struct sdp_snkah) == 20);

/**
 * struct sdp_hello_hdr - the part Hello and HelloAck share.
 * @bsdh: mid SDP_MID_HELLO or SDP_MID_HELLO_ACK, flags 0, bufs the
 *	receive buffers posted (the peer's first credits), len the length
 *	of the Hello or HelloAck, mseq and mseq_ack 0 (ignored on receipt).
 * @majv_minv: SDP_MAJV_MINV.
 * @ipv_cap: IP version (SDP_IPV4 or SDP_IPV6) in the high nibble,
 *	SDP_CAP_* bits in the low one.
 * @rsvd1: reserved, zero.
 * @max_adverts: Hello: max_adverts, HelloAck: ext_max_adverts; how many
 *	SrcAvail advertisements the sender accepts outstanding, at least 1.
 */
struct sdp_hello_hdr {
	struct sdp_bsdh	bsdh;
	__u8		majv_minv;
	__u8		ipv_cap;
	__u8		rsvd1;
	__u8		max_adverts;
};

static_assert(sizeof(struct sdp_hello_hdr) == 20);

/**
 * struct sdp_hh - Hello, the private data of the connection request.
 * @hdr: BSDH, version, IP version and max_adverts.
 * @desremrcvsz: receive buffer size the sender would like the peer to
 *	post.
 * @localrcvsz: size of the receive buffers the sender has posted: the
 *	longest message the peer may send.
 *
 * OFED's Hello continued with the source port, both IP addresses and
 * reserved bytes up to 92; rdma_cm's header carries those now (see the
 * top of this file).
 */
struct sdp_hh {
	struct sdp_hello_hdr	hdr;
	__be32			desremrcvsz;
	__be32			localrcvsz;
};

static_assert(sizeof(struct sdp_hh) == 28);
static_assert(sizeof(struct sdp_hh) <= SDP_HH_MAX_LEN);

/**
 * struct sdp_hah - HelloAck, the private data of the connection reply.
 * @hdr: BSDH, version, IP version and ext_max_adverts.
 * @actrcvsz: size of the receive buffers the sender has posted: the
 *	longest message the peer may send.
 */
struct sdp_hah {
	struct sdp_hello_hdr	hdr;
	__be32			actrcvsz;
};

static_assert(sizeof(struct sdp_hah) == 24);
static_assert(sizeof(struct sdp_hah) <= SDP_HAH_MAX_LEN);

/**
 * struct sdp_hello_host - host-order content of struct sdp_hello_hdr.
 * @bufs: receive buffers posted by the sender, the peer's first credits.
 * @ipv: SDP_IPV4 or SDP_IPV6.
 * @cap: SDP_CAP_* bits.
 * @max_adverts: max_adverts (Hello) or ext_max_adverts (HelloAck).
 */
struct sdp_hello_host {
	u32	bufs;
	u8	ipv;
	u8	cap;
	u8	max_adverts;
};

/**
 * struct sdp_hh_host - host-order content of a Hello.
 * @hello: the shared part.
 * @desremrcvsz: receive buffer size wanted from the passive side.
 * @localrcvsz: receive buffer size of the active side.
 */
struct sdp_hh_host {
	struct sdp_hello_host	hello;
	u32			desremrcvsz;
	u32			localrcvsz;
};

/**
 * struct sdp_hah_host - host-order content of a HelloAck.
 * @hello: the shared part (max_adverts is ext_max_adverts).
 * @actrcvsz: receive buffer size of the passive side.
 */
struct sdp_hah_host {
	struct sdp_hello_host	hello;
	u32			actrcvsz;
};

/**
 * sdp_hdrs_len() - headers of a message that travels on the QP.
 * @mid: its message id.
 *
 * Return: the BSDH plus the extended header of @mid in bytes, or 0 if
 * @mid is unknown or never sent on the QP (Hello, HelloAck).
 */
static inline u32 sdp_hdrs_len(u8 mid)
{
	switch (mid) {
	case SDP_MID_DATA:
	case SDP_MID_DISCONN:
	case SDP_MID_ABORT_CONN:
	case SDP_MID_SENDSM:
	case SDP_MID_SRCAVAIL_CANCEL:
		return sizeof(struct sdp_bsdh);
	case SDP_MID_RDMA_RD_COMPL:
		return sizeof(struct sdp_bsdh) + sizeof(struct sdp_rrch);
	case SDP_MID_CHRCVBUF:
	case SDP_MID_CHRCVBUF_ACK:
		return sizeof(struct sdp_bsdh) + sizeof(struct sdp_crbh);
	case SDP_MID_SINKAVAIL:
		return sizeof(struct sdp_bsdh) + sizeof(struct sdp_snkah);
	case SDP_MID_SRCAVAIL:
		return sizeof(struct sdp_bsdh) + sizeof(struct sdp_srcah);
	default:
		return 0;
	}
}

/**
 * sdp_mid_has_payload() - may messages with this id carry payload?
 * @mid: message id.
 *
 * Return: true for Data, SrcAvail and SinkAvail.
 */
static inline bool sdp_mid_has_payload(u8 mid)
{
	return mid == SDP_MID_DATA || mid == SDP_MID_SRCAVAIL ||
	       mid == SDP_MID_SINKAVAIL;
}

/**
 * sdp_payload_len() - payload bytes of a message sdp_bsdh_parse() accepted.
 * @h: its header.
 *
 * The payload starts sdp_hdrs_len(@h->mid) bytes into the message.
 *
 * Return: the payload length.
 */
static inline u32 sdp_payload_len(const struct sdp_bsdh_host *h)
{
	return h->len - sdp_hdrs_len(h->mid);
}

/**
 * sdp_ext_hdr() - the extended header of a message.
 * @msg: the message, starting with its BSDH.
 *
 * Return: the bytes after the BSDH.
 */
static inline const void *sdp_ext_hdr(const void *msg)
{
	return (const struct sdp_bsdh *)msg + 1;
}

/**
 * sdp_bsdh_build() - encode a BSDH.
 * @w: where to write it.
 * @h: its content; @h->len should be sdp_hdrs_len(@h->mid) plus the
 *	payload length.
 */
static inline void sdp_bsdh_build(struct sdp_bsdh *w,
				  const struct sdp_bsdh_host *h)
{
	w->mid = h->mid;
	w->flags = h->flags;
	w->bufs = cpu_to_be16(h->bufs);
	w->len = cpu_to_be32(h->len);
	w->mseq = cpu_to_be32(h->mseq);
	w->mseq_ack = cpu_to_be32(h->mseq_ack);
}

/**
 * sdp_bsdh_parse() - validate and decode the header of a received message.
 * @msg: the message, at the start of its receive buffer.
 * @rcvd: bytes received (the work completion's byte count).
 * @bufsize: size of the receive buffer.
 * @h: host-order result, valid only on success.
 *
 * Checks everything the message itself can tell: @rcvd holds a BSDH; len
 * covers the headers of its mid and is no more than @rcvd (so no more
 * than @bufsize either; received bytes past len are ignored); the mid is
 * one SDP sends on the QP; a message that carries no payload is exactly
 * as long as its headers; flags hold only defined bits, and SDP_OOB_PRES
 * only on Data with payload (the urgent byte is its last).  Sequence
 * numbers are checked against the connection by sdp_mseq_in_order() and
 * sdp_mseq_ack_ok().
 *
 * Return: 0; -EPROTO if the peer sent a malformed message (abort the
 * connection); -EINVAL if @rcvd exceeds @bufsize, which no HCA reports.
 */
static inline int sdp_bsdh_parse(const void *msg, u32 rcvd, u32 bufsize,
				 struct sdp_bsdh_host *h)
{
	const struct sdp_bsdh *w = msg;
	u32 hdrs;

	if (rcvd > bufsize)
		return -EINVAL;
	if (rcvd < sizeof(*w))
		return -EPROTO;
	h->mid = w->mid;
	h->flags = w->flags;
	h->bufs = be16_to_cpu(w->bufs);
	h->len = be32_to_cpu(w->len);
	h->mseq = be32_to_cpu(w->mseq);
	h->mseq_ack = be32_to_cpu(w->mseq_ack);

	hdrs = sdp_hdrs_len(h->mid);
	if (!hdrs)
		return -EPROTO;
	if (h->len < hdrs || h->len > rcvd)
		return -EPROTO;
	if (h->len != hdrs && !sdp_mid_has_payload(h->mid))
		return -EPROTO;
	if (h->flags & ~SDP_FLAGS_MASK)
		return -EPROTO;
	if ((h->flags & SDP_OOB_PRES) &&
	    (h->mid != SDP_MID_DATA || h->len == hdrs))
		return -EPROTO;
	return 0;
}

/* Is @size a receive buffer size a peer may announce or ask for? */
static inline bool sdp_rcvsz_ok(u32 size)
{
	return size >= SDP_RCVSZ_MIN && size <= SDP_RCVSZ_MAX;
}

/**
 * sdp_crbh_build() - encode the body of ChRcvBuf or ChRcvBufAck.
 * @b: where to write it.
 * @size: buffer size, BSDH included.
 */
static inline void sdp_crbh_build(struct sdp_crbh *b, u32 size)
{
	b->size = cpu_to_be32(size);
}

/**
 * sdp_crbh_parse() - decode the body of ChRcvBuf or ChRcvBufAck.
 * @b: the body, sdp_ext_hdr() of a message sdp_bsdh_parse() accepted.
 * @size: the buffer size, valid only on success.
 *
 * Return: 0, or -EPROTO if the size is outside SDP_RCVSZ_MIN..MAX.
 */
static inline int sdp_crbh_parse(const struct sdp_crbh *b, u32 *size)
{
	u32 v = be32_to_cpu(b->size);

	if (!sdp_rcvsz_ok(v))
		return -EPROTO;
	*size = v;
	return 0;
}

/**
 * sdp_rrch_build() - encode the body of RdmaRdCompl.
 * @b: where to write it.
 * @len: bytes RDMA-read.
 */
static inline void sdp_rrch_build(struct sdp_rrch *b, u32 len)
{
	b->len = cpu_to_be32(len);
}

/**
 * sdp_rrch_parse() - decode the body of RdmaRdCompl.
 * @b: the body, sdp_ext_hdr() of a message sdp_bsdh_parse() accepted.
 * @len: bytes read, valid only on success.
 *
 * Whether @len fits the outstanding SrcAvail is for the caller to check.
 *
 * Return: 0, or -EPROTO for a completion of no bytes.
 */
static inline int sdp_rrch_parse(const struct sdp_rrch *b, u32 *len)
{
	u32 v = be32_to_cpu(b->len);

	if (!v)
		return -EPROTO;
	*len = v;
	return 0;
}

/**
 * sdp_srcah_build() - encode the body of SrcAvail.
 * @b: where to write it.
 * @s: the advertised buffer.
 */
static inline void sdp_srcah_build(struct sdp_srcah *b,
				   const struct sdp_srcah_host *s)
{
	b->len = cpu_to_be32(s->len);
	b->rkey = cpu_to_be32(s->rkey);
	b->vaddr = cpu_to_be64(s->vaddr);
}

/**
 * sdp_srcah_parse() - decode the body of SrcAvail.
 * @b: the body, sdp_ext_hdr() of a message sdp_bsdh_parse() accepted.
 * @inline_len: the message's payload, sdp_payload_len(): the start of
 *	the advertised buffer, sent inline.
 * @s: host-order result, valid only on success.
 *
 * Return: 0, or -EPROTO for an empty buffer or more inline data than
 * the buffer holds.
 */
static inline int sdp_srcah_parse(const struct sdp_srcah *b, u32 inline_len,
				  struct sdp_srcah_host *s)
{
	u32 len = be32_to_cpu(b->len);

	if (!len || inline_len > len)
		return -EPROTO;
	s->len = len;
	s->rkey = be32_to_cpu(b->rkey);
	s->vaddr = be64_to_cpu(b->vaddr);
	return 0;
}

static inline void __sdp_hello_build(struct sdp_hello_hdr *hdr, u8 mid,
				     u32 len, const struct sdp_hello_host *h)
{
	struct sdp_bsdh_host b = {
		.mid = mid,
		.bufs = min_t(u32, h->bufs, U16_MAX),
		.len = len,
	};

	sdp_bsdh_build(&hdr->bsdh, &b);
	hdr->majv_minv = SDP_MAJV_MINV;
	hdr->ipv_cap = h->ipv << SDP_IPV_SHIFT | (h->cap & SDP_CAP_MASK);
	hdr->rsvd1 = 0;
	hdr->max_adverts = h->max_adverts;
}

/*
 * Checks shared by Hello and HelloAck: @data holds at least @size bytes of
 * the @len received, and its BSDH, version, IP version, max_adverts and
 * bufs are sound.
 */
static inline int __sdp_hello_parse(const void *data, size_t len, u8 mid,
				    size_t size, struct sdp_hello_host *h)
{
	const struct sdp_hello_hdr *hdr = data;
	u32 hlen, bufs;
	u8 ipv;

	if (!hdr || len < size)
		return -EPROTO;
	hlen = be32_to_cpu(hdr->bsdh.len);
	if (hdr->bsdh.mid != mid || hdr->bsdh.flags || hlen < size ||
	    hlen > len)
		return -EPROTO;
	if (SDP_MAJV(hdr->majv_minv) != SDP_MAJV(SDP_MAJV_MINV) ||
	    hdr->majv_minv < SDP_MAJV_MINV)
		return -EPROTO;
	ipv = hdr->ipv_cap >> SDP_IPV_SHIFT;
	if (ipv != SDP_IPV4 && ipv != SDP_IPV6)
		return -EPROTO;
	bufs = be16_to_cpu(hdr->bsdh.bufs);
	if (!hdr->max_adverts || bufs < SDP_MIN_BUFS)
		return -EPROTO;
	h->bufs = bufs;
	h->ipv = ipv;
	h->cap = hdr->ipv_cap & SDP_CAP_MASK;
	h->max_adverts = hdr->max_adverts;
	return 0;
}

/**
 * sdp_hh_build() - encode a Hello.
 * @hh: where to write it; pass sizeof(*@hh) bytes as private data.
 * @h: its content; bufs above U16_MAX are announced as U16_MAX.
 */
static inline void sdp_hh_build(struct sdp_hh *hh,
				const struct sdp_hh_host *h)
{
	__sdp_hello_build(&hh->hdr, SDP_MID_HELLO, sizeof(*hh), &h->hello);
	hh->desremrcvsz = cpu_to_be32(h->desremrcvsz);
	hh->localrcvsz = cpu_to_be32(h->localrcvsz);
}

/**
 * sdp_hh_parse() - validate and decode a peer's Hello.
 * @data: the connection request's private data after rdma_cm's header;
 *	may be NULL.
 * @len: its length; rdma_cm pads it to SDP_HH_MAX_LEN.
 * @h: host-order result, valid only on success.
 *
 * The version must be 2.x with x >= 2 (a minor version is taken to be
 * backward compatible), the IP version 4 or 6, max_adverts non-zero,
 * bufs at least SDP_MIN_BUFS and both buffer sizes within
 * SDP_RCVSZ_MIN..MAX.  The BSDH must say Hello,
 * have no flags and a length from sizeof(struct sdp_hh) up to @len.
 *
 * Return: 0, or -EPROTO: reject the connection.
 */
static inline int sdp_hh_parse(const void *data, size_t len,
			       struct sdp_hh_host *h)
{
	const struct sdp_hh *hh = data;
	int err;

	err = __sdp_hello_parse(data, len, SDP_MID_HELLO, sizeof(*hh),
				&h->hello);
	if (err)
		return err;
	h->desremrcvsz = be32_to_cpu(hh->desremrcvsz);
	h->localrcvsz = be32_to_cpu(hh->localrcvsz);
	if (!sdp_rcvsz_ok(h->desremrcvsz) || !sdp_rcvsz_ok(h->localrcvsz))
		return -EPROTO;
	return 0;
}

/**
 * sdp_hah_build() - encode a HelloAck.
 * @hah: where to write it; pass sizeof(*@hah) bytes as private data.
 * @h: its content; bufs above U16_MAX are announced as U16_MAX.
 */
static inline void sdp_hah_build(struct sdp_hah *hah,
				 const struct sdp_hah_host *h)
{
	__sdp_hello_build(&hah->hdr, SDP_MID_HELLO_ACK, sizeof(*hah),
			  &h->hello);
	hah->actrcvsz = cpu_to_be32(h->actrcvsz);
}

/**
 * sdp_hah_parse() - validate and decode a peer's HelloAck.
 * @data: the connection reply's private data; may be NULL.
 * @len: its length; rdma_cm pads it to SDP_HAH_MAX_LEN.
 * @h: host-order result, valid only on success.
 *
 * The same rules as sdp_hh_parse(), for mid HelloAck, the length of a
 * struct sdp_hah and actrcvsz.  That the IP version matches the Hello
 * is for the caller to check.
 *
 * Return: 0, or -EPROTO: fail the connection.
 */
static inline int sdp_hah_parse(const void *data, size_t len,
				struct sdp_hah_host *h)
{
	const struct sdp_hah *hah = data;
	int err;

	err = __sdp_hello_parse(data, len, SDP_MID_HELLO_ACK, sizeof(*hah),
				&h->hello);
	if (err)
		return err;
	h->actrcvsz = be32_to_cpu(hah->actrcvsz);
	if (!sdp_rcvsz_ok(h->actrcvsz))
		return -EPROTO;
	return 0;
}

/**
 * sdp_mseq_in_order() - is a received mseq the one expected?
 * @mseq: the received message's mseq.
 * @last: mseq of the message received before it (0 after the Hello).
 *
 * RC delivers in order, so anything but @last + 1 means a broken peer.
 *
 * Return: true if @mseq follows @last, across the wrap too.
 */
static inline bool sdp_mseq_in_order(u32 mseq, u32 last)
{
	return mseq == last + 1;
}

/**
 * sdp_mseq_ack_ok() - is a received mseq_ack plausible?
 * @mseq_ack: the received message's mseq_ack.
 * @prev_ack: mseq_ack of the message received before it (0 after the
 *	Hello).
 * @next_mseq: mseq our next message will carry.
 *
 * The peer can acknowledge only what we sent, and never less than it
 * acknowledged before: @prev_ack <= @mseq_ack < @next_mseq, in sequence
 * space, across the wrap too.
 *
 * Return: true if plausible; otherwise the peer is broken.
 */
static inline bool sdp_mseq_ack_ok(u32 mseq_ack, u32 prev_ack, u32 next_mseq)
{
	return mseq_ack - prev_ack < next_mseq - prev_ack;
}

/**
 * sdp_tx_credits() - send credits after a message from the peer.
 * @bufs: its BSDH bufs (the Hello's or HelloAck's at first).
 * @mseq_ack: its BSDH mseq_ack (0 for the Hello or HelloAck).
 * @next_mseq: mseq our next message will carry.
 *
 * The peer had @bufs buffers posted when it had received our messages up
 * to @mseq_ack; the ones we sent after that, @next_mseq - @mseq_ack - 1
 * in wrap-safe u32 arithmetic, take one each.  Recompute after every
 * received message and count down as messages are sent.
 *
 * Return: the credits, 0 if the peer announced fewer buffers than we
 * have in flight.
 */
static inline u32 sdp_tx_credits(u32 bufs, u32 mseq_ack, u32 next_mseq)
{
	u32 in_flight = next_mseq - mseq_ack - 1;

	return bufs > in_flight ? bufs - in_flight : 0;
}

/**
 * sdp_can_send() - may a message be posted now?
 * @credits: current send credits.
 * @mid: its message id.
 * @payload: its payload length.
 *
 * CA4-82: with one credit left, only a message that returns credits and
 * carries no payload may be sent; that is the credit update, a Data
 * message without payload.  Every other message, DisConn included, leaves
 * SDP_CREDITS_KEPT credits behind, so that credit updates can always
 * flow and neither side waits on the other forever.
 *
 * Return: true if the message may be posted.
 */
static inline bool sdp_can_send(u32 credits, u8 mid, u32 payload)
{
	if (mid == SDP_MID_DATA && !payload)
		return credits > 0;
	return credits > SDP_CREDITS_KEPT;
}

/**
 * sdp_credit_update_due() - should a credit update be sent now?
 * @posted: receive buffers this side has posted.
 * @advertised: the peer's idea of them: bufs of the last message this
 *	side sent, less the messages received since, at least 0.
 * @read: since this side last sent a message, its reader freed a buffer
 *	that held data.
 *
 * Due when the peer's view has fallen to half of @posted or less, and
 * the update returns at least SDP_CREDIT_UPDATE_MIN credits.  The half
 * keeps a stream going without an update per message: with at least
 * SDP_MIN_BUFS buffers posted, a peer down to one credit (which it may
 * not use for data) always gets an update, so a one-way stream never
 * stalls.  The minimum matters when readers hold most buffers: each
 * update takes a buffer of the peer and so owes it one credit, and
 * without the minimum two such sides would answer each other's updates
 * forever; with it an exchange of updates dies out after one each way.
 *
 * Also due, with a single credit to return, when the peer is down to the
 * kept credit: a few posted buffers with one held by unread data would
 * otherwise stop a peer that has data queued (TCP's window would take
 * it).  That needs SDP_MIN_BUFS posted, or a buffer freed by this side's
 * reader (@read): an update sets the peer's view to what is posted, the
 * next update from the peer takes one of them, so the peer's view stays
 * above the kept credit and the exchange still dies out.  The update
 * itself needs a credit (sdp_can_send()).
 *
 * Return: true if a zero-length Data message should be sent.
 */
static inline bool sdp_credit_update_due(u32 posted, u32 advertised,
					 bool read)
{
	if (advertised <= SDP_CREDITS_KEPT && posted > advertised &&
	    (posted >= SDP_MIN_BUFS || (read && posted > SDP_CREDITS_KEPT)))
		return true;
	return advertised <= posted / 2 &&
	       posted - advertised >= SDP_CREDIT_UPDATE_MIN;
}

#endif /* _SDP_PROTO_H */
