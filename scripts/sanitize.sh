#!/usr/bin/env bash
# make sanitize: the whole test suite under AddressSanitizer, then under ThreadSanitizer, with
# the gateway and origin binaries the tests start built with the same sanitizer (each in its
# own .build-<sanitizer> directory). Every report of every process, the gateway's included,
# goes to a file under $reports; the run fails if there is any, or if a test fails.
# SANITIZERS picks (default: "address thread").
set -uo pipefail
cd "$(dirname "$0")/.."
reports=${SANITIZER_REPORTS:-/tmp/portcullis-sanitizer-reports}
suppressions=$PWD/scripts/sanitizers
failed=0
for sanitizer in ${SANITIZERS:-address thread}; do
    path=.build-$sanitizer
    rm -rf "$reports/$sanitizer" && mkdir -p "$reports/$sanitizer"
    swift build --build-tests --sanitize "$sanitizer" --build-path "$path" || { failed=1; continue; }
    # Swift's crash backtracer forks a helper, which hangs under ThreadSanitizer: a crash must
    # end the process (and fail the test), not freeze it.
    export PORTCULLIS_BIN_DIR=$PWD/$path/debug PORTCULLIS_SANITIZER=$sanitizer SWIFT_BACKTRACE=enable=no
    log_path=$reports/$sanitizer/report
    export ASAN_OPTIONS="log_path=$log_path:detect_leaks=1:abort_on_error=0"
    export LSAN_OPTIONS="suppressions=$suppressions/lsan.txt"
    export TSAN_OPTIONS="log_path=$log_path:suppressions=$suppressions/tsan.txt:second_deadlock_stack=1"
    started=$(date +%s)
    TEST_TIME_LIMIT=${TEST_TIME_LIMIT:-1500} scripts/run-tests.sh --sanitize "$sanitizer" --build-path "$path" || failed=1
    # A report file may only list the suppressions used; those with an ERROR or WARNING count.
    found=$(grep -l -E "ERROR: |WARNING: ThreadSanitizer" "$reports/$sanitizer"/* 2>/dev/null | wc -l)
    echo "$sanitizer: suite done in $(( $(date +%s) - started )) s, $found report(s) in $reports/$sanitizer"
    if [ "$found" -gt 0 ]; then
        failed=1
        for report in $(grep -l -E "ERROR: |WARNING: ThreadSanitizer" "$reports/$sanitizer"/*); do echo "== $report"; head -60 "$report"; done
    fi
done
exit $failed
