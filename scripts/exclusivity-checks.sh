#!/usr/bin/env bash
# Lists the stored properties that still pay the runtime's exclusivity check, most sites first:
# emits the Portcullis module's optimized SIL (the release build's own compiler invocation, with
# -emit-sil instead of -c) and counts `begin_access [dynamic]` per property. A property is
# checked at run time when whole-module optimization cannot prove that no two accesses overlap:
# it is public, or some access spans a call the optimizer cannot see through (an Array's
# append, a closure given it inout, a release that may run a deinit). See "Benchmark" in README.
#
#   scripts/exclusivity-checks.sh [how many lines, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
touch Sources/Portcullis/Loop/ByteBuffer.swift
command=$(swift build -c release -v 2>&1 | grep -E "swift-frontend.*-module-name Portcullis " | head -1)
[[ -n "$command" ]] || { echo "could not find the compiler invocation for the Portcullis module" >&2; exit 1; }
sil=$(mktemp /tmp/portcullis-sil.XXXXXX)
trap 'rm -f "$sil"' EXIT
COMMAND=$command SIL=$sil TOP=${1:-30} python3 - <<'PYTHON'
import collections, os, re, shlex, subprocess
arguments, skip = [], 0
words = shlex.split(os.environ["COMMAND"])
for index, word in enumerate(words):
    if skip:
        skip -= 1
    elif word == "-c":
        arguments.append("-emit-sil")
    elif word in ("-o", "-index-store-path") or word.startswith("-supplementary-output-file-map"):
        skip = 1
    elif word not in ("-emit-module", "-emit-dependencies", "-serialize-diagnostics", "-index-system-modules",
                      "-emit-module-doc", "-emit-module-source-info"):
        arguments.append(word)
subprocess.run(arguments + ["-o", os.environ["SIL"]], check=True)
fields, counts = {}, collections.Counter()
field = re.compile(r"^\s*(%\d+) = ref_element_addr (?:\[\w+\] )?%\d+, #([\w.]+)")
access = re.compile(r"begin_access \[\w+\] \[dynamic\](?: \[no_nested_conflict\])? (%\d+)")
for line in open(os.environ["SIL"]):
    if line.startswith("sil "):
        fields = {}
    if match := field.match(line):
        fields[match.group(1)] = match.group(2)
    if match := access.search(line):
        counts[fields.get(match.group(1), "(not a class property)")] += 1
for name, count in counts.most_common(int(os.environ["TOP"])):
    print(f"{count:5d}  {name}")
PYTHON
