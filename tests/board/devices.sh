#!/bin/sh
# `sparq devices` on a host without a board: a plain message and exit 1;
# IDs overridable from the environment; bad IDs are usage errors.
set -u
BUILD=${BUILD:-build}
S="$BUILD/sparq"
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; }

out=$("$S" devices 2>&1); rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q 'no sparq board found (looked for VID:PID 1209:0001 and bare FX2 04b4:8613)'; then
    ok "sparq devices without a board: exit 1 and '$out'"
elif [ $rc -eq 0 ]; then
    echo "# a sparq board is attached: $out"
    ok "sparq devices found a board"
else
    notok "sparq devices without a board: exit $rc, output: $out"
fi
out=$(SPARQ_USB_VID=1d50 SPARQ_USB_PID=6099 "$S" devices 2>&1); rc=$?
if [ $rc -eq 1 ] && echo "$out" | grep -q '1d50:6099'; then ok "SPARQ_USB_VID/PID change the IDs looked for"; else notok "env IDs: exit $rc: $out"; fi
out=$(SPARQ_USB_VID=nope "$S" devices 2>&1); rc=$?
if [ $rc -eq 2 ] && echo "$out" | grep -q 'SPARQ_USB_VID'; then ok "bad SPARQ_USB_VID: exit 2 naming it"; else notok "bad env: exit $rc: $out"; fi
out=$("$S" devices --pid 12345 2>&1); rc=$?
if [ $rc -eq 2 ] && echo "$out" | grep -q -- '--pid'; then ok "bad --pid: exit 2 naming it"; else notok "bad --pid: exit $rc: $out"; fi
"$S" devices --help > /dev/null 2>&1 && ok "sparq devices --help exits 0" || notok "sparq devices --help"
out=$("$S" devices --firmware /nonexistent.ihx 2>&1); rc=$?
if [ $rc -eq 1 ]; then ok "--firmware with no bare FX2 attached fails: $out"; else notok "--firmware: exit $rc: $out"; fi
echo "1..$n"
exit $fail
