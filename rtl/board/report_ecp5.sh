#!/bin/sh
# Summarises a Yosys synth_ecp5 run against the ULX3S's LFE5U-85F: LUT4,
# flip-flops, MULT18X18D, DP16KD block RAM, distributed RAM, and whether
# each fits. Synthesis only (no place and route): LUT use grows a little
# in packing. Usage: report_ecp5.sh YOSYS_LOG SIZE DEPTHS
set -eu
log=$1; size=$2; depths=$3
# the last statistics block of the log is the top level after flattening
cnt() { awk -v c="$1" '/Number of cells/{v=0} $1==c{v=$2} END{print v+0}' "$log"; }
lut=$(cnt LUT4); ccu=$(cnt CCU2C); mult=$(cnt MULT18X18D); alu=$(cnt ALU54B); bram=$(cnt DP16KD)
dram=$(cnt TRELLIS_DPR16X4); ff=$(awk '/Number of cells/{v=0} $1 ~ /^TRELLIS_FF$/{v=$2} END{print v+0}' "$log")
# CCU2C carry cells take 2 LUT4s each; a TRELLIS_DPR16X4 takes a slice's LUT pair (2 x 2 LUT4s, like nextpnr).
luts=$((lut + 2 * ccu + 4 * dram))
verdict() { if [ "$1" -le "$2" ]; then echo "fits"; else echo "DOES NOT FIT"; fi; }
printf 'ecp5   array %-6s (%s)\n' "$size" "$depths"
printf '  LUT4 %6d / 83640 (%3d %%) %s  [%d LUT4 + 2 x %d CCU2C + 4 x %d DPR16X4]\n' "$luts" $((luts * 100 / 83640)) \
  "$(verdict "$luts" 83640)" "$lut" "$ccu" "$dram"
printf '  FF   %6d / 83640 (%3d %%) %s\n' "$ff" $((ff * 100 / 83640)) "$(verdict "$ff" 83640)"
printf '  MULT18X18D %4d / 156 (%3d %%) %s  (ALU54B %d)\n' "$mult" $((mult * 100 / 156)) "$(verdict "$mult" 156)" "$alu"
printf '  DP16KD     %4d / 208 (%3d %%) %s\n' "$bram" $((bram * 100 / 208)) "$(verdict "$bram" 208)"
if [ "$luts" -le 83640 ] && [ "$mult" -le 156 ] && [ "$bram" -le 208 ] && [ "$ff" -le 83640 ]; then
    echo "  verdict: fits the LFE5U-85F (synthesis estimate; place and route: make bitstream-ecp5)"
else
    echo "  verdict: does NOT fit the LFE5U-85F"
fi
