#!/bin/sh
# sparq explore (docs/explore.md): a small sweep of the base model on a few synthetic
# utterances, checked four ways.
#  1. The plan of the default configuration (16x16, 4 lanes) equals what `sparq eval
#     --backend ref` measures decoding the same utterances one per batch: busy cycles from
#     the device's counters, bytes from the wire.
#  2. Each small configuration of explore.mk's XCHECK_CFGS, built with Verilator, runs GEMM
#     calls whose busy/MAC counters and wire bytes equal the model device's
#     (tests/explore/xcheck.c; built by make test).
#  3. Area: the real synthesis script with a stand-in `yosys` on PATH (the real one takes
#     minutes): a second sweep re-synthesises nothing, a changed RTL file everything; a
#     stand-in script's areas give the FPGA fits and the Pareto front expected.
#  4. Bad input: one line naming the flag, exit 2.
# Prints TAP lines. Run from the repository root with BUILD set.
set -u
BUILD=${BUILD:-build}
SPARQ=${SPARQ:-"$BUILD/sparq"}
T=$(mktemp -d /tmp/sparq_explore_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

JG="$T/json_get"
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags libcjson) -o "$JG" tests/cli/json_get.c \
    $(pkg-config --libs libcjson) || { echo "not ok - build tests/cli/json_get.c"; exit 1; }

check "data gen: a few test utterances" "$SPARQ" data gen --out "$T/d" --hours 0.001 --dev-hours 0.001 \
    --test-hours 0.003 --seed 11 --quiet --workers 1
check "export the base model int4 2:4" sh -c "'$SPARQ' export --model models/base.sparq \
    --compress 'int4-2:4,sub1_w=int8' --out '$T/m.spq' > /dev/null"
nutt=$(wc -l < "$T/d/test.jsonl")
echo "# $nutt test utterances"

# --- 1. the plan equals a measured decode ------------------------------------------------
check "explore: 2 arrays x 2 lane counts, no area" sh -c "'$SPARQ' explore --model '$T/m.spq' \
    --data '$T/d/test.jsonl' --out '$T/e' --array 4x4,16x16 --lanes 1,4 --readout i32 > '$T/e.out'"
sed -n '2,6p' "$T/e.out" | sed 's/^/# /'
check "table, JSON and plot data written" test -s "$T/e/explore.txt" -a -s "$T/e/explore.json" -a -f "$T/e/pareto.dat"
label=$("$JG" "$T/e/explore.json" points.3.label)
check "point 3 is the default configuration ($label)" test "$label" = "16x16 L4 w1k x4k r256 xb4 rb2 s256k q16k t16"
# one utterance per batch: --batch-frames below every utterance's length; the front-end
# on the device, as explore plans it
check "eval --backend ref:i32, one utterance per batch" sh -c "'$SPARQ' eval --model '$T/m.spq' \
    --backend ref:i32 --frontend device --data '$T/d/test.jsonl' --batch-frames 100 --report '$T/r.json' > '$T/r.out'"
mb=$("$JG" "$T/r.json" total.busy_cycles) mw=$("$JG" "$T/r.json" total.link_bytes)
eb=$("$JG" "$T/e/explore.json" points.3.busy_cycles) ew=$("$JG" "$T/e/explore.json" points.3.link_bytes)
echo "# measured on ref: busy $mb, wire bytes $mw; explore's plan: busy $eb, bytes $ew"
check "explore's busy cycles equal the measured decode's ($eb vs $mb)" test "$eb" = "$mb" -a -n "$mb"
check "explore's link bytes equal the measured wire bytes ($ew vs $mw)" test "$ew" = "$mw" -a -n "$mw"
# Bytes by kind (sparq_device_wire.h): explore's add up to its link bytes and equal the measured ones.
ksum=0 same=1
for k in weights act_in results overhead; do
    ek=$("$JG" "$T/e/explore.json" "points.3.bytes_by_kind.$k") mk=$("$JG" "$T/r.json" "total.bytes_by_kind.$k")
    echo "# $k: explore $ek, measured $mk"
    ksum=$(awk -v a="$ksum" -v b="$ek" 'BEGIN { printf "%.0f", a + b }')
    [ -n "$ek" ] && [ "$ek" = "$mk" ] || same=0
done
check "explore's bytes by kind add up to its link bytes ($ksum vs $ew)" test "$ksum" = "$ew"
check "explore's bytes by kind equal the measured decode's, kind by kind" test "$same" = 1
# --frontend host (as eval's): the subsampling matmuls leave the device numbers; the plan still
# equals a measured decode with the same placement, and moves fewer bytes.
check "explore --frontend host on the default configuration" sh -c "'$SPARQ' explore --model '$T/m.spq' \
    --data '$T/d/test.jsonl' --out '$T/eh' --array 16x16 --lanes 4 --readout i32 --frontend host > '$T/eh.out'"
check "eval --backend ref:i32 --frontend host, one utterance per batch" sh -c "'$SPARQ' eval --model '$T/m.spq' \
    --backend ref:i32 --frontend host --data '$T/d/test.jsonl' --batch-frames 100 --report '$T/rh.json' > '$T/rh.out'"
hb=$("$JG" "$T/eh/explore.json" points.0.busy_cycles) hw=$("$JG" "$T/eh/explore.json" points.0.link_bytes)
mhb=$("$JG" "$T/rh.json" total.busy_cycles) mhw=$("$JG" "$T/rh.json" total.link_bytes)
check "explore --frontend host: busy $hb, bytes $hw == measured ($mhb, $mhw), fewer bytes than on the device ($ew)" \
    sh -c "test '$hb' = '$mhb' -a '$hw' = '$mhw' -a -n '$hw' && test '$hw' -lt '$ew'"
# Sanity of the sweep itself: a smaller array needs more busy cycles; FT601 is never slower.
b0=$("$JG" "$T/e/explore.json" points.1.busy_cycles)
check "4x4 takes more busy cycles than 16x16 ($b0 > $eb)" awk -v a="$b0" -v b="$eb" 'BEGIN { exit !(a > b) }'
fx=$("$JG" "$T/e/explore.json" points.3.clocks.0.links.0.rtf) ft=$("$JG" "$T/e/explore.json" points.3.clocks.0.links.1.rtf)
check "FT601's RTF <= FX2's ($ft <= $fx)" awk -v a="$ft" -v b="$fx" 'BEGIN { exit !(a <= b) }'

# A configuration the driver cannot run the model on is an answer, not an error.
check "explore: xdepth 32 (too small for a 144-channel layer) next to 4096" sh -c "'$SPARQ' explore \
    --model '$T/m.spq' --data '$T/d/test.jsonl' --out '$T/i' --array 8x4 --xdepth 32,4096 > '$T/i.out'"
why=$("$JG" "$T/i/explore.json" points.0.infeasible)
check "  ... marked infeasible ($why), the other planned" sh -c "echo '$why' | grep -q 'buffers too small' &&
    '$JG' '$T/i/explore.json' points.1.busy_cycles > /dev/null"

# --- 2. the Verilator builds of small configurations ---------------------------------------
for x in "$BUILD"/explore/xcheck/*/xcheck; do
    [ -x "$x" ] || continue
    cfg=$(basename "$(dirname "$x")")
    # shellcheck disable=SC2046
    "$x" $(echo "$cfg" | tr '_' ' ') > "$T/x.out" 2>&1
    rc=$?
    grep -E '^(# |not ok)' "$T/x.out"
    check "xcheck $cfg: $(grep -c '^ok' "$T/x.out") checks, model device == Verilator" test "$rc" -eq 0
done
[ -n "$(ls "$BUILD"/explore/xcheck/*/xcheck 2>/dev/null)" ] ||
    check "xcheck builds exist (make test builds them: explore.mk)" false

# --- 3. area: cache, fits, Pareto -------------------------------------------------------
# A stand-in yosys: writes the stat file the script asks for (tee -q -o FILE stat) with
# counts that grow with ROWS*COLS, and counts its runs.
mkdir -p "$T/bin"
cat > "$T/bin/yosys" <<'EOF'
#!/bin/sh
echo run >> "$YOSYS_RUNS"
p=$(printf '%s\n' "$@" | grep 'tee -q -o')
f=$(echo "$p" | sed 's/.*tee -q -o \([^ ]*\) stat.*/\1/')
r=$(echo "$p" | sed 's/.*-chparam ROWS \([0-9]*\).*/\1/') c=$(echo "$p" | sed 's/.*-chparam COLS \([0-9]*\).*/\1/')
printf '=== design hierarchy ===\n   Number of cells: %d\n     SB_LUT4 %d\n     SB_DFF %d\n     SB_RAM40_4K 4\n' \
    $((r * c * 100)) $((r * c * 100)) $((r * c * 50)) > "$f"
EOF
chmod +x "$T/bin/yosys"
export YOSYS_RUNS="$T/runs"
: > "$YOSYS_RUNS"
run_synth() {
    PATH="$T/bin:$PATH" "$SPARQ" explore --model "$T/m.spq" --data "$T/d/test.jsonl" --out "$T/s" \
        --array 4x4,8x8 --synth ice40 --cache "$T/cache" "$@" > "$T/s.out" 2> "$T/s.err"
}
check "explore --synth ice40 with the real script" run_synth
check "  ... ran yosys once per configuration (2)" test "$(wc -l < "$YOSYS_RUNS")" -eq 2
lut=$("$JG" "$T/s/explore.json" points.1.area.ice40_lut4)
check "  ... and read its counts (8x8: $lut LUT4)" test "$lut" = 6400
: > "$YOSYS_RUNS"
check "the same sweep again" run_synth
check "  ... took every area from the cache (0 yosys runs)" test "$(wc -l < "$YOSYS_RUNS")" -eq 0
mkdir -p "$T/root"; cp -r rtl "$T/root/"; echo "// changed" >> "$T/root/rtl/sparq_pe.v"
export SPARQ_RTL_ROOT="$T/root"
check "the same sweep on a changed RTL file" run_synth
unset SPARQ_RTL_ROOT
check "  ... re-synthesised both configurations" test "$(wc -l < "$YOSYS_RUNS")" -eq 2
h=$("$JG" "$T/s/explore.json" points.0.area.fits.HX8K) h8=$("$JG" "$T/s/explore.json" points.1.area.fits.HX8K)
check "4x4 (1,600 LUT4) fits the HX8K, 8x8 (6,400 LUT4) too, by the counts given ($h, $h8)" \
    test "$h" = true -a "$h8" = true

# Fits and the front from a stand-in script: areas picked so that 4x4 L1 is dominated
# (4x4 L4 is smaller and faster), 16x16 L1 too (16x16 L4 is smaller and, link-bound on
# the FX2, exactly as fast: a tie in RTF still dominates), 4x4 L4 and 16x16 L4 on the front.
cat > "$T/area.sh" <<'EOF'
#!/bin/sh
# explore_synth.sh's interface: CACHE FLOW ROWS COLS LANES WDEPTH XDEPTH RDEPTH
f="$1/$2_$3x$4_L$5.stat"; mkdir -p "$1"
if [ "$5" = 1 ]; then lut=80000 mult=$(( $3 * $4 * 2 )); else lut=$(( $3 * $4 * 300 )) mult=$(( $3 * $4 )); fi
case $2 in
    ice40) printf 'Number of cells: 1\nSB_LUT4 %d\nSB_DFF 100\nSB_RAM40_4K 8\n' "$lut" > "$f" ;;
    ecp5)  printf 'Number of cells: 1\nLUT4 %d\nTRELLIS_FF 100\nDP16KD 8\nMULT18X18D %d\n' "$lut" "$mult" > "$f" ;;
esac
echo "$f"
EOF
check "explore with a stand-in area script" sh -c "'$SPARQ' explore --model '$T/m.spq' --data '$T/d/test.jsonl' \
    --out '$T/f' --array 4x4,16x16 --lanes 1,4 --synth ice40,ecp5 --script '$T/area.sh' --cache '$T/c2' > '$T/f.out'"
j="$T/f/explore.json"
fits() { echo "$("$JG" "$j" "points.$1.area.fits.HX8K") $("$JG" "$j" "points.$1.area.fits.UP5K") $("$JG" "$j" "points.$1.area.fits.ECP5-85F")"; }
check "4x4 L4 (4,800 LUT4, 16 MULT): fits HX8K, UP5K, ECP5 ($(fits 1))" test "$(fits 1)" = "true true true"
check "16x16 L4 (76,800 LUT4, 256 MULT): fits none ($(fits 3))" test "$(fits 3)" = "false false false"
check "4x4 L1 (80,000 LUT4): ECP5 only ($(fits 0))" test "$(fits 0)" = "false false true"
p0=$("$JG" "$j" points.0.clocks.0.links.0.pareto) p1=$("$JG" "$j" points.1.clocks.0.links.0.pareto)
p2=$("$JG" "$j" points.2.clocks.0.links.0.pareto) p3=$("$JG" "$j" points.3.clocks.0.links.0.pareto)
r2=$("$JG" "$j" points.2.clocks.0.links.0.rtf) r3=$("$JG" "$j" points.3.clocks.0.links.0.rtf)
echo "# FX2 RTF 16x16 L1 $r2, L4 $r3"
check "Pareto (FX2): 4x4 L1 and 16x16 L1 dominated, 4x4 L4 and 16x16 L4 on the front ($p0 $p2 $p1 $p3)" \
    test "$p0 $p2 $p1 $p3" = "false false true true"
check "pareto.dat has one line per configuration" test "$(grep -vc '^#' "$T/f/pareto.dat")" -eq 4
if command -v gnuplot > /dev/null; then
    check "gnuplot draws the front" gnuplot -e "dat='$T/f/pareto.dat'; out='$T/f/p.png'" scripts/explore_pareto.gp
    check "  ... into a PNG" test -s "$T/f/p.png"
fi

# --- 4. bad input ------------------------------------------------------------------------------
refuses() {
    text=$1; shift
    "$SPARQ" explore --model "$T/m.spq" --data "$T/d/test.jsonl" --out "$T/b" "$@" > /dev/null 2> "$T/err"
    rc=$?
    check "refused: $* ($(head -1 "$T/err"))" sh -c "test $rc -eq 2 && test \$(wc -l < '$T/err') -eq 1 && grep -q -- '$text' '$T/err'"
}
refuses "rows 3" --array 3x4
refuses "rdepth 8" --array 16x16 --rdepth 8
refuses "lanes 2" --lanes 2
refuses "--link" --link FX2
refuses "unknown flow" --synth vivado
refuses "--readout" --readout q4
refuses "--frontend" --frontend gpu
refuses "--out: .*not a directory" --out "$T/m.spq"
exit $fail
