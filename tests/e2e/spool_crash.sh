#!/bin/sh
# Crashes: two processes enqueue, claim, rewrite and move jobs with pauses
# in between, and each SIGKILLs itself at a kill point this test picks from
# the seed (the Nth flock or pause while it holds a claim: mid-move,
# mid-rewrite), never after a timer. Then a new run must find every job that
# was acknowledged, adopt every job left in cur/ (nobody holds its lock any
# more), and drain the spool: each job ends in exactly one file, nothing
# lost, nothing twice, and the orphaned temporary files are cleaned.

: "${top_builddir:?}"
STRESS="$top_builddir/tests/unit/spool_stress"
NJOBS=60
ROUNDS=8

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/rig/tap.sh"
tap_need_built "$STRESS"

TOP=$(mktemp -d "${TMPDIR:-/tmp}/spool_crash.XXXXXX") || exit 1
tap_on_exit 'rm -rf "$TOP"'

echo "1..$((2 * ROUNDS + 1))"
# a kill point in lo..lo+span, from a seed (the shell has no $RANDOM in POSIX)
point() { awk -v s="$1" -v lo="$2" -v span="$3" 'BEGIN { srand(s); printf "%d", lo + rand() * span }'; }

seed=$(date +%s)
echo "# seed $seed"
adopted_total=0
r=1
while [ $r -le $ROUNDS ]; do
	W="$TOP/round$r"
	mkdir -p "$W/marks"
	"$STRESS" enqueue "$W" 0 0 0 || echo "# cannot create the spool"
	# close together, so that neither adopts what the other left in cur/
	k1=$(point $((seed + r)) 1 60)
	k2=$((k1 + $(point $((seed + 200 + r)) 0 4)))
	echo "# round $r: the two processes die at kill points $k1 and $k2"
	"$STRESS" chaos "$W" $NJOBS $((seed + r)) "$k1" 2>>"$W/errors" & p1=$!
	"$STRESS" chaos "$W" $NJOBS $((seed + 100 + r)) "$k2" 2>>"$W/errors" & p2=$!
	wait $p1 $p2 2>/dev/null

	out=$("$STRESS" recover "$W" $NJOBS 2>>"$W/recover.err")
	st=$?
	echo "# round $r: $out"
	[ -s "$W/recover.err" ] && sed 's/^/# /' "$W/recover.err" | head -20
	ok $st "round $r: every acknowledged job survived; every job left in cur/ was adopted; the spool drained"
	adopted=$(echo "$out" | awk '{ print $2 }')
	adopted_total=$((adopted_total + ${adopted:-0}))

	"$STRESS" check "$W" $NJOBS after-crash >"$W/check.out" 2>&1
	st=$?
	[ $st -ne 0 ] && sed 's/^/# /' "$W/check.out" | head -20
	ok $st "round $r: each job in exactly one file, in done/ or failed/; tmp/ empty"
	r=$((r + 1))
done

echo "# jobs adopted after the kills: $adopted_total"
[ "$adopted_total" -gt 0 ]
ok $? "some kills left claimed jobs in cur/, and they were adopted"
