# SPDX-License-Identifier: MIT
"""Keeps the documentation true to the tree (issue 14: "docs/ explains ... the architecture with a
diagram, kept true").

1. docs/architecture.md names every source file of lib/, server/, agent/ and lambda/ in the module
   table of its folder (section "### `lib/`" etc.: the first cell of each row), and names no file
   that does not exist. Every .c file must be named, and every header that has no .c of the same
   name (internal headers such as pconn_int.h, srv.h).
2. Every path of a source, script or test file that README.md or docs/*.md mentions
   (`server/pconn.c`, `lib/proto_json.h`, `tests/e2e/test_relay.py`, ...) exists.
3. No circle between the modules of one program: module A depends on B when A's .c or .h includes
   B's header (a module is a header's stem without its _int suffix, or a .c without header). The
   guide's rule "no circles between modules" as the include graph shows it. KNOWN_BACK_EDGES
   lists the one circle docs/architecture.md admits (ttf's wire adapters calling back into the
   session): those edges are left out, and the check fails once one is gone (so the list and the
   page are brought up to date).

Usage: check_docs.py SOURCE_DIR. Exit 0 when all holds, 1 with one line per finding otherwise.
"""

import glob
import os
import re
import sys

FOLDERS = ("lib", "server", "agent", "lambda")
PATH_RE = re.compile(
    r"(?<![\w/.-])((?:lib|server|agent|lambda|tests|fuzz|bench|scripts|infra|testapp|packaging|man)"
    r"/[\w./*-]*\.(?:c|h|py|sh|js|ts|json|md|cmake|txt|8|1))(?![\w])")
NAME_RE = re.compile(r"`([\w-]+\.[ch])`")
# (folder, from module, to module): include edges that close a circle docs/architecture.md names.
KNOWN_BACK_EDGES = {("agent", "wire_bin", "session"), ("agent", "wire_json", "session")}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([\w./-]+\.h)"', re.M)


def folder_sources(src, folder):
    """Files a module table must name: every .c, and every .h without a .c of its stem."""
    d = os.path.join(src, folder)
    names = {n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n))}
    cs = {n for n in names if n.endswith(".c")}
    hs = {n for n in names if n.endswith(".h") and n[:-2] + ".c" not in names}
    return cs | hs, names


def module_tables(text):
    """{folder: set of file names in the first cell of the rows of its '### `folder/`' section}."""
    out = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"^###\s+`(\w+)/`", line)
        if m:
            cur = m.group(1)
            out.setdefault(cur, set())
            continue
        if line.startswith("#"):
            cur = None
            continue
        if cur and line.startswith("|"):
            cells = line.split("|")
            if len(cells) > 2:
                out[cur].update(NAME_RE.findall(cells[1]))
    return out


def check_architecture(src, findings):
    path = os.path.join(src, "docs", "architecture.md")
    with open(path, encoding="utf-8") as f:
        tables = module_tables(f.read())
    for folder in FOLDERS:
        if folder not in tables:
            findings.append(f"docs/architecture.md: no module table '### `{folder}/`'")
            continue
        required, present = folder_sources(src, folder)
        named = tables[folder]
        for n in sorted(required - named):
            findings.append(f"docs/architecture.md: {folder}/{n} is not named in the `{folder}/` table")
        for n in sorted(named - present):
            findings.append(f"docs/architecture.md: {folder}/{n} is named but does not exist")


def doc_files(src):
    files = [os.path.join(src, "README.md")]
    files += sorted(glob.glob(os.path.join(src, "docs", "*.md")))
    return files


def check_paths(src, findings):
    for doc in doc_files(src):
        rel = os.path.relpath(doc, src)
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        for m in sorted(set(PATH_RE.findall(text))):
            p = m.rstrip(".")
            if "*" in p:
                if not glob.glob(os.path.join(src, p)):
                    findings.append(f"{rel}: '{p}' matches no file")
            elif not os.path.exists(os.path.join(src, p)):
                findings.append(f"{rel}: '{p}' does not exist")


def module_of(name):
    stem = name.rsplit(".", 1)[0]
    return stem[:-4] if stem.endswith("_int") else stem


def include_graph(src, folder):
    d = os.path.join(src, folder)
    files = [n for n in os.listdir(d) if n.endswith((".c", ".h"))]
    local = {module_of(n) for n in files if n.endswith(".h")}
    graph = {}
    for n in files:
        a = module_of(n)
        with open(os.path.join(d, n), encoding="utf-8", errors="replace") as f:
            incs = INCLUDE_RE.findall(f.read())
        deps = graph.setdefault(a, set())
        for inc in incs:
            b = module_of(os.path.basename(inc))
            if b != a and b in local and "/" not in inc:
                deps.add(b)
    return graph


def find_cycle(graph):
    state = {}
    stack = []

    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state:
                c = visit(w)
                if c:
                    return c
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state:
            c = visit(v)
            if c:
                return c
    return None


def check_cycles(src, findings):
    for folder in FOLDERS:
        graph = include_graph(src, folder)
        for f, a, b in sorted(KNOWN_BACK_EDGES):
            if f != folder:
                continue
            if b not in graph.get(a, set()):
                findings.append(f"{folder}/{a} no longer includes {b}: remove the edge from "
                                "KNOWN_BACK_EDGES and the circle from docs/architecture.md")
            else:
                graph[a].discard(b)
        c = find_cycle(graph)
        if c:
            findings.append(f"{folder}/: modules include each other in a circle: {' -> '.join(c)}")


def check(src):
    findings = []
    check_architecture(src, findings)
    check_paths(src, findings)
    check_cycles(src, findings)
    return findings


def main(argv):
    if len(argv) != 2:
        print("usage: check_docs.py SOURCE_DIR", file=sys.stderr)
        return 2
    findings = check(argv[1])
    for f in findings:
        print(f)
    if not findings:
        print("docs: module tables, file paths and the module graph agree with the tree")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
