#!/bin/sh
# The README's demo: zoom2s3's whole path end to end on loopback, shown step
# by step. On a fresh Debian 12 machine, as root:
#
#     sh tests/demo.sh [--keep]
#
# installs the packages it needs (tests/deps.sh), builds zoom2s3 in
# build/demo (no sanitizers), then runs tests/demo.py: a local Ceph RGW as
# the bucket, a stand-in Zoom, lighttpd running zoom2s3.fcgi as www-data, a
# signed recording.completed webhook (sent twice), and zoom2s3-spooler
# --once, which streams the recordings into the bucket. --keep leaves the
# RGW and the demo's files in place afterwards, and ends by printing the
# zoom2s3ctl commands (status, list, show) for the kept spool and the
# command that stops the RGW, with their real paths.
# Exits 0 only when every step did what it should.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

say() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: run me as root (the demo starts lighttpd, which drops to www-data, and a Ceph RGW)" >&2
	exit 1
fi

say "Installing missing Debian packages (tests/deps.sh)"
sh tests/deps.sh

if [ ! -x configure ]; then
	say "Generating configure (autoreconf -fi)"
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi

say "Building zoom2s3 in build/demo"
mkdir -p build/demo
log="$top/build/demo/build.log"
if ! (cd build/demo && { [ -f Makefile ] || "$top/configure" -q; } &&
	make -j2 src/zoom2s3.fcgi src/zoom2s3-spooler src/zoom2s3ctl) >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "demo.sh: the build failed (whole log: $log)" >&2
	exit 1
fi

status=0
python3 tests/demo.py --builddir build/demo "$@" || status=$?
exit $status
