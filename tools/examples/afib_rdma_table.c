// SPDX-License-Identifier: GPL-2.0
/*
 * A table that clients read by RDMA, without the server's CPU.
 *
 *   afib_rdma_table -s [-p PORT] [-n ROWS]    serve a table of ROWS rows
 *   afib_rdma_table -c ADDR [-p PORT] ROW...  read rows, bump a counter
 *
 * The server fills a table of fixed-size rows, registers it for remote
 * reads (and its hit counter for remote atomics) and sends each client
 * the two descriptors as the connection's first message.  From then on
 * it only waits for the client to hang up: a client reads any row with
 * an RDMA read into its own buffer and counts its visit with a
 * fetch-and-add on the server's counter, and the server's CPU takes no
 * part in either.
 *
 * ADDR is an IPv4 address of an RDMA-capable interface.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/af_ib.h>

struct row {
	uint64_t key;
	char value[56];
};

/* The first message of a connection: where the table and counter are. */
struct table_desc {
	struct afib_mr_desc rows;
	struct afib_mr_desc hits;
	uint64_t nrows;
};

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

/* One RDMA operation, local side @buf (@len bytes); blocks until done. */
static int rdma(int fd, int type, const struct afib_rdma_op *op, void *buf,
		size_t len)
{
	char ctl[CMSG_SPACE(sizeof(*op))] = {};
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl,
		.msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_AFIB;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(sizeof(*op));
	memcpy(CMSG_DATA(c), op, sizeof(*op));
	return sendmsg(fd, &msg, 0) < 0 ? -1 : 0;
}

static int serve(unsigned short port, uint64_t nrows)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	size_t size = nrows * sizeof(struct row);
	struct table_desc td = { .nrows = nrows };
	struct row *rows;
	uint64_t *hits;
	int lfd, fd;
	uint64_t i;
	char c;

	/* Page aligned, so the registration spans no more pages than needed. */
	rows = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hits = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rows == MAP_FAILED || hits == MAP_FAILED) {
		perror("afib_rdma_table: mmap");
		return 1;
	}
	for (i = 0; i < nrows; i++) {
		rows[i].key = i;
		snprintf(rows[i].value, sizeof(rows[i].value), "row %" PRIu64
			 " of %" PRIu64, i, nrows);
	}
	lfd = socket(AF_IB, SOCK_SEQPACKET, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 16)) {
		perror("afib_rdma_table: listen");
		return 1;
	}
	printf("serving %" PRIu64 " rows on port %u\n", nrows, port);
	fflush(stdout);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			perror("afib_rdma_table: accept");
			continue;
		}
		/*
		 * Memory is registered per connection: each socket has a
		 * protection domain of its own, so a client can only use the
		 * keys it was given.
		 */
		if (mr_reg(fd, rows, size, AFIB_ACCESS_REMOTE_READ, &td.rows) ||
		    mr_reg(fd, hits, sizeof(*hits), AFIB_ACCESS_LOCAL_WRITE |
			   AFIB_ACCESS_REMOTE_ATOMIC | AFIB_ACCESS_REMOTE_READ,
			   &td.hits) ||
		    send(fd, &td, sizeof(td), 0) != sizeof(td)) {
			perror("afib_rdma_table: register");
			close(fd);
			continue;
		}
		/* Nothing to do but wait for the client to hang up. */
		while (recv(fd, &c, 1, 0) > 0)
			;
		/* close() deregisters: the client's keys stop working. */
		close(fd);
		printf("client gone, %" PRIu64 " hits so far\n", *hits);
		fflush(stdout);
	}
}

static int client(const char *addr, unsigned short port, int argc,
		  char **argv)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	struct afib_rdma_op op = {};
	struct table_desc td;
	struct row row;
	uint64_t n, before;
	int fd, i;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "afib_rdma_table: bad address %s\n", addr);
		return 2;
	}
	fd = socket(AF_IB, SOCK_SEQPACKET, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    recv(fd, &td, sizeof(td), 0) != sizeof(td)) {
		perror("afib_rdma_table: connect");
		return 1;
	}
	for (i = 0; i < argc; i++) {
		n = strtoull(argv[i], NULL, 0);
		if (n >= td.nrows) {
			fprintf(stderr, "row %" PRIu64 ": only %" PRIu64
				" rows\n", n, td.nrows);
			continue;
		}
		/* The row: an RDMA read straight into our buffer. */
		op.remote_addr = td.rows.remote_addr + n * sizeof(row);
		op.rkey = td.rows.rkey;
		op.compare_add = 0;
		if (rdma(fd, AFIB_CMSG_RDMA_READ, &op, &row, sizeof(row))) {
			perror("afib_rdma_table: RDMA read");
			return 1;
		}
		/* The visit: an atomic add on the server's counter. */
		op.remote_addr = td.hits.remote_addr;
		op.rkey = td.hits.rkey;
		op.compare_add = 1;
		if (rdma(fd, AFIB_CMSG_FETCH_ADD, &op, &before,
			 sizeof(before))) {
			perror("afib_rdma_table: fetch-and-add");
			return 1;
		}
		printf("%" PRIu64 ": \"%.*s\" (hit %" PRIu64 ")\n", row.key,
		       (int)sizeof(row.value), row.value, before + 1);
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned short port = 7478;
	uint64_t nrows = 1000;
	const char *addr = NULL;
	int opt, server = 0;

	while ((opt = getopt(argc, argv, "sc:p:n:")) != -1) {
		switch (opt) {
		case 's':
			server = 1;
			break;
		case 'c':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			nrows = strtoull(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	/* rxe registers at most 512 pages at once. */
	if (server && nrows && nrows * sizeof(struct row) <= (2u << 20))
		return serve(port, nrows);
	if (addr)
		return client(addr, port, argc - optind, argv + optind);
usage:
	fprintf(stderr, "usage: afib_rdma_table -s [-p PORT] [-n ROWS (<= 32768)]\n"
		"       afib_rdma_table -c ADDR [-p PORT] ROW...\n");
	return 2;
}
