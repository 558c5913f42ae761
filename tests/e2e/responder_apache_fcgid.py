#!/usr/bin/env python3
"""zoom2s3.fcgi under real Apache 2.4 with mod_fcgid (cgi-bin/apache-fcgid.conf
as it is, in a VirtualHost), running as www-data: every row of the contract's
answer table, every redelivery case, a 200 KiB body (over mod_fcgid's default
FcgidMaxRequestLen, which the snippet raises), 50 events at once, a config
edited while the server runs, and a config error; and a spool made by hand
(no .lock: the responder creates it; without cur/: 503)."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import webrig  # noqa: E402

webrig.run_servers_test(["apache-fcgid"])
