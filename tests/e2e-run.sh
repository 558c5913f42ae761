#!/bin/sh
# Runs one end-to-end test (tests/e2e/*.sh, *.py) with its interpreter, or
# skips it, saying why:
#  - in a build configured with --disable-e2e-tests, which is how `make
#    distcheck` configures its copy: distcheck proves that the release
#    tarball builds, installs and passes its unit tests in a read-only VPATH
#    tree; the rigs (root, real web servers, a Ceph RGW: many minutes) run
#    under `make check`, from a VPATH build too;
#  - with ZOOM2S3_SKIP_E2E=1 (tests/run-all.sh's clang pass, after the
#    sanitizer build has run every rig once).
# These are choices, not missing tools: ZOOM2S3_REQUIRE_ALL does not make
# them fail.
if [ "${ZOOM2S3_E2E_ENABLED:-yes}" = no ]; then
	echo "1..0 # SKIP end-to-end tests off in this build (./configure --disable-e2e-tests, as make distcheck does): run make check"
	exit 0
fi
if [ "${ZOOM2S3_SKIP_E2E:-}" = 1 ]; then
	echo "1..0 # SKIP ZOOM2S3_SKIP_E2E=1"
	exit 0
fi
# stderr joins the TAP stream, so a traceback lands in the test's .log
exec "$@" 2>&1
