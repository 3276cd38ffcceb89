#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""foreground.py COMMAND [ARG...]: run COMMAND in a process group of its own that owns the
terminal, wait for it, give the terminal back, and exit with its status.

Why: Ctrl-C sends SIGINT to the terminal's foreground process group. Under `make demo` that group
holds make too, and make, interrupted, reports `Error 130` and dies of the signal even when the demo
stopped cleanly. With the demo in its own foreground group, Ctrl-C reaches only the demo, which
stops everything and exits 0, and so does make. Without a terminal on stdin it just execs COMMAND.
"""

import os
import signal
import sys


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    cmd = argv[1:]
    try:
        tty = os.open("/dev/tty", os.O_RDWR) if os.isatty(0) else -1
        old = os.tcgetpgrp(tty) if tty >= 0 else -1
    except OSError:
        tty, old = -1, -1
    if tty < 0 or old != os.getpgrp():  # no terminal, or we are not in its foreground
        os.execvp(cmd[0], cmd)
    # A process in a background group that touches the terminal gets SIGTTOU: ignore it while we
    # hand the terminal over and back.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        os.tcsetpgrp(tty, os.getpgrp())
        signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        os.close(tty)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    try:
        os.setpgid(pid, pid)  # also here, so the group exists whichever process runs first
    except OSError:
        pass
    # Ctrl-C no longer reaches this process; a signal sent to it (make stopped by SIGTERM, the
    # terminal hung up) is passed on to the command's group.
    def forward(sig, _frame):
        try:
            os.killpg(pid, sig)
        except OSError:
            pass

    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, forward)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            status = 0
            break
        except InterruptedError:
            continue
    try:
        os.tcsetpgrp(tty, old)
    except OSError:
        pass
    return os.waitstatus_to_exitcode(status) if status >= 0 else 1


if __name__ == "__main__":
    code = main(sys.argv)
    sys.exit(code if code >= 0 else 128 - code)
