# SPDX-License-Identifier: MIT
"""The option-list reader behind the man-page drift test (check_manpage.py) finds what it must:
every kind of difference between --help, a man page and README is reported, none when they agree."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optcheck  # noqa: E402

HELP = """Usage: prog [options]
  -e, --endpoint URL        tunnel endpoint (env X; default ws://h:1/_tunnel)
  -p, --port, --local-port N  local service port (default 3000)
      --connect-timeout SEC connect + handshake timeout (default 10)
      --insecure            do not verify
      --inspect[=ADDR]      optional value
      --state=FILE          value after '='
  -v, --verbose             debug logging
                            a continuation line --not-an-option
  -h, --help                this help
"""

MAN = r""".TH PROG 1
.SH NAME
prog \- test
.SH OPTIONS
.TP
.BR \-e ", " \-\-endpoint " \fIURL\fP"
Endpoint; see \-\-not\-a\-tag in prose.
.TP
.BR \-p ", " \-\-port ", " \-\-local\-port " \fIN\fP"
Port.
.TP
.BI \-\-connect\-timeout " SEC"
Timeout.
.TP
.B \-\-insecure
Insecure.
.TP
.BI \-\-inspect[= ADDR ]
Inspector.
.TP
.BI \-\-state " FILE"
State.
.TP
.BR \-v ", " \-\-verbose
Verbose.
.TP
.BR \-h ", " \-\-help
Help.
.SH "SEE ALSO"
.BR \-\-ignored (1)
"""

README = """### `prog` options

| option | meaning |
|---|---|
| `-e`, `--endpoint URL` | x |
| `-p`, `--port`, `--local-port N` | x |
| `--connect-timeout SEC` | x |
| `--insecure` | x |
| `--inspect[=ADDR]` | a\\|b |
| `--state FILE` | x |
| `-v`, `--verbose` | x |

### other
| `--elsewhere` | not this table |
"""


def man_opts(tmp_path, text):
    p = tmp_path / "prog.1"
    p.write_text(text)
    return optcheck.man_options(optcheck.render_man(str(p)))


def test_help_lines_parsed():
    opts = optcheck.help_options(HELP)
    assert opts == {"-e": True, "--endpoint": True, "-p": True, "--port": True,
                    "--local-port": True, "--connect-timeout": True, "--insecure": False,
                    "--inspect": True, "--state": True, "-v": False, "--verbose": False,
                    "-h": False, "--help": False}


def test_agreeing_sources_give_no_difference(tmp_path):
    h = optcheck.help_options(HELP)
    m = man_opts(tmp_path, MAN)
    r = optcheck.readme_options(README, "### `prog` options")
    assert m == h
    assert optcheck.compare("prog", h, m, "prog.1", r, "README") == []


def test_option_missing_from_man_page(tmp_path):
    h = optcheck.help_options(HELP + "      --subdomain NAME      ask for a name\n")
    m = man_opts(tmp_path, MAN)
    problems = optcheck.compare("prog", h, m, "prog.1")
    assert problems == ["prog: `prog --help` lists --subdomain but prog.1 does not describe it"]


def test_option_missing_from_help(tmp_path):
    h = optcheck.help_options(HELP)
    m = man_opts(tmp_path, MAN.replace(".TP\n.B \\-\\-insecure", ".TP\n.B \\-\\-gone\n.TP\n"
                                       ".B \\-\\-insecure"))
    problems = optcheck.compare("prog", h, m, "prog.1")
    assert problems == ["prog: prog.1 describes --gone but `prog --help` does not list it"]


def test_value_mismatch(tmp_path):
    h = optcheck.help_options(HELP)
    m = man_opts(tmp_path, MAN.replace('.BI \\-\\-connect\\-timeout " SEC"',
                                       ".B \\-\\-connect\\-timeout"))
    problems = optcheck.compare("prog", h, m, "prog.1")
    assert problems == ["prog: --connect-timeout takes a value in `--help` but not in prog.1"]


def test_readme_differences():
    h = optcheck.help_options(HELP + "      --header-timeout SEC  x\n")
    r = optcheck.readme_options(README + "", "### `prog` options") | {"--old"}
    problems = optcheck.compare("prog", h, h, "prog.1", r, "README")
    assert problems == ["prog: `prog --help` lists --header-timeout but README does not",
                        "prog: README lists --old but `prog --help` does not"]


def test_groff_warnings_fail(tmp_path):
    p = tmp_path / "bad.1"
    p.write_text(MAN + ".XYZZY unknown macro\n")
    try:
        optcheck.render_man(str(p))
    except ValueError as e:
        assert "XYZZY" in str(e) or "warn" in str(e)
    else:
        raise AssertionError("groff warnings not reported")


def test_check_manpage_exit_status(tmp_path):
    """The CTest entry point exits 1 and names the option when a program grows a flag."""
    prog = tmp_path / "prog"
    prog.write_text("#!/bin/sh\ncat <<'X'\n" + HELP + "      --subdomain NAME  x\nX\n")
    prog.chmod(0o755)
    man = tmp_path / "prog.1"
    man.write_text(MAN)
    readme = tmp_path / "README.md"
    readme.write_text(README)
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run(["/usr/bin/python3", os.path.join(here, "check_manpage.py"), str(prog),
                        str(man), "--readme", str(readme), "### `prog` options"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "lists --subdomain but" in p.stdout and "prog.1 (OPTIONS) does not describe it" in \
        p.stdout, p.stdout
    assert "lists --subdomain but README.md" in p.stdout


def test_subcommand_section(tmp_path):
    """`prog token --help` against the man page's TOKEN COMMAND section."""
    prog = tmp_path / "prog"
    prog.write_text("#!/bin/sh\n[ \"$1\" = token ] || exit 3\ncat <<'X'\n"
                    "Usage: prog token --sub NAME\n  --sub NAME   x\n  --ttl D   y\n"
                    "  -h, --help   z\nX\n")
    prog.chmod(0o755)
    man = tmp_path / "prog.1"
    man.write_text(MAN + '.SH "TOKEN COMMAND"\nText.\n.TP\n.BI \\-\\-sub " NAME"\nx\n'
                   '.TP\n.BR \\-h ", " \\-\\-help\nz\n')
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run(["/usr/bin/python3", os.path.join(here, "check_manpage.py"), str(prog),
                        str(man), "--subcommand", "token", "--section", "TOKEN COMMAND"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "prog token: `prog token --help` lists --ttl but " in p.stdout, p.stdout
    assert "(TOKEN COMMAND) does not describe it" in p.stdout, p.stdout
