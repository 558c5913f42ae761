#!/bin/sh
# Installs, with apt-get, every Debian 12 package that building zoom2s3 and
# running its tests and demo need, or the packages named as arguments
# (bench/deps.sh names its own). Safe to run again: it installs only what
# is missing. Needs root (or sudo).
set -eu

PKGS="build-essential autoconf automake libtool pkg-config
libfcgi-dev libcurl4-openssl-dev libjson-c-dev libssl-dev
clang clang-tools libclang-rt-14-dev python3 jq curl uuid-runtime procps psmisc
lighttpd apache2 libapache2-mod-fcgid spawn-fcgi
radosgw ceph-mon ceph-osd ceph-common ceph-mds ceph-fuse
man-db groff-base systemd dpkg-dev debhelper fakeroot faketime"
[ $# -eq 0 ] || PKGS="$*"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then exec sudo "$0" "$@"; fi
	echo "deps.sh: these packages are missing and installing them needs root:$missing" >&2
	exit 1
fi

# The web servers' packages would start system-wide daemons on port 80; the
# tests start their own on loopback ports. Hold service starts off while
# installing, unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=yes
fi
trap '[ "$own_policy" = yes ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
echo "deps.sh: installing:$missing"
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
