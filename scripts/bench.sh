#!/usr/bin/env bash
# The ingest benchmark: release build, moto + the sandbox on loopback, 10,000 orders.
# Prints ingest time, the raw BatchWriteItem floor, their ratio, the rerun's share and peak RSS;
# then 10,000 shipped orders through tracking-upload: time, Overstock and DynamoDB calls, peak RSS.
source "$(dirname "$0")/lib.sh"

ensure_venv
log "building (release)"
cargo build --locked --release -p overstock-sandbox
cargo bench --locked -p tests --no-run
start_moto
start_sandbox release
cargo bench --locked -p tests --bench ingest
cargo bench --locked -p tests --bench upload
