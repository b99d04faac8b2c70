#!/bin/sh
# The layer rule (docs/dev.md, "Layers"): a file in host/src/LAYER may include
# only headers of LAYER or of layers below it; public headers name their layer
# with a "// sparq-layer: NAME" line; nothing includes by a relative path.
# The order is read from docs/dev.md, so it is written down once.
#   LAYERS_ROOT=dir  checks another tree (the test plants a bad include in a copy).
set -u
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib
ROOT=${LAYERS_ROOT:-.}

order=$(sed -n 's/^Layer order, lowest first: *//p' docs/dev.md | tr -d '`.' | tr ',' ' ')
check "docs/dev.md states the layer order" test -n "$order"

rank_of() { # rank of layer $1 (1 = lowest), 0 if unknown
    i=0; for l in $order cli; do i=$((i + 1)); [ "$l" = "$1" ] && { echo $i; return; }; done; echo 0
}

# violations ROOT: one line per include that breaks the rule.
violations() {
    r=$1
    for h in "$r"/host/include/*.h; do
        grep -q '^// sparq-layer: ' "$h" || echo "$h: no '// sparq-layer: NAME' line"
    done
    for f in "$r"/host/src/*/*.[ch] "$r"/host/include/*.h "$r"/host/cli/*.c; do
        case $f in
            */host/cli/*) layer=cli ;;
            */host/include/*) layer=$(sed -n 's|^// sparq-layer: *||p' "$f" | head -1) ;;
            *) layer=$(basename "$(dirname "$f")") ;;
        esac
        own=$(rank_of "$layer")
        [ "$own" -gt 0 ] || { echo "$f: layer '$layer' is not in the order"; continue; }
        grep -n '^#include "' "$f" | while IFS= read -r line; do
            inc=$(echo "$line" | sed 's/.*#include "\([^"]*\)".*/\1/')
            case $inc in */*) echo "$f: includes by a path: $inc"; continue ;; esac
            if [ -f "$(dirname "$f")/$inc" ] && [ "$(dirname "$f")" != "$r/host/include" ]; then
                continue # a private header of the same folder
            fi
            hdr="$r/host/include/$inc"
            [ -f "$hdr" ] || { case $inc in sparq_commands.h) continue ;; esac; echo "$f: unknown header $inc"; continue; }
            hl=$(sed -n 's|^// sparq-layer: *||p' "$hdr" | head -1)
            hr=$(rank_of "$hl")
            [ "$hr" -le "$own" ] || echo "$f ($layer) includes $inc ($hl): upward"
        done
    done
}

out=$(violations "$ROOT")
check "no include points up a layer, none by path" test -z "$out"
[ -z "$out" ] || echo "$out" | sed 's/^/# /'

# The check must be able to fail: plant an upward include in a copy of the
# tree (the data layer reaching for the runtime) and a relative one.
tmp=$T/tree
mkdir -p "$tmp/host"; cp -r host/include host/src host/cli "$tmp/host/"
printf '#include "sparq_runtime.h"\n' >> "$tmp/host/src/data/text.c"
planted=$(violations "$tmp")
check "a planted upward include (data -> runtime) is caught" sh -c "echo '$planted' | grep -q 'text.c (data) includes sparq_runtime.h'"
cp host/src/data/text.c "$tmp/host/src/data/text.c"
# explore sits above runtime: the runtime reaching up to it is caught too.
printf '#include "sparq_explore.h"\n' >> "$tmp/host/src/runtime/report.c"
planted=$(violations "$tmp")
check "a planted upward include (runtime -> explore) is caught" sh -c "echo '$planted' | grep -q 'report.c (runtime) includes sparq_explore.h'"
cp host/src/runtime/report.c "$tmp/host/src/runtime/report.c"
printf '#include "../../sim/x.h"\n' >> "$tmp/host/src/device/device.c"
planted=$(violations "$tmp")
check "a planted include by relative path is caught" sh -c "echo '$planted' | grep -q 'includes by a path'"
exit $fail
