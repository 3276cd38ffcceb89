#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""License headers: every source file names its license (MIT, see LICENSE) in an SPDX line.

  scripts/spdx.py           list source files without the line; exit 1 if there is one
  scripts/spdx.py --fix     add the line where it is missing (after a #! line)

Source files are the files git tracks with these names: *.c *.h *.py *.js *.ts *.sh *.cmake *.html,
*.in (unit templates), man pages *.1 *.8, CMakeLists.txt, Makefile, .ci/run, debian/rules and the
bash completion under packaging/bash-completion/.
Run from anywhere inside the work tree; registered as the CTest test `license_headers`.
"""

import os
import subprocess
import sys

TAG = "SPDX-License-Identifier: MIT"
SUFFIX_STYLE = {".c": "/* %s */", ".h": "/* %s */", ".js": "// %s", ".ts": "// %s", ".py": "# %s",
                ".sh": "# %s", ".cmake": "# %s", ".html": "<!-- %s -->", ".in": "# %s",
                ".1": '.\\" %s', ".8": '.\\" %s'}
NAME_STYLE = {"CMakeLists.txt": "# %s", "Makefile": "# %s", "run": "# %s", "rules": "# %s"}
HEAD_LINES = 3  # the tag must be within the first lines (after a #! line)


def style_for(path):
    base = os.path.basename(path)
    if path.startswith("packaging/bash-completion/"):
        return "# %s"
    if base in NAME_STYLE and (base != "run" or path == ".ci/run") and \
            (base != "rules" or path == "debian/rules"):
        return NAME_STYLE[base]
    return SUFFIX_STYLE.get(os.path.splitext(base)[1])


def main(argv):
    fix = argv[1:] == ["--fix"]
    if argv[1:] and not fix:
        print(__doc__, file=sys.stderr)
        return 2
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                         check=True).stdout.strip()
    files = subprocess.run(["git", "ls-files", "-z"], cwd=top, capture_output=True, text=True,
                           check=True).stdout.split("\0")
    missing = []
    for rel in files:
        style = style_for(rel) if rel else None
        path = os.path.join(top, rel)
        if style is None or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if any(TAG in line for line in lines[:HEAD_LINES + 1]):
            continue
        missing.append(rel)
        if fix:
            first = lines[0].lower() if lines else ""
            at = 1 if first.startswith("#!") or first.startswith("<!doctype") else 0
            lines.insert(at, style % TAG)
            with open(path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
    if missing and not fix:
        print("license_headers: %d source file(s) lack the line '%s' in their first %d lines "
              "(scripts/spdx.py --fix adds it):" % (len(missing), TAG, HEAD_LINES))
        for rel in missing:
            print("  " + rel)
        return 1
    if fix:
        print("added the SPDX line to %d file(s)" % len(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
