#!/usr/bin/env python3
"""Every dependency's license must allow lsdb to be distributed under Apache-2.0: a check in
the manner of `cargo deny check licenses`, over `cargo metadata` (no network).

Each package's SPDX expression is evaluated: OR needs one allowed choice, AND needs all
(`WITH` exceptions keep their base license; the old `/` separator means OR). Prints every
package whose license is not allowed, and exits 1 if there is any.
"""
import json, re, subprocess, sys

# Permissive licenses compatible with distributing the whole under Apache-2.0.
ALLOWED = {
    "Apache-2.0", "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib",
    "Unicode-3.0", "Unicode-DFS-2016", "Unlicense", "BSL-1.0", "0BSD", "CC0-1.0",
    "CDLA-Permissive-2.0",
}


def tokens(expr):
    return re.findall(r"\(|\)|[A-Za-z0-9.+-]+", expr.replace("/", " OR "))


def allowed(expr):
    """Evaluate an SPDX expression: (a OR b) AND c WITH x."""
    toks, at = tokens(expr), 0

    def atom():
        nonlocal at
        if at < len(toks) and toks[at] == "(":
            at += 1
            value = either()
            at += 1  # ")"
        else:
            value = at < len(toks) and toks[at] in ALLOWED
            at += 1
        if at < len(toks) and toks[at] == "WITH":
            at += 2  # an exception only adds permissions
        return value

    def both():
        nonlocal at
        value = atom()
        while at < len(toks) and toks[at] == "AND":
            at += 1
            value = atom() and value
        return value

    def either():
        nonlocal at
        value = both()
        while at < len(toks) and toks[at] == "OR":
            at += 1
            value = both() or value
        return value

    return either() and at >= len(toks)


def main():
    meta = json.loads(subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--locked"]))
    bad = []
    for p in meta["packages"]:
        license = p.get("license")
        if not license or not allowed(license):
            bad.append(f"{p['name']} {p['version']}: {license or 'no SPDX license (' + str(p.get('license_file')) + ')'}")
    for line in sorted(bad):
        print(f"license not allowed: {line}")
    print(f"licenses: {len(meta['packages'])} packages checked, {len(bad)} not compatible with Apache-2.0")
    return 1 if bad else 0


if __name__ == "__main__":
    assert allowed("MIT OR Apache-2.0") and allowed("(MIT OR Apache-2.0) AND Unicode-3.0")
    assert allowed("Apache-2.0 WITH LLVM-exception OR MIT") and allowed("MIT/Apache-2.0")
    assert not allowed("GPL-3.0") and not allowed("MIT AND GPL-3.0") and allowed("GPL-3.0 OR MIT")
    assert not allowed("(MIT OR Apache-2.0) AND LGPL-2.1-or-later") and not allowed("")
    assert allowed("MIT OR Apache-2.0 AND LGPL-2.1-or-later")  # AND binds first
    sys.exit(main())
