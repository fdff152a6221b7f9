#!/usr/bin/env bash
# The local world for running one function by hand (docs/local.md):
#   scripts/local.sh           brings up moto and the sandbox on loopback, the tables, the queues,
#                              the company `demo` with its mappings, orders and products, writes
#                              the exports to .dev/local.env and stays up until Ctrl-C;
#   scripts/local.sh --check   the same, then invokes every file in events/ against it (in the
#                              order docs/local.md gives), checks what each did, and stops.
# In the world as it comes, each events/ file has something to do: 15 orders downloaded (OSTK-7
# unshipped with two lines, OSTK-12 and OSTK-15 shipped and confirmed to Overstock), three of them
# shipped but not yet uploaded, three new orders waiting on Overstock, two products counted.
source "$(dirname "$0")/lib.sh"

MODE="${1:-up}"
case "$MODE" in
  up | --check) ;;
  *) echo "usage: scripts/local.sh [--check]" >&2; exit 2 ;;
esac

ensure_venv
log "building the sandbox, overstockctl, sqs-pump and the seven functions"
cargo build --locked -p overstock-sandbox -p overstockctl -p sqs-pump -p order-download -p tracking-upload \
  -p cancel-request -p refund-request -p inventory-intake -p inventory-push -p reconcile

start_moto
start_sandbox debug
CTL="target/debug/overstockctl"
USER_NAME="demo-furniture"
log "sandbox account $USER_NAME; credentials in $DEV/credentials.json"
local_account "$USER_NAME" "ACME MAIN"
log "queues on moto's SQS (requests, outcomes, intake, a work queue per flow, their DLQs)"
eval "$(local_queues local-)"
# A status pass at every run, so that a cancellation made in the sandbox is seen by the next one.
export STATUS_SYNC_PERIOD_MINUTES=0

log "overstockctl: tables, the company demo (every flow on), four shipping method mappings"
$CTL tables create
$CTL company create demo --name "Demo Furniture" --warehouse "ACME MAIN" \
  --api-base-url "$SANDBOX_URL" --credentials-ref "$USER_NAME" --download on --acknowledgement on \
  --fulfillment-upload on --inventory-upload on --backorder-info on >/dev/null
$CTL mapping set demo GROUND --shipping-method "FedEx Home Delivery" --code-to-send FEDEX >/dev/null
$CTL mapping set demo NEXT_DAY --shipping-method "UPS Next Day Air" --code-to-send UPS --rush >/dev/null
$CTL mapping set demo TWO_DAY --shipping-method "UPS 2nd Day Air" --code-to-send UPS >/dev/null
$CTL mapping set demo DOCK --shipping-method "LTL Freight" --code-to-send FXFE >/dev/null
$CTL mapping list demo

# Orders OSTK-00000001..N, one line per SKU given, created a few minutes apart before now.
seed_orders() { # first last minutes-ago-of-first
  python3 - "$SANDBOX_URL" "$USER_NAME" "$@" <<'PY'
import datetime as dt, json, sys, urllib.request
base, user, first, last, ago = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
now = dt.datetime.now(dt.timezone.utc)
skus = [("ACME-CHAIR-BLK", "129.00"), ("ACME-LAMP-BRS", "44.99"), ("ACME-SOFA-GRY", "899.00"), ("ACME-RUG-RED", "210.50")]
for n in range(first, last + 1):
    # The events' orders: 7 has two lines (cancel-request cancels line 2), 12's line 1 is a
    # 44.99 lamp (refund-request), 15's line 1 is two chairs (the RMA events).
    if n == 7:
        lines = [(skus[0], 1), (skus[3], 1)]
    elif n == 12:
        lines = [(skus[1], 1)]
    elif n == 15:
        lines = [(skus[0], 2)]
    else:
        lines = [(skus[n % 4], 1 + n % 2)]
    created = now - dt.timedelta(minutes=ago - (n - first) * 2)
    body = {"order_number": f"OSTK-{n:08d}", "created": created.isoformat(), "service_level_code": ["GROUND", "NEXT_DAY", "TWO_DAY"][n % 3],
            "lines": [{"partner_sku": s, "quantity": q, "item_price": p} for (s, p), q in lines]}
    req = urllib.request.Request(f"{base}/admin/accounts/{user}/orders", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    urllib.request.urlopen(req).read()
print(f"  OSTK-{first:08d} .. OSTK-{last:08d} on Overstock")
PY
}

log "sandbox: 15 orders on Overstock (for the first download)"
seed_orders 1 15 90
log "products: two counted (ACME-CHAIR-BLK is left to events/inventory-update.json)"
printf 'sku,available\nACME-LAMP-BRS,12\nACME-SOFA-GRY,0\n' >"$DEV/local-products.csv"
$CTL products import demo "$DEV/local-products.csv"

start_watch
invoke() { # function data-file output
  cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" --data-file "$2" >"$3"
}
log "order-download: the 15 orders downloaded, mapped and acknowledged"
invoke order-download events/order-download.json "$DEV/local-download-0.json"
python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['companies'][0]; assert c['new']==15, c; print('  15 new orders')" "$DEV/local-download-0.json"
log "the warehouse ships OSTK-00000012 and OSTK-00000015; tracking-upload confirms them to Overstock"
$CTL ship demo OSTK-00000012 --line 1:1 --tracking 1ZLOCAL0012 >/dev/null
$CTL ship demo OSTK-00000015 --line 1:2 --tracking 1ZLOCAL0015 >/dev/null
invoke tracking-upload events/tracking-upload.json "$DEV/local-upload-0.json"
python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['companies'][0]; assert c['accepted']==2 and c['ship_confirmed_orders']==2, c; print('  2 orders ship confirmed')" "$DEV/local-upload-0.json"
log "left for the events: OSTK-00000001..3 shipped (not uploaded), OSTK-00000016..18 new on Overstock"
for n in 1 2 3; do
  $CTL ship demo "OSTK-0000000$n" --line "1:$((1 + n % 2))" --tracking "1ZLOCAL000$n" >/dev/null
done
seed_orders 16 18 5

ENV_FILE="$DEV/local.env"
{
  echo "# The local world's settings (scripts/local.sh writes this file; source it in each shell)."
  echo "export PATH=\"$ROOT/.venv/bin:\$PATH\""
  for v in AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
    AWS_EC2_METADATA_DISABLED CREDENTIALS_SOURCE CREDENTIALS_FILE OVERSTOCK_ALLOW_LOOPBACK SANDBOX_URL \
    STATUS_SYNC_PERIOD_MINUTES CANCEL_QUEUE_URL CANCEL_REQUESTS_DLQ_URL REFUND_QUEUE_URL REFUND_REQUESTS_DLQ_URL \
    OUTCOMES_QUEUE_URL INVENTORY_INTAKE_QUEUE_URL INVENTORY_INTAKE_DLQ_URL \
    WORK_QUEUE_DOWNLOAD_URL WORK_QUEUE_DOWNLOAD_DLQ_URL WORK_QUEUE_UPLOAD_URL WORK_QUEUE_UPLOAD_DLQ_URL \
    WORK_QUEUE_INVENTORY_URL WORK_QUEUE_INVENTORY_DLQ_URL WORK_QUEUE_RECONCILE_URL WORK_QUEUE_RECONCILE_DLQ_URL; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
} >"$ENV_FILE"

if [ "$MODE" = up ]; then
  kill "$WATCH_PID" 2>/dev/null || true
  wait "$WATCH_PID" 2>/dev/null || true
  log "the local world is up: moto $AWS_ENDPOINT_URL, the sandbox $SANDBOX_URL, company demo"
  cat <<EOF
In another terminal, watch the functions (they read the exports; logs appear there):
    source .dev/local.env && cargo lambda watch
and in a third, invoke one with its event (docs/local.md says what each does and how to see it):
    source .dev/local.env && cargo lambda invoke cancel-request --data-file events/cancel-request.json
    target/debug/overstockctl requests show demo erp-cancel-000123
Ctrl-C here stops moto and the sandbox (the world lives in memory: the next start is fresh).
EOF
  wait
  exit 0
fi

log "--check: every file in events/, in docs/local.md's order"
CHECKS="$DEV/local-checks"
rm -rf "$CHECKS" && mkdir -p "$CHECKS"
run_event() { # function event
  echo "  cargo lambda invoke $1 --data-file events/$2.json"
  invoke "$1" "events/$2.json" "$CHECKS/$2.json"
}
run_event order-download order-download
run_event order-download work-download
run_event tracking-upload tracking-upload
run_event cancel-request cancel-request
run_event refund-request refund-request
run_event refund-request rma-open-request
run_event refund-request rma-receive-request
run_event refund-request rma-close-request
run_event inventory-intake inventory-update
run_event inventory-intake purchase-order
run_event inventory-intake shipping-container
run_event inventory-push inventory-push
run_event reconcile reconcile
for id in erp-cancel-000123 helpdesk-refund-000456 wms-rma-open-000789 wms-rma-recv-000790 wms-rma-close-000791; do
  $CTL requests show demo "$id" >"$CHECKS/request-$id.txt"
done
$CTL products list demo >"$CHECKS/products.txt"
python3 - "$CHECKS" "$SANDBOX_URL" "$USER_NAME" <<'PY'
import json, os, sys, urllib.request
d, base, user = sys.argv[1:4]
def load(name):
    return json.load(open(os.path.join(d, f"{name}.json")))
def received(endpoint):
    return json.load(urllib.request.urlopen(f"{base}/admin/accounts/{user}/received?endpoint={endpoint}"))
failures = []
def check(what, ok, detail):
    print(f"  {'ok ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(f"{what}: {detail}")

c = load("order-download")["companies"][0]
check("order-download: the 3 new orders downloaded", c["outcome"] == "completed" and c["new"] == 3, c)
w = load("work-download")
check("work-download: the work item worked, nothing to retry", w == {"batchItemFailures": []}, w)
u = load("tracking-upload")["companies"][0]
check("tracking-upload: the 3 shipped orders confirmed", u["outcome"] == "completed" and u["ship_confirmed_orders"] == 3 and u["rejected"] == 0, u)
for name in ["cancel-request", "refund-request", "rma-open-request", "rma-receive-request", "rma-close-request",
             "inventory-update", "purchase-order", "shipping-container"]:
    r = load(name)
    check(f"{name}: no message left for redelivery", r == {"batchItemFailures": []}, r)
for rid in ["erp-cancel-000123", "helpdesk-refund-000456", "wms-rma-open-000789", "wms-rma-recv-000790", "wms-rma-close-000791"]:
    rec = json.load(open(os.path.join(d, f"request-{rid}.txt")))
    check(f"request {rid} ({rec['kind']}, {rec['order_number']}): {rec['state']['state']}: {rec['state'].get('summary')}",
          rec["state"]["state"] == "done" and rec["failures"] == 0, rec)
ids = sorted(e["refund_id"] for m in received("/refunds") for e in m["elements"])
check("Overstock received the refund and the RMA's refund", "helpdesk-refund-000456" in ids and any(i.startswith("RMA-789") for i in ids), ids)
products = open(os.path.join(d, "products.txt")).read()
chair = next((l for l in products.splitlines() if l.startswith("ACME-CHAIR-BLK ")), "")
check("the intake events recorded ACME-CHAIR-BLK (0 available) with PO-1001 and MSCU-1234567",
      chair.split()[1:2] == ["0"] and "PO PO-1001: 40" in chair and "MSCU-1234567: 30" in chair, products)
p = load("inventory-push")["companies"][0]
skus = [e["partner_sku"] for m in received("/inventory") for e in m["elements"]]
check("inventory-push: ACME-CHAIR-BLK sent with the others", p["outcome"] == "completed" and "ACME-CHAIR-BLK" in skus and p["sent"] >= 3, (p, skus))
r = load("reconcile")
rep = r[0]["report"] if isinstance(r, list) and r and r[0].get("error") is None else {}
check("reconcile: demo checked, 18 orders on both sides, no finding",
      rep.get("findings") == [] and rep.get("stored_orders") == rep.get("overstock_orders") == 18, r)
invoked = {f[:-5] for f in os.listdir(d) if f.endswith(".json")}
present = {f[:-5] for f in os.listdir("events") if f.endswith(".json")}
check("every file in events/ was invoked", invoked == present, f"not invoked: {sorted(present - invoked)}")
if failures:
    sys.exit("events that did not work against the local world:\n  " + "\n  ".join(failures))
print("  every file in events/ worked against the local world")
PY
