# Shared helpers for the run, test and bench scripts. Source it; do not run it.
# Everything started here listens on loopback and is stopped by the EXIT trap.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEV="$ROOT/.dev"
mkdir -p "$DEV"
PIDS=()

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# A Python venv with the pinned tools (moto, cargo-lambda, cfn-lint). Idempotent.
ensure_venv() {
  if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/cargo-lambda ] || [ ! -x .venv/bin/cfn-lint ]; then
    log "installing moto, cargo-lambda and cfn-lint into .venv"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check \
      "moto[dynamodb,sqs]==5.2.5" flask flask-cors "cargo-lambda==1.9.2" "cfn-lint==1.53.3"
  fi
  export PATH="$ROOT/.venv/bin:$PATH"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url what
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not come up at $1" >&2
  return 1
}

stop_all() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
}
trap stop_all EXIT

# AWS SDK settings for moto (never real credentials).
aws_local_env() {
  export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
}

start_moto() {
  MOTO_PORT="${MOTO_PORT:-$(free_port)}"
  log "starting moto on 127.0.0.1:$MOTO_PORT"
  .venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$DEV/moto.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" moto
  aws_local_env
}

# Needs target/<profile>/overstock-sandbox built.
start_sandbox() { # profile
  SANDBOX_PORT="${SANDBOX_PORT:-$(free_port)}"
  log "starting the Overstock sandbox on 127.0.0.1:$SANDBOX_PORT"
  "target/${1:-debug}/overstock-sandbox" --host 127.0.0.1 --port "$SANDBOX_PORT" >"$DEV/sandbox.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$SANDBOX_PORT/admin/health" sandbox
  export SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
  # Local runs only: credentials may go over plain http to a literal loopback address.
  export OVERSTOCK_ALLOW_LOOPBACK=true
}
