#!/bin/sh
# test_symbols.sh LIB HEADER - libhealbus exports exactly the functions
# healbus.h declares: every dynamic symbol it defines is an hb_* name from
# the header, and every hb_* function in the header is exported.
set -eu
lib=$1
header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Defined dynamic symbols, minus the linker's own markers.
nm -D --defined-only "$lib" | awk '{print $NF}' |
    grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' | sort -u >"$tmp/exported"
# Function names declared in the header: "HB_EXPORT type *hb_x(" forms.
tr '\n' ' ' <"$header" | grep -o -E 'HB_EXPORT[^;(]*\(' |
    grep -o -E 'hb_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u >"$tmp/declared"
if [ ! -s "$tmp/declared" ]; then
    echo "test_symbols: found no HB_EXPORT declarations in $header" >&2
    exit 1
fi
status=0
if grep -v -E '^hb_' "$tmp/exported" >"$tmp/foreign"; then
    echo "test_symbols: exported names outside hb_*:" >&2
    cat "$tmp/foreign" >&2
    status=1
fi
if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
    echo "test_symbols: exports differ from healbus.h (- declared, + exported):" >&2
    cat "$tmp/diff" >&2
    status=1
fi
[ $status -eq 0 ] && echo "test_symbols: $(wc -l <"$tmp/exported") hb_* symbols, all declared"
exit $status
