#!/usr/bin/env bash
# Runs `swift test --skip-build "$@"` with a time limit (TEST_TIME_LIMIT seconds, default 900):
# a test that hangs ends the run with the names of the tests that started and never finished,
# instead of holding CI until its own limit says nothing. The tests run in a session of their
# own; whatever they started and left running (a test killed mid-way never cleans up) is
# killed with it at the end, however the run ends, and named (a passing run that leaves a
# process behind fails).
set -uo pipefail
limit=${TEST_TIME_LIMIT:-900}
log=$(mktemp)
session=$(mktemp)

end_session_processes() {
    sid=$(cat "$session" 2>/dev/null)
    if [ -n "$sid" ]; then pkill -KILL -s "$sid"; fi
}
end_session() {
    end_session_processes
    rm -f "$log" "$session"
}
trap end_session EXIT
trap 'exit 130' INT TERM

# Line-buffered, so that what a hung run printed is all there. The output goes to `tee` by a
# process substitution, not a pipeline: bash then waits for swift test alone, and the session
# is ended before anything waits for `tee`, which a leftover holding the pipe would keep open.
setsid --wait bash -c 'echo $$ > "$0"; exec timeout --kill-after=15 "$1" stdbuf -oL -eL "$2" test --skip-build "${@:3}"' \
    "$session" "$limit" "${SWIFT:-swift}" "$@" > >(tee "$log") 2>&1
status=$?
sid=$(cat "$session")
# Zombies do not count: exited, only not reaped yet (AddressSanitizer's llvm-symbolizer).
leftovers=$(ps -o pid=,stat=,args= -s "$sid" | awk '$2 !~ /^Z/')
if [ -n "$leftovers" ]; then
    # A test that leaves a process running leaks it into every later test: a failure too.
    echo "left running by the tests (killed now):"
    echo "$leftovers" | sed 's/^/    /'
    [ "$status" -eq 0 ] && status=1
fi
end_session_processes
wait
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "swift test did not finish within $limit s; started and never finished:"
    # `◇ Test name() started.`, then `✔ Test name() passed …` or `✘ Test name() failed …`.
    comm -23 <(grep -E '^◇ Test [^ ]+\(.*\) started' "$log" | awk '{print $3}' | sort) \
             <(grep -E '^(✔|✘) Test [^ ]+ .*(passed|failed) after' "$log" | awk '{print $3}' | sort) | sed 's/^/    /'
fi
exit "$status"
