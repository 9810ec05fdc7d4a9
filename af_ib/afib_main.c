// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib: InfiniBand/RDMA behind the socket API.
 *
 * Registers the AF_IB (27) socket family, which mainline reserves for
 * native InfiniBand addresses but never registers.  SOCK_SEQPACKET
 * sockets are reliable, ordered messages over an RC queue pair;
 * SOCK_DGRAM sockets are datagrams and multicast over a UD queue pair
 * (afib_ud.c); SOCK_STREAM sockets are SDP byte streams (AF_INET_SDP is 27 too, see
 * sdp/sdp_main.c, which also registers AF_INET6_SDP, 28).
 *
 * The module carries MODULE_ALIAS_NETPROTO(PF_IB) (and 28), so
 * socket(AF_IB, ...) loads it on demand after a DKMS install, as it does
 * for AF_SMC.  Only users with an RDMA device can get further than
 * socket().
 */
#include <linux/module.h>
#include <linux/net.h>
#include <net/sock.h>
#include "afib.h"
#include "sdp.h"
#include "afib_ud.h"

struct proto afib_proto = {
	.name		= "AF_IB",
	.owner		= THIS_MODULE,
	.obj_size	= sizeof(struct afib_sock),
};

static int afib_create(struct net *net, struct socket *sock, int protocol,
		       int kern)
{
	const struct afib_xport *xp;
	struct sock *sk;

	if (sock->type == SOCK_STREAM)
		return sdp_create(net, sock, protocol, kern, PF_INET_SDP);
	if (sock->type != SOCK_SEQPACKET && sock->type != SOCK_DGRAM)
		return -ESOCKTNOSUPPORT;
	if (protocol)
		return -EPROTONOSUPPORT;

	xp = sock->type == SOCK_DGRAM ? &afib_ud_xport : &afib_seq_xport;
	sk = afib_sk_alloc(net, PF_IB, xp, sock, kern);
	if (!sk)
		return -ENOMEM;
	sock->ops = xp->ops;
	sock->state = SS_UNCONNECTED;
	return 0;
}

static const struct net_proto_family afib_family_ops = {
	.family	= PF_IB,
	.create	= afib_create,
	.owner	= THIS_MODULE,
};

/* Polls CQs that no sleeping reader or writer polls: afib_poll_work(). */
struct workqueue_struct *afib_wq;

static int __init afib_init(void)
{
	int err;

	afib_wq = alloc_workqueue("af_ib", WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!afib_wq)
		return -ENOMEM;
	err = proto_register(&afib_proto, 1);
	if (err)
		goto destroy_wq;
	err = proto_register(&afib_ud_proto, 1);
	if (err)
		goto unregister_seq;
	err = afib_ib_init();
	if (err)
		goto unregister_proto;
	err = sdp_init();
	if (err)
		goto unregister_client;
	err = sock_register(&afib_family_ops);
	if (err) {
		pr_err("af_ib: family %d is taken (%d)\n", PF_IB, err);
		goto exit_sdp;
	}
	return 0;

exit_sdp:
	sdp_exit();
unregister_client:
	afib_ib_exit();
unregister_proto:
	proto_unregister(&afib_ud_proto);
unregister_seq:
	proto_unregister(&afib_proto);
destroy_wq:
	destroy_workqueue(afib_wq);
	return err;
}

static void __exit afib_exit(void)
{
	sock_unregister(PF_IB);
	sdp_exit();
	afib_ib_exit();
	proto_unregister(&afib_ud_proto);
	proto_unregister(&afib_proto);
	destroy_workqueue(afib_wq);
}

module_init(afib_init);
module_exit(afib_exit);

MODULE_AUTHOR("The af_ib developers");
MODULE_DESCRIPTION("AF_IB sockets: InfiniBand/RDMA behind the socket API");
MODULE_LICENSE("GPL");
MODULE_ALIAS_NETPROTO(PF_IB);
