#!/usr/bin/env python3
"""Sums the edges a libFuzzer run covered, per source file, from its
`-print_coverage=1` output (the COVERED_FUNC / UNCOVERED_FUNC lines an
AddressSanitizer build prints at exit), and compares two runs.

    python3 coverage-by-file.py BASELINE.log NEW.log

prints, for the rustls handshake state machines and a few groups, the edges
each run covered and the ratio NEW / BASELINE, then libFuzzer's final `cov:`.
"""
import collections
import re
import sys

LINE = re.compile(r"(UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) .* (\S+):\d+$")
GROUPS = [
    ("rustls TLS 1.2 + 1.3 state machines (client/ server/ tls12.rs tls13.rs)",
     r"rustls-[0-9.]+/src/(client|server)/tls1[23]\.rs$"),
    ("of which TLS 1.3 (tls13.rs)", r"rustls-[0-9.]+/src/(client|server)/tls13\.rs$"),
    ("rustls client/ and server/ (all of the handshake)",
     r"rustls-[0-9.]+/src/(client|server)/"),
    ("rustls, all of it", r"rustls-[0-9.]+/src/"),
]


def load(path):
    covered = collections.Counter()
    final = "?"
    for line in open(path, errors="replace"):
        line = line.strip()
        m = LINE.match(line)
        if m:
            covered[m.group(4)] += int(m.group(2))
        elif re.match(r"#\d+\s+DONE", line):
            final = line.split("cov:")[1].split()[0]
    return covered, final


def main():
    (base, base_cov), (new, new_cov) = load(sys.argv[1]), load(sys.argv[2])
    for name, pattern in GROUPS:
        a = sum(n for f, n in base.items() if re.search(pattern, f))
        b = sum(n for f, n in new.items() if re.search(pattern, f))
        print(f"{a:6} {b:6} {b / a if a else float('inf'):5.2f}x  {name}")
    print(f"{base_cov:>6} {new_cov:>6} {int(new_cov) / int(base_cov):5.2f}x  libFuzzer cov: (whole binary)")


main()
