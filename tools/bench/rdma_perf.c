// SPDX-License-Identifier: GPL-2.0
/*
 * RDMA through AF_IB sockets, qperf style: RDMA write bandwidth and RDMA
 * read latency.
 *
 *   rdma_perf [-S] -s [-p PORT]
 *   rdma_perf [-S] -c ADDR [-p PORT] -t wbw|rlat -m SIZE [-T SECONDS] [-w N]
 *
 * -S: over SDP stream sockets (AF_INET_SDP) instead of SOCK_SEQPACKET.
 *
 * The server registers 1 MiB (remote read and write), sends the region's
 * descriptor as the connection's first message and waits for the client
 * to close.  Its CPU takes no part in the transfers.
 * wbw:  the client RDMA-writes SIZE bytes from a registered buffer into
 *       the region for SECONDS, N operations in flight (default 16),
 *       completions from the error queue (AFIB_RDMA_ASYNC); prints MB/s
 *       (10^6 bytes) of completed writes.
 * rlat: blocking RDMA reads of SIZE bytes, one at a time; prints the time
 *       of one read in microseconds (what qperf's rc_rdma_read_lat
 *       reports).
 * Output is one line "rdma_perf TEST SIZE VALUE UNIT".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/af_ib.h>

/* Below rxe's fast-registration limit of 512 pages. */
#define REGION	(1u << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int mr_reg(int fd, void *addr, size_t len, uint32_t access,
		  struct afib_mr_desc *desc)
{
	struct afib_mr_reg reg = {
		.addr = (uintptr_t)addr,
		.length = len,
		.access = access,
		.desc_addr = (uintptr_t)desc,
	};

	return setsockopt(fd, SOL_AFIB, AFIB_MR_REG, &reg, sizeof(reg));
}

static ssize_t rdma_op(int fd, int type, const struct afib_rdma_op *op)
{
	char ctl[CMSG_SPACE(sizeof(*op))] = {};
	struct msghdr msg = {
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_AFIB;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(sizeof(*op));
	memcpy(CMSG_DATA(c), op, sizeof(*op));
	return sendmsg(fd, &msg, 0);
}

/* Completions waiting on the error queue: their number, or -1 on error. */
static int reap(int fd, int wait)
{
	char ctl[CMSG_SPACE(sizeof(struct sock_extended_err))];
	struct sock_extended_err ee;
	struct msghdr msg;
	int n = 0;

	if (wait) {
		struct pollfd p = { .fd = fd };

		if (poll(&p, 1, 5000) <= 0)
			return -1;
	}
	for (;;) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_control = ctl;
		msg.msg_controllen = sizeof(ctl);
		if (recvmsg(fd, &msg, MSG_ERRQUEUE) < 0)
			return errno == EAGAIN ? n : -1;
		memcpy(&ee, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(ee));
		if (ee.ee_errno) {
			errno = ee.ee_errno;
			return -1;
		}
		n++;
	}
}

/* -S: SDP stream sockets. */
static int sdp;

static int perf_socket(void)
{
	return sdp ? socket(AF_INET_SDP, SOCK_STREAM, 0) :
		     socket(AF_IB, SOCK_SEQPACKET, 0);
}

static char *region(void)
{
	char *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int serve(unsigned short port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	struct afib_mr_desc desc;
	char *mem = region(), c;
	int lfd, fd;

	lfd = perf_socket();
	if (!mem || lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 4))
		die("rdma_perf: listen");
	printf("rdma_perf listening on port %u\n", port);
	fflush(stdout);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("rdma_perf: accept");
		if (mr_reg(fd, mem, REGION, AFIB_ACCESS_LOCAL_WRITE |
			   AFIB_ACCESS_REMOTE_WRITE | AFIB_ACCESS_REMOTE_READ,
			   &desc) ||
		    send(fd, &desc, sizeof(desc), 0) != sizeof(desc)) {
			perror("rdma_perf: register");
			close(fd);
			continue;
		}
		while (recv(fd, &c, 1, 0) > 0)
			;
		close(fd);
	}
	return 0;
}

static int client(const char *addr, unsigned short port, const char *test,
		  size_t size, double secs, int window)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	struct afib_mr_desc desc, local;
	struct afib_rdma_op op = {};
	size_t slots = REGION / size;
	char *buf = region();
	double t0, t;
	uint64_t done = 0, posted = 0;
	int fd, one = 1, n, inflight = 0;

	if (!size || size > REGION || !buf ||
	    inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "rdma_perf: bad size or address\n");
		return 2;
	}
	fd = perf_socket();
	/* SDP: a send ring entry per operation in flight (32 KiB each). */
	n = 2 << 20;
	if (fd < 0 || (sdp && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n,
					 sizeof(n))) ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("rdma_perf: connect");
	if (recv(fd, &desc, sizeof(desc), MSG_WAITALL) != sizeof(desc))
		die("rdma_perf: descriptor");
	if (mr_reg(fd, buf, REGION, AFIB_ACCESS_LOCAL_WRITE, &local))
		die("rdma_perf: register");
	op.rkey = desc.rkey;
	op.local_handle = local.handle;
	op.length = size;

	if (!strcmp(test, "wbw")) {
		if (setsockopt(fd, SOL_AFIB, AFIB_RDMA_ASYNC, &one,
			       sizeof(one)))
			die("rdma_perf: AFIB_RDMA_ASYNC");
		t0 = now();
		do {
			while (inflight < window) {
				op.local_offset = posted % slots * size;
				op.remote_addr = desc.remote_addr +
						 op.local_offset;
				op.token = posted;
				if (rdma_op(fd, AFIB_CMSG_RDMA_WRITE, &op) < 0)
					die("rdma_perf: RDMA write");
				posted++;
				inflight++;
			}
			n = reap(fd, 1);
			if (n < 0)
				die("rdma_perf: completion");
			inflight -= n;
			done += n;
			t = now() - t0;
		} while (t < secs);
		printf("rdma_perf wbw %zu %.2f MB/s\n", size,
		       done * size / t / 1e6);
	} else if (!strcmp(test, "rlat")) {
		op.remote_addr = desc.remote_addr;
		t0 = now();
		do {
			if (rdma_op(fd, AFIB_CMSG_RDMA_READ, &op) < 0)
				die("rdma_perf: RDMA read");
			done++;
			t = now() - t0;
		} while (t < secs);
		printf("rdma_perf rlat %zu %.2f us\n", size, t / done * 1e6);
	} else {
		fprintf(stderr, "rdma_perf: -t wbw|rlat\n");
		return 2;
	}
	/* Let the last completions come before the region goes. */
	while (inflight > 0 && (n = reap(fd, 1)) >= 0)
		inflight -= n;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *test = "wbw";
	unsigned short port = 7477;
	double secs = 5;
	size_t size = 65536;
	int opt, server = 0, window = 16;

	while ((opt = getopt(argc, argv, "Ssc:p:t:m:T:w:")) != -1) {
		switch (opt) {
		case 'S': sdp = 1; break;
		case 's': server = 1; break;
		case 'c': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 't': test = optarg; break;
		case 'm': size = strtoul(optarg, NULL, 0); break;
		case 'T': secs = atof(optarg); break;
		case 'w': window = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: rdma_perf [-S] -s | -c ADDR -t wbw|rlat -m SIZE [-T SECONDS] [-w N]\n");
			return 2;
		}
	}
	if (window < 1 || window > AFIB_RDMA_MAX_OPS)
		window = 16;
	if (server)
		return serve(port);
	if (!addr) {
		fprintf(stderr, "rdma_perf: -s or -c ADDR\n");
		return 2;
	}
	return client(addr, port, test, size, secs, window);
}
