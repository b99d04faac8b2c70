#!/bin/sh
# Board RTL checks that run in seconds (place and route lives in
# `make bitstream`): verilator --lint-only -Wall of both board tops, the
# pin file against the top-level ports, and the FX2 FIFO adapter testbench.
set -u
T=$(mktemp -d /tmp/sparq_board_lint.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib
. tests/rtl/tb.shlib
SRCS=$(sed 's/#.*//' rtl/board/sparq_board.f | tr '\n' ' ')
LOG="$T/lint.log"

# Warnings inside the accelerator's own files (rtl/*.v) belong to its lint
# (make lint); here only rtl/board/ must be clean.
board_lint() { # top, files...: no warning or error in rtl/board/ (rtl/*.v is make lint's)
    top=$1
    shift
    verilator --lint-only -Wall -Wno-fatal -Wno-DECLFILENAME --top-module "$top" tests/board/sb_io_stub.v "$@" \
        > "$LOG" 2>&1
    rc=$?
    echo "# $top: $(grep -E '^%(Warning|Error)' "$LOG" | grep -vc 'rtl/board/') warnings in accelerator files left to make lint"
    grep -E -A3 '^%(Warning|Error).*(rtl/board/|Error)' "$LOG" | head -20
    [ $rc -eq 0 ] && ! grep -q '^%Error' "$LOG" && ! grep -E '^%(Warning|Error)' "$LOG" | grep -q 'rtl/board/'
}
# shellcheck disable=SC2086
check "verilator --lint-only -Wall: sparq_board_top, rtl/board/ clean" board_lint sparq_board_top $SRCS
check "verilator --lint-only -Wall: sparq_board_loopback, rtl/board/ clean" board_lint sparq_board_loopback \
    rtl/board/sparq_fx2_fifo.v rtl/board/sparq_board_fdio.v rtl/board/sparq_board_reset.v rtl/board/sparq_board_loopback.v

# Every top-level port bit has a pin and every pin names a port.
ports=$(sed -n '/^module sparq_board_top/,/^);/p' rtl/board/sparq_board_top.v |
    sed -n 's/^ *\(input\|output\|inout\) *wire *\(\[\([0-9]*\):0\]\)\{0,1\} *\([a-z_0-9]*\).*/-\3 \4/p' |
    while read -r hi name; do
        hi=${hi#-}
        if [ -z "$hi" ]; then echo "$name"; else i=0; while [ $i -le "$hi" ]; do echo "$name[$i]"; i=$((i + 1)); done; fi
    done | sort)
pins=$(sed -n 's/^set_io *\([^ ]*\) .*/\1/p' rtl/board/sparq_hx8k_ct256.pcf | sort)
echo "$ports" > "$T/ports"
echo "$pins" > "$T/pins"
check "sparq_hx8k_ct256.pcf assigns exactly the $(echo "$ports" | wc -l) port bits of sparq_board_top" \
    diff "$T/ports" "$T/pins"
balls=$(sed -n 's/^set_io *[^ ]* *\([A-Z0-9]*\).*/\1/p' rtl/board/sparq_hx8k_ct256.pcf | sort)
check "no ball assigned twice" sh -c "! echo '$balls' | uniq -d | grep ."

# Testbenches (iverilog): the FX2 FIFO adapter against a cycle model of the
# FX2's FIFOs, and the whole board design answering commands through it.
if command -v iverilog > /dev/null 2>&1; then
    run_tb tb_fx2_fifo tests/board/tb_fx2_fifo.v rtl/board/sparq_fx2_fifo.v
    # shellcheck disable=SC2086
    run_tb tb_board tests/board/tb_board.v tests/board/sb_io_stub.v $SRCS
else
    echo "# iverilog not installed: board testbenches skipped"
fi
echo "1..$n"
exit $fail
