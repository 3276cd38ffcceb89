# SPDX-License-Identifier: MIT
"""The documentation checker (check_docs.py, CTest doc_architecture) finds what it must: a source
file missing from docs/architecture.md's module tables, a named file that does not exist, a path in
README or docs/ that does not exist, and two modules that include each other; none when the tree and
the docs agree."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_docs  # noqa: E402

ARCH = """# Architecture
### `lib/`
| files | what |
|---|---|
| `a.c`, `a.h` | a |
### `server/`
| files | what |
|---|---|
| `main.c` | main |
| `pconn.c`, `pconn.h`, `pconn_int.h` | pconn |
| `mux.c`, `mux.h` | mux |
### `agent/`
| files | what |
|---|---|
| `main.c` | main |
| `session.c`, `session.h` | session |
| `wire_bin.c`, `wire_bin.h` | wire |
| `wire_json.c`, `wire_json.h` | wire |
### `lambda/`
| files | what |
|---|---|
| `main.c` | main |
## Other
| `not_a_module.c` | outside the tables: ignored |
"""


def write(root, rel, text=""):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def tree(tmp_path):
    root = str(tmp_path)
    write(root, "docs/architecture.md", ARCH)
    write(root, "README.md", "See `server/pconn.c` and `lib/a.h`.\n")
    write(root, "lib/a.c", '#include "a.h"\n')
    write(root, "lib/a.h")
    write(root, "server/main.c", '#include "pconn.h"\n')
    write(root, "server/pconn.c", '#include "pconn_int.h"\n')
    write(root, "server/pconn.h")
    write(root, "server/pconn_int.h", '#include "pconn.h"\n#include "mux.h"\n')
    write(root, "server/mux.c", '#include "mux.h"\n')
    write(root, "server/mux.h")
    write(root, "agent/main.c", '#include "session.h"\n')
    write(root, "agent/session.c", '#include "session.h"\n#include "wire_bin.h"\n#include "wire_json.h"\n')
    write(root, "agent/session.h")
    for w in ("wire_bin", "wire_json"):
        write(root, f"agent/{w}.c", f'#include "{w}.h"\n')
        write(root, f"agent/{w}.h", '#include "session.h"\n')
    write(root, "lambda/main.c")
    return root


def test_agreeing_tree_has_no_findings(tmp_path):
    assert check_docs.check(tree(tmp_path)) == []


def test_unnamed_source_file_is_reported(tmp_path):
    root = tree(tmp_path)
    write(root, "server/newmod.c")
    write(root, "server/only_header_int.h")
    found = check_docs.check(root)
    assert any("server/newmod.c is not named" in f for f in found), found
    assert any("server/only_header_int.h is not named" in f for f in found), found


def test_header_with_its_c_needs_no_row_of_its_own(tmp_path):
    root = tree(tmp_path)
    write(root, "lib/b.c")
    write(root, "lib/b.h")
    found = check_docs.check(root)
    assert found == ["docs/architecture.md: lib/b.c is not named in the `lib/` table"], found


def test_named_file_that_does_not_exist_is_reported(tmp_path):
    root = tree(tmp_path)
    os.remove(os.path.join(root, "server/mux.c"))
    found = check_docs.check(root)
    assert any("server/mux.c is named but does not exist" in f for f in found), found


def test_stale_path_in_readme_is_reported(tmp_path):
    root = tree(tmp_path)
    write(root, "README.md", "Old: `server/relay_bin.c`, `tests/e2e/test_gone.py`, ok: `lib/a.c`.\n")
    found = check_docs.check(root)
    assert "README.md: 'server/relay_bin.c' does not exist" in found, found
    assert "README.md: 'tests/e2e/test_gone.py' does not exist" in found, found
    assert not any("lib/a.c" in f for f in found), found


def test_circle_between_modules_is_reported(tmp_path):
    root = tree(tmp_path)
    write(root, "server/mux.h", '#include "pconn.h"\n')
    found = check_docs.check(root)
    assert any("server/: modules include each other in a circle" in f for f in found), found


def test_known_circle_gone_is_reported(tmp_path):
    root = tree(tmp_path)
    write(root, "agent/wire_json.h")
    found = check_docs.check(root)
    assert any("agent/wire_json no longer includes session" in f for f in found), found
