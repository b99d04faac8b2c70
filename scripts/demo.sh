#!/bin/sh
# make demo: runs, in order, every stage of the pipeline that exists so far,
# saying what each does. Stages appear here as their issues land.
set -eu
BUILD=${BUILD:-build}
SPARQ="$BUILD/sparq"
step() { printf '\n== %s\n' "$*"; }

step "Packed N:M weight formats (docs/format.md): size of a 576x144 FFN matrix in each"
"$SPARQ" format-info --out 576 --in 144

if "$SPARQ" help | grep -q '^  selftest '; then
    step "Accelerator known-answer GEMM suite on the C device model and on the Verilator device"
    "$SPARQ" selftest --backend ref
    "$SPARQ" selftest --backend sim
fi

step "Fast CPU kernel vs OpenBLAS sgemm on Conformer shapes (short timing runs)"
"$SPARQ" bench-gemm --min-time 0.02 --json "$BUILD/bench/gemm-demo.json"

printf '\nThe data, training, compression and on-device inference stages are not built yet\n'
printf '(see docs/status.md); this demo grows as they land.\n'
