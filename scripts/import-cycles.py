#!/usr/bin/env python3
"""Import cycles between the top-level modules of a crate (docs/architecture.md, "Layers").

Reads every `crate::X` and `super::X` path outside comments and unit tests (`#[cfg(test)] mod
tests`, `tests.rs`, the store's `contract/`), builds the graph of top-level modules, and prints
each strongly connected component. Exits 1 if there is one.
Usage: scripts/import-cycles.py SRC_DIR [DEPTH]   (e.g. crates/server/src; DEPTH 1 = top level)
"""
import os, re, sys
from collections import defaultdict
root = sys.argv[1]
depth = int(sys.argv[2]) if len(sys.argv) > 2 else 1
def modname(path):
    rel = os.path.relpath(path, root)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts
edges = defaultdict(set)
for dp, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith(".rs"): continue
        p = os.path.join(dp, f)
        parts = modname(p)
        src = open(p).read()
        # drop #[cfg(test)] mod tests { ... } roughly: ignore files named tests.rs
        src = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith("//"))
        if f == "tests.rs" or "/tests/" in p or "/contract/" in p: continue
        src = re.split(r"#\[cfg\(test\)\]\s*mod tests", src)[0]
        me = "::".join(parts[:depth]) or "<lib>"
        for m in re.finditer(r"crate::((?:\w+::)*\w+)", src):
            target = m.group(1).split("::")[:depth]
            t = "::".join(target)
            if t != me and not me.startswith(t + "::") and not t.startswith(me + "::"):
                edges[me].add(t)
        # super:: inside nested modules
        for m in re.finditer(r"\bsuper::(\w+)", src):
            if len(parts) >= 2:
                t = "::".join((parts[:-2] + [m.group(1)])[:depth])
                if t and t != me and not t.startswith(me) and not me.startswith(t + "::"):
                    edges[me].add(t)
nodes = set(edges) | {t for v in edges.values() for t in v}
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
for v in sorted(nodes):
    if v not in idx: sc(v)
for s in sccs:
    print(len(s), "in a cycle:", " ".join(s))
    for a in s:
        print("   ", a, "->", " ".join(sorted(t for t in edges[a] if t in s)))
if not sccs:
    print(root + ": no cycles")
sys.exit(1 if sccs else 0)
