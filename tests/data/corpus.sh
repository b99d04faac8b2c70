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
# --augment 1 so that the tiny train split exercises the channel effects.
gen() { "$SPARQ" data gen --out "$1" --hours 0.006 --dev-hours 0.002 --test-hours 0.002 --test-text-hours 0.002 --seed 5 --augment 1 --quiet; }
check "data gen writes train/dev/test-voices/test-text manifests" gen "$T/a"
for s in train dev test-voices test-text test; do
    check "$s.jsonl is non-empty" test -s "$T/a/$s.jsonl"
done
check "test.jsonl is the held-out-voice split" cmp "$T/a/test.jsonl" "$T/a/test-voices.jsonl"
ids() { sed 's/.*"id":"\([^"]*\)".*/\1/' "$1"; }
texts() { sed 's/.*"text":"\([^"]*\)".*/\1/' "$1" | sort -u; }
# Held-out voices: espeak accents gbclan/gbcwmd/nyc and variants m5-m7 f4 f5
# klatt4 Gene2 edward2 grandpa gustave iven4 quincy steph3; the slt and rms speakers.
HELDOUT='flite_(slt|rms)|slt_arctic|gbclan|gbcwmd|nyc|_(m5|m6|m7|f4|f5|klatt4|Gene2|edward2|grandpa|gustave|iven4|quincy|steph3)$'
# (ids is a function of this script, so the lists are written here, not in sh -c.)
for s in train dev test-voices test-text; do
    ids "$T/a/$s.jsonl" > "$T/$s.ids"
done
for s in train dev test-text; do
    check "$s uses no held-out voice" sh -c "[ -s '$T/$s.ids' ] && ! grep -E '$HELDOUT' '$T/$s.ids'"
done
check "test-voices uses only held-out voices" sh -c "[ -s '$T/test-voices.ids' ] && ! grep -vE '$HELDOUT' '$T/test-voices.ids'"
for s in train dev test-voices test-text; do
    texts "$T/a/$s.jsonl" > "$T/$s.txt"
done
check "dev sentences never occur in train" sh -c "[ -z \"\$(comm -12 '$T/train.txt' '$T/dev.txt')\" ]"
check "test-voices sentences never occur in train" sh -c "[ -z \"\$(comm -12 '$T/train.txt' '$T/test-voices.txt')\" ]"
check "test-text sentences never occur in train, dev or test-voices" \
    sh -c "[ -z \"\$(cat '$T/train.txt' '$T/dev.txt' '$T/test-voices.txt' | sort -u | comm -12 - '$T/test-text.txt')\" ]"
check "train mixes template and open-vocabulary sentences" sh -c "grep -q 'template' '$T/a/train.info.tsv' && grep -q 'open' '$T/a/train.info.tsv'"
check "every train utterance got a channel effect (--augment 1)" sh -c "[ \$(tail -n +2 '$T/a/train.info.tsv' | cut -f8 | grep -c '^none\$') -eq 0 ]"
check "corpus.json reports the training vocabulary (>= 20000 words) and test-text OOV rate" \
    sh -c "grep -q '\"train_text_words\": [0-9]\{5,\}' '$T/a/corpus.json' && grep -q 'test_text_oov_vs_train_text' '$T/a/corpus.json' && [ \$(sed -n 's/.*\"train_text_words\": \([0-9]*\).*/\1/p' '$T/a/corpus.json') -ge 20000 ]"
for s in dev test-voices test-text; do
    check "every $s file decodes and matches its duration" "$SPARQ" data check "$T/a/$s.jsonl"
done
check "every generated file decodes, is 16 kHz mono and matches its duration" "$SPARQ" data check "$T/a/train.jsonl"
SPARQ_ABS="$(cd "$(dirname "$SPARQ")" && pwd)/$(basename "$SPARQ")"
mkdir -p "$T/elsewhere"
check "a manifest checked from a relative path and written elsewhere still finds its audio" \
    sh -c "cd '$T' && '$SPARQ_ABS' data check a/dev.jsonl --out elsewhere/dev.jsonl && cd / && '$SPARQ_ABS' data check '$T/elsewhere/dev.jsonl'"
check "same seed, same corpus (manifests identical, 1 worker instead of 2)" sh -c "'$SPARQ' data gen --out '$T/b' --hours 0.006 --dev-hours 0.002 --test-hours 0.002 --test-text-hours 0.002 --seed 5 --augment 1 --quiet --workers 1 && cmp '$T/a/train.jsonl' '$T/b/train.jsonl' && cmp '$T/a/test.jsonl' '$T/b/test.jsonl' && cmp '$T/a/test-text.jsonl' '$T/b/test-text.jsonl' && cmp '$T/a/train.info.tsv' '$T/b/train.info.tsv'"
check "another seed, another corpus" sh -c "'$SPARQ' data gen --out '$T/c' --hours 0.003 --dev-hours 0 --test-hours 0 --test-text-hours 0 --seed 6 --quiet && ! cmp -s '$T/a/train.jsonl' '$T/c/train.jsonl'"
check "--text-sources none: templates only, no test-text utterances" sh -c "'$SPARQ' data gen --out '$T/d' --hours 0.003 --dev-hours 0 --test-hours 0 --seed 5 --quiet --text-sources none && ! grep -q open '$T/d/train.info.tsv' && [ ! -s '$T/d/test-text.jsonl' ]"
check "a reference scored against itself has 0% WER and CER" sh -c "'$SPARQ' score --ref '$T/a/test.jsonl' --hyp '$T/a/test.jsonl' --json '$T/s.json' && [ \$(grep -c '\"rate\":[[:space:]]*0[[:space:]]*\$' '$T/s.json') -eq 2 ]"
check "data features computes statistics and CMVN" sh -c "'$SPARQ' data features '$T/a/train.jsonl' --dither 1 --cmvn-out '$T/cmvn.json' | grep -q 'at log floor' && grep -q sparq-cmvn '$T/cmvn.json'"

# data text: the sentence pools data gen draws from, for language-model text.
for s in train dev test-voices test-text; do
    "$SPARQ" data text --split "$s" --out "$T/pool-$s.txt" > /dev/null 2>&1
    sort -u "$T/pool-$s.txt" > "$T/pool-$s.sorted"
done
check "data text writes the four pools, the sizes corpus.json reports" sh -c "j='$T/a/corpus.json'; \
    for s in train dev test-voices test-text; do n=\$(wc -l < '$T'/pool-\$s.txt); \
    grep -q \"\\\"\$s\\\": \$n\" \"\$j\" || exit 1; done"
check "the train pool holds no dev, test-voices or test-text sentence" sh -c "[ -s '$T/pool-train.sorted' ] && \
    [ -z \"\$(cat '$T/pool-dev.sorted' '$T/pool-test-voices.sorted' '$T/pool-test-text.sorted' | sort -u | \
    comm -12 - '$T/pool-train.sorted')\" ]"
check "no dev or test transcript occurs in the train pool" sh -c "[ -z \"\$(cat '$T/dev.txt' '$T/test-voices.txt' \
    '$T/test-text.txt' | sort -u | comm -12 - '$T/pool-train.sorted')\" ]"
# info.tsv rows follow the manifest's lines; column 7 says template or open.
tail -n +2 "$T/a/train.info.tsv" | cut -f7 | paste - "$T/a/train.jsonl" | grep '^open' | \
    sed 's/.*"text":"\([^"]*\)".*/\1/' | sort -u > "$T/train-open.txt"
check "every open-text train transcript is in the train pool" sh -c "[ -s '$T/train-open.txt' ] && \
    [ -z \"\$(comm -23 '$T/train-open.txt' '$T/pool-train.sorted')\" ]"
# Errors: one line naming the file, exit status 1; usage errors exit 2.
expect_exit() { # expect_exit CODE PATTERN command...
    code=$1 pat=$2
    shift 2
    "$@" > "$T/err" 2>&1
    rc=$?
    [ "$rc" -eq "$code" ] && grep -q "$pat" "$T/err"
}
check "data text --split bogus: usage error naming --split (exit 2)" expect_exit 2 "split: 'bogus'" "$SPARQ" data text \
    --split bogus --out "$T/pool-x.txt"
check "data text without --out: usage error (exit 2)" expect_exit 2 "split and .*out are required" "$SPARQ" data text --split train
check "import of a missing Kaldi dir names wav.scp, exit 1" expect_exit 1 "$T/none/wav.scp" "$SPARQ" data import --kaldi "$T/none" --out "$T/x.jsonl"
printf '{"audio_filepath": "a.wav", "duration": 1}\n' > "$T/bad.jsonl"
check "score with a broken manifest names file:line, exit 1" expect_exit 1 "bad.jsonl:1: field text" "$SPARQ" score --ref "$T/bad.jsonl" --hyp "$T/bad.jsonl"
check "data gen without --out is a usage error (exit 2)" expect_exit 2 "out" "$SPARQ" data gen
check "unknown data subcommand exits 2" expect_exit 2 "unknown" "$SPARQ" data frobnicate
check "data gen refuses to overwrite an existing corpus" expect_exit 1 "already" "$SPARQ" data gen --out "$T/a" --hours 0.001 --quiet
check "a missing text source names the file and its Debian package, exit 1" expect_exit 1 "$T/none/games/fortunes/fortunes.*fortunes-min" "$SPARQ" data gen --out "$T/e" --hours 0.001 --quiet --text-root "$T/none"
check "an unknown text source is named, exit 1" expect_exit 1 "fortune/nosuch" "$SPARQ" data gen --out "$T/e" --hours 0.001 --quiet --text-sources fortune/nosuch
check "--open-fraction outside [0, 1] is refused" expect_exit 1 "open-text fraction" "$SPARQ" data gen --out "$T/e" --hours 0.001 --quiet --open-fraction 2

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
for w in $(ls "$T"/a/wav/train/*.wav | head -3); do
    sox "$w" "$T/ls/1/2/1-2-000$i.flac"
    echo "1-2-000$i SOME WORDS NUMBER $i" >> "$T/ls/1/2/1-2.trans.txt"
    i=$((i + 1))
done
echo "1-2-0009 NO AUDIO FOR THIS ONE" >> "$T/ls/1/2/1-2.trans.txt"
check "import --librispeech keeps 3 flac utterances, skips the missing one" \
    sh -c "'$SPARQ' data import --librispeech '$T/ls' --out '$T/l.jsonl' 2> '$T/l.log' | grep -q '3 utterances kept, 1 skipped' && grep -q '1-2-0009.flac' '$T/l.log'"
exit $fail
