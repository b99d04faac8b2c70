#!/bin/sh
# sparq eval --frontend device|host|auto (docs/runtime.md, issue 16): the base model exported
# int4 2:4 decodes a few synthetic utterances on the C device model with the front-end on the
# device and on the host: the same transcripts; on the host the three subsampling matmuls move
# no link bytes and report CPU seconds; the report's bytes by kind add up to the link bytes in
# the JSON (total and per layer) and equal the model's ("equal, kind by kind"); a bad placement
# is one line naming the flag, exit 2.
# Prints TAP lines. Run from the repository root with BUILD set.
set -u
BUILD=${BUILD:-build}
SPARQ=${SPARQ:-"$BUILD/sparq"}
T=$(mktemp -d /tmp/sparq_frontend_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

JG="$T/json_get"
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags libcjson) -o "$JG" tests/cli/json_get.c \
    $(pkg-config --libs libcjson) || { echo "not ok - build tests/cli/json_get.c"; exit 1; }

check "data gen: a few test utterances" "$SPARQ" data gen --out "$T/d" --hours 0.001 --dev-hours 0.001 \
    --test-hours 0.002 --seed 7 --quiet --workers 1
check "export the base model int4 2:4" sh -c "'$SPARQ' export --model models/base.sparq \
    --compress 'int4-2:4,sub1_w=int8' --out '$T/m.spq' > /dev/null"
for fe in device host auto; do
    check "eval --backend ref --frontend $fe" sh -c "'$SPARQ' eval --model '$T/m.spq' --backend ref \
        --frontend $fe --data '$T/d/test.jsonl' --hyp '$T/hyp-$fe.txt' --report '$T/r-$fe.json' > '$T/e-$fe.out'"
done
check "the same transcripts with the front-end on the device and on the host" cmp "$T/hyp-device.txt" "$T/hyp-host.txt"
check "auto: the same transcripts" cmp "$T/hyp-device.txt" "$T/hyp-auto.txt"
hd=$("$JG" "$T/r-device.json" total.host_matmuls) hh=$("$JG" "$T/r-host.json" total.host_matmuls)
check "host matmuls: device $hd, host $hh" test "$hd" = 0 -a "$hh" = 3
bd=$("$JG" "$T/r-device.json" total.link_bytes) bh=$("$JG" "$T/r-host.json" total.link_bytes)
echo "# link bytes: front-end on the device $bd, on the host $bh"
check "the host front-end moves fewer link bytes ($bh < $bd)" awk -v a="$bh" -v b="$bd" 'BEGIN { exit !(a < b) }'
nl=$("$JG" "$T/r-host.json" layers) ok=1 hosts=0
i=0
while [ "$i" -lt "$nl" ]; do
    name=$("$JG" "$T/r-host.json" "layers.$i.name") place=$("$JG" "$T/r-host.json" "layers.$i.placement")
    lb=$("$JG" "$T/r-host.json" "layers.$i.link_bytes")
    s=0
    for k in weights act_in results overhead; do
        s=$(awk -v a="$s" -v b="$("$JG" "$T/r-host.json" "layers.$i.bytes_by_kind.$k")" 'BEGIN { printf "%.0f", a + b }')
    done
    [ "$s" = "$lb" ] || { echo "# $name: kinds sum $s, link bytes $lb"; ok=0; }
    if [ "$place" = host ]; then
        hosts=$((hosts + 1))
        [ "$lb" = 0 ] || ok=0
        cpu=$("$JG" "$T/r-host.json" "layers.$i.host_seconds_cpu")
        awk -v c="$cpu" 'BEGIN { exit !(c > 0) }' || { echo "# $name: host_seconds_cpu $cpu"; ok=0; }
    fi
    i=$((i + 1))
done
check "per layer: bytes by kind add up to the link bytes; the $hosts host layers move none and took CPU time" \
    test "$ok" = 1 -a "$hosts" = 3
for fe in device host; do
    s=0
    for k in weights act_in results overhead; do
        s=$(awk -v a="$s" -v b="$("$JG" "$T/r-$fe.json" "total.bytes_by_kind.$k")" 'BEGIN { printf "%.0f", a + b }')
    done
    lb=$("$JG" "$T/r-$fe.json" total.link_bytes)
    check "front-end $fe: total bytes by kind $s == link bytes $lb" test "$s" = "$lb"
    check "front-end $fe: model check equal, kind by kind" grep -q "equal, kind by kind" "$T/e-$fe.out"
done
check "host line: CPU seconds and the whole model's RTF" grep -q "^host: 3 matmuls on the host" "$T/e-host.out"
# The pipelined decode (sparq_runtime_decode): serial and overlapped, two OpenMP threads, small
# batches: the same transcripts as above and the same report apart from host timings; the whole
# model's stages add up and the overlapped time is at most the serial one.
for p in serial overlap; do
    check "eval --pipeline $p --threads 2" sh -c "'$SPARQ' eval --model '$T/m.spq' --backend ref --frontend host \
        --threads 2 --batch-frames 300 --pipeline $p --data '$T/d/test.jsonl' --hyp '$T/hyp-p-$p.txt' \
        --report '$T/r-p-$p.json' > '$T/e-p-$p.out'"
done
check "pipeline serial and overlapped: the same transcripts as the default decode" sh -c \
    "cmp '$T/hyp-host.txt' '$T/hyp-p-serial.txt' && cmp '$T/hyp-host.txt' '$T/hyp-p-overlap.txt'"
check "pipeline serial and overlapped: the same report JSON apart from host_seconds keys" sh -c \
    "grep -v host_seconds '$T/r-p-serial.json' > '$T/ps' && grep -v host_seconds '$T/r-p-overlap.json' > '$T/po' &&
     cmp '$T/ps' '$T/po'"
for p in serial overlap; do
    v() { "$JG" "$T/r-p-$p.json" "total.$1"; }
    nb=$(v host_seconds_whole_batches) ok=1
    for k in 0 1; do
        awk -v s="$(v host_seconds_whole_serial_link$k)" -v o="$(v host_seconds_whole_overlapped_link$k)" \
            -v f="$(v host_seconds_stage_frontend)" -v e="$(v host_seconds_stage_encoder)" \
            -v d="$(v host_seconds_stage_decode)" -v x="$(v host_seconds_whole_device_link$k)" \
            'BEGIN { t = f + e + d + x; exit !(s - t < 1e-6 * t && t - s < 1e-6 * t && o <= s * (1 + 1e-9) &&
                     o >= (x + e) * (1 - 1e-9) && o >= (f + d) * (1 - 1e-9)) }' || ok=0
    done
    check "pipeline $p ($nb batches): serial = front-end + encoder host + decode + device, overlapped in bounds" \
        test "$ok" = 1 -a "$nb" -gt 1
done
check "the whole model's line, serial and overlapped" grep -q "^whole model on a board" "$T/e-p-overlap.out"
"$SPARQ" eval --model "$T/m.spq" --backend ref --pipeline sideways --data "$T/d/test.jsonl" > "$T/badp.out" 2> "$T/badp.err"
rc=$?
check "--pipeline sideways: exit 2, one line naming the flag" sh -c "test $rc = 2 && test \$(wc -l < '$T/badp.err') = 1 &&
    grep -q -- '--pipeline' '$T/badp.err'"
"$SPARQ" eval --model "$T/m.spq" --backend ref --frontend gpu --data "$T/d/test.jsonl" > "$T/bad.out" 2> "$T/bad.err"
rc=$?
check "--frontend gpu: exit 2, one line naming the flag" sh -c "test $rc = 2 && test \$(wc -l < '$T/bad.err') = 1 &&
    grep -q -- '--frontend' '$T/bad.err'"
exit $fail
