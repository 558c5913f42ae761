#!/bin/bash
# cephfs.sh: a throw-away CephFS with two client mounts, each standing for
# one host of a spool shared by several hosts (docs/DEPLOY.md, "When one
# host is not enough"). It is rgw.sh's cluster (mon, memstore OSD, RGW) plus
# an MDS, a file system "cephfs", and two ceph-fuse clients with names of
# their own, client.h1 and client.h2, mounted at DIR/h1 and DIR/h2.
# Debian 12 packages: ceph-mds ceph-fuse (16.2), and what rgw.sh needs.
#
#   cephfs.sh check                 exit 0 when this machine can run it,
#                                   else print why not (a test's SKIP reason)
#   cephfs.sh start DIR             start it all (about 20 s); prints timings
#   cephfs.sh env DIR               rgw.sh's env lines, plus CEPHFS_H1= and
#                                   CEPHFS_H2= (the two mount points)
#   cephfs.sh session DIR HOST      the MDS session id of HOST's client (h1, h2)
#   cephfs.sh evict DIR HOST        evict HOST's client: the MDS drops its
#                                   session, and its locks and caps with it
#   cephfs.sh crash DIR HOST        kill -9 HOST's ceph-fuse (the host died:
#                                   its locks stay until evict) and detach
#                                   the dead mount
#   cephfs.sh mount DIR HOST        (re)mount HOST (after crash or evict)
#   cephfs.sh stop DIR              unmount, stop everything (by PID)
#
# Everything runs under DIR, on 127.0.0.1, ports as rgw.sh picks them. The
# daemons are found and stopped by PID (rgw.sh's stop, and its watcher when
# RGW_LINGER >= 0, stop the MDS and the mounts too), never by name.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
RGW="$HERE/rgw.sh"
HOSTS="h1 h2"

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF" >&2
	exit 2
}

elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# What a test needs from this machine; the first thing missing is printed.
cmd_check() {
	local t
	[ "$(id -u)" = 0 ] || { echo "needs root (ceph-fuse mounts)"; return 1; }
	for t in ceph-mds ceph-fuse ceph-mon ceph-osd radosgw; do
		command -v "$t" >/dev/null || { echo "$t is not installed (tests/deps.sh)"; return 1; }
	done
	[ -c /dev/fuse ] || { echo "no /dev/fuse (a container without FUSE)"; return 1; }
	# opening it fails without the device cgroup's permission
	if ! (exec 3<>/dev/fuse) 2>/dev/null; then
		echo "/dev/fuse cannot be opened here"
		return 1
	fi
	return 0
}

[ $# -ge 1 ] || usage
CMD=$1
if [ "$CMD" = check ]; then
	cmd_check
	exit
fi
[ $# -ge 2 ] || usage
D=$(realpath -m -- "$2")
shift 2
# rgw.sh's helpers: pid_of, bg, wait_until, ceph_, die (with the logs' tails)
RGW_SH_LIB=1
ME=$SELF
# shellcheck source=tests/rig/rgw.sh
. "$RGW"
SELF=$ME # for usage
say() { echo "cephfs.sh: $*" >&2; }

host_ok() {
	case " $HOSTS " in *" $1 "*) ;; *) say "no such host: $1 (h1 or h2)"; exit 2 ;; esac
}

mds_active() { ceph_ mds stat 2>/dev/null | grep -q 'up:active'; }

# A mount point whose ceph-fuse died answers ENOTCONN: detach it lazily.
detach() {
	local m="$D/$1"
	if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
		umount -l "$m" 2>/dev/null || true
	fi
}

cmd_mount() {
	local h=$1 p
	host_ok "$h"
	# a client the MDS evicted is alive but answers every call with an error
	if p=$(pid_of "fuse-$h") && mountpoint -q "$D/$h" && timeout 10 ls "$D/$h" >/dev/null 2>&1; then
		return 0
	fi
	[ -z "${p:-}" ] || kill -9 "$p" 2>/dev/null || true
	detach "$h"
	mkdir -p "$D/$h"
	# -f: in the foreground, so that the PID recorded is the client's own
	bg "fuse-$h" ceph-fuse -f -c "$CONF" -n "client.$h" --keyring "$D/$h.keyring" \
		--client_mountpoint / "$D/$h"
	wait_until 60 "ceph-fuse mount of $D/$h" mountpoint -q "$D/$h"
}

cmd_start() {
	local h
	T0=$(date +%s.%N)
	# the cluster: only stop (ours, in a trap) or rgw.sh's watcher ends it
	RGW_HOLDER_PID=${RGW_HOLDER_PID:-$PPID} bash "$RGW" start "$D"
	say "mon, osd, rgw up in $(elapsed) s"
	if pid_of mds >/dev/null && mds_active; then
		for h in $HOSTS; do cmd_mount "$h"; done
		return 0
	fi
	mkdir -p "$D/mds"
	if ! grep -q '^\[mds.a\]' "$CONF"; then
		cat >>"$CONF" <<EOF
[mds.a]
mds data = $D/mds
keyring = $D/mds.keyring
EOF
	fi
	ceph_ auth get-or-create mds.a mon 'allow profile mds' osd 'allow rwx' \
		mds 'allow *' mgr 'allow profile mds' -o "$D/mds.keyring" >/dev/null 2>&1 ||
		die "cannot make the MDS key"
	ceph_ osd pool create cephfs_metadata 8 >/dev/null 2>&1 || die "cannot make the metadata pool"
	ceph_ osd pool create cephfs_data 8 >/dev/null 2>&1 || die "cannot make the data pool"
	ceph_ fs new cephfs cephfs_metadata cephfs_data >/dev/null 2>&1 || die "ceph fs new failed"
	bg mds ceph-mds -c "$CONF" -i a -f
	wait_until 60 "MDS active" mds_active
	say "MDS active after $(elapsed) s"
	for h in $HOSTS; do
		ceph_ fs authorize cephfs "client.$h" / rw >"$D/$h.keyring" 2>/dev/null ||
			die "cannot make the key of client.$h"
		cmd_mount "$h"
	done
	say "CephFS mounted at $D/h1 and $D/h2 after $(elapsed) s"
}

# The MDS session of HOST's client: the entry of `session ls` whose
# client_metadata names client.HOST.
cmd_session() {
	local h=$1 sessions
	host_ok "$h"
	sessions=$(ceph_ tell mds.a session ls 2>/dev/null) || return 1
	printf '%s' "$sessions" | "${PYTHON3:-python3}" -c '
import json, sys
want = sys.argv[1]
for s in json.load(sys.stdin):
    if s.get("client_metadata", {}).get("entity_id") == want:
        print(s["id"])
        break
else:
    sys.exit(1)' "$h"
}

cmd_evict() {
	local h=$1 id
	if ! id=$(cmd_session "$h"); then
		say "client.$h has no session (the MDS evicted it already)"
		return 0
	fi
	ceph_ tell mds.a client evict "id=$id" >/dev/null 2>&1 || die "evicting client.$h ($id) failed"
}

cmd_crash() {
	local h=$1 p
	host_ok "$h"
	p=$(pid_of "fuse-$h") || die "no ceph-fuse running for $h"
	kill -9 "$p"
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	detach "$h"
}

cmd_stop() {
	local h p
	for h in $HOSTS; do
		detach "$h"
		if p=$(pid_of "fuse-$h"); then kill -9 "$p" 2>/dev/null || true; fi
	done
	if p=$(pid_of mds); then kill -9 "$p" 2>/dev/null || true; fi
	bash "$RGW" stop "$D"
}

case $CMD in
start) cmd_start ;;
env)
	bash "$RGW" env "$D"
	for h in $HOSTS; do echo "CEPHFS_${h^^}=$D/$h"; done
	;;
session) [ $# -eq 1 ] || usage; cmd_session "$1" ;;
evict) [ $# -eq 1 ] || usage; cmd_evict "$1" ;;
crash) [ $# -eq 1 ] || usage; cmd_crash "$1" ;;
mount) [ $# -eq 1 ] || usage; cmd_mount "$1" ;;
stop) cmd_stop ;;
*) usage ;;
esac
