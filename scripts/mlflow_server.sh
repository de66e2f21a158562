#!/usr/bin/env bash
# A real MLflow tracking server for the export-mlflow end-to-end test, started by
# scripts/test.sh rather than by the Rust test itself: the server (uvicorn workers and
# MLflow's job runner) lives in a session of its own, and test.sh stops that whole session
# when it exits.
#
#   scripts/mlflow_server.sh start DIR   installs MLflow into .venv-mlflow if needed, starts
#                                        it on a free loopback port with a SQLite store in
#                                        DIR, waits for /health, prints its URI
#   scripts/mlflow_server.sh stop DIR    stops the server started in DIR
set -euo pipefail
cd "$(dirname "$0")/.."
cmd="${1:?usage: mlflow_server.sh start|stop DIR}"
dir="${2:?usage: mlflow_server.sh start|stop DIR}"

start() {
  if [ ! -x .venv-mlflow/bin/mlflow ]; then
    echo "mlflow_server.sh: installing MLflow 3.17.2 into .venv-mlflow" >&2
    python3 -m venv .venv-mlflow
    # 3.17.2: the newest release whose mlflow-skinny is on PyPI as well.
    .venv-mlflow/bin/pip install --quiet --disable-pip-version-check mlflow==3.17.2 >&2
  fi
  mkdir -p "$dir"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # setsid without job control execs in place: $! is the server, its session and its group.
  setsid nohup .venv-mlflow/bin/mlflow server --host 127.0.0.1 --port "$port" \
    --backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts" \
    >"$dir/server.log" 2>&1 </dev/null &
  echo $! >"$dir/server.pid"
  local uri="http://127.0.0.1:$port"
  for _ in $(seq 240); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' \
      "$uri" 2>/dev/null; then
      echo "$uri"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "mlflow_server.sh: MLflow did not come up on $uri; its log, $dir/server.log:" >&2
  tail -n 30 "$dir/server.log" >&2
  stop
  return 1
}

stop() {
  [ -f "$dir/server.pid" ] || return 0
  local pid
  pid=$(cat "$dir/server.pid")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 40); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$dir/server.pid"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "mlflow_server.sh: unknown command $cmd (start or stop)" >&2; exit 2 ;;
esac
