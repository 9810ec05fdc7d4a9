// SPDX-License-Identifier: GPL-2.0
/*
 * AF_IB SOCK_DGRAM (UD) benchmark, perftest style: datagram rate and
 * ping-pong latency.
 *
 *   ud_perf -s [-p PORT]
 *   ud_perf -c ADDR [-p PORT] -t rate|lat -m SIZE [-T SECONDS]
 *
 * rate: the client sends SIZE-byte datagrams as fast as it can for
 *       SECONDS, then asks the server how many arrived; prints the rate
 *       of datagrams received (what perftest's ib_send_bw -c UD reports
 *       as MsgRate, in messages per second).  Datagrams lost on the way
 *       do not count.
 * lat:  SIZE-byte ping-pong for SECONDS; prints half the mean round trip
 *       in microseconds (what ib_send_lat reports).
 * Output is one line "ud_perf TEST SIZE VALUE UNIT".
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
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/af_ib.h>

#define MAXDG	4096

enum { DATA = 'D', PING = 'P', QUERY = 'Q', RESET = 'R' };

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

static int server(struct sockaddr_in *sin)
{
	unsigned char buf[MAXDG];
	uint64_t count = 0;
	int fd = socket(AF_IB, SOCK_DGRAM, 0);
	int rcvbuf = 4 << 20;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)))
		die("bind");
	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &flen);

		if (n < 1)
			continue;
		switch (buf[0]) {
		case DATA:
			count++;
			break;
		case PING:
			sendto(fd, buf, n, 0, (struct sockaddr *)&from, flen);
			break;
		case QUERY:
			memcpy(buf + 8, &count, sizeof(count));
			sendto(fd, buf, 16, 0, (struct sockaddr *)&from, flen);
			break;
		case RESET:
			count = 0;
			sendto(fd, buf, 1, 0, (struct sockaddr *)&from, flen);
			break;
		}
	}
	return 0;
}

/* Send a control datagram until its answer comes; returns its length. */
static ssize_t control(int fd, unsigned char op, unsigned char *buf)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		buf[0] = op;
		if (send(fd, buf, 16, 0) < 0)
			die("send control");
		while (poll(&p, 1, 200) == 1) {
			ssize_t n = recv(fd, buf, MAXDG, 0);

			if (n >= 1 && buf[0] == op)
				return n;
		}
	}
	fprintf(stderr, "ud_perf: no answer from the server\n");
	exit(1);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(7480) };
	const char *test = "lat", *addr = NULL;
	unsigned char buf[MAXDG];
	double secs = 3, t0, t;
	size_t size = 64;
	uint64_t n = 0, got;
	int c, fd, srv = 0;

	while ((c = getopt(argc, argv, "sc:p:t:m:T:")) != -1) {
		switch (c) {
		case 's': srv = 1; break;
		case 'c': addr = optarg; break;
		case 'p': sin.sin_port = htons(atoi(optarg)); break;
		case 't': test = optarg; break;
		case 'm': size = strtoul(optarg, NULL, 0); break;
		case 'T': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: ud_perf -s | -c ADDR -t rate|lat -m SIZE [-T S] [-p PORT]\n");
			return 2;
		}
	}
	if (srv) {
		sin.sin_addr.s_addr = htonl(INADDR_ANY);
		if (addr && inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
			die("address");
		return server(&sin);
	}
	if (!addr || inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    size < 16 || size > MAXDG) {
		fprintf(stderr, "ud_perf: -c ADDR and 16 <= -m SIZE <= %d\n",
			MAXDG);
		return 2;
	}
	fd = socket(AF_IB, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("connect");
	memset(buf, 'x', sizeof(buf));

	if (!strcmp(test, "rate")) {
		control(fd, RESET, buf);
		buf[0] = DATA;
		t0 = now();
		do {
			for (c = 0; c < 64; c++) {
				if (send(fd, buf, size, 0) != (ssize_t)size)
					die("send");
				n++;
			}
			t = now();
		} while (t - t0 < secs);
		usleep(200000);	/* let the last ones land */
		control(fd, QUERY, buf);
		memcpy(&got, buf + 8, sizeof(got));
		printf("ud_perf rate %zu %.0f msg/s (sent %.0f msg/s)\n", size,
		       got / (t - t0), n / (t - t0));
		return 0;
	}
	/* lat */
	control(fd, PING, buf);		/* warm up: both caches resolved */
	{
		struct timeval tv = { .tv_sec = 1 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	t0 = now();
	do {
		buf[0] = PING;
		if (send(fd, buf, size, 0) != (ssize_t)size)
			die("send");
		if (recv(fd, buf, sizeof(buf), 0) < 0) {
			perror("ud_perf: ping lost");
			return 1;
		}
		n++;
		t = now();
	} while (t - t0 < secs);
	printf("ud_perf lat %zu %.2f us\n", size, (t - t0) * 1e6 / n / 2);
	return 0;
}
