#!/bin/sh
# Hostile input (issue 14): every bad flag value, an output naming an input,
# a run folder reused without --resume, an endless config file, a spec rule
# matching nothing and a forged checkpoint must end in a clean one-line error
# naming the flag or file: exit status 1..127 (never a signal), one line on
# stderr, and no input or earlier output changed. Also: a model file with a
# NaN value, an endless FIFO config, a full disk under train_log.tsv, a
# second SIGINT, and a few cases under the ASan+UBSan CLI ($BUILD/asan/sparq,
# when built). Prints TAP lines. Run from the repository root with BUILD set.
set -u
BUILD=${BUILD:-build}
SPARQ=${SPARQ:-"$BUILD/sparq"}
T=$(mktemp -d /tmp/sparq_badinput_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

"$SPARQ" data gen --out "$T/c" --hours 0.004 --dev-hours 0.001 --test-hours 0.001 --seed 5 --quiet --workers 1 \
    > "$T/gen.log" 2>&1
"$SPARQ" train --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/m" --epochs 1 --seed 3 --threads 1 \
    --quiet > "$T/train.log" 2>&1
check "tiny corpus and tiny float model" test -s "$T/m/model.sparq" -a -s "$T/m/last.ckpt" -a -s "$T/c/dev.jsonl"
M="$T/m/model.sparq"
D="$T/c/dev.jsonl"
cp "$M" "$T/copy.sparq"
printf 'u1 hello world\n' > "$T/ref.txt"
printf 'u1 hello word\n' > "$T/hyp.txt"

# Every file a command could damage; compared before and after each case.
snapshot() { sha256sum "$T"/c/*.jsonl "$T"/m/* "$T"/copy.sparq "$T"/ref.txt "$T"/hyp.txt configs/tiny.cfg; }

# refuses "description" PATTERN command...: status 1..127, exactly one stderr
# line matching PATTERN (grep -e), every snapshotted file unchanged.
refuses_case() {
    pat=$1
    shift
    snapshot > "$T/before"
    timeout -k 5 60 "$@" > "$T/out" 2> "$T/err"
    rc=$?
    snapshot > "$T/after"
    [ $rc -ge 1 ] && [ $rc -lt 124 ] || { echo "exit status $rc"; cat "$T/err"; return 1; }
    [ "$(wc -l < "$T/err")" -eq 1 ] || { echo "stderr is not one line:"; cat "$T/err"; return 1; }
    grep -q -e "$pat" "$T/err" || { echo "stderr does not name '$pat':"; cat "$T/err"; return 1; }
    cmp -s "$T/before" "$T/after" || { echo "an input or earlier output changed:"; diff "$T/before" "$T/after"; return 1; }
}
refuses() { desc=$1; shift; check "$desc" refuses_case "$@"; }

# 1. numeric flags: junk, zero, negative, trailing junk, NaN/Inf, huge thread counts
for v in abc 0 -1 5x ""; do
    refuses "eval --beam '$v' refused" "--beam: '$v'" "$SPARQ" eval --model "$M" --data "$D" --beam "$v"
done
refuses "transcribe --beam 5x refused" "--beam: '5x'" "$SPARQ" transcribe --model "$M" --beam 5x "$T/c/wav/x.wav"
refuses "eval --min-batches 0 refused" "--min-batches: '0'" "$SPARQ" eval --model "$M" --data "$D" --min-batches 0
refuses "transcribe --pipeline sideways refused" "--pipeline: 'sideways'" "$SPARQ" transcribe --model "$M" --pipeline sideways "$T/c/wav/x.wav"
for v in -5 nan inf; do
    refuses "eval --clock $v refused" "--clock: '$v'" "$SPARQ" eval --model "$M" --data "$D" --clock "$v"
done
TR="--config configs/tiny.cfg --train $T/c/train.jsonl --out $T/new"
refuses "train --lr inf refused" "--lr: 'inf'" "$SPARQ" train $TR --lr inf
refuses "train --weight-decay nan refused" "--weight-decay: 'nan'" "$SPARQ" train $TR --weight-decay nan
refuses "train --dither nan refused" "--dither: 'nan'" "$SPARQ" train $TR --dither nan
refuses "train --epochs 2x refused" "--epochs: '2x'" "$SPARQ" train $TR --epochs 2x
refuses "train --seed -1 refused" "--seed: '-1'" "$SPARQ" train $TR --seed -1
refuses "train --threads 100000 refused (cap 64)" "--threads: '100000'.*64" "$SPARQ" train $TR --threads 100000
refuses "finetune --threads 100000 refused" "--threads: '100000'" "$SPARQ" finetune --from "$M" \
    --compress int8 --train "$D" --out "$T/ft" --threads 100000
refuses "finetune --lr nan refused" "--lr: 'nan'" "$SPARQ" finetune --from "$M" --compress int8 --train "$D" \
    --out "$T/ft" --lr nan
refuses "search --budget nan refused" "--budget: 'nan'" "$SPARQ" search --from "$M" --dev "$D" --budget nan
refuses "search --max-utts 3x refused" "--max-utts: '3x'" "$SPARQ" search --from "$M" --dev "$D" --max-utts 3x
refuses "ablate --lr inf refused" "--lr: 'inf'" "$SPARQ" ablate --from "$M" --corpus "$T/c" --out "$T/ab" \
    --no-results --lr inf
refuses "ablate --threads 100000 refused" "--threads: '100000'" "$SPARQ" ablate --from "$M" --corpus "$T/c" \
    --out "$T/ab" --no-results --threads 100000
refuses "data gen --hours abc refused" "--hours: 'abc'" "$SPARQ" data gen --out "$T/g" --hours abc
refuses "data gen --workers 100000 refused" "--workers: '100000'" "$SPARQ" data gen --out "$T/g" --workers 100000
refuses "data features --dither nan refused" "--dither: 'nan'" "$SPARQ" data features "$D" --dither nan
refuses "data features --limit 3x refused" "--limit: '3x'" "$SPARQ" data features "$D" --limit 3x
refuses "format-info --out 5x refused" "--out: '5x'" "$SPARQ" format-info --out 5x --in 8
refuses "bench-features --repeat 0 refused" "--repeat: '0'" "$SPARQ" bench-features --repeat 0
refuses "bench-gemm --threads 1,100000 refused" "--threads: '100000'" "$SPARQ" bench-gemm --threads 1,100000

# 2. no command writes over one of its own inputs
refuses "export --out the input model refused" "--out .*--model" "$SPARQ" export --model "$T/copy.sparq" \
    --compress int8 --out "$T/copy.sparq"
refuses "export --format safetensors --out the input refused" "--out .*--model" "$SPARQ" export \
    --model "$T/copy.sparq" --format safetensors --out "$T/copy.sparq"
refuses "eval --hyp the manifest refused" "--hyp .*--data" "$SPARQ" eval --model "$M" --data "$D" --hyp "$D"
refuses "eval --json the model refused" "--json .*--model" "$SPARQ" eval --model "$M" --data "$D" --json "$M"
refuses "eval --hyp and --json the same file refused" "--json .*--hyp" "$SPARQ" eval --model "$M" --data "$D" \
    --hyp "$T/h.txt" --json "$T/h.txt"
refuses "score --json the reference refused" "--json .*--ref" "$SPARQ" score --ref "$T/ref.txt" \
    --hyp "$T/hyp.txt" --json "$T/ref.txt"
refuses "search --spec-out the dev manifest refused" "--spec-out .*--dev" "$SPARQ" search --from "$M" --dev "$D" \
    --spec-out "$D"
refuses "import --out the input refused" "--out .*--from" "$SPARQ" import --from "$T/copy.sparq" \
    --out "$T/copy.sparq"
refuses "data check --out the manifest refused" "--out .*MANIFEST" "$SPARQ" data check "$D" --out "$D"
refuses "data features --cmvn-out the manifest refused" "--cmvn-out .*MANIFEST" "$SPARQ" data features "$D" \
    --cmvn-out "$D"
refuses "finetune --out over --from (DIR/model.sparq) refused" "--out .*--from" "$SPARQ" finetune --from "$M" \
    --compress int8 --train "$D" --out "$T/m"
refuses "ablate --results the model refused" "--results .*--from" "$SPARQ" ablate --from "$T/copy.sparq" \
    --corpus "$T/c" --out "$T/ab" --results "$T/copy.sparq"

# 3. a run folder is not restarted over without --resume or --force
refuses "train into an existing run without --resume refused" "--out .*--resume.*--force" "$SPARQ" train \
    --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/m" --epochs 1 --threads 1 --quiet

# 4. an endless config is refused, not read forever
refuses "train --config /dev/zero refused (bounded read)" "--config: /dev/zero" "$SPARQ" train \
    --config /dev/zero --train "$T/c/train.jsonl" --out "$T/z" --quiet

# 6. a spec rule that matches no weight matrix is an error listing the names
refuses "export --compress nosuch=int8 refused with the names" "'nosuch' matches no weight matrix.*ff" "$SPARQ" \
    export --model "$M" --compress nosuch=int8 --out "$T/nosuch.spq"
check "  ... and wrote no file" test ! -e "$T/nosuch.spq"

# 7. a forged checkpoint (batch -1, hash recomputed) is refused on load
cat > "$T/poke.c" <<'CEOF'
// poke FILE OFFSET_FROM_END VALUE: writes an int64 at size-OFFSET and
// recomputes the trailing FNV-1a hash, as a forger would.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
    FILE *f = fopen(argv[1], "rb");
    static unsigned char b[64 << 20];
    size_t n = f ? fread(b, 1, sizeof b, f) : 0;
    if (!f || argc != 4 || n < 64)
        return 1;
    fclose(f);
    int64_t v = strtoll(argv[3], NULL, 10);
    memcpy(b + n - strtoul(argv[2], NULL, 10), &v, 8);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i + 8 < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    memcpy(b + n - 8, &h, 8);
    f = fopen(argv[1], "wb");
    return !f || fwrite(b, 1, n, f) != n || fclose(f);
}
CEOF
${CC:-cc} -std=c11 -O1 -o "$T/poke" "$T/poke.c" || echo "not ok - build poke.c"
mkdir -p "$T/forged"
cp "$T/m/last.ckpt" "$T/forged/last.ckpt"
: > "$T/forged/train_log.tsv"
# tail of a checkpoint: ... i64 step epoch batch, u64 seed, f64 best_dev_wer, u64 hash
"$T/poke" "$T/forged/last.ckpt" 32 -1
refuses "resume from a checkpoint with batch -1 refused" "last.ckpt: training batch -1 out of range" "$SPARQ" \
    train --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/forged" --resume --threads 1 --quiet
cp "$T/m/last.ckpt" "$T/forged/last.ckpt"
"$T/poke" "$T/forged/last.ckpt" 48 -7
refuses "resume from a checkpoint with step -7 refused" "last.ckpt: training step -7 out of range" "$SPARQ" \
    train --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/forged" --resume --threads 1 --quiet

# 7b. --resume with a config for another architecture is refused; stale
# temporaries of an interrupted write are removed on start.
sed 's/^d_model = 32/d_model = 48/' configs/tiny.cfg > "$T/other.cfg"
refuses "train --resume with another architecture's --config refused" "other.cfg: d_model = 48, but .*32" "$SPARQ" \
    train --config "$T/other.cfg" --train "$T/c/train.jsonl" --out "$T/m" --resume --epochs 1 --threads 1 --quiet
# 7c. the front-end kind (config key subsampling): an unknown kind, a resume
# across kinds, and the compressed path on a dwsep4 model are refused.
{ cat configs/tiny.cfg; echo "subsampling = dwsep8"; } > "$T/dw8.cfg"
refuses "train --config with subsampling = dwsep8 refused" "dw8.cfg:.*subsampling: 'dwsep8'" "$SPARQ" \
    train --config "$T/dw8.cfg" --train "$T/c/train.jsonl" --out "$T/dw8" --epochs 1 --threads 1 --quiet
{ cat configs/tiny.cfg; echo "subsampling = dwsep4"; } > "$T/dw4.cfg"
refuses "train --resume with another front-end's --config refused" "dw4.cfg: subsampling = dwsep4, but .*conv2d" \
    "$SPARQ" train --config "$T/dw4.cfg" --train "$T/c/train.jsonl" --out "$T/m" --resume --epochs 1 --threads 1 --quiet
"$SPARQ" train --config "$T/dw4.cfg" --train "$T/c/train.jsonl" --out "$T/dw4" --epochs 1 --seed 3 --threads 1 \
    --quiet > "$T/dw4.log" 2>&1
check "tiny dwsep4 model trained" test -s "$T/dw4/model.sparq"
refuses "export of a dwsep4 model refused" "subsampling = dwsep4" "$SPARQ" export --model "$T/dw4/model.sparq" \
    --compress int4-2:4 --out "$T/dw4.spq"
check "  ... and wrote no file" test ! -e "$T/dw4.spq"
# 7d. --init starts from a model: its architecture must match --config, it may
# not be one of the run's own outputs, and the run starts from its weights
# (the first logged loss is well below a fresh run's first loss on the same
# batch: the source model trained 3 epochs at a high learning rate).
refuses "train --init with another architecture's --config refused" "other.cfg: d_model = 48, but .*32" "$SPARQ" \
    train --config "$T/other.cfg" --init "$T/m/model.sparq" --train "$T/c/train.jsonl" --out "$T/init" --epochs 1 \
    --threads 1 --quiet
cp -r "$T/m" "$T/self"
refuses "train --init DIR/model.sparq --out DIR refused (an output)" "--out .*is one of the inputs.*--init" "$SPARQ" \
    train --config configs/tiny.cfg --init "$T/self/model.sparq" --train "$T/c/train.jsonl" --out "$T/self" --force \
    --epochs 1 --threads 1 --quiet
"$SPARQ" train --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/src" --epochs 3 --warmup 1 --lr 5e-3 \
    --seed 3 --threads 1 --quiet > "$T/src.log" 2>&1
"$SPARQ" train --config configs/tiny.cfg --init "$T/src/model.sparq" --train "$T/c/train.jsonl" --out "$T/init" \
    --epochs 1 --seed 3 --threads 1 --quiet > "$T/init.log" 2>&1
check "train --init: first loss well below a fresh run's first loss (same seed, same batch)" awk -F'\t' \
    'FNR == 1 && !/^#/ { v[++k] = $3; nextfile } END { exit !(k == 2 && v[2] < v[1] - 0.5) }' "$T/src/train_log.tsv" \
    "$T/init/train_log.tsv"
cp -r "$T/m" "$T/stale"
: > "$T/stale/last.ckpt.tmp.AbC123"
"$SPARQ" train --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/stale" --resume --epochs 1 --threads 1 \
    --quiet > /dev/null 2> "$T/stale.err"
check "a stale last.ckpt.tmp.* is removed on start, and said so" sh -c \
    "[ ! -e '$T/stale/last.ckpt.tmp.AbC123' ] && grep -q 'removed .*last.ckpt.tmp.AbC123' '$T/stale.err'"

# 8. a float model whose values make no sense (hash recomputed) is refused on load
cp "$M" "$T/nan.sparq"
# tail of a model file: ... f32 cmvn_istd[n_mels], u64 hash; 0x7fc00000 is a float NaN
"$T/poke" "$T/nan.sparq" 16 2143289344
refuses "eval of a model with a NaN CMVN 1/std refused" "nan.sparq: CMVN 1/std\[78\] is nan" "$SPARQ" eval \
    --model "$T/nan.sparq" --data "$D"

# 9. an endless FIFO as --config is a prompt error
mkfifo "$T/fifo.cfg"
( yes 'n_mels = 80' > "$T/fifo.cfg" ) 2> /dev/null &
yes_pid=$!
refuses "train --config FIFO that never ends refused (bounded read)" "fifo.cfg: larger than 65536 bytes" "$SPARQ" \
    train --config "$T/fifo.cfg" --train "$T/c/train.jsonl" --out "$T/z" --quiet
kill $yes_pid 2> /dev/null
wait $yes_pid 2> /dev/null

# 10. a write error on train_log.tsv (a full disk) stops training with an error naming it
mkdir -p "$T/full"
ln -s /dev/full "$T/full/train_log.tsv"
refuses "train with train_log.tsv on a full disk stops with an error" "train_log.tsv: write failed: No space left" \
    "$SPARQ" train --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/full" --force --epochs 1 \
    --threads 1 --quiet
check "  ... and wrote no checkpoint" test ! -e "$T/full/last.ckpt"

# 11. a second signal (during the step or the save the first one asked for)
# exits at once without saving. The run is stopped (SIGSTOP) while both are
# queued, so they arrive back to back: SIGINT asks for a save, SIGTERM ends it.
second_signal_case() {
    rm -rf "$T/sig"
    "$SPARQ" train --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/sig" --epochs 1000 --threads 1 \
        > /dev/null 2> "$T/sig.err" &
    pid=$!
    i=0
    while [ $i -lt 600 ] && ! grep -q . "$T/sig/train_log.tsv" 2> /dev/null; do sleep 0.1; i=$((i + 1)); done
    kill -STOP $pid
    # SIGSTOP takes effect asynchronously: a checkpoint rename could still land
    # after kill returns, so wait until the kernel reports the process stopped.
    i=0
    while [ $i -lt 100 ] && [ "$(awk '{ print $3 }' /proc/$pid/stat 2> /dev/null)" != T ]; do sleep 0.05; i=$((i + 1)); done
    before=$(cat "$T/sig/last.ckpt" 2> /dev/null | cksum)
    kill -INT $pid
    kill -TERM $pid
    kill -CONT $pid
    wait $pid
    rc=$?
    after=$(cat "$T/sig/last.ckpt" 2> /dev/null | cksum)
    tail -n 3 "$T/sig.err"
    echo "status $rc"
    { [ $rc -eq 130 ] || [ $rc -eq 143 ]; } && grep -q "second signal: exiting without saving" "$T/sig.err" &&
        ! grep -q "stopped at step" "$T/sig.err" && [ "$before" = "$after" ]
}
check "a second signal exits at once (status 130 or 143, last.ckpt unchanged)" second_signal_case

# 12. a few of the cases above under the ASan+UBSan build of the CLI (make $BUILD/asan/sparq)
if [ -x "$BUILD/asan/sparq" ]; then
    A="$BUILD/asan/sparq"
    export ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1
    refuses "asan: eval --beam abc refused" "--beam: 'abc'" "$A" eval --model "$M" --data "$D" --beam abc
    refuses "asan: eval --beam 1000000000 refused" "--beam: '1000000000'" "$A" eval --model "$M" --data "$D" \
        --beam 1000000000
    refuses "asan: train --threads 100000 refused" "--threads: '100000'" "$A" train $TR --threads 100000
    refuses "asan: train --config /dev/zero refused" "--config: /dev/zero" "$A" train --config /dev/zero \
        --train "$T/c/train.jsonl" --out "$T/z" --quiet
    cp "$T/m/last.ckpt" "$T/forged/last.ckpt"
    "$T/poke" "$T/forged/last.ckpt" 32 -1
    refuses "asan: resume from a checkpoint with batch -1 refused" "training batch -1 out of range" "$A" train \
        --config configs/tiny.cfg --train "$T/c/train.jsonl" --out "$T/forged" --resume --threads 1 --quiet
    refuses "asan: eval of a model with a NaN CMVN 1/std refused" "CMVN 1/std\[78\] is nan" "$A" eval \
        --model "$T/nan.sparq" --data "$D"
    refuses "asan: export --compress nosuch=int8 refused" "'nosuch' matches no weight matrix" "$A" export \
        --model "$M" --compress nosuch=int8 --out "$T/nosuch.spq"
    refuses "asan: eval --hyp the manifest refused" "--hyp .*--data" "$A" eval --model "$M" --data "$D" --hyp "$D"
else
    echo "# $BUILD/asan/sparq not built: ASan+UBSan CLI cases skipped (make $BUILD/asan/sparq)"
fi

echo "1..$n"
exit $fail
