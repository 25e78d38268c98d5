# Pid-file handling shared by scripts/s3-server.sh and scripts/toxiproxy.sh (sourced, not run).
# The caller sets PIDFILE, BIN (the server binary), PORT and NAME, and defines say().

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
