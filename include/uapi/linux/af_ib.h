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
#include <linux/errqueue.h>
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
 * int, SDP sockets: while at least this many bytes of a blocking write are
 * left, its messages are sent from the caller's pages without a copy
 * (sendmsg() returns once the peer's adapter has them), the rest is
 * copied; 0 never.  Default 65536.
 */
#define AFIB_SDP_ZCOPY_THRESH	4

/*
 * int, SDP sockets: AFIB_SDP_FALLBACK_* bits, when to use kernel TCP
 * instead (see sdp(7), "Fallback to TCP").  The default is the sysctl
 * net.sdp.fallback.  CONNECT: connect() goes over TCP when the SDP
 * attempt fails (refused, no RDMA path or device, no answer within
 * net.sdp.fallback_timeout_ms).  ACCEPT: listen() listens on the same
 * TCP port too and accept() returns TCP connections as well.  A socket
 * that fell back is a TCP socket from then on: getsockopt(SO_DOMAIN)
 * says AF_INET or AF_INET6, SDP's own options are gone.
 */
#define AFIB_SDP_FALLBACK	16
#define AFIB_SDP_FALLBACK_CONNECT	0x1
#define AFIB_SDP_FALLBACK_ACCEPT	0x2
#define AFIB_SDP_FALLBACK_ALL	0x3

/*
 * RDMA on connected SOCK_SEQPACKET and SDP sockets (see
 * Documentation/af_ib.rst and Documentation/sdp.rst, "RDMA").
 * setsockopt() options at level SOL_AFIB:
 *
 * AFIB_MR_REG takes struct afib_mr_reg: pins and registers user memory on
 * the socket's device and writes a struct afib_mr_desc to reg.desc_addr.
 * AFIB_MR_DEREG takes struct afib_mr_dereg.  AFIB_RDMA_ASYNC takes an int:
 * non-zero sends every completion to the error queue (see below) instead
 * of having sendmsg() wait for it; getsockopt() reads it back.
 */
#define AFIB_MR_REG		5
#define AFIB_MR_DEREG		6
#define AFIB_RDMA_ASYNC		7

/* Access rights of a memory region (struct afib_mr_reg.access). */
#define AFIB_ACCESS_LOCAL_WRITE		0x1	/* RDMA read, atomic results */
#define AFIB_ACCESS_REMOTE_WRITE	0x2
#define AFIB_ACCESS_REMOTE_READ		0x4
#define AFIB_ACCESS_REMOTE_ATOMIC	0x8
#define AFIB_ACCESS_ALL			0xf

/**
 * struct afib_mr_reg - register memory (AFIB_MR_REG).
 * @addr: start of the memory, any alignment.
 * @length: bytes, 1 to AFIB_MR_MAX_LEN, in at most as many pages as the
 *	device's fast-registration page list holds (512 on rxe; in 2 MiB
 *	pages for huge pages, else 4 KiB), else EMSGSIZE.
 * @access: AFIB_ACCESS_* bits; remote write or atomic access needs local
 *	write as well, as in verbs.
 * @flags: must be 0.
 * @desc_addr: user pointer to a struct afib_mr_desc the kernel fills in.
 * @reserved: must be 0.
 *
 * The pages are pinned (charged to RLIMIT_MEMLOCK unless CAP_IPC_LOCK)
 * until AFIB_MR_DEREG, close() of the last descriptor or device removal.
 */
struct afib_mr_reg {
	__aligned_u64	addr;
	__aligned_u64	length;
	__u32		access;
	__u32		flags;
	__aligned_u64	desc_addr;
	__u64		reserved[2];
};

/**
 * struct afib_mr_desc - a registered memory region (AFIB_MR_REG result).
 * @handle: names the region in AFIB_MR_DEREG and as the local side of an
 *	RDMA operation; never 0, not reused soon.
 * @rkey: key the peer puts in struct afib_rdma_op.rkey.
 * @remote_addr: address the peer uses for the first byte (the
 *	registering process's address of it, as in verbs).
 * @length: bytes registered.
 * @reserved: set to 0 by the kernel.
 */
struct afib_mr_desc {
	__u32		handle;
	__u32		rkey;
	__aligned_u64	remote_addr;
	__aligned_u64	length;
	__u64		reserved[2];
};

/**
 * struct afib_mr_dereg - deregister a memory region (AFIB_MR_DEREG).
 * @handle: afib_mr_desc.handle.
 * @flags: must be 0.
 */
struct afib_mr_dereg {
	__u32		handle;
	__u32		flags;
};

/* Largest memory region and largest RDMA transfer (bytes). */
#define AFIB_MR_MAX_LEN		(1ULL << 30)
/*
 * The local side of an operation given as the iovec may span at most this
 * many pages (64 KiB when page aligned); register larger buffers.
 */
#define AFIB_RDMA_IOV_PAGES	16
/* RDMA operations a socket may have posted or waiting on the error queue. */
#define AFIB_RDMA_MAX_OPS	64

/*
 * Control message types at level SOL_AFIB.  sendmsg() takes one of the
 * operations below with a struct afib_rdma_op; recvmsg() gives
 * AFIB_CMSG_IMM (a __u32) with the empty message an RDMA write with
 * immediate produced (SDP: with 0 bytes, at its place in the stream),
 * and recvmsg(MSG_ERRQUEUE) gives AFIB_CMSG_COMPLETION
 * (a struct sock_extended_err) per completion.
 */
#define AFIB_CMSG_RDMA_WRITE		1
#define AFIB_CMSG_RDMA_WRITE_IMM	2
#define AFIB_CMSG_RDMA_READ		3
#define AFIB_CMSG_FETCH_ADD		4
#define AFIB_CMSG_CMP_SWAP		5
#define AFIB_CMSG_IMM			6
#define AFIB_CMSG_COMPLETION		7

/**
 * struct afib_rdma_op - one RDMA operation, the data of a sendmsg() cmsg.
 * @token: the caller's, returned in the completion.
 * @remote_addr: peer's address (afib_mr_desc.remote_addr + offset);
 *	8-byte aligned for atomics.
 * @rkey: peer's afib_mr_desc.rkey.
 * @local_handle: 0: the local side is msg_iov (pinned for the duration,
 *	at most AFIB_RDMA_IOV_PAGES pages); else a handle of this socket's
 *	memory region.
 * @local_offset: with @local_handle, where in that region the local side
 *	starts; must be 0 without.
 * @length: with @local_handle, bytes to transfer; must be 0 without (the
 *	iovec's length counts).  Atomics transfer 8 bytes: the remote value
 *	before the operation lands in the local side, in the host byte order.
 * @imm: AFIB_CMSG_RDMA_WRITE_IMM: the value the peer's recvmsg() gets
 *	(host byte order at both ends); else must be 0.
 * @flags: must be 0.
 * @compare_add: FETCH_ADD: the addend; CMP_SWAP: the value compared.
 * @swap: CMP_SWAP: the value stored if the comparison held.
 * @reserved: must be 0.
 */
struct afib_rdma_op {
	__aligned_u64	token;
	__aligned_u64	remote_addr;
	__u32		rkey;
	__u32		local_handle;
	__aligned_u64	local_offset;
	__aligned_u64	length;
	__u32		imm;
	__u32		flags;
	__aligned_u64	compare_add;
	__aligned_u64	swap;
	__u64		reserved[2];
};

/*
 * A completion on the error queue is a struct sock_extended_err
 * (<linux/errqueue.h>) with ee_origin AFIB_EE_ORIGIN_RDMA, ee_type the
 * operation's AFIB_CMSG_* type, ee_errno 0 or the error (EACCES: the peer
 * refused the access, bad rkey or range; EREMOTEIO: the peer failed it;
 * ETIMEDOUT: the peer is unreachable; ECANCELED: flushed because the
 * connection ended first; EFAULT, EIO), ee_info and ee_data the low and
 * high 32 bits of the token.
 */
#define AFIB_EE_ORIGIN_RDMA	0x41

/* The token of the operation a completion @ee reports. */
static inline __u64 afib_ee_token(const struct sock_extended_err *ee)
{
	return (__u64)ee->ee_data << 32 | ee->ee_info;
}

/*
 * SOCK_DGRAM sockets (UD queue pairs, see Documentation/af_ib.rst,
 * "Datagrams and multicast").  Options at level SOL_AFIB:
 *
 * AFIB_MAX_MSG_SIZE	int, read only: the largest datagram payload, the
 *			path MTU less AFIB_UD_HDR_LEN; ENOTCONN before the
 *			socket has a device (bind to a local address, send or
 *			join first).
 * AFIB_UD_DROPS	__u32, read only: datagrams dropped because the
 *			receive queue (SO_RCVBUF) was full, as SO_RXQ_OVFL
 *			counts them, and datagrams that non-blocking sends
 *			held for a destination being resolved and lost (more
 *			than 16 held, the resolution failed).
 * AFIB_UD_BAD		__u32, read only: datagrams dropped because they
 *			were malformed (shorter than the header, unknown
 *			version).
 * AFIB_MCAST_JOIN	struct afib_mcast_req, write only: join the group
 *			with multicast GID @mgid, as IP_ADD_MEMBERSHIP does
 *			for an IP group.
 * AFIB_MCAST_LEAVE	struct afib_mcast_req, write only: leave it.
 * AFIB_UD_RESOLVES	__u32, read only: destination resolutions started
 *			(sendto() or connect() to an address not cached, or
 *			whose entry went stale: its 10 s lifetime ended, or a
 *			route or address of its family changed, or rdma_cm
 *			reported an address change).
 */
#define AFIB_UD_DROPS		8
#define AFIB_UD_BAD		9
#define AFIB_MCAST_JOIN		10
#define AFIB_MCAST_LEAVE	11
#define AFIB_UD_RESOLVES	12

/* Service-ID port space of SOCK_DGRAM sockaddr_ib (rdma_cm's RDMA_PS_UDP). */
#define AFIB_SID_PS_UDP		0x0000000001110000ULL

/* Bytes of af_ib's own header in every datagram (the sender's port). */
#define AFIB_UD_HDR_LEN		4

/**
 * struct afib_mcast_req - a multicast GID to join or leave.
 * @mgid: the group's GID, network order.  An IPv4-mapped GID
 *	(::ffff:a.b.c.d) is the IPv4 group a.b.c.d, as rdma_cm maps IPv4
 *	groups on RoCE; on RoCE any other GID is taken as an IPv6 group.
 * @reserved: must be 0.
 */
struct afib_mcast_req {
	__u8	mgid[16];
	__u32	reserved;
};

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
