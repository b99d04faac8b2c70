#!/bin/sh
# verilator --lint-only -Wall over rtl/ for the default top, small
# configurations (one lane and four), the protocol-3 ones and the board's;
# TAP output.
set -u
T=$(mktemp -d /tmp/sparq_rtl_lint.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

lint() { # any output at all (a warning) is a failure
    out=$(verilator --lint-only -Wall -f rtl/sparq_top.f --top-module sparq_top "$@" 2>&1)
    echo "$out" | head -30
    [ -z "$out" ]
}
check "verilator --lint-only -Wall sparq_top (LANES=1)" lint
check "verilator --lint-only -Wall sparq_top -GLANES=4 (the simulated build)" lint -GLANES=4
check "verilator --lint-only -Wall sparq_top -GLANES=4 -GROWS=4 -GCOLS=4 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64" \
    lint -GLANES=4 -GROWS=4 -GCOLS=4 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64
check "verilator --lint-only -Wall sparq_top -GROWS=4 -GCOLS=4 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64" \
    lint -GROWS=4 -GCOLS=4 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64
check "verilator --lint-only -Wall sparq_top -GROWS=8 -GCOLS=12" lint -GROWS=8 -GCOLS=12
# protocol version 3: the simulated build (sim/sim.mk) and a small one with every feature
v3="-GLANES=4 -GXBANKS=4 -GRBUFS=2 -GWSTORE=262144 -GQDEPTH=16384 -GLUTS=16"
# shellcheck disable=SC2086
check "verilator --lint-only -Wall sparq_top $v3 (the simulated build)" lint $v3
check "verilator --lint-only -Wall sparq_top 4x4, LANES=4, XBANKS=8 RBUFS=2 WSTORE=1024 QDEPTH=64 LUTS=3" \
    lint -GLANES=4 -GROWS=4 -GCOLS=4 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64 -GXBANKS=8 -GRBUFS=2 -GWSTORE=1024 \
    -GQDEPTH=64 -GLUTS=3
check "verilator --lint-only -Wall sparq_top 8x32, LANES=1 with a store and 2 result buffers" \
    lint -GROWS=8 -GCOLS=32 -GWSTORE=64 -GRBUFS=2 -GQDEPTH=32
# a word-wide host port (PORT_BYTES 4: sim/sim.mk; 2: an FT600), also on a 4x4 array
# shellcheck disable=SC2086
check "verilator --lint-only -Wall sparq_top $v3 -GPORT_BYTES=4 (the simulated build)" lint $v3 -GPORT_BYTES=4
# shellcheck disable=SC2086
check "verilator --lint-only -Wall sparq_top $v3 -GPORT_BYTES=2" lint $v3 -GPORT_BYTES=2
check "verilator --lint-only -Wall sparq_top 4x4, LANES=4, QDEPTH=64, PORT_BYTES=4" \
    lint -GLANES=4 -GROWS=4 -GCOLS=4 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64 -GQDEPTH=64 -GPORT_BYTES=4
# the iCE40 board configuration (rtl/board/sparq_board_top.v, rtl/board/board.mk)
board="-GROWS=4 -GCOLS=2 -GWDEPTH=256 -GXDEPTH=256 -GRDEPTH=64 -GTIMEOUT=2097152 -GCNT_W=48 -GRQ_SERIAL=1 -GWL_DBUF=0 -GCHK_REG=2"
# shellcheck disable=SC2086
check "verilator --lint-only -Wall sparq_top $board" lint $board
# shellcheck disable=SC2086
check "verilator --lint-only -Wall sparq_top, the board configuration with CHK_REG=1" lint $board -GCHK_REG=1
# the bit-serial PE (LANES = 0): the HX8K image (16x2) and the board simulation's (4x4)
# shellcheck disable=SC2086
check "verilator --lint-only -Wall sparq_top, bit-serial 16x2 board image" lint $board -GLANES=0 -GROWS=16 -GXDEPTH=64
check "verilator --lint-only -Wall sparq_top -GLANES=0 -GROWS=4 -GCOLS=4 -GWDEPTH=64 -GXDEPTH=64 -GRDEPTH=16" \
    lint -GLANES=0 -GROWS=4 -GCOLS=4 -GWDEPTH=64 -GXDEPTH=64 -GRDEPTH=16
echo "1..$n"
exit $fail
