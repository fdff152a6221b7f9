#!/usr/bin/env python3
"""The README against the tree (run by scripts/test.sh; exits non-zero naming each difference).

- Layout table: every path it names exists; every top-level folder, function, tool, events file,
  message schema and bench is named by a row; the `shared/` row names every module of the crate
  and every service; the template row's counts are the template's; the Deploying section names
  every template parameter.
- Configuration table: every environment variable the code or the scripts read is a row (or is
  named in the section), and every row names a variable something reads.
- docs/local.md's event table names every file in events/.
- Every metric the template's alarms and dashboard use is one the code emits.
"""

import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
problems = []


def problem(text):
    problems.append(text)


def section(markdown, title):
    """The text of the `## title` section (up to the next heading of the same level)."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    if not m:
        problem(f"README has no '## {title}' section")
        return ""
    return m.group(1)


def table_rows(text):
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|\s*-", line):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            rows.append(cells)
    return rows[1:] if rows else rows  # without the header


def ticked(text):
    return re.findall(r"`([^`]+)`", text)


def tracked():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if os.path.exists(p)]


readme = open("README.md", encoding="utf-8").read()
files = tracked()

# --- Layout ---------------------------------------------------------------------------------
layout = table_rows(section(readme, "Layout"))
row_paths = []  # (pattern, row text)
for cells in layout:
    for p in ticked(cells[0]):
        row_paths.append((p.rstrip("/"), " | ".join(cells)))
for p, _ in row_paths:
    if not glob.glob(p):
        problem(f"layout table names `{p}`, which is not in the tree")


def covered(path):
    """A row names this path, a folder above it, or a glob that matches it."""
    for p, _ in row_paths:
        if path == p or path.startswith(p + "/") or (any(c in p for c in "*?[") and glob.fnmatch.fnmatch(path, p)):
            return True
    return False


top = sorted({f.split("/")[0] for f in files if "/" in f and not f.startswith(".")})
must = top + sorted({"/".join(f.split("/")[:2]) for f in files if f.split("/")[0] in ("functions", "tools")})
must += [f for f in files if f.startswith("events/") or f.startswith("docs/messages/")]
must += ["template.yaml"]
for m in must:
    if not covered(m) and not (m in top and any(p.startswith(m + "/") for p, _ in row_paths)):
        problem(f"layout table has no row for `{m}`")


def row_of(path):
    return next((text for p, text in row_paths if p == path), "")


shared_row = row_of("shared")
for f in sorted(os.listdir("shared/src")):
    name = f if f.endswith(".rs") else f + "/"
    if f in ("lib.rs",):
        continue
    if f"`{name}`" not in shared_row and f"`{name.rstrip('/')}`" not in shared_row and f"{name}" not in shared_row:
        problem(f"the layout table's `shared/` row does not name `{name}`")
for f in sorted(os.listdir("shared/src/services")):
    if f != "mod.rs" and f.endswith(".rs") and f"`{f}`" not in shared_row:
        problem(f"the layout table's `shared/` row does not name the service `{f}`")

tests_row = row_of("tests")
for b in sorted(glob.glob("tests/benches/*.rs")):
    stem = os.path.basename(b)[:-3]
    if not re.search(rf"\b{stem}\b", tests_row):
        problem(f"the layout table's `tests/` row does not name the bench `{stem}`")

# The template's counts (cfn-lint's decoder, as the IAM test reads it).
template_json = os.environ.get("TEMPLATE_JSON")
if template_json and os.path.exists(template_json):
    resources = json.load(open(template_json))["Resources"].values()
    counts = {}
    for r in resources:
        counts[r["Type"]] = counts.get(r["Type"], 0) + 1
    deploying = section(readme, "Deploying")
    for name in json.load(open(template_json)).get("Parameters", {}):
        if f"`{name}`" not in deploying:
            problem(f"the Deploying section does not name the template parameter `{name}`")
    template_row = row_of("template.yaml")
    for kind, word in [("AWS::Serverless::Function", "functions"), ("AWS::DynamoDB::Table", "tables"),
                       ("AWS::SQS::Queue", "queues"), ("AWS::CloudWatch::Alarm", "alarms")]:
        m = re.search(rf"(\d+) {word}", template_row)
        if not m or int(m.group(1)) != counts.get(kind, 0):
            problem(f"the layout table's template row says \"{m.group(0) if m else 'nothing'}\" ({word}); "
                    f"template.yaml has {counts.get(kind, 0)}")
else:
    problem("TEMPLATE_JSON is not set (scripts/test.sh writes it): the template row's counts were not checked")

# --- The template's metrics are the code's ------------------------------------------------------
# Every metric an alarm watches or the dashboard draws (namespace OverstockConnector) is one the
# functions emit: a `("Name", …)` metric line in shared/src (a renamed metric fails here, not in
# an empty graph in production).
if template_json and os.path.exists(template_json):
    code = "\n".join(open(f, encoding="utf-8").read() for f in files if f.startswith("shared/src/") and f.endswith(".rs"))
    emitted = set(re.findall(r'\("([A-Z][A-Za-z0-9]+)",\s*crate::metrics::', code)) | set(re.findall(r'"([A-Z][A-Za-z0-9]+)"', code))
    watched = set()
    for name, r in json.load(open(template_json))["Resources"].items():
        props = r.get("Properties", {})
        if r["Type"] == "AWS::CloudWatch::Alarm" and props.get("Namespace") == "OverstockConnector":
            watched.add((props.get("MetricName"), name))
        if r["Type"] == "AWS::CloudWatch::Dashboard":
            body = props.get("DashboardBody")
            body = body.get("Fn::Sub") if isinstance(body, dict) else body
            body = body[0] if isinstance(body, list) else body
            for m in re.findall(r'\["OverstockConnector", "([A-Za-z0-9]+)"|\["\.", "([A-Za-z0-9]+)"', body or ""):
                watched.add((m[0] or m[1], name))
    for metric, where in sorted(watched):
        if metric not in emitted:
            problem(f"template.yaml's {where} uses the metric `{metric}`, which no function emits")

# --- Configuration --------------------------------------------------------------------------
config = section(readme, "Configuration")
env_part = config.split("### Per-company settings")[0]
documented_rows = set()
for cells in table_rows(env_part):
    documented_rows.update(n for n in ticked(cells[0]) if re.fullmatch(r"[A-Z][A-Z0-9_]+", n))
named_anywhere = set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`", env_part))
# A blank line inside the table ends it in Markdown: every row after it renders as text.
block = env_part[env_part.find("| variable"):]
table_lines = block.split("\n\n")[0].splitlines()
stray = [l for l in block.splitlines()[len(table_lines):] if l.startswith("|")]
if stray:
    problem(f"the configuration table is broken by a blank line before `{stray[0][:40]}`")

# What the code reads: a variable-like literal in an env-reading call (the Env trait, the
# config helpers, std::env::var, the SQS adapter's queue variables, required_env, clap's `env =`).
READ = re.compile(
    r"(?:\benv\s*,|ProcessEnv\s*,|env\.get\(|env::var\(|\bvar\(|\burl\(|required_env\(|from_config\([^)]*Some\(|"
    r"\benv\s*=)\s*\"([A-Z][A-Z0-9_]{3,})\"")


def without_test_modules(text):
    """The source without its `#[cfg(test)] mod … { … }` blocks (braces counted)."""
    out, at = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < at:
            continue
        out.append(text[at:m.start()])
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        at = i
    out.append(text[at:])
    return "".join(out)


read = {}
for f in files:
    if not f.endswith(".rs"):
        continue
    text = open(f, encoding="utf-8").read()
    if not f.startswith("tests/"):
        text = without_test_modules(text)  # a unit test's environment is not configuration
    for name in READ.findall(text):
        read.setdefault(name, f)
    for m in re.finditer(r'format!\("([A-Z_]+)\{\}([A-Z_]+)"', text):  # WORK_QUEUE_{}_URL
        for flow in ["DOWNLOAD", "UPLOAD", "INVENTORY", "RECONCILE"]:
            read.setdefault(m.group(1) + flow + m.group(2), f)
for f in glob.glob("scripts/*.sh"):
    for name in re.findall(r"\$\{([A-Z][A-Z0-9_]+):-", open(f).read()):
        read.setdefault(name, f)
# Set by cargo or Lambda, or the benches' own parent-child protocol: not settings.
IGNORED = re.compile(r"^(CARGO_.*|BENCH_.*|AWS_LAMBDA_FUNCTION_NAME)$")
for name, where in sorted(read.items()):
    if not IGNORED.match(name) and name not in documented_rows and name not in named_anywhere:
        problem(f"`{name}` is read ({where}) but the configuration table does not list it")
# Read by the AWS SDK itself.
SDK = {"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"}
for name in sorted(documented_rows):
    if name not in read and name not in SDK:
        problem(f"the configuration table lists `{name}`, which nothing reads")

# --- docs/local.md's events ----------------------------------------------------------------
local = open("docs/local.md", encoding="utf-8").read()
for f in sorted(glob.glob("events/*.json")):
    if f"`{f}`" not in local:
        problem(f"docs/local.md's event table does not name `{f}`")

if os.environ.get("CHECK_DOCS_VERBOSE"):
    print("read:", sorted(read), "\ndocumented:", sorted(documented_rows))
if problems:
    print("README and docs against the tree:", file=sys.stderr)
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    sys.exit(1)
print("README and docs match the tree: layout, template counts, configuration, events")
