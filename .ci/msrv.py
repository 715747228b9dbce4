#!/usr/bin/env python3
"""Fails when a locked dependency needs a newer Rust than Cargo.toml declares.

`rust-version` in Cargo.toml is a promise to users; a dependency update that
raises the toolchain it needs must raise that promise too, on purpose.
"""
import json
import subprocess
import sys


def version(text):
    """`1.89` and `1.89.0` alike, as (major, minor, patch)."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


metadata = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
root = next(p for p in metadata["packages"] if p["id"] == metadata["resolve"]["root"])
declared = root["rust_version"]
needs = [
    (version(p["rust_version"]), p["name"], p["version"], p["rust_version"])
    for p in metadata["packages"]
    if p.get("rust_version") and p["id"] != root["id"]
]
highest = max(needs)
if highest[0] > version(declared):
    print(
        f"error: Cargo.toml declares rust-version = {declared}, but {highest[1]} {highest[2]} "
        f"needs Rust {highest[3]}; raise rust-version (and say so in the README) or pin the dependency",
        file=sys.stderr,
    )
    sys.exit(1)
print(f"rust-version {declared} covers every locked dependency (the highest need: {highest[1]} {highest[3]})")
