#!/bin/sh
# Several processes at once on one spool: enqueuers redelivering overlapping
# events, and workers that claim, adopt, rewrite, and move jobs to done/,
# back to new/ (retries), to failed/, or leave them in cur/ unlocked (as a
# crash would). Afterwards every job must be in exactly one file, in done/
# or failed/, and the claim records must show no job held by two processes
# at once (see tests/unit/spool_stress.c for how that is detected).

: "${top_builddir:?}"
STRESS="$top_builddir/tests/unit/spool_stress"
NJOBS=500
ENQUEUERS=3
WORKERS=4

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/rig/tap.sh"
tap_need_built "$STRESS"
# a hung worker must fail the test, not hang it
if command -v timeout >/dev/null 2>&1; then T="timeout 600"; else T=; fi

W=$(mktemp -d "${TMPDIR:-/tmp}/spool_concurrency.XXXXXX") || exit 1
tap_on_exit 'rm -rf "$W"'
mkdir "$W/marks"

echo "1..6"

$T "$STRESS" enqueue "$W" 0 0 0
ok $? "the spool is created"

pids_e= pids_w=
i=1
while [ $i -le $ENQUEUERS ]; do
	$T "$STRESS" enqueue "$W" $NJOBS $i 150 2>>"$W/errors" & pids_e="$pids_e $!"
	i=$((i + 1))
done
i=1
while [ $i -le $WORKERS ]; do
	$T "$STRESS" work "$W" $((100 + i)) 2>>"$W/errors" & pids_w="$pids_w $!"
	i=$((i + 1))
done

st=0
for p in $pids_e; do wait "$p" || st=1; done
ok $st "$ENQUEUERS enqueuers redelivered overlapping events without an error"
touch "$W/stop"
st=0
for p in $pids_w; do wait "$p" || st=1; done
ok $st "$WORKERS workers claimed, adopted, updated and moved without an error or a double claim"
if [ -s "$W/errors" ]; then sed 's/^/# /' "$W/errors" | head -40; fi

"$STRESS" check "$W" $NJOBS drained >"$W/check.out" 2>&1
st=$?
sed 's/^/# /' "$W/check.out" | head -40
ok $st "every job is in exactly one file, in done/ or failed/; claim counters 0..m-1 once each; tmp/ empty"

# the run did exercise concurrency: jobs that several processes claimed,
# adoptions of abandoned jobs, and retries
multi=$(cat "$W"/log.* | awk '$1 == "C" { if (!((($2) SUBSEP ($4)) in seen)) { seen[$2, $4] = 1; n[$2]++ } }
	END { c = 0; for (j in n) if (n[j] > 1) c++; print c }')
echo "# jobs claimed by more than one process: $multi"
[ "${multi:-0}" -gt 0 ]
ok $? "some jobs passed through several processes"
retries=$(cat "$W"/log.* | awk '$1 == "C" && $3 > 0 && $5 == "claim"' | wc -l)
adoptions=$(cat "$W"/log.* | awk '$1 == "C" && $5 == "adopt"' | wc -l)
echo "# retries claimed again: $retries, abandoned jobs adopted: $adoptions"
[ "$retries" -gt 0 ] && [ "$adoptions" -gt 0 ]
ok $? "jobs came back for retries, and abandoned ones were adopted"
