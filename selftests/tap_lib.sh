# SPDX-License-Identifier: GPL-2.0
#
# TAP output for the shell selftests (sourced): "result 0|1 name
# [diagnostic]" prints one "ok N name" or "not ok N name # diagnostic"
# line and counts the failures in $fails; $n and $fails start at 0.

n=0
fails=0

result() {	# result 0|1 name [diagnostic]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2${3:+ # $3}"
		fails=$((fails + 1))
	fi
}
