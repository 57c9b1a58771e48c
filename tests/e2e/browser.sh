#!/usr/bin/env bash
# The end-to-end tests drive Debian's Chromium (never a browser Playwright downloads) and
# need CJK fonts for readable screenshots: install them with apt where missing (as root).
set -u
need=()
command -v chromium >/dev/null || need+=(chromium)
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then echo "browser: chromium $(chromium --version 2>/dev/null | awk '{print $2}') ready"; exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "browser: installing ${need[*]} with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || \
    echo "browser: warning: could not install ${need[*]}; the e2e tests will skip"
else
  echo "browser: warning: ${need[*]} missing and not root; the e2e tests will skip"
fi
exit 0
