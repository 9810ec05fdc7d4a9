// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of libsdp's config parser and rule matcher (config.c).
 * Output: one "ok N name" / "not ok N name" line per case (TAP 13); exit
 * status 1 if any case failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libsdp.h"

static int ntests, nfailed;
static int case_ok;
static char case_msg[512];

static void check(int cond, const char *fmt, ...)
{
	va_list ap;

	if (cond || !case_ok)
		return;
	case_ok = 0;
	va_start(ap, fmt);
	vsnprintf(case_msg, sizeof(case_msg), fmt, ap);
	va_end(ap);
}

#define CHECK(cond) check((cond), "%s:%d: %s", __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b) do {						\
	long _a = (a), _b = (b);					\
	check(_a == _b, "%s:%d: %s == %ld, expected %ld", __FILE__,	\
	      __LINE__, #a, _a, _b);					\
} while (0)

#define TEST(name) static void test_##name(void)
#define RUN(name) do {							\
	case_ok = 1;							\
	case_msg[0] = '\0';						\
	test_##name();							\
	ntests++;							\
	if (case_ok) {							\
		printf("ok %d %s\n", ntests, #name);			\
	} else {							\
		nfailed++;						\
		printf("# %s\nnot ok %d %s\n", case_msg, ntests, #name);\
	}								\
} while (0)

static struct sdp_config cfg;

/* Reports collected from sdp_config_parse(). */
static int nreports, report_lines[32];
static char report_msgs[32][256];

static void report(void *arg, const char *path, int line, const char *msg)
{
	(void)arg;
	(void)path;
	if (nreports < 32) {
		report_lines[nreports] = line;
		snprintf(report_msgs[nreports], sizeof(report_msgs[0]), "%s", msg);
	}
	nreports++;
}

static int parse(const char *text)
{
	sdp_config_init(&cfg);
	nreports = 0;
	return sdp_config_parse(&cfg, text, strlen(text), "test.conf", report,
				NULL);
}

static struct sockaddr_storage ss;

static const struct sockaddr *addr(const char *ip, int port)
{
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else {
		abort();
	}
	return (const struct sockaddr *)&ss;
}

static int match(int role, const char *prog, const char *ip, int port)
{
	return sdp_config_match(&cfg, role, prog, addr(ip, port), sizeof(ss),
				NULL);
}

static int decide(int role, const char *prog, const char *ip, int port)
{
	return sdp_config_decide(&cfg, role, prog, addr(ip, port), sizeof(ss),
				 NULL);
}

#define S SDP_ROLE_SERVER
#define C SDP_ROLE_CLIENT

TEST(parse_ofed_default_file)
{
	CHECK_EQ(parse("# comment\n\nlog min-level 9 destination stderr\n"
		       "use both server * *:*\n"
		       "use both client * *:*   # trailing comment\n"), 0);
	CHECK_EQ(cfg.nrules, 2);
	CHECK_EQ(cfg.rules[0].mode, SDP_MODE_BOTH);
	CHECK_EQ(cfg.rules[0].role, S);
	CHECK_EQ(cfg.rules[1].role, C);
	CHECK_EQ(cfg.rules[1].line, 5);
	CHECK_EQ(cfg.log_level, 9);
	CHECK_EQ(cfg.log_dest, SDP_LOG_STDERR);
}

TEST(parse_role_synonyms)
{
	CHECK_EQ(parse("use sdp listen * *:*\nuse tcp connect * *:*\n"), 0);
	CHECK_EQ(cfg.rules[0].role, S);
	CHECK_EQ(cfg.rules[0].mode, SDP_MODE_SDP);
	CHECK_EQ(cfg.rules[1].role, C);
	CHECK_EQ(cfg.rules[1].mode, SDP_MODE_TCP);
}

TEST(parse_addresses_and_ports)
{
	CHECK_EQ(parse("use sdp client * 192.0.2.0/24:5000-5999\n"
		       "use sdp client * 10.1.2.3:80\n"
		       "use sdp client * 2001:db8::/32:*\n"
		       "use sdp client * [2001:db8::1]:443\n"
		       "use sdp client * ::1:7\n"), 0);
	CHECK_EQ(cfg.nrules, 5);
	CHECK_EQ(cfg.rules[0].family, AF_INET);
	CHECK_EQ(cfg.rules[0].prefix, 24);
	CHECK_EQ(cfg.rules[0].port_lo, 5000);
	CHECK_EQ(cfg.rules[0].port_hi, 5999);
	CHECK_EQ(cfg.rules[1].prefix, 32);
	CHECK_EQ(cfg.rules[1].port_lo, 80);
	CHECK_EQ(cfg.rules[1].port_hi, 80);
	CHECK_EQ(cfg.rules[2].family, AF_INET6);
	CHECK_EQ(cfg.rules[2].prefix, 32);
	CHECK_EQ(cfg.rules[2].port_lo, 0);
	CHECK_EQ(cfg.rules[2].port_hi, 65535);
	CHECK_EQ(cfg.rules[3].prefix, 128);
	CHECK_EQ(cfg.rules[3].port_lo, 443);
	CHECK_EQ(cfg.rules[4].family, AF_INET6);
	CHECK_EQ(cfg.rules[4].port_lo, 7);
}

TEST(parse_log_directive)
{
	CHECK_EQ(parse("log destination file /tmp/x.log min-level 1\n"), 0);
	CHECK_EQ(cfg.log_dest, SDP_LOG_FILE);
	CHECK(!strcmp(cfg.log_path, "/tmp/x.log"));
	CHECK_EQ(cfg.log_level, 1);
	CHECK_EQ(parse("log destination syslog\n"), 0);
	CHECK_EQ(cfg.log_dest, SDP_LOG_SYSLOG);
	CHECK_EQ(parse("log min-level 4\n"), 0);
	CHECK_EQ(cfg.log_level, 4);
	CHECK_EQ(cfg.log_dest, SDP_LOG_STDERR);
	CHECK_EQ(cfg.nrules, 0);
}

TEST(bad_lines_reported_with_line_numbers)
{
	CHECK_EQ(parse("use sdp server * *:*\n"		/* 1 good */
		       "use sdq server * *:*\n"		/* 2 mode */
		       "use sdp serve * *:*\n"		/* 3 role */
		       "use sdp server * 1.2.3.4\n"	/* 4 no port */
		       "use sdp server * 1.2.3.4:99999\n"	/* 5 port */
		       "use sdp server * 1.2.3.4:20-10\n"	/* 6 range */
		       "use sdp server * 1.2.3.4/33:1\n"	/* 7 prefix */
		       "use sdp server * host.example:1\n"	/* 8 name */
		       "use sdp server *\n"			/* 9 words */
		       "frobnicate\n"				/* 10 */
		       "log min-level 0\n"			/* 11 */
		       "log destination tty\n"		/* 12 */
		       "log\n"					/* 13 */
		       "use tcp client * *:*\n"),		/* 14 good */
		 12);
	CHECK_EQ(nreports, 12);
	for (int i = 0; i < 12 && i < nreports; i++)
		CHECK_EQ(report_lines[i], i + 2);
	CHECK_EQ(cfg.nrules, 2);
	CHECK_EQ(cfg.rules[1].line, 14);
	CHECK_EQ(cfg.errors, 12);
	CHECK(strstr(report_msgs[0], "sdq") != NULL);
	CHECK(strstr(report_msgs[8], "frobnicate") != NULL);
}

TEST(bad_lines_leave_config_unchanged)
{
	CHECK_EQ(parse("log min-level 3\nlog min-level 4 destination tty\n"), 1);
	CHECK_EQ(cfg.log_level, 3);
	CHECK_EQ(cfg.log_dest, SDP_LOG_STDERR);
}

TEST(last_line_without_newline_and_crlf)
{
	CHECK_EQ(parse("use sdp server * *:*"), 0);
	CHECK_EQ(cfg.nrules, 1);
	CHECK_EQ(parse("use sdp server * *:80\r\nuse tcp client * *:*\r\n"), 0);
	CHECK_EQ(cfg.nrules, 2);
	CHECK_EQ(cfg.rules[0].port_lo, 80);
}

TEST(first_match_wins)
{
	parse("use tcp client * 192.0.2.1:80\n"
	      "use sdp client * 192.0.2.0/24:*\n"
	      "use both client * *:*\n");
	CHECK_EQ(match(C, "curl", "192.0.2.1", 80), SDP_MODE_TCP);
	CHECK_EQ(match(C, "curl", "192.0.2.1", 81), SDP_MODE_SDP);
	CHECK_EQ(match(C, "curl", "192.0.2.200", 80), SDP_MODE_SDP);
	CHECK_EQ(match(C, "curl", "198.51.100.1", 80), SDP_MODE_BOTH);
}

TEST(role_is_respected)
{
	parse("use sdp server * *:80\nuse tcp client * *:80\n");
	CHECK_EQ(match(S, "x", "0.0.0.0", 80), SDP_MODE_SDP);
	CHECK_EQ(match(C, "x", "192.0.2.1", 80), SDP_MODE_TCP);
	CHECK_EQ(match(S, "x", "0.0.0.0", 81), SDP_MODE_NONE);
}

TEST(program_glob)
{
	parse("use sdp server lighttpd *:*\n"
	      "use sdp client cu?l *:*\n"
	      "use sdp client iperf* *:*\n"
	      "use tcp client * *:*\n");
	CHECK_EQ(match(S, "lighttpd", "0.0.0.0", 80), SDP_MODE_SDP);
	CHECK_EQ(match(S, "nginx", "0.0.0.0", 80), SDP_MODE_NONE);
	CHECK_EQ(match(C, "curl", "192.0.2.1", 80), SDP_MODE_SDP);
	CHECK_EQ(match(C, "iperf3", "192.0.2.1", 5201), SDP_MODE_SDP);
	CHECK_EQ(match(C, "wget", "192.0.2.1", 80), SDP_MODE_TCP);
	CHECK_EQ(match(C, NULL, "192.0.2.1", 80), SDP_MODE_TCP);
}

TEST(ipv4_prefixes)
{
	parse("use sdp client * 10.0.0.0/8:*\n"
	      "use sdp client * 192.168.1.128/25:*\n"
	      "use sdp client * 0.0.0.0/0:9\n");
	CHECK_EQ(match(C, "p", "10.255.1.1", 1), SDP_MODE_SDP);
	CHECK_EQ(match(C, "p", "11.0.0.1", 1), SDP_MODE_NONE);
	CHECK_EQ(match(C, "p", "192.168.1.200", 1), SDP_MODE_SDP);
	CHECK_EQ(match(C, "p", "192.168.1.127", 1), SDP_MODE_NONE);
	CHECK_EQ(match(C, "p", "203.0.113.9", 9), SDP_MODE_SDP);
}

TEST(ipv6_prefixes_and_mapped)
{
	parse("use sdp client * 2001:db8::/32:*\n"
	      "use tcp client * 192.0.2.0/24:*\n");
	CHECK_EQ(match(C, "p", "2001:db8::1", 80), SDP_MODE_SDP);
	CHECK_EQ(match(C, "p", "2001:db9::1", 80), SDP_MODE_NONE);
	/* An IPv4-mapped address is matched by IPv4 rules... */
	CHECK_EQ(match(C, "p", "::ffff:192.0.2.7", 80), SDP_MODE_TCP);
	/* ...and an IPv4 address never by IPv6 rules. */
	CHECK_EQ(match(C, "p", "198.51.100.1", 80), SDP_MODE_NONE);
}

TEST(port_ranges)
{
	parse("use sdp server * *:7000-7009\nuse tcp server * *:7010\n");
	CHECK_EQ(match(S, "p", "0.0.0.0", 6999), SDP_MODE_NONE);
	CHECK_EQ(match(S, "p", "0.0.0.0", 7000), SDP_MODE_SDP);
	CHECK_EQ(match(S, "p", "::", 7009), SDP_MODE_SDP);
	CHECK_EQ(match(S, "p", "0.0.0.0", 7010), SDP_MODE_TCP);
	CHECK_EQ(match(S, "p", "0.0.0.0", 7011), SDP_MODE_NONE);
}

TEST(defaults)
{
	/* No "use" rule: OFED's simple mode, everything SDP. */
	parse("# nothing\nlog min-level 9\n");
	CHECK_EQ(decide(C, "p", "192.0.2.1", 80), SDP_MODE_SDP);
	CHECK_EQ(decide(S, "p", "0.0.0.0", 80), SDP_MODE_SDP);
	/* Rules but no match: both. */
	parse("use tcp client * *:22\n");
	CHECK_EQ(decide(C, "p", "192.0.2.1", 22), SDP_MODE_TCP);
	CHECK_EQ(decide(C, "p", "192.0.2.1", 80), SDP_MODE_BOTH);
	CHECK_EQ(decide(S, "p", "0.0.0.0", 22), SDP_MODE_BOTH);
}

TEST(rule_line_reported)
{
	int line = -1;

	parse("\n# x\nuse tcp client * *:22\nuse sdp client * *:*\n");
	CHECK_EQ(sdp_config_decide(&cfg, C, "p", addr("192.0.2.1", 80),
				   sizeof(ss), &line), SDP_MODE_SDP);
	CHECK_EQ(line, 4);
}

TEST(non_inet_address_never_matches)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };

	parse("use sdp client * *:*\n");
	CHECK_EQ(sdp_config_match(&cfg, C, "p", &sa, sizeof(sa), NULL),
		 SDP_MODE_NONE);
	/* A short sockaddr_in is not read past its end. */
	CHECK_EQ(sdp_config_match(&cfg, C, "p", addr("192.0.2.1", 1), 4, NULL),
		 SDP_MODE_NONE);
}

TEST(too_many_rules)
{
	static char buf[SDP_MAX_RULES * 32 + 64];
	size_t n = 0;

	for (int i = 0; i <= SDP_MAX_RULES; i++)
		n += snprintf(buf + n, sizeof(buf) - n, "use sdp client * *:%d\n", i);
	CHECK_EQ(parse(buf), 1);
	CHECK_EQ(cfg.nrules, SDP_MAX_RULES);
	CHECK_EQ(report_lines[0], SDP_MAX_RULES + 1);
}

TEST(load_file)
{
	char path[] = "/tmp/libsdp-test.XXXXXX";
	const char *text = "use sdp client * *:1\nbogus\n";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long)strlen(text));
	close(fd);
	sdp_config_init(&cfg);
	nreports = 0;
	CHECK_EQ(sdp_config_load(&cfg, path, report, NULL), 0);
	CHECK_EQ(cfg.nrules, 1);
	CHECK_EQ(nreports, 1);
	CHECK_EQ(report_lines[0], 2);
	unlink(path);
	CHECK_EQ(sdp_config_load(&cfg, path, report, NULL), -1);
}

int main(void)
{
	printf("TAP version 13\n");
	RUN(parse_ofed_default_file);
	RUN(parse_role_synonyms);
	RUN(parse_addresses_and_ports);
	RUN(parse_log_directive);
	RUN(bad_lines_reported_with_line_numbers);
	RUN(bad_lines_leave_config_unchanged);
	RUN(last_line_without_newline_and_crlf);
	RUN(first_match_wins);
	RUN(role_is_respected);
	RUN(program_glob);
	RUN(ipv4_prefixes);
	RUN(ipv6_prefixes_and_mapped);
	RUN(port_ranges);
	RUN(defaults);
	RUN(rule_line_reported);
	RUN(non_inet_address_never_matches);
	RUN(too_many_rules);
	RUN(load_file);
	printf("1..%d\n", ntests);
	printf("# libsdp config: %d passed, %d failed\n", ntests - nfailed,
	       nfailed);
	return nfailed ? 1 : 0;
}
