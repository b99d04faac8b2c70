#!/bin/sh
# `sparq devices --program`: runs iceprog or openFPGALoader from PATH (fake
# tools here) with the image, and fails with one clear line when the image,
# the tool or the board is missing.
set -u
BUILD=${BUILD:-build}
S="$(pwd)/$BUILD/sparq"
T=$(mktemp -d /tmp/sparq_program.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

mkdir -p "$T/good" "$T/bad" "$T/empty"
for tool in iceprog openFPGALoader; do
    printf '#!/bin/sh\necho "$0 $*" > "%s/called"\n' "$T" > "$T/good/$tool"
    printf '#!/bin/sh\necho "Can'"'"'t find iCE FTDI USB device" >&2\nexit 2\n' > "$T/bad/$tool"
done
chmod +x "$T/good/"* "$T/bad/"*
printf 'bitstream' > "$T/image.bin"

expect() { # exit status, pattern, command...
    want=$1
    pat=$2
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    echo "exit $rc: $out"
    [ "$rc" -eq "$want" ] && echo "$out" | grep -q -- "$pat"
}
called() { # what the fake tool was given
    rm -f "$T/called"
    expect 0 "programmed" "$@" && grep -q -- "$PAT" "$T/called" && cat "$T/called"
}
PAT="good/iceprog $T/image.bin"
check "iceprog is run with the image" called env PATH="$T/good" "$S" devices --program "$T/image.bin"
PAT="good/openFPGALoader -b icebreaker $T/image.bin"
check "--tool openFPGALoader --board passes -b" called env PATH="$T/good" "$S" devices --program "$T/image.bin" \
    --tool openFPGALoader --board icebreaker
check "no tool on PATH: says what to install" expect 1 'no programming tool on PATH' \
    env PATH="$T/empty" "$S" devices --program "$T/image.bin"
check "the tool finds no board: exit 1, asks about the board" expect 1 'iceprog failed (exit status 2): is a board' \
    env PATH="$T/bad" "$S" devices --program "$T/image.bin"
check "a missing image is named" expect 1 "--program $T/none.bin" env PATH="$T/good" "$S" devices --program "$T/none.bin"
check "--tool must be iceprog or openFPGALoader" expect 2 "--tool 'vivado'" "$S" devices --program "$T/image.bin" --tool vivado
echo "1..$n"
exit $fail
