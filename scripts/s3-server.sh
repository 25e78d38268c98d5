#!/usr/bin/env bash
# Starts/stops a real S3-compatible server (MinIO, built from its Go module) for tests, on a loopback
# port, with its data in the git-ignored .cache/ folder of the checkout.
#
#   scripts/s3-server.sh start   # prints VECTORDR_S3_*=... lines on success; creates bucket vectordr-test
#   scripts/s3-server.sh stop
#   scripts/s3-server.sh url     # http://127.0.0.1:54330
#   scripts/s3-server.sh env     # export VECTORDR_S3_ENDPOINT=... (for eval "$(scripts/s3-server.sh env)")
#
# Why MinIO: it honours conditional writes as AWS S3 does: PutObject and CompleteMultipartUpload with
# `If-None-Match: *` on an existing key fail with 412 PreconditionFailed (exactly one winner under a
# race), `If-Match: <etag>` is a compare-and-swap (412 on a stale ETag, 404 NoSuchKey on a missing key),
# and listings come in UTF-8 byte order. It is one process on one port and starts in about a second.
# scripts/s3-check-conditional.mjs probes all of this against the running server.
# The community MinIO repository is archived; the pin below is its final commit, so it will not move.
#
# The first start builds MinIO with `go install` (Go >= 1.24; about 3 minutes on 2 cores) into
# ${VECTORDR_CACHE:-~/.cache/vectordr}/minio-<version>/bin; later starts reuse it.
# Needs: go (first start only), curl >= 7.75 (SigV4 signing, to create the bucket).
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # github.com/minio/minio, last commit (archived)
PORT=${VECTORDR_S3_PORT:-54330}
ACCESS_KEY=vectordr
SECRET_KEY=vectordr-secret-key
REGION=us-east-1
BUCKET=vectordr-test
# shellcheck source=scripts/service-lib.sh
. "$(dirname "$0")/service-lib.sh"
service_init s3 minio
TOOL="$CACHE/minio-$MINIO_VERSION"
BIN="$TOOL/bin/minio"
NAME=MinIO

install() {
  go_install_tool "$TOOL" minio "github.com/minio/minio@$MINIO_VERSION" "~3 min on 2 cores"
}

# Signed S3 request with curl; prints the HTTP status.
s3_curl() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" "$@" || true
}

# MinIO can answer /minio/health/ready with 200 and still refuse the first S3 calls with 503
# (its object layer is not initialised yet; seen once in a clean-clone CI run): retry those for 30 s.
ensure_bucket() {
  local code deadline=$((SECONDS + 30))
  while :; do
    code=$(s3_curl -X PUT "$(url)/$BUCKET")
    case "$code" in
      200 | 409) return ;; # 409: BucketAlreadyOwnedByYou
      503 | 000) [ $SECONDS -lt $deadline ] || break; sleep 0.2 ;;
      *) break ;;
    esac
  done
  die "creating bucket $BUCKET answered HTTP $code (log: $LOG)"
}

print_vars() {
  echo "VECTORDR_S3_ENDPOINT=$(url)"
  echo "VECTORDR_S3_ACCESS_KEY=$ACCESS_KEY"
  echo "VECTORDR_S3_SECRET_KEY=$SECRET_KEY"
  echo "VECTORDR_S3_REGION=$REGION"
  echo "VECTORDR_S3_BUCKET=$BUCKET"
}

launch() {
  mkdir -p "$DATA"
  MINIO_ROOT_USER=$ACCESS_KEY MINIO_ROOT_PASSWORD=$SECRET_KEY MINIO_SITE_REGION=$REGION \
    MINIO_BROWSER=off MINIO_UPDATE=off \
    setsid "$BIN" server "$DATA" --address "127.0.0.1:$PORT" --quiet --anonymous </dev/null >>"$LOG" 2>&1 &
}

start() {
  start_service 60 0.1 http_ok "$(url)/minio/health/ready"
  ensure_bucket
  print_vars
}

stop() { stop_running 20; }
url() { echo "http://127.0.0.1:$PORT"; }
print_bin() { echo "$BIN"; }

service_main 'start|stop|url|env|bin' "$@"
