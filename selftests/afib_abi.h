/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The layout of af_ib's uAPI structures, checked at compile time.  The
 * selftests are built for 64-bit and 32-bit (afib_rdma_32) processes;
 * both builds must see the same sizes and offsets, which the kernel then
 * reads the same way for a native and a compat (IA32_EMULATION) caller
 * without any conversion.  Control messages are not listed: the kernel
 * converts 32-bit cmsg headers itself, only their data must agree.
 */
#ifndef AFIB_ABI_H
#define AFIB_ABI_H

#include <stddef.h>
#include <linux/errqueue.h>
#include <linux/af_ib.h>

#define AFIB_ABI(type, size)						\
	_Static_assert(sizeof(struct type) == (size),			\
		       "sizeof(struct " #type ") is " #size)
#define AFIB_ABI_AT(type, field, off)					\
	_Static_assert(offsetof(struct type, field) == (off),		\
		       "struct " #type "." #field " at " #off)

AFIB_ABI(sockaddr_ib, 48);
AFIB_ABI_AT(sockaddr_ib, sib_pkey, 2);
AFIB_ABI_AT(sockaddr_ib, sib_flowinfo, 4);
AFIB_ABI_AT(sockaddr_ib, sib_addr, 8);
AFIB_ABI_AT(sockaddr_ib, sib_sid, 24);
AFIB_ABI_AT(sockaddr_ib, sib_sid_mask, 32);
AFIB_ABI_AT(sockaddr_ib, sib_scope_id, 40);

AFIB_ABI(afib_mr_reg, 48);
AFIB_ABI_AT(afib_mr_reg, length, 8);
AFIB_ABI_AT(afib_mr_reg, access, 16);
AFIB_ABI_AT(afib_mr_reg, flags, 20);
AFIB_ABI_AT(afib_mr_reg, desc_addr, 24);
AFIB_ABI_AT(afib_mr_reg, reserved, 32);

AFIB_ABI(afib_mr_desc, 40);
AFIB_ABI_AT(afib_mr_desc, rkey, 4);
AFIB_ABI_AT(afib_mr_desc, remote_addr, 8);
AFIB_ABI_AT(afib_mr_desc, length, 16);
AFIB_ABI_AT(afib_mr_desc, reserved, 24);

AFIB_ABI(afib_mr_dereg, 8);
AFIB_ABI_AT(afib_mr_dereg, flags, 4);

/* The data of the sendmsg() operation cmsgs. */
AFIB_ABI(afib_rdma_op, 80);
AFIB_ABI_AT(afib_rdma_op, remote_addr, 8);
AFIB_ABI_AT(afib_rdma_op, rkey, 16);
AFIB_ABI_AT(afib_rdma_op, local_handle, 20);
AFIB_ABI_AT(afib_rdma_op, local_offset, 24);
AFIB_ABI_AT(afib_rdma_op, length, 32);
AFIB_ABI_AT(afib_rdma_op, imm, 40);
AFIB_ABI_AT(afib_rdma_op, flags, 44);
AFIB_ABI_AT(afib_rdma_op, compare_add, 48);
AFIB_ABI_AT(afib_rdma_op, swap, 56);
AFIB_ABI_AT(afib_rdma_op, reserved, 64);

/* The data of AFIB_CMSG_COMPLETION. */
AFIB_ABI(sock_extended_err, 16);
AFIB_ABI_AT(sock_extended_err, ee_info, 8);
AFIB_ABI_AT(sock_extended_err, ee_data, 12);

AFIB_ABI(afib_mcast_req, 20);
AFIB_ABI_AT(afib_mcast_req, reserved, 16);

AFIB_ABI(afib_info, 128);
AFIB_ABI_AT(afib_info, reserved, 28);
AFIB_ABI_AT(afib_info, local_gid, 32);
AFIB_ABI_AT(afib_info, remote_gid, 48);
AFIB_ABI_AT(afib_info, dev_name, 64);

#endif /* AFIB_ABI_H */
