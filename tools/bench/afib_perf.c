// SPDX-License-Identifier: GPL-2.0
/*
 * AF_IB SOCK_SEQPACKET throughput and latency, qperf style.
 *
 *   afib_perf -s [-p PORT] [-b BYTES]
 *   afib_perf -c ADDR [-p PORT] [-b BYTES] -t bw|lat|rate -m SIZE [-T SECONDS]
 *
 * bw:   the client streams SIZE-byte messages for SECONDS, the server
 *       counts them and reports; prints MB/s (10^6 bytes).
 * rate: as bw, prints messages per second.
 * lat:  ping-pong of SIZE-byte messages; prints the one-way latency
 *       (half the round trip) in microseconds, as qperf does.
 * -b sets SO_SNDBUF and SO_RCVBUF (the server's on its listener, which
 * accepted sockets inherit).
 * Output is one line "afib_perf TEST SIZE VALUE UNIT".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/af_ib.h>

enum { CMD_BW = 1, CMD_LAT = 2 };

struct hdr {
	uint32_t cmd;
	uint32_t size;
	uint64_t count;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bufsize;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int afib_socket(void)
{
	int fd = socket(AF_IB, SOCK_SEQPACKET, 0);

	if (fd >= 0 && bufsize &&
	    (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize)) ||
	     setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize))))
		die("afib_perf: setsockopt");
	return fd;
}

static void serve_one(int fd)
{
	static char buf[AFIB_MAX_MSG];
	struct hdr h;
	uint64_t n = 0;
	ssize_t r;

	if (recv(fd, &h, sizeof(h), 0) != sizeof(h))
		return;
	if (h.cmd == CMD_LAT) {
		while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
			if (send(fd, buf, r, 0) != r)
				break;
		return;
	}
	/* bandwidth: count until an empty message, then report */
	while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
		n++;
	h.count = n;
	send(fd, &h, sizeof(h), 0);
	recv(fd, buf, sizeof(buf), 0);
}

static __attribute__((noreturn)) void serve(unsigned short port)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
	};
	int lfd, fd;

	lfd = afib_socket();
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin6, sizeof(sin6)) ||
	    listen(lfd, 16))
		die("afib_perf: listen");
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("afib_perf: accept");
		serve_one(fd);
		close(fd);
	}
}

static int client(const char *addr, unsigned short port, const char *test,
		  unsigned int size, double secs)
{
	static char buf[AFIB_MAX_MSG];
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
	};
	struct hdr h = { .size = size };
	uint64_t sent = 0;
	double t0, t1;
	int fd;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "afib_perf: IPv4 address expected\n");
		return 2;
	}
	fd = afib_socket();
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("afib_perf: connect");
	memset(buf, 0xa5, sizeof(buf));
	h.cmd = strcmp(test, "lat") ? CMD_BW : CMD_LAT;
	if (send(fd, &h, sizeof(h), 0) != sizeof(h))
		die("afib_perf: send");

	t0 = now();
	if (h.cmd == CMD_LAT) {
		do {
			if (send(fd, buf, size, 0) != (ssize_t)size ||
			    recv(fd, buf, sizeof(buf), 0) != (ssize_t)size)
				die("afib_perf: ping-pong");
			sent++;
		} while ((sent & 15) || now() - t0 < secs);
		t1 = now();
		printf("afib_perf lat %u %.2f us\n", size,
		       (t1 - t0) / sent / 2 * 1e6);
		return 0;
	}
	do {
		if (send(fd, buf, size, 0) != (ssize_t)size)
			die("afib_perf: send");
		sent++;
	} while ((sent & 63) || now() - t0 < secs);
	if (send(fd, buf, 0, 0))
		die("afib_perf: send");
	if (recv(fd, &h, sizeof(h), 0) != sizeof(h))
		die("afib_perf: report");
	t1 = now();
	send(fd, buf, 1, 0);
	if (h.count != sent) {
		fprintf(stderr, "afib_perf: sent %llu, received %llu\n",
			(unsigned long long)sent, (unsigned long long)h.count);
		return 1;
	}
	if (!strcmp(test, "rate"))
		printf("afib_perf rate %u %.0f msg/s\n", size, sent / (t1 - t0));
	else
		printf("afib_perf bw %u %.2f MB/s\n", size,
		       sent * (double)size / (t1 - t0) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *test = "bw";
	unsigned int size = 65536;
	unsigned short port = 7472;
	double secs = 5;
	int opt, server = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "sc:p:b:t:m:T:")) != -1) {
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
		case 'b':
			bufsize = atoi(optarg);
			break;
		case 't':
			test = optarg;
			break;
		case 'm':
			size = strtoul(optarg, NULL, 0);
			break;
		case 'T':
			secs = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (size > AFIB_MAX_MSG)
		goto usage;
	if (server)
		serve(port);
	if (addr)
		return client(addr, port, test, size, secs);
usage:
	fprintf(stderr,
		"usage: %s -s [-p PORT] [-b BYTES] | -c ADDR [-p PORT] [-b BYTES] -t bw|lat|rate -m SIZE [-T SECS]\n",
		argv[0]);
	return 2;
}
