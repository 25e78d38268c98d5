# Pid-file handling and cached Go builds shared by scripts/s3-server.sh, scripts/weaviate-server.sh and
# scripts/toxiproxy.sh (sourced, not run). The caller sets PIDFILE, BIN (the server binary), PORT and
# NAME, and defines say().

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

# Builds one Go command into a cached tool folder, once: `go_install_tool <tool-dir> <binary> <pkg@version> <eta>`.
# A lock serialises parallel callers; the build goes to <tool-dir>.tmp and is moved into place only
# when <tool-dir>/bin/<binary> exists, so an interrupted build never leaves a half tool behind.
# The caller sets CACHE and defines say() and die().
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

# True when GET $1 answers 200 within 2 s.
http_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" = 200 ]; }

# Waits for a server just started as pid $1 until the command `$6...` succeeds, checking every $3 s:
# `wait_ready <pid> <timeout s> <interval s> <name> <where its logs are> <check command...>`.
# If the process exits, the tail of $LOG is shown and the script dies; if it is not ready within the
# timeout, it is stopped (the caller's stop()) and the script dies. The caller sets PIDFILE and LOG
# and defines url(), stop() and die().
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
