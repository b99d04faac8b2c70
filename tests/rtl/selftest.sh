#!/bin/sh
# sparq selftest on both device backends (known-answer GEMM suite). TAP.
set -u
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/sparq_selftest.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

for b in ref sim; do
    check "sparq selftest --backend $b" "$BUILD/sparq" selftest --backend $b
    sed 's/^/# /' "$T/check.log"
done
check "unknown backend rejected" sh -c "! '$BUILD/sparq' selftest --backend usb9"
echo "1..$n"
exit $fail
