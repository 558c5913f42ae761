"""Rig programs as children: starting one and waiting for its READY line
(the handshake fakezoom.py and faultproxy.py share), and stopping one,
politely first (stdlib only)."""
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


def stop(proc, timeout):
    """SIGTERM, then SIGKILL if it has not exited within timeout seconds;
    reaped either way.  A child that has already exited is left as it is."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def signal_once_started(runs, sig, deadline):
    """Sends sig to each still-running spooler of runs [(Popen, log path)]
    once its log holds event=spooler.start: its signal handlers are in
    place then, and a SIGTERM sooner would kill it by the default action,
    which tests nothing of it. Returns how many got the signal by the
    deadline."""
    pending, sent = list(runs), 0
    while pending and time.monotonic() < deadline:
        for p, log in list(pending):
            if p.poll() is None:
                with open(log, "rb") as f:
                    if b"event=spooler.start " not in f.read():
                        continue
                p.send_signal(sig)
                sent += 1
            pending.remove((p, log))
        time.sleep(0.05)
    return sent
