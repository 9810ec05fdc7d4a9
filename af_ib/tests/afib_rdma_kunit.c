// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the pure parts of af_ib's RDMA interface: the sendmsg()
 * control message parser, the access flags of a memory region, the page
 * count of a user range and the errno of each completion status.
 */
#include <kunit/test.h>
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
	{}
};

static struct kunit_suite afib_rdma_suite = {
	.name = "af_ib_rdma",
	.test_cases = afib_rdma_cases,
};

kunit_test_suite(afib_rdma_suite);
