#!/bin/sh
# Generates a tiny built-in corpus with the real TTS engines and checks the
# split rules, determinism, and the data/score commands end to end.
# Prints TAP lines. Run from the repository root with BUILD set.
set -u
BUILD=${BUILD:-build}
SPARQ=${SPARQ:-"$BUILD/sparq"}
T=$(mktemp -d /tmp/sparq_corpus_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

# About 40 s of audio in total: a couple of seconds with 2 workers.
gen() { "$SPARQ" data gen --out "$1" --hours 0.006 --dev-hours 0.002 --test-hours 0.002 --seed 5 --quiet; }
check "data gen writes train/dev/test manifests" gen "$T/a"
for s in train dev test; do
    check "$s.jsonl is non-empty" test -s "$T/a/$s.jsonl"
done
ids() { sed 's/.*"id":"\([^"]*\)".*/\1/' "$1"; }
texts() { sed 's/.*"text":"\([^"]*\)".*/\1/' "$1" | sort -u; }
check "train uses no held-out voice (flite slt/rms, espeak gbclan/gbcwmd/nyc, variants m5-m7 f4 f5)" \
    sh -c "! ids '$T/a/train.jsonl' | grep -E 'flite_(slt|rms)|gbclan|gbcwmd|nyc|_(m5|m6|m7|f4|f5)\$'" 
check "dev uses only training voices" sh -c "! sed 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/' '$T/a/dev.jsonl' | grep -E 'flite_(slt|rms)|gbclan|gbcwmd|nyc'"
check "test uses only held-out voices" sh -c "! sed 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/' '$T/a/test.jsonl' | grep -E 'festival|flite_(kal|awb)|_(en|en-us|en-gb-x-rp|en-gb-scotland|en-029)(_|\$)'"
texts "$T/a/train.jsonl" > "$T/train.txt"
texts "$T/a/dev.jsonl" > "$T/dev.txt"
texts "$T/a/test.jsonl" > "$T/test.txt"
check "dev sentences never occur in train" sh -c "[ -z \"\$(comm -12 '$T/train.txt' '$T/dev.txt')\" ]"
check "test sentences never occur in train" sh -c "[ -z \"\$(comm -12 '$T/train.txt' '$T/test.txt')\" ]"
check "every generated file decodes, is 16 kHz mono and matches its duration" "$SPARQ" data check "$T/a/train.jsonl"
SPARQ_ABS="$(cd "$(dirname "$SPARQ")" && pwd)/$(basename "$SPARQ")"
mkdir -p "$T/elsewhere"
check "a manifest checked from a relative path and written elsewhere still finds its audio" \
    sh -c "cd '$T' && '$SPARQ_ABS' data check a/dev.jsonl --out elsewhere/dev.jsonl && cd / && '$SPARQ_ABS' data check '$T/elsewhere/dev.jsonl'"
check "same seed, same corpus (manifests identical)" sh -c "gen() { \"$SPARQ\" data gen --out \"\$1\" --hours 0.006 --dev-hours 0.002 --test-hours 0.002 --seed 5 --quiet --workers 1; }; gen '$T/b' && cmp '$T/a/train.jsonl' '$T/b/train.jsonl' && cmp '$T/a/test.jsonl' '$T/b/test.jsonl'"
check "a reference scored against itself has 0% WER and CER" sh -c "'$SPARQ' score --ref '$T/a/test.jsonl' --hyp '$T/a/test.jsonl' --json '$T/s.json' && [ \$(grep -c '\"rate\":[[:space:]]*0[[:space:]]*\$' '$T/s.json') -eq 2 ]"
check "data features computes statistics and CMVN" sh -c "'$SPARQ' data features '$T/a/train.jsonl' --dither 1 --cmvn-out '$T/cmvn.json' | grep -q 'at log floor' && grep -q sparq-cmvn '$T/cmvn.json'"

# Errors: one line naming the file, exit status 1; usage errors exit 2.
expect_exit() { # expect_exit CODE PATTERN command...
    code=$1 pat=$2
    shift 2
    "$@" > "$T/err" 2>&1
    rc=$?
    [ "$rc" -eq "$code" ] && grep -q "$pat" "$T/err"
}
check "import of a missing Kaldi dir names wav.scp, exit 1" expect_exit 1 "$T/none/wav.scp" "$SPARQ" data import --kaldi "$T/none" --out "$T/x.jsonl"
printf '{"audio_filepath": "a.wav", "duration": 1}\n' > "$T/bad.jsonl"
check "score with a broken manifest names file:line, exit 1" expect_exit 1 "bad.jsonl:1: field text" "$SPARQ" score --ref "$T/bad.jsonl" --hyp "$T/bad.jsonl"
check "data gen without --out is a usage error (exit 2)" expect_exit 2 "out" "$SPARQ" data gen
check "unknown data subcommand exits 2" expect_exit 2 "unknown" "$SPARQ" data frobnicate
check "data gen refuses to overwrite an existing corpus" expect_exit 1 "already" "$SPARQ" data gen --out "$T/a" --hours 0.001 --quiet

# Importers through the CLI on the generated audio, with broken entries.
mkdir -p "$T/kaldi"
sed 's/.*"id":"\([^"]*\)","audio_filepath":"\([^"]*\)".*/\1 \2/' "$T/a/test.jsonl" | \
    awk -v d="$T/a" '{ print $1, d "/" $2 }' > "$T/kaldi/wav.scp"
sed 's/.*"id":"\([^"]*\)".*"text":"\([^"]*\)".*/\1 \2/' "$T/a/test.jsonl" > "$T/kaldi/text"
good=$(wc -l < "$T/kaldi/text")
first=$(head -1 "$T/kaldi/wav.scp" | cut -d' ' -f2)
head -c 3000 "$first" > "$T/kaldi/cut.wav"
echo "zz-cut $T/kaldi/cut.wav" >> "$T/kaldi/wav.scp"
echo "zz-cut a truncated file" >> "$T/kaldi/text"
echo "zz-pipe sox $first -t wav - |" >> "$T/kaldi/wav.scp"
echo "zz-pipe a piped command" >> "$T/kaldi/text"
check "import --kaldi keeps $good utterances, skips the truncated and the piped one" \
    sh -c "'$SPARQ' data import --kaldi '$T/kaldi' --out '$T/k.jsonl' 2> '$T/k.log' | grep -q '$good utterances kept, 2 skipped' && grep -q 'cut.wav: truncated' '$T/k.log' && grep -q 'zz-pipe.*piped' '$T/k.log' && [ \$(wc -l < '$T/k.jsonl') -eq $good ]"
mkdir -p "$T/ls/1/2"
i=0
for w in $(cut -d' ' -f2 "$T/kaldi/wav.scp" | head -3); do
    sox "$w" "$T/ls/1/2/1-2-000$i.flac"
    echo "1-2-000$i SOME WORDS NUMBER $i" >> "$T/ls/1/2/1-2.trans.txt"
    i=$((i + 1))
done
echo "1-2-0009 NO AUDIO FOR THIS ONE" >> "$T/ls/1/2/1-2.trans.txt"
check "import --librispeech keeps 3 flac utterances, skips the missing one" \
    sh -c "'$SPARQ' data import --librispeech '$T/ls' --out '$T/l.jsonl' 2> '$T/l.log' | grep -q '3 utterances kept, 1 skipped' && grep -q '1-2-0009.flac' '$T/l.log'"
exit $fail
