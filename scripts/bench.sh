#!/usr/bin/env bash
# The benchmarks: release build, moto + the sandbox on loopback.
# - ingest: 10,000 orders; ingest time, the raw BatchWriteItem floor, their ratio, the rerun's
#   share and peak RSS;
# - upload: 10,000 shipped orders through tracking-upload: time, Overstock and DynamoDB calls,
#   peak RSS;
# - requests: 1,000 cancel and 1,000 refund messages through the pump into cancel-request and
#   refund-request (cargo lambda watch --release), without and with 20 % Overstock faults:
#   messages per second, Overstock and DynamoDB calls per message, peak RSS of the functions.
# - inventory: 100,000 products at rest, 1,000 changing: a push run with no change and one with
#   the changes (time, DynamoDB operations, product items read, POSTs), the intake of the
#   changes, peak RSS of the process running them;
# - parse: the client's own CPU per order (parse, build, DynamoDB item, shipment message) on a
#   2,000-order sandbox answer; compares release profiles.
# - companies: one download tick for 1,000 companies (COMPANIES=1000,10000 for more), each its
#   own sandbox account answering after 150 ms, through the dispatcher, moto's work queue, a
#   pump and the workers: time to the last company, companies done within 60 s, calls per
#   company, the floor of the same calls, peak RSS.
# - status: the status sync over 5,000 open orders across 30 days: GETs per covering window,
#   runs per pass, the cancellations found, the later passes' longer windows.
# - props: the property tests of hostile input (the order reader against a reference XML parser,
#   POST answers, text and scrubbing, CSV and JSON readers, record keys) with 20,000 cases each
#   (PROPTEST_CASES) instead of the test command's few hundred; not part of the default list.
# A bench whose goal line fails exits non-zero (and stops the script).
# `scripts/bench.sh requests` (or ingest, upload, inventory, parse, companies, status, props) runs one.
source "$(dirname "$0")/lib.sh"

BENCHES=("${@:-ingest upload requests inventory parse companies status}")
read -r -a BENCHES <<<"${BENCHES[*]}"
ensure_venv
log "building (release)"
cargo build --locked --release -p overstock-sandbox -p cancel-request -p refund-request
cargo bench --locked -p tests --no-run
start_moto
start_sandbox release
for b in "${BENCHES[@]}"; do
  log "bench: $b"
  if [ "$b" = props ]; then
    PROPTEST_CASES="${PROPTEST_CASES:-20000}" cargo test --locked --release -p shared -p overstockctl --lib --bins
    continue
  fi
  cargo bench --locked -p tests --bench "$b"
done
