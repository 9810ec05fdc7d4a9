// SPDX-License-Identifier: GPL-2.0
/*
 * Minimal AF_IB client/server: the server echoes every message back.
 *
 *   afib_echo -s [-p PORT]                 serve on all addresses
 *   afib_echo -c ADDR [-p PORT] [MESSAGE]  send MESSAGE, print the echo
 *
 * ADDR is an IPv4 or IPv6 address of an RDMA-capable interface.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/af_ib.h>

static int serve(unsigned short port)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
		.sin6_addr = IN6ADDR_ANY_INIT,
	};
	char buf[AFIB_MAX_MSG];
	int lfd, fd;
	ssize_t n;

	lfd = socket(AF_IB, SOCK_SEQPACKET, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin6, sizeof(sin6)) ||
	    listen(lfd, 16)) {
		perror("afib_echo: listen");
		return 1;
	}
	printf("listening on port %u\n", port);
	fflush(stdout);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			perror("afib_echo: accept");
			return 1;
		}
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			if (send(fd, buf, n, 0) != n)
				break;
		close(fd);
	}
}

static int client(const char *addr, unsigned short port, const char *msg)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct afib_info info = {};
	socklen_t len = sizeof(info);
	char buf[AFIB_MAX_MSG];
	ssize_t n;
	int fd;

	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else {
		fprintf(stderr, "afib_echo: bad address %s\n", addr);
		return 2;
	}
	fd = socket(AF_IB, SOCK_SEQPACKET, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sizeof(ss))) {
		perror("afib_echo: connect");
		return 1;
	}
	if (!getsockopt(fd, SOL_AFIB, AFIB_INFO, &info, &len))
		printf("connected over %s port %u: QP %u -> QP %u, MTU %u\n",
		       info.dev_name, info.port, info.qp_num,
		       info.dest_qp_num, info.path_mtu);
	if (send(fd, msg, strlen(msg), 0) < 0) {
		perror("afib_echo: send");
		return 1;
	}
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0) {
		perror("afib_echo: recv");
		return 1;
	}
	buf[n] = 0;
	printf("echo: %s\n", buf);
	close(fd);
	return strcmp(buf, msg) != 0;
}

int main(int argc, char **argv)
{
	unsigned short port = 7471;
	const char *addr = NULL;
	int opt, server = 0;

	while ((opt = getopt(argc, argv, "sc:p:")) != -1) {
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
		default:
			fprintf(stderr, "usage: %s -s | -c ADDR [-p PORT] [MESSAGE]\n",
				argv[0]);
			return 2;
		}
	}
	if (server)
		return serve(port);
	if (!addr) {
		fprintf(stderr, "usage: %s -s | -c ADDR [-p PORT] [MESSAGE]\n",
			argv[0]);
		return 2;
	}
	return client(addr, port, optind < argc ? argv[optind] :
		      "hello over RDMA");
}
