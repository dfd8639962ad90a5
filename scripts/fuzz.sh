#!/usr/bin/env bash
# make fuzz: builds portcullis-fuzz with libFuzzer and AddressSanitizer (in .build-fuzz, so the
# product build is untouched) and runs every target for FUZZ_SECONDS (default 120), starting
# from the kept corpus in Tests/FuzzCorpus/<target> plus what earlier runs found
# (.build-fuzz/corpus/<target>). An input that crashes a target is copied into
# Tests/FuzzCorpus/<target>/ (commit it: make test replays that directory) and the run fails.
# FUZZ_TARGETS picks targets (default: all). Prints executions per target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-120}
targets=${FUZZ_TARGETS:-request response config blocklist acme}
# A debug build: the targets reach into the library's internals (@testable). swiftc keeps only
# the last -sanitize= it is given, so SwiftPM's one flag per sanitizer would leave the library
# without coverage or without ASan: both go in one flag, after SwiftPM's own.
swift build --build-path .build-fuzz --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address \
    -Xcc -fsanitize=address -Xcxx -fsanitize=address -Xswiftc -DFUZZING --product portcullis-fuzz
binary=.build-fuzz/debug/portcullis-fuzz
failed=0
for target in $targets; do
    work=.build-fuzz/corpus/$target
    artifacts=.build-fuzz/artifacts/$target
    mkdir -p "$work" "$artifacts"
    options=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/")
    # TOMLKit never frees the documents it parses (no destructor in its C++ bridge): a few
    # KB per configuration load, known and measured (README); leak checks would stop at once.
    [ "$target" = config ] && options+=(-detect_leaks=0)
    log=.build-fuzz/fuzz-$target.log
    if FUZZ_TARGET=$target "$binary" "${options[@]}" "$work" "Tests/FuzzCorpus/$target" >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed=1
        for found in "$artifacts"/*; do
            [ -f "$found" ] && cp "$found" "Tests/FuzzCorpus/$target/" && echo "kept $found in Tests/FuzzCorpus/$target/"
        done
        grep -m1 -A20 "ERROR\|==ERROR\|Fatal error\|precondition" "$log" || tail -20 "$log"
    fi
    runs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log")
    rate=$(awk '/stat::average_exec_per_sec/ {print $NF}' "$log")
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    printf "%-10s %-6s %12s executions in %ss (%s/s), %s, corpus %s inputs\n" "$target" "$status" "${runs:-?}" "$seconds" "${rate:-?}" "${coverage:-cov: ?}" \
        "$(find "$work" -type f | wc -l)"
done
exit $failed
