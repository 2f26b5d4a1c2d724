#!/bin/sh
# test_install.sh BUILD_DIR CC - install libhealbus into a temporary prefix
# and build and run a ten-line program with pkg-config alone.
set -eu
build=$1
cc=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >"$prefix/install.log" 2>&1 || {
    cat "$prefix/install.log" >&2
    exit 1
}
# The .pc file was configured for the default prefix: point pkg-config at
# the temporary one.
pc=$(find "$prefix" -name healbus.pc | head -n 1)
[ -n "$pc" ] || { echo "test_install: no healbus.pc installed" >&2; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
cat >"$prefix/app.c" <<'APP'
#include <healbus.h>
#include <stdio.h>
int main(void) {
    if (hb_version() != HB_VERSION_MAJOR * 10000 + HB_VERSION_MINOR * 100 + HB_VERSION_PATCH)
        return 1;
    hb_err_t why;
    hb_agent_t *a = hb_agent_new("install-test", "ipc:///tmp/hb-install-nobody", &why);
    if (!a || hb_agent_metric(a, "x", 1.0) != HB_OK) return 2;
    hb_agent_destroy(&a);
    puts(hb_err_str(HB_OK));
    return 0;
}
APP
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs healbus)
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror -o "$prefix/app" "$prefix/app.c" $flags
libdir=$(pkg-config --define-variable=prefix="$prefix" --variable=libdir healbus)
out=$(LD_LIBRARY_PATH="$libdir" "$prefix/app")
[ "$out" = "success" ] || { echo "test_install: app printed '$out'" >&2; exit 1; }
echo "test_install: built and ran a program against $prefix"
