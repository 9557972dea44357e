#!/usr/bin/env bash
# Headless Chromium (and CJK fonts) for the console's browser tests, from Debian's packages. Idempotent: does
# nothing when chromium is already there. Needs root (or password-less sudo) to install.
set -euo pipefail
# fonts-noto-cjk: without it Chinese pages render as boxes in the browser tests' screenshots
have_fonts() { fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; }
if command -v chromium >/dev/null 2>&1 && have_fonts; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-chromium: not root and no password-less sudo; cannot install chromium" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
command -v chromium >/dev/null
