#!/usr/bin/env python3
"""Writes COUNT blocklist entries (documentation and reserved ranges, never 127.0.0.0/8, so the
load generator is not blocked; 80 % single addresses, 20 % /24 ranges; always the same ones) to
BLOCKLIST, one per line, and, with a third argument, the same as nginx `deny` lines to NGINX_DENY.

    bench/blocklist_entries.py COUNT BLOCKLIST [NGINX_DENY]
"""
import random
import sys

count, blocklist = int(sys.argv[1]), sys.argv[2]
random.seed(7)
entries = set()
while len(entries) < count:
    a = random.choice([11, 23, 45, 61, 98, 151, 185, 203])
    if random.random() < 0.8:
        entries.add(f"{a}.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}")
    else:
        entries.add(f"{a}.{random.randrange(256)}.{random.randrange(256)}.0/24")
with open(blocklist, "w") as out:
    out.writelines(f"{e}\n" for e in sorted(entries))
if len(sys.argv) > 3:
    with open(sys.argv[3], "w") as out:
        out.writelines(f"deny {e};\n" for e in sorted(entries))
        out.write("allow all;\n")
