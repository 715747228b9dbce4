#!/usr/bin/env python3
"""Fails when two of dqgate's top-level modules (its stages) import each other.

A stage is a top-level module of src/ (a folder or a file). Every
`crate::STAGE` path outside comments and outside unit tests (the code after
a file's `#[cfg(test)]`) counts as an import. The stages must
form a directed graph without cycles, so that the layout reads in one
direction: lower stages never reach into later ones.
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")


def stage_of(path):
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".rs")


def imports():
    graph = {}
    for path in SRC.rglob("*.rs"):
        stage = stage_of(path)
        if stage in ("lib", "main"):
            continue
        edges = graph.setdefault(stage, {})
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip() == "#[cfg(test)]":
                break
            code = line.split("//", 1)[0]
            for target in PATH.findall(code):
                if target != stage:
                    edges.setdefault(target, f"{path.relative_to(SRC.parent)}:{number}")
    return graph


def cycles(graph):
    """Strongly connected components of more than one stage (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


graph = imports()
found = cycles(graph)
for component in found:
    print(f"error: these stages import each other: {', '.join(component)}", file=sys.stderr)
    for source in component:
        for target, where in sorted(graph.get(source, {}).items()):
            if target in component:
                print(f"  {source} -> {target} ({where})", file=sys.stderr)
if found:
    sys.exit(1)
print(f"no import cycle between the {len(graph)} stages of src/")
