# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153 # it sets (service_init) and reads (NAME, ...) the sourcing script's variables
# What the server scripts in scripts/ share (sourced, not run): their folders and messages
# (service_init, say, die), their command line (service_main), the start and stop of a server kept
# under a pid file (start_service, wait_ready, running_pid, port_open, stop_running), and cached
# installs (venv_install from PyPI, go_install_tool for Go commands).
#
# A server script sources this file, calls service_init, sets PORT, BIN (the server binary, which
# running_pid checks a pid against) and NAME (for messages), defines install, url, print_vars and
# the commands it has (start, stop, print_bin for `bin`), and ends with `service_main <commands> "$@"`.

# say and die print to stderr as [<script name>], e.g. [qdrant-server].
SCRIPT_NAME=$(basename "$0" .sh)
say() { echo "[$SCRIPT_NAME] $*" >&2; }
die() { say "error: $*"; exit 1; }

# `service_init <folder> [<file>]` sets ROOT (the checkout), CACHE (downloads, kept by version),
# RUN (this server's state: .cache/<folder> of the checkout, git-ignored) and DATA ($RUN/data); with
# <file>, also PIDFILE and LOG ($RUN/<file>.pid and .log) and LOG_HINT (where a failed start points).
service_init() {
  ROOT=$(cd "$(dirname "$0")/.." && pwd)
  CACHE=${VECTORDR_CACHE:-$HOME/.cache/vectordr}
  RUN="$ROOT/.cache/$1"
  DATA="$RUN/data"
  if [ -n "${2:-}" ]; then
    PIDFILE="$RUN/$2.pid"
    LOG="$RUN/$2.log"
    LOG_HINT="log: $LOG"
  fi
}

# The command line: `service_main <commands> "$@"`, <commands> being the script's own, as its usage
# line lists them (from start|stop|url|env|bin). start, stop and url are the script's functions;
# env prints print_vars as export lines (for eval); bin installs and runs print_bin.
service_main() {
  local commands=$1 command=${2:-}
  case "|$commands|" in
    *"|$command|"*) ;;
    *) command=usage ;;
  esac
  case "$command" in
    start) start ;;
    stop) stop ;;
    url) url ;;
    env) print_vars | sed 's/^/export /' ;;
    bin) install >/dev/null; print_bin ;;
    *) echo "usage: $0 $commands" >&2; exit 2 ;;
  esac
}

# The pid in $PIDFILE, if that process is alive and is still $BIN (checked through /proc).
running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$BIN")" ] || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# Fails a start when $PORT is taken while no server of ours runs. A script whose server opens more
# ports redefines it.
check_ports() {
  if port_open; then
    die "127.0.0.1:$PORT is already in use by another process (not ours: no live pid in $PIDFILE)"
  fi
}

# `start_service <timeout s> <interval s> <check command...>`: installs the server, then, unless ours
# already runs, launches it, records its pid and waits until the check succeeds (wait_ready). All
# under a lock, as parallel test runners may all call start. The script defines install and launch,
# which starts the server in the background with setsid (its own session, so that a Ctrl-C in the
# calling terminal does not reach it; stop uses the pid), and may define `started <pid> <t0>`, run
# once a server it launched is ready.
start_service() {
  local timeout=$1 interval=$2
  shift 2
  install
  mkdir -p "$RUN"
  exec 9>"$RUN/.start.lock"
  flock 9
  if ! running_pid >/dev/null; then
    rm -f "$PIDFILE"
    check_ports
    local t0=$SECONDS pid
    launch 9>&-
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_ready "$pid" "$timeout" "$interval" "$NAME" "$LOG_HINT" "$@"
    if declare -F started >/dev/null; then started "$pid" "$t0"; fi
  fi
  exec 9>&-
}

# SIGTERM our process, SIGKILL it after $1 seconds; never touches a pid that is not ours.
stop_running() {
  local grace=$1 pid
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
      say "$NAME (pid $pid) ignored SIGTERM for $grace s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDFILE"
}

# Installs pinned PyPI packages into a cached venv, once: `venv_install <venv> <eta> <pip args...>`.
# The script defines installed (true when the venv holds the pinned versions). A lock serialises
# parallel callers.
venv_install() {
  local venv=$1 eta=$2
  shift 2
  installed && return
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.$(basename "$venv").lock"
  flock 8
  if ! installed; then
    say "installing $* into $venv (first run only; $eta)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
    installed || die "installed $* into $venv but cannot import the pinned versions"
  fi
  exec 8>&-
}

# Builds one Go command into a cached tool folder, once: `go_install_tool <tool-dir> <binary> <pkg@version> <eta>`.
# A lock serialises parallel callers; the build goes to <tool-dir>.tmp and is moved into place only
# when <tool-dir>/bin/<binary> exists, so an interrupted build never leaves a half tool behind.
go_install_tool() {
  local tool=$1 binary=$2 pkg=$3 eta=$4
  [ -x "$tool/bin/$binary" ] && return
  command -v go >/dev/null 2>&1 || die "building $binary needs Go >= 1.24 on PATH (https://go.dev/dl, or Debian's golang-1.24+); none found"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.$(basename "$tool").lock"
  flock 9
  if [ -x "$tool/bin/$binary" ]; then exec 9>&-; return; fi
  say "building $pkg with $(go version | awk '{print $3}') into $tool (first run only; $eta)"
  local tmp="$tool.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp/bin"
  local t0=$SECONDS
  if ! GOBIN="$tmp/bin" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$pkg" >"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >&2
    die "go install $pkg failed (full log: $tmp/build.log)"
  fi
  [ -x "$tmp/bin/$binary" ] || die "go install finished but $tmp/bin/$binary is missing"
  rm -rf "$tool"
  mv "$tmp" "$tool"
  say "built $binary in $((SECONDS - t0)) s"
  exec 9>&-
}

# Unpacks one Debian package without root into a cached folder, once: `deb_install <dir> <binary> <package> <version>`,
# <binary> being a path inside the package (usr/bin/...) that must exist afterwards. For packages whose programs need
# nothing beyond libc (Go programs: Prometheus, the Pushgateway); dependencies are not fetched. The pinned version
# is fetched when the archive still serves it, else the current one (Debian replaces versions on security updates).
# A lock serialises parallel callers; the package is unpacked to <dir>.tmp and moved into place once complete.
deb_install() {
  local dir=$1 binary=$2 package=$3 version=$4
  [ -x "$dir/$binary" ] && return
  command -v apt-get >/dev/null 2>&1 || die "needs apt-get (a Debian/Ubuntu machine) to fetch Debian's $package package"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.$(basename "$dir").lock"
  flock 9
  if [ -x "$dir/$binary" ]; then exec 9>&-; return; fi
  say "downloading Debian's $package $version into $dir (first run only)"
  local tmp="$dir.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp/debs"
  (cd "$tmp/debs" && { apt-get download -q "$package=$version" >/dev/null 2>&1 || apt-get download -q "$package" >/dev/null 2>&1; }) ||
    die "apt-get download $package failed (run apt-get update?)"
  for deb in "$tmp"/debs/*.deb; do dpkg -x "$deb" "$tmp"; done
  rm -rf "$tmp/debs"
  [ -x "$tmp/$binary" ] || die "unpacked $package but $tmp/$binary is missing"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  exec 9>&-
}

# True when GET $1 answers 200 within 2 s.
http_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" = 200 ]; }

# Waits for a server just started as pid $1 until the command `$6...` succeeds, checking every $3 s:
# `wait_ready <pid> <timeout s> <interval s> <name> <where its logs are> <check command...>`.
# If the process exits, the tail of $LOG is shown and the script dies; if it is not ready within the
# timeout, it is stopped (the script's stop) and the script dies.
wait_ready() {
  local pid=$1 timeout=$2 interval=$3 name=$4 logs=$5
  shift 5
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      tail -n 20 "$LOG" >&2
      die "$name exited during startup ($logs)"
    fi
    [ $SECONDS -lt $deadline ] || { stop; die "$name not ready on $(url) after $timeout s ($logs)"; }
    sleep "$interval"
  done
}
