// SPDX-License-Identifier: GPL-2.0
/*
 * SDP on the wire: the peer of the kernel's SDP sockets played from
 * userspace with librdmacm and libibverbs, on the same device (rxe0), so
 * that every byte the kernel receives is chosen by the test and every
 * byte it sends is checked against the protocol (Documentation/sdp.rst,
 * "Wire protocol").  The formats are written out here, big-endian on the
 * wire, not taken from the module's headers.
 *
 * The raw peer ("wire") has its own QP in rdma_cm's TCP port space, as
 * the module uses: as a client it connects to a kernel SDP listener with
 * a Hello (28 bytes) as private data and gets the HelloAck (24 bytes) in
 * the reply; as a server it listens and answers the kernel's Hello.  It
 * posts receive buffers of 32 KiB but announces what the case says
 * (4 KiB by default): a kernel message longer than announced is caught
 * by the check below rather than by the adapter.  Everything runs in one
 * thread (the kernel sockets with MSG_DONTWAIT), except blocking writes
 * that must take the zero-copy path, which get a thread of their own.
 *
 * Every message the kernel sends is checked (w_rx()): at least a BSDH,
 * len equal to the bytes received and within the buffer size we
 * announced, a mid the kernel may send (Data, DisConn, AbortConn,
 * ChRcvBuf, ChRcvBufAck), control messages exactly as long as their
 * headers, only OOB_PRES/OOB_PEND and OOB_PRES only on Data with
 * payload, mseq in order from 1, mseq_ack never beyond what we sent nor
 * going back, and credits: its mseq never beyond the last mseq_ack plus
 * bufs we sent (the Hello's bufs at first), the last of those only for a
 * credit update (zero-length Data, CA4-82); nothing after AbortConn, no
 * data and no second DisConn after DisConn, ChRcvBuf sizes in range.  Any
 * violation fails the case.
 *
 *   good.*      A well-behaved peer, IPv4 and IPv6.  client: the raw
 *               peer connects, checks the HelloAck, streams to the kernel
 *               in messages of many sizes, within its credits, and the
 *               kernel reads exactly the stream; the kernel writes back
 *               (a blocking 256 KiB write, zero-copy, and small writes);
 *               ChRcvBuf is declined; orderly close both ways.  server:
 *               the kernel connects to the raw listener, its Hello is
 *               checked byte by byte, ChRcvBuf is accepted (the kernel
 *               then sends 32 KiB messages).  credits: three buffers and
 *               none reposted for a while: the kernel sends what they
 *               allow and stops, then goes on.  oob: urgent data both
 *               ways.  chrcvbuf: the raw peer asks the kernel for 8 KiB
 *               buffers and uses them after the ChRcvBufAck.  tolerated:
 *               what the protocol allows must not reset (SendSM, credit
 *               updates, bytes past len, OOB_PEND).  half_close: after
 *               our DisConn credit updates still flow and the kernel
 *               still sends.  nodelay_stalled: with TCP_NODELAY,
 *               small writes while the kernel's sends cannot complete
 *               (our receive buffers are posted late: RNR) are all
 *               queued, as TCP queues them, none gets EAGAIN.
 *   bad.*.reset A malformed message after some good data: the kernel
 *               must send AbortConn (or disconnect), recv() fails with
 *               ECONNRESET (then 0, and send() EPIPE), nothing of the
 *               message is delivered; after a DisConn, recv() gives the
 *               EOF and SO_ERROR is ECONNRESET.  The length, mid, flags,
 *               mseq and mseq_ack cases, short messages, control
 *               messages with payload, data or DisConn after DisConn,
 *               ChRcvBuf/ChRcvBufAck sizes, the zero-copy mids (SrcAvail,
 *               SinkAvail, RdmaRdCompl, SrcAvailCancel: not agreed to,
 *               reset as OFED resets SinkAvail) and a message longer
 *               than the kernel's buffers (the adapter fails it).
 *   hello.*     Broken Hellos must be rejected (REJECTED, nothing to
 *               accept), and the listener still works afterwards.
 *   hello_ok.*  Hellos that differ only where the protocol allows.
 *   helloack.*  Broken HelloAcks from the raw listener: the kernel's
 *               connect() fails and it disconnects.
 *   overrun.*   A peer ignoring credits: the extra SENDs are RNR-NAKed
 *               by the adapter and wait; the kernel reads the first
 *               messages intact (and the rest once it reposts), or, when
 *               the peer goes away, then ECONNRESET.
 *
 * Timeouts scale with AFIB_TIMEOUT_SCALE.  Needs root (or RLIMIT_MEMLOCK
 * for 1.5 MiB of registered memory), /dev/infiniband/rdma_cm and uverbs
 * (rdma_ucm, ib_uverbs).  Build: -libverbs -lrdmacm.
 */
#include <stdarg.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "sdp_lib.h"

/* ---- the wire format ------------------------------------------------- */

enum {
	MID_HELLO		= 0x00,
	MID_HELLO_ACK		= 0x01,
	MID_DISCONN		= 0x02,
	MID_ABORT		= 0x03,
	MID_SENDSM		= 0x04,
	MID_RDMA_RD_COMPL	= 0x06,
	MID_SRCAVAIL_CANCEL	= 0x08,
	MID_CHRCVBUF		= 0x0B,
	MID_CHRCVBUF_ACK	= 0x0C,
	MID_SINKAVAIL		= 0xFD,
	MID_SRCAVAIL		= 0xFE,
	MID_DATA		= 0xFF,
};

#define OOB_PRES	0x01
#define OOB_PEND	0x02
#define SDP_VERSION	0x22
#define BSDH_LEN	16U
#define HH_LEN		28
#define HAH_LEN		24
#define HH_ROOM		56	/* 92 bytes of REQ less rdma_cm's 36 */
#define RCVSZ_MIN	64U
#define RCVSZ_MAX	(1U << 20)
#define MIN_BUFS	3U
#define CAP_WRITE_IMM	0x01	/* ipv_cap's low nibble: RDMA write imm */

/* Base Sockets Direct Header, big-endian. */
struct bsdh {
	uint8_t		mid;
	uint8_t		flags;
	uint16_t	bufs;
	uint32_t	len;
	uint32_t	mseq;
	uint32_t	mseq_ack;
};

struct hello_hdr {
	struct bsdh	bsdh;
	uint8_t		majv_minv;
	uint8_t		ipv_cap;	/* IP version, capabilities */
	uint8_t		rsvd1;
	uint8_t		max_adverts;
};

struct hh {			/* Hello */
	struct hello_hdr h;
	uint32_t	desremrcvsz;
	uint32_t	localrcvsz;
};

struct hah {			/* HelloAck */
	struct hello_hdr h;
	uint32_t	actrcvsz;
};

_Static_assert(sizeof(struct bsdh) == 16, "BSDH is 16 bytes");
_Static_assert(sizeof(struct hh) == HH_LEN, "Hello is 28 bytes");
_Static_assert(sizeof(struct hah) == HAH_LEN, "HelloAck is 24 bytes");

/* A BSDH in host order. */
struct msg {
	uint8_t		mid;
	uint8_t		flags;
	uint16_t	bufs;
	uint32_t	len;
	uint32_t	mseq;
	uint32_t	mseq_ack;
};

static void bsdh_put(void *p, const struct msg *m)
{
	struct bsdh b = {
		.mid = m->mid, .flags = m->flags, .bufs = htons(m->bufs),
		.len = htonl(m->len), .mseq = htonl(m->mseq),
		.mseq_ack = htonl(m->mseq_ack),
	};

	memcpy(p, &b, sizeof(b));
}

static void bsdh_get(const void *p, struct msg *m)
{
	struct bsdh b;

	memcpy(&b, p, sizeof(b));
	m->mid = b.mid;
	m->flags = b.flags;
	m->bufs = ntohs(b.bufs);
	m->len = ntohl(b.len);
	m->mseq = ntohl(b.mseq);
	m->mseq_ack = ntohl(b.mseq_ack);
}

static uint32_t be32_at(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static void be32_put(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static const char *mid_name(uint8_t mid)
{
	switch (mid) {
	case MID_HELLO: return "Hello";
	case MID_HELLO_ACK: return "HelloAck";
	case MID_DISCONN: return "DisConn";
	case MID_ABORT: return "AbortConn";
	case MID_SENDSM: return "SendSM";
	case MID_RDMA_RD_COMPL: return "RdmaRdCompl";
	case MID_SRCAVAIL_CANCEL: return "SrcAvailCancel";
	case MID_CHRCVBUF: return "ChRcvBuf";
	case MID_CHRCVBUF_ACK: return "ChRcvBufAck";
	case MID_SINKAVAIL: return "SinkAvail";
	case MID_SRCAVAIL: return "SrcAvail";
	case MID_DATA: return "Data";
	}
	return "unknown";
}

/* a after b in sequence space */
static bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* ---- the raw peer ----------------------------------------------------- */

#define W_NRECV_MAX	16
#define W_RBUF		(32 * 1024)	/* what each receive buffer holds */
#define W_NSLOT		16
#define W_SBUF		(64 * 1024)
#define WR_SEND		0x10000ULL
#define W_DEF_RSIZE	4096U

#define T_MS		AFIB_WAIT_MS		/* "soon" */
#define STALL_MS	(afib_tmo(1) * 1000)	/* "nothing more happens" */

#define wlog(fmt, ...)	fprintf(stderr, "# wire: " fmt "\n", ##__VA_ARGS__)

struct wire {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;		/* the connection */
	struct rdma_cm_id *lid;		/* our listener */
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_mr *mr;
	uint8_t *mem;
	size_t memlen;

	/* receiving */
	unsigned int nrecv;		/* buffers we post */
	uint32_t rsize;			/* the size we announce (and allow) */
	bool rposted[W_NRECV_MAX];
	unsigned int posted;
	bool hold;			/* do not repost, send nothing */
	bool late_post;			/* the test posts the first buffers */
	bool auto_credit;		/* send credit updates when due */
	bool accept_resize;		/* agree to ChRcvBuf */
	bool ack_due;			/* a ChRcvBufAck to send */
	uint32_t ack_size;

	/* sending */
	bool sbusy[W_NSLOT];
	unsigned int scomp;		/* send completions */

	/* sequence numbers and credits */
	uint32_t tx_mseq;		/* mseq of our next message */
	uint32_t rx_mseq;		/* last mseq from the kernel */
	uint32_t rx_ack;		/* its last mseq_ack */
	uint32_t last_ack_sent;		/* mseq_ack of our last message */
	uint32_t k_bufs;		/* its bufs */
	uint32_t k_rcvsz;		/* its receive buffer size */
	uint32_t allow;			/* highest kernel mseq we made room for */
	uint32_t adv;			/* bufs of our last message */
	uint32_t rx_since;		/* kernel messages since our last one */

	/* what the kernel sent */
	uint8_t *data;
	size_t dlen, dcap;
	unsigned int nmsgs, ndata, nupdates, nchrcvbuf, nchrcvbuf_ack;
	unsigned int nsrcavail, nsendsm;	/* we sent, it answered */
	uint32_t max_msg;		/* longest message */
	uint32_t chrcvbuf_size;		/* last ChRcvBuf or ChRcvBufAck size */
	long urg_at;			/* offset in data of the urgent byte */
	uint8_t urg_flags;
	bool got_disconn, got_abort;

	/* rdma_cm */
	bool addr_ok, route_ok, established, rejected, disconnected;
	int rej_status, cm_error;
	struct rdma_cm_id *req_id;	/* a connection request */
	uint8_t pdata[256];		/* its private data, or the reply's */
	int plen;

	/* errors */
	bool qp_err;
	int qp_status;
	unsigned int nbad;
	char bad[512];			/* the first protocol violation */
};

static void w_bad(struct wire *w, const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	wlog("KERNEL BROKE THE PROTOCOL: %s", buf);
	if (!w->nbad++)
		snprintf(w->bad, sizeof(w->bad), "%s", buf);
}

static uint8_t *w_rbuf(struct wire *w, unsigned int i)
{
	return w->mem + (size_t)i * W_RBUF;
}

static uint8_t *w_sbuf(struct wire *w, unsigned int s)
{
	return w->mem + (size_t)W_NRECV_MAX * W_RBUF + (size_t)s * W_SBUF;
}

static int w_init(struct wire *w, unsigned int nrecv, uint32_t rsize)
{
	memset(w, 0, sizeof(*w));
	w->nrecv = nrecv;
	w->rsize = rsize;
	w->auto_credit = true;
	w->tx_mseq = 1;
	w->urg_at = -1;
	w->memlen = (size_t)W_NRECV_MAX * W_RBUF + (size_t)W_NSLOT * W_SBUF;
	if (nrecv > W_NRECV_MAX || posix_memalign((void **)&w->mem, 4096,
						  w->memlen))
		return -1;
	memset(w->mem, 0, w->memlen);
	w->ch = rdma_create_event_channel();
	if (!w->ch)
		return -1;
	return fcntl(w->ch->fd, F_SETFL,
		     fcntl(w->ch->fd, F_GETFL) | O_NONBLOCK);
}

static void w_fini(struct wire *w)
{
	struct rdma_cm_event *ev;

	if (w->ch)
		while (!rdma_get_cm_event(w->ch, &ev))
			rdma_ack_cm_event(ev);
	if (w->id) {
		rdma_disconnect(w->id);
		if (w->id->qp)
			rdma_destroy_qp(w->id);
		rdma_destroy_id(w->id);
	}
	if (w->req_id && w->req_id != w->id)
		rdma_destroy_id(w->req_id);
	if (w->lid)
		rdma_destroy_id(w->lid);
	if (w->mr)
		ibv_dereg_mr(w->mr);
	if (w->cq)
		ibv_destroy_cq(w->cq);
	if (w->pd)
		ibv_dealloc_pd(w->pd);
	if (w->ch)
		rdma_destroy_event_channel(w->ch);
	free(w->mem);
	free(w->data);
	memset(w, 0, sizeof(*w));
}

static int w_post_recv(struct wire *w, unsigned int i)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)w_rbuf(w, i), .length = W_RBUF,
		.lkey = w->mr->lkey,
	};
	struct ibv_recv_wr wr = { .wr_id = i, .sg_list = &sge, .num_sge = 1 };
	struct ibv_recv_wr *bad;

	if (ibv_post_recv(w->id->qp, &wr, &bad))
		return -1;
	w->rposted[i] = true;
	w->posted++;
	return 0;
}

/* PD, CQ, MR and QP on @id, receive buffers posted. */
static int w_qp(struct wire *w, struct rdma_cm_id *id)
{
	struct ibv_qp_init_attr attr = {
		.qp_type = IBV_QPT_RC,
		.cap = {
			.max_send_wr = W_NSLOT + 4, .max_recv_wr = W_NRECV_MAX,
			.max_send_sge = 1, .max_recv_sge = 1,
		},
	};
	unsigned int i;

	w->pd = ibv_alloc_pd(id->verbs);
	if (!w->pd)
		return -1;
	w->cq = ibv_create_cq(id->verbs, 2 * (W_NSLOT + W_NRECV_MAX), NULL,
			      NULL, 0);
	if (!w->cq)
		return -1;
	/* Remote write: the kernel's RDMA writes (good.no_write_imm_cap). */
	w->mr = ibv_reg_mr(w->pd, w->mem, w->memlen, IBV_ACCESS_LOCAL_WRITE |
			   IBV_ACCESS_REMOTE_WRITE);
	if (!w->mr)
		return -1;
	attr.send_cq = attr.recv_cq = w->cq;
	if (rdma_create_qp(id, w->pd, &attr))
		return -1;
	w->id = id;
	for (i = 0; i < w->nrecv && !w->late_post; i++)
		if (w_post_recv(w, i))
			return -1;
	return 0;
}

static void w_cm(struct wire *w)
{
	struct rdma_cm_event *ev;
	int n;

	while (!rdma_get_cm_event(w->ch, &ev)) {
		switch (ev->event) {
		case RDMA_CM_EVENT_ADDR_RESOLVED:
			w->addr_ok = true;
			break;
		case RDMA_CM_EVENT_ROUTE_RESOLVED:
			w->route_ok = true;
			break;
		case RDMA_CM_EVENT_CONNECT_REQUEST:
			if (w->req_id) {
				rdma_reject(ev->id, NULL, 0);
				rdma_ack_cm_event(ev);
				rdma_destroy_id(ev->id);
				continue;
			}
			w->req_id = ev->id;
			/* Keep the private data, as for ESTABLISHED. */
			__attribute__((fallthrough));
		case RDMA_CM_EVENT_ESTABLISHED:
			n = ev->param.conn.private_data_len;
			if (n > (int)sizeof(w->pdata))
				n = sizeof(w->pdata);
			if (ev->param.conn.private_data && n > 0)
				memcpy(w->pdata, ev->param.conn.private_data, n);
			else
				n = 0;
			if (ev->event == RDMA_CM_EVENT_ESTABLISHED) {
				w->established = true;
				if (w->lid)
					break;	/* a REP we sent: no data */
			}
			w->plen = n;
			break;
		case RDMA_CM_EVENT_REJECTED:
			w->rejected = true;
			w->rej_status = ev->status;
			break;
		case RDMA_CM_EVENT_DISCONNECTED:
			w->disconnected = true;
			rdma_disconnect(ev->id);	/* our DREP */
			break;
		case RDMA_CM_EVENT_TIMEWAIT_EXIT:
			break;
		default:
			w->cm_error = ev->event;
			wlog("rdma_cm event %s (status %d)",
			     rdma_event_str(ev->event), ev->status);
			break;
		}
		rdma_ack_cm_event(ev);
	}
}

static uint32_t w_credits(const struct wire *w)
{
	uint32_t in_flight = w->tx_mseq - w->rx_ack - 1;

	return w->k_bufs > in_flight ? w->k_bufs - in_flight : 0;
}

/* CA4-82: the last credit is for credit updates only. */
static bool w_can_send(const struct wire *w, uint8_t mid, uint32_t payload)
{
	if (mid == MID_DATA && !payload)
		return w_credits(w) > 0;
	return w_credits(w) > 1;
}

static int w_free_slot(const struct wire *w)
{
	int s;

	for (s = 0; s < W_NSLOT; s++)
		if (!w->sbusy[s])
			return s;
	return -1;
}

/* Our next header, honest. */
static struct msg w_hdr(const struct wire *w, uint8_t mid, uint8_t flags,
			uint32_t len)
{
	struct msg h = {
		.mid = mid, .flags = flags, .len = len,
		.bufs = w->posted > 0xffff ? 0xffff : w->posted,
		.mseq = w->tx_mseq, .mseq_ack = w->rx_mseq,
	};

	return h;
}

/*
 * Post a message: the BSDH @h, then @blen bytes of @body (extended header
 * and payload); only @sent bytes of it all if @sent >= 0.  The sequence
 * state moves on when @h->mseq is our next one.
 */
static int w_post_msg(struct wire *w, const struct msg *h, const void *body,
		      uint32_t blen, long sent)
{
	struct ibv_sge sge = { .lkey = w->mr->lkey };
	struct ibv_send_wr wr = {
		.sg_list = &sge, .opcode = IBV_WR_SEND,
		.send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	int s = w_free_slot(w);
	uint8_t *p;

	if (s < 0 || BSDH_LEN + blen > W_SBUF) {
		wlog("no send slot");
		return -1;
	}
	p = w_sbuf(w, s);
	bsdh_put(p, h);
	if (blen)
		memcpy(p + BSDH_LEN, body, blen);
	sge.addr = (uintptr_t)p;
	sge.length = sent >= 0 ? (uint32_t)sent : BSDH_LEN + blen;
	wr.num_sge = sge.length ? 1 : 0;
	wr.wr_id = WR_SEND | s;
	if (ibv_post_send(w->id->qp, &wr, &bad)) {
		wlog("ibv_post_send: %s", strerror(errno));
		return -1;
	}
	w->sbusy[s] = true;
	if (h->mid == MID_SRCAVAIL)
		w->nsrcavail++;
	if (h->mseq == w->tx_mseq)
		w->tx_mseq++;
	/* What we really made room for: our buffers after rx_mseq. */
	if (seq_after(w->rx_mseq + w->posted, w->allow))
		w->allow = w->rx_mseq + w->posted;
	w->adv = h->bufs;
	w->last_ack_sent = h->mseq_ack;
	w->rx_since = 0;
	return 0;
}

static int w_send(struct wire *w, uint8_t mid, uint8_t flags,
		  const void *body, uint32_t blen)
{
	struct msg h = w_hdr(w, mid, flags, BSDH_LEN + blen);

	return w_post_msg(w, &h, body, blen, -1);
}

/* Check a message from the kernel, in receive buffer @i, @n bytes. */
static void w_rx(struct wire *w, unsigned int i, uint32_t n)
{
	const uint8_t *p = w_rbuf(w, i);
	uint32_t hdrs, pay, size;
	struct msg m;

	if (w->got_abort)
		w_bad(w, "a message (%u bytes) after AbortConn", n);
	if (n < BSDH_LEN) {
		w_bad(w, "a message of %u bytes, shorter than a BSDH", n);
		return;
	}
	bsdh_get(p, &m);
	w->nmsgs++;
	if (n > w->max_msg)
		w->max_msg = n;
	switch (m.mid) {
	case MID_DATA:
	case MID_DISCONN:
	case MID_ABORT:
		hdrs = BSDH_LEN;
		break;
	case MID_CHRCVBUF:
	case MID_CHRCVBUF_ACK:
		hdrs = BSDH_LEN + 4;
		break;
	case MID_SENDSM:
		/* Only to refuse a SrcAvail we sent, once for each. */
		if (w->nsendsm >= w->nsrcavail)
			w_bad(w, "SendSM mseq %u, but no SrcAvail to refuse",
			      m.mseq);
		w->nsendsm++;
		hdrs = BSDH_LEN;
		break;
	default:
		w_bad(w, "mid %#x (%s), which the kernel never sends",
		      m.mid, mid_name(m.mid));
		hdrs = BSDH_LEN;
	}
	if (m.len != n)
		w_bad(w, "%s mseq %u: len %u, but %u bytes came",
		      mid_name(m.mid), m.mseq, m.len, n);
	if (n > w->rsize)
		w_bad(w, "%s mseq %u of %u bytes, our buffers are %u",
		      mid_name(m.mid), m.mseq, n, w->rsize);
	if (m.len < hdrs || (m.mid != MID_DATA && m.len != hdrs))
		w_bad(w, "%s mseq %u: len %u, its headers are %u",
		      mid_name(m.mid), m.mseq, m.len, hdrs);
	if (m.flags & ~(OOB_PRES | OOB_PEND))
		w_bad(w, "%s mseq %u: flags %#x", mid_name(m.mid), m.mseq,
		      m.flags);
	if ((m.flags & OOB_PRES) && (m.mid != MID_DATA || m.len <= hdrs))
		w_bad(w, "OOB_PRES on %s mseq %u of len %u",
		      mid_name(m.mid), m.mseq, m.len);
	if (m.mseq != w->rx_mseq + 1)
		w_bad(w, "%s: mseq %u after %u", mid_name(m.mid), m.mseq,
		      w->rx_mseq);
	if (m.mseq_ack - w->rx_ack >= w->tx_mseq - w->rx_ack)
		w_bad(w, "%s mseq %u: mseq_ack %u, we sent up to %u and it "
		      "had acked %u", mid_name(m.mid), m.mseq, m.mseq_ack,
		      w->tx_mseq - 1, w->rx_ack);
	if (seq_after(m.mseq, w->allow))
		w_bad(w, "%s mseq %u: beyond the credits we gave (up to mseq "
		      "%u): more messages outstanding than our buffers",
		      mid_name(m.mid), m.mseq, w->allow);
	else if (m.mseq == w->allow && !(m.mid == MID_DATA && m.len == hdrs))
		w_bad(w, "%s mseq %u len %u took our last credit, which is "
		      "for credit updates only (CA4-82)", mid_name(m.mid),
		      m.mseq, m.len);
	if (w->got_disconn &&
	    (m.mid == MID_DISCONN || (m.mid == MID_DATA && m.len > hdrs)))
		w_bad(w, "%s mseq %u len %u after its DisConn",
		      mid_name(m.mid), m.mseq, m.len);
	w->rx_mseq = m.mseq;
	w->rx_ack = m.mseq_ack;
	w->k_bufs = m.bufs;
	w->rx_since++;

	pay = m.len > hdrs && m.len <= n ? m.len - hdrs : 0;
	switch (m.mid) {
	case MID_DATA:
		if (!pay) {
			w->nupdates++;
			break;
		}
		w->ndata++;
		if (w->dlen + pay > w->dcap) {
			w->dcap = (w->dlen + pay) * 2;
			w->data = realloc(w->data, w->dcap);
			if (!w->data)
				abort();
		}
		memcpy(w->data + w->dlen, p + hdrs, pay);
		w->dlen += pay;
		if (m.flags & OOB_PRES) {
			w->urg_at = w->dlen - 1;
			w->urg_flags = m.flags;
		}
		break;
	case MID_DISCONN:
		w->got_disconn = true;
		break;
	case MID_ABORT:
		w->got_abort = true;
		break;
	case MID_CHRCVBUF:
		size = be32_at(p + BSDH_LEN);
		w->nchrcvbuf++;
		w->chrcvbuf_size = size;
		if (size < RCVSZ_MIN || size > RCVSZ_MAX)
			w_bad(w, "ChRcvBuf asks for %u bytes", size);
		w->ack_size = w->accept_resize ?
			      (size > W_RBUF ? W_RBUF : size) : w->rsize;
		w->ack_due = true;
		break;
	case MID_CHRCVBUF_ACK:
		size = be32_at(p + BSDH_LEN);
		w->nchrcvbuf_ack++;
		w->chrcvbuf_size = size;
		if (size < RCVSZ_MIN || size > RCVSZ_MAX)
			w_bad(w, "ChRcvBufAck of %u bytes", size);
		w->k_rcvsz = size;
		break;
	}
}

/* Send what is due: a ChRcvBufAck, a credit update. */
static void w_flush(struct wire *w)
{
	uint8_t b[4];
	uint32_t view, v;

	if (!w->id || w->hold || w->got_abort || w->qp_err ||
	    w->disconnected || w_free_slot(w) < 0)
		return;
	if (w->ack_due && w_can_send(w, MID_CHRCVBUF_ACK, 0)) {
		v = htonl(w->ack_size);
		memcpy(b, &v, 4);
		if (!w_send(w, MID_CHRCVBUF_ACK, 0, b, 4)) {
			w->rsize = w->ack_size;
			w->ack_due = false;
		}
	}
	view = w->adv > w->rx_since ? w->adv - w->rx_since : 0;
	if (w->auto_credit && view <= w->posted / 2 &&
	    w->posted >= view + 2 && w_can_send(w, MID_DATA, 0) &&
	    w_free_slot(w) >= 0)
		w_send(w, MID_DATA, 0, NULL, 0);
}

/* Completions, rdma_cm events, what is due.  Returns true if anything came. */
static bool w_pump(struct wire *w)
{
	struct ibv_wc wc[16];
	bool any = false;
	unsigned int i;
	int n, j;

	if (!w->ch)
		return false;	/* gone (w_fini()) */
	w_cm(w);
	while (w->cq && (n = ibv_poll_cq(w->cq, 16, wc)) > 0) {
		any = true;
		for (j = 0; j < n; j++) {
			if (wc[j].wr_id & WR_SEND) {
				w->sbusy[wc[j].wr_id & 0xffff] = false;
				w->scomp++;
			} else {
				i = wc[j].wr_id;
				w->rposted[i] = false;
				w->posted--;
			}
			if (wc[j].status != IBV_WC_SUCCESS) {
				if (wc[j].status != IBV_WC_WR_FLUSH_ERR &&
				    !w->qp_err) {
					w->qp_err = true;
					w->qp_status = wc[j].status;
					wlog("%s completion: %s",
					     wc[j].wr_id & WR_SEND ? "send" :
					     "receive",
					     ibv_wc_status_str(wc[j].status));
				}
				if (!(wc[j].wr_id & WR_SEND) &&
				    wc[j].status == IBV_WC_LOC_LEN_ERR)
					w_bad(w, "a message longer than our "
					      "buffers (%u)", W_RBUF);
				continue;
			}
			if (wc[j].wr_id & WR_SEND)
				continue;
			w_rx(w, i, wc[j].byte_len);
			if (!w->hold && !w->qp_err)
				w_post_recv(w, i);
		}
	}
	w_flush(w);
	return any;
}

/* Pump until *@flag or @ms pass; returns *@flag. */
static bool w_wait(struct wire *w, const bool *flag, int ms)
{
	int64_t end = afib_now_ms() + ms;

	while (!*flag && afib_now_ms() < end)
		if (!w_pump(w))
			afib_poll1(w->ch->fd, POLLIN, 1);
	w_pump(w);
	return *flag;
}

static void w_idle(struct wire *w, int ms)
{
	bool never = false;

	w_wait(w, &never, ms);
}

/* Pump until @cond holds or @ms pass; the value of @cond. */
#define W_UNTIL(w, cond, ms) ({						\
	int64_t __end = afib_now_ms() + (ms);				\
									\
	while (!(cond) && afib_now_ms() < __end)			\
		if (!w_pump(w))						\
			afib_poll1((w)->ch->fd, POLLIN, 1);		\
	!!(cond);							\
})

/* Pump until @n bytes of data came from the kernel, or @ms pass. */
static bool w_wait_data(struct wire *w, size_t n, int ms)
{
	int64_t end = afib_now_ms() + ms;

	while (w->dlen < n && afib_now_ms() < end && !w->qp_err)
		if (!w_pump(w))
			afib_poll1(w->ch->fd, POLLIN, 1);
	return w->dlen >= n;
}

/* Wait for a credit for @mid with @payload bytes and a send slot. */
static bool w_wait_credit(struct wire *w, uint8_t mid, uint32_t payload)
{
	int64_t end = afib_now_ms() + T_MS;

	while (!w_can_send(w, mid, payload) || w_free_slot(w) < 0) {
		if (afib_now_ms() > end || w->qp_err || w->got_abort) {
			wlog("no credit for %s (credits %u, bufs %u, acked "
			     "%u, next mseq %u)", mid_name(mid), w_credits(w),
			     w->k_bufs, w->rx_ack, w->tx_mseq);
			return false;
		}
		if (!w_pump(w))
			afib_poll1(w->ch->fd, POLLIN, 1);
	}
	return true;
}

/* Wait for a credit and a slot, then send; -1 on timeout. */
static int w_send_wait(struct wire *w, uint8_t mid, uint8_t flags,
		       const void *body, uint32_t blen, uint32_t payload)
{
	if (!w_wait_credit(w, mid, payload))
		return -1;
	return w_send(w, mid, flags, body, blen);
}

/* Wait for a connection request to our listener. */
static bool w_wait_req(struct wire *w, int ms)
{
	int64_t end = afib_now_ms() + ms;

	while (!w->req_id && afib_now_ms() < end)
		if (!w_pump(w))
			afib_poll1(w->ch->fd, POLLIN, 1);
	return w->req_id != NULL;
}

static void w_hello(const struct wire *w, struct hh *hh, int family)
{
	struct msg m = { .mid = MID_HELLO, .bufs = w->nrecv, .len = HH_LEN };

	memset(hh, 0, sizeof(*hh));
	bsdh_put(&hh->h.bsdh, &m);
	hh->h.majv_minv = SDP_VERSION;
	hh->h.ipv_cap = (family == AF_INET6 ? 6 : 4) << 4;
	hh->h.max_adverts = 1;
	hh->desremrcvsz = htonl(w->rsize);
	hh->localrcvsz = htonl(w->rsize);
}

static void w_helloack(const struct wire *w, struct hah *hah, int family)
{
	struct msg m = { .mid = MID_HELLO_ACK, .bufs = w->nrecv,
			 .len = HAH_LEN };

	memset(hah, 0, sizeof(*hah));
	bsdh_put(&hah->h.bsdh, &m);
	hah->h.majv_minv = SDP_VERSION;
	hah->h.ipv_cap = (family == AF_INET6 ? 6 : 4) << 4;
	hah->h.max_adverts = 1;
	hah->actrcvsz = htonl(w->rsize);
}

/*
 * Connect to @port of the local test address of @family with @pd
 * (@plen bytes) as the Hello.  Returns 0 when established, 1 when
 * rejected, -1 otherwise.  The HelloAck is in w->pdata.
 */
static int w_connect(struct wire *w, int family, uint16_t port,
		     const void *pd, int plen)
{
	struct rdma_conn_param param = {
		.private_data = pd, .private_data_len = plen,
		.flow_control = 1, .retry_count = 7, .rnr_retry_count = 7,
	};
	struct sockaddr_storage ss;
	struct rdma_cm_id *id;
	int64_t end;

	afib_addr(family, port, &ss);
	if (rdma_create_id(w->ch, &id, w, RDMA_PS_TCP)) {
		wlog("rdma_create_id: %s", strerror(errno));
		return -1;
	}
	w->id = id;
	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)&ss, 2000) ||
	    !w_wait(w, &w->addr_ok, T_MS)) {
		wlog("rdma_resolve_addr failed (%s)", strerror(errno));
		return -1;
	}
	if (rdma_resolve_route(id, 2000) || !w_wait(w, &w->route_ok, T_MS)) {
		wlog("rdma_resolve_route failed (%s)", strerror(errno));
		return -1;
	}
	w->id = NULL;
	if (w_qp(w, id)) {
		wlog("QP setup failed: %s", strerror(errno));
		w->id = id;
		return -1;
	}
	w->allow = w->nrecv;	/* the Hello's bufs, after mseq 0 */
	w->adv = w->nrecv;
	if (rdma_connect(id, &param)) {
		wlog("rdma_connect: %s", strerror(errno));
		return -1;
	}
	end = afib_now_ms() + T_MS;
	while (!w->established && !w->rejected && !w->cm_error &&
	       afib_now_ms() < end)
		if (!w_pump(w))
			afib_poll1(w->ch->fd, POLLIN, 1);
	if (w->established)
		return 0;
	if (!w->rejected && !w->cm_error)
		wlog("no answer to the connection request");
	return w->rejected ? 1 : -1;
}

/* Listen on the local test address of @family; the port in *@port. */
static int w_listen(struct wire *w, int family, uint16_t *port)
{
	struct sockaddr_storage ss;

	afib_addr(family, 0, &ss);
	if (rdma_create_id(w->ch, &w->lid, w, RDMA_PS_TCP) ||
	    rdma_bind_addr(w->lid, (struct sockaddr *)&ss) ||
	    rdma_listen(w->lid, 8)) {
		wlog("raw listener: %s", strerror(errno));
		return -1;
	}
	*port = ntohs(rdma_get_src_port(w->lid));
	return 0;
}

/* Accept the request we have with @pd (@plen bytes) as the HelloAck. */
static int w_accept(struct wire *w, const void *pd, int plen)
{
	struct rdma_conn_param param = {
		.private_data = pd, .private_data_len = plen,
		.flow_control = 1, .retry_count = 7, .rnr_retry_count = 7,
	};

	if (!w->req_id || w_qp(w, w->req_id))
		return -1;
	w->allow = w->nrecv;
	w->adv = w->nrecv;
	if (rdma_accept(w->id, &param)) {
		wlog("rdma_accept: %s", strerror(errno));
		return -1;
	}
	return w_wait(w, &w->established, T_MS) ? 0 : -1;
}

/*
 * What is wrong with the kernel's Hello (@hello) or HelloAck in
 * @p/@plen for an @ipv connection, or NULL; its bufs and buffer size.
 */
static const char *hello_problem(const uint8_t *p, int plen, bool hello,
				 int ipv, uint32_t *bufs, uint32_t *rcvsz)
{
	static char why[200];
	const struct hello_hdr *h = (const void *)p;
	int want = hello ? HH_LEN : HAH_LEN, i;
	uint32_t a, b = 0;
	struct msg m;

	if (plen < want) {
		snprintf(why, sizeof(why), "%d bytes of private data", plen);
		return why;
	}
	bsdh_get(p, &m);
	a = be32_at(p + 20);
	if (hello)
		b = be32_at(p + 24);
	if (m.mid != (hello ? MID_HELLO : MID_HELLO_ACK))
		snprintf(why, sizeof(why), "mid %#x", m.mid);
	else if (m.flags)
		snprintf(why, sizeof(why), "flags %#x", m.flags);
	else if (m.len != (uint32_t)want)
		snprintf(why, sizeof(why), "len %u, not %d", m.len, want);
	else if (m.mseq || m.mseq_ack)
		snprintf(why, sizeof(why), "mseq %u mseq_ack %u, not 0",
			 m.mseq, m.mseq_ack);
	else if (m.bufs < MIN_BUFS)
		snprintf(why, sizeof(why), "bufs %u", m.bufs);
	else if (h->majv_minv != SDP_VERSION)
		snprintf(why, sizeof(why), "version %#x", h->majv_minv);
	else if (h->ipv_cap != (ipv << 4 | CAP_WRITE_IMM))
		snprintf(why, sizeof(why), "ipv_cap %#x for IPv%d",
			 h->ipv_cap, ipv);
	else if (h->rsvd1)
		snprintf(why, sizeof(why), "rsvd1 %#x", h->rsvd1);
	else if (!h->max_adverts)
		snprintf(why, sizeof(why), "max_adverts 0");
	else if (a < RCVSZ_MIN || a > RCVSZ_MAX)
		snprintf(why, sizeof(why), "%s %u",
			 hello ? "desremrcvsz" : "actrcvsz", a);
	else if (hello && (b < RCVSZ_MIN || b > RCVSZ_MAX))
		snprintf(why, sizeof(why), "localrcvsz %u", b);
	else
		why[0] = 0;
	for (i = want; !why[0] && i < plen; i++)
		if (p[i])
			snprintf(why, sizeof(why),
				 "byte %d after it is %#x, not 0", i, p[i]);
	if (why[0])
		return why;
	*bufs = m.bufs;
	*rcvsz = hello ? b : a;
	return NULL;
}

/* ---- the kernel's side ------------------------------------------------ */

static const struct sdp_tp tp4 = { AF_INET_SDP, 0, AF_INET, false };
static const struct sdp_tp tp6 = { AF_INET6_SDP, 0, AF_INET6, false };

static const struct sdp_tp *tp_of(int family)
{
	return family == AF_INET6 ? &tp6 : &tp4;
}

/* A kernel SDP listener; SO_RCVBUF @rcvbuf if not 0. */
static int k_listener(int family, int rcvbuf, uint16_t *port)
{
	int fd = sdp_listener(tp_of(family), 16, 0, port);

	if (fd >= 0 && rcvbuf &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* accept() a connection that should be there soon. */
static int k_accept(struct wire *w, int lfd)
{
	int64_t end = afib_now_ms() + T_MS;

	while (afib_now_ms() < end) {
		if (afib_poll1(lfd, POLLIN, 1) & POLLIN)
			return accept(lfd, NULL, NULL);
		w_pump(w);
	}
	errno = ETIMEDOUT;
	return -1;
}

/*
 * Read from the kernel socket @k until @len bytes are in @buf, pumping
 * the raw peer.  Returns the bytes read (fewer at EOF, on an error,
 * errno set, or after @ms, errno ETIMEDOUT); -1 if an error came first.
 */
static ssize_t k_read(struct wire *w, int k, void *buf, size_t len, int ms)
{
	int64_t end = afib_now_ms() + ms;
	size_t got = 0;
	ssize_t n;

	errno = 0;
	while (got < len) {
		n = recv(k, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN) {
			if (!got)
				return -1;
			break;
		}
		if (afib_now_ms() > end) {
			errno = ETIMEDOUT;
			break;
		}
		if (!w_pump(w))
			afib_poll1(k, POLLIN, 1);
	}
	return got;
}

/* The next thing recv() on @k has to say: bytes, 0 (EOF) or -1/errno. */
static ssize_t k_next(struct wire *w, int k, void *buf, size_t len, int ms)
{
	int64_t end = afib_now_ms() + ms;
	ssize_t n;

	for (;;) {
		n = recv(k, buf, len, MSG_DONTWAIT);
		if (n >= 0 || errno != EAGAIN)
			return n;
		if (afib_now_ms() > end) {
			errno = ETIMEDOUT;
			return -2;
		}
		if (!w_pump(w))
			afib_poll1(k, POLLIN, 1);
	}
}

/*
 * Raw peer to kernel: @len bytes of @src in messages of the sizes in
 * @sizes (cycled; clipped to what the kernel's buffers take), within the
 * credits, while the kernel reads them into @dst.  0 or -1.
 */
static int xfer_to_kernel(struct wire *w, int k, const uint8_t *src,
			  uint8_t *dst, size_t len, const uint32_t *sizes,
			  int nsizes, int ms)
{
	int64_t end = afib_now_ms() + ms;
	size_t sent = 0, got = 0, m;
	bool idle;
	ssize_t n;
	int i = 0;

	while (got < len) {
		idle = true;
		if (sent < len) {
			m = sizes ? sizes[i % nsizes] : len;
			if (m > w->k_rcvsz - BSDH_LEN)
				m = w->k_rcvsz - BSDH_LEN;
			if (m > len - sent)
				m = len - sent;
			if (w_can_send(w, MID_DATA, m) && w_free_slot(w) >= 0) {
				if (w_send(w, MID_DATA, 0, src + sent, m))
					return -1;
				sent += m;
				i++;
				idle = false;
			}
		}
		n = recv(k, dst + got, len - got, MSG_DONTWAIT);
		if (n > 0) {
			got += n;
			idle = false;
		} else if (n == 0 || errno != EAGAIN) {
			wlog("kernel recv: %zd (%s) after %zu of %zu bytes", n,
			     n ? strerror(errno) : "EOF", got, len);
			return -1;
		}
		if (w_pump(w))
			idle = false;
		if (w->nbad || w->got_abort || w->qp_err)
			return -1;
		if (afib_now_ms() > end) {
			wlog("stuck: sent %zu, kernel read %zu of %zu, "
			     "credits %u", sent, got, len, w_credits(w));
			return -1;
		}
		if (idle)
			afib_poll1(k, POLLIN, 1);
	}
	return 0;
}

/*
 * Kernel to raw peer: a blocking send() of @len bytes of @src in a thread
 * (zero-copy when large), the raw peer receiving.  0 or -1.
 */
static int xfer_from_kernel(struct wire *w, int k, const uint8_t *src,
			    size_t len, int ms)
{
	struct afib_io io = { .fd = k, .tx = true, .buf = (void *)src,
			      .len = len };
	size_t start = w->dlen;
	bool ok;

	if (afib_io_start(&io))
		return -1;
	ok = w_wait_data(w, start + len, ms);
	if (afib_join(io.th, ok ? ms : 1000)) {
		wlog("kernel send() still blocked, %zu of %zu bytes came",
		     w->dlen - start, len);
		/* Shut it so that the thread ends before we do. */
		shutdown(k, SHUT_RDWR);
		afib_join(io.th, ms);
		return -1;
	}
	if (io.ret != (ssize_t)len) {
		wlog("kernel send(): %zd (%s)", io.ret, strerror(io.err));
		return -1;
	}
	if (!ok) {
		wlog("%zu of %zu bytes came", w->dlen - start, len);
		return -1;
	}
	if (w->dlen != start + len) {
		wlog("%zu bytes came, %zu sent", w->dlen - start, len);
		return -1;
	}
	if (memcmp(w->data + start, src, len)) {
		wlog("the data the kernel sent differs");
		return -1;
	}
	return 0;
}

/*
 * Connect the raw peer, w_init() done, to a new kernel listener of
 * @family (SO_RCVBUF @rcvbuf) and accept: *@lfd, *@k.  Checks the
 * HelloAck.  NULL or what went wrong.
 */
static const char *pair_connect(struct wire *w, int family, int rcvbuf,
				int *lfd, int *k)
{
	static char why[300];
	const char *p;
	uint16_t port;
	struct hh hh;
	int r;

	*lfd = k_listener(family, rcvbuf, &port);
	if (*lfd < 0)
		return "kernel listener";
	w_hello(w, &hh, family);
	r = w_connect(w, family, port, &hh, sizeof(hh));
	if (r) {
		snprintf(why, sizeof(why), "raw connect: %s (status %d)",
			 r > 0 ? "rejected" : "failed", w->rej_status);
		return why;
	}
	p = hello_problem(w->pdata, w->plen, false,
			  family == AF_INET6 ? 6 : 4, &w->k_bufs, &w->k_rcvsz);
	if (p) {
		snprintf(why, sizeof(why), "the kernel's HelloAck: %s", p);
		return why;
	}
	*k = k_accept(w, *lfd);
	if (*k < 0)
		return "kernel accept";
	return NULL;
}

/* pair_connect() a raw peer with @nrecv buffers of @rsize. */
static const char *pair_up(struct wire *w, int family, int rcvbuf,
			   unsigned int nrecv, uint32_t rsize, int *lfd,
			   int *k)
{
	if (w_init(w, nrecv, rsize))
		return "w_init";
	return pair_connect(w, family, rcvbuf, lfd, k);
}

/* A stream of @len pattern bytes. */
static uint8_t *pattern(size_t len, uint32_t seed)
{
	uint8_t *p = malloc(len);

	if (p)
		afib_fill(p, len, seed);
	return p;
}

/* An orderly end: DisConn both ways, close, the disconnect. */
static const char *orderly_close(struct wire *w, int *k, bool kernel_first)
{
	char c;

	if (kernel_first) {
		if (shutdown(*k, SHUT_WR))
			return "shutdown(SHUT_WR)";
		if (!w_wait(w, &w->got_disconn, T_MS))
			return "no DisConn after shutdown(SHUT_WR)";
	}
	if (w_send_wait(w, MID_DISCONN, 0, NULL, 0, 0))
		return "cannot send DisConn";
	if (k_next(w, *k, &c, 1, T_MS) != 0)
		return "the kernel's recv() after our DisConn is not EOF";
	afib_close(k);
	if (!kernel_first && !w_wait(w, &w->got_disconn, T_MS))
		return "no DisConn after close()";
	if (!w_wait(w, &w->disconnected, T_MS))
		return "no disconnect after close()";
	if (w->got_abort)
		return "AbortConn in an orderly close";
	return NULL;
}

#define ASSERT_NO_BAD(w)						\
	ASSERT_EQ(0, (w)->nbad) TH_LOG("the kernel broke the protocol: %s", \
				       (w)->bad)

/* ---- good: a well-behaved peer ----------------------------------------- */

FIXTURE(good) {
	struct wire w;
	int lfd, k;
};

FIXTURE_VARIANT(good) {
	int family;
};

FIXTURE_VARIANT_ADD(good, ipv4) { .family = AF_INET };
FIXTURE_VARIANT_ADD(good, ipv6) { .family = AF_INET6 };

FIXTURE_SETUP(good)
{
	self->lfd = self->k = -1;
}

FIXTURE_TEARDOWN(good)
{
	afib_close(&self->k);
	afib_close(&self->lfd);
	w_fini(&self->w);
}

/* Message payload sizes for the raw peer's stream. */
static const uint32_t wire_sizes[] = {
	1, 7, 100, 511, 512, 513, 1000, 2031, 2032, 3, 2000, 64, 1500,
};

TEST_F_TIMEOUT(good, client, afib_tmo(120))
{
	struct wire *w = &self->w;
	size_t up = 64 * 1024, down = 256 * 1024, i;
	uint8_t *src, *dst, *back;
	const char *why;
	int one = 1;

	why = pair_up(w, variant->family, 0, 8, W_DEF_RSIZE, &self->lfd,
		      &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	TH_LOG("HelloAck: bufs %u, actrcvsz %u", w->k_bufs, w->k_rcvsz);
	src = pattern(up, 1);
	dst = malloc(up);
	back = pattern(down, 2);
	ASSERT_TRUE(src && dst && back);

	ASSERT_EQ(0, xfer_to_kernel(w, self->k, src, dst, up, wire_sizes,
				    sizeof(wire_sizes) / sizeof(wire_sizes[0]),
				    T_MS)) TH_LOG("raw -> kernel: %s", w->bad);
	ASSERT_EQ(0, memcmp(src, dst, up)) TH_LOG("the kernel read other bytes");
	TH_LOG("raw -> kernel: %zu bytes in %u messages", up, w->tx_mseq - 1);

	/* A blocking write large enough for zero-copy. */
	ASSERT_EQ(0, xfer_from_kernel(w, self->k, back, down, T_MS))
		TH_LOG("kernel -> raw: %s", w->bad);
	TH_LOG("kernel -> raw: %zu bytes in %u Data messages (+%u credit "
	       "updates), longest %u, ChRcvBuf %u (declined)", down, w->ndata,
	       w->nupdates, w->max_msg, w->nchrcvbuf);
	ASSERT_NO_BAD(w);

	/* Small writes with TCP_NODELAY. */
	ASSERT_EQ(0, setsockopt(self->k, IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one)));
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(10, send(self->k, back + i * 10, 10, MSG_DONTWAIT));
		w_idle(w, 1);
	}
	ASSERT_TRUE(w_wait_data(w, down + 200, T_MS));
	ASSERT_EQ(0, memcmp(w->data + down, back, 200));
	ASSERT_NO_BAD(w);

	why = orderly_close(w, &self->k, true);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	ASSERT_NO_BAD(w);
	free(src);
	free(dst);
	free(back);
}

/*
 * A Hello without SDP_CAP_WRITE_IMM (ours): the kernel sends no RDMA
 * write with immediate (EOPNOTSUPP), a plain RDMA write still goes.
 */
TEST_F_TIMEOUT(good, no_write_imm_cap, afib_tmo(60))
{
	char ctl[CMSG_SPACE(sizeof(struct afib_rdma_op))] = {};
	struct wire *w = &self->w;
	uint8_t *dst, src[64];
	struct iovec iov = { src, sizeof(src) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct afib_rdma_op op = {};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	const char *why;
	unsigned int i;

	why = pair_up(w, variant->family, 0, 8, W_DEF_RSIZE, &self->lfd,
		      &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	/* The end of our memory: the last send slot, unused here. */
	dst = w->mem + w->memlen - sizeof(src);
	for (i = 0; i < sizeof(src); i++)
		src[i] = i ^ 0x5a;
	op.remote_addr = (uintptr_t)dst;
	op.rkey = w->mr->rkey;
	op.imm = 7;
	c->cmsg_level = SOL_AFIB;
	c->cmsg_type = AFIB_CMSG_RDMA_WRITE_IMM;
	c->cmsg_len = CMSG_LEN(sizeof(op));
	memcpy(CMSG_DATA(c), &op, sizeof(op));
	EXPECT_EQ(-1, sendmsg(self->k, &msg, MSG_DONTWAIT));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_NE(0, memcmp(dst, src, sizeof(src)));
	op.imm = 0;
	c->cmsg_type = AFIB_CMSG_RDMA_WRITE;
	memcpy(CMSG_DATA(c), &op, sizeof(op));
	EXPECT_EQ((ssize_t)sizeof(src), sendmsg(self->k, &msg, 0))
		TH_LOG("RDMA write: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(dst, src, sizeof(src)));
	/* The stream goes on. */
	w_idle(w, 1);
	ASSERT_EQ(0, xfer_from_kernel(w, self->k, src, sizeof(src), T_MS))
		TH_LOG("kernel -> raw: %s", w->bad);
	ASSERT_NO_BAD(w);
}

TEST_F_TIMEOUT(good, server, afib_tmo(120))
{
	struct wire *w = &self->w;
	size_t up = 48 * 1024, down = 512 * 1024;
	struct sockaddr_storage ss;
	uint8_t *src, *dst, *back;
	socklen_t sl;
	const char *why;
	struct hah hah;
	uint16_t port;
	int err, ipv = variant->family == AF_INET6 ? 6 : 4;

	ASSERT_EQ(0, w_init(w, 8, W_DEF_RSIZE));
	w->accept_resize = true;
	ASSERT_EQ(0, w_listen(w, variant->family, &port));
	self->k = socket(tp_of(variant->family)->domain,
			 SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, self->k);
	sl = afib_addr(variant->family, port, &ss);
	ASSERT_EQ(-1, connect(self->k, (void *)&ss, sl));
	ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_TRUE(w_wait_req(w, T_MS)) TH_LOG("no connection request");
	TH_LOG("the kernel's Hello: %d bytes of private data", w->plen);
	ASSERT_EQ(HH_ROOM, w->plen);
	why = hello_problem(w->pdata, w->plen, true, ipv, &w->k_bufs,
			    &w->k_rcvsz);
	ASSERT_FALSE(why != NULL) TH_LOG("the kernel's Hello: %s", why);
	TH_LOG("Hello: bufs %u, desremrcvsz %u, localrcvsz %u, max_adverts %u",
	       w->k_bufs, be32_at(w->pdata + 20), w->k_rcvsz, w->pdata[19]);

	w_helloack(w, &hah, variant->family);
	ASSERT_EQ(0, w_accept(w, &hah, sizeof(hah)));
	ASSERT_TRUE(afib_poll1(self->k, POLLOUT, T_MS) & POLLOUT);
	err = sdp_getint(self->k, SOL_SOCKET, SO_ERROR);
	ASSERT_EQ(0, err) TH_LOG("connect: %s", strerror(err));
	ASSERT_EQ(0, fcntl(self->k, F_SETFL, 0));

	src = pattern(up, 3);
	dst = malloc(up);
	back = pattern(down, 4);
	ASSERT_TRUE(src && dst && back);
	ASSERT_EQ(0, xfer_to_kernel(w, self->k, src, dst, up, NULL, 0, T_MS))
		TH_LOG("raw -> kernel: %s", w->bad);
	ASSERT_EQ(0, memcmp(src, dst, up));
	ASSERT_EQ(0, xfer_from_kernel(w, self->k, back, down, T_MS))
		TH_LOG("kernel -> raw: %s", w->bad);
	TH_LOG("kernel -> raw: %zu bytes in %u Data messages, longest %u, "
	       "ChRcvBuf %u (accepted, %u)", down, w->ndata, w->max_msg,
	       w->nchrcvbuf, w->rsize);
	ASSERT_NO_BAD(w);
	if (w->nchrcvbuf)
		EXPECT_LT(W_DEF_RSIZE, w->max_msg)
			TH_LOG("the kernel asked for bigger buffers, got them "
			       "and did not use them");

	why = orderly_close(w, &self->k, false);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	ASSERT_NO_BAD(w);
	free(src);
	free(dst);
	free(back);
}

/*
 * TCP_NODELAY small writes while none of the kernel's sends can complete:
 * our receive buffers are posted only later, so the adapter RNR-NAKs the
 * kernel's messages and they wait in flight.  TCP queues small writes in
 * its send buffer; so must SDP, in the last buffer of its ring, rather
 * than give EAGAIN once every buffer holds one small message.
 */
TEST_F_TIMEOUT(good, nodelay_stalled, afib_tmo(60))
{
	struct wire *w = &self->w;
	size_t n = 40, len = 10, i;
	const char *why;
	uint8_t *back;
	int one = 1;

	ASSERT_EQ(0, w_init(w, 12, W_DEF_RSIZE));
	w->late_post = true;
	why = pair_connect(w, variant->family, 0, &self->lfd, &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	back = pattern(n * len, 6);
	ASSERT_TRUE(back != NULL);
	ASSERT_EQ(0, setsockopt(self->k, IPPROTO_TCP, TCP_NODELAY, &one,
				sizeof(one)));
	for (i = 0; i < n; i++) {
		ASSERT_EQ((ssize_t)len, send(self->k, back + i * len, len,
					     MSG_DONTWAIT))
			TH_LOG("write %zu of %zu: %s", i + 1, n,
			       strerror(errno));
	}
	ASSERT_EQ((int)(n * len), sdp_ioctl(self->k, SIOCOUTQ));
	w_idle(w, 100);
	ASSERT_EQ(0, w->nmsgs) TH_LOG("messages without posted buffers");

	for (i = 0; i < w->nrecv; i++) {
		ASSERT_EQ(0, w_post_recv(w, i));
	}
	ASSERT_TRUE(w_wait_data(w, n * len, T_MS))
		TH_LOG("%zu of %zu bytes", w->dlen, n * len);
	ASSERT_EQ(0, memcmp(w->data, back, n * len));
	TH_LOG("%zu writes of %zu bytes came in %u Data messages", n, len,
	       w->ndata);
	ASSERT_NO_BAD(w);
	ASSERT_FALSE(w->qp_err);
	why = orderly_close(w, &self->k, true);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	ASSERT_NO_BAD(w);
	free(back);
}

TEST_F_TIMEOUT(good, credits, afib_tmo(60))
{
	struct wire *w = &self->w;
	size_t len = 64 * 1024, sent = 0;
	unsigned int before, i;
	const char *why;
	uint8_t *back;
	ssize_t n;

	/* Three buffers, the fewest; none reposted for a while. */
	why = pair_up(w, variant->family, 0, MIN_BUFS, W_DEF_RSIZE,
		      &self->lfd, &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	back = pattern(len, 5);
	ASSERT_TRUE(back != NULL);
	w->hold = true;
	while (sent < len) {
		n = send(self->k, back + sent, len - sent, MSG_DONTWAIT);
		if (n < 0) {
			ASSERT_EQ(EAGAIN, errno);
			break;
		}
		sent += n;
	}
	w_idle(w, STALL_MS);
	TH_LOG("held: kernel queued %zu bytes, sent %u messages (%u with "
	       "data) into our %u buffers", sent, w->nmsgs, w->ndata,
	       MIN_BUFS);
	ASSERT_NO_BAD(w);
	ASSERT_GE(MIN_BUFS, w->nmsgs);
	ASSERT_LT(0, w->ndata) TH_LOG("the kernel sent nothing");
	ASSERT_FALSE(w->qp_err);
	before = w->nmsgs;
	w_idle(w, STALL_MS);
	ASSERT_EQ(before, w->nmsgs) TH_LOG("messages without buffers");

	/* Release: repost and tell the kernel. */
	w->hold = false;
	for (i = 0; i < w->nrecv; i++)
		if (!w->rposted[i])
			ASSERT_EQ(0, w_post_recv(w, i));
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, 0, NULL, 0, 0));
	while (sent < len) {
		n = send(self->k, back + sent, len - sent, MSG_DONTWAIT);
		if (n > 0)
			sent += n;
		else
			ASSERT_EQ(EAGAIN, errno);
		w_pump(w);
		ASSERT_NO_BAD(w);
	}
	ASSERT_TRUE(w_wait_data(w, len, T_MS))
		TH_LOG("%zu of %zu bytes", w->dlen, len);
	ASSERT_EQ(0, memcmp(w->data, back, len));
	ASSERT_NO_BAD(w);
	TH_LOG("%zu bytes in %u Data messages, %u credit updates", len,
	       w->ndata, w->nupdates);
	why = orderly_close(w, &self->k, true);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	ASSERT_NO_BAD(w);
	free(back);
}

TEST_F_TIMEOUT(good, oob, afib_tmo(60))
{
	struct wire *w = &self->w;
	const char *why;
	char buf[16];
	ssize_t n;

	why = pair_up(w, variant->family, 0, 8, W_DEF_RSIZE, &self->lfd,
		      &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);

	/* Raw to kernel: "ab" then "cdU" with the U urgent, then "ef". */
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, 0, "ab", 2, 2));
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, OOB_PRES | OOB_PEND, "cdU", 3, 3));
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, 0, "ef", 2, 2));
	ASSERT_EQ(4, k_read(w, self->k, buf, 4, T_MS));
	ASSERT_EQ(0, memcmp(buf, "abcd", 4));
	ASSERT_EQ(1, sdp_ioctl(self->k, SIOCATMARK));
	ASSERT_EQ(1, recv(self->k, buf, 1, MSG_OOB));
	ASSERT_EQ('U', buf[0]);
	ASSERT_EQ(2, k_read(w, self->k, buf, 2, T_MS));
	ASSERT_EQ(0, memcmp(buf, "ef", 2));

	/* Kernel to raw: the last byte of an MSG_OOB write. */
	ASSERT_EQ(3, send(self->k, "xyZ", 3, MSG_OOB));
	ASSERT_TRUE(w_wait_data(w, 3, T_MS));
	ASSERT_EQ(0, memcmp(w->data, "xyZ", 3));
	ASSERT_EQ(2, w->urg_at) TH_LOG("no OOB_PRES on the last byte");
	ASSERT_TRUE(w->urg_flags & OOB_PRES);
	n = send(self->k, "z", 1, 0);
	ASSERT_EQ(1, n);
	ASSERT_TRUE(w_wait_data(w, 4, T_MS));
	ASSERT_EQ(2, w->urg_at) TH_LOG("OOB_PRES on a normal write");
	ASSERT_NO_BAD(w);
	why = orderly_close(w, &self->k, true);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	ASSERT_NO_BAD(w);
}

TEST_F_TIMEOUT(good, chrcvbuf, afib_tmo(60))
{
	struct wire *w = &self->w;
	uint32_t size = 8192, v = htonl(8192), old;
	uint8_t *big, *got;
	const char *why;
	int i;

	why = pair_up(w, variant->family, 0, 8, W_DEF_RSIZE, &self->lfd,
		      &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	old = w->k_rcvsz;
	ASSERT_EQ(0, w_send_wait(w, MID_CHRCVBUF, 0, &v, 4, 0));
	/* The old buffers go as messages use them; then the ack. */
	for (i = 0; i < 64 && !w->nchrcvbuf_ack; i++) {
		char c;

		ASSERT_EQ(0, w_send_wait(w, MID_DATA, 0, "x", 1, 1));
		ASSERT_EQ(1, k_read(w, self->k, &c, 1, T_MS));
		w_idle(w, 1);
	}
	if (!w->nchrcvbuf_ack)
		w_idle(w, T_MS / 4);
	ASSERT_EQ(1, w->nchrcvbuf_ack) TH_LOG("no ChRcvBufAck");
	TH_LOG("ChRcvBuf %u: acknowledged with %u after %d messages (was %u)",
	       size, w->chrcvbuf_size, i, old);
	ASSERT_EQ(size, w->chrcvbuf_size);
	ASSERT_EQ(size, w->k_rcvsz);

	/* One message of the new size. */
	big = pattern(size - BSDH_LEN, 6);
	got = malloc(size);
	ASSERT_TRUE(big && got);
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, 0, big, size - BSDH_LEN,
				 size - BSDH_LEN));
	ASSERT_EQ(size - BSDH_LEN, k_read(w, self->k, got, size - BSDH_LEN,
					  T_MS));
	ASSERT_EQ(0, memcmp(big, got, size - BSDH_LEN));
	ASSERT_FALSE(w->got_abort);
	ASSERT_NO_BAD(w);
	why = orderly_close(w, &self->k, true);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	free(big);
	free(got);
}

TEST_F_TIMEOUT(good, tolerated, afib_tmo(60))
{
	struct wire *w = &self->w;
	uint8_t body[32];
	const char *why;
	struct msg h;
	char buf[64];

	why = pair_up(w, variant->family, 0, 8, W_DEF_RSIZE, &self->lfd,
		      &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	/* SendSM: nothing to cancel, nothing to reset. */
	ASSERT_EQ(0, w_send_wait(w, MID_SENDSM, 0, NULL, 0, 0));
	/* Credit updates, one flagged OOB_PEND. */
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, 0, NULL, 0, 0));
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, OOB_PEND, NULL, 0, 0));
	/* Data whose len stops before the bytes sent: the rest is ignored. */
	memcpy(body, "0123456789abcdefXXXXXXXXXXXXXXXX", 32);
	ASSERT_TRUE(w_wait_credit(w, MID_DATA, 16));
	h = w_hdr(w, MID_DATA, 0, BSDH_LEN + 16);
	ASSERT_EQ(0, w_post_msg(w, &h, body, 32, -1));
	/* OOB_PEND alone on Data. */
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, OOB_PEND, "ghij", 4, 4));
	ASSERT_EQ(20, k_read(w, self->k, buf, 20, T_MS));
	ASSERT_EQ(0, memcmp(buf, "0123456789abcdefghij", 20));
	ASSERT_EQ(-1, recv(self->k, buf, sizeof(buf), MSG_DONTWAIT));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(2, send(self->k, "ok", 2, 0));
	ASSERT_TRUE(w_wait_data(w, 2, T_MS));
	ASSERT_FALSE(w->got_abort) TH_LOG("reset for a valid message");
	ASSERT_NO_BAD(w);
	why = orderly_close(w, &self->k, true);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
}

/*
 * A peer that offers its buffer for RDMA read (SrcAvail): the kernel
 * takes the bytes sent inline and refuses the rest with SendSM, once per
 * SrcAvail; the peer then cancels (SrcAvailCancel, which needs no
 * answer) and sends the rest as Data.  The stream stays whole.
 */
TEST_F_TIMEOUT(good, srcavail, afib_tmo(60))
{
	struct wire *w = &self->w;
	uint8_t body[16 + 16];
	const char *why;
	char buf[128];
	int i;

	why = pair_up(w, variant->family, 0, 8, W_DEF_RSIZE, &self->lfd,
		      &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	for (i = 0; i < 2; i++) {
		/* SrcAH: len 48, rkey, vaddr; 16 bytes inline, or none. */
		be32_put(body, 48);
		be32_put(body + 4, 0x1234);
		be32_put(body + 8, 0);
		be32_put(body + 12, 0x10000);
		memcpy(body + 16, "0123456789abcdef", 16);
		ASSERT_EQ(0, w_send_wait(w, MID_SRCAVAIL, 0, body,
					 i ? 16 : 32, i ? 0 : 16));
		ASSERT_TRUE(W_UNTIL(w, w->nsendsm == i + 1u, T_MS))
			TH_LOG("no SendSM for SrcAvail %d", i);
		ASSERT_EQ(0, w_send_wait(w, MID_SRCAVAIL_CANCEL, 0, NULL, 0,
					 0));
		memset(body, 'a' + i, 32);
		ASSERT_EQ(0, w_send_wait(w, MID_DATA, 0, body, 32, 32));
	}
	ASSERT_EQ(80, k_read(w, self->k, buf, 80, T_MS));
	ASSERT_EQ(0, memcmp(buf, "0123456789abcdef", 16));
	for (i = 16; i < 80; i++)
		ASSERT_EQ(i < 48 ? 'a' : 'b', buf[i]) TH_LOG("byte %d", i);
	ASSERT_EQ(-1, recv(self->k, buf, sizeof(buf), MSG_DONTWAIT));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(2u, w->nsendsm);
	ASSERT_FALSE(w->got_abort) TH_LOG("reset for a valid SrcAvail");
	ASSERT_NO_BAD(w);
	why = orderly_close(w, &self->k, true);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
}

TEST_F_TIMEOUT(good, half_close, afib_tmo(60))
{
	struct wire *w = &self->w;
	size_t len = 40 * 1024;
	const char *why;
	uint32_t v;
	uint8_t *back;
	char c;

	why = pair_up(w, variant->family, 0, 8, W_DEF_RSIZE, &self->lfd,
		      &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	back = pattern(len, 7);
	ASSERT_TRUE(back != NULL);
	ASSERT_EQ(0, w_send_wait(w, MID_DISCONN, 0, NULL, 0, 0));
	ASSERT_EQ(0, k_next(w, self->k, &c, 1, T_MS));
	/*
	 * After DisConn: credit updates and resizing go on (the size the
	 * kernel has: acknowledged at once).
	 */
	ASSERT_EQ(0, w_send_wait(w, MID_DATA, 0, NULL, 0, 0));
	v = htonl(w->k_rcvsz);
	ASSERT_EQ(0, w_send_wait(w, MID_CHRCVBUF, 0, &v, 4, 0));
	ASSERT_TRUE(W_UNTIL(w, w->nchrcvbuf_ack, T_MS))
		TH_LOG("no ChRcvBufAck after DisConn");
	ASSERT_EQ(w->k_rcvsz, w->chrcvbuf_size);
	/* And the kernel still sends. */
	ASSERT_EQ(0, xfer_from_kernel(w, self->k, back, len, T_MS))
		TH_LOG("kernel -> raw after our DisConn: %s", w->bad);
	ASSERT_FALSE(w->got_abort);
	ASSERT_NO_BAD(w);
	afib_close(&self->k);
	ASSERT_TRUE(w_wait(w, &w->got_disconn, T_MS));
	ASSERT_TRUE(w_wait(w, &w->disconnected, T_MS));
	ASSERT_FALSE(w->got_abort);
	ASSERT_NO_BAD(w);
	free(back);
}

/* ---- bad: malformed messages must reset the connection --------------- */

enum { SEQ_NEXT, SEQ_SKIP, SEQ_REPEAT, SEQ_ZERO, SEQ_FAR };
enum { ACK_RIGHT, ACK_AHEAD, ACK_BACK, ACK_FAR };
enum { PRE_DATA, PRE_KDATA, PRE_DISCONN };

struct bad_msg {
	uint8_t mid, flags;
	uint32_t payload;	/* payload bytes after the headers */
	bool over;		/* payload: one byte more than the kernel's buffers */
	uint32_t ext_len;	/* extended header bytes */
	uint32_t ext[5];	/* its 32-bit words, host order */
	bool len_set;		/* BSDH len is @len, not headers + payload */
	uint32_t len;
	bool sent_set;		/* only @sent bytes go on the wire */
	uint32_t sent;
	int seq, ack, pre;
};

FIXTURE(bad) {
	struct wire w;
	int lfd, k;
};

FIXTURE_VARIANT(bad) {
	struct bad_msg m;
};

#define BAD(name, ...) FIXTURE_VARIANT_ADD(bad, name) { .m = { __VA_ARGS__ } }

/* The length field and the bytes on the wire. */
BAD(len_gt_sent, .mid = MID_DATA, .payload = 32, .len_set = true, .len = 64);
BAD(len_gt_sent_by_1, .mid = MID_DATA, .len_set = true, .len = 17);
BAD(len_lt_bsdh, .mid = MID_DATA, .payload = 8, .len_set = true, .len = 8);
BAD(len_zero, .mid = MID_DATA, .payload = 16, .len_set = true, .len = 0);
BAD(len_4g, .mid = MID_DATA, .payload = 16, .len_set = true,
    .len = 0xffffffff);
BAD(len_lt_headers, .mid = MID_CHRCVBUF);	/* ChRcvBuf without its size */
BAD(short_0, .mid = MID_DATA, .sent_set = true, .sent = 0);
BAD(short_8, .mid = MID_DATA, .payload = 4, .sent_set = true, .sent = 8);
BAD(short_15, .mid = MID_DATA, .payload = 4, .sent_set = true, .sent = 15);
BAD(longer_than_buffer, .mid = MID_DATA, .over = true);
/* Message ids. */
BAD(mid_hello, .mid = MID_HELLO);
BAD(mid_helloack, .mid = MID_HELLO_ACK);
BAD(mid_05, .mid = 0x05);
BAD(mid_05_payload, .mid = 0x05, .payload = 8);
BAD(mid_07, .mid = 0x07);
BAD(mid_09, .mid = 0x09);
BAD(mid_0a, .mid = 0x0A);
BAD(mid_0d, .mid = 0x0D);
BAD(mid_7f, .mid = 0x7F);
BAD(mid_fc, .mid = 0xFC);
/*
 * Zero-copy the kernel does not take part in: SinkAvail (reset, as OFED
 * does), RdmaRdCompl for a SrcAvail it never sent, SrcAvail whose
 * SrcAH is shorter than its headers or announces less than it carries
 * inline.  A sound SrcAvail is refused with SendSM (good.srcavail).
 */
BAD(sinkavail, .mid = MID_SINKAVAIL, .ext_len = 20,
    .ext = { 4096, 0x1234, 0, 0x10000, 0 });
BAD(rdma_rd_compl, .mid = MID_RDMA_RD_COMPL, .ext_len = 4, .ext = { 100 });
BAD(srcavail_short, .mid = MID_SRCAVAIL, .ext_len = 8, .ext = { 4096, 1 });
BAD(srcavail_len_lt_inline, .mid = MID_SRCAVAIL, .ext_len = 16,
    .ext = { 8, 0x1234, 0, 0x10000 }, .payload = 16);
/* Flags. */
BAD(flags_04, .mid = MID_DATA, .flags = 0x04, .payload = 4);
BAD(flags_80, .mid = MID_DATA, .flags = 0x80, .payload = 4);
BAD(oob_zero_len, .mid = MID_DATA, .flags = OOB_PRES);
BAD(oob_disconn, .mid = MID_DISCONN, .flags = OOB_PRES);
/* Sequence numbers. */
BAD(mseq_skip, .mid = MID_DATA, .payload = 4, .seq = SEQ_SKIP);
BAD(mseq_skip_update, .mid = MID_DATA, .seq = SEQ_SKIP);
BAD(mseq_repeat, .mid = MID_DATA, .payload = 4, .seq = SEQ_REPEAT);
BAD(mseq_zero, .mid = MID_DATA, .payload = 4, .seq = SEQ_ZERO);
BAD(mseq_far, .mid = MID_DATA, .payload = 4, .seq = SEQ_FAR);
BAD(mseq_ack_unsent, .mid = MID_DATA, .payload = 4, .ack = ACK_AHEAD);
BAD(mseq_ack_far, .mid = MID_DATA, .payload = 4, .ack = ACK_FAR);
BAD(mseq_ack_back, .mid = MID_DATA, .payload = 4, .ack = ACK_BACK,
    .pre = PRE_KDATA);
/* Control messages with payload. */
BAD(disconn_payload, .mid = MID_DISCONN, .payload = 4);
BAD(abort_payload, .mid = MID_ABORT, .payload = 4);
BAD(sendsm_payload, .mid = MID_SENDSM, .payload = 4);
BAD(chrcvbuf_payload, .mid = MID_CHRCVBUF, .ext_len = 4, .ext = { 4096 },
    .payload = 4);
/* After DisConn. */
BAD(data_after_disconn, .mid = MID_DATA, .payload = 4, .pre = PRE_DISCONN);
BAD(second_disconn, .mid = MID_DISCONN, .pre = PRE_DISCONN);
/* Buffer sizes. */
BAD(chrcvbuf_size_0, .mid = MID_CHRCVBUF, .ext_len = 4, .ext = { 0 });
BAD(chrcvbuf_size_63, .mid = MID_CHRCVBUF, .ext_len = 4, .ext = { 63 });
BAD(chrcvbuf_size_2m, .mid = MID_CHRCVBUF, .ext_len = 4,
    .ext = { 2 << 20 });
BAD(chrcvbuf_ack_size_0, .mid = MID_CHRCVBUF_ACK, .ext_len = 4,
    .ext = { 0 });

FIXTURE_SETUP(bad)
{
	self->lfd = self->k = -1;
}

FIXTURE_TEARDOWN(bad)
{
	afib_close(&self->k);
	afib_close(&self->lfd);
	w_fini(&self->w);
}

/* Post the broken message @c, within our credits. */
static int inject(struct wire *w, const struct bad_msg *c)
{
	static uint8_t body[W_SBUF];
	uint32_t pay = c->over ? w->k_rcvsz - BSDH_LEN + 1 : c->payload;
	uint32_t blen = c->ext_len + pay, i, v;
	struct msg h;

	if (!w_wait_credit(w, MID_DATA, 1))
		return -1;
	h = w_hdr(w, c->mid, c->flags,
		  c->len_set ? c->len : BSDH_LEN + blen);
	for (i = 0; i < c->ext_len / 4; i++) {
		v = htonl(c->ext[i]);
		memcpy(body + 4 * i, &v, 4);
	}
	memset(body + c->ext_len, 'B', pay);
	switch (c->seq) {
	case SEQ_SKIP:
		h.mseq++;
		break;
	case SEQ_REPEAT:
		h.mseq--;
		break;
	case SEQ_ZERO:
		h.mseq = 0;
		break;
	case SEQ_FAR:
		h.mseq += 0x7fffffff;
		break;
	}
	switch (c->ack) {
	case ACK_AHEAD:
		h.mseq_ack = w->rx_mseq + 1;
		break;
	case ACK_BACK:
		h.mseq_ack = w->last_ack_sent - 1;
		break;
	case ACK_FAR:
		h.mseq_ack = w->rx_mseq + 0x7fffffff;
		break;
	}
	wlog("sending %s (%#x) flags %#x len %u mseq %u mseq_ack %u bufs %u, "
	     "%ld bytes", mid_name(h.mid), h.mid, h.flags, h.len, h.mseq,
	     h.mseq_ack, h.bufs, c->sent_set ? (long)c->sent :
	     (long)(BSDH_LEN + blen));
	return w_post_msg(w, &h, body, blen, c->sent_set ? (long)c->sent : -1);
}

TEST_F_TIMEOUT(bad, reset, afib_tmo(60))
{
	const struct bad_msg *c = &variant->m;
	struct wire *w = &self->w;
	uint8_t pre[100], got[200];
	const char *why;
	ssize_t n;
	int err;

	why = pair_up(w, AF_INET, 0, 8, W_DEF_RSIZE, &self->lfd, &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	if (c->pre == PRE_KDATA) {
		ASSERT_EQ(2, send(self->k, "hi", 2, 0));
		ASSERT_TRUE(w_wait_data(w, 2, T_MS));
	}
	/* Good data first, read by the kernel. */
	afib_fill(pre, sizeof(pre), 9);
	ASSERT_EQ(0, xfer_to_kernel(w, self->k, pre, got, sizeof(pre), NULL,
				    0, T_MS));
	ASSERT_EQ(0, memcmp(pre, got, sizeof(pre)));
	if (c->pre == PRE_DISCONN) {
		ASSERT_EQ(0, w_send_wait(w, MID_DISCONN, 0, NULL, 0, 0));
		ASSERT_EQ(0, k_next(w, self->k, got, sizeof(got), T_MS));
	}
	w_idle(w, 20);
	ASSERT_FALSE(w->got_abort);
	ASSERT_NO_BAD(w);

	ASSERT_EQ(0, inject(w, c));
	ASSERT_TRUE(W_UNTIL(w, w->got_abort || w->disconnected ||
			       (c->over && w->qp_err), T_MS))
		TH_LOG("the kernel did not abort the connection");
	TH_LOG("the raw peer got %s", w->got_abort ? "AbortConn" :
	       w->disconnected ? "a disconnect" : "a failed send");
	if (c->pre != PRE_DISCONN) {
		n = k_next(w, self->k, got, sizeof(got), T_MS);
		err = errno;
		ASSERT_EQ(-1, n) TH_LOG("recv() gave %zd%s", n,
					n > 0 ? " bytes of it" : "");
		ASSERT_EQ(ECONNRESET, err) TH_LOG("recv(): %s", strerror(err));
		/* Then, as TCP after a reset: EOF, and EPIPE for send(). */
		ASSERT_EQ(0, k_next(w, self->k, got, sizeof(got), T_MS));
		ASSERT_EQ(-1, send(self->k, "x", 1, MSG_NOSIGNAL |
				   MSG_DONTWAIT));
		ASSERT_EQ(EPIPE, errno);
	} else {
		/* The EOF came before; the reset is the error. */
		ASSERT_EQ(0, k_next(w, self->k, got, sizeof(got), T_MS));
		ASSERT_TRUE(afib_poll1(self->k, POLLIN, T_MS) & POLLERR)
			TH_LOG("no POLLERR");
		err = sdp_getint(self->k, SOL_SOCKET, SO_ERROR);
		ASSERT_EQ(ECONNRESET, err) TH_LOG("SO_ERROR %s", strerror(err));
	}
	ASSERT_NO_BAD(w);
	afib_close(&self->k);
	ASSERT_TRUE(w_wait(w, &w->disconnected, T_MS))
		TH_LOG("no disconnect after close()");
	ASSERT_NO_BAD(w);
}

/* ---- hello: the kernel listener and the raw client's Hello ------------ */

typedef void (*hh_fn)(struct hh *hh, int *plen);
typedef void (*hah_fn)(struct hah *hah, int *plen);

#define HELLO(f, name, stmt)						\
	static void mangle_##f##_##name(struct hh *hh, int *plen)	\
	{								\
		(void)hh; (void)plen;					\
		stmt;							\
	}								\
	FIXTURE_VARIANT_ADD(f, name) { .mangle = mangle_##f##_##name }

FIXTURE(hello) {
	struct wire w;
	int lfd, k;
};

FIXTURE_VARIANT(hello) {
	hh_fn mangle;
};

HELLO(hello, version_11, hh->h.majv_minv = 0x11);
HELLO(hello, version_21, hh->h.majv_minv = 0x21);
HELLO(hello, version_32, hh->h.majv_minv = 0x32);
HELLO(hello, version_0, hh->h.majv_minv = 0);
HELLO(hello, ipv_0, hh->h.ipv_cap = 0x00);
HELLO(hello, ipv_5, hh->h.ipv_cap = 0x50);
HELLO(hello, ipv_15, hh->h.ipv_cap = 0xf0);
HELLO(hello, ipv_low_nibble, hh->h.ipv_cap = 0x04);
HELLO(hello, max_adverts_0, hh->h.max_adverts = 0);
HELLO(hello, bufs_2, hh->h.bsdh.bufs = htons(2));
HELLO(hello, bufs_0, hh->h.bsdh.bufs = 0);
HELLO(hello, empty, *plen = 0);
HELLO(hello, short_20, *plen = 20; hh->h.bsdh.len = htonl(20));
HELLO(hello, short_27, *plen = 27; hh->h.bsdh.len = htonl(27));
HELLO(hello, len_27, hh->h.bsdh.len = htonl(27));
HELLO(hello, len_57, hh->h.bsdh.len = htonl(HH_ROOM + 1));
HELLO(hello, mid_helloack, hh->h.bsdh.mid = MID_HELLO_ACK);
HELLO(hello, mid_data, hh->h.bsdh.mid = MID_DATA);
HELLO(hello, flags, hh->h.bsdh.flags = OOB_PRES);
HELLO(hello, localrcvsz_0, hh->localrcvsz = 0);
HELLO(hello, localrcvsz_63, hh->localrcvsz = htonl(RCVSZ_MIN - 1));
HELLO(hello, localrcvsz_1m_plus_1, hh->localrcvsz = htonl(RCVSZ_MAX + 1));
HELLO(hello, localrcvsz_4g, hh->localrcvsz = htonl(0xffffffff));
HELLO(hello, desremrcvsz_0, hh->desremrcvsz = 0);
HELLO(hello, desremrcvsz_2m, hh->desremrcvsz = htonl(2 * RCVSZ_MAX));

FIXTURE_SETUP(hello)
{
	self->lfd = self->k = -1;
}

FIXTURE_TEARDOWN(hello)
{
	afib_close(&self->k);
	afib_close(&self->lfd);
	w_fini(&self->w);
}

TEST_F_TIMEOUT(hello, rejected, afib_tmo(60))
{
	struct wire *w = &self->w;
	int plen = HH_LEN, r;
	uint16_t port;
	struct hh hh;

	ASSERT_EQ(0, w_init(w, 8, W_DEF_RSIZE));
	self->lfd = k_listener(AF_INET, 0, &port);
	ASSERT_LE(0, self->lfd);
	w_hello(w, &hh, AF_INET);
	variant->mangle(&hh, &plen);
	r = w_connect(w, AF_INET, port, plen ? &hh : NULL, plen);
	ASSERT_EQ(1, r) TH_LOG("%s", r ? "no answer" :
			       "the kernel accepted the broken Hello");
	TH_LOG("rejected, status %d", w->rej_status);
	/* Nothing to accept. */
	ASSERT_EQ(0, afib_poll1(self->lfd, POLLIN, 100));
	ASSERT_EQ(0, fcntl(self->lfd, F_SETFL, O_NONBLOCK));
	self->k = accept(self->lfd, NULL, NULL);
	ASSERT_EQ(-1, self->k);
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, fcntl(self->lfd, F_SETFL, 0));

	/* The listener still works. */
	w_fini(w);
	ASSERT_EQ(0, w_init(w, 8, W_DEF_RSIZE));
	w_hello(w, &hh, AF_INET);
	ASSERT_EQ(0, w_connect(w, AF_INET, port, &hh, sizeof(hh)));
	self->k = k_accept(w, self->lfd);
	ASSERT_LE(0, self->k);
}

/* ---- hello_ok: what the protocol lets a Hello differ in --------------- */

FIXTURE(hello_ok) {
	struct wire w;
	int lfd, k;
};

FIXTURE_VARIANT(hello_ok) {
	hh_fn mangle;
};

HELLO(hello_ok, version_23, hh->h.majv_minv = 0x23);
HELLO(hello_ok, version_2f, hh->h.majv_minv = 0x2f);
HELLO(hello_ok, ipv_cap_low_nibble, hh->h.ipv_cap |= 0x0f);
HELLO(hello_ok, rsvd1, hh->h.rsvd1 = 0xff);
HELLO(hello_ok, max_adverts_255, hh->h.max_adverts = 255);
HELLO(hello_ok, bufs_3, hh->h.bsdh.bufs = htons(3));
HELLO(hello_ok, len_56, hh->h.bsdh.len = htonl(HH_ROOM));
HELLO(hello_ok, mseq_fields, hh->h.bsdh.mseq = htonl(5);
      hh->h.bsdh.mseq_ack = htonl(7));
HELLO(hello_ok, localrcvsz_64, hh->localrcvsz = htonl(RCVSZ_MIN));
HELLO(hello_ok, localrcvsz_1m, hh->localrcvsz = htonl(RCVSZ_MAX));
HELLO(hello_ok, desremrcvsz_64, hh->desremrcvsz = htonl(RCVSZ_MIN));
HELLO(hello_ok, desremrcvsz_1m, hh->desremrcvsz = htonl(RCVSZ_MAX));

FIXTURE_SETUP(hello_ok)
{
	self->lfd = self->k = -1;
}

FIXTURE_TEARDOWN(hello_ok)
{
	afib_close(&self->k);
	afib_close(&self->lfd);
	w_fini(&self->w);
}

TEST_F_TIMEOUT(hello_ok, accepted, afib_tmo(60))
{
	struct wire *w = &self->w;
	uint8_t *back, got[16];
	int plen = HH_LEN, r;
	const char *why;
	uint16_t port;
	struct hh hh;

	ASSERT_EQ(0, w_init(w, 8, W_DEF_RSIZE));
	self->lfd = k_listener(AF_INET, 0, &port);
	ASSERT_LE(0, self->lfd);
	w_hello(w, &hh, AF_INET);
	variant->mangle(&hh, &plen);
	r = w_connect(w, AF_INET, port, &hh, plen);
	ASSERT_EQ(0, r) TH_LOG("%s (status %d)", r > 0 ?
			       "the kernel rejected the Hello" : "failed",
			       w->rej_status);
	why = hello_problem(w->pdata, w->plen, false, 4, &w->k_bufs,
			    &w->k_rcvsz);
	ASSERT_FALSE(why != NULL) TH_LOG("the kernel's HelloAck: %s", why);
	/* What we announced is what the kernel may send. */
	w->rsize = ntohl(hh.localrcvsz);
	self->k = k_accept(w, self->lfd);
	ASSERT_LE(0, self->k);
	ASSERT_EQ(0, xfer_to_kernel(w, self->k, (const uint8_t *)"0123456789",
				    got, 10, NULL, 0, T_MS));
	ASSERT_EQ(0, memcmp(got, "0123456789", 10));
	back = pattern(300, 8);
	ASSERT_TRUE(back != NULL);
	ASSERT_EQ(0, xfer_from_kernel(w, self->k, back, 300, T_MS))
		TH_LOG("kernel -> raw: %s", w->bad);
	TH_LOG("300 bytes in %u messages, longest %u", w->ndata, w->max_msg);
	ASSERT_NO_BAD(w);
	why = orderly_close(w, &self->k, true);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	ASSERT_NO_BAD(w);
	free(back);
}

/* ---- helloack: the kernel connects, the raw listener answers badly ---- */

#define HELLOACK(name, stmt)						\
	static void mangle_helloack_##name(struct hah *hah, int *plen)	\
	{								\
		(void)hah; (void)plen;					\
		stmt;							\
	}								\
	FIXTURE_VARIANT_ADD(helloack, name) {				\
		.mangle = mangle_helloack_##name			\
	}

FIXTURE(helloack) {
	struct wire w;
	int k;
};

FIXTURE_VARIANT(helloack) {
	hah_fn mangle;
};

HELLOACK(version_11, hah->h.majv_minv = 0x11);
HELLOACK(version_21, hah->h.majv_minv = 0x21);
HELLOACK(ipv_6_for_ipv4, hah->h.ipv_cap = 0x60);
HELLOACK(ipv_0, hah->h.ipv_cap = 0);
HELLOACK(max_adverts_0, hah->h.max_adverts = 0);
HELLOACK(bufs_2, hah->h.bsdh.bufs = htons(2));
HELLOACK(actrcvsz_0, hah->actrcvsz = 0);
HELLOACK(actrcvsz_63, hah->actrcvsz = htonl(RCVSZ_MIN - 1));
HELLOACK(actrcvsz_2m, hah->actrcvsz = htonl(2 * RCVSZ_MAX));
HELLOACK(empty, *plen = 0);
HELLOACK(short_20, *plen = 20; hah->h.bsdh.len = htonl(20));
HELLOACK(len_197, hah->h.bsdh.len = htonl(197));
HELLOACK(mid_hello, hah->h.bsdh.mid = MID_HELLO);
HELLOACK(flags, hah->h.bsdh.flags = OOB_PRES);

FIXTURE_SETUP(helloack)
{
	self->k = -1;
}

FIXTURE_TEARDOWN(helloack)
{
	afib_close(&self->k);
	w_fini(&self->w);
}

TEST_F_TIMEOUT(helloack, refused, afib_tmo(60))
{
	struct wire *w = &self->w;
	struct sockaddr_storage ss;
	int plen = HAH_LEN, err, rev;
	struct hah hah;
	uint16_t port;
	socklen_t sl;

	ASSERT_EQ(0, w_init(w, 8, W_DEF_RSIZE));
	ASSERT_EQ(0, w_listen(w, AF_INET, &port));
	self->k = socket(AF_INET_SDP, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, self->k);
	sl = afib_addr(AF_INET, port, &ss);
	ASSERT_EQ(-1, connect(self->k, (void *)&ss, sl));
	ASSERT_EQ(EINPROGRESS, errno);
	ASSERT_TRUE(w_wait_req(w, T_MS)) TH_LOG("no connection request");
	w_helloack(w, &hah, AF_INET);
	variant->mangle(&hah, &plen);
	w_accept(w, plen ? &hah : NULL, plen);
	rev = afib_poll1(self->k, POLLOUT, T_MS);
	ASSERT_TRUE(rev & (POLLERR | POLLHUP)) TH_LOG("poll: %#x", rev);
	err = sdp_getint(self->k, SOL_SOCKET, SO_ERROR);
	TH_LOG("connect() failed with %s", strerror(err));
	ASSERT_NE(0, err) TH_LOG("the kernel accepted the broken HelloAck");
	ASSERT_EQ(-1, send(self->k, "x", 1, MSG_NOSIGNAL));
	ASSERT_TRUE(w_wait(w, &w->disconnected, T_MS))
		TH_LOG("the kernel did not disconnect");
	ASSERT_EQ(0, w->nmsgs) TH_LOG("the kernel sent on a failed connection");
}

/* ---- overrun: a peer ignoring its credits ----------------------------- */

#define OVR_MSG		1500	/* > buffer / 4: never merged, one buffer each */

FIXTURE(overrun) {
	struct wire w;
	int lfd, k;
};

FIXTURE_VARIANT(overrun) {
	int rcvbuf;		/* SO_RCVBUF of the kernel's socket */
	unsigned int msgs;
	bool vanish;		/* the peer goes away, the rest unread */
};

FIXTURE_VARIANT_ADD(overrun, four_buffers) { .rcvbuf = 1, .msgs = 10 };
FIXTURE_VARIANT_ADD(overrun, growing) { .rcvbuf = 0, .msgs = W_NSLOT };
FIXTURE_VARIANT_ADD(overrun, peer_vanishes) {
	.rcvbuf = 1, .msgs = 10, .vanish = true
};

FIXTURE_SETUP(overrun)
{
	self->lfd = self->k = -1;
}

FIXTURE_TEARDOWN(overrun)
{
	afib_close(&self->k);
	afib_close(&self->lfd);
	w_fini(&self->w);
}

TEST_F_TIMEOUT(overrun, rnr, afib_tmo(90))
{
	struct wire *w = &self->w;
	size_t total = (size_t)variant->msgs * OVR_MSG;
	unsigned int i, legit;
	uint8_t *src, *dst;
	const char *why;
	ssize_t got;
	int inq, err;

	why = pair_up(w, AF_INET, variant->rcvbuf, 8, W_DEF_RSIZE,
		      &self->lfd, &self->k);
	ASSERT_FALSE(why != NULL) TH_LOG("%s", why);
	ASSERT_LE(OVR_MSG + BSDH_LEN, w->k_rcvsz);
	legit = w->k_bufs - 1;	/* the last credit is not for data */
	src = pattern(total, 10);
	dst = malloc(total);
	ASSERT_TRUE(src && dst);
	for (i = 0; i < variant->msgs; i++)
		ASSERT_EQ(0, w_send(w, MID_DATA, 0, src + i * OVR_MSG,
				    OVR_MSG));
	w_idle(w, STALL_MS);
	inq = sdp_ioctl(self->k, SIOCINQ);
	TH_LOG("kernel announced %u buffers; %u messages sent, %u completed "
	       "after %d ms, %d bytes in the kernel's queue", w->k_bufs,
	       variant->msgs, w->scomp, STALL_MS, inq);
	ASSERT_FALSE(w->qp_err) TH_LOG("our sends failed: %s",
				       ibv_wc_status_str(w->qp_status));
	ASSERT_LE(legit * OVR_MSG, inq);

	if (variant->vanish) {
		w_fini(w);
		got = k_read(w, self->k, dst, total, T_MS);
		err = errno;
		if (got < 0)
			got = 0;
		TH_LOG("the kernel read %zd bytes, then %s", got,
		       strerror(err));
		ASSERT_LE(legit * OVR_MSG, got);
		ASSERT_EQ(0, memcmp(src, dst, got));
		ASSERT_EQ(ECONNRESET, err);
		free(src);
		free(dst);
		return;
	}
	got = k_read(w, self->k, dst, total, T_MS);
	err = errno;
	if (got < 0)
		got = 0;
	TH_LOG("the kernel read %zd of %zu bytes%s%s", got, total,
	       got < (ssize_t)total ? ", then " : "",
	       got < (ssize_t)total ? strerror(err) : "");
	ASSERT_LE(legit * OVR_MSG, got);
	ASSERT_EQ(0, memcmp(src, dst, got)) TH_LOG("the kernel read other bytes");
	if (got < (ssize_t)total) {
		/* Giving up on such a peer is fine, hanging is not. */
		ASSERT_EQ(ECONNRESET, err);
	} else {
		ASSERT_EQ(2, send(self->k, "ok", 2, 0));
		ASSERT_TRUE(w_wait_data(w, 2, T_MS));
		ASSERT_NO_BAD(w);
	}
	free(src);
	free(dst);
}

TEST_HARNESS_MAIN
