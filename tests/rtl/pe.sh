#!/bin/sh
# Unit testbenches (iverilog): the PE alone, the array's edges (skewed
# feeding, back-to-back tiles at the minimum period, results leaving the top
# of each column in order), and the board's serial requantizer against the
# combinational one. TAP output.
BUILD=${BUILD:-build}
out="$BUILD/rtl-tb"
mkdir -p "$out"
status=0
for tb in pe array requant; do
    case $tb in
        pe) srcs="rtl/sparq_pe.v tests/rtl/tb_pe.v" ;;
        array) srcs="rtl/sparq_pe.v rtl/sparq_array.v tests/rtl/tb_array.v" ;;
        requant) srcs="rtl/sparq_requant.v rtl/sparq_requant_serial.v tests/rtl/tb_requant.v" ;;
    esac
    if ! iverilog -g2005 -Wall -o "$out/tb_$tb" $srcs > "$out/tb_$tb.log" 2>&1; then
        echo "not ok - iverilog tb_$tb"
        sed 's/^/#   /' "$out/tb_$tb.log"
        status=1
        continue
    fi
    vvp -n "$out/tb_$tb" | grep -v '^VCD\|^\$finish' || status=1
done
exit $status
