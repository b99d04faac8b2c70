#!/bin/sh
# Board RTL checks that run in seconds (place and route lives in
# `make bitstream`): verilator --lint-only -Wall of the board tops (FX2,
# loopback, iCE40 UART, ULX3S), every pin file against its top's ports, the
# FX2 FIFO adapter and UART testbenches.
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

UART_SRCS="rtl/board/sparq_board_reset.v rtl/board/sparq_uart_rx.v rtl/board/sparq_uart_tx.v rtl/board/sparq_uart_fifo.v
    rtl/board/sparq_board_uart_core.v"
ACC_SRCS=$(sed 's/#.*//' rtl/sparq_top.f | tr '\n' ' ')
# shellcheck disable=SC2086
check "verilator --lint-only -Wall: sparq_board_uart_top (iCE40 UART), rtl/board/ clean" board_lint \
    sparq_board_uart_top tests/board/sb_pll_stub.v $ACC_SRCS $UART_SRCS rtl/board/sparq_board_uart_pll.v \
    rtl/board/sparq_board_uart_top.v
# shellcheck disable=SC2086
check "verilator --lint-only -Wall: sparq_ulx3s_top (ECP5 UART), rtl/board/ clean" board_lint \
    sparq_ulx3s_top tests/board/ecp5_pll_stub.v $ACC_SRCS $UART_SRCS rtl/board/sparq_ulx3s_top.v
for c in 4 5 8 20; do
    check "verilator --lint-only -Wall: UART rx/tx at $c clocks per bit" sh -c \
        "verilator --lint-only -Wall -GCLKS_PER_BIT=$c rtl/board/sparq_uart_rx.v &&
         verilator --lint-only -Wall -GCLKS_PER_BIT=$c rtl/board/sparq_uart_tx.v"
done

# Every top-level port bit has a pin and every pin names a port.
port_bits() { # file, module: one line per port bit
    sed -n "/^module $2/,/^);/p" "$1" |
        sed -n 's/^ *\(input\|output\|inout\) *wire *\(\[\([0-9]*\):0\]\)\{0,1\} *\([a-z_0-9]*\).*/-\3 \4/p' |
        while read -r hi name; do
            hi=${hi#-}
            if [ -z "$hi" ]; then echo "$name"; else i=0; while [ $i -le "$hi" ]; do echo "$name[$i]"; i=$((i + 1)); done; fi
        done | sort
}
pin_check() { # top file, module, pin file
    port_bits "$1" "$2" > "$T/ports"
    case "$3" in
        *.lpf) sed -n 's/^LOCATE COMP "\([^"]*\)" SITE "\([A-Z0-9]*\)".*/\1 \2/p' "$3" ;;
        *) sed -n 's/^set_io *\([^ ]*\) *\([A-Z0-9]*\).*/\1 \2/p' "$3" ;;
    esac > "$T/assign"
    cut -d' ' -f1 "$T/assign" | sort > "$T/pins"
    check "$(basename "$3") assigns exactly the $(wc -l < "$T/ports") port bits of $2" diff "$T/ports" "$T/pins"
    check "$(basename "$3"): no pin assigned twice" sh -c "! cut -d' ' -f2 '$T/assign' | sort | uniq -d | grep ."
}
pin_check rtl/board/sparq_board_top.v sparq_board_top rtl/board/sparq_hx8k_ct256.pcf
pin_check rtl/board/sparq_board_uart_top.v sparq_board_uart_top rtl/board/sparq_icebreaker.pcf
pin_check rtl/board/sparq_board_uart_top.v sparq_board_uart_top rtl/board/sparq_hx8k_uart.pcf
pin_check rtl/board/sparq_ulx3s_top.v sparq_ulx3s_top rtl/board/sparq_ulx3s.lpf

# Testbenches (iverilog): the FX2 FIFO adapter against a cycle model of the
# FX2's FIFOs, and the whole board design answering commands through it.
if command -v iverilog > /dev/null 2>&1; then
    run_tb tb_fx2_fifo tests/board/tb_fx2_fifo.v rtl/board/sparq_fx2_fifo.v
    run_tb tb_uart tests/board/tb_uart.v rtl/board/sparq_uart_rx.v rtl/board/sparq_uart_tx.v
    # shellcheck disable=SC2086
    run_tb tb_board tests/board/tb_board.v tests/board/sb_io_stub.v $SRCS
else
    echo "# iverilog not installed: board testbenches skipped"
fi
echo "1..$n"
exit $fail
