#!/usr/bin/env bash
# Set up glyph on a fresh Debian/Ubuntu machine: system libraries and fonts from apt, then the
# package into a virtual environment at .venv.
#   bash scripts/setup.sh          # what `glyph render`, `pack`, `ls` need
#   bash scripts/setup.sh --dev    # everything, tests included (model, OCR, plotting extras)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
case "${1:-}" in
  --dev) extras="[dev]" ;;
  "") ;;
  *) echo "usage: bash scripts/setup.sh [--dev]" >&2; exit 2 ;;
esac

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
packages=(libcairo2-dev libgirepository1.0-dev gir1.2-pango-1.0 pkg-config
          fonts-dejavu-core fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji)
[ -n "$extras" ] && packages+=(tesseract-ocr tesseract-ocr-eng zstd)
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".${extras}"
echo "glyph installed in .venv ($(.venv/bin/glyph --version))" >&2
