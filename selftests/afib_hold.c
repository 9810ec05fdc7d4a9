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
	int lfd, cfd, sfd, ret = 1;
	const char *step = "";
	char buf[8];

	if (afib_pair(family, &cfd, &sfd, &lfd, NULL, 4, &step)) {
		printf("# family %d: %s: %s\n", family, step, strerror(errno));
		return 1;
	}
	if (send(cfd, "ping", 4, 0) != 4 || recv(sfd, buf, 8, 0) != 4 ||
	    send(sfd, "pong", 4, 0) != 4 || recv(cfd, buf, 8, 0) != 4 ||
	    memcmp(buf, "pong", 4))
		printf("# family %d: exchange: %s\n", family, strerror(errno));
	else
		ret = 0;
	afib_pair_close(&cfd, &sfd, &lfd);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "hold")) {
		int fd = afib_socket(0), lfd, cfd, sfd;
		FILE *f;

		if (fd < 0 ||
		    afib_pair(AF_INET, &cfd, &sfd, &lfd, NULL, 4, NULL)) {
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
