// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib RDMA through the socket API: memory regions, RDMA write, read and
 * atomics as sendmsg() control messages on connected SOCK_SEQPACKET and
 * SDP (SOCK_STREAM) sockets.  What differs between the two, room on the
 * send queue and its accounting, is the transport's (afib_xport.rdma_*;
 * SDP's in sdp/sdp_rdma.c).
 *
 * Memory regions.  AFIB_MR_REG pins the user's pages (FOLL_LONGTERM,
 * charged to mm->pinned_vm against RLIMIT_MEMLOCK as ib_umem does), maps
 * them for the device and registers them with a fast-registration work
 * request (IB_WR_REG_MR) posted on the socket's own QP.  Every
 * connection has a protection domain of its own, so an rkey is only good
 * on this one connection.  An MR is a struct afib_mr with a
 * reference for the handle table (afib_sock.mrs) and one per operation
 * using it; its verbs resources (the ib_mr, the mapping and the pinned
 * pages) go with the last reference, or all at once when afib_kill()
 * destroys the QP: nothing can reach them after the drain, and the PD
 * must be empty before it is freed.  afib_sock.mr_lock serialises the
 * two.  AFIB_MR_DEREG first posts IB_WR_LOCAL_INV, fenced after every
 * operation posted before it, so the peer loses access at once; once it
 * completed the device is done with the region and its pages are
 * unpinned, operations still holding it or not.  An operation not yet
 * posted then fails with ENOENT.  close() deregisters every region so
 * (afib_rdma_release()), even when the connection lingers to send what
 * is queued.
 *
 * Operations.  A sendmsg() with one AFIB_CMSG_* operation posts one work
 * request on the QP, signaled, after the messages and operations posted
 * before it: an RC QP executes them in order, so a message sent after an
 * RDMA write reaches the peer after the written data.  (SDP waits until
 * the data queued before is posted.)  The local side is
 * an MR (one SGE) or the iovec, whose pages are pinned and mapped one SGE
 * each for the duration.  Mapping and posting happen under qp_lock, so the
 * device cannot go in between; the completion handler unmaps (it runs
 * before afib_kill() returns).  A write with immediate consumes one of
 * the peer's receive buffers, so it takes a send credit.  An operation that
 * has to wait for room is unmapped meanwhile and mapped again, from the
 * pinned pages, when it is posted.
 *
 * Completions.  A blocking sendmsg() sleeps until its operation completed
 * (killable only: SO_SNDTIMEO and signals end the wait for room before
 * posting) and returns its status.  With MSG_DONTWAIT or AFIB_RDMA_ASYNC
 * (or a fatal signal), the completion handler queues a sock_extended_err
 * on the error queue instead and frees the operation.  Posted operations
 * plus unread completions are bounded by AFIB_RDMA_MAX_OPS; the send
 * queue has room for that many more work requests, and one for
 * registration.
 *
 * A failed RDMA operation (other than a flush) moves an RC QP to the
 * error state, so it breaks the connection as a failed send does.
 */
#include <linux/errqueue.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include "afib.h"

/**
 * struct afib_mr - a registered memory region.
 * @as: the socket it belongs to.
 * @ref: the handle table's reference and one per operation using it.
 * @node: on afib_sock.mr_list while it holds verbs resources.
 * @ibmr: the fast-registration MR.
 * @ibdev: the device @sgt is mapped for.
 * @sgt: the pinned pages.
 * @pages: the pinned pages, @npages of them.
 * @npages: pages pinned and charged to @mm.
 * @mm: whose pinned_vm they are charged to, with a mmgrab() reference.
 * @writable: the device may write to the pages.
 * @mapped: @sgt is mapped.
 * @gone: deregistration began; operations are no longer posted with it.
 *	Under qp_lock.
 * @handle: the user's name for it.
 * @lkey: local key, for operations of ours.
 * @rkey: remote key, for the peer's.
 * @iova: address of the first byte in the MR.
 * @length: bytes.
 * @cqe: completion of the REG_MR or LOCAL_INV in flight.
 * @done: that work request completed.
 * @status: its status, 0 or a negative errno.
 */
struct afib_mr {
	struct afib_sock	*as;
	refcount_t		ref;
	struct list_head	node;
	struct ib_mr		*ibmr;
	struct ib_device	*ibdev;
	struct sg_table		sgt;
	struct page		**pages;
	u32			npages;
	struct mm_struct	*mm;
	bool			writable;
	bool			mapped;
	bool			gone;
	u32			handle;
	u32			lkey;
	u32			rkey;
	u64			iova;
	u64			length;
	struct ib_cqe		cqe;
	bool			done;
	int			status;
};

/**
 * struct afib_rop - an RDMA operation.
 * @cqe: its completion entry.
 * @as: the socket.
 * @req: what the user asked for.
 * @wr: the work request.
 * @sge: the local side.
 * @pages: pinned iovec pages, @npages of them, one per SGE.
 * @offs: where in its page each SGE of the iovec starts: @sge holds
 *	DMA addresses only while mapped, and a post that has to wait maps
 *	them again.
 * @nsge: entries of @sge in use.
 * @npages: pages pinned.
 * @write: the device writes the local side (read, atomics).
 * @mapped: @sge holds DMA addresses, for @ibdev.
 * @ibdev: the device @sge is mapped for.
 * @mr: local MR, with a reference, or NULL.
 * @skb: the error queue entry it will become, preallocated.
 * @seq: send ring position its completion stands for (see
 *	__afib_tx_complete()).
 * @bytes: SDP payload bytes posted by then.
 * @done: completed; the waiter owns it again.
 * @async: the completion handler reports and frees it.
 * @status: 0 or a negative errno.
 */
struct afib_rop {
	struct ib_cqe		cqe;
	struct afib_sock	*as;
	struct afib_rdma_req	req;
	union {
		struct ib_rdma_wr	rdma;
		struct ib_atomic_wr	atomic;
	} wr;
	struct ib_sge		sge[AFIB_RDMA_IOV_PAGES];
	struct page		*pages[AFIB_RDMA_IOV_PAGES];
	u16			offs[AFIB_RDMA_IOV_PAGES];
	u32			nsge;
	u32			npages;
	bool			write;
	bool			mapped;
	struct ib_device	*ibdev;
	struct afib_mr		*mr;
	struct sk_buff		*skb;
	u32			seq;
	u32			bytes;
	bool			done;
	bool			async;
	int			status;
};

/**
 * afib_rdma_wc_errno() - the errno an RDMA completion status means.
 * @status: the completion's status.
 *
 * Return: 0 or a negative errno.
 */
int afib_rdma_wc_errno(enum ib_wc_status status)
{
	switch (status) {
	case IB_WC_SUCCESS:
		return 0;
	case IB_WC_REM_ACCESS_ERR:
		return -EACCES;
	case IB_WC_LOC_PROT_ERR:
	case IB_WC_LOC_ACCESS_ERR:
	case IB_WC_MW_BIND_ERR:
		return -EFAULT;
	case IB_WC_LOC_LEN_ERR:
		return -EMSGSIZE;
	case IB_WC_REM_INV_REQ_ERR:
	case IB_WC_REM_OP_ERR:
	case IB_WC_REM_ABORT_ERR:
	case IB_WC_REM_INV_RD_REQ_ERR:
		return -EREMOTEIO;
	case IB_WC_RETRY_EXC_ERR:
	case IB_WC_RNR_RETRY_EXC_ERR:
		return -ETIMEDOUT;
	case IB_WC_WR_FLUSH_ERR:
		return -ECANCELED;
	default:
		return -EIO;
	}
}
EXPORT_SYMBOL_GPL(afib_rdma_wc_errno);

static bool afib_rdma_is_atomic(u32 type)
{
	return type == AFIB_CMSG_FETCH_ADD || type == AFIB_CMSG_CMP_SWAP;
}

/*
 * Check one operation: reserved fields, and the fields that make sense
 * for its type only.
 */
static int afib_rdma_check(u32 type, const struct afib_rdma_op *op)
{
	bool atomic = afib_rdma_is_atomic(type);

	if (op->flags || op->reserved[0] || op->reserved[1])
		return -EINVAL;
	if (op->imm && type != AFIB_CMSG_RDMA_WRITE_IMM)
		return -EINVAL;
	if (!atomic && op->compare_add)
		return -EINVAL;
	if (op->swap && type != AFIB_CMSG_CMP_SWAP)
		return -EINVAL;
	if (!op->local_handle && (op->local_offset || op->length))
		return -EINVAL;
	if (atomic && (op->remote_addr & 7))
		return -EINVAL;
	if (atomic && op->local_handle &&
	    (op->length != 8 || (op->local_offset & 7)))
		return -EINVAL;
	if (op->length > AFIB_MR_MAX_LEN)
		return -EMSGSIZE;
	return 0;
}

/**
 * afib_rdma_parse() - find the RDMA operation in a sendmsg()'s cmsgs.
 * @msg: the message, its control data in kernel memory.
 * @req: the operation found.
 *
 * Exactly one cmsg, at level SOL_AFIB, of an operation type and exactly
 * the length of a struct afib_rdma_op, with consistent fields.
 *
 * Return: 0, -EINVAL for anything else, -EMSGSIZE for a length above
 * AFIB_MR_MAX_LEN.
 */
int afib_rdma_parse(struct msghdr *msg, struct afib_rdma_req *req)
{
	struct cmsghdr *cmsg;
	bool found = false;

	if (msg->msg_controllen < sizeof(struct cmsghdr))
		return -EINVAL;
	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg) || cmsg->cmsg_level != SOL_AFIB)
			return -EINVAL;
		switch (cmsg->cmsg_type) {
		case AFIB_CMSG_RDMA_WRITE:
		case AFIB_CMSG_RDMA_WRITE_IMM:
		case AFIB_CMSG_RDMA_READ:
		case AFIB_CMSG_FETCH_ADD:
		case AFIB_CMSG_CMP_SWAP:
			break;
		default:
			return -EINVAL;
		}
		/* One operation per call. */
		if (found ||
		    cmsg->cmsg_len != CMSG_LEN(sizeof(struct afib_rdma_op)))
			return -EINVAL;
		memcpy(&req->op, CMSG_DATA(cmsg), sizeof(req->op));
		req->type = cmsg->cmsg_type;
		found = true;
	}
	if (!found)
		return -EINVAL;
	return afib_rdma_check(req->type, &req->op);
}
EXPORT_SYMBOL_GPL(afib_rdma_parse);

/**
 * afib_rdma_access() - verbs access flags of AFIB_ACCESS_* bits.
 * @access: the user's bits.
 *
 * Return: IB_ACCESS_* flags, or -EINVAL for unknown bits or remote write
 * or atomic access without local write (verbs' rule).
 */
int afib_rdma_access(u32 access)
{
	int flags = 0;

	if (access & ~AFIB_ACCESS_ALL)
		return -EINVAL;
	if ((access & (AFIB_ACCESS_REMOTE_WRITE | AFIB_ACCESS_REMOTE_ATOMIC)) &&
	    !(access & AFIB_ACCESS_LOCAL_WRITE))
		return -EINVAL;
	if (access & AFIB_ACCESS_LOCAL_WRITE)
		flags |= IB_ACCESS_LOCAL_WRITE;
	if (access & AFIB_ACCESS_REMOTE_WRITE)
		flags |= IB_ACCESS_REMOTE_WRITE;
	if (access & AFIB_ACCESS_REMOTE_READ)
		flags |= IB_ACCESS_REMOTE_READ;
	if (access & AFIB_ACCESS_REMOTE_ATOMIC)
		flags |= IB_ACCESS_REMOTE_ATOMIC;
	return flags;
}
EXPORT_SYMBOL_GPL(afib_rdma_access);

/**
 * afib_rdma_pages() - pages a user range spans.
 * @addr: its start.
 * @len: its length, not 0.
 *
 * Return: the number of pages.
 */
u64 afib_rdma_pages(u64 addr, u64 len)
{
	return (PAGE_ALIGN(addr + len) - (addr & PAGE_MASK)) >> PAGE_SHIFT;
}
EXPORT_SYMBOL_GPL(afib_rdma_pages);

/**
 * afib_mr_blocks() - pages of one size a range spans.
 * @addr: its start.
 * @len: its length, not 0, @addr + @len not past the end of u64.
 * @pgsz: the page size, a power of two.
 *
 * Return: the number of @pgsz-aligned pages of @pgsz bytes it touches.
 */
u64 afib_mr_blocks(u64 addr, u64 len, u64 pgsz)
{
	unsigned int shift = __ffs64(pgsz);

	return ((addr + len - 1) >> shift) - (addr >> shift) + 1;
}
EXPORT_SYMBOL_GPL(afib_mr_blocks);

/**
 * afib_mr_pgsz() - the page size to register a mapped region with.
 * @sgl: its DMA-mapped scatterlist, describing exactly [@va, @va + @len).
 * @nents: mapped entries of @sgl.
 * @va: the iova the region gets (the user's address of its first byte).
 * @len: its length, not 0.
 * @pgsz_cap: page sizes the device supports (page_size_cap).
 *
 * A page size fits when each page of the MR is one run of DMA addresses:
 * iova and DMA address agree in the bits below it at the start of every
 * entry, and every entry but the last ends on a page boundary.  Of those
 * (PAGE_SIZE and above, at most 2 GiB for ib_map_mr_sg()) the one giving
 * the fewest pages wins, the smallest of equals.  A size above PAGE_SIZE
 * counts only while its pages cover at most AFIB_MR_MAX_LEN: drivers
 * (rxe) may still keep a table entry per PAGE_SIZE of what they cover.
 *
 * Return: the page size, 0 if none fits.
 */
unsigned int afib_mr_pgsz(struct scatterlist *sgl, int nents, u64 va,
			  u64 len, u64 pgsz_cap)
{
	u64 diff = 0, iova = va, n, best_n = U64_MAX;
	unsigned int best = 0, bit;
	struct scatterlist *sg;
	unsigned long cap;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		diff |= sg_dma_address(sg) ^ iova;
		iova += sg_dma_len(sg);
		if (i < nents - 1)
			diff |= iova;
	}
	cap = pgsz_cap & GENMASK_ULL(31, PAGE_SHIFT);
	/* The lowest bit that differs is the largest page size that fits. */
	if (diff)
		cap &= GENMASK_ULL(__ffs64(diff), 0);
	for_each_set_bit(bit, &cap, 32) {
		n = afib_mr_blocks(va, len, 1ULL << bit);
		if (bit > PAGE_SHIFT && n > AFIB_MR_MAX_LEN >> bit)
			break;
		if (n < best_n) {
			best_n = n;
			best = 1U << bit;
		}
	}
	return best;
}
EXPORT_SYMBOL_GPL(afib_mr_pgsz);

/* Wake whoever sleeps on the socket: a completion came. */
static void afib_rdma_wake(struct afib_sock *as)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(as->sk.sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_all(&wq->wait);
	rcu_read_unlock();
}

/*
 * Wait for a local work request (REG_MR, LOCAL_INV) that cannot be
 * abandoned.  It completes soon, or is flushed when the QP goes: a
 * fatal signal only makes us poll instead of sleeping.
 */
static void afib_rdma_wait_done(struct afib_sock *as, bool *done)
{
	long timeo = MAX_SCHEDULE_TIMEOUT;

	/* Paired with the smp_store_release() in afib_mr_done(). */
	while (!smp_load_acquire(done)) {
		/* Paired likewise. */
		if (afib_wait_cq_killable(as, &timeo, smp_load_acquire(done)))
			usleep_range(50, 100);
		timeo = MAX_SCHEDULE_TIMEOUT;
	}
}

/* --- memory regions ---------------------------------------------------- */

/* Release the verbs resources of @mr.  Caller holds as->mr_lock. */
static void __afib_mr_release(struct afib_mr *mr)
{
	lockdep_assert_held(&mr->as->mr_lock);
	list_del_init(&mr->node);
	if (mr->ibmr)
		ib_dereg_mr(mr->ibmr);
	mr->ibmr = NULL;
	if (mr->mapped)
		ib_dma_unmap_sg(mr->ibdev, mr->sgt.sgl, mr->sgt.orig_nents,
				DMA_BIDIRECTIONAL);
	mr->mapped = false;
	sg_free_table(&mr->sgt);
	if (mr->npages) {
		unpin_user_pages_dirty_lock(mr->pages, mr->npages,
					    mr->writable);
		atomic64_sub(mr->npages, &mr->mm->pinned_vm);
	}
	mr->npages = 0;
	kvfree(mr->pages);
	mr->pages = NULL;
	if (mr->mm)
		mmdrop(mr->mm);
	mr->mm = NULL;
}

static void afib_mr_put(struct afib_mr *mr)
{
	struct afib_sock *as = mr->as;

	if (!refcount_dec_and_test(&mr->ref))
		return;
	mutex_lock(&as->mr_lock);
	__afib_mr_release(mr);
	mutex_unlock(&as->mr_lock);
	kfree(mr);
}

/* The MR named @handle, with a reference, or NULL. */
static struct afib_mr *afib_mr_get(struct afib_sock *as, u32 handle)
{
	struct afib_mr *mr;

	xa_lock(&as->mrs);
	mr = xa_load(&as->mrs, handle);
	if (mr && !refcount_inc_not_zero(&mr->ref))
		mr = NULL;
	xa_unlock(&as->mrs);
	return mr;
}

static void afib_mr_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_mr *mr = container_of(wc->wr_cqe, struct afib_mr, cqe);
	struct afib_sock *as = cq->cq_context;

	mr->status = afib_rdma_wc_errno(wc->status);
	if (afib_wc_fatal(as, wc))
		afib_conn_error(as, ECONNRESET);
	/* @as outlives the waiter, who owns @mr once this is set. */
	/* Paired with the smp_load_acquire()s in afib_rdma_wait_done(). */
	smp_store_release(&mr->done, true);
	afib_rdma_wake(as);
}

/* Post REG_MR or LOCAL_INV for @mr.  Caller holds qp_lock. */
static int afib_mr_post(struct afib_sock *as, struct afib_mr *mr,
			struct ib_send_wr *wr)
{
	int err;

	mr->done = false;
	wr->wr_cqe = &mr->cqe;
	wr->send_flags |= IB_SEND_SIGNALED;
	spin_lock_bh(&as->lock);
	if (as->dead || as->peer_gone || !as->qp) {
		err = -ENOTCONN;
	} else {
		/*
		 * Its completion frees no send buffers (afib_mr_done()), so
		 * tx_unsig stays: see afib_tx_post().
		 */
		err = ib_post_send(as->qp, wr, NULL);
	}
	spin_unlock_bh(&as->lock);
	return err;
}

/* Pin the user's pages of @mr and charge them, as ib_umem_get() does. */
static int afib_mr_pin(struct afib_mr *mr, u64 addr, u64 len)
{
	unsigned int flags = FOLL_LONGTERM | (mr->writable ? FOLL_WRITE : 0);
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	u64 npages = afib_rdma_pages(addr, len);
	unsigned long start = addr & PAGE_MASK;
	u64 pinned = 0;
	int got;

	mr->pages = kvmalloc_array(npages, sizeof(*mr->pages), GFP_KERNEL);
	if (!mr->pages)
		return -ENOMEM;
	mr->mm = current->mm;
	mmgrab(mr->mm);
	if (atomic64_add_return(npages, &mr->mm->pinned_vm) > limit &&
	    !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mr->mm->pinned_vm);
		return -ENOMEM;
	}
	while (pinned < npages) {
		got = pin_user_pages_fast(start + (pinned << PAGE_SHIFT),
					  min_t(u64, npages - pinned, INT_MAX),
					  flags, mr->pages + pinned);
		if (got <= 0)
			break;
		pinned += got;
	}
	/* __afib_mr_release() unpins and uncharges @npages pages. */
	mr->npages = pinned;
	atomic64_sub(npages - pinned, &mr->mm->pinned_vm);
	if (pinned < npages)
		return got < 0 && got != -EFAULT ? got : -EFAULT;
	return sg_alloc_table_from_pages(&mr->sgt, mr->pages, npages,
					 offset_in_page(addr), len,
					 GFP_KERNEL);
}

/*
 * Map @mr for the device and post its registration, in pages as large as
 * the mapping allows (see afib_mr_pgsz()).  Caller holds qp_lock; @mr
 * joins mr_list, so afib_kill() releases it if the socket dies.
 */
static int afib_mr_map(struct afib_sock *as, struct afib_mr *mr, u64 addr,
		       u64 len, int access)
{
	struct ib_reg_wr reg = {
		.wr.opcode	= IB_WR_REG_MR,
		.access		= access,
	};
	struct ib_device *ibdev;
	unsigned int pgsz;
	u64 npages;
	int n, err;

	if (!as->qp || READ_ONCE(as->dead))
		return -ENOTCONN;
	ibdev = as->dev->ibdev;
	mutex_lock(&as->mr_lock);
	list_add(&mr->node, &as->mr_list);
	mutex_unlock(&as->mr_lock);
	mr->ibdev = ibdev;
	n = ib_dma_map_sg(ibdev, mr->sgt.sgl, mr->sgt.orig_nents,
			  DMA_BIDIRECTIONAL);
	if (!n)
		return -ENOMEM;
	mr->mapped = true;
	mr->sgt.nents = n;
	pgsz = afib_mr_pgsz(mr->sgt.sgl, n, addr, len,
			    ibdev->attrs.page_size_cap);
	if (!pgsz)
		return -EOPNOTSUPP;
	npages = afib_mr_blocks(addr, len, pgsz);
	if (npages > ibdev->attrs.max_fast_reg_page_list_len)
		return -EMSGSIZE;
	mr->ibmr = ib_alloc_mr(as->pd, IB_MR_TYPE_MEM_REG, npages);
	if (IS_ERR(mr->ibmr)) {
		err = PTR_ERR(mr->ibmr);
		mr->ibmr = NULL;
		return err;
	}
	err = ib_map_mr_sg(mr->ibmr, mr->sgt.sgl, n, NULL, pgsz);
	if (err < 0)
		return err;
	/* Fewer entries: the page list ran out, or our page size was off. */
	if (err != n)
		return -EMSGSIZE;
	/*
	 * The peer addresses the region by the user's address, not by our
	 * DMA address (a kernel address on rxe).  Both agree below @pgsz,
	 * and drivers translate relative to the iova.
	 */
	mr->ibmr->iova = addr;
	ib_update_fast_reg_key(mr->ibmr, ++as->mr_key);
	mr->lkey = mr->ibmr->lkey;
	mr->rkey = mr->ibmr->rkey;
	mr->iova = addr;
	mr->length = mr->ibmr->length;
	reg.mr = mr->ibmr;
	reg.key = mr->ibmr->rkey;
	return afib_mr_post(as, mr, &reg.wr);
}

/*
 * Invalidate @mr (out of the table, our reference) and drop it.  Once the
 * invalidation completed, everything posted before it has (fence, and a
 * send queue completes in order), and nothing is posted with @mr after
 * it (afib_rop_post()): its pages go now, whoever still holds it.
 */
static void afib_mr_unregister(struct afib_sock *as, struct afib_mr *mr)
{
	struct ib_send_wr inv = {
		.opcode			= IB_WR_LOCAL_INV,
		/* After what uses it: RDMA reads still land in it. */
		.send_flags		= IB_SEND_FENCE,
		.ex.invalidate_rkey	= mr->rkey,
	};
	int err = -ENOTCONN;

	mutex_lock(&as->qp_lock);
	mr->gone = true;
	if (mr->ibmr)
		err = afib_mr_post(as, mr, &inv);
	mutex_unlock(&as->qp_lock);
	if (!err) {
		afib_rdma_wait_done(as, &mr->done);
		mutex_lock(&as->mr_lock);
		__afib_mr_release(mr);
		mutex_unlock(&as->mr_lock);
	}
	afib_mr_put(mr);
}

static int afib_mr_reg(struct afib_sock *as, sockptr_t optval,
		       unsigned int optlen)
{
	struct afib_mr_desc desc = {};
	struct afib_mr_reg reg;
	const struct ib_device_attr *attrs;
	struct afib_mr *mr;
	u64 pgsz = 0;
	int access, err;
	u32 max = 0;

	if (optlen != sizeof(reg))
		return -EINVAL;
	if (copy_from_sockptr(&reg, optval, sizeof(reg)))
		return -EFAULT;
	access = afib_rdma_access(reg.access);
	if (access < 0)
		return access;
	if (reg.flags || reg.reserved[0] || reg.reserved[1] || !reg.length ||
	    reg.addr + reg.length < reg.addr)
		return -EINVAL;
	if (reg.length > AFIB_MR_MAX_LEN)
		return -EMSGSIZE;
	switch (READ_ONCE(as->sk.sk_state)) {
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		break;
	default:
		return -ENOTCONN;
	}
	if (!current->mm)
		return -EINVAL;
	/*
	 * Before pinning anything: more pages than the device registers at
	 * once even in its largest page size?  The page size that fits is
	 * known once the pages are pinned and mapped (afib_mr_map()).
	 */
	mutex_lock(&as->qp_lock);
	if (as->qp) {
		attrs = &as->dev->ibdev->attrs;
		max = attrs->max_fast_reg_page_list_len;
		pgsz = attrs->page_size_cap & GENMASK_ULL(31, PAGE_SHIFT);
	}
	mutex_unlock(&as->qp_lock);
	if (!max)
		return -ENOTCONN;
	if (!pgsz)
		return -EOPNOTSUPP;
	pgsz = 1ULL << (fls64(pgsz) - 1);
	if (afib_mr_blocks(reg.addr, reg.length, pgsz) > max)
		return -EMSGSIZE;

	mr = kzalloc(sizeof(*mr), GFP_KERNEL);
	if (!mr)
		return -ENOMEM;
	mr->as = as;
	refcount_set(&mr->ref, 1);
	INIT_LIST_HEAD(&mr->node);
	mr->cqe.done = afib_mr_done;
	mr->writable = !!(reg.access & AFIB_ACCESS_LOCAL_WRITE);

	if (mutex_lock_interruptible(&as->mr_mutex)) {
		kfree(mr);
		return -ERESTARTSYS;
	}
	err = afib_mr_pin(mr, reg.addr, reg.length);
	if (err)
		goto put;
	mutex_lock(&as->qp_lock);
	err = afib_mr_map(as, mr, reg.addr, reg.length, access);
	mutex_unlock(&as->qp_lock);
	if (err)
		goto put;
	afib_rdma_wait_done(as, &mr->done);
	err = mr->status;
	if (err) {
		err = err == -ECANCELED ? -ENOTCONN : err;
		goto put;
	}
	err = xa_alloc_cyclic(&as->mrs, &mr->handle, mr,
			      XA_LIMIT(1, INT_MAX), &as->mr_next, GFP_KERNEL);
	if (err < 0) {
		afib_mr_unregister(as, mr);
		goto unlock;
	}
	desc.handle = mr->handle;
	desc.rkey = mr->rkey;
	desc.remote_addr = mr->iova;
	desc.length = mr->length;
	err = 0;
	if (copy_to_user(u64_to_user_ptr(reg.desc_addr), &desc,
			 sizeof(desc))) {
		/* Nobody learnt of it: undo. */
		xa_erase(&as->mrs, mr->handle);
		afib_mr_unregister(as, mr);
		err = -EFAULT;
	}
	goto unlock;
put:
	afib_mr_put(mr);
unlock:
	mutex_unlock(&as->mr_mutex);
	return err;
}

static int afib_mr_dereg(struct afib_sock *as, sockptr_t optval,
			 unsigned int optlen)
{
	struct afib_mr_dereg dereg;
	struct afib_mr *mr;

	if (optlen != sizeof(dereg))
		return -EINVAL;
	if (copy_from_sockptr(&dereg, optval, sizeof(dereg)))
		return -EFAULT;
	if (dereg.flags)
		return -EINVAL;
	if (mutex_lock_interruptible(&as->mr_mutex))
		return -ERESTARTSYS;
	mr = xa_erase(&as->mrs, dereg.handle);
	if (mr)
		afib_mr_unregister(as, mr);
	mutex_unlock(&as->mr_mutex);
	return mr ? 0 : -ENOENT;
}

/**
 * afib_rdma_setsockopt() - the RDMA options of a connection.
 * @as: the socket.
 * @optname: AFIB_MR_REG, AFIB_MR_DEREG or AFIB_RDMA_ASYNC.
 * @optval: the option's value.
 * @optlen: its length.
 *
 * Return: 0, a negative errno, or -ENOPROTOOPT for another option.
 */
int afib_rdma_setsockopt(struct afib_sock *as, int optname, sockptr_t optval,
			 unsigned int optlen)
{
	int val;

	switch (optname) {
	case AFIB_MR_REG:
	case AFIB_MR_DEREG:
	case AFIB_RDMA_ASYNC:
		if (!as->xp->rdma_room)
			return -EOPNOTSUPP;
		break;
	default:
		return -ENOPROTOOPT;
	}
	switch (optname) {
	case AFIB_MR_REG:
		return afib_mr_reg(as, optval, optlen);
	case AFIB_MR_DEREG:
		return afib_mr_dereg(as, optval, optlen);
	case AFIB_RDMA_ASYNC:
		if (optlen < sizeof(int))
			return -EINVAL;
		if (copy_from_sockptr(&val, optval, sizeof(val)))
			return -EFAULT;
		WRITE_ONCE(as->rdma_async, !!val);
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

/* --- operations -------------------------------------------------------- */

/* The user segments of a sendmsg() iovec: @i-th base and length. */
static bool afib_iter_seg(const struct iov_iter *iter, unsigned long i,
			  void __user **base, size_t *len)
{
	const struct iovec *iov;
	size_t skip = i ? 0 : iter->iov_offset;

	if (iter_is_ubuf(iter)) {
		if (i)
			return false;
		*base = iter->ubuf + skip;
		*len = iter->count;
		return true;
	}
	if (!iter_is_iovec(iter) || i >= iter->nr_segs)
		return false;
#ifdef AFIB_HAVE_ITER_IOV
	iov = iter_iov(iter) + i;
#else
	iov = iter->iov + i;
#endif
	*base = iov->iov_base + skip;
	*len = iov->iov_len - skip;
	return true;
}

/*
 * Pin the iovec's pages (writable for @rop->write), one SGE each, at most
 * AFIB_RDMA_IOV_PAGES, and note where in its page each SGE starts.
 */
static int afib_rop_pin(struct afib_rop *rop, struct iov_iter *iter)
{
	unsigned int flags = rop->write ? FOLL_WRITE : 0;
	size_t left = iov_iter_count(iter), len, off, n;
	unsigned long i, start, npages;
	void __user *base;
	int got;

	if (!user_backed_iter(iter))
		return -EOPNOTSUPP;
	for (i = 0; left && afib_iter_seg(iter, i, &base, &len); i++) {
		len = min(len, left);
		left -= len;
		if (!len)
			continue;
		start = (unsigned long)base;
		if (start + len < start)
			return -EFAULT;
		npages = afib_rdma_pages(start, len);
		if (rop->npages + npages > AFIB_RDMA_IOV_PAGES)
			return -EMSGSIZE;
		got = pin_user_pages_fast(start & PAGE_MASK, npages, flags,
					  rop->pages + rop->npages);
		if (got > 0)
			rop->npages += got;
		if (got != npages)
			return got < 0 && got != -EFAULT ? got : -EFAULT;
		off = offset_in_page(start);
		while (len) {
			n = min_t(size_t, len, PAGE_SIZE - off);
			rop->offs[rop->nsge] = off;
			rop->sge[rop->nsge].length = n;
			rop->nsge++;
			len -= n;
			off = 0;
		}
	}
	return 0;
}

/* Unmap the local side.  The device is alive (qp_lock, or a handler). */
static void afib_rop_unmap(struct afib_rop *rop)
{
	enum dma_data_direction dir = rop->write ? DMA_FROM_DEVICE :
						   DMA_TO_DEVICE;
	u32 i;

	if (!rop->mapped)
		return;
	for (i = 0; i < rop->nsge; i++)
		ib_dma_unmap_page(rop->ibdev, rop->sge[i].addr,
				  rop->sge[i].length, dir);
	rop->mapped = false;
}

/* Map the pinned pages.  Caller holds qp_lock, the socket is alive. */
static int afib_rop_map(struct afib_sock *as, struct afib_rop *rop)
{
	enum dma_data_direction dir = rop->write ? DMA_FROM_DEVICE :
						   DMA_TO_DEVICE;
	struct ib_device *ibdev = as->dev->ibdev;
	u32 max_sge = as->max_send_sge;
	u64 dma;
	u32 i;

	if (rop->req.type == AFIB_CMSG_RDMA_READ)
		max_sge = min_t(u32, max_sge, ibdev->attrs.max_sge_rd);
	if (rop->nsge > max_sge)
		return -EMSGSIZE;
	rop->ibdev = ibdev;
	for (i = 0; i < rop->nsge; i++) {
		dma = ib_dma_map_page(ibdev, rop->pages[i], rop->offs[i],
				      rop->sge[i].length, dir);
		if (ib_dma_mapping_error(ibdev, dma)) {
			while (i--)
				ib_dma_unmap_page(ibdev, rop->sge[i].addr,
						  rop->sge[i].length, dir);
			return -ENOMEM;
		}
		rop->sge[i].addr = dma;
		rop->sge[i].lkey = as->pd->local_dma_lkey;
	}
	rop->mapped = true;
	return 0;
}

static void afib_rop_free(struct afib_rop *rop)
{
	if (rop->npages) {
		if (rop->write)
			unpin_user_pages_dirty_lock(rop->pages, rop->npages,
						    true);
		else
			unpin_user_pages(rop->pages, rop->npages);
	}
	if (rop->mr)
		afib_mr_put(rop->mr);
	kfree_skb(rop->skb);
	kfree(rop);
}

/*
 * Queue the completion of @rop on the error queue; frees nothing and
 * wakes nobody (sk_error_report() does).  Caller holds as->lock.
 */
static void __afib_rop_queue(struct afib_sock *as, struct afib_rop *rop)
{
	struct sk_buff *skb = rop->skb;
	struct sock_exterr_skb *serr;

	rop->skb = NULL;
	serr = SKB_EXT_ERR(skb);
	memset(serr, 0, sizeof(*serr));
	serr->ee.ee_errno = -rop->status;
	serr->ee.ee_origin = AFIB_EE_ORIGIN_RDMA;
	serr->ee.ee_type = rop->req.type;
	serr->ee.ee_info = lower_32_bits(rop->req.op.token);
	serr->ee.ee_data = upper_32_bits(rop->req.op.token);
	/* Bounded by AFIB_RDMA_MAX_OPS, so not by sk_rcvbuf. */
	skb_set_owner_r(skb, &as->sk);
	skb_queue_tail(&as->sk.sk_error_queue, skb);
}

static void afib_rop_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct afib_rop *rop = container_of(wc->wr_cqe, struct afib_rop, cqe);
	struct afib_sock *as = cq->cq_context;
	bool async, wake;

	afib_rop_unmap(rop);
	/*
	 * An asynchronous completion goes on the error queue before a
	 * fatal status raises POLLERR and before the operation stops
	 * counting against AFIB_RDMA_MAX_OPS (__afib_rop_room() adds the
	 * two): whoever either wakes finds it there.
	 */
	spin_lock_bh(&as->lock);
	rop->status = afib_rdma_wc_errno(wc->status);
	if (rop->async)
		__afib_rop_queue(as, rop);
	spin_unlock_bh(&as->lock);
	if (afib_wc_fatal(as, wc))
		as->xp->rdma_fail(as, ECONNRESET);

	spin_lock_bh(&as->lock);
	__afib_tx_complete(as, rop->seq, rop->bytes);
	/* SDP: data held for this completion (Nagle) goes now. */
	if (as->xp->type == SOCK_STREAM && !as->dead && as->qp)
		as->xp->ctrl_flush(as);
	as->rdma_inflight--;
	/* A waiter killed in between handed @rop over: report it now. */
	async = rop->async;
	if (async && rop->skb)
		__afib_rop_queue(as, rop);
	/* The waiter owns @rop from here on. */
	if (!async) {
		/* Paired with the smp_load_acquire() in afib_rdma_cmsg(). */
		smp_store_release(&rop->done, true);
	}
	wake = __afib_tx_wake(as);
	spin_unlock_bh(&as->lock);

	if (async) {
		sk_error_report(&as->sk);
		afib_rop_free(rop);
	} else {
		afib_rdma_wake(as);
	}
	if (wake)
		as->sk.sk_write_space(&as->sk);
}

/* Fill in the work request of @rop from what the user asked. */
static void afib_rop_build(struct afib_rop *rop)
{
	const struct afib_rdma_op *op = &rop->req.op;
	struct ib_send_wr *wr = &rop->wr.rdma.wr;

	if (rop->mr) {
		rop->sge[0].addr = rop->mr->iova + op->local_offset;
		rop->sge[0].length = op->length;
		rop->sge[0].lkey = rop->mr->lkey;
		rop->nsge = op->length ? 1 : 0;
	}
	memset(&rop->wr, 0, sizeof(rop->wr));
	wr->wr_cqe = &rop->cqe;
	wr->sg_list = rop->nsge ? rop->sge : NULL;
	wr->num_sge = rop->nsge;
	wr->send_flags = IB_SEND_SIGNALED;
	switch (rop->req.type) {
	case AFIB_CMSG_RDMA_WRITE:
		wr->opcode = IB_WR_RDMA_WRITE;
		break;
	case AFIB_CMSG_RDMA_WRITE_IMM:
		wr->opcode = IB_WR_RDMA_WRITE_WITH_IMM;
		wr->ex.imm_data = cpu_to_be32(op->imm);
		break;
	case AFIB_CMSG_RDMA_READ:
		wr->opcode = IB_WR_RDMA_READ;
		break;
	case AFIB_CMSG_FETCH_ADD:
		wr->opcode = IB_WR_ATOMIC_FETCH_AND_ADD;
		break;
	case AFIB_CMSG_CMP_SWAP:
		wr->opcode = IB_WR_ATOMIC_CMP_AND_SWP;
		break;
	}
	if (afib_rdma_is_atomic(rop->req.type)) {
		rop->wr.atomic.remote_addr = op->remote_addr;
		rop->wr.atomic.rkey = op->rkey;
		rop->wr.atomic.compare_add = op->compare_add;
		rop->wr.atomic.swap = op->swap;
	} else {
		rop->wr.rdma.remote_addr = op->remote_addr;
		rop->wr.rdma.rkey = op->rkey;
	}
}

/**
 * afib_seq_rdma_room() - afib_xport.rdma_room of SOCK_SEQPACKET.
 * @as: the socket; caller holds as->lock.
 * @type: the operation.
 *
 * Operations have send queue room of their own; a write with immediate
 * needs a credit.
 *
 * Return: 0, or -EAGAIN with the wakeup armed.
 */
int afib_seq_rdma_room(struct afib_sock *as, u32 type)
{
	if (type == AFIB_CMSG_RDMA_WRITE_IMM &&
	    !afib_can_send(as->tx_credits, 1, false)) {
		__afib_tx_want(as, 1);
		return -EAGAIN;
	}
	return 0;
}

/**
 * afib_seq_rdma_posted() - afib_xport.rdma_posted of SOCK_SEQPACKET.
 * @as: the socket; caller holds as->lock.
 * @type: the operation posted.
 * @bytes: SDP's, 0 here.
 *
 * Return: the ring position posted before it: its completion (signaled)
 * frees the ring up to there.
 */
u32 afib_seq_rdma_posted(struct afib_sock *as, u32 type, u32 *bytes)
{
	as->tx_unsig = 0;
	if (type == AFIB_CMSG_RDMA_WRITE_IMM)
		as->tx_credits--;
	*bytes = 0;
	return as->tx_posted;
}

/*
 * Can @rop be posted now?  0 if so; -EAGAIN to wait for a completion or
 * a credit (the next one wakes us); -ENOBUFS when only reading the error
 * queue makes room; or why sending is over.  Caller holds as->lock.
 */
static int __afib_rop_room(struct afib_sock *as, struct afib_rop *rop)
{
	u32 queued = skb_queue_len_lockless(&as->sk.sk_error_queue);

	if (__afib_tx_over(as))
		return sock_error(&as->sk) ?: -EPIPE;
	if (as->rdma_inflight + queued >= AFIB_RDMA_MAX_OPS)
		return as->rdma_inflight ? -EAGAIN : -ENOBUFS;
	return as->xp->rdma_room(as, rop->req.type);
}

static bool afib_rop_ready(struct afib_sock *as, struct afib_rop *rop)
{
	int err;

	spin_lock_bh(&as->lock);
	err = __afib_rop_room(as, rop);
	spin_unlock_bh(&as->lock);
	return err != -EAGAIN;
}

/* Map and post @rop, or say why not; see __afib_rop_room(). */
static int afib_rop_post(struct afib_sock *as, struct afib_rop *rop)
{
	int err;

	mutex_lock(&as->qp_lock);
	if (!as->qp || READ_ONCE(as->dead)) {
		err = sock_error(&as->sk) ?: -EPIPE;
		goto unlock;
	}
	/* Deregistered while we waited: see afib_mr_unregister(). */
	if (rop->mr && rop->mr->gone) {
		err = -ENOENT;
		goto unlock;
	}
	err = afib_rop_map(as, rop);
	if (err)
		goto unlock;
	afib_rop_build(rop);
	spin_lock_bh(&as->lock);
	err = __afib_rop_room(as, rop);
	if (!err) {
		err = ib_post_send(as->qp, &rop->wr.rdma.wr, NULL);
		if (err) {
			/* The QP is broken: the connection is over. */
			as->peer_gone = true;
			err = -ECONNRESET;
		}
	}
	if (!err) {
		as->rdma_inflight++;
		rop->seq = as->xp->rdma_posted(as, rop->req.type, &rop->bytes);
	}
	spin_unlock_bh(&as->lock);
	if (err)
		afib_rop_unmap(rop);
	if (err == -ECONNRESET)
		afib_set_error(&as->sk, ECONNRESET);
unlock:
	mutex_unlock(&as->qp_lock);
	return err;
}

/* Set up the local side of @rop: pinned iovec or an MR range. */
static int afib_rop_local(struct afib_sock *as, struct afib_rop *rop,
			  struct msghdr *msg, size_t len)
{
	const struct afib_rdma_op *op = &rop->req.op;
	bool atomic = afib_rdma_is_atomic(rop->req.type);
	int err;

	if (!op->local_handle) {
		if (len > AFIB_MR_MAX_LEN)
			return -EMSGSIZE;
		if (atomic && len != 8)
			return -EINVAL;
		err = afib_rop_pin(rop, &msg->msg_iter);
		/* The 8 bytes in one SGE: not across a page. */
		if (!err && atomic && rop->nsge != 1)
			err = -EINVAL;
		return err;
	}
	if (len)
		return -EINVAL;
	rop->mr = afib_mr_get(as, op->local_handle);
	if (!rop->mr)
		return -ENOENT;
	if (op->local_offset > rop->mr->length ||
	    op->length > rop->mr->length - op->local_offset)
		return -EINVAL;
	if (rop->write && !rop->mr->writable)
		return -EACCES;
	return 0;
}

/**
 * afib_rdma_is_cmsg() - does a sendmsg() carry control data at SOL_AFIB?
 * @msg: the message, its control data in kernel memory.
 * @bad: malformed control data counts too (afib_rdma_parse() refuses it).
 *
 * Return: true if any of its well-formed cmsgs is at level SOL_AFIB.
 */
bool afib_rdma_is_cmsg(struct msghdr *msg, bool bad)
{
	struct cmsghdr *cmsg;

	if (!msg->msg_controllen)
		return false;
	if (msg->msg_controllen < sizeof(struct cmsghdr))
		return bad;
	for_each_cmsghdr(cmsg, msg) {
		if (!CMSG_OK(msg, cmsg))
			return bad;
		if (cmsg->cmsg_level == SOL_AFIB)
			return true;
	}
	return false;
}
EXPORT_SYMBOL_GPL(afib_rdma_is_cmsg);

/**
 * afib_rdma_cmsg() - sendmsg() with an RDMA operation: parse its cmsg
 * (afib_rdma_parse()) and carry it out.
 * @as: a connected socket whose transport does RDMA.
 * @msg: the message; its iovec is the local side, or empty.
 * @len: the iovec's length.
 *
 * Return: bytes transferred (or posted, when the completion goes to the
 * error queue), or a negative errno.
 */
int afib_rdma_cmsg(struct afib_sock *as, struct msghdr *msg, size_t len)
{
	bool nonblock = msg->msg_flags & MSG_DONTWAIT;
	struct sock *sk = &as->sk;
	struct afib_rop *rop;
	bool async, handed;
	int err, cut = 0;
	long timeo;

	if (!as->xp->rdma_room)
		return -EOPNOTSUPP;
	rop = kzalloc(sizeof(*rop), GFP_KERNEL);
	if (!rop)
		return -ENOMEM;
	rop->as = as;
	rop->cqe.done = afib_rop_done;
	err = afib_rdma_parse(msg, &rop->req);
	if (err)
		goto free;
	rop->write = rop->req.type != AFIB_CMSG_RDMA_WRITE &&
		     rop->req.type != AFIB_CMSG_RDMA_WRITE_IMM;
	rop->skb = alloc_skb(0, GFP_KERNEL);
	if (!rop->skb) {
		err = -ENOMEM;
		goto free;
	}
	err = afib_rop_local(as, rop, msg, len);
	if (err)
		goto free;
	len = rop->mr ? rop->req.op.length : len;

	/*
	 * Decided before posting: the completion handler owns an
	 * asynchronous @rop as soon as it is posted.
	 */
	async = nonblock || READ_ONCE(as->rdma_async);
	rop->async = async;
	timeo = sock_sndtimeo(sk, nonblock);
	while ((err = afib_rop_post(as, rop)) == -EAGAIN && timeo) {
		err = afib_wait_cq(as, &timeo, afib_rop_ready(as, rop));
		if (err)
			break;
	}
	if (err)
		goto free;

	if (async)
		return len;

	/*
	 * Posted: from here on the completion handler may run.  A blocking
	 * call returns the operation's status, so only a fatal signal ends
	 * its wait (a restarted call would post it again); it completes
	 * soon, or is flushed when the connection ends.
	 */
	timeo = MAX_SCHEDULE_TIMEOUT;
	cut = afib_wait_cq_killable(as, &timeo,
				    /* Paired with afib_rop_done()'s. */
				    smp_load_acquire(&rop->done));
	/* Still in flight: the handler reports it on the error queue. */
	spin_lock_bh(&as->lock);
	if (!rop->done)
		rop->async = true;
	handed = rop->async;
	spin_unlock_bh(&as->lock);
	if (handed)
		return cut ?: len;
	err = rop->status;
free:
	afib_rop_free(rop);
	return err ?: len;
}
EXPORT_SYMBOL_GPL(afib_rdma_cmsg);

/**
 * afib_rdma_recv_errqueue() - recvmsg(MSG_ERRQUEUE): one completion.
 * @as: the socket.
 * @msg: where the AFIB_CMSG_COMPLETION cmsg goes.
 * @len: room for data (there is none).
 *
 * Return: 0, -EAGAIN when the queue is empty, or a negative errno.
 */
int afib_rdma_recv_errqueue(struct afib_sock *as, struct msghdr *msg,
			    size_t len)
{
	return sock_recv_errqueue(&as->sk, msg, len, SOL_AFIB,
				  AFIB_CMSG_COMPLETION);
}

/* --- socket lifetime --------------------------------------------------- */

/**
 * afib_rdma_init() - RDMA state of a new socket.
 * @as: the socket.
 */
void afib_rdma_init(struct afib_sock *as)
{
	xa_init_flags(&as->mrs, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&as->mr_list);
	mutex_init(&as->mr_mutex);
	mutex_init(&as->mr_lock);
}

/**
 * afib_rdma_kill() - release every MR's verbs resources.
 * @as: a socket whose QP was drained and destroyed; qp_lock held.
 *
 * Nothing can use them any more, and the PD must be empty before it is
 * freed.  The MRs stay in the handle table until deregistered or the
 * socket is destroyed.
 */
void afib_rdma_kill(struct afib_sock *as)
{
	struct afib_mr *mr, *tmp;

	lockdep_assert_held(&as->qp_lock);
	mutex_lock(&as->mr_lock);
	list_for_each_entry_safe(mr, tmp, &as->mr_list, node)
		__afib_mr_release(mr);
	mutex_unlock(&as->mr_lock);
}

/**
 * afib_rdma_release() - close(): deregister every MR.
 * @as: the socket, no longer reachable from user space.
 *
 * Each is invalidated and its pages unpinned once the invalidation
 * completed (afib_mr_unregister()), operations in flight or not, so a
 * connection that lingers to send what is queued (SDP) gives the peer no
 * access to the closed socket's memory.  The MRs of a connection that is
 * already down go with its QP (afib_rdma_kill()).
 */
void afib_rdma_release(struct afib_sock *as)
{
	struct afib_mr *mr;
	unsigned long i;

	mutex_lock(&as->mr_mutex);
	xa_for_each(&as->mrs, i, mr) {
		xa_erase(&as->mrs, i);
		afib_mr_unregister(as, mr);
	}
	mutex_unlock(&as->mr_mutex);
}
EXPORT_SYMBOL_GPL(afib_rdma_release);

/**
 * afib_rdma_destruct() - free what is left of the MRs.
 * @as: a socket being destroyed, after afib_kill().
 */
void afib_rdma_destruct(struct afib_sock *as)
{
	struct afib_mr *mr;
	unsigned long i;

	xa_for_each(&as->mrs, i, mr) {
		xa_erase(&as->mrs, i);
		afib_mr_put(mr);
	}
	xa_destroy(&as->mrs);
	skb_queue_purge(&as->sk.sk_error_queue);
}
