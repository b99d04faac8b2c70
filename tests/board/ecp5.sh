#!/bin/sh
# The ECP5 flow's "missing tool" path (rtl/board/bitstream_ecp5.sh, run by
# `make bitstream-ecp5`): Debian 12 has no nextpnr-ecp5 and no ecppack, and
# the target must say which one is missing and fail (exit 2) before any
# synthesis starts. Synthesis itself (`make synth-ecp5`, minutes) is not run
# here. PATH is narrowed to a folder holding only the tools we pretend to have.
set -u
T=$(mktemp -d /tmp/sparq_ecp5.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib
SH=$(command -v sh)

missing() { # tools present..., then --, then the expected message
    rm -rf "$T/bin"
    mkdir -p "$T/bin"
    while [ "$1" != "--" ]; do
        printf '#!%s\nexit 0\n' "$SH" > "$T/bin/$1"
        chmod +x "$T/bin/$1"
        shift
    done
    shift
    out=$(PATH="$T/bin" "$SH" rtl/board/bitstream_ecp5.sh "$T" tag "echo SYNTH-RAN" 2>&1)
    rc=$?
    echo "exit $rc: $out"
    [ $rc -eq 2 ] && echo "$out" | grep -q "$1" && ! echo "$out" | grep -q SYNTH-RAN
}
check "neither tool: names both, exits 2, no synthesis" missing -- "not on PATH: nextpnr-ecp5 ecppack"
check "ecppack only: names nextpnr-ecp5" missing ecppack -- "not on PATH: nextpnr-ecp5 (prjtrellis"
check "nextpnr-ecp5 only: names ecppack" missing nextpnr-ecp5 -- "not on PATH: ecppack (prjtrellis"
echo "1..$n"
exit $fail
