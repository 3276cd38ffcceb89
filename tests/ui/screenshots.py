# SPDX-License-Identifier: MIT
"""Takes the README's inspector screenshots (docs/inspector-list.png, docs/inspector-detail.png):
starts ttfd, the e2e local service and ttf on free loopback ports, then runs inspector_ui.js
with screenshots on (the same browser steps as the Chromium test). Run it through
scripts/inspector-screenshots.sh after `make build`."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import localsrv  # noqa: E402
import tunnelkit as tk  # noqa: E402


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(tk.REPO, "docs"))
    srv = localsrv.LocalServer()
    d = tk.Ttfd()
    a = None
    try:
        a = tk.Ttf(d.endpoint(), srv.port)
        cfg = {"inspector": a.inspector(), "tunnel_port": d.port,
               "tunnel_host": tk.sub_host(d, a.tunnel_id), "screenshots": out}
        p = subprocess.run(["node", os.path.join(HERE, "inspector_ui.js"), json.dumps(cfg)],
                           stdin=subprocess.DEVNULL, timeout=300)
        if p.returncode != 0:
            return 1
        for name in ("inspector-list.png", "inspector-detail.png"):
            print(os.path.join(out, name))
        return 0
    finally:
        if a:
            a.stop()
        d.stop()
        srv.close()


if __name__ == "__main__":
    sys.exit(main())
