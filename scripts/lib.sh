# Shared helpers for the run, test and bench scripts. Source it; do not run it.
# Everything started here listens on loopback and is stopped by the EXIT trap.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEV="$ROOT/.dev"
mkdir -p "$DEV"
PIDS=()

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# A clean CI build needs no incremental cache: without it the target directory is a third smaller
# and nothing is slower on a first build (docs/decisions.md "CI disk"). A developer's loop keeps it.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi

# Stops at once when less than the given gigabytes are free where the clone is (the test command's
# figure: a fresh clone's measured peak plus a margin, README "The two commands"), instead of a
# linker crash minutes later.
ensure_disk() { # gigabytes
  local need="$1" free_kb
  free_kb="$(df -Pk "$ROOT" | awk 'NR==2 {print $4}')"
  if [ -n "$free_kb" ] && [ "$free_kb" -lt $((need * 1024 * 1024)) ]; then
    echo "only $((free_kb / 1024)) MB free under $ROOT; the build needs about ${need} GB: free some space (cargo clean in other checkouts) and run again" >&2
    return 1
  fi
}

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

# Debian's Chromium and ChromeDriver for the console's browser test (system packages: no
# browser download). Started in the background by the test command (it overlaps the build);
# `wait_chromium` waits for it. Needs root or sudo the first time.
CHROMIUM_LOG="$DEV/chromium-install.log"
ensure_chromium() {
  chromium_pid=""
  if [ -x "${CHROMEDRIVER:-/usr/bin/chromedriver}" ] && [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then return 0; fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "chromium and chromium-driver are missing: install them (apt-get install chromium chromium-driver) or run as root" >&2; return 1; }
    sudo="sudo -n"
  fi
  log "installing Debian's chromium and chromium-driver in the background (log: $CHROMIUM_LOG)"
  ( export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver ) \
    >"$CHROMIUM_LOG" 2>&1 &
  chromium_pid=$!
}
wait_chromium() {
  if [ -n "${chromium_pid:-}" ]; then
    wait "$chromium_pid" || { tail -20 "$CHROMIUM_LOG" >&2; echo "installing chromium failed" >&2; return 1; }
    log "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || true)"
  fi
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

# A sandbox account for a company and the local credentials file that names it (exports
# CREDENTIALS_SOURCE, CREDENTIALS_FILE). The password is random and only in that file (0600).
local_account() { # user warehouse [credentials file, default .dev/credentials.json]
  local password
  password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')"
  curl -fsS -X POST "$SANDBOX_URL/admin/accounts" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$password\",\"warehouse\":\"$2\"}" >/dev/null
  export CREDENTIALS_SOURCE=file CREDENTIALS_FILE="${3:-$DEV/credentials.json}"
  (umask 077 && printf '{"%s":{"username":"%s","password":"%s"}}\n' "$1" "$1" "$password" >"$CREDENTIALS_FILE")
}

# The template's queues on moto's SQS, named PREFIX…: cancel and refund requests (DLQ after 3
# receives), outcomes, inventory intake, and a work queue per flow with its DLQ. Prints the
# exports the functions and overstockctl read (eval it).
local_queues() { # prefix
  python3 - "$AWS_ENDPOINT_URL" "$1" <<'PY'
import boto3, json, sys
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1")
prefix = sys.argv[2]
def queue(name, **attrs):
    return sqs.create_queue(QueueName=prefix + name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]
def with_dlq(name, visibility):
    dlq = queue(f"{name}-dlq")
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue(name, VisibilityTimeout=visibility, RedrivePolicy=json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "3"})), dlq
env = {}
env["CANCEL_QUEUE_URL"], env["CANCEL_REQUESTS_DLQ_URL"] = with_dlq("cancel-requests", 2)
env["REFUND_QUEUE_URL"], env["REFUND_REQUESTS_DLQ_URL"] = with_dlq("refund-requests", 2)
env["OUTCOMES_QUEUE_URL"] = queue("request-outcomes")
env["INVENTORY_INTAKE_QUEUE_URL"], env["INVENTORY_INTAKE_DLQ_URL"] = with_dlq("inventory-intake", 2)
for flow in ["download", "upload", "inventory", "reconcile"]:
    env[f"WORK_QUEUE_{flow.upper()}_URL"], env[f"WORK_QUEUE_{flow.upper()}_DLQ_URL"] = with_dlq(f"work-{flow}", 30)
for k, v in env.items():
    print(f"export {k}={v}")
PY
}

# `cargo lambda watch` on a free loopback port (LAMBDA_PORT), logs in .dev/watch.log; it builds
# the functions on their first invocation and passes this environment to them.
start_watch() {
  LAMBDA_PORT="$(free_port)"
  log "cargo lambda watch on 127.0.0.1:$LAMBDA_PORT"
  cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" --timeout 120 \
    >"$DEV/watch.log" 2>&1 &
  PIDS+=($!)
  WATCH_PID=$!
  for _ in $(seq 1 100); do  # a plain TCP check: any HTTP request to watch would invoke a function
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $LAMBDA_PORT), 1)" 2>/dev/null && return 0
    sleep 0.3
  done
  echo "cargo lambda watch did not come up (see $DEV/watch.log)" >&2
  return 1
}
