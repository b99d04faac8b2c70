#!/bin/sh
# The RTL's protocol constants (rtl/sparq_protocol.vh) are generated from the
# C header; the committed copy must equal a fresh generation, and a changed
# opcode in the header must make them differ. TAP output.
set -u
T=$(mktemp -d /tmp/sparq_protocol_vh.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

regen_matches() { # header: generate from it and compare with the committed file
    sh scripts/gen_protocol_vh.sh "$1" "$T/gen.vh" && diff -u rtl/sparq_protocol.vh "$T/gen.vh"
}
check "rtl/sparq_protocol.vh is current (regenerate: sh scripts/gen_protocol_vh.sh)" \
    regen_matches host/include/sparq_protocol.h
sed 's/^#define SPARQ_OP_READ  *0x07/#define SPARQ_OP_READ     0x17/' host/include/sparq_protocol.h > "$T/planted.h"
check "the planted header changes SPARQ_OP_READ" sh -c "! cmp -s host/include/sparq_protocol.h '$T/planted.h'"
check "a changed opcode in the header is caught" sh -c "! sh scripts/gen_protocol_vh.sh '$T/planted.h' '$T/p.vh' || ! cmp -s rtl/sparq_protocol.vh '$T/p.vh'"
check "every opcode and status in the header reaches the Verilog" sh -c \
    "[ \$(grep -c '^#define SPARQ_\(OP\|ST\)_' host/include/sparq_protocol.h) -eq \$(grep -c 'localparam \[7:0\] \(OP\|ST\)_' rtl/sparq_protocol.vh) ]"
sed '/SPARQ_MAGIC_CMD/d' host/include/sparq_protocol.h > "$T/broken.h"
check "a header without SPARQ_MAGIC_CMD is an error naming it" sh -c \
    "! sh scripts/gen_protocol_vh.sh '$T/broken.h' '$T/b.vh' 2> '$T/err' && grep -q 'MAGIC_CMD' '$T/err' && [ ! -e '$T/b.vh' ]"
echo "1..$n"
exit $fail
