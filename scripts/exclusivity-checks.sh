#!/usr/bin/env bash
# Lists the stored properties that still pay the runtime's exclusivity check, most sites first:
# emits the Portcullis module's optimized SIL (the release build's own compiler invocation, with
# -emit-sil instead of -c) and counts `begin_access [dynamic]` per property. A property is
# checked at run time when whole-module optimization cannot prove that no two accesses overlap:
# it is public, or some access spans a call the optimizer cannot see through (an Array's
# append, a closure given it inout, a release that may run a deinit). See "Benchmark" in README.
#
#   scripts/exclusivity-checks.sh [how many lines, default 30]
#   scripts/exclusivity-checks.sh 30 ClientConnection.request
#       (also: the functions whose access to that property may overlap another access, the
#       causes that make every access to it checked)
#   KEEP_SIL=/tmp/portcullis.sil scripts/exclusivity-checks.sh   (keeps the SIL, for reading)
set -euo pipefail
cd "$(dirname "$0")/.."
touch Sources/Portcullis/Loop/ByteBuffer.swift
command=$(swift build -c release --static-swift-stdlib -v 2>&1 | grep -E "swift-frontend.*-module-name Portcullis " | head -1)
[[ -n "$command" ]] || { echo "could not find the compiler invocation for the Portcullis module" >&2; exit 1; }
if [[ -n "${KEEP_SIL:-}" ]]; then
    sil=$KEEP_SIL
else
    sil=$(mktemp /tmp/portcullis-sil.XXXXXX)
    trap 'rm -f "$sil"' EXIT
fi
COMMAND=$command SIL=$sil TOP=${1:-30} PROPERTY=${2:-} python3 - <<'PYTHON'
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
fields, counts, causes, function = {}, collections.Counter(), collections.Counter(), ""
property = os.environ["PROPERTY"]
field = re.compile(r"^\s*(%\d+) = ref_element_addr (?:\[\w+\] )?%\d+, #([\w.]+)")
access = re.compile(r"begin_access \[\w+\] \[dynamic\](?: \[no_nested_conflict\])? (%\d+)")
for line in open(os.environ["SIL"]):
    if line.startswith("sil "):
        fields, function = {}, line.split("@")[1].split(" ")[0] if "@" in line else line
    if match := field.match(line):
        fields[match.group(1)] = match.group(2)
    if match := access.search(line):
        name = fields.get(match.group(1), "(not a class property)")
        counts[name] += 1
        if name == property and "[no_nested_conflict]" not in line:
            causes[function] += 1
for name, count in counts.most_common(int(os.environ["TOP"])):
    print(f"{count:5d}  {name}")
if property:
    ranked = causes.most_common()
    demangled = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(function for function, _ in ranked),
                               capture_output=True, text=True).stdout.split("\n")
    print(f"\naccesses to {property} that may overlap another access, by function:")
    for (_, count), name in zip(ranked, demangled):
        print(f"{count:5d}  {name}")
PYTHON
