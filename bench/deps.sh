#!/bin/sh
# Installs, with apt-get, the Debian 12 packages the benchmarks need beyond
# those of the build and the tests (tests/deps.sh): the load generator, the
# uploaders zoom2s3 is compared with, GNU time, and the profilers. Safe to
# run again: it installs only what is missing. Needs root (or sudo).
exec sh "$(dirname "$0")/../tests/deps.sh" wrk rclone awscli time linux-perf valgrind
