// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib RDMA through the socket API: memory registration (AFIB_MR_REG,
 * AFIB_MR_DEREG), RDMA write, write with immediate, read, fetch-and-add
 * and compare-and-swap as sendmsg() control messages, completions on the
 * error queue, ordering against messages, and every bad input.
 *
 * Both ends live in this process: the server end registers memory and
 * the client end reaches it, as a remote peer would, through rxe.  Every
 * case runs on an AF_IB SOCK_SEQPACKET pair and on SDP stream pairs over
 * IPv4 and IPv6 (FIXTURE_VARIANT); some are SDP's own (immediates in the
 * stream, fallback to TCP).
 */
#include <sys/resource.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/errqueue.h>

#include "sdp_lib.h"
#include "afib_abi.h"

#define PG	4096

/* The socket types RDMA works on. */
struct rdma_tp {
	bool stream;		/* SDP, else AF_IB SOCK_SEQPACKET */
	struct sdp_tp sdp;	/* SDP's family and addresses */
};

#define RDMA_VARIANTS(f)						\
	FIXTURE_VARIANT_ADD(f, seqpacket) { .tp = { .stream = false } };	\
	FIXTURE_VARIANT_ADD(f, sdp) {					\
		.tp = { .stream = true,					\
			.sdp = { .domain = AF_INET_SDP, .af = AF_INET } } \
	};								\
	FIXTURE_VARIANT_ADD(f, sdp6) {					\
		.tp = { .stream = true,					\
			.sdp = { .domain = AF_INET6_SDP, .af = AF_INET6 } } \
	}

/* A connected pair of @tp; as afib_pair(). */
static int rdma_pair(const struct rdma_tp *tp, int *cfd, int *sfd,
		     const char **step)
{
	if (tp->stream)
		return sdp_pair(&tp->sdp, cfd, sfd, NULL, NULL, 0, step);
	return afib_pair(AF_INET, cfd, sfd, NULL, NULL, 4, step);
}

/* recv() of exactly @len bytes (a stream may return them in parts). */
static ssize_t recv_n(const struct rdma_tp *tp, int fd, void *buf,
		      size_t len)
{
	return recv(fd, buf, len, tp->stream ? MSG_WAITALL : 0);
}

static int mr_reg(int fd, void *addr, uint64_t len, uint32_t access,
		  struct afib_mr_desc *desc)
{
	struct afib_mr_reg reg = {
		.addr = (uintptr_t)addr,
		.length = len,
		.access = access,
		.desc_addr = (uintptr_t)desc,
	};

	memset(desc, 0xaa, sizeof(*desc));
	return setsockopt(fd, SOL_AFIB, AFIB_MR_REG, &reg, sizeof(reg));
}

static int mr_dereg(int fd, uint32_t handle)
{
	struct afib_mr_dereg d = { .handle = handle };

	return setsockopt(fd, SOL_AFIB, AFIB_MR_DEREG, &d, sizeof(d));
}

/* sendmsg() with one operation; @buf/@len the iovec (may be empty). */
static ssize_t rdma_op(int fd, int type, const struct afib_rdma_op *op,
		       void *buf, size_t len, int flags)
{
	char ctl[CMSG_SPACE(sizeof(*op))] = {};
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = len ? 1 : 0,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_AFIB;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(sizeof(*op));
	memcpy(CMSG_DATA(c), op, sizeof(*op));
	return sendmsg(fd, &msg, flags);
}

/*
 * rdma_op() with MSG_DONTWAIT, again while it says EAGAIN: an SDP socket
 * has as many operations in flight as its send ring has entries.
 */
static ssize_t rdma_op_nb(int fd, int type, const struct afib_rdma_op *op,
			  void *buf, size_t len)
{
	int64_t end = afib_now_ms() + AFIB_WAIT_MS;
	ssize_t r;

	while ((r = rdma_op(fd, type, op, buf, len, MSG_DONTWAIT)) < 0 &&
	       errno == EAGAIN && afib_now_ms() < end)
		afib_msleep(1);
	return r;
}

/* An operation on @desc's region at @off, local side the iovec. */
static ssize_t rdma_iov(int fd, int type, const struct afib_mr_desc *desc,
			uint64_t off, void *buf, size_t len, uint64_t token)
{
	struct afib_rdma_op op = {
		.token = token,
		.remote_addr = desc->remote_addr + off,
		.rkey = desc->rkey,
	};

	return rdma_op(fd, type, &op, buf, len, 0);
}

/* One completion from the error queue: 0, or -1 with errno set. */
static int get_completion(int fd, struct sock_extended_err *ee, int ms)
{
	char ctl[CMSG_SPACE(sizeof(*ee))];
	struct msghdr msg = {
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;

	int64_t end = afib_now_ms() + ms;

	/*
	 * POLLERR is also the connection's error (a failed operation sets
	 * it just before its completion is queued): look again until @ms.
	 */
	for (;;) {
		if (ms && !(afib_poll1(fd, 0, ms) & POLLERR)) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (recvmsg(fd, &msg, MSG_ERRQUEUE) >= 0)
			break;
		if (errno != EAGAIN || !ms || afib_now_ms() >= end)
			return -1;
		afib_msleep(1);
	}
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_AFIB ||
	    c->cmsg_type != AFIB_CMSG_COMPLETION ||
	    !(msg.msg_flags & MSG_ERRQUEUE)) {
		errno = EPROTO;
		return -1;
	}
	memcpy(ee, CMSG_DATA(c), sizeof(*ee));
	return 0;
}

/* Drop CAP_IPC_LOCK so that RLIMIT_MEMLOCK applies to root too. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1U << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &h, d);
}

FIXTURE(rdma) {
	const struct rdma_tp *tp;
	int cfd, sfd;
	uint8_t *mem;		/* the server's region, 4 pages */
	struct afib_mr_desc desc;
	uint8_t *buf;		/* client's local buffer, 32 pages */
};

FIXTURE_VARIANT(rdma) {
	struct rdma_tp tp;
};

RDMA_VARIANTS(rdma);

FIXTURE_SETUP(rdma)
{
	const char *step = NULL;

	signal(SIGPIPE, SIG_IGN);
	self->tp = &variant->tp;

	self->mem = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	self->buf = mmap(NULL, 32 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(self->mem, MAP_FAILED);
	ASSERT_NE(self->buf, MAP_FAILED);
	ASSERT_EQ(rdma_pair(self->tp, &self->cfd, &self->sfd, &step), 0)
		TH_LOG("%s: %s", step, strerror(errno));
	ASSERT_EQ(mr_reg(self->sfd, self->mem, 4 * PG, AFIB_ACCESS_ALL,
			 &self->desc), 0)
		TH_LOG("AFIB_MR_REG: %s", strerror(errno));
}

FIXTURE_TEARDOWN(rdma)
{
	afib_pair_close(&self->cfd, &self->sfd, NULL);
	munmap(self->mem, 4 * PG);
	munmap(self->buf, 32 * PG);
}

TEST_F(rdma, reg_desc)
{
	struct afib_mr_desc d2;

	EXPECT_NE(self->desc.handle, 0);
	EXPECT_EQ(self->desc.remote_addr, (uintptr_t)self->mem);
	EXPECT_EQ(self->desc.length, 4 * PG);
	EXPECT_EQ(self->desc.reserved[0], 0);
	EXPECT_EQ(self->desc.reserved[1], 0);
	/* Unaligned start and length. */
	ASSERT_EQ(mr_reg(self->sfd, self->mem + 5, 100, 0, &d2), 0);
	EXPECT_NE(d2.handle, self->desc.handle);
	EXPECT_NE(d2.rkey, self->desc.rkey);
	EXPECT_EQ(d2.remote_addr, (uintptr_t)self->mem + 5);
	EXPECT_EQ(d2.length, 100);
	EXPECT_EQ(mr_dereg(self->sfd, d2.handle), 0);
	EXPECT_EQ(mr_dereg(self->sfd, self->desc.handle), 0);
}

TEST_F(rdma, write_iov)
{
	char msg[8];

	afib_fill(self->buf, 3000, 1);
	ASSERT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_WRITE, &self->desc,
			   100, self->buf, 3000, 1), 3000);
	/* Blocking: done on return, and a message after it comes after. */
	EXPECT_EQ(afib_check(self->mem + 100, 3000, 1), -1);
	ASSERT_EQ(send(self->cfd, "x", 1, 0), 1);
	ASSERT_EQ(recv(self->sfd, msg, sizeof(msg), 0), 1);
	EXPECT_EQ(self->mem[99], 0);
	EXPECT_EQ(self->mem[3100], 0);
}

TEST_F(rdma, write_iov_multi)
{
	struct iovec iov[3] = {
		{ self->buf + 10, 1000 },
		{ self->buf + PG + 7, 5000 },
		{ self->buf + 8 * PG, 0 },
	};
	char ctl[CMSG_SPACE(sizeof(struct afib_rdma_op))] = {};
	struct msghdr msg = {
		.msg_iov = iov,
		.msg_iovlen = 3,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr + 1,
		.rkey = self->desc.rkey,
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_AFIB;
	c->cmsg_type = AFIB_CMSG_RDMA_WRITE;
	c->cmsg_len = CMSG_LEN(sizeof(op));
	memcpy(CMSG_DATA(c), &op, sizeof(op));
	afib_fill(self->buf, 32 * PG, 2);
	ASSERT_EQ(sendmsg(self->cfd, &msg, 0), 6000);
	EXPECT_EQ(memcmp(self->mem + 1, self->buf + 10, 1000), 0);
	EXPECT_EQ(memcmp(self->mem + 1001, self->buf + PG + 7, 5000), 0);
}

TEST_F(rdma, write_mr)
{
	struct afib_mr_desc local;
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr + 8,
		.rkey = self->desc.rkey,
		.local_offset = 3,
		.length = 4 * PG - 8,
	};

	afib_fill(self->buf, 32 * PG, 3);
	/* No access bits: a source for RDMA writes only. */
	ASSERT_EQ(mr_reg(self->cfd, self->buf, 32 * PG, 0, &local), 0);
	op.local_handle = local.handle;
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0),
		  4 * PG - 8);
	EXPECT_EQ(memcmp(self->mem + 8, self->buf + 3, 4 * PG - 8), 0);
	/* An RDMA read into it needs local write access. */
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_READ, &op, NULL, 0, 0),
		  -1);
	EXPECT_EQ(errno, EACCES);
	/* Beyond its end. */
	op.local_offset = 32 * PG - 10;
	op.length = 11;
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0),
		  -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(mr_dereg(self->cfd, local.handle), 0);
}

TEST_F(rdma, write_large)
{
	size_t len = 1 << 20;
	struct afib_mr_desc big, local;
	uint8_t *dst = malloc(len), *src = malloc(len);
	struct afib_rdma_op op = { .length = len };

	ASSERT_TRUE(dst && src);
	memset(dst, 0, len);
	afib_fill(src, len, 4);
	ASSERT_EQ(mr_reg(self->sfd, dst, len, AFIB_ACCESS_LOCAL_WRITE |
			 AFIB_ACCESS_REMOTE_WRITE, &big), 0);
	ASSERT_EQ(mr_reg(self->cfd, src, len, 0, &local), 0);
	op.remote_addr = big.remote_addr;
	op.rkey = big.rkey;
	op.local_handle = local.handle;
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0),
		  (ssize_t)len);
	EXPECT_EQ(afib_check(dst, len, 4), -1);
	free(dst);
	free(src);
}

TEST_F(rdma, read_iov)
{
	afib_fill(self->mem, 4 * PG, 5);
	memset(self->buf, 0, 32 * PG);
	ASSERT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_READ, &self->desc,
			   50, self->buf + 1, 2 * PG, 0), 2 * PG);
	EXPECT_EQ(memcmp(self->buf + 1, self->mem + 50, 2 * PG), 0);
	EXPECT_EQ(self->buf[0], 0);
	EXPECT_EQ(self->buf[2 * PG + 1], 0);
}

TEST_F(rdma, read_mr)
{
	struct afib_mr_desc local;
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
		.local_offset = PG,
		.length = 4 * PG,
	};

	afib_fill(self->mem, 4 * PG, 6);
	ASSERT_EQ(mr_reg(self->cfd, self->buf, 32 * PG,
			 AFIB_ACCESS_LOCAL_WRITE, &local), 0);
	op.local_handle = local.handle;
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_READ, &op, NULL, 0, 0),
		  4 * PG);
	EXPECT_EQ(memcmp(self->buf + PG, self->mem, 4 * PG), 0);
}

TEST_F(rdma, fetch_add)
{
	uint64_t *v = (uint64_t *)self->mem, old = 0;
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr + 16,
		.rkey = self->desc.rkey,
		.compare_add = 5,
	};
	int i;

	v[2] = 1000;
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_FETCH_ADD, &op, &old,
				  sizeof(old), 0), 8);
		EXPECT_EQ(old, 1000 + 5 * i);
	}
	EXPECT_EQ(v[2], 1050);
}

TEST_F(rdma, cmp_swap)
{
	uint64_t *v = (uint64_t *)self->mem, old = 0;
	struct afib_mr_desc local;
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr + 8,
		.rkey = self->desc.rkey,
		.compare_add = 7,
		.swap = 0x1122334455667788ULL,
	};

	v[1] = 7;
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_CMP_SWAP, &op, &old,
			  sizeof(old), 0), 8);
	EXPECT_EQ(old, 7);
	EXPECT_EQ(v[1], 0x1122334455667788ULL);
	/* The comparison fails: nothing changes, the old value comes back. */
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_CMP_SWAP, &op, &old,
			  sizeof(old), 0), 8);
	EXPECT_EQ(old, 0x1122334455667788ULL);
	EXPECT_EQ(v[1], 0x1122334455667788ULL);
	/* Result into a registered region. */
	ASSERT_EQ(mr_reg(self->cfd, self->buf, PG, AFIB_ACCESS_LOCAL_WRITE,
			 &local), 0);
	op.local_handle = local.handle;
	op.local_offset = 64;
	op.length = 8;
	op.compare_add = 0x1122334455667788ULL;
	op.swap = 9;
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_CMP_SWAP, &op, NULL, 0, 0), 8);
	EXPECT_EQ(*(uint64_t *)(self->buf + 64), 0x1122334455667788ULL);
	EXPECT_EQ(v[1], 9);
}

TEST_F_TIMEOUT(rdma, write_imm, afib_tmo(60))
{
	char ctl[CMSG_SPACE(sizeof(uint32_t))], data[16];
	struct iovec iov = { data, sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr + PG,
		.rkey = self->desc.rkey,
		.imm = 0xdeadbeef,
	};
	struct cmsghdr *c;
	uint32_t imm;
	int i;

	afib_fill(self->buf, PG, 7);
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE_IMM, &op,
			  self->buf, 100, 0), 100);
	ASSERT_EQ(recvmsg(self->sfd, &msg, 0), 0);
	/* An empty message; on a stream, 0 bytes and the immediate. */
	EXPECT_EQ(!!(msg.msg_flags & MSG_EOR), !self->tp->stream);
	c = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(c, NULL);
	EXPECT_EQ(c->cmsg_level, SOL_AFIB);
	EXPECT_EQ(c->cmsg_type, AFIB_CMSG_IMM);
	EXPECT_EQ(c->cmsg_len, CMSG_LEN(sizeof(imm)));
	memcpy(&imm, CMSG_DATA(c), sizeof(imm));
	EXPECT_EQ(imm, 0xdeadbeef);
	EXPECT_EQ(memcmp(self->mem + PG, self->buf, 100), 0);

	/* Zero bytes is a notification; many of them need credits back. */
	for (i = 0; i < 300; i++) {
		op.imm = i;
		ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE_IMM, &op,
				  NULL, 0, 0), 0);
		msg.msg_controllen = sizeof(ctl);
		ASSERT_EQ(recvmsg(self->sfd, &msg, 0), 0);
		c = CMSG_FIRSTHDR(&msg);
		ASSERT_NE(c, NULL);
		memcpy(&imm, CMSG_DATA(c), sizeof(imm));
		ASSERT_EQ(imm, i);
	}
	/* An ordinary message carries no immediate. */
	ASSERT_EQ(send(self->cfd, "abc", 3, 0), 3);
	msg.msg_controllen = sizeof(ctl);
	ASSERT_EQ(recvmsg(self->sfd, &msg, 0), 3);
	EXPECT_EQ(msg.msg_controllen, 0);
}

/* A message sent after an RDMA write is received after the data is there. */
TEST_F_TIMEOUT(rdma, ordering, afib_tmo(60))
{
	uint32_t i, seen;
	char m[4];

	for (i = 1; i <= 500; i++) {
		ASSERT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_WRITE, &self->desc,
				   0, &i, sizeof(i), 0), 4);
		ASSERT_EQ(send(self->cfd, &i, sizeof(i), 0), 4);
		ASSERT_EQ(recv_n(self->tp, self->sfd, m, sizeof(m)), 4);
		memcpy(&seen, self->mem, 4);
		ASSERT_EQ(seen, i);
	}
	/* Non-blocking writes too: posted in order before the message. */
	for (i = 1; i <= 50; i++) {
		struct afib_rdma_op op = {
			.remote_addr = self->desc.remote_addr + 4 * i,
			.rkey = self->desc.rkey,
			.token = i,
		};
		struct sock_extended_err ee;

		ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, &i, 4,
				  MSG_DONTWAIT), 4);
		ASSERT_EQ(send(self->cfd, &i, sizeof(i), 0), 4);
		ASSERT_EQ(recv_n(self->tp, self->sfd, m, sizeof(m)), 4);
		memcpy(&seen, self->mem + 4 * i, 4);
		ASSERT_EQ(seen, i);
		ASSERT_EQ(get_completion(self->cfd, &ee, AFIB_WAIT_MS), 0);
		ASSERT_EQ(afib_ee_token(&ee), i);
	}
}

TEST_F(rdma, async_dontwait)
{
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
		.token = 0x123456789abcdefULL,
	};
	struct sock_extended_err ee;

	afib_fill(self->buf, 200, 8);
	EXPECT_EQ(afib_poll1(self->cfd, POLLOUT, 0) & POLLERR, 0);
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, self->buf,
			  200, MSG_DONTWAIT), 200);
	ASSERT_EQ(get_completion(self->cfd, &ee, AFIB_WAIT_MS), 0);
	EXPECT_EQ(ee.ee_errno, 0);
	EXPECT_EQ(ee.ee_origin, AFIB_EE_ORIGIN_RDMA);
	EXPECT_EQ(ee.ee_type, AFIB_CMSG_RDMA_WRITE);
	EXPECT_EQ(afib_ee_token(&ee), 0x123456789abcdefULL);
	EXPECT_EQ(memcmp(self->mem, self->buf, 200), 0);
	/* Read: no POLLERR, EAGAIN, and SO_ERROR stays clean. */
	EXPECT_EQ(afib_poll1(self->cfd, POLLOUT, 0) & POLLERR, 0);
	EXPECT_EQ(get_completion(self->cfd, &ee, 0), -1);
	EXPECT_EQ(errno, EAGAIN);
	{
		int err = -1;
		socklen_t l = sizeof(err);

		EXPECT_EQ(getsockopt(self->cfd, SOL_SOCKET, SO_ERROR, &err,
				     &l), 0);
		EXPECT_EQ(err, 0);
	}
}

TEST_F(rdma, async_sockopt)
{
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
	};
	struct sock_extended_err ee;
	int on = 1, v = 0, i;
	socklen_t l = sizeof(v);

	ASSERT_EQ(setsockopt(self->cfd, SOL_AFIB, AFIB_RDMA_ASYNC, &on,
			     sizeof(on)), 0);
	ASSERT_EQ(getsockopt(self->cfd, SOL_AFIB, AFIB_RDMA_ASYNC, &v, &l), 0);
	EXPECT_EQ(v, 1);
	for (i = 0; i < 8; i++) {
		op.token = 100 + i;
		op.remote_addr = self->desc.remote_addr + 8 * i;
		ASSERT_EQ(rdma_op(self->cfd, i & 1 ? AFIB_CMSG_RDMA_READ :
				  AFIB_CMSG_RDMA_WRITE, &op, self->buf + 8 * i,
				  8, 0), 8);
	}
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(get_completion(self->cfd, &ee, AFIB_WAIT_MS), 0);
		EXPECT_EQ(ee.ee_errno, 0);
		EXPECT_EQ(afib_ee_token(&ee), 100 + i);
		EXPECT_EQ(ee.ee_type, i & 1 ? AFIB_CMSG_RDMA_READ :
			  AFIB_CMSG_RDMA_WRITE);
	}
}

/* Posted plus unread completions are bounded; reading makes room. */
TEST_F(rdma, async_limit)
{
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
	};
	struct sock_extended_err ee;
	int i, n = 0;
	ssize_t r;

	for (i = 0; i < AFIB_RDMA_MAX_OPS; i++) {
		op.token = i;
		do {
			r = rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op,
				    self->buf, 64, MSG_DONTWAIT);
		} while (r < 0 && errno == EAGAIN);
		ASSERT_EQ(r, 64) TH_LOG("op %d: %s", i, strerror(errno));
	}
	/* Wait until all completed, then the next one has no room. */
	for (i = 0; i < 1000; i++) {
		r = rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, self->buf,
			    64, MSG_DONTWAIT);
		if (r < 0 && errno == ENOBUFS)
			break;
		ASSERT_EQ(r, -1);
		ASSERT_EQ(errno, EAGAIN);
		afib_msleep(5);
	}
	ASSERT_LT(i, 1000);
	while (!get_completion(self->cfd, &ee, 0)) {
		EXPECT_EQ(afib_ee_token(&ee), n);
		n++;
	}
	EXPECT_EQ(n, AFIB_RDMA_MAX_OPS);
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, self->buf, 64,
			  0), 64);
}

struct worker {
	int fd;
	int type;
	struct afib_mr_desc desc;
	uint64_t off;
	int errors;
	uint8_t buf[256];
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < 200; i++)
		if (rdma_iov(w->fd, w->type, &w->desc, w->off, w->buf,
			     sizeof(w->buf), i) != sizeof(w->buf))
			w->errors++;
	return NULL;
}

/* Operations from several threads while messages flow both ways. */
TEST_F(rdma, concurrent)
{
	struct worker w[3] = {
		{ .type = AFIB_CMSG_RDMA_WRITE, .off = 0 },
		{ .type = AFIB_CMSG_RDMA_READ, .off = 1024 },
		{ .type = AFIB_CMSG_RDMA_WRITE, .off = 2048 },
	};
	pthread_t th[3];
	char m[1000];
	int i;

	for (i = 0; i < 3; i++) {
		w[i].fd = self->cfd;
		w[i].desc = self->desc;
		ASSERT_EQ(pthread_create(&th[i], NULL, worker_fn, &w[i]), 0);
	}
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(send(self->cfd, m, sizeof(m), 0), sizeof(m));
		ASSERT_EQ(recv_n(self->tp, self->sfd, m, sizeof(m)), sizeof(m));
		ASSERT_EQ(send(self->sfd, m, 10, 0), 10);
		ASSERT_EQ(recv_n(self->tp, self->cfd, m, 10), 10);
	}
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(w[i].errors, 0);
	}
}

static volatile int alarms;

static void on_alarm(int sig __attribute__((unused)))
{
	alarms++;
}

/*
 * Once posted, a blocking operation returns its own status: signals
 * (without SA_RESTART) and SO_SNDTIMEO do not cut it short.
 */
TEST_F_TIMEOUT(rdma, blocking_not_cut_short, afib_tmo(120))
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct timeval tv = { 0, 1000 };
	struct afib_mr_desc big, local;
	struct sock_extended_err ee;
	size_t len = 1 << 20;
	uint8_t *a = malloc(len), *b = malloc(len);
	struct afib_rdma_op op = { .length = len };
	int i;

	ASSERT_TRUE(a && b);
	afib_fill(a, len, 9);
	ASSERT_EQ(mr_reg(self->sfd, a, len, AFIB_ACCESS_LOCAL_WRITE |
			 AFIB_ACCESS_REMOTE_READ, &big), 0);
	ASSERT_EQ(mr_reg(self->cfd, b, len, AFIB_ACCESS_LOCAL_WRITE, &local),
		  0);
	op.remote_addr = big.remote_addr;
	op.rkey = big.rkey;
	op.local_handle = local.handle;
	ASSERT_EQ(setsockopt(self->cfd, SOL_SOCKET, SO_SNDTIMEO, &tv,
			     sizeof(tv)), 0);
	ASSERT_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	ASSERT_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
	for (i = 0; i < 20; i++) {
		memset(b, 0, len);
		ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_READ, &op, NULL, 0,
				  0), (ssize_t)len)
			TH_LOG("read %d: %s", i, strerror(errno));
		ASSERT_EQ(afib_check(b, len, 9), -1);
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	TH_LOG("%d signals during 20 blocking 1 MiB reads", alarms);
	EXPECT_EQ(get_completion(self->cfd, &ee, 0), -1);
	EXPECT_EQ(errno, EAGAIN);
	free(a);
	free(b);
}

/* --- bad input ---------------------------------------------------------- */

TEST_F(rdma, bad_atomic_unaligned)
{
	uint64_t old;
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr + 4,
		.rkey = self->desc.rkey,
		.compare_add = 1,
	};

	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_FETCH_ADD, &op, &old, 8, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_CMP_SWAP, &op, &old, 8, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	/* Local side not 8 bytes, or across a page. */
	op.remote_addr = self->desc.remote_addr;
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_FETCH_ADD, &op, &old, 4, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_FETCH_ADD, &op,
			  self->buf + PG - 4, 8, 0), -1);
	EXPECT_EQ(errno, EINVAL);
	/* Still usable. */
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_FETCH_ADD, &op, &old, 8, 0), 8);
}

TEST_F(rdma, bad_handle)
{
	struct afib_mr_desc local;
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
		.local_handle = 12345,
		.length = 8,
	};

	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0),
		  -1);
	EXPECT_EQ(errno, ENOENT);
	/* The peer's handle means nothing here. */
	op.local_handle = self->desc.handle;
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0),
		  -1);
	EXPECT_EQ(errno, ENOENT);
	/* Stale. */
	ASSERT_EQ(mr_reg(self->cfd, self->buf, PG, 0, &local), 0);
	ASSERT_EQ(mr_dereg(self->cfd, local.handle), 0);
	op.local_handle = local.handle;
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0),
		  -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(mr_dereg(self->cfd, local.handle), -1);
	EXPECT_EQ(errno, ENOENT);
	EXPECT_EQ(mr_dereg(self->cfd, 0), -1);
	EXPECT_EQ(errno, ENOENT);
	/* A handle with the iovec too. */
	ASSERT_EQ(mr_reg(self->cfd, self->buf, PG, 0, &local), 0);
	op.local_handle = local.handle;
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, self->buf, 8,
			  0), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0), 8);
}

/* A refused remote access fails the operation and ends the connection. */
static void remote_refused(struct __test_metadata *_metadata, int cfd,
			   int type, uint64_t addr, uint32_t rkey, bool async)
{
	struct afib_rdma_op op = { .remote_addr = addr, .rkey = rkey,
				   .token = 77 };
	struct sock_extended_err ee;
	uint64_t local = 0;

	if (async) {
		ASSERT_EQ(rdma_op(cfd, type, &op, &local, 8, MSG_DONTWAIT), 8);
		ASSERT_EQ(get_completion(cfd, &ee, AFIB_WAIT_MS), 0);
		EXPECT_EQ(ee.ee_errno, EACCES);
		EXPECT_EQ(afib_ee_token(&ee), 77);
	} else {
		EXPECT_EQ(rdma_op(cfd, type, &op, &local, 8, 0), -1);
		EXPECT_EQ(errno, EACCES);
	}
	EXPECT_EQ(send(cfd, "x", 1, MSG_NOSIGNAL), -1);
}

TEST_F(rdma, bad_rkey)
{
	remote_refused(_metadata, self->cfd, AFIB_CMSG_RDMA_WRITE,
		       self->desc.remote_addr, self->desc.rkey ^ 0x100, false);
}

TEST_F(rdma, bad_rkey_read_async)
{
	remote_refused(_metadata, self->cfd, AFIB_CMSG_RDMA_READ,
		       self->desc.remote_addr, self->desc.rkey + 1, true);
}

TEST_F(rdma, bad_range)
{
	remote_refused(_metadata, self->cfd, AFIB_CMSG_RDMA_WRITE,
		       self->desc.remote_addr + 4 * PG - 4, self->desc.rkey,
		       false);
}

TEST_F(rdma, bad_range_before)
{
	remote_refused(_metadata, self->cfd, AFIB_CMSG_RDMA_READ,
		       self->desc.remote_addr - 8, self->desc.rkey, false);
}

TEST_F(rdma, bad_access)
{
	struct afib_mr_desc ro;

	ASSERT_EQ(mr_reg(self->sfd, self->mem, PG, AFIB_ACCESS_REMOTE_READ,
			 &ro), 0);
	remote_refused(_metadata, self->cfd, AFIB_CMSG_RDMA_WRITE,
		       ro.remote_addr, ro.rkey, false);
}

TEST_F(rdma, bad_access_atomic)
{
	struct afib_mr_desc rw;

	ASSERT_EQ(mr_reg(self->sfd, self->mem, PG, AFIB_ACCESS_LOCAL_WRITE |
			 AFIB_ACCESS_REMOTE_WRITE | AFIB_ACCESS_REMOTE_READ,
			 &rw), 0);
	remote_refused(_metadata, self->cfd, AFIB_CMSG_FETCH_ADD,
		       rw.remote_addr, rw.rkey, false);
}

/* After deregistration the peer's access fails. */
TEST_F(rdma, after_dereg)
{
	ASSERT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_WRITE, &self->desc, 0,
			   self->buf, 8, 0), 8);
	ASSERT_EQ(mr_dereg(self->sfd, self->desc.handle), 0);
	remote_refused(_metadata, self->cfd, AFIB_CMSG_RDMA_WRITE,
		       self->desc.remote_addr, self->desc.rkey, false);
}

/* After the owner closed, the peer's access fails. */
TEST_F(rdma, after_close)
{
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
	};
	uint64_t v = 0;
	ssize_t r;

	afib_close(&self->sfd);
	r = rdma_op(self->cfd, AFIB_CMSG_RDMA_READ, &op, &v, 8, MSG_NOSIGNAL);
	EXPECT_EQ(r, -1);
	EXPECT_TRUE(errno == EPIPE || errno == ECONNRESET ||
		    errno == ECANCELED || errno == EACCES ||
		    errno == ENOTCONN) TH_LOG("errno %s", strerror(errno));
}

TEST_F(rdma, bad_lengths)
{
	struct afib_mr_desc d, big;
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
	};
	uint8_t *dst = mmap(NULL, 32 * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(dst, MAP_FAILED);
	ASSERT_EQ(mr_reg(self->sfd, dst, 32 * PG, AFIB_ACCESS_LOCAL_WRITE |
			 AFIB_ACCESS_REMOTE_WRITE, &big), 0);
	op.remote_addr = big.remote_addr;
	op.rkey = big.rkey;
	/* An iovec of more than AFIB_RDMA_IOV_PAGES pages. */
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, self->buf,
			  AFIB_RDMA_IOV_PAGES * PG + 1, 0), -1);
	EXPECT_EQ(errno, EMSGSIZE);
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, self->buf + 1,
			  AFIB_RDMA_IOV_PAGES * PG, 0), -1);
	EXPECT_EQ(errno, EMSGSIZE);
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, self->buf,
			  AFIB_RDMA_IOV_PAGES * PG, 0),
		  AFIB_RDMA_IOV_PAGES * PG);
	/* A length over the limit. */
	op.local_handle = 1;
	op.length = AFIB_MR_MAX_LEN + 1;
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0),
		  -1);
	EXPECT_EQ(errno, EMSGSIZE);
	EXPECT_EQ(mr_reg(self->cfd, self->buf, AFIB_MR_MAX_LEN + 1, 0, &d), -1);
	EXPECT_EQ(errno, EMSGSIZE);
	/* Too many pages for the device: see mr_small_pages_cap. */
	munmap(dst, 32 * PG);
}

/* A sendmsg() with the control data @ctl, @len bytes. */
static ssize_t send_ctl(int fd, void *ctl, size_t len, void *buf)
{
	struct iovec iov = { buf, 8 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = len,
	};

	return sendmsg(fd, &msg, 0);
}

TEST_F(rdma, bad_cmsg)
{
	char ctl[2 * CMSG_SPACE(sizeof(struct afib_rdma_op))] = {};
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
	}, bad;
	struct cmsghdr *c = (struct cmsghdr *)ctl, *c2;
	size_t one = CMSG_SPACE(sizeof(op));

#define SET(lvl, typ, len, o) do {					\
		c->cmsg_level = (lvl);					\
		c->cmsg_type = (typ);					\
		c->cmsg_len = (len);					\
		memcpy(CMSG_DATA(c), (o), sizeof(*(o)));		\
	} while (0)
#define BAD(ctllen) do {						\
		EXPECT_EQ(send_ctl(self->cfd, ctl, (ctllen), self->buf), -1); \
		EXPECT_EQ(errno, EINVAL);				\
	} while (0)

	/* Truncated: shorter than a header, shorter than the struct. */
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &op);
	BAD(sizeof(struct cmsghdr) - 1);
	BAD(CMSG_LEN(sizeof(op)) - 1);
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op) - 8), &op);
	BAD(one);
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op) + 8), &op);
	BAD(sizeof(ctl));
	/*
	 * Other level (a stream, as TCP, takes it for another cmsg and
	 * sends the data), unknown type, the immediate type outgoing.
	 */
	SET(SOL_SOCKET, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &op);
	if (self->tp->stream) {
		EXPECT_EQ(send_ctl(self->cfd, ctl, one, self->buf), 8);
	} else {
		BAD(one);
	}
	SET(SOL_AFIB, 99, CMSG_LEN(sizeof(op)), &op);
	BAD(one);
	SET(SOL_AFIB, AFIB_CMSG_IMM, CMSG_LEN(sizeof(op)), &op);
	BAD(one);
	SET(SOL_AFIB, AFIB_CMSG_COMPLETION, CMSG_LEN(sizeof(op)), &op);
	BAD(one);
	/* Two operations. */
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &op);
	c2 = (struct cmsghdr *)(ctl + one);
	c2->cmsg_level = SOL_AFIB;
	c2->cmsg_type = AFIB_CMSG_RDMA_WRITE;
	c2->cmsg_len = CMSG_LEN(sizeof(op));
	memcpy(CMSG_DATA(c2), &op, sizeof(op));
	BAD(2 * one);
	/* Fields that must be 0, or make no sense for the type. */
	bad = op; bad.flags = 1;
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &bad);
	BAD(one);
	bad = op; bad.reserved[1] = 1;
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &bad);
	BAD(one);
	bad = op; bad.imm = 1;
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &bad);
	BAD(one);
	bad = op; bad.swap = 1;
	SET(SOL_AFIB, AFIB_CMSG_FETCH_ADD, CMSG_LEN(sizeof(op)), &bad);
	BAD(one);
	bad = op; bad.compare_add = 1;
	SET(SOL_AFIB, AFIB_CMSG_RDMA_READ, CMSG_LEN(sizeof(op)), &bad);
	BAD(one);
	bad = op; bad.local_offset = 8;
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &bad);
	BAD(one);
	bad = op; bad.length = 8;
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &bad);
	BAD(one);
	/* Garbage. */
	memset(ctl, 0xa5, sizeof(ctl));
	BAD(sizeof(ctl));
	/* And then a good one works. */
	memset(ctl, 0, sizeof(ctl));
	SET(SOL_AFIB, AFIB_CMSG_RDMA_WRITE, CMSG_LEN(sizeof(op)), &op);
	EXPECT_EQ(send_ctl(self->cfd, ctl, one, self->buf), 8);
#undef SET
#undef BAD
}

TEST_F(rdma, bad_local_buffer)
{
	char *ro = mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			0);
	void *bad = afib_bad_ptr();	/* after the mmap(), or it is @ro */

	ASSERT_NE(ro, MAP_FAILED);
	EXPECT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_WRITE, &self->desc, 0,
			   bad, 64, 0), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_READ, &self->desc, 0,
			   bad, 64, 0), -1);
	EXPECT_EQ(errno, EFAULT);
	/* Read-only memory can be written from, not read into. */
	EXPECT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_READ, &self->desc, 0,
			   ro, 64, 0), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(rdma_iov(self->cfd, AFIB_CMSG_FETCH_ADD, &self->desc, 0,
			   ro, 8, 0), -1);
	EXPECT_EQ(errno, EFAULT);
	EXPECT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_WRITE, &self->desc, 0,
			   ro, 64, 0), 64);
	/* Registration likewise. */
	{
		struct afib_mr_desc d;

		EXPECT_EQ(mr_reg(self->cfd, bad, PG, 0, &d), -1);
		EXPECT_EQ(errno, EFAULT);
		EXPECT_EQ(mr_reg(self->cfd, ro, PG, AFIB_ACCESS_LOCAL_WRITE,
				 &d), -1);
		EXPECT_EQ(errno, EFAULT);
		EXPECT_EQ(mr_reg(self->cfd, ro, PG, 0, &d), 0);
		/* Nowhere to put the result: EFAULT, nothing registered. */
		struct afib_mr_reg reg = {
			.addr = (uintptr_t)self->buf,
			.length = PG,
			.desc_addr = (uintptr_t)bad,
		};

		EXPECT_EQ(setsockopt(self->cfd, SOL_AFIB, AFIB_MR_REG, &reg,
				     sizeof(reg)), -1);
		EXPECT_EQ(errno, EFAULT);
	}
	munmap(ro, PG);
}

TEST_F(rdma, bad_reg_args)
{
	struct afib_mr_reg reg = {
		.addr = (uintptr_t)self->buf,
		.length = PG,
	};
	struct afib_mr_desc d;

	reg.desc_addr = (uintptr_t)&d;
	EXPECT_EQ(mr_reg(self->cfd, self->buf, PG, 0x10, &d), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(mr_reg(self->cfd, self->buf, PG, AFIB_ACCESS_REMOTE_WRITE,
			 &d), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(mr_reg(self->cfd, self->buf, PG, AFIB_ACCESS_REMOTE_ATOMIC,
			 &d), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(mr_reg(self->cfd, self->buf, 0, 0, &d), -1);
	EXPECT_EQ(errno, EINVAL);
	/* A range that wraps, as 64-bit numbers (also from a 32-bit process). */
	reg.addr = -4096ULL;
	reg.length = 8192;
	EXPECT_EQ(setsockopt(self->cfd, SOL_AFIB, AFIB_MR_REG, &reg,
			     sizeof(reg)), -1);
	EXPECT_EQ(errno, EINVAL);
	/* Unmapped, and beyond a 32-bit process's address space. */
	reg.addr = 1ULL << 40;
	EXPECT_EQ(setsockopt(self->cfd, SOL_AFIB, AFIB_MR_REG, &reg,
			     sizeof(reg)), -1);
	EXPECT_EQ(errno, EFAULT);
	reg.addr = (uintptr_t)self->buf;
	reg.length = PG;
	EXPECT_EQ(setsockopt(self->cfd, SOL_AFIB, AFIB_MR_REG, &reg,
			     sizeof(reg) - 1), -1);
	EXPECT_EQ(errno, EINVAL);
	reg.flags = 1;
	EXPECT_EQ(setsockopt(self->cfd, SOL_AFIB, AFIB_MR_REG, &reg,
			     sizeof(reg)), -1);
	EXPECT_EQ(errno, EINVAL);
	reg.flags = 0;
	reg.reserved[0] = 1;
	EXPECT_EQ(setsockopt(self->cfd, SOL_AFIB, AFIB_MR_REG, &reg,
			     sizeof(reg)), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(self->cfd, SOL_AFIB, AFIB_MR_REG, NULL,
			     sizeof(reg)), -1);
	EXPECT_EQ(errno, EFAULT);
	{
		struct afib_mr_dereg dr = { .handle = self->desc.handle,
					    .flags = 1 };

		EXPECT_EQ(setsockopt(self->sfd, SOL_AFIB, AFIB_MR_DEREG, &dr,
				     sizeof(dr)), -1);
		EXPECT_EQ(errno, EINVAL);
		EXPECT_EQ(setsockopt(self->sfd, SOL_AFIB, AFIB_MR_DEREG, &dr,
				     4), -1);
		EXPECT_EQ(errno, EINVAL);
	}
}

TEST_F(rdma, memlock_limit)
{
	struct rlimit rl = { 16 * PG, 16 * PG };
	struct afib_mr_desc d, d2;
	uint8_t *big = mmap(NULL, 64 * PG, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(big, MAP_FAILED);
	ASSERT_EQ(drop_ipc_lock(), 0);
	ASSERT_EQ(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	/* The fixture's 4 pages count too: 4 + 12 fit, one more does not. */
	EXPECT_EQ(mr_reg(self->cfd, big, 64 * PG, 0, &d), -1);
	EXPECT_EQ(errno, ENOMEM);
	ASSERT_EQ(mr_reg(self->cfd, big, 12 * PG, 0, &d), 0);
	EXPECT_EQ(mr_reg(self->cfd, big, 1, 0, &d2), -1);
	EXPECT_EQ(errno, ENOMEM);
	/* Deregistering gives the pages back. */
	ASSERT_EQ(mr_dereg(self->cfd, d.handle), 0);
	EXPECT_EQ(mr_reg(self->cfd, big, 12 * PG, 0, &d), 0);
	munmap(big, 64 * PG);
}

/* --- large registrations ------------------------------------------------ */

#define HPG		(2UL << 20)	/* x86-64 huge page */
/* rxe's max_fast_reg_page_list_len: pages one registration may have. */
#define RXE_FRPL	512

/* A number from a line "@key <number>" of the file @path, or -1. */
static long proc_num(const char *path, const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen)) {
			v = strtol(line + klen, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/*
 * @len bytes of 4 KiB pages that are not physically contiguous: no THP,
 * and faulted in last page first, so the allocator's ascending pages come
 * out in descending order.
 */
static uint8_t *small_pages(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_NOHUGEPAGE)) {
		munmap(p, len);
		return NULL;
	}
	for (i = len / PG; i-- > 0;)
		p[i * PG] = 1;
	return p;
}

/*
 * Register @srv at the server end and @cli at the client end, @len bytes
 * each, and check data moved both ways by RDMA across their middle page
 * boundary, between the two MRs and between an MR and the iovec.
 */
static void mr_big_rdma(struct __test_metadata *_metadata,
			FIXTURE_DATA(rdma) *self, uint8_t *srv, uint8_t *cli,
			size_t len)
{
	size_t n = len / 4, at = len / 2 - n / 2;
	struct afib_mr_desc rd, ld;
	struct afib_rdma_op op = {};
	uint8_t tail[100];

	ASSERT_EQ(mr_reg(self->sfd, srv, len, AFIB_ACCESS_ALL, &rd), 0)
		TH_LOG("AFIB_MR_REG of %zu bytes: %s", len, strerror(errno));
	EXPECT_EQ(rd.length, len);
	EXPECT_EQ(rd.remote_addr, (uintptr_t)srv);
	ASSERT_EQ(mr_reg(self->cfd, cli, len, AFIB_ACCESS_LOCAL_WRITE, &ld), 0)
		TH_LOG("AFIB_MR_REG of %zu bytes: %s", len, strerror(errno));
	op.rkey = rd.rkey;
	op.local_handle = ld.handle;
	op.length = n;

	/* Client MR to server MR, at different offsets in their pages. */
	memset(srv, 0, len);
	afib_fill(cli, len, 21);
	op.remote_addr = rd.remote_addr + at + 5;
	op.local_offset = at + 3;
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, NULL, 0, 0),
		  (ssize_t)n);
	EXPECT_EQ(memcmp(srv + at + 5, cli + at + 3, n), 0);
	EXPECT_EQ(srv[at + 4], 0);
	EXPECT_EQ(srv[at + 5 + n], 0);

	/* Server MR into client MR by RDMA read. */
	afib_fill(srv, len, 22);
	memset(cli, 0, len);
	op.remote_addr = rd.remote_addr + at - 9;
	op.local_offset = at + 11;
	ASSERT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_READ, &op, NULL, 0, 0),
		  (ssize_t)n);
	EXPECT_EQ(memcmp(cli + at + 11, srv + at - 9, n), 0);
	EXPECT_EQ(cli[at + 10], 0);
	EXPECT_EQ(cli[at + 11 + n], 0);

	/* The iovec to the last bytes, and the first bytes back. */
	afib_fill(tail, sizeof(tail), 23);
	ASSERT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_WRITE, &rd,
			   len - sizeof(tail), tail, sizeof(tail), 0),
		  sizeof(tail));
	EXPECT_EQ(afib_check(srv + len - sizeof(tail), sizeof(tail), 23), -1);
	ASSERT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_READ, &rd, 0, tail,
			   sizeof(tail), 0), sizeof(tail));
	EXPECT_EQ(memcmp(tail, srv, sizeof(tail)), 0);

	EXPECT_EQ(mr_dereg(self->cfd, ld.handle), 0);
	EXPECT_EQ(mr_dereg(self->sfd, rd.handle), 0);
}

/*
 * Scattered 4 KiB pages: as many as the device's page list takes (2 MiB
 * on rxe) register and work, one more is EMSGSIZE, and a refused
 * registration leaves nothing pinned.
 */
TEST_F_TIMEOUT(rdma, mr_small_pages_cap, 300)
{
	size_t len = RXE_FRPL * PG;
	uint8_t *srv = small_pages(len + PG), *cli = small_pages(len);
	struct afib_mr_desc d;
	long pinned;

	ASSERT_TRUE(srv && cli);
	mr_big_rdma(_metadata, self, srv, cli, len);
	/* Not page aligned, still 512 pages. */
	ASSERT_EQ(mr_reg(self->sfd, srv + 1, len - 1, AFIB_ACCESS_ALL, &d), 0);
	EXPECT_EQ(d.length, len - 1);
	EXPECT_EQ(mr_dereg(self->sfd, d.handle), 0);

	pinned = proc_num("/proc/self/status", "VmPin:");
	ASSERT_GE(pinned, 0);
	EXPECT_EQ(mr_reg(self->sfd, srv, len + PG, AFIB_ACCESS_ALL, &d), -1);
	EXPECT_EQ(errno, EMSGSIZE);
	EXPECT_EQ(mr_reg(self->sfd, srv + 1, len, 0, &d), -1);
	EXPECT_EQ(errno, EMSGSIZE);
	EXPECT_EQ(proc_num("/proc/self/status", "VmPin:"), pinned);
	munmap(srv, len + PG);
	munmap(cli, len);
}

/*
 * hugetlbfs pages (MAP_HUGETLB): 4 MiB each side, 1024 pages of 4 KiB
 * but two huge pages, so only a large page size registers it.
 */
TEST_F_TIMEOUT(rdma, mr_huge_pages, 300)
{
	const char *nr = "/proc/sys/vm/nr_hugepages";
	size_t len = 2 * HPG;
	uint8_t *srv, *cli;
	long old = proc_num(nr, "");
	char val[32];

	ASSERT_GE(old, 0);
	snprintf(val, sizeof(val), "%ld", old + 4);
	ASSERT_EQ(write_file(nr, val), 0) TH_LOG("%s: %s", nr,
						  strerror(errno));
	srv = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	cli = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(srv, MAP_FAILED) TH_LOG("MAP_HUGETLB: %s (free: %ld)",
					  strerror(errno),
					  proc_num("/proc/meminfo",
						   "HugePages_Free:"));
	ASSERT_NE(cli, MAP_FAILED) TH_LOG("MAP_HUGETLB: %s", strerror(errno));
	mr_big_rdma(_metadata, self, srv, cli, len);
	/* Unaligned inside them: still two pages. */
	mr_big_rdma(_metadata, self, srv + 100, cli + 3 * PG, len - 3 * PG);
	munmap(srv, len);
	munmap(cli, len);
	snprintf(val, sizeof(val), "%ld", old);
	EXPECT_EQ(write_file(nr, val), 0);
}

/* 2 MiB-aligned anonymous memory that madvise(MADV_HUGEPAGE) makes THP. */
static uint8_t *thp_alloc(size_t len, void **base)
{
	uint8_t *p;

	*base = mmap(NULL, len + HPG, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*base == MAP_FAILED)
		return NULL;
	p = (uint8_t *)(((uintptr_t)*base + HPG - 1) & ~(HPG - 1));
	if (madvise(p, len, MADV_HUGEPAGE))
		return NULL;
	memset(p, 1, len);
	return p;
}

/* Transparent huge pages: as mr_huge_pages. */
TEST_F_TIMEOUT(rdma, mr_thp, 300)
{
	const char *en = "/sys/kernel/mm/transparent_hugepage/enabled";
	size_t len = 2 * HPG;
	void *sbase, *cbase;
	uint8_t *srv, *cli;
	char mode[128] = "";
	long thp;
	FILE *f;

	f = fopen(en, "r");
	ASSERT_NE(f, NULL) TH_LOG("%s: %s", en, strerror(errno));
	ASSERT_NE(fgets(mode, sizeof(mode), f), NULL);
	fclose(f);
	if (strstr(mode, "[never]"))
		ASSERT_EQ(write_file(en, "madvise"), 0);
	srv = thp_alloc(len, &sbase);
	cli = thp_alloc(len, &cbase);
	ASSERT_TRUE(srv && cli);
	thp = proc_num("/proc/self/smaps_rollup", "AnonHugePages:");
	ASSERT_GE(thp, 2 * len >> 10) TH_LOG("THP: %ld kB (%s)", thp, mode);
	mr_big_rdma(_metadata, self, srv, cli, len);
	mr_big_rdma(_metadata, self, srv + 4 * PG + 1, cli + 7,
		    len - 8 * PG);
	munmap(sbase, len + HPG);
	munmap(cbase, len + HPG);
}

static int tp_socket(const struct rdma_tp *tp)
{
	return tp->stream ? sdp_socket(&tp->sdp, 0) : afib_socket(0);
}

static int tp_listener(const struct rdma_tp *tp, uint16_t *port)
{
	return tp->stream ? sdp_listener(&tp->sdp, 1, 0, port) :
			    afib_listener(AF_INET, 1, 0, port);
}

FIXTURE(rdma_unconn) {
	int fd;
};

FIXTURE_VARIANT(rdma_unconn) {
	struct rdma_tp tp;
};

RDMA_VARIANTS(rdma_unconn);

FIXTURE_SETUP(rdma_unconn)
{
	signal(SIGPIPE, SIG_IGN);
	self->fd = -1;
}

FIXTURE_TEARDOWN(rdma_unconn)
{
	afib_close(&self->fd);
}

TEST_F(rdma_unconn, unconnected)
{
	struct afib_rdma_op op = {};
	struct afib_mr_desc d;
	uint64_t v;
	uint16_t port;
	int lfd, on = 1;

	self->fd = tp_socket(&variant->tp);
	ASSERT_GE(self->fd, 0);
	EXPECT_EQ(mr_reg(self->fd, &v, 8, 0, &d), -1);
	EXPECT_EQ(errno, ENOTCONN);
	EXPECT_EQ(rdma_op(self->fd, AFIB_CMSG_RDMA_WRITE, &op, &v, 8, 0), -1);
	EXPECT_EQ(errno, ENOTCONN);
	EXPECT_EQ(mr_dereg(self->fd, 1), -1);
	EXPECT_EQ(errno, ENOENT);
	/* A setting, good before the connection. */
	EXPECT_EQ(setsockopt(self->fd, SOL_AFIB, AFIB_RDMA_ASYNC, &on,
			     sizeof(on)), 0);
	afib_close(&self->fd);
	lfd = tp_listener(&variant->tp, &port);
	ASSERT_GE(lfd, 0);
	EXPECT_EQ(mr_reg(lfd, &v, 8, 0, &d), -1);
	EXPECT_EQ(errno, ENOTCONN);
	close(lfd);
}

/* recvmsg() of at most @len bytes, and the immediate if one came (*@imm). */
static ssize_t recv_imm(int fd, void *buf, size_t len, int flags,
			bool *got, uint32_t *imm)
{
	char ctl[CMSG_SPACE(sizeof(uint32_t))];
	struct iovec iov = { buf, len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c;
	ssize_t r = recvmsg(fd, &msg, flags);

	*got = false;
	c = r < 0 ? NULL : CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_AFIB && c->cmsg_type == AFIB_CMSG_IMM &&
	    c->cmsg_len == CMSG_LEN(sizeof(*imm))) {
		memcpy(imm, CMSG_DATA(c), sizeof(*imm));
		*got = true;
	}
	return r;
}

/* A write with immediate @imm of @len bytes of @buf to @off of @desc. */
static ssize_t write_imm(int fd, const struct afib_mr_desc *desc,
			 uint64_t off, void *buf, size_t len, uint32_t imm)
{
	struct afib_rdma_op op = {
		.remote_addr = desc->remote_addr + off,
		.rkey = desc->rkey,
		.imm = imm,
	};

	return rdma_op(fd, AFIB_CMSG_RDMA_WRITE_IMM, &op, buf, len, 0);
}

/*
 * Immediates come where they were sent among the data: the data before
 * one is read first, alone; the immediate then comes with 0 bytes.
 */
TEST_F(rdma, imm_in_order)
{
	size_t big = 10000;
	uint8_t *data = malloc(2 * big);
	uint32_t imm = 0;
	bool got;
	char m[16];

	ASSERT_NE(data, NULL);
	afib_fill(self->buf, 64, 11);
	afib_fill(data, big, 12);
	ASSERT_EQ(send(self->cfd, "aaaa", 4, 0), 4);
	ASSERT_EQ(write_imm(self->cfd, &self->desc, 0, self->buf, 8, 1), 8);
	ASSERT_EQ(send(self->cfd, "bbbb", 4, 0), 4);
	ASSERT_EQ(write_imm(self->cfd, &self->desc, 8, NULL, 0, 2), 0);
	ASSERT_EQ(write_imm(self->cfd, &self->desc, 8, NULL, 0, 3), 0);
	ASSERT_EQ(send(self->cfd, data, big, 0), (ssize_t)big);
	ASSERT_EQ(write_imm(self->cfd, &self->desc, 8, self->buf + 8, 8, 4), 8);
	ASSERT_EQ(send(self->cfd, "z", 1, 0), 1);

	EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), 0, &got, &imm), 4);
	EXPECT_FALSE(got);
	EXPECT_EQ(memcmp(m, "aaaa", 4), 0);
	EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), 0, &got, &imm), 0);
	EXPECT_TRUE(got);
	EXPECT_EQ(imm, 1);
	/* The written data is there when its immediate is. */
	EXPECT_EQ(memcmp(self->mem, self->buf, 8), 0);
	EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), 0, &got, &imm), 4);
	EXPECT_FALSE(got);
	EXPECT_EQ(memcmp(m, "bbbb", 4), 0);
	EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), 0, &got, &imm), 0);
	EXPECT_TRUE(got && imm == 2);
	EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), 0, &got, &imm), 0);
	EXPECT_TRUE(got && imm == 3);
	/* Even MSG_WAITALL stops before an immediate. */
	memset(data, 0, big);
	EXPECT_EQ(recv_imm(self->sfd, data, 2 * big,
			   self->tp->stream ? MSG_WAITALL : 0, &got, &imm),
		  (ssize_t)big);
	EXPECT_FALSE(got);
	EXPECT_EQ(afib_check(data, big, 12), -1);
	if (self->tp->stream) {
		/* A peek sees it and leaves it. */
		EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), MSG_PEEK, &got,
				   &imm), 0);
		EXPECT_TRUE(got && imm == 4);
	}
	EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), 0, &got, &imm), 0);
	EXPECT_TRUE(got && imm == 4);
	EXPECT_EQ(memcmp(self->mem + 8, self->buf + 8, 8), 0);
	EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), 0, &got, &imm), 1);
	EXPECT_FALSE(got);
	EXPECT_EQ(m[0], 'z');
	/* An immediate alone makes the socket readable. */
	EXPECT_EQ(afib_poll1(self->sfd, POLLIN, 0), 0);
	ASSERT_EQ(write_imm(self->cfd, &self->desc, 0, NULL, 0, 5), 0);
	EXPECT_EQ(afib_poll1(self->sfd, POLLIN, AFIB_WAIT_MS) & POLLIN,
		  POLLIN);
	EXPECT_EQ(recv_imm(self->sfd, m, sizeof(m), MSG_DONTWAIT, &got, &imm),
		  0);
	EXPECT_TRUE(got && imm == 5);
	EXPECT_EQ(recv(self->sfd, m, sizeof(m), MSG_DONTWAIT), -1);
	EXPECT_EQ(errno, EAGAIN);
	free(data);
}

struct imm_writer {
	int fd;
	struct afib_mr_desc desc;
	uint8_t *buf;
	int n;
	volatile int done;
	int err;
};

#define IMM_LEN		100

static void *imm_writer_fn(void *arg)
{
	struct imm_writer *w = arg;
	int i;

	for (i = 0; i < w->n; i++) {
		/* From the iovec, at an offset in the page, across pages. */
		if (write_imm(w->fd, &w->desc, i * IMM_LEN,
			      w->buf + 1 + i * IMM_LEN, IMM_LEN, i + 1) !=
		    IMM_LEN) {
			w->err = errno;
			break;
		}
		w->done = i + 1;
	}
	return NULL;
}

/*
 * Writes with immediate from the iovec that wait for credits: the peer
 * does not read at first.  Waiting unmaps the pages, posting maps them
 * again (the bug was mapping DMA addresses taken for page offsets).
 */
TEST_F(rdma, imm_waits_for_room)
{
	struct imm_writer w = {
		.fd = self->cfd, .desc = self->desc, .buf = self->buf,
		.n = 150,
	};
	uint32_t imm = 0;
	pthread_t th;
	bool got;
	char m[8];
	int i;

	afib_fill(self->buf, 32 * PG, 13);
	ASSERT_EQ(pthread_create(&th, NULL, imm_writer_fn, &w), 0);
	afib_msleep(afib_tmo(1) * 300);
	/* It waits: the peer's receive buffers are all taken. */
	EXPECT_LT(w.done, w.n);
	EXPECT_EQ(w.err, 0);
	for (i = 0; i < w.n; i++) {
		ASSERT_EQ(recv_imm(self->sfd, m, sizeof(m), 0, &got, &imm), 0)
			TH_LOG("imm %d: %s", i, strerror(errno));
		ASSERT_TRUE(got);
		ASSERT_EQ(imm, i + 1);
		ASSERT_EQ(memcmp(self->mem + i * IMM_LEN,
				 self->buf + 1 + i * IMM_LEN, IMM_LEN), 0)
			TH_LOG("data of imm %d", i);
	}
	ASSERT_EQ(afib_join(th, AFIB_WAIT_MS), 0);
	EXPECT_EQ(w.err, 0);
	EXPECT_EQ(w.done, w.n);
}

/*
 * A socket that fell back to TCP does no RDMA: EOPNOTSUPP for the
 * options and the operations, and nothing is sent.
 */
TEST(sdp_fallback_eopnotsupp)
{
	static const struct sdp_tp tps[] = {
		{ .domain = AF_INET_SDP, .af = AF_INET },
		{ .domain = AF_INET6_SDP, .af = AF_INET6 },
	};
	struct afib_rdma_op op = { .rkey = 1 };
	struct sockaddr_storage ss;
	struct afib_mr_desc d;
	int lfd, fd, sfd, v = 1;
	socklen_t len, l;
	uint64_t x = 0;
	unsigned int i;
	uint16_t port;
	char m[4];

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 2; i++) {
		const struct sdp_tp *tp = &tps[i];

		/* TCP only: the SDP attempt is refused. */
		lfd = socket(tp->af, SOCK_STREAM, 0);
		ASSERT_GE(lfd, 0);
		len = sdp_addr(tp, 0, &ss);
		ASSERT_EQ(bind(lfd, (void *)&ss, len), 0);
		ASSERT_EQ(listen(lfd, 1), 0);
		port = afib_getport(lfd);
		fd = sdp_socket(tp, 0);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(sdp_setint(fd, SOL_AFIB, AFIB_SDP_FALLBACK,
				     AFIB_SDP_FALLBACK_CONNECT), 0);
		len = sdp_addr(tp, port, &ss);
		ASSERT_EQ(connect(fd, (void *)&ss, len), 0)
			TH_LOG("connect: %s", strerror(errno));
		sfd = accept(lfd, NULL, NULL);
		ASSERT_GE(sfd, 0);
		ASSERT_EQ(sdp_getint(fd, SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
		ASSERT_EQ(sdp_getint(fd, SOL_SOCKET, SO_DOMAIN), tp->af);

		EXPECT_EQ(mr_reg(fd, &x, 8, 0, &d), -1);
		EXPECT_EQ(errno, EOPNOTSUPP);
		EXPECT_EQ(mr_dereg(fd, 1), -1);
		EXPECT_EQ(errno, EOPNOTSUPP);
		EXPECT_EQ(setsockopt(fd, SOL_AFIB, AFIB_RDMA_ASYNC, &v,
				     sizeof(v)), -1);
		EXPECT_EQ(errno, EOPNOTSUPP);
		l = sizeof(v);
		EXPECT_EQ(getsockopt(fd, SOL_AFIB, AFIB_RDMA_ASYNC, &v, &l),
			  -1);
		EXPECT_EQ(errno, EOPNOTSUPP);
		EXPECT_EQ(rdma_op(fd, AFIB_CMSG_RDMA_WRITE, &op, "abcd", 4, 0),
			  -1);
		EXPECT_EQ(errno, EOPNOTSUPP);
		EXPECT_EQ(rdma_op(fd, AFIB_CMSG_RDMA_WRITE_IMM, &op, NULL, 0,
				  MSG_DONTWAIT), -1);
		EXPECT_EQ(errno, EOPNOTSUPP);
		/* The data of those was not sent; TCP's own still is. */
		EXPECT_EQ(send(fd, "xyz", 3, 0), 3);
		EXPECT_EQ(recv(sfd, m, 3, MSG_WAITALL), 3);
		EXPECT_EQ(memcmp(m, "xyz", 3), 0);
		close(sfd);
		close(fd);
		close(lfd);
	}
}

/* Close with operations in flight and memory registered: nothing leaks. */
TEST_F(rdma, close_inflight)
{
	struct afib_mr_desc big, local;
	size_t len = 1 << 20;
	uint8_t *a = malloc(len), *b = malloc(len);
	struct afib_rdma_op op = { .length = len };
	int i;

	ASSERT_TRUE(a && b);
	memset(a, 1, len);
	ASSERT_EQ(mr_reg(self->sfd, a, len, AFIB_ACCESS_ALL, &big), 0);
	ASSERT_EQ(mr_reg(self->cfd, b, len, AFIB_ACCESS_LOCAL_WRITE, &local),
		  0);
	op.remote_addr = big.remote_addr;
	op.rkey = big.rkey;
	op.local_handle = local.handle;
	for (i = 0; i < 8; i++)
		ASSERT_EQ(rdma_op_nb(self->cfd, i & 1 ? AFIB_CMSG_RDMA_READ :
				     AFIB_CMSG_RDMA_WRITE, &op, NULL, 0),
			  (ssize_t)len);
	for (i = 0; i < 4; i++)
		ASSERT_EQ(rdma_iov(self->cfd, AFIB_CMSG_RDMA_READ, &self->desc,
				   0, self->buf + i * 4 * PG, 4 * PG, 0), 4 * PG);
	/* The owner goes first, then the user of its memory. */
	afib_close(&self->sfd);
	afib_close(&self->cfd);
	free(a);
	free(b);
}

/* A process that exits with memory registered and operations posted. */
TEST_F(rdma, exit_registered)
{
	int status;
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (!pid) {
		struct afib_mr_desc d;
		int c, s;
		uint8_t *m = malloc(1 << 20);
		struct afib_rdma_op op = { .token = 1 };

		if (rdma_pair(self->tp, &c, &s, NULL) ||
		    mr_reg(s, m, 1 << 20, AFIB_ACCESS_ALL, &d))
			_exit(1);
		op.remote_addr = d.remote_addr;
		op.rkey = d.rkey;
		rdma_op(c, AFIB_CMSG_RDMA_READ, &op, m + 4 * PG, 16 * PG,
			MSG_DONTWAIT);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Device removal with an immediate and data unread: the connection goes,
 * nothing leaks (kmemleak on the debug kernel).  Re-adds the device.
 */
TEST_F(rdma, zy_device_removal_unread_imm)
{
	char cmd[256];

	ASSERT_EQ(write_imm(self->cfd, &self->desc, 0, self->buf, 64, 9), 64);
	ASSERT_EQ(send(self->cfd, "abc", 3, 0), 3);
	ASSERT_EQ(write_imm(self->cfd, &self->desc, 64, NULL, 0, 10), 0);
	EXPECT_EQ(afib_poll1(self->sfd, POLLIN, AFIB_WAIT_MS) & POLLIN,
		  POLLIN);
	snprintf(cmd, sizeof(cmd), "rdma link delete %s", afib_devname());
	ASSERT_EQ(system(cmd), 0);
	afib_close(&self->sfd);
	afib_close(&self->cfd);
	snprintf(cmd, sizeof(cmd), "rdma link add %s type rxe netdev %s",
		 afib_devname(), afib_env("RXE_NETDEV",
					  afib_env("AFIB_NETDEV", "dummy0")));
	ASSERT_EQ(system(cmd), 0);
}

/*
 * Device removal with memory registered and operations in flight: the
 * operations complete (cancelled), the regions go, the module stays
 * unloadable.  Last: it removes rxe0 and adds it back.
 */
TEST_F(rdma, zz_device_removal)
{
	struct afib_rdma_op op = {
		.remote_addr = self->desc.remote_addr,
		.rkey = self->desc.rkey,
	};
	struct sock_extended_err ee;
	char cmd[256];
	int i, n = 0;

	for (i = 0; i < 16; i++) {
		op.token = i;
		ASSERT_EQ(rdma_op_nb(self->cfd, AFIB_CMSG_RDMA_READ, &op,
				     self->buf + i * PG, 4 * PG), 4 * PG);
	}
	snprintf(cmd, sizeof(cmd), "rdma link delete %s", afib_devname());
	ASSERT_EQ(system(cmd), 0);
	/* Every posted operation reports, successful or cancelled. */
	while (!get_completion(self->cfd, &ee, 2000)) {
		EXPECT_TRUE(ee.ee_errno == 0 || ee.ee_errno == ECANCELED)
			TH_LOG("errno %d", ee.ee_errno);
		n++;
	}
	EXPECT_EQ(n, 16);
	EXPECT_EQ(rdma_op(self->cfd, AFIB_CMSG_RDMA_WRITE, &op, self->buf, 8,
			  MSG_NOSIGNAL), -1);
	EXPECT_TRUE(errno == ENODEV || errno == EPIPE ||
		    (self->tp->stream && errno == ECONNRESET))
		TH_LOG("errno %s", strerror(errno));
	/* The handle is still known; deregistering it is harmless. */
	EXPECT_EQ(mr_dereg(self->sfd, self->desc.handle), 0);
	snprintf(cmd, sizeof(cmd), "rdma link add %s type rxe netdev %s",
		 afib_devname(), afib_env("RXE_NETDEV",
					  afib_env("AFIB_NETDEV", "dummy0")));
	ASSERT_EQ(system(cmd), 0);
}

TEST_HARNESS_MAIN
