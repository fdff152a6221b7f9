#!/usr/bin/env bash
# The console on a local world whose schedule runs (README, "The console"; docs/console.md):
#   moto and the sandbox on loopback, the tables and the template's queues, the company `shop`
#   with mappings for three of its shipping codes, and on Overstock: OSTK-00000101..104 (one with
#   the code WHITE_GLOVE that nothing maps), of which OSTK-00000102 is shipped with a tracking
#   number Overstock refuses (a failed upload);
#   the functions under `cargo lambda watch`, invoked as EventBridge and SQS would: order-download
#   and tracking-upload every 15 s, the cancel and refund queues pumped into their functions;
#   then `overstockctl console` on 127.0.0.1:${CONSOLE_PORT:-8700}, whose one-time URL it prints.
# Ctrl-C stops everything (the world lives in memory: the next start is fresh).
#   scripts/console.sh --check   the same world, checked through the console over HTTP, then stops.
source "$(dirname "$0")/lib.sh"

MODE="${1:-up}"
case "$MODE" in
  up | --check) ;;
  *) echo "usage: scripts/console.sh [--check]" >&2; exit 2 ;;
esac

ensure_venv
log "building the sandbox, overstockctl, sqs-pump and the functions the console's tasks use"
cargo build --locked -p overstock-sandbox -p overstockctl -p sqs-pump -p order-download -p tracking-upload \
  -p cancel-request -p refund-request

start_moto
start_sandbox debug
CTL="target/debug/overstockctl"
USER_NAME="shop-furniture"
local_account "$USER_NAME" "SHOP MAIN" "$DEV/console-credentials.json"  # not the local world's file
eval "$(local_queues console-)"
# One refusal makes a failed upload (the default is 5), so the world has one at once.
export UPLOAD_MAX_ATTEMPTS=1 STATUS_SYNC_PERIOD_MINUTES=0

log "the company shop (download, acknowledgement and upload on) and three mappings"
$CTL tables create >/dev/null
$CTL company create shop --name "Shop & Co" --warehouse "SHOP MAIN" --api-base-url "$SANDBOX_URL" \
  --credentials-ref "$USER_NAME" --download on --acknowledgement on --fulfillment-upload on \
  --initial-lookback-hours 6 >/dev/null
$CTL mapping set shop GROUND --shipping-method "FedEx Home Delivery" --code-to-send FEDEX >/dev/null
$CTL mapping set shop NEXT_DAY --shipping-method "UPS Next Day Air" --code-to-send UPS --rush >/dev/null
$CTL mapping set shop TWO_DAY --shipping-method "UPS 2nd Day Air" --code-to-send UPS >/dev/null

log "sandbox: OSTK-00000101..104 on Overstock (103 with WHITE_GLOVE, which nothing maps)"
python3 - "$SANDBOX_URL" "$USER_NAME" <<'PY'
import datetime as dt, json, sys, urllib.request
base, user = sys.argv[1], sys.argv[2]
now = dt.datetime.now(dt.timezone.utc)
for i, (code, sku, price) in enumerate([("GROUND", "SHOP-CHAIR", "129.00"), ("NEXT_DAY", "SHOP-LAMP", "44.99"),
                                        ("WHITE_GLOVE", "SHOP-SOFA", "899.00"), ("TWO_DAY", "SHOP-RUG", "210.50")]):
    body = {"order_number": f"OSTK-{101 + i:08d}", "created": (now - dt.timedelta(minutes=40 - 5 * i)).isoformat(),
            "service_level_code": code, "lines": [{"partner_sku": sku, "quantity": 1, "item_price": price}]}
    req = urllib.request.Request(f"{base}/admin/accounts/{user}/orders", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    urllib.request.urlopen(req).read()
PY

start_watch
invoke() { # function data-file
  cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" --data-file "$2" >/dev/null
}
log "order-download: the four orders downloaded (one unmapped)"
invoke order-download events/order-download.json
log "OSTK-00000102 shipped with a tracking number Overstock refuses: a failed upload"
curl -fsS -X PUT "$SANDBOX_URL/admin/accounts/$USER_NAME/faults" -H 'content-type: application/json' \
  -d '{"reject_tracking": ["1ZREFUSED0102"]}' >/dev/null
$CTL ship shop OSTK-00000102 --line 1:1 --tracking 1ZREFUSED0102 >/dev/null
invoke tracking-upload events/tracking-upload.json
# From now on the carrier knows the number: a reset upload is accepted.
curl -fsS -X PUT "$SANDBOX_URL/admin/accounts/$USER_NAME/faults" -H 'content-type: application/json' -d '{}' >/dev/null

# The schedule's period: 15 s (--check: 2 s, so that it does the four tasks quickly).
if [ "$MODE" = --check ]; then TICK=2; else TICK=15; fi
log "the schedule: order-download and tracking-upload every $TICK s; the request queues pumped"
( while :; do
    sleep "$TICK"
    invoke order-download events/order-download.json || true
    invoke tracking-upload events/tracking-upload.json || true
  done ) >"$DEV/console-schedule.log" 2>&1 &
PIDS+=($!)
target/debug/sqs-pump --queue-url "$CANCEL_QUEUE_URL" --function cancel-request --invoke-port "$LAMBDA_PORT" \
  >"$DEV/console-pump-cancel.log" 2>&1 &
PIDS+=($!)
target/debug/sqs-pump --queue-url "$REFUND_QUEUE_URL" --function refund-request --invoke-port "$LAMBDA_PORT" \
  >"$DEV/console-pump-refund.log" 2>&1 &
PIDS+=($!)

if [ "$MODE" = --check ]; then PORT=0; else PORT="${CONSOLE_PORT:-8700}"; fi
$CTL console --port "$PORT" >"$DEV/console-url" 2>"$DEV/console.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$DEV/console-url" ] && break; sleep 0.1; done
URL="$(head -1 "$DEV/console-url")"
[ -n "$URL" ] || { cat "$DEV/console.log" >&2; exit 1; }

if [ "$MODE" = up ]; then
  log "the console is up"
  cat <<EOF
Open this URL in a browser on this machine (once: it signs that browser in):

    $URL

Company shop: OSTK-00000103 waits for a mapping of WHITE_GLOVE, OSTK-00000102's upload failed.
The schedule runs the download and the upload every 15 s; cancels and refunds are handled as
they are queued. docs/console.md walks through the four tasks. Ctrl-C stops everything.
EOF
  wait
  exit 0
fi

log "--check: the four tasks of docs/console.md, as a browser posts them (with the CSRF token)"
python3 - "$URL" <<'PY'
import html, http.cookiejar, re, sys, time, urllib.parse, urllib.request
url = sys.argv[1]
base = url.split("/login")[0]
jar = http.cookiejar.CookieJar()
web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
def get(path):
    return web.open(base + path).read().decode()
def post(path, fields):
    page = get("/")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    data = urllib.parse.urlencode(dict(fields, csrf=csrf)).encode()
    return web.open(base + path, data).read().decode()
def flash(page):
    m = re.search(r'id="flash">([^<]*)<', page)
    return html.unescape(m.group(1)) if m else ""
def until(what, check, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        if check():
            return
        time.sleep(0.5)
    sys.exit(f"not within {seconds} s: {what}")

home = web.open(url).read().decode()
assert "Shop &amp; Co" in home, home
assert '/c/shop/mappings">1<' in home and '/c/shop/orders">1<' in home, "one unmapped order, one failed upload"
# 1. A setting.
page = post("/c/shop/settings", {"backorder-info": "on", "lead-time-months": "2"})
assert "Settings saved" in flash(page), page
assert 'name="lead-time-months" id="lead-time-months" value="2"' in page, "the form shows the saved value"
# 2. The unmapped code, mapped; the next scheduled download maps OSTK-00000103.
assert "WHITE_GLOVE" in get("/c/shop/mappings").split('id="mappings"')[0], "the unmapped code is offered"
page = post("/c/shop/mappings", {"code": "WHITE_GLOVE", "shipping_method": "White Glove", "code_to_send": "FXFE"})
assert "Mapped WHITE_GLOVE" in flash(page), page
until("OSTK-00000103 mapped by a download", lambda: "White Glove (send FXFE)" in get("/c/shop/order?n=OSTK-00000103"))
# 3. The failed upload, reset; the next scheduled upload sends it.
assert "failed upload" in get("/c/shop/orders")
page = post("/c/shop/order/reset-upload", {"n": "OSTK-00000102"})
assert "1 failed upload(s) of OSTK-00000102 back in the queue" in flash(page), page
until("OSTK-00000102 accepted by an upload", lambda: "accepted " in get("/c/shop/order?n=OSTK-00000102"))
# 4. A cancel, queued; the pump hands it to cancel-request; the page shows its outcome.
page = post("/c/shop/requests", {"kind": "cancel", "order": "OSTK-00000104", "reason": "OUT_OF_STOCK"})
assert "Queued cancel request" in flash(page), page
until("the cancel done", lambda: "done:" in get("/c/shop/requests"))
print("  setting saved; WHITE_GLOVE mapped and OSTK-00000103 mapped by the next download;")
print("  OSTK-00000102's upload reset and accepted by the next upload; a cancel of OSTK-00000104 done")
PY
log "console world checked (${SECONDS} s)"
