#!/bin/sh
# Writes the protocol constants the RTL uses (opcodes, status codes, magic
# bytes, CRC start value, reply sizes, IDENTIFY offsets and caps bits, the
# epilogue's table-less code and cycles) from the C header, the one source of
# truth, as Verilog localparams. tests/rtl/protocol.sh checks the committed
# file is current.
#   sh scripts/gen_protocol_vh.sh [header [output]]
set -eu
in=${1:-host/include/sparq_protocol.h}
out=${2:-rtl/sparq_protocol.vh}
[ -r "$in" ] || { echo "gen_protocol_vh: cannot read $in" >&2; exit 1; }
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
sp='[[:space:]]'
{
    echo "// Generated from host/include/sparq_protocol.h by scripts/gen_protocol_vh.sh; do not edit."
    echo "// Included inside each module that needs it (localparams, hence no include guard)."
    echo "/* verilator lint_off UNUSEDPARAM */"
    sed -n -E \
        -e "s/^#define${sp}+SPARQ_(PROTO_VERSION(_MIN)?)${sp}+([0-9]+)(${sp}.*)?\$/localparam [7:0] \\1 = 8'd\\3;/p" \
        -e "s/^#define${sp}+SPARQ_(MAGIC_[A-Z]+|OP_[A-Z0-9_]+|ST_[A-Z0-9_]+|CAP_[A-Z0-9_]+|LUT_NONE)${sp}+0x([0-9A-Fa-f]{2})(${sp}.*)?\$/localparam [7:0] \\1 = 8'h\\2;/p" \
        -e "s/^#define${sp}+SPARQ_(CRC16_INIT)${sp}+0x([0-9A-Fa-f]{4})(${sp}.*)?\$/localparam [15:0] \\1 = 16'h\\2;/p" \
        -e "s/^#define${sp}+SPARQ_(IDENTIFY_BYTES(_V1|_V3)?|COUNTERS_BYTES|ID_[A-Z]+|EPILOGUE_CYCLES)${sp}+([0-9]+)(${sp}.*)?\$/localparam integer \\1 = \\3;/p" \
        "$in"
    echo "/* verilator lint_on UNUSEDPARAM */"
} > "$tmp"
for want in PROTO_VERSION PROTO_VERSION_MIN MAGIC_CMD MAGIC_REPLY CRC16_INIT OP_IDENTIFY ST_OK IDENTIFY_BYTES \
            IDENTIFY_BYTES_V1 IDENTIFY_BYTES_V3 COUNTERS_BYTES ID_LANES ID_XBANKS ID_CAPS CAP_STORE CAP_EPILOGUE \
            CAP_RBUF2 LUT_NONE EPILOGUE_CYCLES OP_STORE_W OP_COMPUTE_S OP_WRITE_LUT OP_EPILOGUE; do
    grep -q " $want = " "$tmp" || { echo "gen_protocol_vh: $in: no SPARQ_$want in the expected form" >&2; exit 1; }
done
mv "$tmp" "$out"
