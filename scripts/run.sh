#!/usr/bin/env bash
# The main job, locally: moto + the Overstock sandbox on loopback, a demo company set up with
# overstockctl, ~50 sandbox orders, order-download run twice through `cargo lambda watch` +
# `cargo lambda invoke`, shipments recorded with `overstockctl ship` (one for an order Overstock
# cancelled meanwhile), tracking-upload run twice, orders and failed uploads listed; then cancel,
# refund and RMA requests queued with overstockctl on moto's SQS, fed to cancel-request and
# refund-request by the local pump (sqs-pump), the short ship sent by a third upload run, and the
# requests, their outcomes and what Overstock received shown.
# Stops everything it started.
source "$(dirname "$0")/lib.sh"

ensure_venv
log "building the sandbox, overstockctl, sqs-pump and the six functions the demo runs"
cargo build --locked -p overstock-sandbox -p overstockctl -p order-download -p tracking-upload -p sqs-pump \
  -p cancel-request -p refund-request -p inventory-intake -p inventory-push

start_moto
start_sandbox debug
export TABLE_PREFIX="demo-"
CTL="target/debug/overstockctl"
USER_NAME="demo-furniture"

log "sandbox: account $USER_NAME (warehouse ACME MAIN); credentials in $DEV/credentials.json"
local_account "$USER_NAME" "ACME MAIN"

log "overstockctl: tables, company, settings, shipping method mappings"
$CTL tables create
$CTL company create demo --name "Demo Furniture" --warehouse "ACME MAIN" \
  --api-base-url "$SANDBOX_URL" --credentials-ref "$USER_NAME" --download on --acknowledgement on \
  --fulfillment-upload on
$CTL mapping set demo GROUND --shipping-method "FedEx Home Delivery" --code-to-send FEDEX
$CTL mapping set demo next_day --shipping-method "UPS Next Day Air" --code-to-send UPS --rush
$CTL mapping set demo TWO_DAY --shipping-method "UPS 2nd Day Air" --code-to-send UPS
$CTL mapping set demo DOCK --shipping-method "LTL Freight" --code-to-send FXFE
echo "  the company's mappings (overstockctl mapping list demo):"
$CTL mapping list demo | sed 's/^/    /'

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

log "queues on moto's SQS: cancel and refund requests (DLQs after 3 receives), outcomes, intake, work queues"
eval "$(local_queues demo-)"
echo "  cancel $CANCEL_QUEUE_URL, refund $REFUND_QUEUE_URL, outcomes $OUTCOMES_QUEUE_URL (exported before the functions start)"

# The company's API base URL points at the sandbox; watch passes its environment to the function.
# A status pass at every run (the default waits 15 minutes between passes), so that the demo's
# third run sees the cancellation made on Overstock a moment before.
export STATUS_SYNC_PERIOD_MINUTES=0
start_watch

invoke() { # function run-name
  cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" \
    --data-file "events/$1.json" >"$DEV/$2.json"
  python3 - "$DEV/$2.json" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
for c in run["companies"]:
    if "due" in c:
        print(f'  {c["company_id"]}: {c["outcome"]}, due {c["due"]}, unchanged {c["unchanged"]}, sent {c["sent"]} '
              f'in {c["messages"]} message(s), accepted {c["accepted"]}, rejected {c["rejected"]}, errors {len(c["errors"])}')
    elif "windows" in c:
        print(f'  {c["company_id"]}: {c["outcome"]}, windows {c["windows"]}, seen {c["orders_seen"]}, new {c["new"]}, '
              f'already known {c["already_known"]}, unmapped {c["unmapped"]}{(" (" + ", ".join(c["unmapped_orders"]) + ")") if c["unmapped_orders"] else ""}, '
              f'acknowledged {c["acknowledged"]}, errors {len(c["errors"])}')
    else:
        # `sent` counts every element sent; short ships (cancelled lines) are counted apart.
        print(f'  {c["company_id"]}: {c["outcome"]}; ship confirmations: {c["sent"] - c["short_ships"]} package line(s) sent, '
              f'{c["accepted"]} accepted, {c["rejected"]} rejected; failed for good (retry limit, or no carrier code): {c["gave_up"]}; '
              f'short ships of cancelled lines sent: {c["short_ships"]}; held by the tracking hold: {c["held"]}; '
              f'orders now ship confirmed: {c["ship_confirmed_orders"]}; '
              f'errors: {len(c["errors"])}')
        for r in c["rejections"]:
            print(f'    rejected: {r}')
PY
}

log "order-download, first run"
invoke order-download download-1
log "order-download, second run (nothing new, nothing acknowledged twice)"
invoke order-download download-2
python3 - "$DEV/download-1.json" "$DEV/download-2.json" <<'PY'
import json, sys
first = json.load(open(sys.argv[1]))["companies"][0]
c = json.load(open(sys.argv[2]))["companies"][0]
assert first["outcome"] == "completed" and first["new"] == 50 and first["unmapped"] == 1, first
assert c["outcome"] == "completed" and c["new"] == 0 and c["acknowledged"] == 0, c
print("  second run: 0 new, 0 acknowledged: no duplicates")
PY

log "order-download through its work queue, as deployed: the tick dispatches one item per company, sqs-pump feeds the worker"
cargo lambda invoke order-download --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" \
  --data-ascii '{"dispatch": "queue"}' >"$DEV/dispatch-1.json"
python3 - "$DEV/dispatch-1.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dispatched"] == 1 and not d["errors"], d
print(f'  dispatched {d["dispatched"]} of {d["companies"]} compan(ies); in flight {len(d["in_flight"])}')
PY
target/debug/sqs-pump --queue-url "$WORK_QUEUE_DOWNLOAD_URL" --function order-download --invoke-port "$LAMBDA_PORT" --until-empty | sed 's/^/  /'

log "the customer cancels OSTK-00000005 on Overstock after the download"
curl -fsS -X POST "$SANDBOX_URL/admin/accounts/$USER_NAME/orders/OSTK-00000005/cancel" >/dev/null
log "the ship-by watchdog: same-day handling and a cut-off two hours from now put the open orders at risk"
CUTOFF="$(TZ=America/Denver date -d '+2 hours' +%H:%M)"
$CTL company set demo --handling-days 0 --cutoff "$CUTOFF" --non-working-days none | tail -n 1

log "order-download, third run: the status sync reads the open orders' windows again and catches it before shipping"
invoke order-download download-3
python3 - "$DEV/download-3.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["companies"][0]
cancelled = '; '.join(f'{x["order_number"]} line(s) {", ".join(x["lines"])}' for x in c["cancelled_by_overstock"]) or 'none'
print(f'  status sync: {c["status_windows"]} window(s) read again for {c["status_checked"]} open orders; '
      f'cancelled by Overstock: {cancelled}')
assert [x["order_number"] for x in c["cancelled_by_overstock"]] == ["OSTK-00000005"], c
print(f'  ship-by watchdog: {c["at_risk"]} order(s) at risk, {c["late"]} late (flagged for attention)')
assert c["at_risk"] > 40 and c["late"] == 0, c
PY
log "the watchdog's list (overstockctl orders at-risk demo)"
$CTL orders at-risk demo | tee "$DEV/at-risk-1.txt" | { head -n 4; echo "    …"; tail -n 1; }
grep -q "at risk, 0 late" "$DEV/at-risk-1.txt" || { echo "the watchdog listed no order at risk" >&2; exit 1; }

log "the warehouse ships 39 orders: overstockctl ship (order 6 in two packages, order 7 with its own carrier; not the cancelled 5)"
python3 - "$SANDBOX_URL" "$USER_NAME" "$CTL" <<'PY'
import json, subprocess, sys, urllib.request
base, user, ctl = sys.argv[1:4]
orders = json.load(urllib.request.urlopen(f"{base}/admin/accounts/{user}/orders"))
for o in sorted(orders, key=lambda o: o["number"])[:40]:
    n, lines = o["number"], o["lines"]
    if o["status"] == "CANCELLED":
        continue
    if n.endswith("06") and lines[0]["quantity"] > 1:
        first = lines[0]
        calls = [[f'--line={first["number"]}:1', "--tracking", f"1Z{n[-4:]}A"],
                 [f'--line={first["number"]}:{first["quantity"] - 1}'] + [f'--line={l["number"]}:{l["quantity"]}' for l in lines[1:]]
                 + ["--tracking", f"1Z{n[-4:]}B"]]
    else:
        calls = [[f'--line={l["number"]}:{l["quantity"]}' for l in lines] + ["--tracking", f"1Z{n[-4:]}"]
                 + (["--carrier", "USPS"] if n.endswith("07") else [])]
    for args in calls:
        subprocess.run([ctl, "ship", "demo", n] + args, check=True, stdout=subprocess.DEVNULL)
print("  39 orders shipped")
PY

log "after the shipments, only the orders still to ship are at risk (overstockctl orders at-risk demo)"
$CTL orders at-risk demo | tee "$DEV/at-risk-2.txt" | tail -n 1
python3 - "$DEV/at-risk-1.txt" "$DEV/at-risk-2.txt" <<'PY'
import sys
before, after = (open(f).read() for f in sys.argv[1:3])
assert "OSTK-00000001 " in before and "OSTK-00000001 " not in after, "a shipped order leaves the at-risk list"
assert "OSTK-00000050 " in after, "an order not shipped stays at risk"
print("  OSTK-00000001 (shipped) cleared; OSTK-00000050 (not shipped) still at risk")
PY

log "the customer cancels OSTK-00000008 on Overstock after the warehouse shipped it (before the upload)"
curl -fsS -X POST "$SANDBOX_URL/admin/accounts/$USER_NAME/orders/OSTK-00000008/cancel" >/dev/null
log "tracking-upload, first run (Overstock rejects OSTK-00000008: the order is read again, found cancelled)"
invoke tracking-upload upload-1
log "tracking-upload, second run (the cancelled order's tracking is never retried; nothing accepted twice)"
invoke tracking-upload upload-2
python3 - "$DEV/upload-1.json" "$DEV/upload-2.json" <<'PY'
import json, sys
first = json.load(open(sys.argv[1]))["companies"][0]
second = json.load(open(sys.argv[2]))["companies"][0]
cancelled = '; '.join(f'{x["order_number"]} line(s) {", ".join(x["lines"])}' for x in first["cancelled_by_overstock"]) or 'none'
print(f'  first run: cancelled by Overstock: {cancelled}')
assert first["outcome"] == "completed" and first["rejected"] >= 1 and first["accepted"] == first["sent"] - first["rejected"], first
assert [x["order_number"] for x in first["cancelled_by_overstock"]] == ["OSTK-00000008"], first
assert second["accepted"] == 0 and second["sent"] == 0, second
print("  second run: nothing re-sent (the rejection was final: Overstock cancelled the order)")
PY

pump() { # queue-url function
  target/debug/sqs-pump --queue-url "$1" --function "$2" --invoke-port "$LAMBDA_PORT" --until-empty | sed 's/^/  /'
}

log "requests from other systems (overstockctl is one more sender, on the same queues)"
$CTL cancel demo OSTK-00000045 --line 1 --reason OUT_OF_STOCK --request-id demo-cancel-1 >/dev/null
$CTL cancel demo OSTK-00000046 --reason CUSTOMER_REQUEST --local-only --request-id demo-cancel-2 >/dev/null
$CTL refund demo OSTK-00000010 --line 1:1.00 --reason PRICE_ADJUSTMENT --request-id demo-refund-1 >/dev/null
$CTL rma open demo OSTK-00000011 RMA-11 --line 1:1 --reason CUSTOMER_RETURN --request-id demo-rma-open >/dev/null
python3 -c "import boto3,sys; boto3.client('sqs', endpoint_url='$AWS_ENDPOINT_URL', region_name='us-east-1').send_message(QueueUrl='$REFUND_QUEUE_URL', MessageBody='{\"type\": \"refund\", \"version\": 1, \"amount\": 5')"
echo "  queued: cancel a line of OSTK-00000045, cancel OSTK-00000046 locally only, refund 1.00 on OSTK-00000010,"
echo "          open RMA-11 on OSTK-00000011, and one malformed message"
log "sqs-pump: the cancel queue into cancel-request, the refund queue into refund-request"
pump "$CANCEL_QUEUE_URL" cancel-request
pump "$REFUND_QUEUE_URL" refund-request
log "the warehouse receives RMA-11's item back"
$CTL rma receive demo OSTK-00000011 RMA-11 --line 1:1 --request-id demo-rma-receive >/dev/null
pump "$REFUND_QUEUE_URL" refund-request
log "tracking hold: sent a minute after the ship date; OSTK-00000047 shipped 50 s ago is held ~10 s"
$CTL company set demo --tracking-delay-minutes 1 | grep "tracking hold"
python3 - "$CTL" "$SANDBOX_URL" "$USER_NAME" <<'PY'
import datetime as dt, json, subprocess, sys, urllib.request
ctl, base, user = sys.argv[1:4]
order = next(o for o in json.load(urllib.request.urlopen(f"{base}/admin/accounts/{user}/orders")) if o["number"] == "OSTK-00000047")
shipped = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=50)).isoformat(timespec="seconds")
lines = [f'--line={l["number"]}:{l["quantity"]}' for l in order["lines"]]
out = subprocess.run([ctl, "ship", "demo", "OSTK-00000047", *lines, "--tracking", "1ZHELD47", "--ship-date", shipped],
                     check=True, capture_output=True, text=True)
print("  " + out.stdout.strip())
PY
log "tracking-upload, third run: the short ship of the cancelled line goes out; OSTK-00000047's tracking waits"
invoke tracking-upload upload-3
$CTL uploads pending demo | sed 's/^/  /'
python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['companies'][0]; assert c['held'] >= 1, c; print(f'  held: {c[\"held\"]} package line(s)')" "$DEV/upload-3.json"
sleep 12
log "tracking-upload, fourth run: the hold is over, OSTK-00000047's tracking goes out"
invoke tracking-upload upload-4
python3 -c "import json,sys; c=json.load(open(sys.argv[1]))['companies'][0]; assert c['held'] == 0 and c['accepted'] >= 1 and c['ship_confirmed_orders'] == 1, c" "$DEV/upload-4.json"
$CTL company set demo --tracking-delay-minutes 0 >/dev/null
log "requests and their outcomes (overstockctl requests list demo)"
$CTL requests list demo
python3 - "$DEV/upload-3.json" "$AWS_ENDPOINT_URL" "$OUTCOMES_QUEUE_URL" "$SANDBOX_URL" "$USER_NAME" <<'PY'
import boto3, json, sys, urllib.request
upload, endpoint, outcomes_url, base, user = sys.argv[1:6]
u = json.load(open(upload))["companies"][0]
assert u["short_ships"] == 1, u
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
outcomes = []
while True:
    got = sqs.receive_message(QueueUrl=outcomes_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    if not got:
        break
    for m in got:
        outcomes.append(json.loads(m["Body"]))
        sqs.delete_message(QueueUrl=outcomes_url, ReceiptHandle=m["ReceiptHandle"])
by_id = {o["request_id"]: o for o in outcomes if o.get("request_id")}
print("  outcomes queue:")
for o in outcomes:
    who = o.get("request_id") or (o["order_number"] if o.get("type") == "overstock_cancellation" else "(malformed)")
    print(f'    {who}: {o["status"]}: {o["detail"]}')
announced = sorted(o["order_number"] for o in outcomes if o.get("type") == "overstock_cancellation")
assert announced == ["OSTK-00000005", "OSTK-00000008"], announced
for rid in ["demo-cancel-1", "demo-cancel-2", "demo-refund-1", "demo-rma-open", "demo-rma-receive"]:
    assert by_id[rid]["status"] == "done", (rid, by_id.get(rid))
assert any(o.get("type") != "overstock_cancellation" and o["request_id"] is None and o["status"] == "rejected" for o in outcomes), outcomes
refunds = json.load(urllib.request.urlopen(f"{base}/admin/accounts/{user}/received?endpoint=/refunds"))
ids = [e["refund_id"] for m in refunds for e in m["elements"]]
print(f"  /refunds: {len(refunds)} message(s), refund ids {ids}")
assert sorted(ids) == ["RMA-11:demo-rma-receive", "demo-refund-1"], ids
print("  every request done once; the malformed one rejected with its reason; one short ship sent")
PY

log "the refund queue's DLQ: the malformed message, kept with its reason (overstockctl dlq list)"
$CTL dlq list --queue-url "$REFUND_REQUESTS_DLQ_URL" | tee "$DEV/dlq.txt"
grep -v "retried out" "$DEV/dlq.txt" | grep -q '"amount": 5' || { echo "the malformed message is not in the DLQ" >&2; exit 1; }

log "orders as the seller sees them (overstockctl orders list demo)"
$CTL orders list demo
log "orders needing attention"
$CTL orders list demo --attention
log "does Overstock agree with us? (overstockctl reconcile demo --days 1)"
$CTL reconcile demo --days 1
log "OSTK-00000008's story with Overstock (overstockctl audit demo --order OSTK-00000008)"
$CTL audit demo --order OSTK-00000008 | tee "$DEV/audit-8.txt"
grep -q "downloaded (window" "$DEV/audit-8.txt" && grep -q "rejected: " "$DEV/audit-8.txt" \
  && grep -q "cancelled by Overstock" "$DEV/audit-8.txt" || { echo "OSTK-00000008's story is incomplete" >&2; exit 1; }
log "the last calls to Overstock (overstockctl audit demo --limit 6)"
$CTL audit demo --limit 6
log "failed uploads (overstockctl uploads failed demo)"
$CTL uploads failed demo
log "inventory: Enable Inventory Upload and Send Backorder Information on; products, POs and a container from CSV files"
$CTL company set demo --inventory-upload on --backorder-info on >/dev/null
python3 - "$DEV" <<'PY'
import datetime as dt, sys
d = sys.argv[1]
today = dt.datetime.now(dt.timezone(dt.timedelta(hours=-7))).date()  # about Denver's; dates are days apart
future, past = today + dt.timedelta(days=45), today - dt.timedelta(days=5)
open(f"{d}/products.csv", "w").write("sku,available\nACME-LAMP-IN-STOCK,12\nACME-CHAIR-ON-ORDER,0\n"
    "ACME-SOFA-NO-DATE,0\nACME-DESK-LATE,-2\nACME-RUG-NOTHING,0\n")
open(f"{d}/pos.csv", "w").write("po_number,status,sku,quantity_on_order,expected_delivery_date\n"
    f"PO-1001,open,ACME-CHAIR-ON-ORDER,40,{future}\nPO-1001,open,ACME-SOFA-NO-DATE,6,\n"
    f"PO-1002,open,ACME-DESK-LATE,8,{past}\nPO-1002,open,ACME-CHAIR-ON-ORDER,10,{future + dt.timedelta(days=30)}\n"
    f"PO-0999,received,ACME-RUG-NOTHING,5,{past}\n")
open(f"{d}/containers.csv", "w").write("container_id,status,sku,quantity_on_order,estimated_arrival_date\n"
    f"MSCU-1234567,open,ACME-RUG-NOTHING,30,{future}\n")
later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)).isoformat()
open(f"{d}/pos-2.csv", "w").write("po_number,status,sku,quantity_on_order,expected_delivery_date,updated_at\n"
    f"PO-1002,open,ACME-DESK-LATE,8,{past},{later}\n"
    f"PO-1002,open,ACME-CHAIR-ON-ORDER,25,{future + dt.timedelta(days=30)},{later}\n")
open(f"{d}/pos-bad.csv", "w").write("po_number,status,sku,quantity_on_order,expected_delivery_date\n"
    "PO-2000,open,ACME-LAMP-IN-STOCK,lots,\nPO-2000,open,ACME-LAMP-IN-STOCK,3,2027-02-30\n")
PY
$CTL products import demo "$DEV/products.csv"
$CTL pos import demo "$DEV/pos.csv"
$CTL containers import demo "$DEV/containers.csv"
echo "  a file with errors is refused whole, each error with its line:"
if $CTL pos import demo "$DEV/pos-bad.csv" 2>&1 | sed 's/^/    /'; then :; fi
if $CTL pos list demo | grep -q PO-2000; then echo "PO-2000 was written from a file with errors" >&2; exit 1; fi
log "an inventory_update on the intake queue (from the seller's system), pumped into inventory-intake"
python3 -c "import boto3,json; boto3.client('sqs', endpoint_url='$AWS_ENDPOINT_URL', region_name='us-east-1').send_message(QueueUrl='$INVENTORY_INTAKE_QUEUE_URL', MessageBody=json.dumps({'type': 'inventory_update', 'version': 1, 'company_id': 'demo', 'sku': 'ACME-LAMP-IN-STOCK', 'available': 11, 'counted_at': '$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)'}))"
pump "$INVENTORY_INTAKE_QUEUE_URL" inventory-intake
$CTL products list demo
log "what the next run sends (overstockctl inventory pending demo)"
$CTL inventory pending demo
log "inventory-push, first run: one element per row of the backorder table"
invoke inventory-push inventory-1
log "PO-1002 changes (25 chairs instead of 10); inventory-push again: that SKU only"
$CTL pos import demo "$DEV/pos-2.csv"
invoke inventory-push inventory-2
python3 - "$SANDBOX_URL" "$USER_NAME" <<'PY'
import json, sys, urllib.request
base, user = sys.argv[1:3]
msgs = json.load(urllib.request.urlopen(f"{base}/admin/accounts/{user}/received?endpoint=/inventory"))
assert len(msgs) == 2 and all(m["http_status"] == 200 for m in msgs), msgs
for i, m in enumerate(msgs, 1):
    print(f"  POST /inventory #{i}: {len(m['elements'])} element(s)")
    for e in m["elements"]:
        b = e["backorder"]
        back = "no backorder block" if b is None else f"backorder {b['quantity_on_order']} on order" + (f", expected {b['expected_available_date']}" if b["expected_available_date"] else ", no date")
        print(f"    {e['partner_sku']:<22} quantity {e['quantity']:<3} {back}")
assert len(msgs[0]["elements"]) == 5, msgs[0]
assert [e["partner_sku"] for e in msgs[1]["elements"]] == ["ACME-CHAIR-ON-ORDER"], msgs[1]
PY
log "why ACME-CHAIR-ON-ORDER is sent as it is (overstockctl inventory explain demo ACME-CHAIR-ON-ORDER)"
$CTL inventory explain demo ACME-CHAIR-ON-ORDER
$CTL audit demo --sku ACME-CHAIR-ON-ORDER

log "what the sandbox (Overstock) received"
python3 - "$SANDBOX_URL" "$USER_NAME" <<'PY'
import json, sys, urllib.request
base, user = sys.argv[1:3]
for ep in ["/acknowledgements", "/shipments", "/inventory"]:
    msgs = json.load(urllib.request.urlopen(f"{base}/admin/accounts/{user}/received?endpoint={ep}"))
    n = [e.get("order_number") or e.get("partner_sku") for m in msgs for e in m["elements"]]
    print(f"  {ep}: {len(msgs)} message(s), {len(n)} elements, {len(set(n))} {'SKUs' if ep == '/inventory' else 'orders'}, "
          f"{sum(1 for m in msgs if m['http_status'] != 200)} answered 400")
PY
log "done in ${SECONDS} s; stopping moto, the sandbox and cargo lambda watch"
