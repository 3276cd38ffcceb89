#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""check_manpage.py PROGRAM MANPAGE [--subcommand WORD] [--section NAME] [--readme README HEADING]

Fails (exit 1, one line per difference) unless the options `PROGRAM [WORD] --help` lists and the
options the man page's section NAME (default OPTIONS) describes are the same, each taking a value
in the man page exactly when it does in --help, and (with --readme) the options in README's table
under HEADING are the same too. CTest runs it as man_ttf, man_ttfd and man_ttfd_token, so a flag
added to a program without its documentation fails `make test`.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optcheck  # noqa: E402


def short(path):
    """man/ttfd.8 rather than a long absolute path, in messages."""
    return os.path.join(os.path.basename(os.path.dirname(os.path.abspath(path))),
                        os.path.basename(path))


def main(argv):
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("program")
    ap.add_argument("manpage")
    ap.add_argument("--subcommand")
    ap.add_argument("--section", default="OPTIONS")
    ap.add_argument("--readme", nargs=2, metavar=("README", "HEADING"))
    a = ap.parse_args(argv[1:])
    cmd = [a.program] + ([a.subcommand] if a.subcommand else [])
    prog = " ".join([os.path.basename(a.program)] + cmd[1:])
    h = subprocess.run(cmd + ["--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    if h.returncode != 0:
        print("%s --help exited %d: %s" % (prog, h.returncode, h.stderr))
        return 1
    help_opts = optcheck.help_options(h.stdout)
    if "--help" not in help_opts or len(help_opts) < 3:
        print("%s --help: could not read its options from:\n%s" % (prog, h.stdout))
        return 1
    man_opts = optcheck.man_options(optcheck.render_man(a.manpage), a.section)
    man_name = "%s (%s)" % (short(a.manpage), a.section)
    readme, readme_name = None, None
    if a.readme:
        with open(a.readme[0], encoding="utf-8") as f:
            readme = optcheck.readme_options(f.read(), a.readme[1])
        readme_name = "README.md (%s)" % a.readme[1].strip("# ")
    problems = optcheck.compare(prog, help_opts, man_opts, man_name, readme, readme_name)
    for p in problems:
        print(p)
    if problems:
        print("%d difference(s): document every option of --help in the man page%s" % (
            len(problems), " and README.md" if a.readme else ""))
        return 1
    print("%s: %d options, the same in --help and %s%s" % (
        prog, len(help_opts), man_name, " and " + readme_name if a.readme else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
