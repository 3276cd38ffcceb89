#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_manpage.py PROGRAM MANPAGE README HEADING

Fails (exit 1, one line per difference) unless the options `PROGRAM --help` lists, the options the
OPTIONS section of MANPAGE describes and the options in README's table under HEADING are the same,
and each option takes a value in the man page exactly when it does in --help. CTest runs it as
man_ttf and man_ttfd, so a flag added to a program without its documentation fails `make test`.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optcheck  # noqa: E402


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    prog_path, man_path, readme_path, heading = argv[1:]
    prog = os.path.basename(prog_path)
    h = subprocess.run([prog_path, "--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    if h.returncode != 0:
        print("%s --help exited %d: %s" % (prog, h.returncode, h.stderr), file=sys.stderr)
        return 1
    help_opts = optcheck.help_options(h.stdout)
    if "--help" not in help_opts or len(help_opts) < 3:
        print("%s --help: could not read its options from:\n%s" % (prog, h.stdout))
        return 1
    man_opts = optcheck.man_options(optcheck.render_man(man_path))
    with open(readme_path, encoding="utf-8") as f:
        readme = optcheck.readme_options(f.read(), heading)
    problems = optcheck.compare(prog, help_opts, man_opts, os.path.relpath(man_path),
                                readme, "README.md (%s)" % heading.strip("# "))
    for p in problems:
        print(p)
    if problems:
        print("%d difference(s): document every option in the man page and README.md, "
              "in the same words as --help" % len(problems))
        return 1
    print("%s: %d options, the same in --help, %s and README.md" % (
        prog, len(help_opts), os.path.basename(man_path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
