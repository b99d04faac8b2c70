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
# version 2 adds IDENTIFY lanes (a one-lane device answers as version 1), version 3 the fields
# from xbanks on (rtl/sparq_ctrl_reply.v picks the version from the features it was built with)
check "the Verilog has the IDENTIFY lengths of versions 1, 2 and 3" sh -c \
    "grep -q 'PROTO_VERSION_MIN = 8.d1;' rtl/sparq_protocol.vh && grep -q 'IDENTIFY_BYTES_V3 = 42;' rtl/sparq_protocol.vh &&
     grep -q 'ID_XBANKS = 26;' rtl/sparq_protocol.vh && grep -q 'IDENTIFY_BYTES_V1 = 24;' rtl/sparq_protocol.vh"
check "the Verilog has the version-3 opcodes, caps bits and epilogue constants" sh -c \
    "grep -q 'OP_EPILOGUE = 8.h0C;' rtl/sparq_protocol.vh && grep -q 'CAP_RBUF2 = 8.h04;' rtl/sparq_protocol.vh &&
     grep -q 'LUT_NONE = 8.hFF;' rtl/sparq_protocol.vh && grep -q 'ID_CAPS = 38;' rtl/sparq_protocol.vh"
check "IDENTIFY lanes follows the version-1 body (SPARQ_ID_LANES == SPARQ_IDENTIFY_BYTES_V1)" sh -c \
    "grep -q '^#define SPARQ_ID_LANES  *24 ' host/include/sparq_protocol.h"
sed '/SPARQ_MAGIC_CMD/d' host/include/sparq_protocol.h > "$T/broken.h"
check "a header without SPARQ_MAGIC_CMD is an error naming it" sh -c \
    "! sh scripts/gen_protocol_vh.sh '$T/broken.h' '$T/b.vh' 2> '$T/err' && grep -q 'MAGIC_CMD' '$T/err' && [ ! -e '$T/b.vh' ]"
echo "1..$n"
exit $fail
