#!/usr/bin/env bash
# One-time, idempotent setup: .venv with pinned packages, ARM toolchain + QEMU, and the
# MicroPython native-module build tree. Re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STAMP=.venv/.setup-stamp

need_apt=()
command -v arm-none-eabi-gcc >/dev/null || need_apt+=(gcc-arm-none-eabi)
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)
[ -d /usr/lib/picolibc/arm-none-eabi ] || need_apt+=(picolibc-arm-none-eabi)
command -v socat >/dev/null || need_apt+=(socat)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
if [ ! -f "$STAMP" ] || ! cat requirements.txt pyproject.toml | cmp -s - "$STAMP"; then
  echo "setup: installing Python packages into .venv"
  log=.venv/setup-pip.log
  { .venv/bin/pip install -q --upgrade pip &&
    .venv/bin/pip install -q -r requirements.txt &&
    .venv/bin/pip install -q -e . --no-deps; } >"$log" 2>&1 || { cat "$log"; exit 1; }
  cat requirements.txt pyproject.toml > "$STAMP"
fi

# MicroPython native-module build tree (py/dynruntime.mk, tools/mpy_ld.py), MicroPython 1.23 / ABI 6.3
MPY_TREE=.cache/micropython
if [ ! -f "$MPY_TREE/py/dynruntime.mk" ]; then
  echo "setup: unpacking the native-module build tree"
  tmp=$(mktemp -d)
  .venv/bin/pip download -q --no-deps --no-binary :all: -d "$tmp" mpy-cross-v6-3==1.1.1 \
    >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
  mkdir -p .cache
  tar xzf "$tmp"/mpy_cross_v6_3-1.1.1.tar.gz -C "$tmp"
  rm -rf "$MPY_TREE"
  mv "$tmp"/mpy_cross_v6_3-1.1.1/micropython "$MPY_TREE"
  rm -rf "$tmp"
fi
echo "setup: ok"
