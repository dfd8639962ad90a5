#!/usr/bin/env bash
# The blocklist micro-benchmark: 1,000,000 entries (90% addresses, 10% /24 blocks) loaded from
# a file as the gateway loads it, then 1,000,000 lookups of random addresses, half of them
# blocked. Targets: load under 2 s, median lookup under 100 ns, under 64 bytes per entry.
#
#   bench/blocklist.sh [entries] [lookups]      (make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
taskset -c 0 .build/release/portcullis-bench blocklist "${1:-1000000}" "${2:-1000000}"
