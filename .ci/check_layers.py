#!/usr/bin/env python3
"""Checks lowp's headers against the header map of docs/architecture.md.

The map has one section per layer, from the bottom up ("## Formats layer", "## Bulk
layer", ...); each section's table has one row per header (or per group of headers named
together) with the lowp headers it includes in the last column.  This check fails when

  - a header under include/lowp is in no row, or a row names a header that does not exist;
  - a header includes a lowp header of a higher layer;
  - a row's "includes" column is not the set of lowp headers its headers include
    directly (for a row of several headers: those they include from outside the row).

Usage: check_layers.py [repository root]   (default: the parent of this script's folder)
"""

import fnmatch
import posixpath
import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
INCLUDE = ROOT / "include"

SECTION = re.compile(r"^##\s+(\w+)\s+layer\b", re.IGNORECASE)
HEADER_NAME = re.compile(r"`([\w/]+\.hpp)`")
INCLUDE_LINE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def parse_map():
    """Returns (layers bottom-up, {header: layer}, [(row headers, includes items, line)])."""
    layers, layer_of, rows = [], {}, []
    layer = None
    for number, line in enumerate(DOC.read_text(encoding="utf-8").splitlines(), 1):
        m = SECTION.match(line)
        if m:
            layer = m.group(1).lower()
            layers.append(layer)
            continue
        if line.startswith("## "):
            layer = None
            continue
        if layer is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        headers = HEADER_NAME.findall(cells[0])
        if not headers:  # the table's heading or its |---| line
            continue
        for h in headers:
            if h in layer_of:
                sys.exit(f"{DOC}:{number}: {h} is listed twice")
            layer_of[h] = layer
        # "includes": comma-separated names without .hpp; "std" alone: no lowp header;
        # a parenthesis is a remark; a trailing * matches several headers.
        text = re.sub(r"\([^)]*\)", "", cells[-1])
        items = {i.strip().strip("`").removesuffix(".hpp") for i in text.split(",")}
        items.discard("")
        items.discard("std")
        rows.append(([h.removesuffix(".hpp") for h in headers], items, number))
    return layers, layer_of, rows


def lowp_includes(path):
    """The lowp headers that `path` includes, as paths relative to include/lowp."""
    found = set()
    here = path.parent.relative_to(INCLUDE / "lowp").as_posix()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = INCLUDE_LINE.match(line)
        if not m:
            continue
        kind, name = m.groups()
        if kind == "<":
            if not name.startswith("lowp/"):
                continue  # the standard library, Eigen, intrinsics
            target = name[len("lowp/"):]
        else:
            target = posixpath.normpath(posixpath.join(here, name))
        found.add(target)
    return found


def main():
    layers, layer_of, rows = parse_map()
    rank = {name: i for i, name in enumerate(layers)}
    errors = []
    actual = {p.relative_to(INCLUDE / "lowp").as_posix(): p
              for p in sorted((INCLUDE / "lowp").rglob("*.hpp"))}

    for h in layer_of:
        if h not in actual:
            errors.append(f"docs/architecture.md lists {h}, which is not in include/lowp")
    includes = {}
    for h, path in actual.items():
        if h not in layer_of:
            errors.append(f"include/lowp/{h} is in no layer of docs/architecture.md: add a row")
            continue
        includes[h] = lowp_includes(path)
        for target in sorted(includes[h]):
            if target not in actual:
                errors.append(f"include/lowp/{h} includes {target}, which is not in include/lowp")
            elif target in layer_of and rank[layer_of[target]] > rank[layer_of[h]]:
                errors.append(f"include/lowp/{h} ({layer_of[h]} layer) includes {target}"
                              f" ({layer_of[target]} layer, above it)")

    for names, items, number in rows:
        own = set(names)
        used = set()
        for n in names:
            used |= {t.removesuffix(".hpp") for t in includes.get(n + ".hpp", ())}
        used -= own
        unmatched = {i for i in items if not fnmatch.filter(used, i)}
        unlisted = {u for u in used if not any(fnmatch.fnmatch(u, i) for i in items)}
        if unmatched or unlisted:
            errors.append(
                f"docs/architecture.md:{number}: the row of {', '.join(names)} says it includes "
                f"{', '.join(sorted(items)) or 'std'}; it includes "
                f"{', '.join(sorted(used)) or 'no lowp header'}")

    if errors:
        print("layer check failed:", *errors, sep="\n  ")
        return 1
    print(f"layer check: {len(actual)} headers in {len(layers)} layers "
          f"({', '.join(layers)}); each includes only its own layer or below, as mapped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
