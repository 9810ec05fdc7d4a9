// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for af_ib's pure logic: address translation, service ID
 * to port mapping, the immediate-value codec, the hello, and credit
 * accounting.  Built as af_ib_kunit.ko against kernels with KUnit; the
 * suites run when it is loaded.
 */
#include <kunit/test.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <net/ipv6.h>
#include "afib.h"

/* --- service ID <-> port ------------------------------------------------ */

struct afib_sid_case {
	const char *name;
	u64 sid;
	u64 mask;
	int err;
	u16 port;
};

static const struct afib_sid_case afib_sid_cases[] = {
	{ "any", 0, 0, 0, 0 },
	{ "tcp_port", AFIB_SID_PS_TCP | 7471, 0, 0, 7471 },
	{ "tcp_port_max", AFIB_SID_PS_TCP | 0xffff, 0, 0, 0xffff },
	{ "full_mask", AFIB_SID_PS_TCP | 80, ~0ULL, 0, 80 },
	{ "prefix_mask", AFIB_SID_PS_TCP | 80, AFIB_SID_PS_MASK, 0, 80 },
	{ "udp_space", 0x0000000001110000ULL | 80, 0, -EINVAL, 0 },
	{ "ib_space", 0x00000000013f0000ULL | 80, 0, -EINVAL, 0 },
	{ "sdp_space", 0x0000000000010000ULL | 80, 0, -EINVAL, 0 },
	{ "high_bits", 0x1000000001060000ULL | 80, 0, -EINVAL, 0 },
	{ "short_mask", AFIB_SID_PS_TCP | 80, 0xffff0000ULL, -EINVAL, 0 },
};

static void afib_sid_desc(const struct afib_sid_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(afib_sid, afib_sid_cases, afib_sid_desc);

static void afib_sid_test(struct kunit *test)
{
	const struct afib_sid_case *c = test->param_value;
	u16 port = 0xdead;
	int err;

	err = afib_sid_to_port(cpu_to_be64(c->sid), cpu_to_be64(c->mask),
			       &port);
	KUNIT_EXPECT_EQ(test, err, c->err);
	if (!c->err)
		KUNIT_EXPECT_EQ(test, port, c->port);
}

/* --- address translation ------------------------------------------------ */

static void afib_sib_init(struct sockaddr_ib *sib, const struct in6_addr *gid,
			  u16 port)
{
	memset(sib, 0, sizeof(*sib));
	sib->sib_family = AF_IB;
	memcpy(&sib->sib_addr, gid, sizeof(*gid));
	sib->sib_sid = cpu_to_be64(AFIB_SID_PS_TCP | port);
}

static void afib_addr_ib_v4mapped(struct kunit *test)
{
	struct sockaddr_storage out;
	struct sockaddr_in *sin = (struct sockaddr_in *)&out;
	struct sockaddr_ib sib;
	struct in6_addr gid;
	int family = 0;

	ipv6_addr_set_v4mapped(htonl(0xc0000201), &gid);
	afib_sib_init(&sib, &gid, 7471);
	KUNIT_ASSERT_EQ(test, afib_addr_to_cm((struct sockaddr *)&sib,
					      sizeof(sib), &out, &family), 0);
	KUNIT_EXPECT_EQ(test, family, AF_IB);
	KUNIT_EXPECT_EQ(test, sin->sin_family, AF_INET);
	KUNIT_EXPECT_EQ(test, ntohs(sin->sin_port), 7471);
	KUNIT_EXPECT_EQ(test, ntohl(sin->sin_addr.s_addr), 0xc0000201);
}

static void afib_addr_ib_v6(struct kunit *test)
{
	struct sockaddr_storage out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out;
	struct in6_addr gid = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
	struct sockaddr_ib sib;
	int family = 0;

	afib_sib_init(&sib, &gid, 9);
	sib.sib_scope_id = 3;
	KUNIT_ASSERT_EQ(test, afib_addr_to_cm((struct sockaddr *)&sib,
					      sizeof(sib), &out, &family), 0);
	KUNIT_EXPECT_EQ(test, sin6->sin6_family, AF_INET6);
	KUNIT_EXPECT_EQ(test, ntohs(sin6->sin6_port), 9);
	KUNIT_EXPECT_TRUE(test, ipv6_addr_equal(&sin6->sin6_addr, &gid));
	KUNIT_EXPECT_EQ(test, sin6->sin6_scope_id, 3U);
}

static void afib_addr_bad(struct kunit *test)
{
	struct sockaddr_storage in = {}, out;
	struct sockaddr_ib *sib = (struct sockaddr_ib *)&in;
	int family;

	in.ss_family = AF_INET;
	KUNIT_EXPECT_EQ(test, afib_addr_to_cm((struct sockaddr *)&in, 1,
					      &out, &family), -EINVAL);
	KUNIT_EXPECT_EQ(test, afib_addr_to_cm((struct sockaddr *)&in,
					      sizeof(struct sockaddr_in) - 1,
					      &out, &family), -EINVAL);
	in.ss_family = AF_INET6;
	KUNIT_EXPECT_EQ(test, afib_addr_to_cm((struct sockaddr *)&in,
					      SIN6_LEN_RFC2133 - 1,
					      &out, &family), -EINVAL);
	KUNIT_EXPECT_EQ(test, afib_addr_to_cm((struct sockaddr *)&in,
					      SIN6_LEN_RFC2133,
					      &out, &family), 0);
	in.ss_family = AF_UNIX;
	KUNIT_EXPECT_EQ(test, afib_addr_to_cm((struct sockaddr *)&in,
					      sizeof(in), &out, &family),
			-EAFNOSUPPORT);
	sib->sib_family = AF_IB;
	KUNIT_EXPECT_EQ(test, afib_addr_to_cm((struct sockaddr *)&in,
					      sizeof(*sib) - 1, &out, &family),
			-EINVAL);
	sib->sib_sid = cpu_to_be64(0x0000000001110000ULL | 80);
	KUNIT_EXPECT_EQ(test, afib_addr_to_cm((struct sockaddr *)&in,
					      sizeof(*sib), &out, &family),
			-EINVAL);
}

static void afib_addr_report(struct kunit *test)
{
	struct sockaddr_in cm4 = {
		.sin_family = AF_INET,
		.sin_port = htons(80),
		.sin_addr.s_addr = htonl(0xc0000201),
	};
	struct sockaddr_storage out;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out;
	struct sockaddr_in *sin = (struct sockaddr_in *)&out;
	struct sockaddr_ib *sib = (struct sockaddr_ib *)&out;

	KUNIT_EXPECT_EQ(test, afib_addr_from_cm((struct sockaddr *)&cm4,
						AF_INET, &out),
			(int)sizeof(*sin));
	KUNIT_EXPECT_EQ(test, be32_to_cpu(sin->sin_addr.s_addr),
			be32_to_cpu(cm4.sin_addr.s_addr));
	KUNIT_EXPECT_EQ(test, be16_to_cpu(sin->sin_port),
			be16_to_cpu(cm4.sin_port));

	KUNIT_EXPECT_EQ(test, afib_addr_from_cm((struct sockaddr *)&cm4,
						AF_INET6, &out),
			(int)sizeof(*sin6));
	KUNIT_EXPECT_TRUE(test, ipv6_addr_v4mapped(&sin6->sin6_addr));
	KUNIT_EXPECT_EQ(test, be32_to_cpu(sin6->sin6_addr.s6_addr32[3]),
			be32_to_cpu(cm4.sin_addr.s_addr));

	KUNIT_EXPECT_EQ(test, afib_addr_from_cm((struct sockaddr *)&cm4,
						AF_IB, &out),
			(int)sizeof(*sib));
	KUNIT_EXPECT_EQ(test, sib->sib_family, AF_IB);
	KUNIT_EXPECT_EQ(test, be64_to_cpu(sib->sib_sid), AFIB_SID_PS_TCP | 80);
	KUNIT_EXPECT_EQ(test, be32_to_cpu(sib->sib_addr.sib_addr32[3]),
			be32_to_cpu(cm4.sin_addr.s_addr));
	KUNIT_EXPECT_EQ(test, be16_to_cpu(sib->sib_pkey), 0xffff);
}

/* Translating to rdma_cm and back gives the user's address again. */
static void afib_addr_roundtrip(struct kunit *test)
{
	struct sockaddr_storage cm, back;
	struct sockaddr_ib sib;
	struct in6_addr gid;
	int family;

	ipv6_addr_set_v4mapped(htonl(0x0a000001), &gid);
	afib_sib_init(&sib, &gid, 4242);
	sib.sib_sid_mask = cpu_to_be64(~0ULL);
	sib.sib_pkey = cpu_to_be16(0xffff);
	KUNIT_ASSERT_EQ(test, afib_addr_to_cm((struct sockaddr *)&sib,
					      sizeof(sib), &cm, &family), 0);
	KUNIT_ASSERT_EQ(test, afib_addr_from_cm((struct sockaddr *)&cm,
						family, &back),
			(int)sizeof(sib));
	KUNIT_EXPECT_EQ(test, memcmp(&back, &sib, sizeof(sib)), 0);
}

/* --- immediate values --------------------------------------------------- */

static void afib_imm_roundtrip(struct kunit *test)
{
	static const u32 credits[] = { 0, 1, 2, 1000, AFIB_MAX_CREDITS };
	enum afib_msg_type type, t;
	u32 c, got;
	bool eor;
	int i;

	for (t = AFIB_MT_DATA; t <= AFIB_MT_MAX; t++) {
		for (i = 0; i < ARRAY_SIZE(credits); i++) {
			bool want_eor = t == AFIB_MT_DATA && (i & 1);

			c = credits[i];
			__be32 imm = afib_imm_encode(t, want_eor, c);

			KUNIT_ASSERT_EQ(test, afib_imm_decode(imm, &type, &eor,
							      &got), 0);
			KUNIT_EXPECT_EQ(test, type, t);
			KUNIT_EXPECT_EQ(test, eor, want_eor);
			KUNIT_EXPECT_EQ(test, got, c);
		}
	}
	/* More credits than fit are clamped, never wrapped. */
	afib_imm_decode(afib_imm_encode(AFIB_MT_DATA, false, 0x12345),
			&type, &eor, &got);
	KUNIT_EXPECT_EQ(test, got, AFIB_MAX_CREDITS);
}

static void afib_imm_malformed(struct kunit *test)
{
	static const u32 bad[] = {
		0x04000000,		/* unknown type 4 */
		0x0f000000,		/* unknown type 15 */
		0x00020000,		/* reserved bit 17 */
		0x80000000,		/* reserved bit 31 */
		0x01010000,		/* EOR on a CREDIT */
		0x02010000,		/* EOR on a FIN */
	};
	enum afib_msg_type type;
	u32 credits;
	bool eor;
	int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		KUNIT_EXPECT_EQ_MSG(test,
				    afib_imm_decode(cpu_to_be32(bad[i]), &type,
						    &eor, &credits),
				    -EPROTO, "imm %#x", bad[i]);
}

/* --- hello -------------------------------------------------------------- */

static void afib_hello_good(struct kunit *test)
{
	struct afib_hello_host h;
	struct afib_hello w;

	afib_hello_build(&w, 52, 4096, 65536);
	KUNIT_ASSERT_EQ(test, afib_hello_parse(&w, sizeof(w), &h), 0);
	KUNIT_EXPECT_EQ(test, h.credits, 52U);
	KUNIT_EXPECT_EQ(test, h.seg_size, 4096U);
	KUNIT_EXPECT_EQ(test, h.max_msg, 65536U);
	/* rdma_cm pads private data: a longer buffer is fine. */
	KUNIT_EXPECT_EQ(test, afib_hello_parse(&w, 56, &h), 0);
}

static void afib_hello_bad(struct kunit *test)
{
	struct afib_hello_host h;
	struct afib_hello w;

	KUNIT_EXPECT_EQ(test, afib_hello_parse(NULL, 0, &h), -EPROTO);
	afib_hello_build(&w, 52, 4096, 65536);
	KUNIT_EXPECT_EQ(test, afib_hello_parse(&w, sizeof(w) - 1, &h),
			-EPROTO);
	w.version = 2;
	KUNIT_EXPECT_EQ(test, afib_hello_parse(&w, sizeof(w), &h), -EPROTO);
	afib_hello_build(&w, 52, 4096, 65536);
	w.flags = 1;
	KUNIT_EXPECT_EQ(test, afib_hello_parse(&w, sizeof(w), &h), -EPROTO);
	/* Too few buffers for a largest message: the peer would deadlock. */
	afib_hello_build(&w, 17, 4096, 65536);
	KUNIT_EXPECT_EQ(test, afib_hello_parse(&w, sizeof(w), &h), -EPROTO);
	afib_hello_build(&w, 52, 100, 65536);
	KUNIT_EXPECT_EQ(test, afib_hello_parse(&w, sizeof(w), &h), -EPROTO);
	afib_hello_build(&w, 52, 4096, 1024);
	KUNIT_EXPECT_EQ(test, afib_hello_parse(&w, sizeof(w), &h), -EPROTO);
}

/* --- credits ------------------------------------------------------------ */

static void afib_credit_rules(struct kunit *test)
{
	/* Data keeps the last credit; control messages may use it. */
	KUNIT_EXPECT_FALSE(test, afib_can_send(1, 1, false));
	KUNIT_EXPECT_TRUE(test, afib_can_send(1, 1, true));
	KUNIT_EXPECT_TRUE(test, afib_can_send(17, 16, false));
	KUNIT_EXPECT_FALSE(test, afib_can_send(16, 16, false));
	KUNIT_EXPECT_FALSE(test, afib_can_send(0, 1, true));

	KUNIT_EXPECT_EQ(test, afib_msg_segs(0, 4096), 1U);
	KUNIT_EXPECT_EQ(test, afib_msg_segs(1, 4096), 1U);
	KUNIT_EXPECT_EQ(test, afib_msg_segs(4096, 4096), 1U);
	KUNIT_EXPECT_EQ(test, afib_msg_segs(4097, 4096), 2U);
	KUNIT_EXPECT_EQ(test, afib_msg_segs(65536, 4096), 16U);
	KUNIT_EXPECT_EQ(test, afib_min_rx_slots(65536, 4096), 18U);
}

/*
 * The threshold is at least 2 (no CREDIT ping-pong) and small enough that
 * a peer waiting to send a largest message is always released.
 */
static void afib_credit_thresh_bounds(struct kunit *test)
{
	u32 slots, segs = 16, t;

	for (slots = afib_min_rx_slots(65536, 4096); slots <= 1024; slots++) {
		t = afib_credit_thresh(slots, segs);
		KUNIT_EXPECT_GE(test, t, 2U);
		/*
		 * A peer blocked on a largest message holds at most segs
		 * credits, so we owe it at least slots - segs >= t.
		 */
		KUNIT_EXPECT_LE(test, t, slots - segs);
	}
}

/*
 * Simulate two peers exchanging only credits: a CREDIT message consumes a
 * buffer and so creates an owed credit; with a threshold of at least 2
 * the exchange dies out instead of ping-ponging forever.
 */
static void afib_credit_no_pingpong(struct kunit *test)
{
	u32 owed[2] = { 40, 0 }, thresh = afib_credit_thresh(52, 16);
	int side = 0, msgs = 0;

	while (owed[side] >= thresh && msgs < 1000) {
		owed[side] = 0;		/* a CREDIT message returns all */
		owed[!side]++;		/* and uses one of the peer's buffers */
		side = !side;
		msgs++;
	}
	KUNIT_EXPECT_LT(test, msgs, 2);
}

/*
 * Two peers exchanging messages under the credit rules, WR by WR, with
 * readers that pause at random, each ending its stream with FIN.  Every
 * send must find a posted buffer (no RNR) and every message must
 * arrive: no deadlock.
 */
#define SIM_WRS		256
#define SIM_MSGS	400

struct sim_wr {
	u8 type;
	u8 eor;
	u16 credits;
};

struct sim_side {
	u32 slots, posted, owed, credits, thresh;
	u32 queued_segs, queued_msgs;
	u32 to_send, sent, consumed;
	bool fin_sent, fin_rcvd;
	struct sim_wr wire[SIM_WRS];	/* WRs in flight towards the peer */
	u32 head, tail;
};

static u32 sim_rand(u32 *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return *seed >> 16;
}

static void sim_post(struct kunit *test, struct sim_side *a,
		     enum afib_msg_type type, bool eor, u32 credits)
{
	KUNIT_ASSERT_LT(test, a->tail - a->head, (u32)SIM_WRS);
	a->wire[a->tail++ % SIM_WRS] = (struct sim_wr){ type, eor, credits };
	/* FIN lands in the buffer the peer keeps spare for it. */
	if (type != AFIB_MT_FIN)
		a->credits--;
}

static void sim_flush(struct kunit *test, struct sim_side *a)
{
	if (afib_credit_due(a->owed, a->thresh) &&
	    afib_can_send(a->credits, 1, true)) {
		sim_post(test, a, AFIB_MT_CREDIT, false, a->owed);
		a->owed = 0;
	}
}

static void sim_init(struct sim_side *a, u32 slots, u32 msgs)
{
	memset(a, 0, sizeof(*a));
	a->slots = slots;
	a->posted = slots + 1;		/* + the spare for FIN */
	a->credits = slots;		/* both sides use the same size */
	a->thresh = afib_credit_thresh(slots, 4);
	a->to_send = msgs;
}

static void afib_credit_sim(struct kunit *test)
{
	static const u32 slot_counts[] = { 6, 7, 13, 32 };
	struct sim_side *s = kunit_kzalloc(test, 2 * sizeof(*s), GFP_KERNEL);
	u32 seed = 42, i, step, k, segs;

	KUNIT_ASSERT_NOT_NULL(test, s);
	for (i = 0; i < ARRAY_SIZE(slot_counts); i++) {
		sim_init(&s[0], slot_counts[i], SIM_MSGS);
		sim_init(&s[1], slot_counts[i], SIM_MSGS);
		for (step = 0; step < 400000; step++) {
			struct sim_side *a = &s[sim_rand(&seed) & 1], *b;
			struct sim_wr wr;

			b = a == &s[0] ? &s[1] : &s[0];
			if (a->consumed == SIM_MSGS &&
			    b->consumed == SIM_MSGS &&
			    a->fin_rcvd && b->fin_rcvd)
				break;
			switch (sim_rand(&seed) % 4) {
			case 0:		/* writer: messages of 1 to 4 segments */
				segs = 1 + (a->sent * 7 + i) % 4;
				if (a->sent == a->to_send && !a->fin_sent) {
					sim_post(test, a, AFIB_MT_FIN, false,
						 a->owed);
					a->owed = 0;
					a->fin_sent = true;
				}
				if (a->sent == a->to_send ||
				    !afib_can_send(a->credits, segs, false))
					break;
				for (k = 0; k < segs; k++)
					sim_post(test, a, AFIB_MT_DATA,
						 k + 1 == segs,
						 k ? 0 : a->owed);
				a->owed = 0;
				a->sent++;
				break;
			case 1:		/* the wire delivers one WR to b */
			case 2:
				if (a->head == a->tail)
					break;
				wr = a->wire[a->head++ % SIM_WRS];
				KUNIT_ASSERT_GT_MSG(test, b->posted, 0U,
						    "RNR with %u slots",
						    slot_counts[i]);
				b->posted--;
				b->credits += wr.credits;
				if (wr.type == AFIB_MT_FIN) {
					KUNIT_ASSERT_FALSE(test, b->fin_rcvd);
					b->fin_rcvd = true;
				} else if (wr.type == AFIB_MT_CREDIT) {
					b->posted++;
					b->owed++;
				} else {
					b->queued_segs++;
					b->queued_msgs += wr.eor;
				}
				sim_flush(test, b);
				break;
			case 3:		/* reader, paused half the time */
				if (!a->queued_msgs || (sim_rand(&seed) & 1))
					break;
				/* message n of the peer has this many segments */
				segs = 1 + (a->consumed * 7 + i) % 4;
				a->queued_segs -= segs;
				a->queued_msgs--;
				a->posted += segs;
				a->owed += segs;
				a->consumed++;
				sim_flush(test, a);
				break;
			}
		}
		KUNIT_EXPECT_EQ_MSG(test, s[0].consumed, (u32)SIM_MSGS,
				    "deadlock with %u slots", slot_counts[i]);
		KUNIT_EXPECT_EQ_MSG(test, s[1].consumed, (u32)SIM_MSGS,
				    "deadlock with %u slots", slot_counts[i]);
		KUNIT_EXPECT_TRUE(test, s[0].fin_rcvd && s[1].fin_rcvd);
	}
}

static struct kunit_case afib_addr_cases[] = {
	KUNIT_CASE_PARAM(afib_sid_test, afib_sid_gen_params),
	KUNIT_CASE(afib_addr_ib_v4mapped),
	KUNIT_CASE(afib_addr_ib_v6),
	KUNIT_CASE(afib_addr_bad),
	KUNIT_CASE(afib_addr_report),
	KUNIT_CASE(afib_addr_roundtrip),
	{}
};

static struct kunit_suite afib_addr_suite = {
	.name = "af_ib_addr",
	.test_cases = afib_addr_cases,
};

static struct kunit_case afib_proto_cases[] = {
	KUNIT_CASE(afib_imm_roundtrip),
	KUNIT_CASE(afib_imm_malformed),
	KUNIT_CASE(afib_hello_good),
	KUNIT_CASE(afib_hello_bad),
	KUNIT_CASE(afib_credit_rules),
	KUNIT_CASE(afib_credit_thresh_bounds),
	KUNIT_CASE(afib_credit_no_pingpong),
	KUNIT_CASE(afib_credit_sim),
	{}
};

static struct kunit_suite afib_proto_suite = {
	.name = "af_ib_proto",
	.test_cases = afib_proto_cases,
};

kunit_test_suites(&afib_addr_suite, &afib_proto_suite);

MODULE_DESCRIPTION("KUnit tests for af_ib");
MODULE_LICENSE("GPL");
