#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the af_ib selftests (inside the test VM) and print one TAP 13 stream:
# one "ok N prog.test" / "not ok N prog.test" line per test case, every
# other output line as a "# " comment.  Exits non-zero if anything failed.
#
#   selftests/run_all.sh                  all programs, device/module
#                                         lifecycle tests last
#   selftests/run_all.sh afib_poll ...    just these programs
#
# Env: AFIB_TIMEOUT_SCALE (multiplies all timeouts, for slow kernels),
#      AFIB_ALLOW_SKIP=1 (count SKIP as passed; by default it is a failure),
#      AFIB_KO, RXE_NETDEV, AFIB_DEV (see the tests).

set -u
shopt -s lastpipe
cd "$(dirname "$0")" || exit 1

# Order matters: afib_devremove and sdp_devremove remove rxe0 (and re-add
# it) and afib_lifecycle.sh the module, so they run last.
ALL=(afib_basic afib_nonblock afib_poll afib_flow afib_badinput afib_rdma
     afib_rdma_32 sdp_tcp
     sdp_scale sdp_wire sdp_fallback libsdp_preload libsdp_apps.sh afib_dgram
     afib_devremove sdp_devremove
     afib_lifecycle.sh)
if [ $# -gt 0 ]; then
	TESTS=("$@")
else
	TESTS=("${ALL[@]}")
fi

SCALE=${AFIB_TIMEOUT_SCALE:-1}
TMO=$(sed -n 's/^timeout=//p' settings 2>/dev/null)
TMO=$(( ${TMO:-600} * SCALE ))

# Build what is missing (normally done on the host by make -C selftests).
need_build=0
for t in "${TESTS[@]}" afib_hold; do
	case $t in *.sh) ;; *) [ -x "$t" ] || need_build=1 ;; esac
done
[ -f ../tools/libsdp/libsdp.so ] || need_build=1
if [ $need_build = 1 ]; then
	echo "# building selftests"
	make -s 2>&1 | sed 's/^/# /'
fi

echo "TAP version 13"
n=0
fails=0
skips=0

for t in "${TESTS[@]}"; do
	name=${t%.sh}
	echo "# ==== $t (timeout ${TMO}s)"
	if [ ! -x "./$t" ]; then
		n=$((n + 1)); fails=$((fails + 1))
		echo "not ok $n $name # missing"
		continue
	fi
	got=0
	bad=0
	start=$SECONDS
	timeout --kill-after=10 "$TMO" "./$t" 2>&1 | while IFS= read -r line; do
		if [[ $line =~ ^(not\ )?ok\ [0-9]+\ (.*)$ ]]; then
			not=${BASH_REMATCH[1]}
			rest=${BASH_REMATCH[2]}
			n=$((n + 1)); got=$((got + 1))
			if [[ -z $not && $rest =~ \#\ *SKIP ]] &&
			   [ "${AFIB_ALLOW_SKIP:-0}" != 1 ]; then
				# A skipped test did not show the feature works.
				# (No SKIP directive left: TAP would count it.)
				not="not "
				rest=${rest/\#*SKIP/# skipped, counted as failure:}
				skips=$((skips + 1))
			fi
			[ -n "$not" ] && { bad=$((bad + 1)); fails=$((fails + 1)); }
			echo "${not}ok $n $name.$rest"
		else
			echo "# $line"
		fi
	done
	rc=${PIPESTATUS[0]}
	echo "# ==== $t: exit $rc after $((SECONDS - start))s"
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		# Crashed, timed out (124/137) or failed outside a test case.
		n=$((n + 1)); fails=$((fails + 1))
		echo "not ok $n $name # exit status $rc"
	elif [ "$got" -eq 0 ]; then
		n=$((n + 1)); fails=$((fails + 1))
		echo "not ok $n $name # no test results"
	fi
done

echo "1..$n"
echo "# af_ib selftests: $((n - fails)) passed, $fails failed" \
     "($skips skipped counted as failed)"
[ "$fails" -eq 0 ]
