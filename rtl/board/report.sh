#!/bin/sh
# Summarises a nextpnr-ice40 run: logic cells, flip-flops, block RAMs, DSPs
# and the Fmax of the IFCLK domain. Usage: report.sh BUILD_DIR TARGET SIZE FREQ
set -eu
dir=$1; target=$2; size=$3; freq=$4
log="$dir/${target}_nextpnr.log"
ylog="$dir/${target}_yosys.log"
util() { grep -E "^Info:[[:space:]]+$1:" "$log" | tail -1 | sed -E 's/^Info:[[:space:]]+[A-Z_0-9]+:[[:space:]]+//; s/ +/ /g'; }
# flip-flops from the last statistics block of the Yosys log
ffs=$(awk '/Number of cells/{s=0} /SB_DFF/{s+=$2} END{print s+0}' "$ylog")
fmax=$(grep -E "Max frequency for clock" "$log" | tail -1 | sed -E 's/.*: ([0-9.]+) MHz.*/\1/')
printf '%-6s array %-6s LCs %-18s FFs %-6s BRAM %-10s DSP %-8s Fmax %s MHz (target %s MHz)\n' \
  "$target" "$size" "$(util ICESTORM_LC)" "$ffs" "$(util ICESTORM_RAM)" "$(util ICESTORM_DSP)" \
  "${fmax:-?}" "$freq" | tee "$dir/${target}_summary.txt"
