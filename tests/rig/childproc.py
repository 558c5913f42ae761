"""Starting a rig program as a child and waiting for its READY line: the
one handshake fakezoom.py and faultproxy.py share (stdlib only)."""
import select
import subprocess
import time


def start_ready(argv, name, timeout=20):
    """Runs argv with stdout piped and waits up to timeout seconds for a
    line starting "READY "; returns the Popen.  A child that exits or says
    something else first is killed and reaped, and RuntimeError names it."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stdout], [], [], 0.2)
        if r:
            line = proc.stdout.readline()
            break
        if proc.poll() is not None:
            break
    if not line.startswith(b"READY "):
        proc.kill()
        proc.wait()
        raise RuntimeError("%s did not start: %r" % (name, line))
    return proc
