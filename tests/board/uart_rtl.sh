#!/bin/sh
# The UART path end to end through the board RTL, without hardware: the
# host's uart transport on one end of a pseudo-terminal, the Verilated
# sparq_board_uart_core on the other (uart_rtl_sim: uart_board_sim.c with
# uart_rtl_device.cpp behind the wire, every byte an 8N1 frame at 4 clocks
# per bit), the same fault injector in between. Random GEMMs and
# `sparq selftest` bit-exact, then GEMMs through drops, corruption, noise,
# stalls and low stop bits (the RTL receiver's framing errors), then
# `sparq transcribe` (a tiny model, a short utterance) against the ref
# backend.
# The simulated board is slower than its nominal 12 Mbaud line (tens of kB/s
# of simulated UART), so the host is told to wait longer for replies
# (SPARQ_UART_TIMEOUT_MS); simulated time, not wall time, drives the RTL.
set -u
BUILD=${BUILD:-build}
S="$BUILD/sparq"
SIM="$BUILD/tests/board/uart_rtl_sim"
GEMM="$BUILD/tests/board/uart_gemm"
T=$(mktemp -d /tmp/sparq_uart_rtl.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
. tests/lib/tap.shlib
. tests/board/uart.shlib
SEED=${SPARQ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# seed $SEED (replay: SPARQ_SEED=$SEED)"
export SPARQ_UART_TIMEOUT_MS=${SPARQ_UART_TIMEOUT_MS:-3000}
BAUD=12000000

start_sim() { # name, sim options...: starts a board, sets PTY
    name=$1
    shift
    "$SIM" --rtl --seconds 600 --baud $BAUD "$@" > "$T/$name.pty" 2> "$T/$name.log" &
    PIDS="$PIDS $!"
    PID=$!
    for _ in $(seq 100); do
        [ -s "$T/$name.pty" ] && break
        sleep 0.1
    done
    PTY=$(cat "$T/$name.pty")
}
stop_sim() { # name: ends the board, shows its counts
    kill "$PID" 2> /dev/null
    wait "$PID" 2> /dev/null
    sed 's/^/# /' "$T/$1.log"
}

start=$(date +%s)
start_sim clean
lap() { echo "# $(($(date +%s) - start)) s: $1"; }
check "8 random GEMMs through the board RTL (bit-level UART) equal the reference" gemms "$PTY@$BAUD" "$SEED" 8 0
grep -h "wrong" "$T/gemm.out" | tail -1 | sed 's/^/# /'
lap "GEMMs"
check "sparq selftest --backend uart:PTY passes on the board RTL" sh -c \
    "'$S' selftest --backend 'uart:$PTY@$BAUD' > '$T/selftest.out' 2>&1; rc=\$?; tail -3 '$T/selftest.out'; \
     [ \$rc -eq 0 ] && grep -q 'selftest passed' '$T/selftest.out'"
lap "selftest"
stop_sim clean
check "the clean run: no framing error either way, no rx FIFO overflow" \
    grep -q "RTL receiver: 0 framing errors, rx FIFO overflow no; .* (0 framing errors)" "$T/clean.log"

# Faults per byte on the wire (the C board's injector) plus low stop bits
# on the RTL's rx line. Rates: a few faults per run (3x higher rates exhausted the
# 8 link attempts on one WRITE_X for 1 seed in ~50: a clean error, not a wrong result); each lost reply costs
# one SPARQ_UART_TIMEOUT_MS wait.
start_sim faulty --seed "$SEED" --drop 3e-5 --corrupt 3e-5 --noise 1e-5 --stall 3e-6 --stop-fault 1e-4
# 32 GEMMs: about a dozen faults are expected, so a run without one is practically impossible
# (with 8, about one seed in 20 drew a single fault or none).
check "32 GEMMs through drops, corruption, noise, stalls, low stop bits: 0 wrong, faults recovered" \
    gemms "$PTY@$BAUD" "$SEED" 32 1
grep -h "wrong" "$T/gemm.out" | tail -1 | sed 's/^/# /'
lap "GEMMs under faults"
stop_sim faulty
# Each low stop bit is a framing error; the frames after it may add more
# (the receiver resynchronises on the next falling edge, as on a real line).
framing() {
    low=$(sed -n 's/.*(\([0-9]*\) with a low stop bit).*/\1/p' "$T/faulty.log")
    seen=$(sed -n 's/.*RTL receiver: \([0-9]*\) framing errors.*/\1/p' "$T/faulty.log")
    echo "low stop bits sent $low, framing errors reported by the RTL $seen"
    [ -n "$low" ] && [ -n "$seen" ] && [ "$seen" -ge "$low" ] && { [ "$low" -eq 0 ] || [ "$seen" -gt 0 ]; }
}
check "the RTL receiver reports a framing error for every low stop bit" framing

# Transcription: the tiny configuration (configs/tiny.cfg) trained for one
# epoch on a generated corpus, packed int4 2:4; the shortest utterance
# (about 1.3 s; SPARQ_UART_RTL_UTTS=N for more); the ref backend's transcript is the expected text.
# (models/base.sparq, as tests/board/uart.sh uses, moves ~1 MB per second
# of audio: minutes at the simulated board's speed.)
"$S" data gen --out "$T/D" --hours 0.002 --dev-hours 0.001 --test-hours 0.002 --seed 1 --quiet --workers 1 \
    > "$T/gen.log" 2>&1
"$S" train --config configs/tiny.cfg --train "$T/D/train.jsonl" --out "$T/tiny" --epochs 1 --seed 3 --threads 1 \
    --quiet > "$T/train.log" 2>&1
"$S" export --model "$T/tiny/model.sparq" --compress int4-2:4,sub1_w=int8 --out "$T/m.spq" > "$T/export.log" 2>&1
W=$(find "$T/D/wav" -name '*.wav' -printf '%s %p\n' | sort -n | head -"${SPARQ_UART_RTL_UTTS:-1}" | cut -d' ' -f2)
start_sim transcribe
# shellcheck disable=SC2086
same_text() {
    "$S" transcribe --model "$T/m.spq" --backend ref $W > "$T/ref.txt" &&
        "$S" transcribe --model "$T/m.spq" --backend "uart:$PTY@$BAUD" $W > "$T/uart.txt" &&
        cat "$T/uart.txt" && [ -s "$T/ref.txt" ] && cmp "$T/ref.txt" "$T/uart.txt"
}
check "sparq transcribe --backend uart:PTY on the board RTL: the ref transcript" same_text
lap "transcribe"
stop_sim transcribe
echo "1..$n"
exit $fail
