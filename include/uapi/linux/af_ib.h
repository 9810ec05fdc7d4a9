/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * af_ib: InfiniBand/RDMA behind the socket API.
 *
 * socket(AF_IB, SOCK_SEQPACKET, 0) gives reliable, ordered messages over an
 * RC queue pair.  Addresses are struct sockaddr_in, struct sockaddr_in6 or
 * struct sockaddr_ib (GID + service ID + P_Key).
 *
 * socket(AF_INET_SDP, SOCK_STREAM, 0 or IPPROTO_TCP) and
 * socket(AF_INET6_SDP, SOCK_STREAM, 0 or IPPROTO_TCP) give SDP (Sockets
 * Direct Protocol) byte streams with TCP's semantics, OFED's binary ABI:
 * AF_INET_SDP is AF_IB's stream type and takes struct sockaddr_in (or
 * struct sockaddr_ib), AF_INET6_SDP takes struct sockaddr_in6 (IPv4-mapped
 * addresses included) or struct sockaddr_in.  Both report their addresses
 * as AF_INET or AF_INET6, as TCP sockets would.
 *
 * This header may be included together with rdma-core's <infiniband/ib.h>
 * (or the kernel's <rdma/ib.h>) in either order: both use the _RDMA_IB_H
 * guard for struct ib_addr and struct sockaddr_ib, whose layout is identical.
 */
#ifndef _UAPI_LINUX_AF_IB_H
#define _UAPI_LINUX_AF_IB_H

#include <linux/types.h>
#include <asm/byteorder.h>

#ifndef AF_IB
#define AF_IB		27	/* Native InfiniBand address */
#endif
#ifndef PF_IB
#define PF_IB		AF_IB
#endif

/* SDP address families, as OFED numbered them. */
#define AF_INET_SDP	27	/* the same number as AF_IB */
#define AF_INET6_SDP	28	/* AF_MPLS in mainline, which has no sockets */
#define PF_INET_SDP	AF_INET_SDP
#define PF_INET6_SDP	AF_INET6_SDP

/* The kernel takes these from <rdma/ib.h>. */
#if !defined(_RDMA_IB_H) && !defined(__KERNEL__)
#define _RDMA_IB_H

/**
 * struct ib_addr - 128-bit InfiniBand GID, network byte order.
 * @ib_u: the GID, seen as bytes, 16-bit, 32-bit or 64-bit words.
 */
struct ib_addr {
	union {
		__u8		uib_addr8[16];
		__be16		uib_addr16[8];
		__be32		uib_addr32[4];
		__be64		uib_addr64[2];
	} ib_u;
#define sib_addr8		ib_u.uib_addr8
#define sib_addr16		ib_u.uib_addr16
#define sib_addr32		ib_u.uib_addr32
#define sib_addr64		ib_u.uib_addr64
#define sib_raw			ib_u.uib_addr8
#define sib_subnet_prefix	ib_u.uib_addr64[0]
#define sib_interface_id	ib_u.uib_addr64[1]
};

static inline int ib_addr_any(const struct ib_addr *a)
{
	return (a->sib_addr64[0] | a->sib_addr64[1]) == 0;
}

static inline int ib_addr_loopback(const struct ib_addr *a)
{
	return (a->sib_addr32[0] | a->sib_addr32[1] | a->sib_addr32[2] |
		(a->sib_addr32[3] ^ __cpu_to_be32(1))) == 0;
}

static inline void ib_addr_set(struct ib_addr *addr, __be32 w1, __be32 w2,
			       __be32 w3, __be32 w4)
{
	addr->sib_addr32[0] = w1;
	addr->sib_addr32[1] = w2;
	addr->sib_addr32[2] = w3;
	addr->sib_addr32[3] = w4;
}

static inline int ib_addr_cmp(const struct ib_addr *a1,
			      const struct ib_addr *a2)
{
	return __builtin_memcmp(a1, a2, sizeof(struct ib_addr));
}

/**
 * struct sockaddr_ib - native InfiniBand socket address (48 bytes).
 * @sib_family: AF_IB.
 * @sib_pkey: partition key, network order; 0 means the default (0xffff).
 * @sib_flowinfo: flow label, network order.
 * @sib_addr: the GID.
 * @sib_sid: service ID, network order.  af_ib uses the rdma_cm TCP port
 *	space: 0x0000000001060000 + port (see AFIB_SID_PS_TCP).
 * @sib_sid_mask: service ID mask; 0 is taken as all ones.
 * @sib_scope_id: scope (interface index) for link-local GIDs.
 */
struct sockaddr_ib {
	unsigned short int	sib_family;
	__be16			sib_pkey;
	__be32			sib_flowinfo;
	struct ib_addr		sib_addr;
	__be64			sib_sid;
	__be64			sib_sid_mask;
	__u64			sib_scope_id;
};
#endif /* !_RDMA_IB_H && !__KERNEL__ */

/* Service-ID port space used for sockaddr_ib (rdma_cm's RDMA_PS_TCP). */
#define AFIB_SID_PS_TCP		0x0000000001060000ULL
#define AFIB_SID_PS_MASK	0xFFFFFFFFFFFF0000ULL

/*
 * Socket option level of af_ib.  Mainline allocates SOL_* values densely
 * below 300; this value ("AFIB" in ASCII) cannot collide with them.
 */
#define SOL_AFIB		0x41464942

/* getsockopt/setsockopt options at level SOL_AFIB. */
#define AFIB_INFO		1	/* struct afib_info, read only */
#define AFIB_MAX_MSG_SIZE	2	/* int: largest message, read only */
#define AFIB_DEVICE		3	/* char[IB_DEVICE_NAME_MAX], read only */
/*
 * int, SDP sockets: writes of at least this many bytes are sent from the
 * caller's pages without a copy (sendmsg() returns once the peer's
 * adapter has them); 0 never.  Default 65536.
 */
#define AFIB_SDP_ZCOPY_THRESH	4

/* Largest message a SOCK_SEQPACKET socket accepts (bytes). */
#define AFIB_MAX_MSG		65536

/* Length of the device name in struct afib_info, NUL included. */
#define AFIB_DEV_NAME_LEN	64

/**
 * struct afib_info - verbs identity of a socket (AFIB_INFO).
 * @size: set by the kernel to the number of bytes it filled in; a caller
 *	with a shorter buffer gets a truncated structure.
 * @port: port number on @dev_name, 0 when the socket has no device yet.
 * @qp_num: local QP number, 0 when none.
 * @dest_qp_num: remote QP number, 0 when not connected.
 * @path_mtu: path MTU in bytes (256..4096), 0 when not connected.
 * @max_msg_size: largest message (same as AFIB_MAX_MSG_SIZE).
 * @state: socket state (TCP_* numbering from <netinet/tcp.h>).
 * @reserved: must be 0, set by kernel.
 * @local_gid: source GID, network order.
 * @remote_gid: destination GID, network order.
 * @dev_name: RDMA device name, NUL terminated, empty when none.
 */
struct afib_info {
	__u32	size;
	__u32	port;
	__u32	qp_num;
	__u32	dest_qp_num;
	__u32	path_mtu;
	__u32	max_msg_size;
	__u32	state;
	__u32	reserved;
	__u8	local_gid[16];
	__u8	remote_gid[16];
	char	dev_name[AFIB_DEV_NAME_LEN];
};

#endif /* _UAPI_LINUX_AF_IB_H */
