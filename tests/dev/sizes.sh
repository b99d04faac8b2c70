#!/bin/sh
# Size limits (docs/dev.md): no C file in host/ over 800 lines and no function
# over 150, unless the file says why in one line:
#   // sparq-size: REASON            in the comment right above a long function
#   // sparq-size: file: REASON      anywhere in a long file
# A function runs from the first line of its signature (column 0) to its
# closing "}" in column 0, the layout every file here uses.
#   SIZES_ROOT=dir  checks another tree (the test plants a long function in a copy).
set -u
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
. tests/lib/tap.shlib
ROOT=${SIZES_ROOT:-.}
MAX_FILE=800
MAX_FUNC=150
# Files exempt by name (none: a long file says why with a sparq-size line).
SKIP=""

# offenders ROOT: one line per file or function over its limit without a reason.
offenders() {
    r=$1
    for f in "$r"/host/src/*/*.[ch] "$r"/host/include/*.h "$r"/host/cli/*.[ch]; do
        [ -f "$f" ] || continue
        rel=${f#"$r"/}
        case " $SKIP " in *" $rel "*) continue ;; esac
        awk -v file="$rel" -v maxfile=$MAX_FILE -v maxfunc=$MAX_FUNC '
            /^\/\/ sparq-size: file: / { file_ok = 1 }
            /^\/\// { if (!in_comment) reason = 0; in_comment = 1; if ($0 ~ /sparq-size: /) reason = 1; next }
            /^[A-Za-z_]/ { if (!in_body) { sig = NR; sig_reason = in_comment && reason } }
            { in_comment = 0 }
            /^\{$/ { in_body = 1; start = sig; ok = sig_reason; name = sigline[sig] }
            /^\}$/ && in_body {
                in_body = 0
                if (NR - start + 1 > maxfunc && !ok)
                    printf "%s:%d: function %s is %d lines (over %d, no sparq-size reason)\n", file, start, name, NR - start + 1, maxfunc
            }
            { sigline[NR] = $0; sub(/\(.*/, "", sigline[NR]); n = split(sigline[NR], w, /[ *]+/); sigline[NR] = w[n] }
            END {
                if (NR > maxfile && !file_ok)
                    printf "%s: %d lines (over %d, no sparq-size: file: reason)\n", file, NR, maxfile
            }' "$f"
    done
}

out=$(offenders "$ROOT")
check "no file over $MAX_FILE lines, no function over $MAX_FUNC without a reason" test -z "$out"
[ -z "$out" ] || echo "$out" | sed 's/^/# /'

# The check must be able to fail: plant a 160-line function in a copy of the
# tree, then give it a reason line and see it accepted.
tmp=$T/tree
mkdir -p "$tmp/host"; cp -r host/include host/src host/cli "$tmp/host/"
long_function() {
    printf '\n%s\nint planted_long(int x)\n{\n' "$1"
    i=0; while [ $i -lt 160 ]; do echo "    x += $i;"; i=$((i + 1)); done
    printf '    return x;\n}\n'
}
long_function "// A planted function." >> "$tmp/host/src/data/text.c"
planted=$(offenders "$tmp")
check "a planted 164-line function is caught" sh -c "echo '$planted' | grep -q 'text.c:.*function planted_long is 164 lines'"
cp host/src/data/text.c "$tmp/host/src/data/text.c"
long_function "// A planted function.
// sparq-size: one table of cases, clearer in one place" >> "$tmp/host/src/data/text.c"
planted=$(offenders "$tmp")
check "a reason line above it lets it pass" sh -c "! echo '$planted' | grep -q planted_long"
cp host/src/data/text.c "$tmp/host/src/data/text.c"
i=0; while [ $i -lt 810 ]; do echo "// filler $i"; i=$((i + 1)); done >> "$tmp/host/src/data/text.c"
planted=$(offenders "$tmp")
check "a planted 800+ line file is caught" sh -c "echo '$planted' | grep -q 'text.c: [0-9]* lines'"
exit $fail
