#!/bin/sh
# make demo: the whole sparq pipeline on built-in data and the committed base
# model, in about ten minutes on 2 cores:
#   1. a small voice-search corpus from Debian's TTS engines (test split: held-out voices)
#   2. compression-aware fine-tuning of models/base.sparq to int8 and to int4 2:4
#   3. export of the packed models (docs/format.md) and their exact sizes
#   4. transcription of the held-out test set with the integer runtime on the
#      C device model, and of its first utterances on the Verilator-simulated
#      accelerator, checked to be bit-identical
#   5. the WER / size table and the throughput summary
set -eu
BUILD=${BUILD:-build}
SPARQ="$BUILD/sparq"
OUT="$BUILD/demo"
BASE=${SPARQ_BASE_MODEL:-models/base.sparq}
FT_STEPS=${SPARQ_DEMO_STEPS:-60}     # fine-tuning steps per compressed model
SIM_UTTS=${SPARQ_DEMO_SIM_UTTS:-3}   # utterances transcribed on the Verilator model
step() { printf '\n== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
wer_of() { awk '/^TOTAL/ { print $(NF-2) }' "$1"; }

if [ ! -f "$BASE" ]; then
    echo "demo: $BASE is missing; build it with 'make base-model' (about an hour)" >&2
    exit 1
fi
mkdir -p "$OUT"

step "1/5 corpus: held-out-voice test set and a small fine-tuning set (sparq data gen)"
if [ ! -f "$OUT/data/test.jsonl" ]; then
    rm -rf "$OUT/data"
    "$SPARQ" data gen --out "$OUT/data" --hours 0.12 --dev-hours 0.01 --test-hours 0.04 --seed 20261126
fi
wc -l "$OUT/data/train.jsonl" "$OUT/data/test.jsonl"

step "2/5 fine-tuning $BASE with simulated compression ($FT_STEPS steps each)"
for spec in int8 int4-2:4; do
    dir="$OUT/ft-$(echo "$spec" | tr ':' '_')"
    rm -rf "$dir"
    "$SPARQ" finetune --from "$BASE" --compress "$spec,sub1_w=int8" --train "$OUT/data/train.jsonl" \
        --out "$dir" --epochs 50 --max-steps "$FT_STEPS" --lr 2e-4 --warmup 10 --batch-frames 6000 \
        > "$dir.log" 2>&1 || { tail -5 "$dir.log"; exit 1; }
    grep -E '^(epoch|exported)' "$dir.log" | tail -2
done

step "3/5 post-training int4 2:4 (no fine-tuning) for comparison (sparq export)"
"$SPARQ" export --model "$BASE" --compress "int4-2:4,sub1_w=int8" --out "$OUT/ptq-int4-2_4.spq" | tee "$OUT/ptq.log"

step "4/5 transcribing the held-out test set"
"$SPARQ" eval --model "$BASE" --data "$OUT/data/test.jsonl" --hyp "$OUT/hyp-float.txt" > "$OUT/eval-float.txt"
"$SPARQ" eval --model "$OUT/ptq-int4-2_4.spq" --backend cpu --data "$OUT/data/test.jsonl" > "$OUT/eval-ptq.txt"
"$SPARQ" eval --model "$OUT/ft-int8/model.spq" --backend cpu --data "$OUT/data/test.jsonl" > "$OUT/eval-int8.txt"
"$SPARQ" eval --model "$OUT/ft-int4-2_4/model.spq" --backend cpu --data "$OUT/data/test.jsonl" \
    --hyp "$OUT/hyp-cpu.txt" > "$OUT/eval-int4.txt"
"$SPARQ" eval --model "$OUT/ft-int4-2_4/model.spq" --backend ref --data "$OUT/data/test.jsonl" \
    --hyp "$OUT/hyp-ref.txt" --report "$OUT/throughput.json" > "$OUT/eval-int4-ref.txt"
head -n "$SIM_UTTS" "$OUT/data/test.jsonl" > "$OUT/data/test-sim.jsonl"
echo "Verilator: $SIM_UTTS utterances (the simulated link streams every byte, ~1 min each)"
"$SPARQ" eval --model "$OUT/ft-int4-2_4/model.spq" --backend sim --data "$OUT/data/test-sim.jsonl" \
    --hyp "$OUT/hyp-sim.txt" > "$OUT/eval-int4-sim.txt"

step "bit-exactness: the same transcripts from the fast CPU kernel, the C device model and the RTL"
if cmp -s "$OUT/hyp-cpu.txt" "$OUT/hyp-ref.txt"; then
    echo "cpu == ref on all $(wc -l < "$OUT/hyp-ref.txt") test utterances"
else
    echo "MISMATCH: cpu and ref transcripts differ" >&2
    exit 1
fi
"$SPARQ" eval --model "$OUT/ft-int4-2_4/model.spq" --backend ref --data "$OUT/data/test-sim.jsonl" \
    --hyp "$OUT/hyp-ref-head.txt" > "$OUT/eval-int4-ref-head.txt"
if cmp -s "$OUT/hyp-sim.txt" "$OUT/hyp-ref-head.txt" &&
   [ "$(grep '^total' "$OUT/eval-int4-sim.txt")" = "$(grep '^total' "$OUT/eval-int4-ref-head.txt")" ]; then
    echo "sim == ref on the first $SIM_UTTS utterances (transcripts, MACs, busy cycles, link bytes)"
else
    echo "MISMATCH: sim and ref differ" >&2
    exit 1
fi

step "5/5 results (test set: voices never used in training)"
base_wer=$(wer_of "$OUT/eval-float.txt")
# Size: bytes of all parameter sections of the exported file (values, positions,
# scales, and what stays float) as a fraction of the fp32 parameters.
pct_of() { sed -n 's/.*(\([0-9.]*%\) of fp32.*/\1/p' "$1"; }
printf '%-28s %12s %10s %10s\n' "model" "% of fp32" "test WER" "rel. WER"
row() {
    w=$(wer_of "$2")
    rel=$(awk -v a="${w%\%}" -v b="${base_wer%\%}" 'BEGIN { if (b > 0) printf "%+.1f%%", 100 * (a - b) / b; else print "-" }')
    printf '%-28s %12s %10s %10s\n' "$1" "$3" "$w" "$rel"
}
row "float (base)" "$OUT/eval-float.txt" "100%"
row "int8 fine-tuned" "$OUT/eval-int8.txt" "$(pct_of "$OUT/ft-int8.log")"
row "int4 2:4 post-training" "$OUT/eval-ptq.txt" "$(pct_of "$OUT/ptq.log")"
row "int4 2:4 fine-tuned" "$OUT/eval-int4.txt" "$(pct_of "$OUT/ft-int4-2_4.log")"
echo
echo "throughput of int4 2:4 on the accelerator model (C device model, 16x16 array):"
grep -E '^(throughput|total|MACs done|real-time)' "$OUT/eval-int4-ref.txt"
echo "full per-layer table: $OUT/eval-int4-ref.txt; JSON: $OUT/throughput.json"
if command -v gnuplot >/dev/null; then
    gnuplot -e "dat='$OUT/throughput.json.dat'; out='$OUT/roofline.png'" scripts/roofline.gp &&
        echo "roofline plot: $OUT/roofline.png"
fi
