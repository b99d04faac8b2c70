#!/bin/sh
# sparq ablate end to end on a tiny setup (a few seconds): a tiny corpus from
# the real TTS engines, a tiny float model (configs/tiny.cfg, 2 steps), and
# a grid of three settings with 2 fine-tuning steps each. Checks the table,
# the JSON (fields and exact file sizes), the results file (only the text
# between the ablate markers changes), --resume, Ctrl-C, and the errors.
# Prints TAP lines. Run from the repository root with BUILD set.
set -u
BUILD=${BUILD:-build}
SPARQ=${SPARQ:-"$BUILD/sparq"}
T=$(mktemp -d /tmp/sparq_ablate_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

# JSON fields without python or jq: a 50-line cJSON reader built here.
JG="$T/json_get"
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags libcjson) -o "$JG" tests/cli/json_get.c \
    $(pkg-config --libs libcjson) || { echo "not ok 1 - build tests/cli/json_get.c"; exit 1; }
jget() { "$JG" "$@"; }
# Integer equality that fails on empty or non-numeric operands (a missing
# field must never compare equal to another missing one).
ieq() {
    case "$1$2" in *[!0-9-]* | "") echo "not integers: '$1' '$2'"; return 1 ;; esac
    [ -n "$1" ] && [ -n "$2" ] && [ "$1" -eq "$2" ] || { echo "$1 != $2"; return 1; }
}
seq_() { [ -n "$1" ] && [ "$1" = "$2" ] || { echo "'$1' != '$2'"; return 1; }; }
# |a - b| < 1e-9 with both present
feq() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(d < 1e-9 && d > -1e-9) }' ||
        { echo "$1 != $2"; return 1; }; }

"$SPARQ" data gen --out "$T/c" --hours 0.006 --dev-hours 0.002 --test-hours 0.002 --seed 5 --quiet --workers 1 \
    > "$T/gen.log" 2>&1
"$SPARQ" train --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/m" --epochs 2 --seed 3 --threads 1 \
    > "$T/train.log" 2>&1
check "tiny corpus and tiny float model for the ablation" test -s "$T/m/model.sparq" -a -s "$T/c/test.jsonl"
params=$(sed -n 's/^model: \([0-9]*\) parameters.*/\1/p' "$T/train.log")

# A results file with other sections around the markers: only the inside may change.
{
    printf '# Results\n\nOther sections are not ours.\n\n## Compression ablation\n\n'
    printf '<!-- ablate:begin -->\nold table\n<!-- ablate:end -->\n\n## Later section\n| a | b |\n'
} > "$T/results.md"
cp "$T/results.md" "$T/results.orig"
OUT="$T/out"
ab() { "$SPARQ" ablate --from "$T/m/model.sparq" --corpus "$T/c" --out "$OUT" --threads 1 --quiet "$@"; }
J="$OUT/ablate.json"

ab --steps 2 --settings float,int4-2:4,ptq-int4,mixed@25 --results "$T/results.md" > "$T/table.txt" 2> "$T/ab.log"
rc=$?
check "ablate float,int4-2:4,ptq-int4,mixed@25 exits 0" ieq "$rc" 0
check "the stdout table has 5 rows (base + 4 settings) in order" \
    seq_ "$(grep -E '^(base|float|int4-2:4|ptq-int4|mixed@25) ' "$T/table.txt" | cut -d' ' -f1 | tr '\n' ' ')" \
    'base float int4-2:4 ptq-int4 mixed@25 '
check "a progress line with elapsed time and ETA per setting" \
    ieq "$(grep -c '^ablate \[[1-5]/5\] .*test WER.*elapsed.*\(ETA\|last setting\)' "$T/ab.log")" 5
check "ablate.json parses and has 5 rows and 3 goals" sh -c "'$JG' '$J' && [ \$('$JG' '$J' rows) = 5 ] && [ \$('$JG' '$J' goals) = 3 ]"
fields() {
    for i in 0 1 2 3 4; do
        for k in name spec test_wer rel_wer_vs_float size_pct_fp32 file_bytes fp32_bytes finetune_seconds steps; do
            jget "$J" rows.$i.$k > /dev/null || return 1
        done
    done
}
check "every row has the reported fields" fields
sizes() {
    ieq "$(jget "$J" rows.2.file_bytes)" "$(stat -c %s "$OUT/int4-2of4/model.spq")" &&
    ieq "$(jget "$J" rows.3.file_bytes)" "$(stat -c %s "$OUT/ptq-int4/model.spq")" &&
    ieq "$(jget "$J" rows.1.file_bytes)" "$(stat -c %s "$OUT/float/model.spq")"
}
check "file_bytes is the exact size of each exported model file" sizes
check "fp32_bytes is 4 x the $params parameters sparq train reported" ieq "$(jget "$J" rows.2.fp32_bytes)" "$((4 * ${params:-0}))"
pct() {
    feq "$(jget "$J" rows.2.size_pct_fp32)" \
        "$(awk -v f="$(jget "$J" rows.2.file_bytes)" -v p="$(jget "$J" rows.2.fp32_bytes)" 'BEGIN { printf "%.12f", 100 * f / p }')" &&
    awk -v s="$(jget "$J" rows.2.size_pct_fp32)" -v f="$(jget "$J" rows.1.size_pct_fp32)" 'BEGIN { exit !(s > 0 && s < f / 3) }'
}
check "size % of fp32 = 100 x file_bytes / fp32_bytes; int4-2:4 under a third of float" pct
steps() {
    ieq "$(jget "$J" rows.1.steps)" 2 && ieq "$(jget "$J" rows.2.steps)" 2 && ieq "$(jget "$J" rows.3.steps)" 0 &&
    ieq "$(jget "$J" rows.0.steps)" 0 && ieq "$(wc -l < "$OUT/int4-2of4/train_log.tsv")" 2
}
check "fine-tuned rows did 2 steps, post-training and base none" steps
mixed() {
    ieq "$(jget "$J" rows.4.steps)" 2 && ieq "$(jget "$J" rows.4.search_file_bytes)" "$(jget "$J" rows.4.file_bytes)" &&
    awk -v s="$(jget "$J" rows.4.size_pct_fp32)" 'BEGIN { exit !(s > 0 && s <= 25) }' &&
    jget "$J" rows.4.spec | grep -q ',sub1_w=int8' && jget "$OUT/mixed-25/search.json" layers > /dev/null &&
    grep -q '^`mixed@25`: the search on dev took' "$T/results.md"
}
check "mixed@25: searched spec (sub1_w kept) fine-tuned, fits 25%, exported size = search's prediction" mixed
check "--keep sub1_w=int8 is appended to compressed settings, not to float" sh -c "
    [ \"\$('$JG' '$J' rows.2.spec)\" = 'int4-2:4,sub1_w=int8' ] && [ \"\$('$JG' '$J' rows.1.spec)\" = float ]"
"$SPARQ" eval --model "$OUT/int4-2of4/model.spq" --backend cpu --data "$T/c/test.jsonl" --json "$T/eval.json" > /dev/null 2>&1
same_wer() {
    seq_ "$(jget "$J" rows.2.test_wer)" "$(jget "$T/eval.json" wer.rate)" &&
    ieq "$(jget "$J" rows.2.ref_words)" "$(jget "$T/eval.json" wer.ref)" &&
    ieq "$(jget "$J" rows.2.word_errors)" \
        "$(($(jget "$T/eval.json" wer.sub) + $(jget "$T/eval.json" wer.del) + $(jget "$T/eval.json" wer.ins)))"
}
check "test WER, errors and words equal sparq eval --backend cpu on the same exported model" same_wer
rel() {
    w=$(jget "$J" rows.3.test_wer) f=$(jget "$J" rows.1.test_wer)
    feq "$(jget "$J" rows.3.rel_wer_vs_float)" "$(awk -v w="$w" -v f="$f" 'BEGIN { printf "%.12f", (w - f) / f }')"
}
check "relative WER = (WER - float WER) / float WER" rel

# The results file: the markers' content replaced, everything else byte-identical.
sed -n '1,/<!-- ablate:begin -->/p' "$T/results.orig" > "$T/head.orig"
sed -n '/<!-- ablate:end -->/,$p' "$T/results.orig" > "$T/tail.orig"
sed -n '1,/<!-- ablate:begin -->/p' "$T/results.md" > "$T/head.new"
sed -n '/<!-- ablate:end -->/,$p' "$T/results.md" > "$T/tail.new"
check "results file: text before and after the markers byte-identical" \
    sh -c "! cmp -s '$T/results.orig' '$T/results.md' && cmp '$T/head.orig' '$T/head.new' && cmp '$T/tail.orig' '$T/tail.new'"
inside() {
    ! grep -q 'old table' "$T/results.md" &&
    ieq "$(grep -cE '^\| (base|float|int4-2:4|ptq-int4|mixed@25) \|' "$T/results.md")" 5 &&
    tr '\n' ' ' < "$T/results.md" | tr -s ' ' > "$T/joined" &&
    grep -q 'Generated by `sparq ablate .*--settings float,int4-2:4,ptq-int4,mixed@25' "$T/joined" &&
    grep -q 'int4-2:4 at <= 9.4% of fp32 [^.]*: \(met\|not met\): int4-2:4 is [0-9.]*% of fp32' "$T/joined"
}
check "results file: old content gone; 5 table rows, the command line and the goals inside" inside
if command -v gnuplot > /dev/null; then
    check "ablate.png is a PNG" seq_ "$(head -c 4 "$OUT/ablate.png" | od -An -c | tr -d ' ')" '211PNG'
else
    n=$((n + 1)); echo "ok $n # skip gnuplot not installed"
fi

# --resume: finished rows are not run again; new settings are.
cp "$OUT/float/model.spq" "$T/float.spq"
ab --steps 2 --settings float,int4-2:4,ptq-int4,mixed@25,int8 --no-results --resume > "$T/table2.txt" 2> "$T/ab2.log"
rc=$?
resumed() {
    ieq "$rc" 0 && grep -q '5 of 6 settings already done' "$T/ab2.log" &&
    ! grep -qE '(base|float|int4-2:4|ptq-int4|mixed@25): (fine-tuning|export|mixed)' "$T/ab2.log" &&
    grep -q 'int8: fine-tuning' "$T/ab2.log" && cmp "$T/float.spq" "$OUT/float/model.spq" && ieq "$(jget "$J" rows)" 6
}
check "--resume with one more setting runs only that one" resumed
# --lm on --resume: the finished exports are decoded again (greedy, beam, beam + LM), nothing is fine-tuned.
# (The tiny model emits no words by itself; word bonus 5 makes the LM decode emit some, so the beam and
# beam + LM numbers differ and each is checked against sparq eval's.)
sed -n 's/.*"text":"\([^"]*\)".*/\1/p' "$T/c/train.jsonl" > "$T/lm.txt"
"$SPARQ" lm build --out "$T/lm.arpa" "$T/lm.txt" > /dev/null 2>&1
cp "$OUT/int4-2of4/model.spq" "$T/int42.spq"
ab --steps 2 --settings float,int4-2:4,ptq-int4,mixed@25,int8 --no-results --resume --lm "$T/lm.arpa" \
    --lm-weight 0.5 --word-bonus 5 > "$T/table3.txt" 2> "$T/ab3.log"
rc=$?
redecoded() {
    ieq "$rc" 0 && ieq "$(grep -c 'decoded again (beam=16 lm=.*lm_weight=0.5 word_bonus=5): beam WER' "$T/ab3.log")" 6 &&
    ! grep -qE ': (fine-tuning|export|mixed)' "$T/ab3.log" && cmp "$T/float.spq" "$OUT/float/model.spq" &&
    cmp "$T/int42.spq" "$OUT/int4-2of4/model.spq" && grep -q 'test WER.*beam WER.*+LM WER' "$T/table3.txt"
}
check "--resume --lm decodes the 6 finished exports again, fine-tunes nothing, adds beam and +LM columns" redecoded
"$SPARQ" eval --model "$OUT/int4-2of4/model.spq" --backend cpu --data "$T/c/test.jsonl" --beam 16 \
    --json "$T/eval_beam.json" > /dev/null 2>&1
"$SPARQ" eval --model "$OUT/int4-2of4/model.spq" --backend cpu --data "$T/c/test.jsonl" --lm "$T/lm.arpa" \
    --lm-weight 0.5 --word-bonus 5 --json "$T/eval_lm.json" > /dev/null 2>&1
beams_equal_eval() {
    seq_ "$(jget "$J" rows.2.test_wer_beam)" "$(jget "$T/eval_beam.json" wer.rate)" &&
    seq_ "$(jget "$J" rows.2.test_wer_beam_lm)" "$(jget "$T/eval_lm.json" wer.rate)" &&
    seq_ "$(jget "$J" rows.2.test_wer)" "$(jget "$T/eval.json" wer.rate)" &&
    ! seq_ "$(jget "$J" rows.2.test_wer_beam_lm)" "$(jget "$J" rows.2.test_wer_beam)" > /dev/null &&
    w=$(jget "$J" rows.2.test_wer_beam_lm) f=$(jget "$J" rows.1.test_wer_beam_lm) &&
    feq "$(jget "$J" rows.2.rel_wer_beam_lm_vs_float)" "$(awk -v w="$w" -v f="$f" 'BEGIN { printf "%.12f", (w - f) / f }')"
}
check "beam and beam + LM WER equal sparq eval --beam 16 / --lm on the same export; greedy unchanged; rel. vs float" \
    beams_equal_eval
ab --steps 2 --settings float,int4-2:4,ptq-int4,mixed@25,int8 --no-results --resume --lm "$T/lm.arpa" \
    --lm-weight 0.5 --word-bonus 5 > /dev/null 2> "$T/ab4.log"
check "the same --lm again decodes nothing again" sh -c "! grep -q 'decoded again' '$T/ab4.log'"
ab --steps 2 --settings float --no-results --resume --lm "$T/lm.arpa" --beam 1 > /dev/null 2> "$T/err"
rc=$?
check "--lm with --beam 1 is a usage error (exit 2, one line)" \
    sh -c "[ $rc -eq 2 ] && [ \$(wc -l < '$T/err') -eq 1 ] && grep -q 'beam' '$T/err'"
ab --steps 3 --no-results --resume > /dev/null 2> "$T/err"
rc=$?
check "--resume with other options is refused (exit 1, one line)" \
    sh -c "[ $rc -eq 1 ] && [ \$(wc -l < '$T/err') -eq 1 ] && grep -q 'other options' '$T/err'"

# Results file without markers: a new section is appended, the rest kept.
printf '# Results\n\nno markers here' > "$T/nomark.md"
cp "$T/nomark.md" "$T/nomark.orig"
ab --steps 2 --settings float,int4-2:4,ptq-int4 --resume --results "$T/nomark.md" > /dev/null 2>&1
appended() {
    head -c "$(stat -c %s "$T/nomark.orig")" "$T/nomark.md" | cmp - "$T/nomark.orig" &&
    grep -q '^## Compression ablation (sparq ablate)' "$T/nomark.md" && grep -q '^<!-- ablate:begin -->' "$T/nomark.md" &&
    grep -q '^<!-- ablate:end -->' "$T/nomark.md" && ieq "$(grep -c '^| ' "$T/nomark.md")" 5
}
check "a results file without markers gets a new section appended" appended

# Ctrl-C during a fine-tune: exit 130, its checkpoint saved, no row; --resume finishes it.
OUT="$T/out2"
# (sparq itself in the background, not the ab function: $! must be its pid)
"$SPARQ" ablate --from "$T/m/model.sparq" --corpus "$T/c" --out "$OUT" --threads 1 --quiet --settings float --steps 40 \
    --no-results > /dev/null 2> "$T/int.log" &
pid=$!
i=0
while [ $i -lt 600 ] && [ "$(cat "$OUT/float/train_log.tsv" 2> /dev/null | wc -l)" -lt 3 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -INT $pid
wait $pid
rc=$?
check "Ctrl-C during a fine-tune exits 130 and keeps its checkpoint" sh -c "
    [ $rc -eq 130 ] && [ -s '$OUT/float/last.ckpt' ] && [ \$('$JG' '$OUT/rows.json' rows) = 1 ] &&
    grep -q 'rerun with --resume' '$T/int.log'"
ab --settings float --steps 40 --no-results --resume > /dev/null 2>&1
finished() {
    ieq "$(jget "$OUT/ablate.json" rows.1.steps)" 40 && seq_ "$(jget "$OUT/ablate.json" rows.1.resumed)" true &&
    ieq "$(wc -l < "$OUT/float/train_log.tsv")" 40
}
check "--resume continues the interrupted fine-tune to exactly 40 steps" finished
# A checkpoint left by a run with other options (the stamp says --steps 40) is not continued.
rm "$OUT/rows.json"
ab --settings float --steps 5 --no-results --resume > /dev/null 2>&1
fresh() {
    ieq "$(jget "$OUT/ablate.json" rows.1.steps)" 5 && seq_ "$(jget "$OUT/ablate.json" rows.1.resumed)" false &&
    ieq "$(wc -l < "$OUT/float/train_log.tsv")" 5
}
check "--resume starts afresh where the checkpoint's options differ" fresh

# Errors: one line naming the file, exit 1; usage errors exit 2.
"$SPARQ" ablate --corpus "$T/none" --out "$T/o3" > /dev/null 2> "$T/err"
rc=$?
check "a missing corpus: one line naming train.jsonl and how to make it, exit 1" \
    sh -c "[ $rc -eq 1 ] && [ \$(wc -l < '$T/err') -eq 1 ] && grep -q '$T/none/train.jsonl.*sparq data gen' '$T/err'"
"$SPARQ" ablate --corpus "$T/c" --settings float,int5 > /dev/null 2> "$T/err"
rc=$?
check "an unknown setting is a usage error (exit 2)" sh -c "[ $rc -eq 2 ] && grep -q int5 '$T/err'"
exit $fail
