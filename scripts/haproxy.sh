#!/usr/bin/env bash
# HAProxy from Debian's package (for the failover drill's comparison, bench/failover-drill.ts),
# unpacked without root into ${VECTORDR_CACHE:-~/.cache/vectordr}/haproxy-<version>/ with the two
# libraries Debian's build links that this machine may lack (liblua5.3-0, libopentracing-c-wrapper0).
#
#   scripts/haproxy.sh bin    # installs once, prints the path of a wrapper that runs haproxy
#
# The drill writes its own configuration and runs haproxy in the foreground; nothing here listens.
set -euo pipefail

HAPROXY_VERSION=2.6.12-1+deb12u4 # Debian 12 (bookworm-security)
CACHE=${VECTORDR_CACHE:-$HOME/.cache/vectordr}
DIR="$CACHE/haproxy-$HAPROXY_VERSION"
say() { echo "[haproxy] $*" >&2; }
die() { say "$*"; exit 1; }

install() {
  [ -x "$DIR/haproxy" ] && return
  command -v apt-get >/dev/null 2>&1 || die "needs apt-get (a Debian/Ubuntu machine) to fetch the haproxy package"
  mkdir -p "$CACHE"
  local tmp="$DIR.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp/pkgs" "$tmp/root"
  say "downloading haproxy $HAPROXY_VERSION and its libraries from Debian (first run only)"
  (cd "$tmp/pkgs" && apt-get download -q "haproxy=$HAPROXY_VERSION" liblua5.3-0 libopentracing-c-wrapper0 libopentracing1 >/dev/null 2>&1) ||
    (cd "$tmp/pkgs" && apt-get download -q haproxy liblua5.3-0 libopentracing-c-wrapper0 libopentracing1 >/dev/null) ||
    die "apt-get download haproxy failed"
  for deb in "$tmp"/pkgs/*.deb; do dpkg -x "$deb" "$tmp/root"; done
  cat >"$tmp/haproxy" <<WRAP
#!/usr/bin/env bash
LD_LIBRARY_PATH="$DIR/root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$DIR/root/usr/sbin/haproxy" "\$@"
WRAP
  chmod +x "$tmp/haproxy"
  rm -rf "$DIR"
  mv "$tmp" "$DIR"
  "$DIR/haproxy" -v | head -1 >&2 || die "haproxy does not run: $DIR/haproxy -v"
}

case "${1:-}" in
  bin) install; echo "$DIR/haproxy" ;;
  *) echo "usage: $0 bin" >&2; exit 2 ;;
esac
