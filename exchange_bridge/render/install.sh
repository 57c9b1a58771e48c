#!/usr/bin/env bash
# Install what red-header rendering (`changtong doc render --format pdf`) needs on Debian:
# LibreOffice Writer without its GUI or recommended packages, poppler-utils (pdfinfo,
# pdffonts, pdftoppm: the tests measure the page), Noto CJK (Song and Hei), Liberation
# (Times New Roman's widths, for Latin letters and digits), and the Fandol
# fonts (FangSong and Kai: Debian ships a simplified-Chinese FangSong only inside
# texlive-lang-chinese, so its four Fandol .otf files are taken from that package alone and
# copied to $FONT_DIR). Idempotent: does nothing where all is present. Needs root for apt.
# Exit status: 0 ready, 1 something is missing and could not be installed.
set -u
FONT_DIR=/usr/local/share/fonts/changtong  # fonts.conf lists it too
FANDOL="FandolFang-Regular.otf FandolKai-Regular.otf FandolSong-Regular.otf FandolHei-Regular.otf"

say() { echo "render-install: $*"; }

have_tools() { command -v soffice >/dev/null && command -v pdftoppm >/dev/null && command -v pdfinfo >/dev/null \
  && command -v pdffonts >/dev/null && command -v fc-match >/dev/null; }
have_noto() { fc-list 2>/dev/null | grep -q 'Noto Serif CJK SC' && fc-list 2>/dev/null | grep -q 'Noto Sans CJK SC' \
  && fc-list 2>/dev/null | grep -q 'Liberation Serif'; }
have_fandol() { for f in $FANDOL; do [ -s "$FONT_DIR/$f" ] || return 1; done; }

is_root_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; }

apt_updated=false
apt_install() {
  is_root_apt || { say "not root or no apt-get: cannot install $*"; return 1; }
  if ! $apt_updated; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    apt_updated=true
  fi
  say "installing $* with apt-get (--no-install-recommends)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
    --no-install-recommends "$@" >/dev/null
}

install_fandol() {
  is_root_apt || { say "not root or no apt-get: cannot fetch the Fandol fonts"; return 1; }
  local tmp; tmp=$(mktemp -d) || return 1
  chmod 755 "$tmp"  # apt's sandbox user downloads into it
  ( cd "$tmp" && apt-get download -qq texlive-lang-chinese >/dev/null 2>&1 ) \
    || { $apt_updated || { apt-get update -qq >/dev/null; apt_updated=true; }; \
         ( cd "$tmp" && apt-get download -qq texlive-lang-chinese >/dev/null 2>&1 ); } \
    || { say "apt-get download texlive-lang-chinese failed"; rm -rf "$tmp"; return 1; }
  dpkg -x "$tmp"/texlive-lang-chinese_*.deb "$tmp/x" || { rm -rf "$tmp"; return 1; }
  mkdir -p "$FONT_DIR"
  local src="$tmp/x/usr/share/texlive/texmf-dist/fonts/opentype/public/fandol"
  for f in $FANDOL; do install -m 644 "$src/$f" "$FONT_DIR/$f" || { rm -rf "$tmp"; return 1; }; done
  # GPL with the font exception: the licence travels with the files.
  install -m 644 "$tmp/x/usr/share/doc/texlive-doc/fonts/fandol/COPYING.gz" "$FONT_DIR/COPYING.fandol.gz" 2>/dev/null
  install -m 644 "$tmp/x/usr/share/doc/texlive-doc/fonts/fandol/README" "$FONT_DIR/README.fandol" 2>/dev/null
  rm -rf "$tmp"
  fc-cache -f "$FONT_DIR" >/dev/null 2>&1
  say "Fandol fonts installed in $FONT_DIR"
}

ok=0
if ! have_tools || ! have_noto; then
  apt_install libreoffice-writer-nogui poppler-utils fonts-noto-cjk fonts-liberation2 fontconfig || ok=1
  fc-cache >/dev/null 2>&1
fi
have_fandol || install_fandol || ok=1

if have_tools && have_noto && have_fandol; then
  say "LibreOffice $(soffice --version 2>/dev/null | awk '{print $2}' | head -1), poppler, Noto CJK and Fandol fonts are ready"
  exit 0
fi
say "rendering to PDF is not available (missing:$(have_tools || echo ' soffice/poppler')$(have_noto || echo ' Noto CJK/Liberation')$(have_fandol || echo ' Fandol fonts'))"
exit 1
