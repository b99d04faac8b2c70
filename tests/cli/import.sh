#!/bin/sh
# sparq import / sparq export --format safetensors end to end on the PyTorch
# fixtures of tests/fixtures/make_safetensors_fixtures.py (a second or two):
# import with a config, export -> re-import byte-identical, a compressed
# .spq exported with masks and scales, f16/bf16 files, and the one-line
# errors (missing config, damaged file, output over an input, bad usage).
# Prints TAP lines. Run from the repository root with BUILD set.
set -u
BUILD=${BUILD:-build}
SPARQ=${SPARQ:-"$BUILD/sparq"}
FX=tests/fixtures/safetensors
T=$(mktemp -d /tmp/sparq_import_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib

# Runs a command that must fail with status $1 and one stderr line containing $2.
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
# The JSON header of a safetensors file (its first 8 bytes are the length).
header() { hl=$(od -An -tu8 -N8 "$1" | tr -d ' '); dd if="$1" bs=1 skip=8 count="$hl" 2>/dev/null; }

check "import the PyTorch state dict with a config" \
    "$SPARQ" import --from "$FX/tiny.safetensors" --config "$FX/tiny_config.json" --out "$T/tiny.sparq"
check "export it as safetensors" "$SPARQ" export --format safetensors --model "$T/tiny.sparq" --out "$T/tiny.st"
check "re-import needs no config (it is in __metadata__)" \
    "$SPARQ" import --from "$T/tiny.st" --out "$T/again.sparq"
check "export -> import gives the same model file byte for byte" cmp "$T/tiny.sparq" "$T/again.sparq"
check "export of the re-imported model gives the same safetensors bytes" \
    sh -c "'$SPARQ' export --format safetensors --model '$T/again.sparq' --out '$T/again.st' >/dev/null && cmp '$T/tiny.st' '$T/again.st'"
check "f16 and bf16 state dicts import" sh -c "
    '$SPARQ' import --from $FX/tiny_f16.safetensors --config $FX/tiny_config.json --out '$T/f16.sparq' &&
    '$SPARQ' import --from $FX/tiny_bf16.safetensors --config $FX/tiny_config.json --out '$T/bf16.sparq'"

"$SPARQ" export --model "$T/tiny.sparq" --compress int4-2:4 --out "$T/tiny.spq" > /dev/null 2>&1
check "a compressed .spq exports with dequantized weights" \
    "$SPARQ" export --format safetensors --model "$T/tiny.spq" --out "$T/spq.st"
header "$T/spq.st" > "$T/spq.h"
check "its masks, scales and formats are under sparq.* and __metadata__" sh -c "
    grep -q '\"sparq.mask.layers.1.ffn2.sequential.4.weight\":{\"shape\":\\[8,16\\],[^}]*\"dtype\":\"U8\"' '$T/spq.h' &&
    grep -q '\"sparq.scale.out.weight\":{\"shape\":\\[29\\],[^}]*\"dtype\":\"F32\"' '$T/spq.h' &&
    grep -q '\"sparq_format:sub_lin.weight\":\"int4-2:4\"' '$T/spq.h'"
check "the exported compressed model imports again (masks and scales accepted beside their weights)" \
    "$SPARQ" import --from "$T/spq.st" --out "$T/spq.sparq"

check "no config: the error asks for n_heads" \
    fails 1 "n_heads is not in the state dict" "$SPARQ" import --from "$FX/tiny.safetensors" --out "$T/x.sparq"
echo '{"n_mels": 16, "n_heads": 2, "d_model": 32}' > "$T/wrong.json"
check "a config that disagrees with the tensors is named" \
    fails 1 "config d_model = 32, the state dict's tensors have 8" \
    "$SPARQ" import --from "$FX/tiny.safetensors" --config "$T/wrong.json" --out "$T/x.sparq"
echo '{"n_mels": 16, "heads": 2}' > "$T/typo.json"
check "an unknown config key is named" \
    fails 1 "key 'heads' unknown" "$SPARQ" import --from "$FX/tiny.safetensors" --config "$T/typo.json" --out "$T/x.sparq"
head -c 10000 "$FX/tiny.safetensors" > "$T/cut.st"
check "a truncated file is rejected naming the file and the tensor" \
    fails 1 "cut.st: tensor '.*past the" "$SPARQ" import --from "$T/cut.st" --config "$FX/tiny_config.json" --out "$T/x.sparq"
check "a sparq model is not a safetensors file" \
    fails 1 "tiny.sparq: header length" "$SPARQ" import --from "$T/tiny.sparq" --config "$FX/tiny_config.json" --out "$T/x.sparq"
check "import never writes over its input" fails 2 "is one of the inputs" \
    "$SPARQ" import --from "$T/tiny.st" --out "$T/tiny.st"
check "export never writes over its input" fails 2 "is the input model" \
    "$SPARQ" export --format safetensors --model "$T/tiny.sparq" --out "$T/tiny.sparq"
check "--format with --compress is bad usage" fails 2 "takes --model and --out only" \
    "$SPARQ" export --format safetensors --compress int8 --model "$T/tiny.sparq" --out "$T/x.st"
check "unknown --format is bad usage" fails 2 "takes --model and --out only" \
    "$SPARQ" export --format onnx --model "$T/tiny.sparq" --out "$T/x.st"
check "no output was left behind by the failures" sh -c "! ls '$T'/x.* '$T'/*.tmp* 2>/dev/null | grep -q ."
check "import --help prints usage and exits 0" sh -c "'$SPARQ' import --help | grep -q 'usage: sparq import'"
check "import without --from is bad usage" sh -c "'$SPARQ' import --out '$T/x.sparq' 2>/dev/null; test \$? -eq 2"
exit $fail
