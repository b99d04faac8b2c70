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

# Testbenches (iverilog): the FX2 FIFO adapter against a cycle model of the
# FX2's FIFOs, and the whole board design answering commands through it.
run_tb() { # name, files...
    name=$1
    shift
    mkdir -p "$BUILD/board"
    if ! iverilog -g2012 -o "$BUILD/board/$name" "$@" > "$LOG" 2>&1; then
        notok "iverilog compiles $name"
        sed 's/^/#   /' "$LOG" | head -10
        return
    fi
    vvp -n "$BUILD/board/$name" +seed="${SPARQ_SEED:-1}" > "$LOG" 2>&1
    seen=0
    while read -r line; do
        case "$line" in
            "ok "*) seen=1; ok "$name: ${line#ok*- }" ;;
            "not ok "*) seen=1; notok "$name: ${line#not ok*- }" ;;
            "#"*) echo "$line" ;;
        esac
    done < "$LOG"
    if [ $seen -eq 0 ]; then
        notok "$name produced no result"
        tail -5 "$LOG" | sed 's/^/#   /'
    fi
}
if command -v iverilog > /dev/null 2>&1; then
    run_tb tb_fx2_fifo tests/board/tb_fx2_fifo.v rtl/board/sparq_fx2_fifo.v
    # shellcheck disable=SC2086
    run_tb tb_board tests/board/tb_board.v tests/board/sb_io_stub.v $SRCS
else
    echo "# iverilog not installed: board testbenches skipped"
fi
echo "1..$n"
exit $fail
