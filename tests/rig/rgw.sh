#!/bin/bash
# rgw.sh: a throw-away Ceph RGW (S3) for zoom2s3's tests, from Debian's
# packages (radosgw ceph-mon ceph-osd): one mon, one memstore OSD, radosgw,
# no systemd, everything under one directory, all on 127.0.0.1.
#
#   rgw.sh start DIR          start (idempotent; parallel callers share one)
#   rgw.sh env DIR            print S3_ENDPOINT=, AWS_ACCESS_KEY_ID=,
#                             AWS_SECRET_ACCESS_KEY=, S3_REGION= lines
#   rgw.sh mkbucket DIR NAME  create a bucket (no error if it is ours)
#   rgw.sh status DIR         exit 0 when it answers; prints the endpoint
#   rgw.sh release DIR        drop this caller's hold (see below)
#   rgw.sh stop DIR           stop it now, whoever holds it
#   rgw.sh gc DIR             purge deleted objects (memstore holds them)
#   rgw.sh admin DIR ARGS...  radosgw-admin on this cluster
#
# Environment: RGW_PORT (default 7480; when unset and 7480 is taken, the
# next free port in steps of 10), RGW_MEMSTORE_BYTES (default 4 GiB),
# RGW_LINGER (seconds the cluster lives on once no holder is alive; default
# 60; -1: until "stop"), RGW_HOLDER_PID (default: the caller, $PPID),
# PYTHON3 (for mkbucket).  The mon listens on RGW_PORT+1 (v2) and +2 (v1).
#
# "start" records its caller as a holder.  A watcher stops the cluster when
# every holder process has been gone for RGW_LINGER seconds, so a test that
# dies leaves nothing running for long, and tests that follow each other
# reuse one cluster.  A start that dies half-way, SIGKILLed even, leaves
# nothing either: a guard started with the first daemon stops what it
# started unless the cluster was handed over.  Everything is found and
# killed by PID, never by name.
#
# cephfs.sh sources this file with RGW_SH_LIB=1 and D set, for its helpers
# (pid_of, bg, wait_until, ceph_, die): then it parses no arguments and runs
# no command.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
ACCESS_KEY=TESTACCESSKEY0000000
SECRET_KEY=testsecret0000000000000000000000000000000
REGION=us-east-1

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF" >&2
	exit 2
}

if [ -z "${RGW_SH_LIB:-}" ]; then
	[ $# -ge 2 ] || usage
	CMD=$1
	D=$(realpath -m -- "$2")
	shift 2
fi
LOCK="$D.lock"
CONF="$D/ceph.conf"

say() { echo "rgw.sh: $*" >&2; }

die() {
	say "$*"
	local f
	for f in "$D"/log/*.out "$D"/log/*.log; do
		[ -s "$f" ] || continue
		echo "---- tail of $f" >&2
		tail -n 15 "$f" >&2
	done
	# a half-started cluster is of no use to anybody
	[ -z "${STARTING:-}" ] || stop_locked
	exit 1
}

# wait_until SECONDS WHAT COMMAND...: poll until COMMAND succeeds.
wait_until() {
	local limit=$1 what=$2 end
	shift 2
	end=$(($(date +%s) + limit))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || die "$what: not within ${limit}s"
		sleep 0.5
	done
}

# The start time of a process (field 22 of /proc/PID/stat): with the PID
# it names one process, even after the PID is reused.
starttime() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086 # split the fields on purpose
	set -- $s
	echo "${20}"
}

# pid_of NAME: the PID in $D/NAME.pid if that process is still the one we
# started (its command line names our config or our directory).
pid_of() {
	local f="$D/$1.pid" p
	[ -f "$f" ] || return 1
	p=$(cat "$f")
	[ -n "$p" ] && [ -r "/proc/$p/cmdline" ] || return 1
	case " $(tr '\0' ' ' <"/proc/$p/cmdline")" in
	*" $D/ceph.conf "* | *" _reap $D "* | *" _guard $D "*) echo "$p" ;;
	*) return 1 ;;
	esac
}

port() { cat "$D/port" 2>/dev/null; }

answers() {
	curl -s -o /dev/null -m 3 "http://127.0.0.1:$1/"
}

running() {
	[ -f "$D/ready" ] && pid_of mon >/dev/null && pid_of osd >/dev/null &&
		pid_of rgw >/dev/null && answers "$(port)"
}

port_busy() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

pick_port() {
	local p=${RGW_PORT:-7480} tries=0
	while port_busy "$p" || port_busy $((p + 1)) || port_busy $((p + 2)); do
		[ -z "${RGW_PORT:-}" ] || die "port $p (or $((p + 1)), $((p + 2))) is in use"
		tries=$((tries + 1))
		[ $tries -lt 50 ] || die "no free port from 7480 upwards"
		p=$((p + 10))
	done
	echo "$p"
}

lock() {
	mkdir -p "$(dirname "$D")"
	exec 9>"$LOCK"
	flock -w 300 9 || die "could not lock $LOCK within 300s"
}

unlock() { exec 9>&-; }

add_holder() {
	local p=${RGW_HOLDER_PID:-$PPID} st
	st=$(starttime "$p") || return 0
	mkdir -p "$D/holders"
	echo "$st" >"$D/holders/$p"
}

holders_alive() {
	local f p alive=1
	for f in "$D"/holders/*; do
		[ -e "$f" ] || continue
		p=${f##*/}
		if [ "$(starttime "$p" 2>/dev/null)" = "$(cat "$f")" ]; then
			alive=0
		else
			rm -f "$f"
		fi
	done
	return $alive
}

# stop_locked: the cluster's data is thrown away, so KILL at once (TERM
# costs 6 s: the daemons wait for each other while shutting down). The MDS
# and ceph-fuse clients of cephfs.sh go too, and their mounts are detached.
stop_locked() {
	local n p m pids="" alive
	rm -f "$D/ready"
	for n in fuse-h1 fuse-h2 mds guard reaper rgw osd mon; do
		p=$(pid_of $n) && [ "$p" != "$$" ] && pids="$pids $p"
		rm -f "$D/$n.pid"
	done
	rm -rf "$D/holders"
	# shellcheck disable=SC2086 # a list of PIDs
	[ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
	for m in "$D/h1" "$D/h2"; do
		! grep -q " $m fuse" /proc/mounts || umount -l "$m" 2>/dev/null || true
	done
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086 # a list of PIDs
	kill -9 $pids 2>/dev/null || true
	for _ in $(seq 100); do
		alive=""
		for p in $pids; do
			! kill -0 "$p" 2>/dev/null || alive="$alive $p"
		done
		[ -n "$alive" ] || return 0
		sleep 0.1
	done
	say "processes$alive did not exit"
	return 0
}

# bg NAME COMMAND...: run a daemon in its own session, stdio to its log,
# without our lock descriptor (else the lock would outlive this script).
bg() {
	local name=$1
	shift
	setsid "$@" </dev/null >"$D/log/$name.out" 2>&1 8>&- 9>&- &
	echo $! >"$D/$name.pid"
}

write_conf() {
	local fsid=$1 p=$2
	cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$((p + 1)),v1:127.0.0.1:$((p + 2))
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon data avail warn = 1
mon data avail crit = 1
[mon.a]
mon data = $D/mon
[client.admin]
keyring = $D/admin.keyring
[osd.0]
osd data = $D/osd0
keyring = $D/osd0/keyring
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-4294967296}
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$p
rgw data = $D/rgw
keyring = $D/rgw.keyring
rgw dns name = localhost
EOF
}

ceph_() { timeout 30 ceph -c "$CONF" --connect-timeout 10 "$@"; }

osd_up() { ceph_ osd stat 2>/dev/null | grep -q " 1 up"; }

start_locked() {
	local p fsid osd_uuid id
	# Clusters in other directories must not pick the same free port:
	# one machine-wide lock from picking the ports until they are bound.
	exec 8>"${TMPDIR:-/tmp}/zoom2s3-rgw-ports.lock"
	flock -w 300 8 || die "could not take the port lock within 300s"
	p=$(pick_port)
	rm -rf "$D"
	mkdir -p "$D"/{mon,osd0,run,log,rgw,holders}
	bg guard bash "$SELF" _guard "$D" "$$" "$(starttime $$)"
	echo "$p" >"$D/port"
	# A UNIX socket path has at most 107 bytes: give up admin sockets
	# for a deep DIR rather than fail.
	fsid=$(uuidgen)
	write_conf "$fsid" "$p"
	if [ ${#D} -gt 80 ]; then
		sed -i 's|^admin socket = .*|admin socket = ""|' "$CONF"
	fi
	ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null
	ceph-authtool --create-keyring "$D/admin.keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' \
		--cap mds 'allow *' >/dev/null
	ceph-authtool "$D/mon.keyring" --import-keyring "$D/admin.keyring" >/dev/null
	monmaptool --create --addv a "[v2:127.0.0.1:$((p + 1)),v1:127.0.0.1:$((p + 2))]" \
		--fsid "$fsid" "$D/monmap" >/dev/null
	ceph-mon -c "$CONF" --mkfs -i a --monmap "$D/monmap" \
		--keyring "$D/mon.keyring" >"$D/log/mkfs.out" 2>&1 ||
		die "ceph-mon --mkfs failed"
	bg mon ceph-mon -c "$CONF" -i a -f
	wait_until 60 "mon up" ceph_ -s
	osd_uuid=$(uuidgen)
	id=$(ceph_ osd new "$osd_uuid") || die "ceph osd new failed"
	timeout 60 ceph-osd -c "$CONF" -i "$id" --no-mon-config --mkfs --mkkey \
		--osd-uuid "$osd_uuid" >>"$D/log/mkfs.out" 2>&1 ||
		die "ceph-osd --mkfs failed"
	ceph_ auth add "osd.$id" osd 'allow *' mon 'allow profile osd' \
		mgr 'allow profile osd' -i "$D/osd0/keyring" >/dev/null 2>&1 ||
		die "ceph auth add osd.$id failed"
	bg osd ceph-osd -c "$CONF" -i "$id" -f
	wait_until 90 "osd up" osd_up
	ceph_ auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
		mgr 'allow rw' -o "$D/rgw.keyring" >/dev/null 2>&1 ||
		die "ceph auth get-or-create client.rgw.a failed"
	bg rgw radosgw -c "$CONF" -n client.rgw.a -f
	wait_until 120 "rgw answering on port $p" answers "$p"
	timeout 60 radosgw-admin -c "$CONF" -n client.admin user create \
		--uid=tester --display-name=tester --access-key="$ACCESS_KEY" \
		--secret="$SECRET_KEY" >"$D/log/user.out" 2>&1 ||
		die "radosgw-admin user create failed"
	for n in mon osd rgw; do
		pid_of $n >/dev/null || die "$n exited"
	done
	exec 8>&-
	touch "$D/ready"
}

start_reaper() {
	local linger=${RGW_LINGER:-60}
	[ "$linger" -ge 0 ] || return 0
	pid_of reaper >/dev/null && return 0
	# the daemons to watch, noted now: DIR may be gone before the watcher runs
	local n p watched=""
	for n in mon osd rgw; do
		p=$(pid_of $n) && watched="$watched $p:$(starttime "$p")"
	done
	bg reaper bash "$SELF" _reap "$D" "$watched"
}

cmd_start() {
	lock
	if running; then
		add_holder
		start_reaper
		return 0
	fi
	stop_locked
	STARTING=1
	# Interrupted before the watcher runs (a test killed with its process
	# group), nothing would ever stop the daemons started so far: stop them.
	trap 'stop_locked; exit 1' HUP INT TERM PIPE
	start_locked
	STARTING=
	add_holder
	start_reaper
	trap - HUP INT TERM PIPE
	say "RGW up at http://127.0.0.1:$(port) ($D)"
}

# The watcher: stop the cluster once no holder has lived for RGW_LINGER s.
# It remembers the daemons it watches (PID and start time): when DIR is
# removed under it (a test's scratch directory deleted, a build tree
# cleaned), the pid files are gone too, and only these still name them.
reap_orphans() {
	local e p
	for e in $1; do
		p=${e%%:*}
		[ "$(starttime "$p" 2>/dev/null)" = "${e#*:}" ] && kill -9 "$p" 2>/dev/null
	done
	exit 0
}

cmd_reap() {
	local linger=${RGW_LINGER:-60} idle_since="" watched=${1:-}
	say "watching (pid:start time):$watched"
	while sleep 2; do
		[ -f "$D/ready" ] || reap_orphans "$watched"
		[ "$(cat "$D/reaper.pid" 2>/dev/null)" = "$$" ] || reap_orphans "$watched"
		if holders_alive; then
			idle_since=""
			continue
		fi
		[ -n "$idle_since" ] || idle_since=$(date +%s)
		[ $(($(date +%s) - idle_since)) -ge "$linger" ] || continue
		lock
		if ! holders_alive; then
			echo "no holder for ${linger}s: stopping" >&2
			stop_locked
			exit 0
		fi
		unlock
		idle_since=""
	done
}

# The start's guard: a start killed half-way, even by SIGKILL (a caller's
# subprocess.run kills it when the caller itself is interrupted), would
# leave daemons that no holder or watcher knows of. The guard outlives the
# start and stops them, unless the start got as far as handing the cluster
# over (ready, and its watcher running when it has one).
cmd_guard() {
	local starter=$1 st=$2
	while [ "$(starttime "$starter" 2>/dev/null)" = "$st" ]; do
		sleep 0.2
	done
	[ -f "$D/ready" ] && { [ "${RGW_LINGER:-60}" -lt 0 ] || pid_of reaper >/dev/null; } &&
		exit 0
	lock
	echo "the start ($starter) ended before handing the cluster over: stopping" >&2
	stop_locked
	exit 0
}

cmd_env() {
	running || die "no RGW running for $D (run: rgw.sh start $D)"
	echo "S3_ENDPOINT=http://127.0.0.1:$(port)"
	echo "AWS_ACCESS_KEY_ID=$ACCESS_KEY"
	echo "AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
	echo "S3_REGION=$REGION"
}

[ -z "${RGW_SH_LIB:-}" ] || return 0

case $CMD in
start) cmd_start ;;
stop)
	[ -d "$D" ] || exit 0
	lock
	stop_locked
	;;
release)
	rm -f "$D/holders/${RGW_HOLDER_PID:-$PPID}"
	;;
status)
	running || exit 1
	echo "http://127.0.0.1:$(port)"
	;;
env) cmd_env ;;
mkbucket)
	[ $# -eq 1 ] || usage
	running || die "no RGW running for $D"
	"${PYTHON3:-python3}" "$HERE/s3util.py" --endpoint "http://127.0.0.1:$(port)" \
		--access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" \
		--region "$REGION" mkbucket "$1"
	;;
gc)
	running || die "no RGW running for $D"
	timeout 300 radosgw-admin -c "$CONF" -n client.admin gc process --include-all
	;;
admin)
	running || die "no RGW running for $D"
	timeout 300 radosgw-admin -c "$CONF" -n client.admin "$@"
	;;
_reap) cmd_reap "$@" ;;
_guard) cmd_guard "$@" ;;
*) usage ;;
esac
