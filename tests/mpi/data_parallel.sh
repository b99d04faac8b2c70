#!/bin/sh
# Data-parallel training and sharded evaluation under MPI (docs/scaling.md):
# `mpirun -np 2` must reproduce one process - training within REL_TOL,
# evaluation exactly - with rank 0 the only writer, resume across rank counts
# and a clean stop on SIGUSR1. Prints TAP lines. Run from the repository root
# with BUILD set. Skips (one "ok # SKIP" line) when sparq is built without MPI
# or mpirun is missing.
set -u
BUILD=${BUILD:-build}
SPARQ=${SPARQ:-"$BUILD/sparq"}
MPIRUN=${MPIRUN:-"mpirun --oversubscribe --allow-run-as-root --bind-to none"}
# Two ranks sum each gradient (and BatchNorm statistic) in a different order
# than one process does; over the ~40 steps here that moves losses and
# gradient norms by < 1e-6 relative (measured). 1e-4 leaves room for other
# BLAS/CPU combinations while any real mistake (a missed allreduce, per-rank
# BatchNorm statistics, wrong shard weights) is off by > 1e-3 within 2 steps.
REL_TOL=1e-4
T=$(mktemp -d /tmp/sparq_mpi_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1
. tests/lib/tap.shlib
if ! command -v mpirun > /dev/null 2>&1 || ! ldd "$SPARQ" | grep -q libmpi; then
    echo "ok 1 # SKIP sparq built without MPI or mpirun missing (make MPI=1; docs/scaling.md)"
    exit 0
fi
mpi() { # mpi NP sparq-args...
    np=$1
    shift
    $MPIRUN -np "$np" "$SPARQ" "$@"
}
# About 60 s of audio: a few seconds per run with the tiny model.
check "corpus for the MPI tests" "$SPARQ" data gen --out "$T/c" --hours 0.01 --dev-hours 0.002 --test-hours 0.003 \
    --seed 5 --quiet
C=$T/c
TRAIN="--config configs/tiny.cfg --train $C/train.jsonl --dev $C/dev.jsonl --warmup 5 --threads 1 --quiet"

# Step lines of two logs agree in step/epoch/lr exactly and in loss and
# gradient norm within REL_TOL; prints the largest relative difference.
same_traj() { # same_traj A B
    awk -v tol="$REL_TOL" -F'\t' '
        function rel(a, b) { d = a - b; if (d < 0) d = -d; s = (a < 0 ? -a : a); return s > 0 ? d / s : d }
        FNR == NR { if ($1 !~ /^#/) { a[++na] = $0 } next }
        $1 !~ /^#/ { b[++nb] = $0 }
        END {
            if (na != nb || na == 0) { print "step lines: " na " vs " nb; exit 1 }
            worst = 0
            for (i = 1; i <= na; i++) {
                split(a[i], x, "\t"); split(b[i], y, "\t")
                if (x[1] != y[1] || x[2] != y[2] || x[5] != y[5]) { print "line " i ": " a[i] " vs " b[i]; exit 1 }
                for (k = 3; k <= 4; k++) { r = rel(x[k], y[k]); if (r > worst) worst = r }
            }
            printf "largest relative difference %.3g over %d steps (tolerance %s)\n", worst, na, tol
            exit worst > tol
        }' "$1" "$2"
}
steps() { grep -vc '^#' "$1"; }

# 1. Without mpirun and with mpirun -np 1 the run is the same, bit for bit.
"$SPARQ" train $TRAIN --out "$T/single" --epochs 4 --batch-frames 1200 > /dev/null 2>&1
check "mpirun -np 1 gives the same log bytes as no mpirun" sh -c \
    "$MPIRUN -np 1 $SPARQ train $TRAIN --out $T/np1 --epochs 4 --batch-frames 1200 && cmp $T/single/train_log.tsv $T/np1/train_log.tsv"

# 2. Two ranks reproduce the loss trajectory. With 1200 frames the batches
# hold 6, 5, 5 and 3 utterances: uneven shards, weighted by their size.
check "mpirun -np 2 trains" mpi 2 train $TRAIN --out "$T/np2" --epochs 4 --batch-frames 1200
check "2 ranks: loss and |g| match one process within $REL_TOL" same_traj "$T/single/train_log.tsv" "$T/np2/train_log.tsv"
echo "# $(same_traj "$T/single/train_log.tsv" "$T/np2/train_log.tsv")"
check "2 ranks: dev WER lines identical" sh -c "[ \"\$(grep '^#' $T/single/train_log.tsv)\" = \"\$(grep '^#' $T/np2/train_log.tsv)\" ]"
check "2 ranks: only rank 0 writes (log has each step once, no other files)" sh -c \
    "[ $(steps "$T/single/train_log.tsv") -eq \$(grep -vc '^#' $T/np2/train_log.tsv) ] && [ \"\$(ls $T/np2 | tr '\n' ' ')\" = 'last.ckpt model.sparq train_log.tsv ' ]"

check "3 ranks (shares 2/2/2, 2/2/1, 1/1/1) match one process within $REL_TOL" sh -c \
    "$MPIRUN -np 3 $SPARQ train $TRAIN --out $T/np3 --epochs 4 --batch-frames 1200 && \
     [ \"\$(ls $T/np3 | tr '\n' ' ')\" = 'last.ckpt model.sparq train_log.tsv ' ]"
check "  ... trajectory within $REL_TOL" same_traj "$T/single/train_log.tsv" "$T/np3/train_log.tsv"

# 3. One utterance per batch: rank 1 has nothing to do every step and must
# still take part in the BatchNorm sums and the gradient allreduce.
"$SPARQ" train $TRAIN --out "$T/single1" --epochs 2 --batch-frames 300 > /dev/null 2>&1
check "2 ranks with an empty shard every step train" mpi 2 train $TRAIN --out "$T/np2e" --epochs 2 --batch-frames 300
check "  ... trajectory within $REL_TOL" same_traj "$T/single1/train_log.tsv" "$T/np2e/train_log.tsv"

# 4. Resume with another number of ranks: 2 -> 1 and 1 -> 2.
total=$(steps "$T/single/train_log.tsv")
half=$((total / 2))
check "2 ranks stop at --max-steps $half" mpi 2 train $TRAIN --out "$T/r21" --epochs 4 --batch-frames 1200 --max-steps $half
check "  ... and 1 process resumes to the end" "$SPARQ" train $TRAIN --out "$T/r21" --epochs 4 --batch-frames 1200 --resume
check "  ... trajectory 2 -> 1 ranks matches one process" same_traj "$T/single/train_log.tsv" "$T/r21/train_log.tsv"
check "1 process stops at --max-steps $half" "$SPARQ" train $TRAIN --out "$T/r12" --epochs 4 --batch-frames 1200 --max-steps $half
check "  ... and 2 ranks resume to the end" mpi 2 train $TRAIN --out "$T/r12" --epochs 4 --batch-frames 1200 --resume
check "  ... trajectory 1 -> 2 ranks matches one process" same_traj "$T/single/train_log.tsv" "$T/r12/train_log.tsv"

# 5. SIGUSR1 to mpirun reaches every rank: all stop after the same step,
# rank 0 saves, exit status 130; --resume finishes the run.
stop_run() {
    $MPIRUN -np 2 "$SPARQ" train $TRAIN --out "$T/stop" --epochs 400 --batch-frames 1200 > "$T/stop.out" 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 200 ] && [ "$(grep -vc '^#' "$T/stop/train_log.tsv" 2> /dev/null || echo 0)" -lt 3 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -USR1 $pid
    wait $pid
    rc=$?
    echo "exit status $rc after $(steps "$T/stop/train_log.tsv") steps"
    [ $rc -eq 130 ]
}
check "SIGUSR1 to mpirun: both ranks stop, exit 130" stop_run
check "  ... and --resume continues from the saved step" sh -c \
    "s=\$(grep -vc '^#' $T/stop/train_log.tsv) && $MPIRUN -np 2 $SPARQ train $TRAIN --out $T/stop --epochs 400 --batch-frames 1200 --resume --max-steps \$((s + 3)) && [ \$(grep -vc '^#' $T/stop/train_log.tsv) -eq \$((s + 3)) ]"

# 6. Compression-aware fine-tuning (the trainer with hooks) under 2 ranks.
FT="--from $T/single/model.sparq --compress int4-2:4 --train $C/train.jsonl --warmup 2 --threads 1 --quiet --epochs 2 --batch-frames 1200"
"$SPARQ" finetune $FT --out "$T/ft1" > /dev/null 2>&1
check "finetune under mpirun -np 2" mpi 2 finetune $FT --out "$T/ft2"
check "  ... trajectory matches one process within $REL_TOL" same_traj "$T/ft1/train_log.tsv" "$T/ft2/train_log.tsv"
check "  ... rank 0 exported model.spq and compress.state" test -s "$T/ft2/model.spq" -a -s "$T/ft2/compress.state"

# 7. Sharded evaluation on the bit-exact device model and the CPU kernel:
# hypotheses, scores and every runtime counter equal one process's.
cat "$C/train.jsonl" "$C/dev.jsonl" "$C/test.jsonl" > "$C/all.jsonl"
for be in ref cpu; do
    EV="eval --model $T/ft1/model.spq --backend $be --data $C/all.jsonl --threads 1 --batch-frames 2000"
    "$SPARQ" $EV --hyp "$T/h1.$be" --json "$T/s1.$be" --report "$T/rep1.$be" > /dev/null 2>&1
    check "eval --backend $be under mpirun -np 2" mpi 2 $EV --hyp "$T/h2.$be" --json "$T/s2.$be" --report "$T/rep2.$be"
    check "  ... hypotheses and score JSON identical to one process" sh -c "cmp $T/h1.$be $T/h2.$be && cmp $T/s1.$be $T/s2.$be"
    check "  ... report counters (calls, MACs, cycles, link bytes) identical" sh -c \
        "grep -v host_seconds $T/rep1.$be > $T/a && grep -v host_seconds $T/rep2.$be > $T/b && cmp $T/a $T/b"
done
check "ref report counted device work (busy cycles > 0)" sh -c "grep -q '\"busy_cycles\":[[:space:]]*[1-9]' $T/rep2.ref"
