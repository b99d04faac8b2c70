#!/bin/sh
# verilator --lint-only -Wall over rtl/ for the default top and a small
# configuration; TAP output.
n=0
fail=0
lint() {
    n=$((n + 1))
    out=$(verilator --lint-only -Wall -f rtl/sparq_top.f --top-module sparq_top "$@" 2>&1)
    if [ -z "$out" ]; then
        echo "ok $n - verilator --lint-only -Wall sparq_top $*"
    else
        echo "not ok $n - verilator --lint-only -Wall sparq_top $*"
        echo "$out" | sed 's/^/#   /' | head -30
        fail=1
    fi
}
lint
lint -GROWS=4 -GCOLS=4 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64
lint -GROWS=8 -GCOLS=12
echo "1..$n"
exit $fail
