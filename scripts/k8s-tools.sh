#!/usr/bin/env bash
# What the Kubernetes example tests (test/k8s) check against, fetched and built once into
# ${VECTORDR_CACHE:-~/.cache/vectordr}, keyed by version:
#
# - k8s-openapi-<version>/: the OpenAPI v3 documents the API server publishes
#   (api/openapi-spec/v3/*.json of the k8s.io/kubernetes Go module, from the Go module proxy,
#   checked against the module's go.sum hash), for the oldest and the newest Kubernetes minor the
#   examples claim. Only those JSON files are kept.
# - kube-render-<hash of its sources>/kube-render: test/k8s/kube-render, the Go program that reads
#   YAML as kubectl does and renders Blueprint templates as Kanister does (text/template + sprig).
#
#   scripts/k8s-tools.sh env    # installs what is missing, prints VECTORDR_K8S_OPENAPI=<dir>,<dir>
#                               # and VECTORDR_KUBE_RENDER=<binary>
#
# Needs go (>= 1.24) and curl on a first run.
set -euo pipefail

# The oldest minor the examples claim (podFailurePolicy is GA from 1.31) and the newest release,
# with their go.sum hashes (from `go mod download -json`, which checks them against sum.golang.org).
K8S_VERSIONS=(
  v1.31.14=h1:UtjLfqvXLuSVDdJ4+NpQCIfFkKkLnAAVmxAEMsnkhjk=
  v1.37.2=h1:A2VDEiObzkYqFTKhSsn0ZEb0RlLEXpHWj93gi2HqEwE=
)
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init k8s-tools
RENDER_SRC="$ROOT/test/k8s/kube-render"

need_go() {
  command -v go >/dev/null 2>&1 || die "the Kubernetes example tests need Go >= 1.24 on PATH (https://go.dev/dl); none found"
}

# The first proxy URL in GOPROXY (https://proxy.golang.org unless configured otherwise).
module_proxy() {
  local entry
  for entry in $(go env GOPROXY | tr ',|' '  '); do
    case "$entry" in http://* | https://*) echo "${entry%/}"; return ;; esac
  done
  die "GOPROXY ($(go env GOPROXY)) names no module proxy to fetch k8s.io/kubernetes from"
}

# `fetch_openapi <version> <h1 sum> <kube-render>`: the module zip of k8s.io/kubernetes@<version>
# from the proxy, checked against its go.sum hash (the pins above), and its api/openapi-spec/v3
# documents kept. Unlike `go mod download`, this does not unpack the other 9,000 files (145 MB).
fetch_openapi() {
  local version=$1 sum=$2 render=$3 dir="$CACHE/k8s-openapi-$1"
  [ -f "$dir/SUM" ] && return
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.k8s-openapi-$version.lock"
  flock 9
  if [ ! -f "$dir/SUM" ]; then
    local t0=$SECONDS url
    url="$(module_proxy)/k8s.io/kubernetes/@v/$version.zip"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    curl -sSf --retry 3 -o "$dir.tmp/module.zip" "$url" || die "downloading $url failed"
    "$render" openapi "$dir.tmp/module.zip" "$sum" "$dir.tmp" || die "k8s.io/kubernetes@$version from $url failed its check"
    rm "$dir.tmp/module.zip"
    echo "k8s.io/kubernetes $version $sum" >"$dir.tmp/SUM"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    say "fetched the OpenAPI v3 documents of Kubernetes $version in $((SECONDS - t0)) s"
  fi
  exec 9>&-
}

# The build is keyed by a hash of the program's sources, so an edit rebuilds it.
render_dir() {
  local hash
  hash=$(cat "$RENDER_SRC/go.mod" "$RENDER_SRC/go.sum" "$RENDER_SRC"/*.go | sha256sum | cut -c1-12)
  echo "$CACHE/kube-render-$hash"
}

build_render() {
  local dir=$1
  [ -x "$dir/kube-render" ] && return
  need_go
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.kube-render.lock"
  flock 9
  if [ ! -x "$dir/kube-render" ]; then
    local t0=$SECONDS
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    if ! (cd "$RENDER_SRC" && CGO_ENABLED=0 GOWORK=off GOFLAGS="-trimpath -mod=readonly -buildvcs=false -p=1" go build -o "$dir.tmp/kube-render" .) >"$dir.tmp/build.log" 2>&1; then
      tail -n 30 "$dir.tmp/build.log" >&2
      die "building test/k8s/kube-render failed (full log: $dir.tmp/build.log)"
    fi
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    say "built kube-render in $((SECONDS - t0)) s"
  fi
  exec 9>&-
}

case "${1:-}" in
  env)
    render=$(render_dir)
    build_render "$render"
    dirs=()
    for pin in "${K8S_VERSIONS[@]}"; do
      fetch_openapi "${pin%%=*}" "${pin#*=}" "$render/kube-render"
      dirs+=("$CACHE/k8s-openapi-${pin%%=*}")
    done
    (IFS=,; echo "VECTORDR_K8S_OPENAPI=${dirs[*]}")
    echo "VECTORDR_KUBE_RENDER=$render/kube-render"
    ;;
  *)
    echo "usage: $0 env" >&2
    exit 2
    ;;
esac
