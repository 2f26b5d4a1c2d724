# Shared by scripts/demo and scripts/test: install what is missing, build.
# Sourced, not run.

HB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian packages the build, the tests and the demo need.
HB_PACKAGES=(build-essential cmake pkg-config libzmq3-dev libczmq-dev
             libmsgpack-dev libcmocka-dev libjansson-dev python3 python3-zmq
             python3-msgpack valgrind)

hb_say() { printf '%s\n' "$*" >&2; }

# Install the packages that are not installed yet; quiet when all are.
hb_install_deps() {
    local missing=()
    for p in "${HB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    hb_say "installing missing Debian packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || {
            hb_say "error: need root (or sudo) to apt-get install ${missing[*]}"
            exit 1
        }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
}

# hb_build DIR [cmake args...]: configure (once) and build everything.
hb_build() {
    local dir=$1; shift
    cmake -S "$HB_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)" -- --no-print-directory >/dev/null \
        || cmake --build "$dir" -j1   # rerun to show the error readably
}
