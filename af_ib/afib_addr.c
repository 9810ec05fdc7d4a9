// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib address translation.
 *
 * Users address AF_IB sockets with sockaddr_in, sockaddr_in6 or
 * sockaddr_ib.  rdma_cm takes IP addresses on every link layer, but its
 * native AF_IB path only on InfiniBand ports (rdma_cap_af_ib()).  On RoCE
 * (rxe included) a sockaddr_ib is therefore translated: its GID is the IP
 * address it encodes (IPv4-mapped GIDs become sockaddr_in) and the low 16
 * bits of its service ID, which must lie in rdma_cm's TCP port space, are
 * the port.  The reverse translation reports addresses in the family the
 * user chose.  Pure functions, exported for the KUnit module
 * (af_ib_kunit.ko), which tests them.
 */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/socket.h>
#include <net/ipv6.h>
#include "afib.h"

/**
 * afib_sid_to_port() - port of a service ID in rdma_cm's TCP port space.
 * @sid: service ID, network order; 0 means any port.
 * @mask: service ID mask, network order; 0 is taken as all ones.
 * @port: the port, host order.
 *
 * Return: 0, or -EINVAL when the ID is outside the TCP port space or the
 * mask does not cover the port space prefix.
 */
int afib_sid_to_port(__be64 sid, __be64 mask, u16 *port)
{
	u64 s = be64_to_cpu(sid);
	u64 m = mask ? be64_to_cpu(mask) : ~0ULL;

	if (!s) {
		*port = 0;
		return 0;
	}
	if ((m & AFIB_SID_PS_MASK) != AFIB_SID_PS_MASK ||
	    (s & AFIB_SID_PS_MASK) != AFIB_SID_PS_TCP)
		return -EINVAL;
	*port = s & ~AFIB_SID_PS_MASK;
	return 0;
}
EXPORT_SYMBOL_GPL(afib_sid_to_port);

/**
 * afib_addr_to_cm() - check a user address and convert it for rdma_cm.
 * @uaddr: the address as copied from userspace.
 * @len: its length.
 * @out: an AF_INET or AF_INET6 address for rdma_cm.
 * @family: the family the user chose, for reporting addresses back.
 *
 * Return: 0, -EINVAL for a short address or a bad service ID, or
 * -EAFNOSUPPORT for a family af_ib does not speak.
 */
int afib_addr_to_cm(const struct sockaddr *uaddr, int len,
		    struct sockaddr_storage *out, int *family)
{
	const struct sockaddr_ib *sib;
	struct sockaddr_in6 *sin6;
	struct sockaddr_in *sin;
	struct in6_addr gid;
	u16 port;

	if (len < (int)sizeof(uaddr->sa_family))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	switch (uaddr->sa_family) {
	case AF_INET:
		if (len < (int)sizeof(struct sockaddr_in))
			return -EINVAL;
		memcpy(out, uaddr, sizeof(struct sockaddr_in));
		break;
	case AF_INET6:
		if (len < SIN6_LEN_RFC2133)
			return -EINVAL;
		memcpy(out, uaddr, min_t(int, len, sizeof(struct sockaddr_in6)));
		break;
	case AF_IB:
		if (len < (int)sizeof(struct sockaddr_ib))
			return -EINVAL;
		sib = (const struct sockaddr_ib *)uaddr;
		if (afib_sid_to_port(sib->sib_sid, sib->sib_sid_mask, &port))
			return -EINVAL;
		memcpy(&gid, &sib->sib_addr, sizeof(gid));
		if (ipv6_addr_v4mapped(&gid)) {
			sin = (struct sockaddr_in *)out;
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			sin->sin_addr.s_addr = gid.s6_addr32[3];
		} else {
			sin6 = (struct sockaddr_in6 *)out;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			sin6->sin6_addr = gid;
			sin6->sin6_flowinfo = sib->sib_flowinfo;
			sin6->sin6_scope_id = (u32)sib->sib_scope_id;
		}
		break;
	default:
		return -EAFNOSUPPORT;
	}
	*family = uaddr->sa_family;
	return 0;
}
EXPORT_SYMBOL_GPL(afib_addr_to_cm);

/**
 * afib_addr_from_cm() - report an rdma_cm address in the user's family.
 * @cm: AF_INET, AF_INET6 or AF_IB address from rdma_cm.
 * @family: the family the user chose (AF_INET, AF_INET6 or AF_IB).
 * @out: the result.
 *
 * IPv4 addresses are shown IPv4-mapped to AF_INET6 and AF_IB users, as
 * TCP does for IPv6 sockets.
 *
 * Return: the length of @out, or -EAFNOSUPPORT.
 */
int afib_addr_from_cm(const struct sockaddr *cm, int family,
		      struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *cm6 = (const struct sockaddr_in6 *)cm;
	const struct sockaddr_in *cm4 = (const struct sockaddr_in *)cm;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
	struct sockaddr_in *sin = (struct sockaddr_in *)out;
	struct sockaddr_ib *sib = (struct sockaddr_ib *)out;
	struct in6_addr a6;
	__be16 port;

	memset(out, 0, sizeof(*out));
	if (cm->sa_family == AF_IB) {
		if (family != AF_IB)
			return -EAFNOSUPPORT;
		memcpy(out, cm, sizeof(struct sockaddr_ib));
		return sizeof(struct sockaddr_ib);
	}
	if (cm->sa_family == AF_INET) {
		ipv6_addr_set_v4mapped(cm4->sin_addr.s_addr, &a6);
		port = cm4->sin_port;
	} else if (cm->sa_family == AF_INET6) {
		a6 = cm6->sin6_addr;
		port = cm6->sin6_port;
	} else {
		return -EAFNOSUPPORT;
	}

	switch (family) {
	case AF_INET:
		if (cm->sa_family == AF_INET6 && !ipv6_addr_v4mapped(&a6) &&
		    !ipv6_addr_any(&a6))
			break;
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		sin->sin_addr.s_addr = a6.s6_addr32[3];
		return sizeof(*sin);
	case AF_IB:
		sib->sib_family = AF_IB;
		sib->sib_pkey = cpu_to_be16(0xffff);
		memcpy(&sib->sib_addr, &a6, sizeof(a6));
		sib->sib_sid = cpu_to_be64(AFIB_SID_PS_TCP | ntohs(port));
		sib->sib_sid_mask = cpu_to_be64(~0ULL);
		if (cm->sa_family == AF_INET6) {
			sib->sib_flowinfo = cm6->sin6_flowinfo;
			sib->sib_scope_id = cm6->sin6_scope_id;
		}
		return sizeof(*sib);
	case AF_INET6:
		break;
	default:
		return -EAFNOSUPPORT;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = port;
	sin6->sin6_addr = a6;
	if (cm->sa_family == AF_INET6) {
		sin6->sin6_flowinfo = cm6->sin6_flowinfo;
		sin6->sin6_scope_id = cm6->sin6_scope_id;
	}
	return sizeof(*sin6);
}
EXPORT_SYMBOL_GPL(afib_addr_from_cm);
