#!/bin/sh
# bench/run.sh: measures zoom2s3's two programs against their ceilings and
# against the tools users would pick instead (docs/BENCHMARKS.md).
#
#   sh bench/run.sh [--smoke] [--build DIR] [--runs N] [--size SIZE]
#                   [--duration S] [--only responder|spooler|backfill|scaleout]
#
#   --smoke     tiny sizes, one run each (about 1-2 minutes): keeps the
#               benchmarks working in CI. Exits non-zero when a tool breaks,
#               a spool check fails or an object's bytes do not verify;
#               never because of a timing.
#   --build DIR an existing build tree to use (configured without
#               sanitizers); default: build/bench under the source tree,
#               configured here with CFLAGS=-O2
#   --runs N    rounds per measurement (default 3; figures are medians)
#   --size SIZE the spooler's file (default 1G; K, M, G suffixes)
#   --duration S seconds per wrk run (default 10)
#   --only X    run only the responder, the spooler, the backfill or the
#               scaleout benchmark
#
# Needs root (lighttpd drops to www-data; apt-get). Installs what it needs
# (tests/deps.sh, bench/deps.sh). Starts its own Ceph RGW in its own
# directory (BUILD/bench/rgw, or BENCH_RGW_DIR) on RGW_PORT (default 7600)
# and stops it at the end. Results: BUILD/bench/responder.json,
# BUILD/bench/spooler.json and BUILD/bench/backfill.json. The scale-out
# benchmark (bench/scaleout.py: one spooler host against two on CephFS, a
# host's death) starts its own Ceph with CephFS (tests/rig/cephfs.sh) and
# writes BUILD/bench/scaleout.json.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
smoke=no build="" runs=3 size=1G duration=10 only=""
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=yes ;;
	--build) build=$2; shift ;;
	--runs) runs=$2; shift ;;
	--size) size=$2; shift ;;
	--duration) duration=$2; shift ;;
	--only) only=$2; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/run.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
	esac
	shift
done
PYTHON3=${PYTHON3:-python3}

sh "$top/tests/deps.sh"
sh "$top/bench/deps.sh"

# An optimised build without sanitizers: what users run.
if [ -z "$build" ]; then
	build="$top/build/bench"
	mkdir -p "$build"
	if [ ! -f "$build/Makefile" ]; then
		[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
		(cd "$build" && "$top/configure" -q CFLAGS='-O2 -g')
	fi
fi
build=$(cd "$build" && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
make -C "$build" -j"$jobs" src/zoom2s3.fcgi src/zoom2s3-spooler src/zoom2s3ctl >/dev/null
out="$build/bench"
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/hello_fcgi" "$top/bench/hello_fcgi.c" -lfcgi

echo "==== machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "==== file system under $out: $(df -T "$out" | awk 'NR==2 {print $2 " on " $1}')"
echo "==== build: $build"

status=0
if [ -z "$only" ] || [ "$only" = responder ]; then
	echo "==== responder: zoom2s3.fcgi vs hello_fcgi under lighttpd, wrk"
	if [ $smoke = yes ]; then
		set -- --runs 1 --duration 2
	else
		set -- --runs "$runs" --duration "$duration"
	fi
	"$PYTHON3" "$top/bench/responder.py" --build "$build" --hello "$out/hello_fcgi" \
		--workdir "$out" --json "$out/responder.json" "$@" || status=1
fi
if [ -z "$only" ] || [ "$only" = spooler ]; then
	echo "==== spooler: zoom2s3-spooler vs rclone, aws cli, curl | curl, floor"
	if [ $smoke = yes ]; then
		set -- --runs 1 --size 12M --part-size 5M --jfiles 4 --jsize 6M
	else
		set -- --runs "$runs" --size "$size"
	fi
	"$PYTHON3" "$top/bench/spooler.py" --build "$build" --workdir "$out/spooler" \
		--rgw-dir "${BENCH_RGW_DIR:-$out/rgw}" --rgw-port "${RGW_PORT:-7600}" --json "$out/spooler.json" \
		"$@" || status=1
fi
if [ -z "$only" ] || [ "$only" = backfill ]; then
	echo "==== backfill: zoom2s3ctl backfill over an account on the stand-in Zoom"
	if [ $smoke = yes ]; then
		set -- --users 5 --meetings 50 --days 40
	else
		set --
	fi
	mkdir -p "$out/backfill"
	"$PYTHON3" "$top/bench/backfill.py" --build "$build" --workdir "$out/backfill" \
		--json "$out/backfill.json" "$@" || status=1
fi
if [ -z "$only" ] || [ "$only" = scaleout ]; then
	echo "==== scale-out: one spooler host vs two on one spool over CephFS; a host's death"
	if [ $smoke = yes ]; then
		set -- --smoke
	else
		set -- --runs "$runs"
	fi
	"$PYTHON3" "$top/bench/scaleout.py" --build "$build" --json "$out/scaleout.json" "$@" ||
		status=1
fi
if [ $status -ne 0 ]; then
	echo "bench/run.sh: FAILED (see above)" >&2
fi
exit $status
