#!/bin/sh
# sparq transcribe on long audio (docs/runtime.md, "Long audio"): a 2-minute
# file made of synthetic test utterances, decoded in segments of 1.5..20 s
# that end at pauses. Checks the segment count, that the joined transcript
# matches decoding the utterances one by one (every window's words kept, in
# order), that a window longer than the file is the single-window decode,
# and the one-line errors (bad --window, non-finite audio). Memory is not
# measured here (tests never time themselves); see docs/runtime.md.
# Prints TAP lines. Run from the repository root with BUILD set.
set -u
BUILD=${BUILD:-build}
SPARQ=${SPARQ:-"$BUILD/sparq"}
MODEL=models/base-3h.sparq
T=$(mktemp -d /tmp/sparq_longaudio_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

fails() {
    want=$1 text=$2
    shift 2
    "$@" > "$T/out" 2> "$T/err"
    rc=$?
    lines=$(wc -l < "$T/err")
    cat "$T/err"
    [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -q -- "$text" "$T/err" ||
        { echo "status $rc (want $want), $lines stderr lines, want '$text'"; return 1; }
}

check "data gen makes about 2 minutes of test utterances" \
    "$SPARQ" data gen --out "$T/d" --hours 0.001 --dev-hours 0.001 --test-hours 0.034 --test-text-hours 0.001 \
    --seed 7 --quiet
files=$(sed 's/.*"audio_filepath":"\([^"]*\)".*/\1/' "$T/d/test.jsonl" | sed "s|^|$T/d/|" | tr "\n" " ")
check "sox joins them into one file" sox $files "$T/long.wav"
secs=$(soxi -D "$T/long.wav" | cut -d. -f1)
echo "# long.wav: $secs s"

check "transcribe --window 20 succeeds" sh -c "'$SPARQ' transcribe --model $MODEL --window 20 '$T/long.wav' \
    > '$T/long.tsv' 2> '$T/long.err'"
cat "$T/long.err"
nwin=$(sed -n 's/.*: \([0-9]*\) windows of at most 20 s$/\1/p' "$T/long.err")
# Each segment ends at the first pause 1.5 s or more into it (or, with no
# pause, in the last third of 20 s); only the last one may be shorter.
lo=$(( (secs + 19) / 20 )) hi=$(( secs * 2 / 3 + 1 ))
check "window count $nwin is between $lo and $hi for $secs s" test "${nwin:-0}" -ge "$lo" -a "${nwin:-0}" -le "$hi"

check "the utterances one by one" sh -c "'$SPARQ' transcribe --model $MODEL $files > '$T/one.tsv'"
{ printf 'all '; cut -f2 "$T/one.tsv" | tr '\n' ' '; echo; } > "$T/one.txt"
{ printf 'all '; cut -f2 "$T/long.tsv"; } > "$T/long.txt"
JG="$T/json_get"
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags libcjson) -o "$JG" tests/cli/json_get.c \
    $(pkg-config --libs libcjson) || { echo "not ok - build tests/cli/json_get.c"; exit 1; }
"$SPARQ" score --ref "$T/one.txt" --hyp "$T/long.txt" --json "$T/score.json" > "$T/score.out"
tail -1 "$T/score.out"
# The base-3h model is weak (~80% WER) and its word spacing shifts with the
# context, so characters are compared: a window's text lost or repeated
# moves the character count by its share (1/7 here) and the CER with it.
cer=$("$JG" "$T/score.json" cer.rate) refc=$("$JG" "$T/score.json" cer.ref) hypc=$("$JG" "$T/score.json" cer.hyp)
echo "# one by one $refc characters, windowed $hypc, CER between them $cer"
check "every window's text is there once: $hypc vs $refc characters" \
    test "$(( hypc * 100 / refc ))" -ge 92 -a "$(( hypc * 100 / refc ))" -le 108
# 0.35 when windows were filled to 20 s and cut in their last third (the model
# saw neighbouring utterances); segments ending at the first pause give 0.24.
check "the joined transcript agrees with one-by-one decoding (CER between them $cer < 0.30)" \
    awk -v c="${cer:-1}" 'BEGIN { exit !(c < 0.30) }'

first=${files%% *}
check "a window longer than the file decodes it in one piece, with no note" sh -c "
    '$SPARQ' transcribe --model $MODEL --window 3600 '$first' > '$T/w1' 2> '$T/w1.err' &&
    ! grep -q windows '$T/w1.err' && sed -n 1p '$T/one.tsv' | cmp - '$T/w1'"
sox "$T/long.wav" "$T/l35.wav" trim 0 35
printf '{"audio_filepath": "l35.wav", "duration": 35.0, "text": "a b c"}\n' > "$T/l35.jsonl"
check "eval warns in one line, naming the manifest, about an utterance longer than the window" sh -c "
    '$SPARQ' eval --model $MODEL --data '$T/l35.jsonl' > /dev/null 2> '$T/eval.err'; cat '$T/eval.err';
    [ \$(grep -c 'warning' '$T/eval.err') -eq 1 ] && grep -q 'l35.jsonl: 1 utterances longer than 30 s' '$T/eval.err'"
check "--window 0.5 is bad usage" fails 2 "--window" "$SPARQ" transcribe --model $MODEL --window 0.5 "$first"
check "--window junk is bad usage" fails 2 "--window" "$SPARQ" transcribe --model $MODEL --window 20x "$first"
# A 1 s float WAV whose every sample is NaN (0x7fc00000, little-endian).
sox -n -r 16000 -c 1 -e floating-point -b 32 "$T/zero.wav" trim 0 1
hdr=$(( $(stat -c %s "$T/zero.wav") - 64000 ))
{ head -c "$hdr" "$T/zero.wav"; i=0; while [ $i -lt 16000 ]; do printf '\000\000\300\177'; i=$((i + 1)); done; } > "$T/nan.wav"
check "all-NaN audio is an error naming the file and sample" \
    fails 1 "nan.wav: non-finite sample (NaN) at index 0" "$SPARQ" transcribe --model $MODEL "$T/nan.wav"
echo "1..$n"
exit $fail
