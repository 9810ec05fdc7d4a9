// SPDX-License-Identifier: GPL-2.0
/*
 * Helper for afib_lifecycle.sh.
 *
 *   afib_hold hold FILE   open an unbound socket, a listener and a
 *                         connected pair, write "ready" to FILE, then
 *                         sleep until killed
 *   afib_hold check       connect and exchange a message in every address
 *                         family; exit 0 if all work
 *   afib_hold absent      exit 0 if socket(AF_IB) fails with EAFNOSUPPORT
 */
#include "afib_lib.h"

static int check_family(int family)
{
	int lfd, cfd = -1, sfd = -1, ret = 1;
	uint16_t port;
	char buf[8];

	lfd = afib_listener(family, 4, 0, &port);
	if (lfd < 0) {
		printf("# family %d: listener: %s\n", family, strerror(errno));
		return 1;
	}
	cfd = afib_connect(family, port);
	if (cfd < 0) {
		printf("# family %d: connect: %s\n", family, strerror(errno));
		goto out;
	}
	sfd = accept(lfd, NULL, NULL);
	if (sfd < 0) {
		printf("# family %d: accept: %s\n", family, strerror(errno));
		goto out;
	}
	if (send(cfd, "ping", 4, 0) != 4 || recv(sfd, buf, 8, 0) != 4 ||
	    send(sfd, "pong", 4, 0) != 4 || recv(cfd, buf, 8, 0) != 4 ||
	    memcmp(buf, "pong", 4)) {
		printf("# family %d: exchange: %s\n", family, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (sfd >= 0)
		close(sfd);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "hold")) {
		int fd = afib_socket(0), lfd, cfd, sfd;
		uint16_t port;
		FILE *f;

		lfd = afib_listener(AF_INET, 4, 0, &port);
		cfd = lfd < 0 ? -1 : afib_connect(AF_INET, port);
		sfd = cfd < 0 ? -1 : accept(lfd, NULL, NULL);
		if (fd < 0 || sfd < 0) {
			fprintf(stderr, "afib_hold: %s\n", strerror(errno));
			return 1;
		}
		f = fopen(argv[2], "w");
		if (!f)
			return 1;
		fputs("ready\n", f);
		fclose(f);
		for (;;)
			pause();
	}
	if (argc == 2 && !strcmp(argv[1], "check")) {
		alarm(afib_tmo(60));
		return check_family(AF_INET) | check_family(AF_INET6) |
		       check_family(AF_IB);
	}
	if (argc == 2 && !strcmp(argv[1], "absent")) {
		int fd = afib_socket(0);

		if (fd >= 0) {
			close(fd);
			return 1;
		}
		if (errno != EAFNOSUPPORT) {
			printf("# socket: %s\n", strerror(errno));
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "usage: %s hold FILE | check | absent\n", argv[0]);
	return 2;
}
