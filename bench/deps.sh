#!/bin/sh
# Installs, with apt-get, the Debian 12 packages the benchmarks need beyond
# those of the build and the tests (tests/deps.sh): the load generator, the
# uploaders zoom2s3 is compared with, GNU time, and the profilers. Safe to
# run again: it installs only what is missing. Needs root (or sudo).
set -eu

PKGS="wrk rclone awscli time linux-perf valgrind"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then exec sudo "$0" "$@"; fi
	echo "bench/deps.sh: these packages are missing and installing them needs root:$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "bench/deps.sh: installing:$missing"
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
