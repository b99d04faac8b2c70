#!/bin/sh
# Area of one accelerator configuration from Yosys, cached (docs/explore.md).
#   explore_synth.sh CACHE_DIR FLOW ROWS COLS LANES WDEPTH XDEPTH RDEPTH [PARAM=VALUE ...]
# FLOW: generic  make synth's recipe (generic gates, memories kept as $mem cells)
#       ice40    synth_ice40 with the iCE40 board options (CNT_W 48, RQ_SERIAL 1,
#                WL_DBUF 0, CHK_REG 1: rtl/board/sparq_board_top.v)
#       ecp5     synth_ecp5 with the ULX3S options (CHK_REG 1: rtl/board/sparq_ulx3s_top.v)
# Extra PARAM=VALUE pairs (the v3 parameters XBANKS, RBUFS, WSTORE, QDEPTH,
# LUTS) are passed to sparq_top as they are.
# The top is synthesised without flattening (-noflatten, or synth's default),
# so Yosys maps each distinct module once: a 32x32 array costs about what a
# 4x4 does (1,024 instances of one PE module). The counts are the hierarchy's
# totals (stat -top); optimisation across module boundaries is not done.
# The cache file is CACHE_DIR/<hash>/<flow>_<params>.stat, where <hash>
# covers every RTL source, the protocol include and this script: a changed
# RTL file starts a new cache, an unchanged one never re-synthesises. Prints
# the path of the stat file; exit 1 with Yosys' error if synthesis fails.
set -eu
[ $# -ge 8 ] || { echo "usage: explore_synth.sh CACHE_DIR FLOW ROWS COLS LANES WDEPTH XDEPTH RDEPTH [P=V ...]" >&2; exit 2; }
dir=$1 flow=$2 rows=$3 cols=$4 lanes=$5 wd=$6 xd=$7 rd=$8
shift 8
# SPARQ_RTL_ROOT: the root of another checkout whose rtl/ to synthesise
# (explore.mk's EXPLORE_ROOT; the RTL includes "rtl/sparq_protocol.vh").
me=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cd "${SPARQ_RTL_ROOT:-.}"
srcs=$(sed 's/#.*//' rtl/sparq_top.f | tr '\n' ' ')
# shellcheck disable=SC2086
hash=$(cat $srcs rtl/sparq_protocol.vh "$me" | sha256sum | cut -c1-16)
tag="${rows}x${cols}_L${lanes}_w${wd}_x${xd}_r${rd}"
chp="-chparam ROWS $rows -chparam COLS $cols -chparam LANES $lanes -chparam WDEPTH $wd -chparam XDEPTH $xd -chparam RDEPTH $rd"
# The version-2 value of each version-3 parameter: an RTL without the
# parameter is that configuration (sparq_top.v before protocol version 3).
v2_value() { case $1 in XBANKS) echo 2 ;; RBUFS) echo 1 ;; WSTORE|LUTS) echo 0 ;; QDEPTH) echo "$cols" ;; esac; }
for p in "$@"; do
    name=${p%%=*} val=${p#*=}
    case $name in *[!A-Z_]*|'') echo "explore_synth.sh: bad parameter '$p'" >&2; exit 2 ;; esac
    case $val in *[!0-9]*|'') echo "explore_synth.sh: bad value in '$p'" >&2; exit 2 ;; esac
    if ! grep -q "parameter *$name\b" rtl/sparq_top.v; then
        [ "$val" = "$(v2_value "$name")" ] && continue
        echo "explore_synth.sh: rtl/sparq_top.v has no parameter $name (for $p)" >&2; exit 1
    fi
    tag="${tag}_${name}${val}"
    chp="$chp -chparam $name $val"
done
case $flow in
    generic) cmd="synth -top sparq_top -run begin:fine; memory -nomap; opt -fast; techmap; opt -fast; abc -fast; opt_clean" ;;
    ice40)   chp="$chp -chparam CNT_W 48 -chparam RQ_SERIAL 1 -chparam WL_DBUF 0 -chparam CHK_REG 1"
             cmd="synth_ice40 -noflatten -top sparq_top" ;;
    ecp5)    chp="$chp -chparam CHK_REG 1"
             cmd="synth_ecp5 -noflatten -top sparq_top" ;;
    *) echo "explore_synth.sh: unknown flow '$flow' (generic, ice40, ecp5)" >&2; exit 2 ;;
esac
out="$dir/$hash/${flow}_$tag.stat"
if [ -f "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$dir/$hash"
log="$dir/$hash/${flow}_$tag.log"
# shellcheck disable=SC2086
if ! nice yosys -q -l "$log" -p "read_verilog $srcs; hierarchy -top sparq_top $chp; $cmd; \
        tee -q -o $out.tmp stat -top sparq_top" > /dev/null 2>&1; then
    echo "explore_synth.sh: yosys failed for $flow $tag (log: $log):" >&2
    grep -m3 -E 'ERROR|illegal' "$log" >&2 || tail -3 "$log" >&2
    rm -f "$out.tmp"
    exit 1
fi
# Keep the totals: the "design hierarchy" block when there is one.
if grep -q '=== design hierarchy ===' "$out.tmp"; then
    sed -n '/=== design hierarchy ===/,$p' "$out.tmp" > "$out.tmp2"
else
    cp "$out.tmp" "$out.tmp2"
fi
rm -f "$out.tmp"
mv "$out.tmp2" "$out"
echo "$out"
