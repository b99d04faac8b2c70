#!/bin/sh
# Runs every test program and script, counts TAP lines ("ok"/"not ok"),
# and ends with exactly one line "N passed, N failed".
#   unit:        $BUILD/tests/bin/*         (C unit tests)
#   asan:        $BUILD/asan/tests/bin/*    (the same, ASan+UBSan)
#   scripts:     tests/*/*.sh               (lint, RTL, co-simulation, integration)
# A program that exits non-zero without reporting a failing check counts as
# one failure, so a crash is never silent. Logs: $BUILD/test-logs/.
set -u
BUILD=${BUILD:-build}
export BUILD
LOGS="$BUILD/test-logs"
mkdir -p "$LOGS"
TIMEOUT=${SPARQ_TEST_TIMEOUT:-1800}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0

run_one() {
    name=$1; shift
    log="$LOGS/$(echo "$name" | tr '/' '_').log"
    start=$(date +%s)
    timeout "$TIMEOUT" "$@" > "$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    ok=$(grep -c '^ok ' "$log")
    bad=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1
        echo "not ok - $name exited with status $rc" >> "$log"
    fi
    passed=$((passed + ok))
    failed=$((failed + bad))
    if [ "$bad" -eq 0 ]; then
        printf '  PASS %-44s %4d checks %5ds\n' "$name" "$ok" "$secs"
    else
        printf '  FAIL %-44s %4d ok, %d failed %5ds (log: %s)\n' "$name" "$ok" "$bad" "$secs" "$log"
        grep -E '^(not ok|#   |# seed|ERROR|==[0-9]+==)' "$log" | head -20 | sed 's/^/       /'
    fi
}

echo "== unit tests"
for t in "$BUILD"/tests/bin/*; do
    [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
done
echo "== unit tests under ASan+UBSan"
for t in "$BUILD"/asan/tests/bin/*; do
    [ -x "$t" ] && run_one "asan/$(basename "$t")" "$t"
done
echo "== scripted suites"
for t in tests/*/*.sh; do
    [ -f "$t" ] && run_one "${t#tests/}" sh "$t"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
