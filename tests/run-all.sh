#!/bin/sh
# Builds zoom2s3 and runs every test, on a fresh Debian 12 machine as well
# as on a developer's: installs the packages it needs (tests/deps.sh), then
#  1. a gcc build with AddressSanitizer + UndefinedBehaviorSanitizer and
#     -Werror runs `make check`: unit tests and the end-to-end rigs (real
#     lighttpd, Apache, Ceph RGW, the stand-in Zoom);
#  2. a clang build with -Werror and -Weverything (less the short list in
#     configure.ac) runs the unit tests;
#  3. a clang build with ThreadSanitizer runs the spooler's end-to-end tests
#     with -j 4 (ZOOM2S3_SPOOLER_JOBS), which must be free of reports;
#  4. clang's static analyzer (scan-build) over src/, which must find nothing;
#  5. `make distcheck`, as a user types it: the tarball builds, installs,
#     and passes every test, the end-to-end rigs too, from a VPATH build
#     over the read-only unpacked tarball;
#  6. each libFuzzer target runs for a short, bounded time;
#  and, after step 1, a short soak (every fault at once) and a short soak
#  across two hosts on CephFS (tests/soak/scaleout_soak.py), then the Debian
#  package is built, installed, run through the demo and purged
#  (tests/debian_package.sh); last, the benchmarks run in smoke mode.
# Set FUZZ_SECONDS to fuzz longer (default 20 per target).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/deps.sh

# CI and this script require every rig: a test that would skip fails instead.
ZOOM2S3_REQUIRE_ALL=1
# and the one case a plain make check leaves out for time (a 60 s stall)
ZOOM2S3_SLOW_TESTS=1
export ZOOM2S3_REQUIRE_ALL ZOOM2S3_SLOW_TESTS
jobs=$(nproc 2>/dev/null || echo 2)

autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
rgwdir="$top/build/rgw"
ZOOM2S3_RGW_DIR="$rgwdir"
export ZOOM2S3_RGW_DIR
trap 'bash "$top/tests/rig/rgw.sh" stop "$rgwdir" >/dev/null 2>&1 || true' EXIT

t_start=$(date +%s)
step() { printf '\n==== %s (%s, %d s in)\n' "$*" "$(date +%T)" $(($(date +%s) - t_start)); }
summarise() { # dir: prints "N passed, N failed" over the .trs files below dir
	find "$1" -name '*.trs' -exec cat {} + |
		awk '/^:test-result: (PASS|XFAIL)/ {p++} /^:test-result: (FAIL|XPASS|ERROR)/ {f++}
		     /^:test-result: SKIP/ {s++}
		     END {printf "%d passed, %d failed, %d skipped\n", p, f, s}'
}

status=0
# One Ceph RGW for every test of the run, started here so that no test
# process owns its daemons; it lives until the EXIT trap stops it.
step "a local Ceph RGW for the tests"
RGW_LINGER=-1 bash tests/rig/rgw.sh start "$rgwdir" || status=1

step "gcc + ASan/UBSan: make check"
rm -rf build/asan && mkdir -p build/asan
(cd build/asan && "$top/configure" -q CC=gcc --enable-sanitizers --enable-werror &&
	make -j"$jobs" >/dev/null && make -j"$jobs" check) || status=1
[ $status -eq 0 ] || cat build/asan/test-suite.log 2>/dev/null | tail -200

step "soak test, short: every fault at once (make soak runs the long one)"
(cd build/asan && make soak-short) || status=1

step "soak test across hosts, short: one spool on CephFS, two hosts, kills and a host's death (make soak-scaleout runs the long one)"
(cd build/asan && make soak-scaleout-short) || status=1

step "Debian package: build, install, the demo against it, purge"
sh tests/debian_package.sh || status=1

step "clang -Werror -Weverything: unit tests"
rm -rf build/clang && mkdir -p build/clang
(cd build/clang && "$top/configure" -q CC=clang --enable-weverything --enable-werror \
	--disable-e2e-tests && make -j"$jobs" >/dev/null && make -j"$jobs" check) || status=1

step "clang + ThreadSanitizer: the spooler's end-to-end tests with -j 4"
spooler_e2e=$(cd "$top" && ls tests/e2e/spooler_*.py tests/e2e/ctl_spooler.py | tr '\n' ' ')
rm -rf build/tsan && mkdir -p build/tsan
(cd build/tsan && "$top/configure" -q CC=clang --enable-tsan --enable-werror && make -j"$jobs" >/dev/null &&
	ZOOM2S3_SPOOLER_JOBS=4 TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1" \
		make -j"$jobs" check TESTS="$spooler_e2e") || status=1

step "scan-build (clang's static analyzer) over src/"
rm -rf build/scan && mkdir -p build/scan
(cd build/scan && scan-build --use-cc=clang "$top/configure" -q CC=clang >/dev/null &&
	scan-build --use-cc=clang --status-bugs -o "$top/build/scan/reports" make -j"$jobs" >/dev/null) ||
	{ echo "scan-build found bugs: build/scan/reports"; status=1; }

step "make distcheck"
rm -rf build/dist && mkdir -p build/dist
# as a user types it, but for the run's RGW and ZOOM2S3_REQUIRE_ALL: a rig
# that would skip in the unpacked tarball fails here
(cd build/dist && "$top/configure" -q && make -j"$jobs" distcheck) || status=1

if [ -f tests/fuzz/run.sh ]; then
	step "libFuzzer targets, ${FUZZ_SECONDS:-20} s each"
	rm -rf build/fuzz && mkdir -p build/fuzz
	(cd build/fuzz && "$top/configure" -q CC=clang --enable-fuzzers --enable-werror &&
		make -j"$jobs" fuzzers >/dev/null && top_srcdir="$top" sh "$top/tests/fuzz/run.sh" "${FUZZ_SECONDS:-20}") || status=1
fi

step "benchmarks, smoke mode (tiny sizes: keeps bench/ working, measures nothing)"
sh bench/run.sh --smoke || status=1

step "summary"
for b in asan clang tsan; do printf '%s: ' "$b"; summarise "build/$b"; done
summarise build
exit $status
