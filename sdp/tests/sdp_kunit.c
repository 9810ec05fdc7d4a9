// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "sdp_proto": SDP's wire format and credit arithmetic
 * (sdp_proto.h).  Messages are built with the header's encoders, checked
 * byte by byte against the wire layout, parsed back, and then corrupted
 * one field at a time; the credit rules are checked one by one and then
 * in a simulation of two peers.  Linked into af_ib_kunit.ko next to the
 * af_ib suites, whose file carries the module information.
 */
#include <kunit/test.h>
#include <linux/prandom.h>
#include <linux/string.h>
#include <rdma/ib_cm.h>
#include "sdp_proto.h"

/* The Hello budget in sdp_proto.h follows from the CM's private data. */
static_assert(SDP_CM_REQ_PRIVATE_DATA == IB_CM_REQ_PRIVATE_DATA_SIZE);
static_assert(SDP_HAH_MAX_LEN == IB_CM_REP_PRIVATE_DATA_SIZE);

#define SDP_T_BUFSIZE	4096

/* Write a BSDH with the given fields at the start of @buf. */
static void sdp_t_bsdh(void *buf, u8 mid, u8 flags, u32 len)
{
	struct sdp_bsdh_host h = {
		.mid = mid,
		.flags = flags,
		.bufs = 7,
		.len = len,
		.mseq = 100,
		.mseq_ack = 99,
	};

	sdp_bsdh_build(buf, &h);
}

/* --- BSDH layout ----------------------------------------------------- */

static void sdp_bsdh_wire(struct kunit *test)
{
	static const u8 want[] = {
		0xff, 0x03, 0x12, 0x34, 0x01, 0x02, 0x03, 0x04,
		0xa1, 0xb2, 0xc3, 0xd4, 0x0b, 0xad, 0xf0, 0x0d,
	};
	const struct sdp_bsdh_host h = {
		.mid = SDP_MID_DATA,
		.flags = SDP_OOB_PRES | SDP_OOB_PEND,
		.bufs = 0x1234,
		.len = 0x01020304,
		.mseq = 0xa1b2c3d4,
		.mseq_ack = 0x0badf00d,
	};
	struct sdp_bsdh w;

	KUNIT_ASSERT_EQ(test, sizeof(w), sizeof(want));
	sdp_bsdh_build(&w, &h);
	KUNIT_EXPECT_EQ(test, memcmp(&w, want, sizeof(want)), 0);
}

/* Decode a message given as raw bytes, independent of the encoder. */
static void sdp_bsdh_decode_bytes(struct kunit *test)
{
	static const u8 msg[] = {
		0xff, 0x02, 0x01, 0x07, 0x00, 0x00, 0x00, 0x14,
		0x80, 0x00, 0x00, 0x05, 0x00, 0x01, 0x00, 0x03,
		'a', 'b', 'c', 'd',
	};
	struct sdp_bsdh_host h;

	KUNIT_ASSERT_EQ(test, sdp_bsdh_parse(msg, sizeof(msg), SDP_T_BUFSIZE,
					     &h), 0);
	KUNIT_EXPECT_EQ(test, h.mid, SDP_MID_DATA);
	KUNIT_EXPECT_EQ(test, h.flags, SDP_OOB_PEND);
	KUNIT_EXPECT_EQ(test, h.bufs, 0x0107);
	KUNIT_EXPECT_EQ(test, h.len, 20U);
	KUNIT_EXPECT_EQ(test, h.mseq, 0x80000005U);
	KUNIT_EXPECT_EQ(test, h.mseq_ack, 0x00010003U);
	KUNIT_EXPECT_EQ(test, sdp_payload_len(&h), 4U);
}

/* --- every message, encoded and decoded ------------------------------ */

struct sdp_msg_case {
	const char *name;
	u8 mid;
	u8 flags;
	u32 payload;
	u32 value;	/* crbh size, rrch len or srcah len */
};

static const struct sdp_msg_case sdp_msg_cases[] = {
	{ "data", SDP_MID_DATA, 0, 1000 },
	{ "data_full_buffer", SDP_MID_DATA, 0, SDP_T_BUFSIZE - 16 },
	{ "data_urgent", SDP_MID_DATA, SDP_OOB_PRES | SDP_OOB_PEND, 1 },
	{ "credit_update", SDP_MID_DATA, 0, 0 },
	{ "credit_update_oob_pend", SDP_MID_DATA, SDP_OOB_PEND, 0 },
	{ "disconn", SDP_MID_DISCONN, 0, 0 },
	{ "abort_conn", SDP_MID_ABORT_CONN, 0, 0 },
	{ "sendsm", SDP_MID_SENDSM, 0, 0 },
	{ "rdma_rd_compl", SDP_MID_RDMA_RD_COMPL, 0, 0, 0x00123456 },
	{ "srcavail_cancel", SDP_MID_SRCAVAIL_CANCEL, 0, 0 },
	{ "chrcvbuf", SDP_MID_CHRCVBUF, 0, 0, 65536 + 16 },
	{ "chrcvbuf_ack", SDP_MID_CHRCVBUF_ACK, 0, 0, 32768 + 16 },
	{ "srcavail", SDP_MID_SRCAVAIL, 0, 0, 1 << 20 },
	{ "srcavail_inline", SDP_MID_SRCAVAIL, 0, 512, 70000 },
	{ "sinkavail", SDP_MID_SINKAVAIL, 0, 0 },
};

KUNIT_ARRAY_PARAM_DESC(sdp_msg, sdp_msg_cases, name);

static void sdp_msg_roundtrip(struct kunit *test)
{
	const struct sdp_msg_case *c = test->param_value;
	const struct sdp_srcah_host sa = {
		.len = c->value,
		.rkey = 0x89abcdef,
		.vaddr = 0xfedcba9876543210ULL,
	};
	const u32 hdrs = sdp_hdrs_len(c->mid);
	const struct sdp_bsdh_host want = {
		.mid = c->mid,
		.flags = c->flags,
		.bufs = 0xfffe,
		.len = hdrs + c->payload,
		.mseq = 0xfffffffe,
		.mseq_ack = 0x7fffffff,
	};
	struct sdp_srcah_host sa_got;
	struct sdp_bsdh_host got;
	void *ext;
	u8 *buf;
	u32 v;

	buf = kunit_kzalloc(test, SDP_T_BUFSIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_GE(test, hdrs, 16U);
	sdp_bsdh_build((struct sdp_bsdh *)buf, &want);
	ext = buf + sizeof(struct sdp_bsdh);
	KUNIT_EXPECT_PTR_EQ(test, sdp_ext_hdr(buf), (const void *)ext);
	if (c->mid == SDP_MID_RDMA_RD_COMPL)
		sdp_rrch_build(ext, c->value);
	else if (c->mid == SDP_MID_CHRCVBUF || c->mid == SDP_MID_CHRCVBUF_ACK)
		sdp_crbh_build(ext, c->value);
	else if (c->mid == SDP_MID_SRCAVAIL)
		sdp_srcah_build(ext, &sa);

	KUNIT_ASSERT_EQ(test, sdp_bsdh_parse(buf, want.len, SDP_T_BUFSIZE,
					     &got), 0);
	KUNIT_EXPECT_EQ(test, got.mid, want.mid);
	KUNIT_EXPECT_EQ(test, got.flags, want.flags);
	KUNIT_EXPECT_EQ(test, got.bufs, want.bufs);
	KUNIT_EXPECT_EQ(test, got.len, want.len);
	KUNIT_EXPECT_EQ(test, got.mseq, want.mseq);
	KUNIT_EXPECT_EQ(test, got.mseq_ack, want.mseq_ack);
	KUNIT_EXPECT_EQ(test, sdp_payload_len(&got), c->payload);
	KUNIT_EXPECT_EQ(test, sdp_mid_has_payload(c->mid),
			c->mid == SDP_MID_DATA || c->mid == SDP_MID_SRCAVAIL ||
			c->mid == SDP_MID_SINKAVAIL);

	switch (c->mid) {
	case SDP_MID_RDMA_RD_COMPL:
		KUNIT_EXPECT_EQ(test, sdp_rrch_parse(ext, &v), 0);
		KUNIT_EXPECT_EQ(test, v, c->value);
		KUNIT_EXPECT_EQ(test, be32_to_cpup(ext), c->value);
		break;
	case SDP_MID_CHRCVBUF:
	case SDP_MID_CHRCVBUF_ACK:
		KUNIT_EXPECT_EQ(test, sdp_crbh_parse(ext, &v), 0);
		KUNIT_EXPECT_EQ(test, v, c->value);
		KUNIT_EXPECT_EQ(test, be32_to_cpup(ext), c->value);
		break;
	case SDP_MID_SRCAVAIL: {
		static const u8 sa_wire[] = {
			0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98,
			0x76, 0x54, 0x32, 0x10,
		};

		KUNIT_EXPECT_EQ(test, be32_to_cpup(ext), c->value);
		KUNIT_EXPECT_EQ(test, memcmp((u8 *)ext + 4, sa_wire,
					     sizeof(sa_wire)), 0);
		KUNIT_ASSERT_EQ(test, sdp_srcah_parse(ext, c->payload, &sa_got),
				0);
		KUNIT_EXPECT_EQ(test, sa_got.len, sa.len);
		KUNIT_EXPECT_EQ(test, sa_got.rkey, sa.rkey);
		KUNIT_EXPECT_EQ(test, sa_got.vaddr, sa.vaddr);
		break;
	}
	}
}

/* --- malformed headers ----------------------------------------------- */

/* A BSDH saying @mid and @len, @rcvd bytes of it received into @bufsize. */
struct sdp_len_case {
	const char *what;
	u8 mid;
	u32 len;
	u32 rcvd;
	u32 bufsize;
	int err;
};

static const struct sdp_len_case sdp_len_cases[] = {
	{ "fewer bytes than a BSDH", SDP_MID_DATA, 15, 15, SDP_T_BUFSIZE,
	  -EPROTO },
	{ "fewer bytes than a BSDH, len 16", SDP_MID_DATA, 16, 15,
	  SDP_T_BUFSIZE, -EPROTO },
	{ "no bytes", SDP_MID_DATA, 16, 0, SDP_T_BUFSIZE, -EPROTO },
	{ "len 0", SDP_MID_DATA, 0, 64, SDP_T_BUFSIZE, -EPROTO },
	{ "len below the BSDH", SDP_MID_DATA, 15, 64, SDP_T_BUFSIZE,
	  -EPROTO },
	{ "control len below the BSDH", SDP_MID_DISCONN, 15, 64,
	  SDP_T_BUFSIZE, -EPROTO },
	{ "len above received by one", SDP_MID_DATA, 65, 64, SDP_T_BUFSIZE,
	  -EPROTO },
	{ "len above received by far", SDP_MID_DATA, U32_MAX, 64,
	  SDP_T_BUFSIZE, -EPROTO },
	{ "len above the buffer", SDP_MID_DATA, SDP_T_BUFSIZE + 1,
	  SDP_T_BUFSIZE, SDP_T_BUFSIZE, -EPROTO },
	/* A byte count beyond the buffer is the caller's bug. */
	{ "received above the buffer", SDP_MID_DATA, 64, SDP_T_BUFSIZE + 1,
	  SDP_T_BUFSIZE, -EINVAL },
	/* The limits themselves are fine; trailing bytes are ignored. */
	{ "whole buffer", SDP_MID_DATA, SDP_T_BUFSIZE, SDP_T_BUFSIZE,
	  SDP_T_BUFSIZE, 0 },
	{ "BSDH only, in a BSDH", SDP_MID_DATA, 16, 16, 16, 0 },
	{ "trailing bytes", SDP_MID_DATA, 20, 64, SDP_T_BUFSIZE, 0 },
};

static void sdp_bsdh_bad_len(struct kunit *test)
{
	const struct sdp_len_case *c;
	struct sdp_bsdh_host h;
	u8 *buf, *small;
	int i;

	buf = kunit_kzalloc(test, SDP_T_BUFSIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < ARRAY_SIZE(sdp_len_cases); i++) {
		c = &sdp_len_cases[i];
		sdp_t_bsdh(buf, c->mid, 0, c->len);
		KUNIT_EXPECT_EQ_MSG(test, sdp_bsdh_parse(buf, c->rcvd,
							 c->bufsize, &h),
				    c->err, "%s", c->what);
		if (!c->err)
			KUNIT_EXPECT_EQ(test, sdp_payload_len(&h), c->len - 16);
	}

	/* In a buffer smaller than a BSDH, reading one would overrun it. */
	small = kunit_kzalloc(test, 15, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, small);
	memset(small, 0xff, 15);
	KUNIT_EXPECT_EQ(test, sdp_bsdh_parse(small, 15, 15, &h), -EPROTO);
}

/* Exactly the ten mids SDP sends on the QP are accepted. */
static void sdp_bsdh_bad_mid(struct kunit *test)
{
	static const u8 known[] = {
		SDP_MID_DISCONN, SDP_MID_ABORT_CONN, SDP_MID_SENDSM,
		SDP_MID_RDMA_RD_COMPL, SDP_MID_SRCAVAIL_CANCEL,
		SDP_MID_CHRCVBUF, SDP_MID_CHRCVBUF_ACK, SDP_MID_SINKAVAIL,
		SDP_MID_SRCAVAIL, SDP_MID_DATA,
	};
	struct sdp_bsdh_host h;
	u8 buf[64] = {};
	int mid, i, ok;

	for (mid = 0; mid <= 0xff; mid++) {
		u32 len = sdp_hdrs_len(mid) ?: sizeof(struct sdp_bsdh);

		ok = 0;
		for (i = 0; i < ARRAY_SIZE(known); i++)
			ok |= known[i] == mid;
		sdp_t_bsdh(buf, mid, 0, len);
		KUNIT_EXPECT_EQ_MSG(test, sdp_bsdh_parse(buf, len, sizeof(buf),
							 &h),
				    ok ? 0 : -EPROTO, "mid %#x", mid);
		sdp_t_bsdh(buf, mid, 0, 0);
		KUNIT_EXPECT_EQ_MSG(test, sdp_bsdh_parse(buf, len, sizeof(buf),
							 &h),
				    -EPROTO, "mid %#x, len 0", mid);
		KUNIT_EXPECT_EQ_MSG(test, !!sdp_hdrs_len(mid), ok,
				    "mid %#x", mid);
	}
	/* Hello and HelloAck belong in the CM private data only. */
	KUNIT_EXPECT_EQ(test, sdp_hdrs_len(SDP_MID_HELLO), 0U);
	KUNIT_EXPECT_EQ(test, sdp_hdrs_len(SDP_MID_HELLO_ACK), 0U);
}

static void sdp_bsdh_bad_flags(struct kunit *test)
{
	struct sdp_bsdh_host h;
	u8 buf[64] = {};
	int bit;

	for (bit = 2; bit < 8; bit++) {
		sdp_t_bsdh(buf, SDP_MID_DATA, BIT(bit), 32);
		KUNIT_EXPECT_EQ_MSG(test, sdp_bsdh_parse(buf, 32, sizeof(buf),
							 &h),
				    -EPROTO, "flag %#lx", BIT(bit));
		sdp_t_bsdh(buf, SDP_MID_DATA, SDP_OOB_PEND | BIT(bit), 32);
		KUNIT_EXPECT_EQ(test, sdp_bsdh_parse(buf, 32, sizeof(buf), &h),
				-EPROTO);
	}
	/* The urgent byte is the last payload byte: there must be one. */
	sdp_t_bsdh(buf, SDP_MID_DATA, SDP_OOB_PRES, 17);
	KUNIT_EXPECT_EQ(test, sdp_bsdh_parse(buf, 17, sizeof(buf), &h), 0);
	sdp_t_bsdh(buf, SDP_MID_DATA, SDP_OOB_PRES, 16);
	KUNIT_EXPECT_EQ(test, sdp_bsdh_parse(buf, 16, sizeof(buf), &h),
			-EPROTO);
	/* ... and only Data carries it. */
	sdp_t_bsdh(buf, SDP_MID_DISCONN, SDP_OOB_PRES, 16);
	KUNIT_EXPECT_EQ(test, sdp_bsdh_parse(buf, 16, sizeof(buf), &h),
			-EPROTO);
	sdp_t_bsdh(buf, SDP_MID_SRCAVAIL, SDP_OOB_PRES, 40);
	KUNIT_EXPECT_EQ(test, sdp_bsdh_parse(buf, 40, sizeof(buf), &h),
			-EPROTO);
	/* Announcing pending urgent data is fine on any message. */
	sdp_t_bsdh(buf, SDP_MID_DISCONN, SDP_OOB_PEND, 16);
	KUNIT_EXPECT_EQ(test, sdp_bsdh_parse(buf, 16, sizeof(buf), &h), 0);
}

/* A message's length must match what its mid carries. */
static void sdp_bsdh_bad_ctrl_len(struct kunit *test)
{
	static const u8 fixed[] = {
		SDP_MID_DISCONN, SDP_MID_ABORT_CONN, SDP_MID_SENDSM,
		SDP_MID_RDMA_RD_COMPL, SDP_MID_SRCAVAIL_CANCEL,
		SDP_MID_CHRCVBUF, SDP_MID_CHRCVBUF_ACK,
	};
	static const u8 open[] = {
		SDP_MID_DATA, SDP_MID_SRCAVAIL, SDP_MID_SINKAVAIL,
	};
	struct sdp_bsdh_host h;
	u8 buf[128] = {};
	u32 hdrs;
	int i;

	KUNIT_EXPECT_EQ(test, sdp_hdrs_len(SDP_MID_RDMA_RD_COMPL), 20U);
	KUNIT_EXPECT_EQ(test, sdp_hdrs_len(SDP_MID_CHRCVBUF), 20U);
	KUNIT_EXPECT_EQ(test, sdp_hdrs_len(SDP_MID_CHRCVBUF_ACK), 20U);
	KUNIT_EXPECT_EQ(test, sdp_hdrs_len(SDP_MID_SRCAVAIL), 32U);
	KUNIT_EXPECT_EQ(test, sdp_hdrs_len(SDP_MID_SINKAVAIL), 36U);

	for (i = 0; i < ARRAY_SIZE(fixed); i++) {
		hdrs = sdp_hdrs_len(fixed[i]);
		sdp_t_bsdh(buf, fixed[i], 0, hdrs + 1);
		KUNIT_EXPECT_EQ_MSG(test, sdp_bsdh_parse(buf, sizeof(buf),
							 sizeof(buf), &h),
				    -EPROTO, "mid %#x with payload", fixed[i]);
		sdp_t_bsdh(buf, fixed[i], 0, hdrs - 1);
		KUNIT_EXPECT_EQ_MSG(test, sdp_bsdh_parse(buf, sizeof(buf),
							 sizeof(buf), &h),
				    -EPROTO, "mid %#x too short", fixed[i]);
	}
	for (i = 0; i < ARRAY_SIZE(open); i++) {
		hdrs = sdp_hdrs_len(open[i]);
		sdp_t_bsdh(buf, open[i], 0, hdrs + 1);
		KUNIT_EXPECT_EQ_MSG(test, sdp_bsdh_parse(buf, sizeof(buf),
							 sizeof(buf), &h),
				    0, "mid %#x with payload", open[i]);
		if (hdrs == sizeof(struct sdp_bsdh))
			continue;
		/* Too short for its extended header. */
		sdp_t_bsdh(buf, open[i], 0, hdrs - 1);
		KUNIT_EXPECT_EQ_MSG(test, sdp_bsdh_parse(buf, sizeof(buf),
							 sizeof(buf), &h),
				    -EPROTO, "mid %#x too short", open[i]);
	}
}

/* Extended header values that no sane peer sends. */
static void sdp_ext_bad(struct kunit *test)
{
	struct sdp_srcah_host sa = { .len = 100 };
	struct sdp_srcah srcah;
	struct sdp_crbh crbh;
	struct sdp_rrch rrch;
	u32 v = 0xdead;

	sdp_crbh_build(&crbh, 0);
	KUNIT_EXPECT_EQ(test, sdp_crbh_parse(&crbh, &v), -EPROTO);
	sdp_crbh_build(&crbh, SDP_RCVSZ_MIN - 1);
	KUNIT_EXPECT_EQ(test, sdp_crbh_parse(&crbh, &v), -EPROTO);
	sdp_crbh_build(&crbh, SDP_RCVSZ_MAX + 1);
	KUNIT_EXPECT_EQ(test, sdp_crbh_parse(&crbh, &v), -EPROTO);
	sdp_crbh_build(&crbh, U32_MAX);
	KUNIT_EXPECT_EQ(test, sdp_crbh_parse(&crbh, &v), -EPROTO);
	KUNIT_EXPECT_EQ(test, v, 0xdeadU);
	sdp_crbh_build(&crbh, SDP_RCVSZ_MIN);
	KUNIT_EXPECT_EQ(test, sdp_crbh_parse(&crbh, &v), 0);
	KUNIT_EXPECT_EQ(test, v, SDP_RCVSZ_MIN);
	sdp_crbh_build(&crbh, SDP_RCVSZ_MAX);
	KUNIT_EXPECT_EQ(test, sdp_crbh_parse(&crbh, &v), 0);
	KUNIT_EXPECT_EQ(test, v, SDP_RCVSZ_MAX);

	sdp_rrch_build(&rrch, 0);
	KUNIT_EXPECT_EQ(test, sdp_rrch_parse(&rrch, &v), -EPROTO);
	sdp_rrch_build(&rrch, 1);
	KUNIT_EXPECT_EQ(test, sdp_rrch_parse(&rrch, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 1U);

	/* Inline data is the start of the advertised buffer. */
	sdp_srcah_build(&srcah, &sa);
	KUNIT_EXPECT_EQ(test, sdp_srcah_parse(&srcah, 100, &sa), 0);
	KUNIT_EXPECT_EQ(test, sdp_srcah_parse(&srcah, 101, &sa), -EPROTO);
	sa.len = 0;
	sdp_srcah_build(&srcah, &sa);
	KUNIT_EXPECT_EQ(test, sdp_srcah_parse(&srcah, 0, &sa), -EPROTO);
}

/* --- Hello and HelloAck ---------------------------------------------- */

/*
 * @pd holds the private data, zero-padded as rdma_cm hands it over, of
 * which the first @n bytes must be @want; @got is what was parsed from
 * it and @bufs the bufs expected for @in.
 */
static void sdp_t_hello_check(struct kunit *test, const u8 *pd,
			      const u8 *want, size_t n,
			      const struct sdp_hello_host *got,
			      const struct sdp_hello_host *in, u32 bufs)
{
	KUNIT_EXPECT_EQ(test, memcmp(pd, want, n), 0);
	KUNIT_EXPECT_EQ(test, got->bufs, bufs);
	KUNIT_EXPECT_EQ(test, got->ipv, in->ipv);
	KUNIT_EXPECT_EQ(test, got->max_adverts, in->max_adverts);
}

static void sdp_hh_roundtrip(struct kunit *test)
{
	static const u8 want[] = {
		0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x1c,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x22, 0x60, 0x00, 0x03, 0x00, 0x01, 0x00, 0x10,
		0x00, 0x00, 0x80, 0x10,
	};
	const struct sdp_hh_host in = {
		.hello = { .bufs = 0x0102, .ipv = SDP_IPV6, .max_adverts = 3 },
		.desremrcvsz = 0x00010010,
		.localrcvsz = 0x00008010,
	};
	struct sdp_hah_host hah_out;
	struct sdp_hh_host out;
	u8 pd[SDP_HAH_MAX_LEN];

	KUNIT_ASSERT_EQ(test, sizeof(struct sdp_hh), sizeof(want));
	memset(pd, 0, sizeof(pd));
	sdp_hh_build((struct sdp_hh *)pd, &in);
	KUNIT_ASSERT_EQ(test, sdp_hh_parse(pd, sizeof(pd), &out), 0);
	sdp_t_hello_check(test, pd, want, sizeof(want), &out.hello, &in.hello,
			  in.hello.bufs);
	KUNIT_EXPECT_EQ(test, out.desremrcvsz, in.desremrcvsz);
	KUNIT_EXPECT_EQ(test, out.localrcvsz, in.localrcvsz);
	/* Exactly our own length is enough. */
	KUNIT_EXPECT_EQ(test, sdp_hh_parse(pd, sizeof(struct sdp_hh), &out),
			0);
	/* A Hello is no HelloAck. */
	KUNIT_EXPECT_EQ(test, sdp_hah_parse(pd, SDP_HAH_MAX_LEN, &hah_out),
			-EPROTO);
	/* No private data, whatever length comes with it. */
	KUNIT_EXPECT_EQ(test, sdp_hh_parse(NULL, SDP_HH_MAX_LEN, &out),
			-EPROTO);
}

static void sdp_hah_roundtrip(struct kunit *test)
{
	static const u8 want[] = {
		0x01, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x18,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x22, 0x40, 0x00, 0x01, 0x00, 0x00, 0x10, 0x10,
	};
	const struct sdp_hah_host in = {
		/* More buffers than bufs can say are announced as 65535. */
		.hello = { .bufs = 70000, .ipv = SDP_IPV4, .max_adverts = 1 },
		.actrcvsz = 0x1010,
	};
	struct sdp_hh_host hh_out;
	struct sdp_hah_host out;
	u8 pd[SDP_HAH_MAX_LEN];

	KUNIT_ASSERT_EQ(test, sizeof(struct sdp_hah), sizeof(want));
	memset(pd, 0, sizeof(pd));
	sdp_hah_build((struct sdp_hah *)pd, &in);
	KUNIT_ASSERT_EQ(test, sdp_hah_parse(pd, sizeof(pd), &out), 0);
	sdp_t_hello_check(test, pd, want, sizeof(want), &out.hello, &in.hello,
			  U16_MAX);
	KUNIT_EXPECT_EQ(test, out.actrcvsz, in.actrcvsz);
	/* A HelloAck is no Hello. */
	KUNIT_EXPECT_EQ(test, sdp_hh_parse(pd, SDP_HH_MAX_LEN, &hh_out),
			-EPROTO);
	/* No private data, whatever length comes with it. */
	KUNIT_EXPECT_EQ(test, sdp_hah_parse(NULL, SDP_HAH_MAX_LEN, &out),
			-EPROTO);
}

/*
 * One corruption of a valid Hello or HelloAck, in rdma_cm's zero-padded
 * private data: @n bytes at @off become @val (big-endian), or the
 * private data is cut to @cut bytes (-1: none at all, NULL).
 */
struct sdp_hello_case {
	const char *name;
	bool ack;
	u8 off;
	u8 n;
	u32 val;
	int cut;
	int err;
};

#define HH(nm, o, nb, v, e)	{ nm, false, o, nb, v, 0, e }
#define HAH(nm, o, nb, v, e)	{ nm, true, o, nb, v, 0, e }

static const struct sdp_hello_case sdp_hello_cases[] = {
	HH("hh_good", 0, 0, 0, 0),
	HH("hh_mid_hello_ack", 0, 1, SDP_MID_HELLO_ACK, -EPROTO),
	HH("hh_mid_data", 0, 1, SDP_MID_DATA, -EPROTO),
	HH("hh_flags", 1, 1, SDP_OOB_PEND, -EPROTO),
	HH("hh_flags_undefined", 1, 1, 0x80, -EPROTO),
	HH("hh_bufs_2", 2, 2, 2, -EPROTO),
	HH("hh_bufs_0", 2, 2, 0, -EPROTO),
	HH("hh_bufs_3", 2, 2, 3, 0),
	HH("hh_len_short", 4, 4, 27, -EPROTO),
	HH("hh_len_0", 4, 4, 0, -EPROTO),
	HH("hh_len_beyond_data", 4, 4, SDP_HH_MAX_LEN + 1, -EPROTO),
	HH("hh_len_padded", 4, 4, SDP_HH_MAX_LEN, 0),
	HH("hh_mseq_ignored", 8, 4, 12345, 0),
	HH("hh_version_1_1", 16, 1, 0x11, -EPROTO),
	HH("hh_version_2_1", 16, 1, 0x21, -EPROTO),
	HH("hh_version_3_2", 16, 1, 0x32, -EPROTO),
	HH("hh_version_0", 16, 1, 0x00, -EPROTO),
	HH("hh_version_2_15", 16, 1, 0x2f, 0),
	HH("hh_ipv_0", 17, 1, 0x00, -EPROTO),
	HH("hh_ipv_5", 17, 1, 0x50, -EPROTO),
	HH("hh_ipv_low_nibble_only", 17, 1, 0x04, -EPROTO),
	HH("hh_ipv_15", 17, 1, 0xf0, -EPROTO),
	HH("hh_ipv_6", 17, 1, 0x60, 0),
	HH("hh_ipv_reserved_bits", 17, 1, 0x4f, 0),
	HH("hh_rsvd1_ignored", 18, 1, 0xff, 0),
	HH("hh_max_adverts_0", 19, 1, 0, -EPROTO),
	HH("hh_desremrcvsz_0", 20, 4, 0, -EPROTO),
	HH("hh_desremrcvsz_small", 20, 4, SDP_RCVSZ_MIN - 1, -EPROTO),
	HH("hh_desremrcvsz_huge", 20, 4, SDP_RCVSZ_MAX + 1, -EPROTO),
	HH("hh_desremrcvsz_max", 20, 4, SDP_RCVSZ_MAX, 0),
	HH("hh_localrcvsz_0", 24, 4, 0, -EPROTO),
	HH("hh_localrcvsz_small", 24, 4, SDP_RCVSZ_MIN - 1, -EPROTO),
	HH("hh_localrcvsz_huge", 24, 4, U32_MAX, -EPROTO),
	HH("hh_localrcvsz_min", 24, 4, SDP_RCVSZ_MIN, 0),
	{ "hh_cut_3", false, 0, 0, 0, 3, -EPROTO },
	{ "hh_cut_27", false, 0, 0, 0, 27, -EPROTO },
	{ "hh_cut_28", false, 0, 0, 0, 28, 0 },
	{ "hh_empty", false, 0, 0, 0, -1, -EPROTO },
	HAH("hah_good", 0, 0, 0, 0),
	HAH("hah_mid_hello", 0, 1, SDP_MID_HELLO, -EPROTO),
	HAH("hah_flags", 1, 1, SDP_OOB_PRES, -EPROTO),
	HAH("hah_bufs_2", 2, 2, 2, -EPROTO),
	HAH("hah_len_short", 4, 4, 23, -EPROTO),
	HAH("hah_len_beyond_data", 4, 4, SDP_HAH_MAX_LEN + 1, -EPROTO),
	HAH("hah_len_padded", 4, 4, SDP_HAH_MAX_LEN, 0),
	HAH("hah_version_1_1", 16, 1, 0x11, -EPROTO),
	HAH("hah_version_3_2", 16, 1, 0x32, -EPROTO),
	HAH("hah_ipv_0", 17, 1, 0x00, -EPROTO),
	HAH("hah_ipv_7", 17, 1, 0x70, -EPROTO),
	HAH("hah_ipv_6", 17, 1, 0x60, 0),
	HAH("hah_ext_max_adverts_0", 19, 1, 0, -EPROTO),
	HAH("hah_actrcvsz_0", 20, 4, 0, -EPROTO),
	HAH("hah_actrcvsz_small", 20, 4, SDP_RCVSZ_MIN - 1, -EPROTO),
	HAH("hah_actrcvsz_huge", 20, 4, SDP_RCVSZ_MAX + 1, -EPROTO),
	HAH("hah_actrcvsz_max", 20, 4, SDP_RCVSZ_MAX, 0),
	{ "hah_cut_7", true, 0, 0, 0, 7, -EPROTO },
	{ "hah_cut_23", true, 0, 0, 0, 23, -EPROTO },
	{ "hah_cut_24", true, 0, 0, 0, 24, 0 },
	{ "hah_empty", true, 0, 0, 0, -1, -EPROTO },
};

KUNIT_ARRAY_PARAM_DESC(sdp_hello, sdp_hello_cases, name);

static void sdp_hello_malformed(struct kunit *test)
{
	const struct sdp_hello_case *c = test->param_value;
	const struct sdp_hello_host hello = {
		.bufs = 64,
		.ipv = SDP_IPV4,
		.max_adverts = 1,
	};
	const struct sdp_hh_host hh = {
		.hello = hello,
		.desremrcvsz = 4096 + 16,
		.localrcvsz = 4096 + 16,
	};
	const struct sdp_hah_host hah = {
		.hello = hello,
		.actrcvsz = 4096 + 16,
	};
	size_t len = c->ack ? SDP_HAH_MAX_LEN : SDP_HH_MAX_LEN;
	struct sdp_hah_host hah_out;
	struct sdp_hh_host hh_out;
	u8 *pd, *data = NULL;
	int i;

	pd = kunit_kzalloc(test, SDP_HAH_MAX_LEN, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pd);
	if (c->ack)
		sdp_hah_build((struct sdp_hah *)pd, &hah);
	else
		sdp_hh_build((struct sdp_hh *)pd, &hh);
	for (i = 0; i < c->n; i++)
		pd[c->off + i] = c->val >> (8 * (c->n - 1 - i));
	if (c->cut < 0) {
		len = 0;		/* no private data at all */
	} else {
		if (c->cut)
			len = c->cut;
		/* A copy of exactly @len bytes: reading past it is caught. */
		data = kunit_kzalloc(test, len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, data);
		memcpy(data, pd, len);
	}
	if (c->ack)
		KUNIT_EXPECT_EQ(test, sdp_hah_parse(data, len, &hah_out),
				c->err);
	else
		KUNIT_EXPECT_EQ(test, sdp_hh_parse(data, len, &hh_out), c->err);
}

/* --- sequence numbers and credits ------------------------------------ */

static void sdp_credits_basic(struct kunit *test)
{
	/* After the Hello (mseq 0, acked as 0), the first message is 1. */
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(16, 0, 1), 16U);
	/* Five sent, none acknowledged. */
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(16, 0, 6), 11U);
	/* Three acknowledged while the peer had 14 posted: 4 and 5 fly. */
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(14, 3, 6), 12U);
	/* All acknowledged. */
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(10, 5, 6), 10U);
	/* The peer posted fewer than we have in flight. */
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(5, 0, 6), 0U);
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(2, 0, 6), 0U);
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(0, 5, 6), 0U);
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(U16_MAX, 1000, 1001),
			(u32)U16_MAX);
}

static void sdp_credits_wrap(struct kunit *test)
{
	/* Sent up to U32_MAX (next is 0), acknowledged up to U32_MAX - 2. */
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(8, U32_MAX - 2, 0), 6U);
	/* Sent 0, 1, 2 after U32_MAX, which was acknowledged. */
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(8, U32_MAX, 3), 5U);
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(8, U32_MAX, 0), 8U);
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(8, U32_MAX - 1, U32_MAX), 8U);
	KUNIT_EXPECT_EQ(test, sdp_tx_credits(8, U32_MAX - 10, 5), 0U);

	KUNIT_EXPECT_TRUE(test, sdp_mseq_in_order(1, 0));
	KUNIT_EXPECT_TRUE(test, sdp_mseq_in_order(0, U32_MAX));
	KUNIT_EXPECT_TRUE(test, sdp_mseq_in_order(U32_MAX, U32_MAX - 1));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_in_order(1, U32_MAX));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_in_order(5, 5));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_in_order(4, 5));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_in_order(7, 5));
}

static void sdp_mseq_ack_window(struct kunit *test)
{
	/* Nothing sent yet: only the Hello's 0 can be acknowledged. */
	KUNIT_EXPECT_TRUE(test, sdp_mseq_ack_ok(0, 0, 1));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_ack_ok(1, 0, 1));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_ack_ok(U32_MAX, 0, 1));
	/* Sent up to 9, 5 acknowledged before. */
	KUNIT_EXPECT_TRUE(test, sdp_mseq_ack_ok(5, 5, 10));
	KUNIT_EXPECT_TRUE(test, sdp_mseq_ack_ok(9, 5, 10));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_ack_ok(10, 5, 10));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_ack_ok(4, 5, 10));
	/* The same across the wrap: acknowledged U32_MAX - 1, next is 2. */
	KUNIT_EXPECT_TRUE(test, sdp_mseq_ack_ok(U32_MAX - 1, U32_MAX - 1, 2));
	KUNIT_EXPECT_TRUE(test, sdp_mseq_ack_ok(U32_MAX, U32_MAX - 1, 2));
	KUNIT_EXPECT_TRUE(test, sdp_mseq_ack_ok(0, U32_MAX - 1, 2));
	KUNIT_EXPECT_TRUE(test, sdp_mseq_ack_ok(1, U32_MAX - 1, 2));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_ack_ok(2, U32_MAX - 1, 2));
	KUNIT_EXPECT_FALSE(test, sdp_mseq_ack_ok(U32_MAX - 2, U32_MAX - 1, 2));
}

/* CA4-82: the last credit is for credit updates only. */
static void sdp_keep_last_credit(struct kunit *test)
{
	static const u8 others[] = {
		SDP_MID_DISCONN, SDP_MID_ABORT_CONN, SDP_MID_SENDSM,
		SDP_MID_RDMA_RD_COMPL, SDP_MID_SRCAVAIL_CANCEL,
		SDP_MID_CHRCVBUF, SDP_MID_CHRCVBUF_ACK, SDP_MID_SRCAVAIL,
	};
	int i;

	KUNIT_EXPECT_FALSE(test, sdp_can_send(0, SDP_MID_DATA, 0));
	KUNIT_EXPECT_TRUE(test, sdp_can_send(1, SDP_MID_DATA, 0));
	KUNIT_EXPECT_FALSE(test, sdp_can_send(0, SDP_MID_DATA, 1));
	KUNIT_EXPECT_FALSE(test, sdp_can_send(1, SDP_MID_DATA, 1));
	KUNIT_EXPECT_TRUE(test, sdp_can_send(2, SDP_MID_DATA, 1));
	KUNIT_EXPECT_TRUE(test, sdp_can_send(2, SDP_MID_DATA, 65536));
	for (i = 0; i < ARRAY_SIZE(others); i++) {
		KUNIT_EXPECT_FALSE_MSG(test, sdp_can_send(1, others[i], 0),
				       "mid %#x", others[i]);
		KUNIT_EXPECT_TRUE_MSG(test, sdp_can_send(2, others[i], 0),
				      "mid %#x", others[i]);
	}
}

static void sdp_credit_update_rule(struct kunit *test)
{
	/* Nothing or one credit to return: never. */
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(0, 0, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(1, 0, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(2, 1, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(16, 16, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(16, 15, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(10, 12, false));
	/* The peer's view fell to half or less. */
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(2, 0, false));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(3, 1, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(3, 2, false));
	/* Down to the kept credit, SDP_MIN_BUFS posted: one credit is enough. */
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(16, 1, false));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(3, 0, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(2, 1, false));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(4, 2, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(5, 3, false));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(16, 8, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(16, 9, false));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(64, 0, false));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(64, 32, false));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(64, 33, false));
	/* A reader freed a buffer and the peer is down to the kept credit. */
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(2, 1, true));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(3, 1, true));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(2, 0, true));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(1, 1, true));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(1, 0, true));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(3, 2, true));
	KUNIT_EXPECT_FALSE(test, sdp_credit_update_due(16, 9, true));
	KUNIT_EXPECT_TRUE(test, sdp_credit_update_due(16, 8, true));
}

/*
 * Two idle sides that only answer each other's credit updates: from any
 * start, the exchange ends after at most one update each way.  @adv[s]
 * is side s's idea of the peer's view of its buffers, so it is also the
 * peer's credits.
 */
static bool sdp_t_idle_update(u32 posted, u32 *adv, int side)
{
	if (!sdp_credit_update_due(posted, adv[side], false) ||
	    !sdp_can_send(adv[!side], SDP_MID_DATA, 0))
		return false;
	adv[side] = posted;
	adv[!side]--;		/* the update takes one of the peer's buffers */
	return true;
}

static void sdp_credit_update_dies_out(struct kunit *test)
{
	u32 posted, a0, a1, adv[2], msgs, idle;
	int side;

	/* Fewer than SDP_MIN_BUFS when readers hold buffers. */
	for (posted = 0; posted <= 40; posted++) {
		for (a0 = 0; a0 <= posted; a0++) {
			for (a1 = 0; a1 <= posted; a1++) {
				adv[0] = a0;
				adv[1] = a1;
				msgs = 0;
				idle = 0;
				/* until neither side has anything to say */
				for (side = 0; idle < 2 && msgs < 10;
				     side = !side) {
					if (sdp_t_idle_update(posted, adv,
							      side)) {
						msgs++;
						idle = 0;
					} else {
						idle++;
					}
				}
				KUNIT_EXPECT_LE_MSG(test, msgs, 2U,
						    "posted %u, views %u %u",
						    posted, a0, a1);
			}
		}
	}
}

/*
 * Two peers under the credit rules, message by message: a writer on one
 * or both sides, readers that stop for a while now and then, sequence
 * numbers that wrap early.  Every message must find a posted buffer,
 * every header must pass the receiver's checks, every message must
 * arrive (no stall) and the update traffic must end (no ping-pong).
 */
#define SIM_WIRE	512
#define SIM_MSGS	600
#define SIM_STEPS	400000

struct sim_peer {
	bool read;	/* the reader freed a data buffer since the last send */
	u32 posted, held, advertised;
	u32 next_mseq, last_rx, peer_bufs, peer_ack;
	u32 to_send, sent, received, msgs_in, updates;
	bool paused;
	struct sdp_bsdh wire[SIM_WIRE];	/* headers on their way to the peer */
	u32 head, tail;
};

static void sim_send(struct kunit *test, struct sim_peer *p, u32 payload)
{
	struct sdp_bsdh_host h = {
		.mid = SDP_MID_DATA,
		.bufs = p->posted,
		.len = sizeof(struct sdp_bsdh) + payload,
		.mseq = p->next_mseq++,
		.mseq_ack = p->last_rx,
	};

	KUNIT_ASSERT_LT(test, p->tail - p->head, (u32)SIM_WIRE);
	sdp_bsdh_build(&p->wire[p->tail++ % SIM_WIRE], &h);
	p->advertised = p->posted;
	p->read = false;
}

static u32 sim_credits(const struct sim_peer *p)
{
	return sdp_tx_credits(p->peer_bufs, p->peer_ack, p->next_mseq);
}

static void sim_maybe_update(struct kunit *test, struct sim_peer *p)
{
	if (sdp_credit_update_due(p->posted, p->advertised, p->read) &&
	    sdp_can_send(sim_credits(p), SDP_MID_DATA, 0)) {
		sim_send(test, p, 0);
		p->updates++;
	}
}

static void sim_deliver(struct kunit *test, struct sim_peer *from,
			struct sim_peer *to)
{
	struct sdp_bsdh_host h;
	const struct sdp_bsdh *w = &from->wire[from->head++ % SIM_WIRE];

	KUNIT_ASSERT_GT_MSG(test, to->posted, 0U, "no receive buffer");
	KUNIT_ASSERT_GT(test, to->advertised, 0U);
	to->posted--;
	to->advertised--;
	KUNIT_ASSERT_EQ(test, sdp_bsdh_parse(w, be32_to_cpu(w->len),
					     SDP_T_BUFSIZE, &h), 0);
	KUNIT_ASSERT_TRUE(test, sdp_mseq_in_order(h.mseq, to->last_rx));
	KUNIT_ASSERT_TRUE(test, sdp_mseq_ack_ok(h.mseq_ack, to->peer_ack,
						to->next_mseq));
	to->last_rx = h.mseq;
	to->peer_bufs = h.bufs;
	to->peer_ack = h.mseq_ack;
	to->msgs_in++;
	if (sdp_payload_len(&h)) {
		to->held++;
		to->received++;
	} else {
		to->posted++;		/* nothing to read: repost at once */
	}
	sim_maybe_update(test, to);
}

/*
 * Both Hellos announced @bufs; @mseq0 and @peer_mseq0 stand for the 0 of
 * this side's and the peer's Hello.
 */
static void sim_init(struct sim_peer *p, u32 bufs, u32 mseq0, u32 peer_mseq0,
		     u32 to_send)
{
	memset(p, 0, sizeof(*p));
	p->posted = bufs;
	p->advertised = bufs;
	p->peer_bufs = bufs;
	p->peer_ack = mseq0;
	p->next_mseq = mseq0 + 1;
	p->last_rx = peer_mseq0;
	p->to_send = to_send;
}

struct sdp_sim_case {
	const char *name;
	u32 bufs;
	bool both_write;
};

static const struct sdp_sim_case sdp_sim_cases[] = {
	{ "one_way_3_bufs", 3, false },
	{ "one_way_4_bufs", 4, false },
	{ "one_way_16_bufs", 16, false },
	{ "one_way_64_bufs", 64, false },
	{ "two_way_3_bufs", 3, true },
	{ "two_way_5_bufs", 5, true },
	{ "two_way_16_bufs", 16, true },
};

KUNIT_ARRAY_PARAM_DESC(sdp_sim, sdp_sim_cases, name);

static void sdp_credit_sim(struct kunit *test)
{
	const struct sdp_sim_case *c = test->param_value;
	struct sim_peer *p, *a, *b;
	struct rnd_state rnd;
	u32 step, r;

	p = kunit_kcalloc(test, 2, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	prandom_seed_state(&rnd, 0x5d9 + c->bufs);
	sim_init(&p[0], c->bufs, U32_MAX - 40, U32_MAX - 70, SIM_MSGS);
	sim_init(&p[1], c->bufs, U32_MAX - 70, U32_MAX - 40,
		 c->both_write ? SIM_MSGS : 0);
	for (step = 0; step < SIM_STEPS; step++) {
		if (p[0].head == p[0].tail && p[1].head == p[1].tail &&
		    p[0].received == p[1].to_send && !p[0].held &&
		    p[1].received == p[0].to_send && !p[1].held)
			break;
		r = prandom_u32_state(&rnd);
		a = &p[r & 1];
		b = &p[!(r & 1)];
		switch ((r >> 1) % 8) {
		case 0:
		case 1:		/* writer, 1 to 4000 bytes */
			if (a->sent < a->to_send &&
			    sdp_can_send(sim_credits(a), SDP_MID_DATA, 1)) {
				sim_send(test, a, 1 + (r >> 8) % 4000);
				a->sent++;
			}
			break;
		case 2:
		case 3:
		case 4:		/* the wire */
			if (a->head != a->tail)
				sim_deliver(test, a, b);
			break;
		case 5:		/* a reader stops or goes on */
			if (!((r >> 8) % 16))
				a->paused = !a->paused;
			break;
		default:	/* reader */
			if (a->held && !a->paused) {
				a->held--;
				a->posted++;
				a->read = true;
				sim_maybe_update(test, a);
			}
			break;
		}
	}
	KUNIT_EXPECT_LT_MSG(test, step, (u32)SIM_STEPS,
			    "stalled or ping-pong: sent %u/%u, got %u/%u",
			    p[0].sent, p[1].sent, p[1].received,
			    p[0].received);
	KUNIT_EXPECT_EQ(test, p[1].received, p[0].to_send);
	KUNIT_EXPECT_EQ(test, p[0].received, p[1].to_send);
	/* Sequence numbers wrapped on the way. */
	KUNIT_EXPECT_LT(test, p[0].next_mseq, (u32)SIM_MSGS * 2);
	/*
	 * An update returns a credit at least: one per message in, and
	 * two unless the peer was down to its last.
	 */
	KUNIT_EXPECT_LE(test, p[0].updates, p[0].msgs_in);
	KUNIT_EXPECT_LE(test, p[1].updates, p[1].msgs_in);
}

static struct kunit_case sdp_proto_cases[] = {
	KUNIT_CASE(sdp_bsdh_wire),
	KUNIT_CASE(sdp_bsdh_decode_bytes),
	KUNIT_CASE_PARAM(sdp_msg_roundtrip, sdp_msg_gen_params),
	KUNIT_CASE(sdp_bsdh_bad_len),
	KUNIT_CASE(sdp_bsdh_bad_mid),
	KUNIT_CASE(sdp_bsdh_bad_flags),
	KUNIT_CASE(sdp_bsdh_bad_ctrl_len),
	KUNIT_CASE(sdp_ext_bad),
	KUNIT_CASE(sdp_hh_roundtrip),
	KUNIT_CASE(sdp_hah_roundtrip),
	KUNIT_CASE_PARAM(sdp_hello_malformed, sdp_hello_gen_params),
	KUNIT_CASE(sdp_credits_basic),
	KUNIT_CASE(sdp_credits_wrap),
	KUNIT_CASE(sdp_mseq_ack_window),
	KUNIT_CASE(sdp_keep_last_credit),
	KUNIT_CASE(sdp_credit_update_rule),
	KUNIT_CASE(sdp_credit_update_dies_out),
	KUNIT_CASE_PARAM(sdp_credit_sim, sdp_sim_gen_params),
	{}
};

static struct kunit_suite sdp_proto_suite = {
	.name = "sdp_proto",
	.test_cases = sdp_proto_cases,
};

kunit_test_suite(sdp_proto_suite);
