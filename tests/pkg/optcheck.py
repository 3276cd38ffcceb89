# SPDX-License-Identifier: MIT
"""Option lists of ttf and ttfd as their --help, their man pages and README.md state them.

An option line (in --help text and in a man page rendered to text) starts with blanks and a dash:
its options are the leading words that start with '-', separated by commas
(`-p, --port, --local-port N  local service port`). A value follows when the word after the last
option is upper case and one space away (`--listen ADDR:PORT`, `--protocol P`); `--opt=VALUE` and
`--opt[=VALUE]` forms count as taking a value too. Used by check_manpage.py and its tests.
"""

import re
import subprocess

OPT_WORD = re.compile(r"^(-{1,2}[A-Za-z0-9][A-Za-z0-9_-]*)(\[?=\S*)?(,?)$")
METAVAR = re.compile(r"^[A-Z<][A-Z0-9_:|.<>-]*$")
DASHES = str.maketrans({"\u2212": "-", "\u2010": "-", "\u2011": "-", "\u00ad": None})


def parse_option_line(line):
    """{name: takes_value} for one option line, {} if the line is not one."""
    line = line.translate(DASHES).rstrip()
    if not re.match(r"^\s+-", line):
        return {}
    rest = line.lstrip()
    names = []
    takes = False
    while True:
        m = re.match(r"^(\S+)(\s*)", rest)
        if not m:
            break
        wm = OPT_WORD.match(m.group(1))
        if not wm:
            break
        names.append(wm.group(1))
        takes = takes or bool(wm.group(2))
        rest = rest[m.end():]
        if not wm.group(3):  # no comma: the last option of the line
            gap = m.group(2)
            nxt = rest.split(None, 1)[0] if rest.strip() else ""
            if gap == " " and METAVAR.match(nxt):
                takes = True
            break
    return {n: takes for n in names}


def help_options(text):
    """{name: takes_value} of every option line in a --help text."""
    opts = {}
    for line in text.splitlines():
        opts.update(parse_option_line(line))
    return opts


def render_man(path):
    """The man page rendered to plain text, wide enough that no option line wraps."""
    out = subprocess.run(["groff", "-man", "-Tutf8", "-P-cbou", "-rLL=250n", "-ww", path],
                         capture_output=True, text=True, check=True,
                         env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"})
    if out.stderr.strip():
        raise ValueError("groff warns about %s:\n%s" % (path, out.stderr))
    return out.stdout


def man_options(text, section_name="OPTIONS"):
    """{name: takes_value} of the tags in one section (OPTIONS) of a rendered man page."""
    opts = {}
    section = None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]*$", line):
            section = line.strip()
            continue
        if section == section_name and re.match(r"^ {7}-", line.translate(DASHES)):
            opts.update(parse_option_line(line))
    if section is None:
        raise ValueError("no sections found in the rendered man page")
    if not opts:
        raise ValueError("no options found in the man page's section %s" % section_name)
    return opts


def readme_options(text, heading):
    """Option names in the first column of the table under the Markdown heading `heading`
    (e.g. "### `ttfd` options"), up to the next heading."""
    names = set()
    inside = False
    found = False
    for line in text.splitlines():
        if line.startswith("#"):
            inside = line.strip() == heading
            found = found or inside
            continue
        if inside and line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:])
            for tok in re.findall(r"`([^`]*)`", cells[0]):
                m = re.match(r"^(-{1,2}[A-Za-z0-9][A-Za-z0-9_-]*)", tok)
                if m:
                    names.add(m.group(1))
    if not found:
        raise ValueError("README has no heading %r" % heading)
    return names


def compare(prog, help_opts, man_opts, man_name, readme_names=None, readme_name=None):
    """Human-readable differences (empty list when they agree)."""
    problems = []
    for name in sorted(set(help_opts) - set(man_opts)):
        problems.append("%s: `%s --help` lists %s but %s does not describe it"
                        % (prog, prog, name, man_name))
    for name in sorted(set(man_opts) - set(help_opts)):
        problems.append("%s: %s describes %s but `%s --help` does not list it"
                        % (prog, man_name, name, prog))
    for name in sorted(set(help_opts) & set(man_opts)):
        if help_opts[name] != man_opts[name]:
            problems.append("%s: %s takes a value in %s but not in %s" % (
                prog, name, "`--help`" if help_opts[name] else man_name,
                man_name if help_opts[name] else "`--help`"))
    if readme_names is not None:
        wanted = {n for n in help_opts if n not in ("-h", "--help", "--version")}
        for name in sorted(wanted - readme_names):
            problems.append("%s: `%s --help` lists %s but %s does not" % (prog, prog, name,
                                                                           readme_name))
        for name in sorted(readme_names - set(help_opts)):
            problems.append("%s: %s lists %s but `%s --help` does not" % (prog, readme_name, name,
                                                                          prog))
    return problems
