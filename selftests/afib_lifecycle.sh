#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module lifecycle: rmmod af_ib is refused while a socket exists, works
# once all are closed, and insmod brings the module back in working order.
# Removes the module, so run_all.sh runs it last.
#
# Env: AFIB_KO (path of af_ib.ko; default: modinfo, then af_ib/af_ib.ko).
# Output: TAP 13.

set -u
cd "$(dirname "$0")" || exit 1

MOD=af_ib
KO=${AFIB_KO:-}
[ -n "$KO" ] || KO=$(modinfo -n "$MOD" 2>/dev/null)
[ -n "$KO" ] || KO=../af_ib/af_ib.ko
SCALE=${AFIB_TIMEOUT_SCALE:-1}
TMP=$(mktemp -d /tmp/afib_lifecycle.XXXXXX)
HOLD_PID=


# shellcheck source=tap_lib.sh
. ./tap_lib.sh

loaded() {
	[ -d /sys/module/$MOD ]
}

cleanup() {
	[ -n "$HOLD_PID" ] && kill "$HOLD_PID" 2>/dev/null && wait "$HOLD_PID" 2>/dev/null
	# Later tests (or the next run) need the module.
	loaded || insmod "$KO" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# Retry rmmod for up to $1 seconds: socket teardown may finish async.
rmmod_retry() {
	local end=$((SECONDS + $1))

	while :; do
		rmmod $MOD 2>"$TMP/rmmod.err" && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

echo "TAP version 13"

if [ "${AFIB_IN_VM:-}" != 1 ] && [ "${AFIB_DESTRUCTIVE:-}" != 1 ]; then
	echo "# refusing to rmmod/insmod outside the test VM" \
	     "(set AFIB_DESTRUCTIVE=1 to override)"
	result 1 lifecycle.environment "not in the test VM"
	echo "1..$n"
	exit 1
fi

if [ ! -f "$KO" ]; then
	echo "# module file '$KO' not found (set AFIB_KO)"
	result 1 lifecycle.module_file "no af_ib.ko"
	echo "1..$n"
	exit 1
fi
if ! loaded; then
	echo "# $MOD not loaded at start, loading $KO"
	insmod "$KO" || { result 1 lifecycle.initial_insmod; exit 1; }
fi

# 1. A process holding sockets pins the module.
rm -f "$TMP/ready"
./afib_hold hold "$TMP/ready" &
HOLD_PID=$!
for _ in $(seq $((100 * SCALE))); do
	[ -f "$TMP/ready" ] && break
	kill -0 "$HOLD_PID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -f "$TMP/ready" ]; then
	result 1 lifecycle.hold_sockets "afib_hold did not get ready"
else
	result 0 lifecycle.hold_sockets
	if rmmod $MOD 2>"$TMP/rmmod.err"; then
		result 1 lifecycle.rmmod_refused_while_sockets_open "rmmod succeeded"
	elif ! loaded; then
		result 1 lifecycle.rmmod_refused_while_sockets_open "module gone"
	else
		echo "# rmmod said: $(cat "$TMP/rmmod.err")"
		result 0 lifecycle.rmmod_refused_while_sockets_open
	fi
	# The held sockets still work? A fresh pair must.
	if loaded && ./afib_hold check; then
		result 0 lifecycle.works_after_refused_rmmod
	else
		result 1 lifecycle.works_after_refused_rmmod
	fi
fi

# 2. Close everything: rmmod works.
if [ -n "$HOLD_PID" ]; then
	kill "$HOLD_PID" 2>/dev/null
	wait "$HOLD_PID" 2>/dev/null
	HOLD_PID=
fi
if rmmod_retry $((10 * SCALE)) && ! loaded; then
	result 0 lifecycle.rmmod_after_close
else
	echo "# rmmod said: $(cat "$TMP/rmmod.err")"
	result 1 lifecycle.rmmod_after_close
fi

# 3. AF_IB is gone with the module, back after insmod.
if ! loaded; then
	if ./afib_hold absent; then
		result 0 lifecycle.no_af_ib_without_module
	elif loaded; then
		echo "# socket(AF_IB) autoloaded $MOD"
		result 0 lifecycle.no_af_ib_without_module
	else
		result 1 lifecycle.no_af_ib_without_module "socket() worked"
	fi
fi
if loaded || insmod "$KO"; then
	result 0 lifecycle.insmod
else
	result 1 lifecycle.insmod
fi
if ./afib_hold check; then
	result 0 lifecycle.works_after_reload
else
	result 1 lifecycle.works_after_reload
fi

# 4. Reload cycle once more, quickly, with a listener closed just before.
if ./afib_hold check && rmmod_retry $((10 * SCALE)) && insmod "$KO" &&
   ./afib_hold check; then
	result 0 lifecycle.second_reload
else
	result 1 lifecycle.second_reload
fi

echo "1..$n"
[ $fails -eq 0 ]
