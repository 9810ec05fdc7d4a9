#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unmodified Debian programs on SDP through sdp_run (tools/libsdp):
#
#   lighttpd (epoll, accept4, sendfile) serving a file to curl;
#   socat (select) server and client streaming a file;
#   iperf3 (select, TCP_INFO) server and client.
#
# Every transfer is checked end to end (sha256), and /proc/net/sdp is read
# while the connection is up: an ESTABLISHED line with the port proves the
# traffic went over SDP, and its absence (with the connection in
# /proc/net/tcp instead) that "use tcp" rules and plain programs kept TCP.
# Mixed pairs: a "both" client against a plain TCP server falls back, a
# plain TCP client against a "both" server is served.
#
# Needs lighttpd, curl, socat, iperf3 and strace (tools/deps.sh).
# Output: TAP 13.

set -u
cd "$(dirname "$0")" || exit 1
SDP_RUN=$(cd ../tools/libsdp && pwd)/sdp_run
IP=${AFIB_IP4:-192.0.2.1}
SCALE=${AFIB_TIMEOUT_SCALE:-1}
TMP=$(mktemp -d /tmp/libsdp_apps.XXXXXX)
PIDS=()

# shellcheck source=tap_lib.sh
. ./tap_lib.sh

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

bg() {	# bg CMD...: start in the background, remember the pid in $BG
	"$@" &
	BG=$!
	PIDS+=("$BG")
}

stop() {	# stop PID
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

porthex() { printf '%04X' "$1"; }

# /proc/net/sdp (or tcp) lines with state $2 (01 ESTABLISHED, 0A LISTEN)
# and local or remote port $3.
proc_lines() {	# proc_lines sdp|tcp STATE PORT
	local p
	p=$(porthex "$3")
	awk -v p=":$p" -v st="$2" 'NR > 1 && $4 == st &&
		(substr($2, length($2) - 4) == p || substr($3, length($3) - 4) == p)' \
		"/proc/net/$1"
}

# Wait up to $4 seconds for such a line; print it (the evidence).
wait_proc() {	# wait_proc sdp|tcp STATE PORT SEC
	local end=$((SECONDS + $4 * SCALE)) l
	while :; do
		l=$(proc_lines "$1" "$2" "$3")
		if [ -n "$l" ]; then
			echo "$l" | sed "s|^|# /proc/net/$1: |"
			return 0
		fi
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

wait_exit() {	# wait_exit PID SEC: its exit status, 124 if it ran too long
	local end=$((SECONDS + $2 * SCALE))
	while kill -0 "$1" 2>/dev/null; do
		if [ $SECONDS -ge $end ]; then
			kill "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			return 124
		fi
		sleep 0.1
	done
	wait "$1"
}

sum() { sha256sum <"$1" | cut -d' ' -f1; }

# verdict NAME CLIENT_RC OUTFILE EVIDENCE PORT PROTO: one result line.
# EVIDENCE: 0 seen in /proc/net/PROTO, 1 not seen, 2 TCP seen in sdp too.
verdict() {
	if [ "$2" != 0 ]; then
		result 1 "$1" "client exit $2"
	elif [ ! -f "$3" ] || [ "$(sum "$3")" != "$SUM" ]; then
		result 1 "$1" "checksum mismatch"
	elif [ "$4" = 1 ]; then
		result 1 "$1" "no ESTABLISHED line for port $5 in /proc/net/$6"
	elif [ "$4" = 2 ]; then
		result 1 "$1" "port $5 in /proc/net/sdp"
	else
		result 0 "$1"
	fi
}

echo "TAP version 13"

missing=
for p in lighttpd curl socat iperf3 strace; do
	command -v $p >/dev/null || missing="$missing $p"
done
if [ -n "$missing" ] || [ ! -x "$SDP_RUN" ] || [ ! -r /proc/net/sdp ]; then
	result 1 libsdp_apps.setup "missing:$missing ${SDP_RUN} /proc/net/sdp"
	echo "1..$n"
	exit 1
fi

mkdir -p "$TMP/www"
head -c $((16 << 20)) /dev/urandom >"$TMP/www/data"
SUM=$(sum "$TMP/www/data")

# ---- lighttpd + curl ----------------------------------------------------

lighttpd_conf() {	# lighttpd_conf PORT
	cat >"$TMP/lighttpd-$1.conf" <<EOF
server.document-root = "$TMP/www"
server.port = $1
server.bind = "$IP"
server.errorlog = "$TMP/lighttpd-$1.err"
server.network-backend = "sendfile"
server.max-keep-alive-requests = 0
server.pid-file = "$TMP/lighttpd-$1.pid"
mimetype.assign = ( "" => "application/octet-stream" )
EOF
}

# start_lighttpd PORT CONFIG: lighttpd under sdp_run, strace counting sendfile
start_lighttpd() {
	lighttpd_conf "$1"
	bg strace -f -qq -e trace=sendfile,sendfile64 -e signal=none \
		-o "$TMP/lighttpd-$1.strace" \
		"$SDP_RUN" -c "$2" lighttpd -D -f "$TMP/lighttpd-$1.conf"
	LPID=$BG
	LPORT=$1
}

stop_lighttpd() {	# strace stays out of it: lighttpd has its pid file
	local end=$((SECONDS + 10))
	while [ ! -s "$TMP/lighttpd-$LPORT.pid" ] && [ $SECONDS -lt $end ]; do
		sleep 0.1
	done
	[ -s "$TMP/lighttpd-$LPORT.pid" ] && kill "$(cat "$TMP/lighttpd-$LPORT.pid")"
	wait_exit "$LPID" 10
}

# fetch NAME PORT STATE_PROTO [sdp_run args]: curl the file slowly enough
# to see the connection, check it appears in /proc/net/$STATE_PROTO.
fetch() {
	local name=$1 port=$2 proto=$3 pid ev=0
	shift 3
	rm -f "$TMP/out"
	bg "$@" curl -sS --limit-rate 3M -o "$TMP/out" "http://$IP:$port/data"
	pid=$BG
	wait_proc "$proto" 01 "$port" 10 || ev=1
	# A TCP connection must not be in /proc/net/sdp while it is up.
	if [ "$proto" = tcp ] && [ -n "$(proc_lines sdp 01 "$port")" ]; then
		ev=2
	fi
	wait_exit "$pid" 60
	verdict "$name" $? "$TMP/out" "$ev" "$port" "$proto"
}

# 1. SDP end to end: lighttpd listens on SDP, curl connects over SDP.
cat >"$TMP/sdp.conf" <<EOF
use sdp server lighttpd *:8080
use sdp client curl *:8080
use sdp server socat *:9000
use sdp client socat *:9000
use sdp server iperf3 *:5201
use sdp client iperf3 *:5201
EOF
start_lighttpd 8080 "$TMP/sdp.conf"
if wait_proc sdp 0A 8080 10; then
	result 0 lighttpd.listens_on_sdp
else
	result 1 lighttpd.listens_on_sdp "no SDP listener on 8080"
fi
fetch lighttpd.curl_over_sdp 8080 sdp "$SDP_RUN" -c "$TMP/sdp.conf"
stop_lighttpd
nsf=$(grep -cE '^[0-9]+ +sendfile(64)?\([0-9]+, [0-9]+, .*\) = [1-9]' \
	"$TMP/lighttpd-8080.strace" 2>/dev/null)
if [ "${nsf:-0}" -gt 0 ]; then
	result 0 lighttpd.sent_with_sendfile
	echo "# lighttpd: $nsf successful sendfile() calls into the SDP socket"
else
	result 1 lighttpd.sent_with_sendfile "no successful sendfile() in strace"
fi

# 2. "use tcp": the same programs stay on TCP.
cat >"$TMP/tcp.conf" <<EOF
use tcp server lighttpd *:*
use tcp client curl *:*
use tcp server socat *:*
use tcp client socat *:*
EOF
start_lighttpd 8081 "$TMP/tcp.conf"
wait_proc tcp 0A 8081 10 >/dev/null
if [ -n "$(proc_lines sdp 0A 8081)" ]; then
	result 1 lighttpd.use_tcp_not_on_sdp "SDP listener on 8081"
else
	result 0 lighttpd.use_tcp_not_on_sdp
fi
fetch lighttpd.curl_use_tcp 8081 tcp "$SDP_RUN" -c "$TMP/tcp.conf"
stop_lighttpd

# 3. A "both" server: plain curl (TCP) and curl over SDP on the same port.
cat >"$TMP/both.conf" <<EOF
use both server lighttpd *:8082
use sdp client curl *:8082
EOF
start_lighttpd 8082 "$TMP/both.conf"
if wait_proc sdp 0A 8082 10 >/dev/null && wait_proc tcp 0A 8082 5 >/dev/null; then
	result 0 lighttpd.both_listens_on_sdp_and_tcp
else
	result 1 lighttpd.both_listens_on_sdp_and_tcp "listeners missing"
fi
fetch lighttpd.both_plain_tcp_curl 8082 tcp env
fetch lighttpd.both_sdp_curl 8082 sdp "$SDP_RUN" -c "$TMP/both.conf"
stop_lighttpd

# ---- socat --------------------------------------------------------------

# socat_pair NAME PORT PROTO SERVER_PREFIX CLIENT_PREFIX: stream the file
# from a socat client to a socat server; the client keeps the connection
# open 1 s after the data so that it can be seen.
socat_pair() {
	local name=$1 port=$2 proto=$3 spfx=$4 cpfx=$5 spid cpid ev=0 rc
	rm -f "$TMP/socat.out"
	# shellcheck disable=SC2086
	bg $spfx socat -u "TCP-LISTEN:$port,bind=$IP,reuseaddr" \
		"CREATE:$TMP/socat.out"
	spid=$BG
	if [ "$proto" = sdp ] && [ "$spfx" != "" ]; then
		wait_proc sdp 0A "$port" 10 >/dev/null
	else
		wait_proc tcp 0A "$port" 10 >/dev/null
	fi
	# shellcheck disable=SC2086
	bg sh -c "{ cat '$TMP/www/data'; sleep $((2 * SCALE)); } |
		$cpfx socat -u STDIN 'TCP:$IP:$port'"
	cpid=$BG
	wait_proc "$proto" 01 "$port" 10 || ev=1
	if [ "$proto" = tcp ] && [ -n "$(proc_lines sdp 01 "$port")" ]; then
		ev=2
	fi
	wait_exit "$cpid" 60
	rc=$?
	wait_exit "$spid" 20
	verdict "$name" "$rc" "$TMP/socat.out" "$ev" "$port" "$proto"
}

socat_pair socat.over_sdp 9000 sdp "$SDP_RUN -c $TMP/sdp.conf" \
	"$SDP_RUN -c $TMP/sdp.conf"
socat_pair socat.use_tcp 9001 tcp "$SDP_RUN -c $TMP/tcp.conf" \
	"$SDP_RUN -c $TMP/tcp.conf"

# Mixed: a "both" client against a plain TCP server falls back (quickly),
# a plain client against a "both" server is served over TCP, and an SDP
# client against the same "both" server over SDP.
cat >"$TMP/mixed.conf" <<EOF
use both client socat *:9002
use both server socat *:9003
use sdp client socat *:9003
EOF
t0=$SECONDS
socat_pair socat.both_client_plain_server 9002 tcp "" \
	"$SDP_RUN -c $TMP/mixed.conf"
echo "# fallback run took $((SECONDS - t0)) s (2 s of it the client's linger)"
socat_pair socat.plain_client_both_server 9003 tcp \
	"$SDP_RUN -c $TMP/mixed.conf" ""
socat_pair socat.sdp_client_both_server 9003 sdp \
	"$SDP_RUN -c $TMP/mixed.conf" "$SDP_RUN -c $TMP/mixed.conf"

# ---- iperf3 ------------------------------------------------------------

export LIBSDP_LOG_LEVEL=4	# the swaps, in iperf3's output
bg sh -c "exec '$SDP_RUN' -c '$TMP/sdp.conf' iperf3 -s -1 -B $IP -p 5201 \
	>'$TMP/iperf3-s.out' 2>&1"
spid=$BG
wait_proc sdp 0A 5201 10 >/dev/null
bg sh -c "exec '$SDP_RUN' -c '$TMP/sdp.conf' iperf3 -c $IP -p 5201 -t 3 \
	>'$TMP/iperf3-c.out' 2>&1"
cpid=$BG
# The control connection and the data connection, both ends: the most
# ESTABLISHED lines seen while the client runs.
nconn=0
end=$((SECONDS + 60 * SCALE))
while kill -0 "$cpid" 2>/dev/null && [ $SECONDS -lt $end ]; do
	c=$(proc_lines sdp 01 5201 | wc -l)
	if [ "$c" -gt "$nconn" ]; then
		nconn=$c
		proc_lines sdp 01 5201 >"$TMP/iperf3.proc"
	fi
	sleep 0.2
done
wait_exit "$cpid" 60
rc=$?
grep -E 'sender|receiver' "$TMP/iperf3-c.out" | sed 's/^/# iperf3: /'
wait_exit "$spid" 20
unset LIBSDP_LOG_LEVEL
if [ "$rc" != 0 ]; then
	result 1 iperf3.over_sdp "iperf3 client exit $rc"
	sed 's/^/# /' "$TMP/iperf3-c.out" "$TMP/iperf3-s.out"
elif [ "$nconn" -lt 4 ]; then
	result 1 iperf3.over_sdp "$nconn ESTABLISHED SDP lines for 5201 (want 4: 2 connections, both ends)"
	sed 's/^/# /' "$TMP/iperf3-c.out" "$TMP/iperf3-s.out"
else
	result 0 iperf3.over_sdp
	sed 's|^|# /proc/net/sdp: |' "$TMP/iperf3.proc"
fi

echo "1..$n"
echo "# libsdp_apps: $((n - fails)) passed, $fails failed"
[ "$fails" = 0 ]
