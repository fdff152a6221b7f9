#!/usr/bin/env bash
# The test command: installs what the tests need, starts moto and the sandbox on loopback,
# lints the template, checks the README against the tree, runs clippy and every test, invokes
# every events/ file against the local world (scripts/local.sh --check), does the console's four
# tasks on its own local world (scripts/console.sh --check), and stops what it started.
# The console's browser test needs Debian's chromium and chromium-driver: installed here if missing.
source "$(dirname "$0")/lib.sh"

ensure_disk 6
ensure_chromium
ensure_venv
log "cfn-lint template.yaml"
cfn-lint template.yaml
# The template as JSON (cfn-lint's own decoder, tags resolved to Fn:: forms): the IAM test reads
# each function's role from it.
.venv/bin/python -c 'import json, sys; from cfnlint.decode import decode; t, m = decode("template.yaml"); sys.exit(str(m)) if m else json.dump(t, sys.stdout)' >"$DEV/template.json"
export TEMPLATE_JSON="$DEV/template.json"

log "the README against the tree (layout, template counts, configuration, events)"
python3 scripts/check_docs.py

log "cargo fmt --check"
cargo fmt --all --check

log "building the workspace (tests, sandbox, functions)"
cargo build --workspace --all-targets --locked

log "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

start_moto
start_sandbox debug
wait_chromium

log "running the tests against moto ($AWS_ENDPOINT_URL) and the sandbox ($SANDBOX_URL)"
cargo test --workspace --lib --bins --tests --locked -- "$@"
if [ $# -eq 0 ]; then
  log "every file in events/ against the local world (scripts/local.sh --check)"
  scripts/local.sh --check
  log "the console's four tasks on its local world with the schedule running (scripts/console.sh --check)"
  scripts/console.sh --check
fi
log "all tests passed (${SECONDS} s)"
