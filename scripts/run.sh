#!/usr/bin/env bash
# The main job, locally: moto + the Overstock sandbox on loopback, a demo company set up with
# overstockctl, ~50 sandbox orders, order-download run twice through `cargo lambda watch` +
# `cargo lambda invoke`, the orders listed. Stops everything it started.
source "$(dirname "$0")/lib.sh"

ensure_venv
log "building the sandbox, overstockctl and order-download"
cargo build --locked -p overstock-sandbox -p overstockctl -p order-download

start_moto
start_sandbox debug
export TABLE_PREFIX="demo-"
CTL="target/debug/overstockctl"
USER_NAME="demo-furniture"

log "sandbox: account $USER_NAME (warehouse ACME MAIN)"
PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')"
curl -fsS -X POST "$SANDBOX_URL/admin/accounts" -H 'content-type: application/json' \
  -d "{\"username\":\"$USER_NAME\",\"password\":\"$PASSWORD\",\"warehouse\":\"ACME MAIN\"}" >/dev/null
# The local credentials provider: a file mapping credentials_ref to user and password.
export CREDENTIALS_SOURCE=file CREDENTIALS_FILE="$DEV/credentials.json"
umask 077
printf '{"%s":{"username":"%s","password":"%s"}}\n' "$USER_NAME" "$USER_NAME" "$PASSWORD" >"$CREDENTIALS_FILE"

log "overstockctl: tables, company, settings, shipping method mappings"
$CTL tables create
$CTL company create demo --name "Demo Furniture" --warehouse "ACME MAIN" \
  --api-base-url "$SANDBOX_URL" --credentials-ref "$USER_NAME" --download on --acknowledgement on
$CTL mapping set demo GROUND --shipping-method "FedEx Home Delivery" --code-to-send FEDEX
$CTL mapping set demo next_day --shipping-method "UPS Next Day Air" --code-to-send UPS --rush
$CTL mapping set demo TWO_DAY --shipping-method "UPS 2nd Day Air" --code-to-send UPS
$CTL mapping set demo DOCK --shipping-method "LTL Freight" --code-to-send FXFE
$CTL mapping list demo

log "sandbox: 50 orders over the last 3 hours (rush, LTL, one unmapped code WHITE_GLOVE)"
python3 - "$SANDBOX_URL" "$USER_NAME" <<'PY'
import json, sys, urllib.request, datetime as dt
base, user = sys.argv[1], sys.argv[2]
now = dt.datetime.now(dt.timezone.utc)
body = {"count": 50, "from": (now - dt.timedelta(hours=3)).isoformat(), "to": (now - dt.timedelta(minutes=1)).isoformat(),
        "prefix": "OSTK-", "seed": 42, "ltl_every": 20, "unknown_codes": 1}
req = urllib.request.Request(f"{base}/admin/accounts/{user}/orders/generate", data=json.dumps(body).encode(),
                             headers={"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req))["count"], "orders seeded")
PY

# The company's API base URL points at the sandbox; watch passes its environment to the function.
LAMBDA_PORT="$(free_port)"
log "cargo lambda watch on 127.0.0.1:$LAMBDA_PORT"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" --timeout 120 \
  --package order-download >"$DEV/watch.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do  # a plain TCP check: any HTTP request to watch would invoke a function
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $LAMBDA_PORT), 1)" 2>/dev/null && break
  sleep 0.3
done

invoke() {
  cargo lambda invoke order-download --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" \
    --data-file events/scheduled.json >"$DEV/invoke-$1.json"
  python3 - "$DEV/invoke-$1.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
for c in run["companies"]:
    print(f'  {c["company_id"]}: {c["outcome"]}, windows {c["windows"]}, seen {c["orders_seen"]}, new {c["new"]}, '
          f'already known {c["already_known"]}, unmapped {c["unmapped"]} {c["unmapped_orders"]}, '
          f'acknowledged {c["acknowledged"]}, errors {len(c["errors"])}')
PY
}

log "order-download, first run"
invoke 1
log "order-download, second run (nothing new, nothing acknowledged twice)"
invoke 2
python3 - "$DEV/invoke-2.json" <<'PY'
import json, sys
first = json.load(open(sys.argv[1].replace("invoke-2", "invoke-1")))["companies"][0]
c = json.load(open(sys.argv[1]))["companies"][0]
assert first["outcome"] == "completed" and first["new"] == 50 and first["unmapped"] == 1, first
assert c["outcome"] == "completed" and c["new"] == 0 and c["acknowledged"] == 0, c
print("  second run: 0 new, 0 acknowledged: no duplicates")
PY

log "orders as the seller sees them (overstockctl orders list demo)"
$CTL orders list demo
log "orders needing attention"
$CTL orders list demo --attention
log "acknowledgements Overstock (the sandbox) received"
curl -fsS "$SANDBOX_URL/admin/accounts/$USER_NAME/received?endpoint=/acknowledgements" | python3 -c '
import json, sys
msgs = json.load(sys.stdin)
n = [e["order_number"] for m in msgs for e in m["elements"]]
print(f"  {len(msgs)} message(s), {len(n)} orders, {len(set(n))} distinct")'
log "done; stopping moto, the sandbox and cargo lambda watch"
