#!/bin/sh
# The human recordings of Debian's pocketsphinx-testdata as a sparq manifest:
#   sh scripts/asr_human_set.sh OUTDIR   ->  OUTDIR/human.jsonl + OUTDIR/wav/*.wav
# Eleven utterances: five LibriVox read-speech sentences (Sense and Sensibility),
# five "cards" phrases and the "go forward ten meters" command; every one 16 kHz
# mono. References are the package's transcriptions without <s>/</s>.
set -eu
OUT=${1:?usage: asr_human_set.sh OUTDIR}
D=${PS_TESTDATA:-/usr/share/pocketsphinx/test/data}
if [ ! -d "$D/librivox" ] || [ ! -d "$D/cards" ]; then
    echo "asr_human_set: $D has no librivox/cards recordings (apt-get install pocketsphinx-testdata)" >&2
    exit 1
fi
command -v sox >/dev/null || { echo "asr_human_set: sox is needed to convert goforward.raw" >&2; exit 1; }
mkdir -p "$OUT/wav"
tmp="$OUT/human.jsonl.tmp.$$"
: > "$tmp"

# add ID WAV TEXT: one manifest line; text is lower-cased, the scorer normalises the rest.
add() {
    dur=$(soxi -D "$2")
    jq -cn --arg id "$1" --arg p "wav/$1.wav" --argjson d "$dur" --arg t "$3" \
        '{id: $id, audio_filepath: $p, duration: $d, text: ($t | ascii_downcase)}' >> "$tmp"
}

# transcription lines: "<s> words </s> (id)"
trans() {
    sed -n 's/^<s> *\(.*\) *<\/s> *(\(.*\))$/\2 \1/p' "$1"
}

trans "$D/librivox/transcription" | while read -r id text; do
    cp "$D/librivox/$id.wav" "$OUT/wav/librivox-$id.wav"
    add "librivox-$id" "$OUT/wav/librivox-$id.wav" "$text"
done
trans "$D/cards/cards.transcription" | while read -r id text; do
    cp "$D/cards/$id.wav" "$OUT/wav/cards-$id.wav"
    add "cards-$id" "$OUT/wav/cards-$id.wav" "$text"
done
# goforward.raw: headerless 16 kHz 16-bit mono, the utterance of PocketSphinx's own decoder tests.
sox -t raw -r 16000 -e signed -b 16 -c 1 "$D/goforward.raw" "$OUT/wav/goforward.wav"
add goforward "$OUT/wav/goforward.wav" "go forward ten meters"

mv "$tmp" "$OUT/human.jsonl"
echo "asr_human_set: $(wc -l < "$OUT/human.jsonl") utterances in $OUT/human.jsonl"
