/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libsdp: the rule set of libsdp.conf (OFED's syntax) and its matcher.
 *
 * config.c holds everything that does not touch sockets, so that the host
 * unit tests (test_config.c) link it alone; preload.c is the LD_PRELOAD
 * side.  A struct sdp_config is a fixed-size value: loading it allocates
 * nothing that outlives sdp_config_load(), and matching allocates nothing,
 * so it may run in any context the intercepted socket calls run in.
 */
#ifndef LIBSDP_H
#define LIBSDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SDP_MAX_RULES	256
#define SDP_MAX_GLOB	128

enum sdp_mode {
	SDP_MODE_NONE,		/* no rule matched */
	SDP_MODE_TCP,
	SDP_MODE_SDP,
	SDP_MODE_BOTH,
};

enum sdp_role {
	SDP_ROLE_SERVER,	/* bind()/listen(): "server" or "listen" */
	SDP_ROLE_CLIENT,	/* connect(): "client" or "connect" */
};

enum sdp_log_dest {
	SDP_LOG_STDERR,
	SDP_LOG_SYSLOG,
	SDP_LOG_FILE,
};

/* Log levels: a message is written when its level >= min-level. */
#define SDP_LOG_DEBUG	1	/* every intercepted decision */
#define SDP_LOG_INFO	4	/* sockets swapped, fallbacks */
#define SDP_LOG_WARN	7	/* an SDP socket could not be had */
#define SDP_LOG_ERR	9	/* bad configuration lines */

struct sdp_rule {
	uint8_t mode;		/* enum sdp_mode */
	uint8_t role;		/* enum sdp_role */
	uint8_t any_addr;	/* "*" */
	uint8_t family;		/* AF_INET or AF_INET6 unless any_addr */
	uint8_t prefix;		/* significant bits of addr */
	uint8_t addr[16];	/* network byte order; IPv4 in the first 4 */
	uint16_t port_lo, port_hi;
	int line;
	char prog[SDP_MAX_GLOB];	/* fnmatch(3) pattern */
};

struct sdp_config {
	int nrules;
	int errors;		/* bad lines seen */
	int log_dest;		/* enum sdp_log_dest */
	int log_level;
	char log_path[256];
	struct sdp_rule rules[SDP_MAX_RULES];
};

/* Called for each bad line: @line is 1-based, @msg says what is wrong. */
typedef void (*sdp_config_report_fn)(void *arg, const char *path, int line,
				      const char *msg);

void sdp_config_init(struct sdp_config *cfg);

/*
 * sdp_config_parse_line() - parse one line of libsdp.conf into @cfg.
 * Comments (#) and blank lines are accepted and add nothing.
 * Return: 0 if the line is good, -1 if it is not (@err says why; @cfg is
 * unchanged).
 */
int sdp_config_parse_line(struct sdp_config *cfg, const char *text, int line,
			  char *err, size_t errlen);

/*
 * sdp_config_parse() - parse a whole file's contents; bad lines are reported
 * through @report and skipped.  Return: the number of bad lines.
 */
int sdp_config_parse(struct sdp_config *cfg, const char *buf, size_t len,
		     const char *path, sdp_config_report_fn report, void *arg);

/*
 * sdp_config_load() - read and parse @path.
 * Return: 0, or -1 with errno if the file cannot be read.
 */
int sdp_config_load(struct sdp_config *cfg, const char *path,
		    sdp_config_report_fn report, void *arg);

/*
 * sdp_config_match() - the mode of the first rule for @role that matches the
 * program name @prog and the address @sa (sockaddr_in or sockaddr_in6;
 * IPv4-mapped IPv6 addresses match IPv4 rules).  @rule, if not NULL, gets
 * the matching rule's line.  Return: that rule's enum sdp_mode, or
 * SDP_MODE_NONE when no rule matches.
 */
int sdp_config_match(const struct sdp_config *cfg, int role, const char *prog,
		     const struct sockaddr *sa, socklen_t salen, int *rule);

/*
 * sdp_config_decide() - sdp_config_match() with OFED's defaults: a file
 * without any "use" rule means SDP for everything ("simple" mode), and
 * when rules exist but none matches the mode is "both".
 */
int sdp_config_decide(const struct sdp_config *cfg, int role, const char *prog,
		      const struct sockaddr *sa, socklen_t salen, int *rule);

const char *sdp_mode_name(int mode);

#endif /* LIBSDP_H */
