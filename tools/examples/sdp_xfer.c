// SPDX-License-Identifier: GPL-2.0
/*
 * An SDP byte stream, used as a TCP program would use one: the server
 * sends back a checksum of everything it read, the client sends a number
 * of bytes, reads the checksum and compares it with its own.
 *
 *   sdp_xfer -s [-6] [-p PORT]                   serve
 *   sdp_xfer -c ADDR [-6] [-p PORT] [-n BYTES]   send BYTES (default 16 MiB)
 *
 * -6 uses AF_INET6_SDP and sockaddr_in6 (an IPv4 ADDR is IPv4-mapped),
 * else AF_INET_SDP and sockaddr_in.  The client prints the rate and the
 * peer address as getpeername() reports it (AF_INET or AF_INET6, as for
 * TCP), and what TCP_INFO says of the connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/af_ib.h>

static int use6;

static socklen_t sdp_addr(const char *host, unsigned short port,
			  struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	char mapped[64];

	memset(ss, 0, sizeof(*ss));
	if (!use6) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (host && inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return 0;
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	if (host && !strchr(host, ':')) {
		snprintf(mapped, sizeof(mapped), "::ffff:%s", host);
		host = mapped;
	}
	if (host && inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
		return 0;
	return sizeof(*sin6);
}

/* Adler-32 of a stream, piece by piece. */
static void adler(uint32_t *sum, const unsigned char *p, size_t n)
{
	uint32_t a = *sum & 0xffff, b = *sum >> 16;

	while (n--) {
		a = (a + *p++) % 65521;
		b = (b + a) % 65521;
	}
	*sum = b << 16 | a;
}

static int serve(unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(NULL, port, &ss);
	static unsigned char buf[1 << 16];
	uint32_t sum;
	int lfd, fd;
	ssize_t n;

	lfd = socket(use6 ? AF_INET6_SDP : AF_INET_SDP, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) ||
	    listen(lfd, 16)) {
		perror("sdp_xfer: listen");
		return 1;
	}
	printf("listening on port %u\n", port);
	fflush(stdout);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			perror("sdp_xfer: accept");
			return 1;
		}
		sum = 1;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			adler(&sum, buf, n);
		sum = htonl(sum);
		if (n < 0 || write(fd, &sum, sizeof(sum)) != sizeof(sum))
			perror("sdp_xfer: serve");
		close(fd);
	}
}

static int client(const char *host, unsigned short port, size_t total)
{
	static unsigned char buf[1 << 16];
	char name[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t len = sdp_addr(host, port, &ss);
	struct timespec t0, t1;
	uint32_t sum = 1, peer;
	struct tcp_info ti;
	size_t sent = 0, i;
	double secs;
	ssize_t n;
	int fd;

	if (!len) {
		fprintf(stderr, "sdp_xfer: bad address %s\n", host);
		return 1;
	}
	fd = socket(use6 ? AF_INET6_SDP : AF_INET_SDP, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len)) {
		perror("sdp_xfer: connect");
		return 1;
	}
	len = sizeof(ss);
	getpeername(fd, (struct sockaddr *)&ss, &len);
	inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
		  (void *)&((struct sockaddr_in *)&ss)->sin_addr :
		  (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
		  name, sizeof(name));
	printf("connected to %s (%s)\n", name,
	       ss.ss_family == AF_INET ? "AF_INET" : "AF_INET6");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 7 + 3;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < total) {
		n = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
		n = write(fd, buf, n);
		if (n <= 0) {
			perror("sdp_xfer: write");
			return 1;
		}
		adler(&sum, buf, n);
		sent += n;
	}
	len = sizeof(ti);
	if (!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		printf("TCP_INFO: %u-byte segments, %u sent\n",
		       ti.tcpi_snd_mss, ti.tcpi_segs_out);
	shutdown(fd, SHUT_WR);
	if (read(fd, &peer, sizeof(peer)) != sizeof(peer)) {
		perror("sdp_xfer: read");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%zu bytes in %.2f s (%.1f MB/s), checksum %08x: %s\n", sent,
	       secs, sent / secs / 1e6, sum,
	       ntohl(peer) == sum ? "the server read the same" : "MISMATCH");
	close(fd);
	return ntohl(peer) != sum;
}

int main(int argc, char **argv)
{
	unsigned short port = 7472;
	size_t total = 16 << 20;
	const char *addr = NULL;
	int opt, server = 0;

	while ((opt = getopt(argc, argv, "sc:p:n:6")) != -1) {
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
			total = strtoull(optarg, NULL, 0);
			break;
		case '6':
			use6 = 1;
			break;
		default:
			fprintf(stderr, "usage: %s -s | -c ADDR [-6] [-p PORT] [-n BYTES]\n",
				argv[0]);
			return 2;
		}
	}
	if (server)
		return serve(port);
	if (!addr) {
		fprintf(stderr, "%s: -s or -c ADDR\n", argv[0]);
		return 2;
	}
	return client(addr, port, total);
}
