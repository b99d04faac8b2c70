#!/bin/sh
# `sparq devices` on a host without a board: a plain message and exit 1;
# IDs overridable from the environment; bad IDs are usage errors.
set -u
BUILD=${BUILD:-build}
S="$BUILD/sparq"
T=$(mktemp -d /tmp/sparq_devices.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

expect() { # exit status, pattern the output must contain ("" for any), command...
    want=$1
    pat=$2
    shift 2
    out=$("$@" 2>&1)
    rc=$?
    echo "exit $rc: $out"
    [ "$rc" -eq "$want" ] && { [ -z "$pat" ] || echo "$out" | grep -q -- "$pat"; }
}
no_board() {
    if "$S" devices > "$T/found" 2>&1; then
        echo "# a sparq board is attached: $(cat "$T/found")" >&3
        return 0
    fi
    expect 1 'no sparq board found (looked for VID:PID 1209:0001 and bare FX2 04b4:8613)' "$S" devices
}
check "sparq devices without a board: exit 1 naming the IDs looked for" no_board 3>&1
check "SPARQ_USB_VID/PID change the IDs looked for" expect 1 '1d50:6099' env SPARQ_USB_VID=1d50 SPARQ_USB_PID=6099 "$S" devices
check "bad SPARQ_USB_VID: exit 2 naming it" expect 2 'SPARQ_USB_VID' env SPARQ_USB_VID=nope "$S" devices
check "bad --pid: exit 2 naming it" expect 2 '--pid' "$S" devices --pid 12345
check "sparq devices --help exits 0" expect 0 '' "$S" devices --help
check "--firmware with no bare FX2 attached fails" expect 1 '' "$S" devices --firmware /nonexistent.ihx
echo "1..$n"
exit $fail
