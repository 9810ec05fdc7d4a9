// SPDX-License-Identifier: GPL-2.0
/*
 * libsdp.conf parser and rule matcher.
 *
 * The syntax is OFED libsdp's, one directive a line, '#' to the end of the
 * line is a comment:
 *
 *   use sdp|tcp|both server|listen|client|connect PROGRAM ADDR:PORTS
 *   log [destination stderr|syslog|file PATH] [min-level N]
 *
 * PROGRAM is an fnmatch(3) pattern for the program's short name, ADDR is
 * "*", an IPv4 or IPv6 address with an optional "/prefix" (an IPv6 address
 * may be written in brackets), PORTS is "*", a port or "low-high".  The
 * first "use" rule whose role, program, address and port match decides.
 * This file is written by hand rather than with OFED's lex/yacc grammar:
 * it has to report the line of each error and go on, and it must not
 * allocate.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libsdp.h"

#define SDP_MAX_TOKENS	8
#define SDP_MAX_LINE	1024

void sdp_config_init(struct sdp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_dest = SDP_LOG_STDERR;
	cfg->log_level = SDP_LOG_ERR;
}

const char *sdp_mode_name(int mode)
{
	switch (mode) {
	case SDP_MODE_TCP:
		return "tcp";
	case SDP_MODE_SDP:
		return "sdp";
	case SDP_MODE_BOTH:
		return "both";
	default:
		return "none";
	}
}

/* Split @s (modified) at blanks; a '#' starts a comment. */
static int sdp_tokenize(char *s, char **tok, int max)
{
	int n = 0;

	for (;;) {
		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			return n;
		if (n == max)
			return max + 1;
		tok[n++] = s;
		while (*s && !isspace((unsigned char)*s) && *s != '#')
			s++;
		if (*s == '#') {
			*s = '\0';
			return n;
		}
		if (*s)
			*s++ = '\0';
	}
}

static int sdp_parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || *end || *v > max)
		return -1;
	return 0;
}

static int sdp_parse_ports(struct sdp_rule *r, const char *s)
{
	unsigned long lo, hi;
	char buf[16], *dash;

	if (!strcmp(s, "*")) {
		r->port_lo = 0;
		r->port_hi = 65535;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = '\0';
	if (sdp_parse_uint(buf, 65535, &lo))
		return -1;
	hi = lo;
	if (dash && sdp_parse_uint(dash, 65535, &hi))
		return -1;
	if (hi < lo)
		return -1;
	r->port_lo = lo;
	r->port_hi = hi;
	return 0;
}

static int sdp_parse_addr(struct sdp_rule *r, char *s, char *err, size_t errlen)
{
	unsigned long prefix;
	char *colon, *slash;

	/* The port is after the last ':' (IPv6 addresses have more). */
	colon = strrchr(s, ':');
	if (!colon) {
		snprintf(err, errlen, "'%s': expected ADDRESS:PORT", s);
		return -1;
	}
	*colon = '\0';
	if (sdp_parse_ports(r, colon + 1)) {
		snprintf(err, errlen, "bad port or port range '%s'", colon + 1);
		return -1;
	}
	if (!strcmp(s, "*")) {
		r->any_addr = 1;
		return 0;
	}
	slash = strchr(s, '/');
	if (slash)
		*slash++ = '\0';
	if (s[0] == '[') {
		size_t n = strlen(s);

		if (n < 2 || s[n - 1] != ']') {
			snprintf(err, errlen, "bad address '%s'", s);
			return -1;
		}
		s[n - 1] = '\0';
		s++;
	}
	if (inet_pton(AF_INET, s, r->addr) == 1) {
		r->family = AF_INET;
		r->prefix = 32;
	} else if (inet_pton(AF_INET6, s, r->addr) == 1) {
		r->family = AF_INET6;
		r->prefix = 128;
	} else {
		snprintf(err, errlen, "bad address '%s' (numeric IPv4/IPv6 or *)", s);
		return -1;
	}
	if (slash) {
		if (sdp_parse_uint(slash, r->prefix, &prefix)) {
			snprintf(err, errlen, "bad prefix length '/%s'", slash);
			return -1;
		}
		r->prefix = prefix;
	}
	return 0;
}

static int sdp_parse_use(struct sdp_config *cfg, char **tok, int n, int line,
			 char *err, size_t errlen)
{
	struct sdp_rule r;

	memset(&r, 0, sizeof(r));
	if (n != 5) {
		snprintf(err, errlen, "expected 'use sdp|tcp|both "
			 "server|client PROGRAM ADDRESS:PORT'");
		return -1;
	}
	if (!strcmp(tok[1], "sdp")) {
		r.mode = SDP_MODE_SDP;
	} else if (!strcmp(tok[1], "tcp")) {
		r.mode = SDP_MODE_TCP;
	} else if (!strcmp(tok[1], "both")) {
		r.mode = SDP_MODE_BOTH;
	} else {
		snprintf(err, errlen, "unknown mode '%s' (sdp, tcp or both)", tok[1]);
		return -1;
	}
	if (!strcmp(tok[2], "server") || !strcmp(tok[2], "listen")) {
		r.role = SDP_ROLE_SERVER;
	} else if (!strcmp(tok[2], "client") || !strcmp(tok[2], "connect")) {
		r.role = SDP_ROLE_CLIENT;
	} else {
		snprintf(err, errlen, "unknown role '%s' (server, listen, client "
			 "or connect)", tok[2]);
		return -1;
	}
	if (strlen(tok[3]) >= sizeof(r.prog)) {
		snprintf(err, errlen, "program pattern too long");
		return -1;
	}
	strcpy(r.prog, tok[3]);
	if (sdp_parse_addr(&r, tok[4], err, errlen))
		return -1;
	if (cfg->nrules == SDP_MAX_RULES) {
		snprintf(err, errlen, "too many rules (at most %d)", SDP_MAX_RULES);
		return -1;
	}
	r.line = line;
	cfg->rules[cfg->nrules++] = r;
	return 0;
}

static int sdp_parse_log(struct sdp_config *cfg, char **tok, int n,
			 char *err, size_t errlen)
{
	int dest = cfg->log_dest, level = cfg->log_level, i = 1;
	const char *path = NULL;
	unsigned long v;

	if (n == 1) {
		snprintf(err, errlen, "'log' needs 'destination' or 'min-level'");
		return -1;
	}
	while (i < n) {
		if (!strcmp(tok[i], "destination") && i + 1 < n) {
			if (!strcmp(tok[i + 1], "stderr")) {
				dest = SDP_LOG_STDERR;
			} else if (!strcmp(tok[i + 1], "syslog")) {
				dest = SDP_LOG_SYSLOG;
			} else if (!strcmp(tok[i + 1], "file") && i + 2 < n) {
				dest = SDP_LOG_FILE;
				path = tok[i + 2];
				if (strlen(path) >= sizeof(cfg->log_path)) {
					snprintf(err, errlen, "log file name too long");
					return -1;
				}
				i++;
			} else {
				snprintf(err, errlen, "bad log destination (stderr, "
					 "syslog or file PATH)");
				return -1;
			}
			i += 2;
		} else if (!strcmp(tok[i], "min-level") && i + 1 < n) {
			if (sdp_parse_uint(tok[i + 1], 9, &v) || v < 1) {
				snprintf(err, errlen, "bad min-level '%s' (1-9)",
					 tok[i + 1]);
				return -1;
			}
			level = v;
			i += 2;
		} else {
			snprintf(err, errlen, "unexpected '%s' in log directive", tok[i]);
			return -1;
		}
	}
	cfg->log_dest = dest;
	cfg->log_level = level;
	if (path)
		strcpy(cfg->log_path, path);
	return 0;
}

int sdp_config_parse_line(struct sdp_config *cfg, const char *text, int line,
			  char *err, size_t errlen)
{
	char buf[SDP_MAX_LINE], *tok[SDP_MAX_TOKENS];
	int n;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "line too long");
		return -1;
	}
	strcpy(buf, text);
	n = sdp_tokenize(buf, tok, SDP_MAX_TOKENS);
	if (n == 0)
		return 0;
	if (n > SDP_MAX_TOKENS) {
		snprintf(err, errlen, "too many words");
		return -1;
	}
	if (!strcmp(tok[0], "use"))
		return sdp_parse_use(cfg, tok, n, line, err, errlen);
	if (!strcmp(tok[0], "log"))
		return sdp_parse_log(cfg, tok, n, err, errlen);
	snprintf(err, errlen, "unknown directive '%s' (use or log)", tok[0]);
	return -1;
}

int sdp_config_parse(struct sdp_config *cfg, const char *buf, size_t len,
		     const char *path, sdp_config_report_fn report, void *arg)
{
	char line[SDP_MAX_LINE + 1], err[256];
	size_t i = 0;
	int lineno = 0, bad = 0;

	while (i < len) {
		size_t j = i, n;

		while (j < len && buf[j] != '\n')
			j++;
		lineno++;
		n = j - i;
		if (n > SDP_MAX_LINE) {
			snprintf(err, sizeof(err), "line too long");
			goto bad;
		}
		memcpy(line, buf + i, n);
		line[n] = '\0';
		if (memchr(line, '\0', n)) {
			snprintf(err, sizeof(err), "NUL byte in line");
			goto bad;
		}
		if (sdp_config_parse_line(cfg, line, lineno, err, sizeof(err)))
			goto bad;
		i = j + 1;
		continue;
bad:
		bad++;
		cfg->errors++;
		if (report)
			report(arg, path, lineno, err);
		i = j + 1;
	}
	return bad;
}

int sdp_config_load(struct sdp_config *cfg, const char *path,
		    sdp_config_report_fn report, void *arg)
{
	static char buf[256 * 1024];	/* the constructor is single-threaded */
	size_t len = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < sizeof(buf)) {
		r = read(fd, buf + len, sizeof(buf) - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		len += r;
	}
	close(fd);
	sdp_config_parse(cfg, buf, len, path, report, arg);
	return 0;
}

static int sdp_prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes))
		return 0;
	if (rest) {
		uint8_t mask = 0xff << (8 - rest);

		return (a[bytes] & mask) == (b[bytes] & mask);
	}
	return 1;
}

static const uint8_t sdp_v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

int sdp_config_match(const struct sdp_config *cfg, int role, const char *prog,
		     const struct sockaddr *sa, socklen_t salen, int *rule)
{
	const uint8_t *a4 = NULL, *a6 = NULL;
	unsigned int port;
	int i;

	if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const void *)sa;

		a4 = (const uint8_t *)&sin->sin_addr;
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6 &&
		   salen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		a6 = sin6->sin6_addr.s6_addr;
		if (!memcmp(a6, sdp_v4mapped, 12))
			a4 = a6 + 12;
		port = ntohs(sin6->sin6_port);
	} else {
		return SDP_MODE_NONE;
	}
	for (i = 0; i < cfg->nrules; i++) {
		const struct sdp_rule *r = &cfg->rules[i];

		if (r->role != role)
			continue;
		if (port < r->port_lo || port > r->port_hi)
			continue;
		if (!r->any_addr) {
			if (r->family == AF_INET &&
			    !(a4 && sdp_prefix_eq(a4, r->addr, r->prefix)))
				continue;
			if (r->family == AF_INET6 &&
			    !(a6 && sdp_prefix_eq(a6, r->addr, r->prefix)))
				continue;
		}
		if (fnmatch(r->prog, prog ? prog : "", 0))
			continue;
		if (rule)
			*rule = r->line;
		return r->mode;
	}
	return SDP_MODE_NONE;
}

int sdp_config_decide(const struct sdp_config *cfg, int role, const char *prog,
		      const struct sockaddr *sa, socklen_t salen, int *rule)
{
	int mode;

	if (rule)
		*rule = 0;
	if (cfg->nrules == 0)
		return SDP_MODE_SDP;
	mode = sdp_config_match(cfg, role, prog, sa, salen, rule);
	return mode == SDP_MODE_NONE ? SDP_MODE_BOTH : mode;
}
