#!/bin/sh
# Unit testbenches (iverilog): the PE alone (4 lanes and 1), the array's edges
# (back-to-back tiles at the minimum period, results leaving the top of each
# column in order; the broadcast array with two result chains per column and
# the systolic one with skewed feeding), and the board's serial requantizer
# against the combinational one. TAP output.
set -u
T=$(mktemp -d /tmp/sparq_rtl_tb.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib
. tests/rtl/tb.shlib
TB_FLAGS="-g2005 -Wall"

run_tb tb_pe rtl/sparq_pe.v tests/rtl/tb_pe.v
TB_FLAGS="$TB_FLAGS -Ptb_pe.LANES=1" run_tb tb_pe_lanes1 rtl/sparq_pe.v tests/rtl/tb_pe.v
run_tb tb_array rtl/sparq_pe.v rtl/sparq_array.v tests/rtl/tb_array.v
TB_FLAGS="$TB_FLAGS -Ptb_array.BCAST=0" run_tb tb_array_systolic rtl/sparq_pe.v rtl/sparq_array.v tests/rtl/tb_array.v
run_tb tb_requant rtl/sparq_requant.v rtl/sparq_requant_serial.v tests/rtl/tb_requant.v
echo "1..$n"
exit $fail
