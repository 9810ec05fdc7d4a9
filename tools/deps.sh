#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Idempotent installer of every Debian package the af_ib project needs on the
# host (build, lint, QEMU test VMs). A fast no-op when everything is present.
#
# Usage: tools/deps.sh [EXTRA_PACKAGE...]
#   AFIB_DEPS_EXTRA="pkg1 pkg2" adds packages too.
set -euo pipefail

PKGS=(
	# toolchain / kernel build
	build-essential gcc make libc6-dev git bc flex bison libssl-dev libelf-dev
	libdw-dev pahole cpio xz-utils zstd kmod python3 rsync dkms sparse
	linux-source-6.12
	# VMs
	qemu-system-x86 busybox-static
	# RDMA userspace and network tools used in the guest
	rdma-core ibverbs-utils rdmacm-utils perftest qperf iperf3 iproute2
	# selftests/afib_rdma_32: the RDMA tests as a 32-bit (compat) process
	gcc-multilib libc6-dev-i386
	# selftests/sdp_wire: a raw SDP peer on libibverbs and librdmacm
	libibverbs-dev librdmacm-dev
	# selftests/libsdp_apps.sh: unmodified programs run through sdp_run
	lighttpd curl socat strace
)
PKGS+=("$@")
# shellcheck disable=SC2206
PKGS+=(${AFIB_DEPS_EXTRA:-})

missing=()
for p in "${PKGS[@]}"; do
	[ -n "$p" ] || continue
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing ${missing[*]}" >&2
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
	$SUDO apt-get update
	$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
