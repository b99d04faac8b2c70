#!/bin/sh
# sparq selftest on both device backends (known-answer GEMM suite). TAP.
BUILD=${BUILD:-build}
n=0
status=0
for b in ref sim; do
    n=$((n + 1))
    if out=$("$BUILD/sparq" selftest --backend $b 2>&1); then
        echo "ok $n - sparq selftest --backend $b"
    else
        echo "not ok $n - sparq selftest --backend $b"
        status=1
    fi
    echo "$out" | sed 's/^/# /'
done
n=$((n + 1))
if "$BUILD/sparq" selftest --backend usb9 > /dev/null 2>&1; then
    echo "not ok $n - unknown backend rejected"
    status=1
else
    echo "ok $n - unknown backend rejected"
fi
echo "1..$n"
exit $status
