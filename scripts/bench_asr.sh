#!/bin/sh
# make bench-asr: sparq's float model beside a peer, PocketSphinx (Debian's
# pocketsphinx + pocketsphinx-en-us: its generic US English acoustic model,
# dictionary and 3-gram LM), on the same utterances, scored by the same scorer
# (`sparq score`): dev, test-voices and test-text of a generated corpus, and the
# human recordings of pocketsphinx-testdata (scripts/asr_human_set.sh).
#
# Rows per set: sparq greedy, sparq beam (no LM), sparq beam + LM (a 3-gram built by `sparq lm build`
# from the corpus's training transcripts and the text pool `sparq data text --split
# train` gives: text only, no dev or test sentence), PocketSphinx. The LM weight and
# word bonus are tuned on dev (a grid; the table says which pair won) unless given. RTF = CPU seconds (user +
# sys, model loading included) over audio seconds, one thread each, so a loaded
# machine changes it less than wall time would.
#
# Environment: BUILD, ASR_CORPUS (folder with dev/test-voices/test-text .jsonl;
# default $BUILD/base-corpus), ASR_MODEL (models/base.sparq), ASR_BEAM (16),
# ASR_LM_WEIGHT, ASR_WORD_BONUS (both given: no tuning), ASR_LM (an ARPA file
# instead of building one). Writes $BUILD/bench/asr.json and $BUILD/bench/asr/*.
set -eu
BUILD=${BUILD:-build}
SPARQ="$BUILD/sparq"
OUT="$BUILD/bench/asr"
CORPUS=${ASR_CORPUS:-$BUILD/base-corpus}
MODEL=${ASR_MODEL:-models/base.sparq}
BEAM=${ASR_BEAM:-16}
ALPHA=${ASR_LM_WEIGHT:-}
BONUS=${ASR_WORD_BONUS:-}
PS_MODEL=/usr/share/pocketsphinx/model/en-us

# The peer and the tools this script uses, installed from Debian when missing
# (the bench installs them, `make deps` and `make test` do not need them).
need_tools() {
    command -v pocketsphinx_batch >/dev/null && [ -f "$PS_MODEL/en-us.lm.bin" ] &&
        [ -d /usr/share/pocketsphinx/test/data/librivox ] && command -v jq >/dev/null && return 0
    pkgs="pocketsphinx pocketsphinx-en-us pocketsphinx-testdata jq"
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench-asr: missing tools: apt-get install $pkgs" >&2
        exit 1
    fi
    echo "bench-asr: installing $pkgs from Debian"
    apt-get install -y $pkgs > "$OUT/apt.log" 2>&1 ||
        { echo "bench-asr: apt-get install failed (log: $OUT/apt.log)" >&2; exit 1; }
}

# cpu_seconds LOG CMD...: runs CMD, appends its output to LOG, prints user+sys seconds.
cpu_seconds() {
    log=$1; shift
    /usr/bin/time -f '%U %S' -o "$log.time" "$@" >> "$log" 2>&1 ||
        { echo "bench-asr: '$*' failed (log: $log)" >&2; exit 1; }
    awk '{ printf "%.2f", $1 + $2 }' "$log.time"
}

# row SET SYSTEM SCORE_JSON CPU_S AUDIO_S: one table line and one JSON object.
row() {
    wer=$(jq .wer.rate "$3"); cer=$(jq .cer.rate "$3")
    printf '%-12s %-22s %8.2f%% %8.2f%% %9.3f\n' "$1" "$2" "$(echo "$wer" | awk '{print $1*100}')" \
        "$(echo "$cer" | awk '{print $1*100}')" "$(awk -v c="$4" -v a="$5" 'BEGIN { print c / a }')" | tee -a "$OUT/table.txt"
    jq -cn --arg set "$1" --arg sys "$2" --argjson w "$wer" --argjson c "$cer" --argjson cpu "$4" \
        --argjson audio "$5" --argjson u "$(jq .utterances "$3")" \
        '{set: $set, system: $sys, utterances: $u, audio_s: $audio, wer: $w, cer: $c, cpu_s: $cpu, rtf: ($cpu / $audio)}' >> "$OUT/rows.jsonl"
}

mkdir -p "$OUT"
[ -x "$SPARQ" ] || { echo "bench-asr: $SPARQ is missing (make)" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "bench-asr: model $MODEL is missing (make base-model)" >&2; exit 1; }
[ -f "$CORPUS/test-voices.jsonl" ] || { echo "bench-asr: $CORPUS/test-voices.jsonl is missing (ASR_CORPUS=DIR)" >&2; exit 1; }
need_tools
sh scripts/asr_human_set.sh "$OUT/human" > /dev/null

LM=${ASR_LM:-$OUT/lm.arpa}
if [ -z "${ASR_LM:-}" ]; then
    jq -r .text "$CORPUS/train.jsonl" > "$OUT/lm-train.txt"
    "$SPARQ" data text --split train --out "$OUT/lm-pool.txt" > "$OUT/lm.log"
    "$SPARQ" lm build --order 3 --out "$LM" "$OUT/lm-train.txt" "$OUT/lm-pool.txt" >> "$OUT/lm.log"
fi

# LM weight and word bonus: the best dev WER on a small grid (dev only; the
# test sets never see this choice). The best bonus grows with the LM's weight and
# size (session 8's model chose 0.5 / 4.0, the old 4x4 grid's corner), so the
# grid reaches past it.
if [ -z "$ALPHA" ] || [ -z "$BONUS" ]; then
    : > "$OUT/tune.txt"
    for a in 0.1 0.2 0.3 0.5 0.7; do
        for b in 1.0 2.0 3.0 4.0 5.0 6.0; do
            "$SPARQ" eval --model "$MODEL" --data "$CORPUS/dev.jsonl" --threads 1 --beam "$BEAM" --lm "$LM" \
                --lm-weight "$a" --word-bonus "$b" --json "$OUT/tune.json" > /dev/null 2>&1 ||
                { echo "bench-asr: dev tuning decode failed" >&2; exit 1; }
            w=$(jq .wer.rate "$OUT/tune.json")
            echo "$a $b $w" >> "$OUT/tune.txt"
        done
    done
    best=$(sort -k3,3g "$OUT/tune.txt" | head -1)
    ALPHA=$(echo "$best" | cut -d' ' -f1); BONUS=$(echo "$best" | cut -d' ' -f2)
    echo "bench-asr: LM weight $ALPHA, word bonus $BONUS (best dev WER of the grid in $OUT/tune.txt)"
fi

: > "$OUT/table.txt"; : > "$OUT/rows.jsonl"
printf '%-12s %-22s %9s %9s %9s\n' set system WER CER RTF | tee -a "$OUT/table.txt"
for set in dev test-voices test-text human; do
    man="$CORPUS/$set.jsonl"; [ "$set" = human ] && man="$OUT/human/human.jsonl"
    [ -f "$man" ] || { echo "bench-asr: $man missing, set skipped"; continue; }
    audio=$(jq -s 'map(.duration) | add' "$man")
    o="$OUT/$set"

    cpu=$(cpu_seconds "$o.sparq.log" "$SPARQ" eval --model "$MODEL" --data "$man" --threads 1 \
        --json "$o.sparq-greedy.json" --hyp "$o.sparq-greedy.hyp")
    row "$set" "sparq greedy" "$o.sparq-greedy.json" "$cpu" "$audio"
    cpu=$(cpu_seconds "$o.sparq.log" "$SPARQ" eval --model "$MODEL" --data "$man" --threads 1 --beam "$BEAM" \
        --json "$o.sparq-beam.json" --hyp "$o.sparq-beam.hyp")
    row "$set" "sparq beam $BEAM" "$o.sparq-beam.json" "$cpu" "$audio"
    cpu=$(cpu_seconds "$o.sparq.log" "$SPARQ" eval --model "$MODEL" --data "$man" --threads 1 \
        --beam "$BEAM" --lm "$LM" --lm-weight "$ALPHA" --word-bonus "$BONUS" \
        --json "$o.sparq-lm.json" --hyp "$o.sparq-lm.hyp")
    row "$set" "sparq beam $BEAM + LM" "$o.sparq-lm.json" "$cpu" "$audio"

    # PocketSphinx: a control file of paths without .wav relative to the manifest's folder;
    # its hypotheses name the path, whose base name is the utterance id.
    jq -r '.audio_filepath | sub("\\.wav$"; "")' "$man" > "$o.ps.ctl"
    cpu=$(cpu_seconds "$o.ps.log" pocketsphinx_batch -adcin yes -cepdir "$(dirname "$man")" -cepext .wav \
        -ctl "$o.ps.ctl" -hyp "$o.ps.raw" -hmm "$PS_MODEL/en-us" -lm "$PS_MODEL/en-us.lm.bin" \
        -dict "$PS_MODEL/cmudict-en-us.dict")
    sed -n 's/^\(.*\) (\(.*\) -*[0-9]*)$/\2 \1/p' "$o.ps.raw" | sed 's|^[^ ]*/||' > "$o.ps.hyp"
    "$SPARQ" score --ref "$man" --hyp "$o.ps.hyp" --json "$o.ps.json" > "$o.ps.score.txt"
    row "$set" "pocketsphinx en-us" "$o.ps.json" "$cpu" "$audio"
done

jq -s --arg model "$MODEL" --arg corpus "$CORPUS" --argjson beam "$BEAM" --argjson alpha "$ALPHA" \
    --argjson bonus "$BONUS" '{model: $model, corpus: $corpus, beam: $beam, lm_weight: $alpha,
    word_bonus: $bonus, rtf: "CPU seconds (user+sys, loading included) / audio seconds, 1 thread", rows: .}' \
    "$OUT/rows.jsonl" > "$BUILD/bench/asr.json.tmp"
mv "$BUILD/bench/asr.json.tmp" "$BUILD/bench/asr.json"
echo "bench-asr: $BUILD/bench/asr.json"
