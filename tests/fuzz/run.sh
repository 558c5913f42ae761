#!/bin/sh
# Runs every libFuzzer target already built for SECONDS each, starting from
# its seed corpus; builds nothing. Prints TAP; exit status 1 when a target
# found a crash, leak or hang (the input is kept and its path printed).
#   CC=clang ./configure --enable-fuzzers && make fuzzers && tests/fuzz/run.sh 30
# top_builddir (default: the current directory) holds the built targets;
# top_srcdir (default: found from this script) holds the seed corpora, which
# are only read: new inputs go to a scratch directory (FUZZ_WORKDIR, kept).
set -u
seconds=${1:-}
case $seconds in
''|*[!0-9]*) echo "usage: $0 SECONDS" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-$(pwd)}
work=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/zoom2s3-fuzz.XXXXXX")}
targets="fuzz_webhook fuzz_job fuzz_config fuzz_keytmpl"

echo "1..4"
n=0
failed=0
for t in $targets; do
	n=$((n + 1))
	bin=$builddir/tests/fuzz/$t
	if [ ! -x "$bin" ]; then
		echo "not ok $n - $t: $bin not built (CC=clang ./configure --enable-fuzzers && make fuzzers)"
		failed=1
		continue
	fi
	mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
	set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$work/$t/artifacts/"
	if [ -f "$srcdir/tests/fuzz/dict/$t.dict" ]; then
		set -- "$@" -dict="$srcdir/tests/fuzz/dict/$t.dict"
	fi
	# The scratch directory comes first: libFuzzer writes new inputs there.
	# A bound on the whole run too: a target that hangs on its way out (an
	# out-of-memory report of a large heap) must not stall CI.
	if timeout -k 10 $((seconds + 120)) "$bin" "$@" "$work/$t/corpus" \
		"$srcdir/tests/fuzz/corpus/$t" >"$work/$t/log" 2>&1; then
		echo "ok $n - $t ran ${seconds}s ($(grep -c . "$work/$t/log") log lines, $(ls "$work/$t/corpus" | wc -l) new inputs)"
	else
		echo "not ok $n - $t: see $work/$t/log"
		for a in "$work/$t/artifacts"/*; do
			[ -e "$a" ] && echo "#   reproduce: $bin $a"
		done
		grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error)" "$work/$t/log" | head -5 | sed 's/^/#   /'
		failed=1
	fi
done
echo "# work directory: $work"
exit $failed
