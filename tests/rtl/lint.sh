#!/bin/sh
# verilator --lint-only -Wall over rtl/ for the default top, small
# configurations and the board's; TAP output.
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
# the iCE40 board configuration (rtl/board/sparq_board_top.v, rtl/board/board.mk)
lint -GROWS=4 -GCOLS=2 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64 -GTIMEOUT=2097152 -GCNT_W=48 -GRQ_SERIAL=1 -GWL_DBUF=0 -GCHK_REG=1
echo "1..$n"
exit $fail
