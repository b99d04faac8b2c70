#!/bin/sh
# make ablate: the paper's grid on a corpus. For each compression setting:
# fine-tune the base model for $STEPS steps with simulated compression,
# export, transcribe the test split (held-out voices) with the integer
# runtime (cpu backend), and report test WER, relative WER change against
# the float model fine-tuned for the same steps, exact size as % of fp32
# (all parameter bytes of the exported file) and fine-tuning time. Also
# post-training compression (no fine-tuning) for int4 and int4 2:4.
# Writes a table to stdout and $OUT/ablate.json and $OUT/ablate.md.
set -eu
BUILD=${BUILD:-build}
SPARQ="$BUILD/sparq"
BASE=${BASE:-models/base.sparq}
CORPUS=${CORPUS:?set CORPUS to a corpus folder with train.jsonl and test.jsonl}
STEPS=${STEPS:-40}
OUT=${OUT:-$BUILD/ablate}
KEEP="sub1_w=int8"   # the first conv (K = 9) stays int8 in every compressed setting
mkdir -p "$OUT"
wer_of() { awk '/^TOTAL/ { sub("%", "", $(NF-2)); print $(NF-2) }' "$1"; }
pct_of() { sed -n 's/.*(\([0-9.]*\)% of fp32.*/\1/p' "$1"; }

run() { # name spec mode(ft|ptq)
    name=$1 spec=$2 mode=$3 dir="$OUT/$1"
    rm -rf "$dir"
    start=$(date +%s)
    if [ "$mode" = ft ]; then
        "$SPARQ" finetune --from "$BASE" --compress "$spec" --train "$CORPUS/train.jsonl" --out "$dir" \
            --epochs 100 --max-steps "$STEPS" --lr 2e-4 --warmup 10 --quiet > "$dir.log" 2>&1
        model="$dir/model.spq"
    else
        mkdir -p "$dir"
        "$SPARQ" export --model "$BASE" --compress "$spec" --out "$dir/model.spq" > "$dir.log" 2>&1
        model="$dir/model.spq"
    fi
    secs=$(( $(date +%s) - start ))
    "$SPARQ" eval --model "$model" --backend cpu --data "$CORPUS/test.jsonl" > "$dir.eval" 2>&1
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$spec" "$mode" "$(wer_of "$dir.eval")" "$(pct_of "$dir.log")" \
        "$secs" >> "$OUT/rows.tsv"
    echo "ablate: $name done ($(wer_of "$dir.eval")% WER, $(pct_of "$dir.log")% of fp32, ${secs}s)"
}

: > "$OUT/rows.tsv"
run float     "float"                ft
run int8      "int8,$KEEP"           ft
run int4      "int4,$KEEP"           ft
run int2      "int2,$KEEP"           ft
run int2full  "int2/full,$KEEP"      ft
run sp2of4    "float-2:4,$KEEP"      ft
run sp1of4    "float-1:4,$KEEP"      ft
run int4-2of4 "int4-2:4,$KEEP"       ft
run int2-2of4 "int2-2:4,$KEEP"       ft
run int4-1of4 "int4-1:4,$KEEP"       ft
run ptq-int4      "int4,$KEEP"       ptq
run ptq-int4-2of4 "int4-2:4,$KEEP"   ptq

ref=$(awk -F'\t' '$1 == "float" { print $4 }' "$OUT/rows.tsv")
{
    printf '| setting | spec | fine-tuned | test WER | rel. WER vs float | size %% of fp32 | time s |\n'
    printf '|---|---|---|---:|---:|---:|---:|\n'
    awk -F'\t' -v ref="$ref" '{ rel = ref > 0 ? sprintf("%+.1f%%", 100 * ($4 - ref) / ref) : "-";
        printf "| %s | `%s` | %s | %.2f%% | %s | %s | %s |\n", $1, $2, ($3 == "ft" ? "yes" : "no (post-training)"), $4, rel, ($5 == "" ? "100" : $5), $6 }' "$OUT/rows.tsv"
} > "$OUT/ablate.md"
awk -F'\t' -v ref="$ref" 'BEGIN { printf "{\"steps\": %s, \"rows\": [", '"$STEPS"' }
    { printf "%s{\"name\": \"%s\", \"spec\": \"%s\", \"finetuned\": %s, \"test_wer\": %s, \"rel_wer\": %s, \"size_pct_fp32\": %s, \"seconds\": %s}",
      (NR > 1 ? ", " : ""), $1, $2, ($3 == "ft" ? "true" : "false"), $4 / 100, (ref > 0 ? ($4 - ref) / ref : "null"), ($5 == "" ? 100 : $5), $6 }
    END { print "]}" }' "$OUT/rows.tsv" > "$OUT/ablate.json"
cat "$OUT/ablate.md"
echo "wrote $OUT/ablate.md and $OUT/ablate.json"
