#!/bin/sh
# make bitstream-ecp5: synthesis (make synth-ecp5), then nextpnr-ecp5 and
# ecppack for the ULX3S-85F if they are on PATH. Debian 12 packages neither
# (prjtrellis is missing): then this says which is missing and exits 2, a
# plain failure rather than a silent skip. Usage: bitstream_ecp5.sh DIR TAG SYNTH_CMD
set -u
dir=$1; tag=$2; synth=$3
missing=""
for t in nextpnr-ecp5 ecppack; do
    command -v "$t" > /dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
    echo "bitstream-ecp5: not on PATH:$missing (prjtrellis + nextpnr-ecp5; Debian 12 has neither)."
    echo "  Install them (e.g. the YosysHQ oss-cad-suite) or build from source; 'make synth-ecp5' works without."
    exit 2
fi
$synth || exit 1
nextpnr-ecp5 --85k --package CABGA381 --lpf rtl/board/sparq_ulx3s.lpf --freq 60 --json "$dir/ulx3s_$tag.json" \
    --textcfg "$dir/ulx3s_$tag.config" -l "$dir/ulx3s_${tag}_nextpnr.log" || {
    echo "bitstream-ecp5: nextpnr-ecp5 failed (log: $dir/ulx3s_${tag}_nextpnr.log)"
    exit 1
}
ecppack --compress "$dir/ulx3s_$tag.config" "$dir/ulx3s.bit" || exit 1
grep -E "Max frequency for clock|TRELLIS_SLICE|DP16KD|MULT18X18D" "$dir/ulx3s_${tag}_nextpnr.log" | tail -6
echo "bitstream-ecp5: $dir/ulx3s.bit (program: openFPGALoader -b ulx3s $dir/ulx3s.bit)"
