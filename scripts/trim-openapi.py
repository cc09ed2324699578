#!/usr/bin/env python3
"""Trims an OpenAPI description to the paths a test needs, for Prism.

Keeps the paths matching any of the given regular expressions (every method), every
component reachable from them through `$ref`, all security schemes, and the top-level
fields; records what it kept under `info.x-trimmed`. JSON in, JSON out; YAML in, YAML out.

    scripts/trim-openapi.py SRC DEST NOTE PATTERN...

Used for the test specs that are not whole upstream files (see tests/specs/SOURCES.md).
Needs PyYAML only for YAML files.
"""
import json
import re
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(f)
        return json.load(f)


def dump(doc, path):
    with open(path, "w", encoding="utf-8") as f:
        if path.endswith((".yaml", ".yml")):
            import yaml

            yaml.safe_dump(doc, f, sort_keys=False, allow_unicode=True, width=120)
        else:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")


def refs(node):
    """Every local `$ref` target under node, as (section, name)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                section, name = value[len("#/components/"):].split("/", 1)
                yield section, name
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    src, dest, note, patterns = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    doc = load(src)
    wanted = [re.compile(p) for p in patterns]
    paths = {p: v for p, v in doc["paths"].items() if any(w.search(p) for w in wanted)}
    if not paths:
        sys.exit(f"no path of {src} matches {patterns}")
    components = doc.get("components", {})
    kept = {}
    todo = list(refs(paths))
    while todo:
        section, name = todo.pop()
        if name in kept.setdefault(section, {}):
            continue
        item = components[section][name]
        kept[section][name] = item
        todo.extend(refs(item))
    if "securitySchemes" in components:
        kept["securitySchemes"] = components["securitySchemes"]
    out = {}
    for key, value in doc.items():
        if key == "paths":
            out["paths"] = paths
        elif key == "webhooks":
            continue
        elif key == "components":
            out["components"] = {
                s: {n: kept[s][n] for n in components[s] if n in kept.get(s, {})}
                for s in components
                if kept.get(s)
            }
        else:
            out[key] = value
    out["info"] = dict(out["info"])
    out["info"]["x-trimmed"] = {
        "note": note,
        "path-patterns": patterns,
        "methods": "all",
        "paths-kept": list(paths),
    }
    dump(out, dest)


if __name__ == "__main__":
    main()
