// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/sdp: the SDP sockets of a network namespace, one line each,
 * in the columns of /proc/net/tcp (tcp6's address format for IPv6):
 *
 *   sl local_address rem_address st tx_queue:rx_queue tr:tm->when
 *   retrnsmt uid timeout inode refcnt pointer
 *
 * then SDP's own: send credits, receive buffers posted, the peer's view
 * of them, our receive buffer size and the peer's, and send buffers
 * queued but not posted, and "tcp": 1 if the socket fell back to TCP
 * (then the addresses, state and queues are the TCP socket's), 2 for a
 * listener that accepts TCP connections too, else 0.  tx_queue is
 * SIOCOUTQ, rx_queue SIOCINQ; the timer columns are 0, as SDP has none
 * of TCP's.  The socket pointer is printed with %pK, as TCP prints it.
 * Sockets are listed from when they are made until they are freed; the
 * listing takes a reference on each while it prints it.
 *
 * /proc/net/sdp_stat counts the fallbacks to TCP of the namespace:
 * connect() calls that went over TCP, TCP connections accepted.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/tcp.h>
#include "sdp.h"

static LIST_HEAD(sdp_socks);
static DEFINE_SPINLOCK(sdp_socks_lock);	/* sdp_socks */
static unsigned int sdp_net_id;

struct sdp_net {
	atomic_long_t	fallback_connect;
	atomic_long_t	fallback_accept;
};

void sdp_stat_fallback(struct net *net, bool accepted)
{
	struct sdp_net *sn = net_generic(net, sdp_net_id);

	atomic_long_inc(accepted ? &sn->fallback_accept :
			&sn->fallback_connect);
}

void sdp_sock_link(struct afib_sock *as)
{
	spin_lock_bh(&sdp_socks_lock);
	list_add_tail(&as->sdp.list, &sdp_socks);
	spin_unlock_bh(&sdp_socks_lock);
}

void sdp_sock_unlink(struct afib_sock *as)
{
	spin_lock_bh(&sdp_socks_lock);
	list_del(&as->sdp.list);
	spin_unlock_bh(&sdp_socks_lock);
}

/* One address in /proc/net/tcp's or tcp6's format. */
static void sdp_proc_addr(struct seq_file *seq, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const __be32 *a;

	if (sa->sa_family == AF_INET6) {
		a = sin6->sin6_addr.s6_addr32;
		seq_printf(seq, "%08X%08X%08X%08X:%04X", a[0], a[1], a[2], a[3],
			   ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		seq_printf(seq, "%08X:%04X", sin->sin_addr.s_addr,
			   ntohs(sin->sin_port));
	} else {
		seq_puts(seq, "00000000:0000");
	}
}

/* A socket that fell back: its TCP socket's addresses, state, queues. */
static void sdp_proc_tcp(struct seq_file *seq, struct afib_sock *as,
			 struct socket *tcp)
{
	struct sockaddr_storage src = {}, dst = {};
	struct sock *tsk = tcp->sk;
	int state = inet_sk_state_load(tsk);
	u32 txq = 0, rxq = 0;

	kernel_getsockname(tcp, (struct sockaddr *)&src);
	if (kernel_getpeername(tcp, (struct sockaddr *)&dst) < 0)
		memset(&dst, 0, sizeof(dst));
	if (state != TCP_LISTEN) {
		const struct tcp_sock *tp = tcp_sk(tsk);

		txq = READ_ONCE(tp->write_seq) - READ_ONCE(tp->snd_una);
		rxq = max_t(int, READ_ONCE(tp->rcv_nxt) -
			    READ_ONCE(tp->copied_seq), 0);
	}
	sdp_proc_addr(seq, (struct sockaddr *)&src);
	seq_putc(seq, ' ');
	sdp_proc_addr(seq, (struct sockaddr *)&dst);
	seq_printf(seq, " %02X %08X:%08X 00:00000000 00000000 %5u %8d %lu %d %pK 0 0 0 0 0 0 1\n",
		   state, txq, rxq,
		   from_kuid_munged(seq_user_ns(seq), sock_i_uid(&as->sk)), 0,
		   sock_i_ino(&as->sk), refcount_read(&as->sk.sk_refcnt),
		   &as->sk);
}

static void sdp_proc_sock(struct seq_file *seq, struct afib_sock *as, int sl)
{
	struct sockaddr_storage none = {};
	const struct sockaddr *src, *dst;
	u32 txq, rxq, credits, posted, adv, seg, peer, queued;
	struct sock *sk = &as->sk;
	struct socket *tcp;

	/* cm_lock keeps sdp_fb_release() from freeing it meanwhile. */
	mutex_lock(&as->cm_lock);
	tcp = as->sdp.tcp;
	if (tcp) {
		seq_printf(seq, "%4d: ", sl);
		sdp_proc_tcp(seq, as, tcp);
		mutex_unlock(&as->cm_lock);
		return;
	}
	mutex_unlock(&as->cm_lock);

	spin_lock_bh(&as->lock);
	txq = as->sdp.tx_bytes - as->sdp.tx_acked + as->sdp.tx_unposted;
	rxq = __sdp_siocinq(as);
	credits = as->tx_credits;
	posted = as->sdp.rx_posted;
	adv = as->sdp.adv_bufs;
	seg = as->seg_size;
	peer = as->sdp.peer_rcvsz;
	queued = as->tx_head - as->tx_posted;
	spin_unlock_bh(&as->lock);

	seq_printf(seq, "%4d: ", sl);
	mutex_lock(&as->cm_lock);
	src = (struct sockaddr *)&none;
	dst = src;
	if (as->cm_id) {
		src = (struct sockaddr *)&as->cm_id->route.addr.src_addr;
		dst = (struct sockaddr *)&as->cm_id->route.addr.dst_addr;
	}
	sdp_proc_addr(seq, src);
	seq_putc(seq, ' ');
	sdp_proc_addr(seq, dst);
	mutex_unlock(&as->cm_lock);
	seq_printf(seq, " %02X %08X:%08X 00:00000000 00000000 %5u %8d %lu %d %pK %u %u %u %u %u %u %d\n",
		   sdp_tcp_state(as), txq, rxq,
		   from_kuid_munged(seq_user_ns(seq), sock_i_uid(sk)), 0,
		   sock_i_ino(sk), refcount_read(&sk->sk_refcnt), sk,
		   credits, posted, adv, seg, peer, queued,
		   sdp_fb_lis(as) ? 2 : 0);
}

static int sdp_proc_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct afib_sock **socks, *as;
	unsigned int n = 0, max = 0, i;

	seq_puts(seq, "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer credits posted adv seg peerseg queued tcp\n");
	spin_lock_bh(&sdp_socks_lock);
	list_for_each_entry(as, &sdp_socks, sdp.list)
		max++;
	spin_unlock_bh(&sdp_socks_lock);
	socks = kvcalloc(max, sizeof(*socks), GFP_KERNEL);
	if (!socks && max)
		return -ENOMEM;
	spin_lock_bh(&sdp_socks_lock);
	list_for_each_entry(as, &sdp_socks, sdp.list) {
		if (n == max)
			break;
		/* A socket being freed has no references left: skip it. */
		if (!net_eq(sock_net(&as->sk), net) ||
		    !refcount_inc_not_zero(&as->sk.sk_refcnt))
			continue;
		socks[n++] = as;
	}
	spin_unlock_bh(&sdp_socks_lock);
	for (i = 0; i < n; i++) {
		sdp_proc_sock(seq, socks[i], i);
		sock_put(&socks[i]->sk);	/* taken above */
	}
	kvfree(socks);
	return 0;
}

static int sdp_stat_show(struct seq_file *seq, void *v)
{
	struct sdp_net *sn = net_generic(seq_file_single_net(seq), sdp_net_id);

	seq_printf(seq, "FallbackConnect %ld\nFallbackAccept %ld\n",
		   atomic_long_read(&sn->fallback_connect),
		   atomic_long_read(&sn->fallback_accept));
	return 0;
}

static int __net_init sdp_proc_net_init(struct net *net)
{
	if (!proc_create_net_single("sdp", 0444, net->proc_net, sdp_proc_show,
				    NULL))
		return -ENOMEM;
	if (!proc_create_net_single("sdp_stat", 0444, net->proc_net,
				    sdp_stat_show, NULL)) {
		remove_proc_entry("sdp", net->proc_net);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit sdp_proc_net_exit(struct net *net)
{
	remove_proc_entry("sdp_stat", net->proc_net);
	remove_proc_entry("sdp", net->proc_net);
}

static struct pernet_operations sdp_proc_ops = {
	.init	= sdp_proc_net_init,
	.exit	= sdp_proc_net_exit,
	.id	= &sdp_net_id,
	.size	= sizeof(struct sdp_net),
};

int sdp_proc_init(void)
{
	return register_pernet_subsys(&sdp_proc_ops);
}

void sdp_proc_exit(void)
{
	unregister_pernet_subsys(&sdp_proc_ops);
}
