#!/usr/bin/env python3
"""zoom2s3.fcgi under spawn-fcgi (as cgi-bin/zoom2s3-spawn-fcgi.service runs it)
behind real Apache 2.4 with mod_proxy_fcgi (cgi-bin/apache-proxy-fcgi.conf), as
www-data: every row of the contract's answer table, every redelivery case, a
200 KiB body, 50 events at once, a config edited while it runs, a config error;
and, straight on spawn-fcgi's socket, clients that hang up before their
answer do not end the responder."""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir") or
                                os.path.join(os.path.dirname(__file__), "..", ".."),
                                "tests", "rig"))
import webrig  # noqa: E402

webrig.run_test(lambda tap: webrig.run_server_suite(
    tap, "apache-proxy-fcgi", webrig.ANSWER_TABLE + [webrig.case_client_gone]), webrig.TOOLS["apache-proxy-fcgi"])
