"""A stand-in for `ssh` that runs the remote git command locally over a slow "network".

git calls it as `slow_relay.py HOST COMMAND` (GIT_SSH_COMMAND, GIT_SSH_VARIANT=simple). Both
directions are throttled to RELAY_RATE bytes per second; with RELAY_HANG=1 nothing is ever
forwarded (a remote that hangs). RELAY_LOG names a file that receives the number of bytes
forwarded so far, so a test can kill a transfer half-way; RELAY_PID a file for its pid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

CHUNK = 8192
LOCK = threading.Lock()


def pump(src, dst, rate: float, counter: list[int], log: str | None) -> None:
    try:
        while True:
            data = os.read(src.fileno(), CHUNK)
            if not data:
                break
            dst.write(data)
            dst.flush()
            with LOCK:  # both directions count into one file
                counter[0] += len(data)
                if log:
                    with open(log + ".tmp", "w") as f:
                        f.write(str(counter[0]))
                    os.replace(log + ".tmp", log)
            if rate:
                time.sleep(len(data) / rate)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            dst.close()
        except OSError:
            pass


def main() -> None:
    command = sys.argv[-1]
    if os.environ.get("RELAY_PID"):
        with open(os.environ["RELAY_PID"], "w") as f:
            f.write(str(os.getpid()))
    if os.environ.get("RELAY_HANG") == "1":
        while os.read(0, CHUNK):  # never answer; leave when the caller hangs up
            pass
        return
    rate = float(os.environ.get("RELAY_RATE", "0"))
    log = os.environ.get("RELAY_LOG")
    child = subprocess.Popen(["sh", "-c", command], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    counter = [0]
    up = threading.Thread(target=pump, args=(sys.stdin.buffer, child.stdin, rate, counter, log),
                          daemon=True)
    up.start()
    pump(child.stdout, sys.stdout.buffer, rate, counter, log)
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
