#!/usr/bin/env python3
"""zoom2s3.fcgi as plain CGI (the same binary: it sees no FastCGI socket on
stdin and serves the one request in its environment and stdin), under real
Apache 2.4 with mod_cgid (cgi-bin/apache-cgi.conf) and real lighttpd with
mod_cgi (cgi-bin/lighttpd-cgi.conf), running as www-data: every row of the
contract's answer table, every redelivery case, a 200 KiB body, 50 events at
once, a config edited between requests, and a config error; and, under both,
a spool made by hand (no .lock: the responder creates it; without cur/: 503)."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import webrig  # noqa: E402

webrig.run_servers_test(["apache-cgi", "lighttpd-cgi"])
