#!/bin/sh
# Board RTL checks that run in seconds (place and route lives in
# `make bitstream`): verilator --lint-only -Wall of both board tops, the
# pin file against the top-level ports, and the FX2 FIFO adapter testbench.
set -u
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }
BUILD=${BUILD:-build}
SRCS=$(sed 's/#.*//' rtl/board/sparq_board.f | tr '\n' ' ')
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

# Warnings inside the accelerator's own files (rtl/*.v) belong to its lint
# (make lint); here only rtl/board/ must be clean.
for top in sparq_board_top sparq_board_loopback; do
    if [ "$top" = sparq_board_top ]; then files="$SRCS"; else
        files="rtl/board/sparq_fx2_fifo.v rtl/board/sparq_board_fdio.v rtl/board/sparq_board_loopback.v"; fi
    # shellcheck disable=SC2086
    verilator --lint-only -Wall -Wno-fatal -Wno-DECLFILENAME --top-module "$top" tests/board/sb_io_stub.v $files \
        > "$LOG" 2>&1
    rc=$?
    ours=$(grep -E '^%(Warning|Error)' "$LOG" | grep -c 'rtl/board/')
    other=$(grep -E '^%(Warning|Error)' "$LOG" | grep -vc 'rtl/board/')
    if [ "$ours" -eq 0 ] && ! grep -q '^%Error' "$LOG" && [ $rc -eq 0 ]; then
        ok "verilator --lint-only -Wall: $top, rtl/board/ clean ($other warnings in accelerator files left to make lint)"
    else
        notok "verilator --lint-only -Wall: $top"
        grep -E -A3 '^%(Warning|Error).*(rtl/board/|Error)' "$LOG" | sed 's/^/#   /' | head -20
    fi
done

# Every top-level port bit has a pin and every pin names a port.
ports=$(sed -n '/^module sparq_board_top/,/^);/p' rtl/board/sparq_board_top.v |
    sed -n 's/^ *\(input\|output\|inout\) *wire *\(\[\([0-9]*\):0\]\)\{0,1\} *\([a-z_0-9]*\).*/-\3 \4/p' |
    while read -r hi name; do
        hi=${hi#-}
        if [ -z "$hi" ]; then echo "$name"; else i=0; while [ $i -le "$hi" ]; do echo "$name[$i]"; i=$((i + 1)); done; fi
    done | sort)
pins=$(sed -n 's/^set_io *\([^ ]*\) .*/\1/p' rtl/board/sparq_hx8k_ct256.pcf | sort)
if [ "$ports" = "$pins" ]; then
    ok "sparq_hx8k_ct256.pcf assigns exactly the $(echo "$ports" | wc -l) port bits of sparq_board_top"
else
    notok "sparq_hx8k_ct256.pcf and sparq_board_top ports differ"
    echo "$ports" > "$LOG.p"; echo "$pins" > "$LOG.q"; diff "$LOG.p" "$LOG.q" | sed 's/^/#   /'; rm -f "$LOG.p" "$LOG.q"
fi
balls=$(sed -n 's/^set_io *[^ ]* *\([A-Z0-9]*\).*/\1/p' rtl/board/sparq_hx8k_ct256.pcf | sort)
if [ "$(echo "$balls" | uniq -d)" = "" ]; then ok "no ball assigned twice"; else notok "balls assigned twice: $(echo "$balls" | uniq -d | tr '\n' ' ')"; fi

# FX2 slave-FIFO adapter against a cycle model of the FX2's FIFOs (iverilog).
if command -v iverilog > /dev/null 2>&1; then
    mkdir -p "$BUILD/board"
    if iverilog -g2012 -o "$BUILD/board/tb_fx2_fifo" tests/board/tb_fx2_fifo.v rtl/board/sparq_fx2_fifo.v > "$LOG" 2>&1; then
        vvp -n "$BUILD/board/tb_fx2_fifo" +seed="${SPARQ_SEED:-1}" > "$LOG" 2>&1
        grep -E '^(ok|not ok|#)' "$LOG" | while read -r line; do
            case "$line" in
                "ok "*) echo "$line" ;;
                "not ok "*) echo "$line" ;;
                *) echo "$line" ;;
            esac
        done > "$LOG.tb"
        # renumber the testbench's TAP lines after ours
        while read -r line; do
            case "$line" in
                "ok "*) ok "tb_fx2_fifo: ${line#ok * - }" ;;
                "not ok "*) notok "tb_fx2_fifo: ${line#not ok * - }" ;;
                *) echo "$line" ;;
            esac
        done < "$LOG.tb"
        grep -q '^ok \|^not ok ' "$LOG.tb" || { notok "tb_fx2_fifo produced no result"; tail -5 "$LOG" | sed 's/^/#   /'; }
        rm -f "$LOG.tb"
    else
        notok "iverilog compiles tests/board/tb_fx2_fifo.v"
        sed 's/^/#   /' "$LOG" | head -10
    fi
else
    echo "# iverilog not installed: FX2 FIFO testbench skipped"
fi
echo "1..$n"
exit $fail
