// SPDX-License-Identifier: GPL-2.0
/*
 * Byte-stream throughput and latency over any stream socket family, qperf
 * style: SDP (AF_INET_SDP / AF_INET6_SDP), TCP, or rsockets when run under
 * LD_PRELOAD=librspreload.so with -f tcp.
 *
 *   stream_perf -s [-f FAMILY] [-p PORT] [-b BYTES]
 *   stream_perf -c ADDR [-f FAMILY] [-p PORT] [-b BYTES] -t bw|lat
 *               [-m SIZE] [-T SECONDS]
 *
 * FAMILY: tcp  socket(AF_INET, SOCK_STREAM, 0) + sockaddr_in (the default)
 *         tcp6 socket(AF_INET6, SOCK_STREAM, 0) + sockaddr_in6
 *         sdp  socket(AF_INET_SDP (27), SOCK_STREAM, 0) + sockaddr_in
 *         sdp6 socket(AF_INET6_SDP (28), SOCK_STREAM, 0) + sockaddr_in6
 *              (an IPv4 ADDR is given as an IPv4-mapped address)
 *
 * bw:  the client writes SIZE bytes per write() for SECONDS, the server
 *      reads and counts the bytes and reports the count back; prints
 *      MB/s (10^6 bytes) from the first write to the report.
 * lat: ping-pong of SIZE bytes (default 1) with TCP_NODELAY; prints the
 *      one-way latency (half the round trip) in microseconds, as qperf does.
 * -b sets SO_SNDBUF and SO_RCVBUF (the server's on its listener, which
 * accepted sockets inherit); -z sets AFIB_SDP_ZCOPY_THRESH on SDP sockets.
 *
 * Everything is a stream: every read and write loops over short transfers.
 * So that the end of a bandwidth run needs no half-close, the client's
 * writes come in batches (1 MiB, at most 1024 writes), each behind an
 * 8-byte length; a length of 0 ends the run.
 *
 * The server serves one connection at a time, in one process (rsockets do
 * not survive fork), and prints "stream_perf listening FAMILY PORT" once it
 * listens.  The client prints one line "stream_perf FAMILY TEST SIZE VALUE
 * UNIT" and gives up after SECONDS + 60 s if the peer stalls.  FAMILY is
 * "rsocket" when the descriptor is not a kernel socket (librspreload gave
 * an rsocket; it silently falls back to a kernel socket when it cannot).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#ifndef AF_INET_SDP
#define AF_INET_SDP	27
#endif
#ifndef SOL_AFIB
#define SOL_AFIB		0x41464942
#define AFIB_SDP_ZCOPY_THRESH	4
#endif
#ifndef AF_INET6_SDP
#define AF_INET6_SDP	28
#endif

#define MAX_SIZE	(16u << 20)
#define BATCH_BYTES	(1024 * 1024)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define BATCH_WRITES	1024

enum { CMD_BW = 1, CMD_LAT = 2 };

struct hdr {
	uint32_t cmd;
	uint32_t size;
};

struct family {
	const char *name;
	int domain;	/* for socket() */
	int addr6;	/* sockaddr_in6 rather than sockaddr_in */
};

static const struct family families[] = {
	{ "tcp", AF_INET, 0 },
	{ "tcp6", AF_INET6, 1 },
	{ "sdp", AF_INET_SDP, 0 },
	{ "sdp6", AF_INET6_SDP, 1 },
};

static const struct family *fam = &families[0];
static const char *label;	/* what the output line calls the socket */
static int bufsize;
static int zcopy = -1;	/* -z: AFIB_SDP_ZCOPY_THRESH, SDP only */

static void die(const char *what)
{
	fprintf(stderr, "stream_perf %s: %s: %s\n", label, what,
		strerror(errno));
	exit(1);
}

static void on_alarm(int sig)
{
	static const char msg[] = "stream_perf: timed out\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write all of buf; 0 on success, -1 on error. */
static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t r;

	while (len) {
		r = send(fd, p, len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= r;
	}
	return 0;
}

/* Read exactly len bytes; len on success, less at EOF, -1 on error. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = recv(fd, p + got, len - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

static void set_nodelay(int fd)
{
	static int warned;
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) &&
	    !warned++)
		fprintf(stderr, "stream_perf %s: TCP_NODELAY: %s (going on)\n",
			label, strerror(errno));
}

static int stream_socket(void)
{
	int fd = socket(fam->domain, SOCK_STREAM, 0);
	struct stat st;

	if (fd < 0)
		die("socket");
	/*
	 * librspreload hands out a descriptor of /dev/null for an rsocket,
	 * and a kernel socket when rsocket() failed: say which one we got.
	 */
	if (!fstat(fd, &st) && !S_ISSOCK(st.st_mode))
		label = "rsocket";
	if (bufsize &&
	    (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)) ||
	     setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize))))
		die("setsockopt SO_SNDBUF/SO_RCVBUF");
	if (zcopy >= 0 && (fam->domain == AF_INET_SDP ||
			   fam->domain == AF_INET6_SDP) &&
	    setsockopt(fd, SOL_AFIB, AFIB_SDP_ZCOPY_THRESH, &zcopy,
		       sizeof(zcopy)))
		die("setsockopt AFIB_SDP_ZCOPY_THRESH");
	return fd;
}

/* Fills ss for ADDR (NULL: the wildcard address) and PORT; returns its length. */
static socklen_t make_addr(struct sockaddr_storage *ss, const char *addr,
			   unsigned short port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct in_addr a4;

	memset(ss, 0, sizeof(*ss));
	if (!fam->addr6) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		if (addr && inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
			fprintf(stderr, "stream_perf %s: IPv4 address expected\n",
				label);
			exit(2);
		}
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_any;
	if (!addr || inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1)
		return sizeof(*sin6);
	if (inet_pton(AF_INET, addr, &a4) != 1) {
		fprintf(stderr, "stream_perf %s: IP address expected\n", label);
		exit(2);
	}
	/* ::ffff:a.b.c.d */
	sin6->sin6_addr.s6_addr[10] = 0xff;
	sin6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6->sin6_addr.s6_addr[12], &a4, 4);
	return sizeof(*sin6);
}

static void serve_one(int fd, char *buf)
{
	uint64_t len, total = 0;
	struct hdr h;
	ssize_t r;

	if (read_full(fd, &h, sizeof(h)) != sizeof(h) || !h.size ||
	    h.size > MAX_SIZE)
		return;
	if (h.cmd == CMD_LAT) {
		set_nodelay(fd);
		while (read_full(fd, buf, h.size) == h.size)
			if (write_full(fd, buf, h.size))
				break;
		return;
	}
	/* bandwidth: batches of (length, bytes) up to a length of 0 */
	for (;;) {
		if (read_full(fd, &len, sizeof(len)) != sizeof(len))
			return;
		if (!len)
			break;
		while (len) {
			r = recv(fd, buf, len < h.size ? len : h.size, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return;
			len -= r;
			total += r;
		}
	}
	write_full(fd, &total, sizeof(total));
	/* wait for the client to close, so that it closes first */
	recv(fd, buf, 1, 0);
}

static __attribute__((noreturn)) void serve(unsigned short port)
{
	static char buf[MAX_SIZE];
	struct sockaddr_storage ss;
	socklen_t len = make_addr(&ss, NULL, port);
	int one = 1;
	int lfd, fd;

	lfd = stream_socket();
	/* SDP may not have it yet: not fatal */
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len))
		die("bind");
	if (listen(lfd, 16))
		die("listen");
	printf("stream_perf listening %s %u\n", label, port);
	fflush(stdout);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		serve_one(fd, buf);
		close(fd);
	}
}

static int client(const char *addr, unsigned short port, const char *test,
		  unsigned int size, double secs)
{
	struct sockaddr_storage ss;
	socklen_t sslen = make_addr(&ss, addr, port);
	uint64_t sent = 0, report, len;
	unsigned int per_batch, i;
	struct hdr h = { .size = size };
	double t0, t1;
	char *buf;
	int fd;

	buf = malloc(size);
	if (!buf)
		die("malloc");
	memset(buf, 0xa5, size);
	h.cmd = strcmp(test, "lat") ? CMD_BW : CMD_LAT;
	alarm((unsigned int)secs + 60);

	fd = stream_socket();
	if (h.cmd == CMD_LAT)
		set_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&ss, sslen))
		die("connect");
	if (write_full(fd, &h, sizeof(h)))
		die("write header");

	t0 = now();
	if (h.cmd == CMD_LAT) {
		do {
			if (write_full(fd, buf, size))
				die("ping");
			if (read_full(fd, buf, size) != (ssize_t)size)
				die("pong");
			sent++;
		} while ((sent & 15) || now() - t0 < secs);
		t1 = now();
		printf("stream_perf %s lat %u %.2f us\n", label, size,
		       (t1 - t0) / sent / 2 * 1e6);
		close(fd);
		return 0;
	}
	per_batch = size >= BATCH_BYTES ? 1 : BATCH_BYTES / size;
	if (per_batch > BATCH_WRITES)
		per_batch = BATCH_WRITES;
	do {
		len = (uint64_t)per_batch * size;
		if (write_full(fd, &len, sizeof(len)))
			die("write");
		for (i = 0; i < per_batch; i++)
			if (write_full(fd, buf, size))
				die("write");
		sent += len;
	} while (now() - t0 < secs);
	len = 0;
	if (write_full(fd, &len, sizeof(len)))
		die("write");
	if (read_full(fd, &report, sizeof(report)) != sizeof(report))
		die("read report");
	t1 = now();
	close(fd);
	if (report != sent) {
		fprintf(stderr, "stream_perf %s: sent %llu bytes, server read %llu\n",
			label, (unsigned long long)sent,
			(unsigned long long)report);
		return 1;
	}
	printf("stream_perf %s bw %u %.2f MB/s\n", label, size,
	       sent / (t1 - t0) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *test = "bw";
	unsigned int size = 0;
	unsigned short port = 7473;
	double secs = 5;
	int opt, server = 0;
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	while ((opt = getopt(argc, argv, "sc:f:p:b:z:t:m:T:")) != -1) {
		switch (opt) {
		case 's':
			server = 1;
			break;
		case 'c':
			addr = optarg;
			break;
		case 'f':
			for (i = 0; i < ARRAY_SIZE(families); i++)
				if (!strcmp(optarg, families[i].name))
					break;
			if (i == ARRAY_SIZE(families))
				goto usage;
			fam = &families[i];
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'b':
			bufsize = atoi(optarg);
			break;
		case 'z':
			zcopy = atoi(optarg);
			break;
		case 't':
			test = optarg;
			if (strcmp(test, "bw") && strcmp(test, "lat"))
				goto usage;
			break;
		case 'm':
			size = strtoul(optarg, NULL, 0);
			if (!size || size > MAX_SIZE)
				goto usage;
			break;
		case 'T':
			secs = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	if (!size)
		size = strcmp(test, "lat") ? 65536 : 1;
	label = fam->name;
	if (server)
		serve(port);
	if (addr)
		return client(addr, port, test, size, secs);
usage:
	fprintf(stderr,
		"usage: %s -s [-f tcp|tcp6|sdp|sdp6] [-p PORT] [-b BYTES] [-z BYTES]\n"
		"       %s -c ADDR [-f tcp|tcp6|sdp|sdp6] [-p PORT] [-b BYTES] [-z BYTES] -t bw|lat [-m SIZE] [-T SECS]\n",
		argv[0], argv[0]);
	return 2;
}
