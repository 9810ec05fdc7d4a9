// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the pure parts of af_ib's RDMA interface: the sendmsg()
 * control message parser, the access flags of a memory region, the page
 * count of a user range and the errno of each completion status.
 */
#include <kunit/test.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/socket.h>
#include "afib.h"

#define OP_SPACE	CMSG_SPACE(sizeof(struct afib_rdma_op))

/* Control data holding up to two operations. */
struct afib_ctl {
	u8 buf[2 * OP_SPACE];
	struct msghdr msg;
};

static struct cmsghdr *afib_ctl_add(struct afib_ctl *c, int idx, int level,
				    int type, size_t len,
				    const struct afib_rdma_op *op)
{
	struct cmsghdr *h = (struct cmsghdr *)(c->buf + idx * OP_SPACE);

	h->cmsg_level = level;
	h->cmsg_type = type;
	h->cmsg_len = len;
	memcpy(CMSG_DATA(h), op, sizeof(*op));
	c->msg.msg_control = c->buf;
	c->msg.msg_controllen = (idx + 1) * OP_SPACE;
	return h;
}

static int afib_parse_one(int type, const struct afib_rdma_op *op,
			  struct afib_rdma_req *req)
{
	struct afib_ctl c = {};

	afib_ctl_add(&c, 0, SOL_AFIB, type, CMSG_LEN(sizeof(*op)), op);
	return afib_rdma_parse(&c.msg, req);
}

static void afib_rdma_parse_good(struct kunit *test)
{
	struct afib_rdma_op op = {
		.token = 0x1122334455667788ULL,
		.remote_addr = 0x10000,
		.rkey = 0x1234,
	};
	struct afib_rdma_req req;
	int type;

	for (type = AFIB_CMSG_RDMA_WRITE; type <= AFIB_CMSG_CMP_SWAP; type++) {
		memset(&req, 0, sizeof(req));
		KUNIT_EXPECT_EQ(test, afib_parse_one(type, &op, &req), 0);
		KUNIT_EXPECT_EQ(test, req.type, (u32)type);
		KUNIT_EXPECT_EQ(test, req.op.token, op.token);
		KUNIT_EXPECT_EQ(test, req.op.rkey, op.rkey);
	}
	op.imm = 7;
	KUNIT_EXPECT_EQ(test, afib_parse_one(AFIB_CMSG_RDMA_WRITE_IMM, &op,
					     &req), 0);
	KUNIT_EXPECT_EQ(test, req.op.imm, 7U);
	op.imm = 0;
	op.compare_add = 1;
	op.swap = 2;
	KUNIT_EXPECT_EQ(test, afib_parse_one(AFIB_CMSG_CMP_SWAP, &op, &req), 0);
	op.swap = 0;
	KUNIT_EXPECT_EQ(test, afib_parse_one(AFIB_CMSG_FETCH_ADD, &op, &req),
			0);
	op.compare_add = 0;
	op.local_handle = 3;
	op.local_offset = 4096;
	op.length = AFIB_MR_MAX_LEN;
	KUNIT_EXPECT_EQ(test, afib_parse_one(AFIB_CMSG_RDMA_READ, &op, &req),
			0);
	op.local_offset = 8;
	op.length = 8;
	KUNIT_EXPECT_EQ(test, afib_parse_one(AFIB_CMSG_FETCH_ADD, &op, &req),
			0);
}

static void afib_rdma_parse_framing(struct kunit *test)
{
	struct afib_rdma_op op = { .remote_addr = 0x10000 };
	struct afib_rdma_req req;
	struct afib_ctl c = {};

	/* No control data, or less than a header. */
	c.msg.msg_control = c.buf;
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	c.msg.msg_controllen = sizeof(struct cmsghdr) - 1;
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	/* Header claims more than there is. */
	afib_ctl_add(&c, 0, SOL_AFIB, AFIB_CMSG_RDMA_WRITE,
		     CMSG_LEN(sizeof(op)), &op);
	c.msg.msg_controllen = CMSG_LEN(sizeof(op)) - 1;
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	/* Short and long payloads. */
	afib_ctl_add(&c, 0, SOL_AFIB, AFIB_CMSG_RDMA_WRITE,
		     CMSG_LEN(sizeof(op) - 1), &op);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	afib_ctl_add(&c, 0, SOL_AFIB, AFIB_CMSG_RDMA_WRITE,
		     CMSG_LEN(sizeof(op) + 8), &op);
	c.msg.msg_controllen = sizeof(c.buf);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	/* cmsg_len below the header's own size. */
	afib_ctl_add(&c, 0, SOL_AFIB, AFIB_CMSG_RDMA_WRITE, 4, &op);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	/* Another level, types that are not operations. */
	afib_ctl_add(&c, 0, SOL_SOCKET, AFIB_CMSG_RDMA_WRITE,
		     CMSG_LEN(sizeof(op)), &op);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	afib_ctl_add(&c, 0, SOL_AFIB, 0, CMSG_LEN(sizeof(op)), &op);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	afib_ctl_add(&c, 0, SOL_AFIB, AFIB_CMSG_IMM, CMSG_LEN(sizeof(op)),
		     &op);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	afib_ctl_add(&c, 0, SOL_AFIB, AFIB_CMSG_COMPLETION,
		     CMSG_LEN(sizeof(op)), &op);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	/* Two operations; an operation then something else. */
	afib_ctl_add(&c, 0, SOL_AFIB, AFIB_CMSG_RDMA_WRITE,
		     CMSG_LEN(sizeof(op)), &op);
	afib_ctl_add(&c, 1, SOL_AFIB, AFIB_CMSG_RDMA_READ,
		     CMSG_LEN(sizeof(op)), &op);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	afib_ctl_add(&c, 1, SOL_SOCKET, 1, CMSG_LEN(sizeof(op)), &op);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
	/* Garbage. */
	memset(c.buf, 0xa5, sizeof(c.buf));
	c.msg.msg_controllen = sizeof(c.buf);
	KUNIT_EXPECT_EQ(test, afib_rdma_parse(&c.msg, &req), -EINVAL);
}

struct afib_field_case {
	const char *name;
	int type;
	struct afib_rdma_op op;
	int err;
};

static const struct afib_field_case afib_field_cases[] = {
	{ "flags", AFIB_CMSG_RDMA_WRITE, { .flags = 1 }, -EINVAL },
	{ "reserved0", AFIB_CMSG_RDMA_READ, { .reserved = { 1 } }, -EINVAL },
	{ "reserved1", AFIB_CMSG_RDMA_READ, { .reserved = { 0, 1 } },
	  -EINVAL },
	{ "imm_on_write", AFIB_CMSG_RDMA_WRITE, { .imm = 1 }, -EINVAL },
	{ "imm_on_read", AFIB_CMSG_RDMA_READ, { .imm = 1 }, -EINVAL },
	{ "add_on_read", AFIB_CMSG_RDMA_READ, { .compare_add = 1 }, -EINVAL },
	{ "swap_on_add", AFIB_CMSG_FETCH_ADD, { .swap = 1 }, -EINVAL },
	{ "offset_no_handle", AFIB_CMSG_RDMA_WRITE, { .local_offset = 1 },
	  -EINVAL },
	{ "length_no_handle", AFIB_CMSG_RDMA_WRITE, { .length = 1 },
	  -EINVAL },
	{ "atomic_unaligned", AFIB_CMSG_FETCH_ADD, { .remote_addr = 4 },
	  -EINVAL },
	{ "cas_unaligned", AFIB_CMSG_CMP_SWAP, { .remote_addr = 0x1001 },
	  -EINVAL },
	{ "atomic_len", AFIB_CMSG_CMP_SWAP,
	  { .local_handle = 1, .length = 16 }, -EINVAL },
	{ "atomic_local_unaligned", AFIB_CMSG_FETCH_ADD,
	  { .local_handle = 1, .length = 8, .local_offset = 4 }, -EINVAL },
	{ "too_long", AFIB_CMSG_RDMA_WRITE,
	  { .local_handle = 1, .length = AFIB_MR_MAX_LEN + 1 }, -EMSGSIZE },
	{ "zero_length_write", AFIB_CMSG_RDMA_WRITE, { .local_handle = 1 },
	  0 },
	{ "unaligned_write", AFIB_CMSG_RDMA_WRITE, { .remote_addr = 3 }, 0 },
};

static void afib_field_desc(const struct afib_field_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(afib_field, afib_field_cases, afib_field_desc);

static void afib_rdma_parse_fields(struct kunit *test)
{
	const struct afib_field_case *c = test->param_value;
	struct afib_rdma_req req;

	KUNIT_EXPECT_EQ(test, afib_parse_one(c->type, &c->op, &req), c->err);
}

static void afib_rdma_access_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, afib_rdma_access(0), 0);
	KUNIT_EXPECT_EQ(test, afib_rdma_access(AFIB_ACCESS_LOCAL_WRITE),
			IB_ACCESS_LOCAL_WRITE);
	KUNIT_EXPECT_EQ(test, afib_rdma_access(AFIB_ACCESS_REMOTE_READ),
			IB_ACCESS_REMOTE_READ);
	KUNIT_EXPECT_EQ(test, afib_rdma_access(AFIB_ACCESS_ALL),
			IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_WRITE |
			IB_ACCESS_REMOTE_READ | IB_ACCESS_REMOTE_ATOMIC);
	KUNIT_EXPECT_EQ(test, afib_rdma_access(AFIB_ACCESS_REMOTE_WRITE),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, afib_rdma_access(AFIB_ACCESS_REMOTE_ATOMIC |
					       AFIB_ACCESS_REMOTE_READ),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, afib_rdma_access(0x10), -EINVAL);
	KUNIT_EXPECT_EQ(test, afib_rdma_access(0x80000000U), -EINVAL);
}

static void afib_rdma_pages_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, afib_rdma_pages(0, 1), 1ULL);
	KUNIT_EXPECT_EQ(test, afib_rdma_pages(0, PAGE_SIZE), 1ULL);
	KUNIT_EXPECT_EQ(test, afib_rdma_pages(1, PAGE_SIZE), 2ULL);
	KUNIT_EXPECT_EQ(test, afib_rdma_pages(PAGE_SIZE - 1, 2), 2ULL);
	KUNIT_EXPECT_EQ(test, afib_rdma_pages(PAGE_SIZE * 3 + 5,
					      16 * PAGE_SIZE), 17ULL);
	KUNIT_EXPECT_EQ(test, afib_rdma_pages(0x7f0000000000ULL,
					      AFIB_MR_MAX_LEN),
			AFIB_MR_MAX_LEN / PAGE_SIZE);
}

static void afib_mr_blocks_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, afib_mr_blocks(0, 1, SZ_4K), 1ULL);
	KUNIT_EXPECT_EQ(test, afib_mr_blocks(SZ_4K - 1, 2, SZ_4K), 2ULL);
	KUNIT_EXPECT_EQ(test, afib_mr_blocks(SZ_2M, SZ_2M, SZ_2M), 1ULL);
	KUNIT_EXPECT_EQ(test, afib_mr_blocks(SZ_2M - 1, 2, SZ_2M), 2ULL);
	KUNIT_EXPECT_EQ(test, afib_mr_blocks(0x7f0000001000ULL,
					     AFIB_MR_MAX_LEN, SZ_2M), 513ULL);
	KUNIT_EXPECT_EQ(test, afib_mr_blocks(0x7f0000001000ULL,
					     AFIB_MR_MAX_LEN, SZ_4K),
			AFIB_MR_MAX_LEN / SZ_4K);
	KUNIT_EXPECT_EQ(test, afib_mr_blocks(0, AFIB_MR_MAX_LEN, SZ_1G), 1ULL);
}

/* rxe's page_size_cap: every power of two from 4 KiB to 2 GiB. */
#define RXE_CAP		0xfffff000ULL
#define VA		0x7f0000000000ULL

/* A mapped scatterlist: @n entries of DMA address and length. */
struct afib_sgl {
	struct scatterlist sg[4];
	int n;
};

static struct scatterlist *afib_sgl(struct afib_sgl *l, int n,
				    const u64 *dma, const u32 *len)
{
	int i;

	sg_init_table(l->sg, n);
	for (i = 0; i < n; i++) {
		sg_dma_address(&l->sg[i]) = dma[i];
		sg_dma_len(&l->sg[i]) = len[i];
	}
	l->n = n;
	return l->sg;
}

static unsigned int afib_pgsz(int n, const u64 *dma, const u32 *len,
			      u64 va, u64 cap)
{
	struct afib_sgl l;
	u64 total = 0;
	int i;

	for (i = 0; i < n; i++)
		total += len[i];
	return afib_mr_pgsz(afib_sgl(&l, n, dma, len), n, va, total, cap);
}

static void afib_mr_pgsz_small(struct kunit *test)
{
	/* Scattered 4 KiB pages, the first one entered 0x100 in. */
	static const u64 dma[] = { 0x10000100, 0x10003000, 0x10001000 };
	static const u32 len[] = { SZ_4K - 0x100, SZ_4K, SZ_4K };
	/* Adjacent pages, but not in the iova's order. */
	static const u64 dma2[] = { 0x10001000, 0x10000000 };
	static const u32 len2[] = { SZ_4K, SZ_4K };

	KUNIT_EXPECT_EQ(test, afib_pgsz(3, dma, len, VA + 0x100, RXE_CAP),
			SZ_4K);
	KUNIT_EXPECT_EQ(test, afib_pgsz(2, dma2, len2, VA, RXE_CAP), SZ_4K);
	/* A device without PAGE_SIZE pages cannot take them. */
	KUNIT_EXPECT_EQ(test, afib_pgsz(2, dma2, len2, VA, SZ_2M), 0U);
	KUNIT_EXPECT_EQ(test, afib_pgsz(2, dma2, len2, VA, SZ_2K), 0U);
}

static void afib_mr_pgsz_huge(struct kunit *test)
{
	/* Two 2 MiB pages far apart, from iova and DMA address aligned. */
	static const u64 dma[] = { 0x40000000, 0x80200000 };
	static const u32 len[] = { SZ_2M, SZ_2M };
	/* One 2 MiB page, entered 0x100 in, ending 0x100 early. */
	static const u64 dma1[] = { 0x40000100 };
	static const u32 len1[] = { SZ_2M - 0x200 };
	/* Contiguous 4 MiB. */
	static const u64 dma4[] = { 0x40000000 };
	static const u32 len4[] = { SZ_4M };

	KUNIT_EXPECT_EQ(test, afib_pgsz(2, dma, len, VA, RXE_CAP), SZ_2M);
	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma1, len1, VA + 0x100, RXE_CAP),
			SZ_2M);
	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma4, len4, VA, RXE_CAP), SZ_4M);
	/* Only the sizes the device has. */
	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma4, len4, VA, SZ_4K | SZ_2M),
			SZ_2M);
	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma4, len4, VA, SZ_4K | SZ_1M),
			SZ_1M);
	KUNIT_EXPECT_EQ(test, afib_pgsz(2, dma, len, VA, SZ_4K), SZ_4K);
	/* A 2 GiB page is too large for ib_map_mr_sg()'s unsigned int. */
	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma4, len4, VA, 1ULL << 32), 0U);
}

static void afib_mr_pgsz_mismatch(struct kunit *test)
{
	/* The iova 4 KiB off the DMA address's 2 MiB alignment. */
	static const u64 dma[] = { 0x40000000, 0x80200000 };
	static const u32 len[] = { SZ_2M, SZ_2M };
	/* Contiguous, but the first entry ends off a 2 MiB boundary. */
	static const u64 dma2[] = { 0x40000000, 0x40100000 };
	static const u32 len2[] = { SZ_1M, SZ_1M };
	/* ... or the next one starts off it. */
	static const u64 dma3[] = { 0x40000000, 0x80100000 };
	static const u32 len3[] = { SZ_2M, SZ_1M };

	KUNIT_EXPECT_EQ(test, afib_pgsz(2, dma, len, VA + SZ_4K, RXE_CAP),
			SZ_4K);
	KUNIT_EXPECT_EQ(test, afib_pgsz(2, dma2, len2, VA, RXE_CAP), SZ_1M);
	KUNIT_EXPECT_EQ(test, afib_pgsz(2, dma3, len3, VA, RXE_CAP), SZ_1M);
}

static void afib_mr_pgsz_fewest(struct kunit *test)
{
	/* 64 KiB inside contiguous memory: one page, the smallest that fits. */
	static const u64 dma[] = { 0x40010000 };
	static const u32 len[] = { SZ_64K };
	/* 12 KiB from 0x1000: 8 KiB pages take 2, one 16 KiB page does. */
	static const u64 dma2[] = { 0x40001000 };
	static const u32 len2[] = { 3 * SZ_4K };

	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma, len, VA + 0x10000, RXE_CAP),
			SZ_64K);
	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma2, len2, VA + SZ_4K, RXE_CAP),
			SZ_16K);
}

static void afib_mr_pgsz_max_len(struct kunit *test)
{
	/* 1 GiB from 2 MiB-aligned memory: one 1 GiB page. */
	static const u64 dma[] = { 0x40000000 };
	static const u32 len[] = { AFIB_MR_MAX_LEN };
	/* 4 KiB in: 2 MiB pages would cover 1 GiB + 2 MiB. */
	static const u64 dma2[] = { 0x40001000 };

	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma, len, VA, RXE_CAP),
			(unsigned int)SZ_1G);
	KUNIT_EXPECT_EQ(test, afib_pgsz(1, dma2, len, VA + SZ_4K, RXE_CAP),
			SZ_4K);
}

static void afib_rdma_errno_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, afib_rdma_wc_errno(IB_WC_SUCCESS), 0);
	KUNIT_EXPECT_EQ(test, afib_rdma_wc_errno(IB_WC_REM_ACCESS_ERR),
			-EACCES);
	KUNIT_EXPECT_EQ(test, afib_rdma_wc_errno(IB_WC_LOC_PROT_ERR),
			-EFAULT);
	KUNIT_EXPECT_EQ(test, afib_rdma_wc_errno(IB_WC_REM_OP_ERR),
			-EREMOTEIO);
	KUNIT_EXPECT_EQ(test, afib_rdma_wc_errno(IB_WC_REM_INV_REQ_ERR),
			-EREMOTEIO);
	KUNIT_EXPECT_EQ(test, afib_rdma_wc_errno(IB_WC_RETRY_EXC_ERR),
			-ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, afib_rdma_wc_errno(IB_WC_WR_FLUSH_ERR),
			-ECANCELED);
	KUNIT_EXPECT_EQ(test, afib_rdma_wc_errno(IB_WC_GENERAL_ERR), -EIO);
}

static struct kunit_case afib_rdma_cases[] = {
	KUNIT_CASE(afib_rdma_parse_good),
	KUNIT_CASE(afib_rdma_parse_framing),
	KUNIT_CASE_PARAM(afib_rdma_parse_fields, afib_field_gen_params),
	KUNIT_CASE(afib_rdma_access_test),
	KUNIT_CASE(afib_rdma_pages_test),
	KUNIT_CASE(afib_rdma_errno_test),
	KUNIT_CASE(afib_mr_blocks_test),
	KUNIT_CASE(afib_mr_pgsz_small),
	KUNIT_CASE(afib_mr_pgsz_huge),
	KUNIT_CASE(afib_mr_pgsz_mismatch),
	KUNIT_CASE(afib_mr_pgsz_fewest),
	KUNIT_CASE(afib_mr_pgsz_max_len),
	{}
};

static struct kunit_suite afib_rdma_suite = {
	.name = "af_ib_rdma",
	.test_cases = afib_rdma_cases,
};

kunit_test_suite(afib_rdma_suite);
