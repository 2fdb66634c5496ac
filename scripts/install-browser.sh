#!/usr/bin/env bash
# Installs what the console's browser tests need from Debian: headless Chromium, its driver and
# Chinese fonts (so screenshots show the pages' text, not boxes). Idempotent and quiet: it does
# nothing when all three are there. Exit codes: 0 ready, 3 apt is not available (the tests skip
# and say so), anything else a real failure.
set -euo pipefail

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
# fc-list may not exist before any font package; a missing CJK font is what matters.
if ! { command -v fc-list >/dev/null && fc-list :lang=zh family 2>/dev/null | grep -q .; }; then
    missing+=(fonts-noto-cjk fontconfig)
fi
((${#missing[@]})) || exit 0

if ! command -v apt-get >/dev/null; then
    echo "install-browser: apt-get not found; install ${missing[*]} by hand" >&2
    exit 3
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "install-browser: not root, cannot apt-get install ${missing[*]}" >&2
    exit 3
fi

export DEBIAN_FRONTEND=noninteractive
# Other jobs on the machine may hold the dpkg lock for a while: wait for it rather than fail.
apt_opts=(-qq -o DPkg::Lock::Timeout=600)
# apt's chatter (debconf notes) only when something fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get "${apt_opts[@]}" update && \
       apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-browser: apt-get install ${missing[*]} failed" >&2
    exit 1
fi
