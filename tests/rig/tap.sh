# tap.sh: what the shell tests share (sourced, POSIX sh). TAP lines and the
# plan, the skips that ZOOM2S3_REQUIRE_ALL=1 turns into failures, the checks
# that the packages a test needs are installed, and the Ceph RGW of the run.
#
#   . "$top_srcdir/tests/rig/tap.sh"
#   tap_on_exit 'rm -rf "$tmp"'      # runs however the test ends
#   tap_need_root
#   tap_need ceph radosgw man:man-db  # each command (its package), or skip
#   ok $? "what held" ["diagnostics"]
#   rgw_join "$TMP/rgw"             # $RGW_DIR: the run's cluster or a private one
#   tap_finish                      # the plan; exit 0 only when all held

tap_n=0
tap_fails=0

skip_all() {
	if [ "${ZOOM2S3_REQUIRE_ALL:-}" = 1 ]; then
		echo "1..1"
		echo "not ok 1 - $1 (ZOOM2S3_REQUIRE_ALL=1)"
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}

# tap_on_exit CMD: CMD runs however the test ends: it passes, fails, is
# interrupted (HUP, INT, TERM), or the reader of its TAP goes first (PIPE:
# the harness killed along with it, a shell reporting its killed child
# writes to a closed pipe). Those signals' default action would skip the
# EXIT trap and leave what the test started running.
tap_on_exit() {
	trap "$1" EXIT
	trap 'exit 1' HUP INT TERM PIPE
}

tap_need_root() {
	[ "$(id -u)" = 0 ] || skip_all "not root"
}

# tap_need CMD[:PACKAGE]...: skips, naming the first command missing (and
# the Debian package that has it), unless all are found.
tap_need() {
	for tap_cmd in "$@"; do
		tap_pkg=${tap_cmd#*:}
		tap_cmd=${tap_cmd%%:*}
		command -v "$tap_cmd" >/dev/null 2>&1 && continue
		if [ "$tap_pkg" != "$tap_cmd" ]; then
			skip_all "$tap_cmd is not installed (apt-get install $tap_pkg)"
		fi
		skip_all "$tap_cmd is not installed"
	done
}

# tap_need_built FILE: a program that make check builds.
tap_need_built() {
	[ -x "$1" ] || skip_all "$1 is not built (make check builds it)"
}

diag() { sed 's/^/# /'; }

# ok STATUS NAME [DIAG]: a TAP line; DIAG is shown when STATUS is not 0.
ok() {
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_fails=$((tap_fails + 1))
		[ -z "${3:-}" ] || printf '%s\n' "$3" | tail -n 40 | diag
	fi
}

tap_finish() {
	echo "1..$tap_n"
	[ "$tap_fails" -eq 0 ] && exit 0
	exit 1
}

# rgw_join PRIVATE_DIR: the Ceph RGW of this run when the runner names one
# (ZOOM2S3_RGW_DIR: joined, released by rgw_leave), else a private cluster
# in PRIVATE_DIR (stopped by rgw_leave). Sets RGW_DIR; returns rgw.sh's
# status, its output in $RGW_DIR.start.out.
RGW_SH="bash ${top_srcdir:-.}/tests/rig/rgw.sh"
RGW_DIR=
rgw_shared=
rgw_join() {
	if [ -n "${ZOOM2S3_RGW_DIR:-}" ]; then
		RGW_DIR=$ZOOM2S3_RGW_DIR
		rgw_shared=1
	else
		RGW_DIR=$1
		rgw_shared=
		export RGW_LINGER=-1
		unset RGW_PORT
	fi
	RGW_HOLDER_PID=$$ $RGW_SH start "$RGW_DIR" >"$1.start.out" 2>&1
}

rgw_leave() {
	if [ -z "$RGW_DIR" ]; then
		return 0
	elif [ -n "$rgw_shared" ]; then
		$RGW_SH release "$RGW_DIR" >/dev/null 2>&1
	else
		$RGW_SH stop "$RGW_DIR" >/dev/null 2>&1
		rm -f "$RGW_DIR.lock"
	fi
}
