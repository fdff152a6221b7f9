//! Products, purchase orders and containers from CSV files, for a seller without a system that
//! sends them on the intake queue; listings; what a value means (`inventory explain`), what the
//! next run sends (`inventory pending`) and what Overstock refused (`inventory failed`).
//!
//! A CSV row becomes the very JSON message the intake queue carries and goes through the same
//! parser and the same apply path (`shared::services::inventory::apply_intake`): one rule in one
//! place. A file with any bad row writes nothing; every error names its line.

use crate::out::{say, warn_line};
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::{Map, Value, json};
use shared::domain::CompanyId;
use shared::domain::inventory::{Intake, Sku, SupplyKind, parse_intake};
use shared::services::inventory::{IntakeResult, apply_intake, explain, pending};
use shared::store::{DynamoStore, InventoryStore};

use crate::table::Table;

#[derive(Subcommand)]
pub enum ProductsCmd {
    /// Imports available quantities: header `sku,available[,counted_at]` (counted_at RFC 3339;
    /// default: now). A row older than the count held changes nothing.
    Import {
        /// The company's id.
        company: String,
        /// The CSV file (UTF-8, comma-separated, the header first). A file with any bad row
        /// writes nothing; each error is printed with its line.
        file: std::path::PathBuf,
    },
    /// Lists the products: count, supply lines, what Overstock last accepted, whether due.
    List {
        /// The company's id.
        company: String,
    },
}

#[derive(Subcommand)]
pub enum SourcesCmd {
    /// Imports purchase orders (header `po_number,status,sku,quantity_on_order,
    /// expected_delivery_date[,updated_at]`) or containers (`container_id,status,sku,
    /// quantity_on_order,estimated_arrival_date[,updated_at]`): one row per line; the rows of one
    /// PO or container share its status (and updated_at).
    Import {
        /// The company's id.
        company: String,
        /// The CSV file (UTF-8, comma-separated, the header first; dates YYYY-MM-DD, status
        /// open, received or cancelled). A file with any bad row writes nothing.
        file: std::path::PathBuf,
    },
    /// Lists the purchase orders or containers as last received.
    List {
        /// The company's id.
        company: String,
    },
}

#[derive(Subcommand)]
pub enum InventoryCmd {
    /// What would be sent for SKU and why: the rule, the POs or containers that fed it, today in
    /// the company's time zone, the lead time, what Overstock last accepted.
    Explain {
        /// The company's id.
        company: String,
        /// The product's SKU (the partner SKU on Overstock).
        sku: String,
        /// The explanation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What the next inventory-push run will send.
    Pending {
        /// The company's id.
        company: String,
    },
    /// Values Overstock refused too many times (not sent again until an input changes).
    Failed {
        /// The company's id.
        company: String,
    },
}

/// One CSV row: its line number in the file and its cells by header name.
pub(crate) struct Row {
    pub(crate) line: usize,
    pub(crate) cells: Vec<(String, String)>,
}

/// Parses `text` as CSV with a header row (RFC 4180: quoted cells, `""` for a quote).
pub(crate) fn read_csv(text: &str) -> Result<Vec<Row>, Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
        Err(e) => return Err(vec![format!("line 1: the header does not read: {e}")]),
    };
    // A column named twice would let the last copy win without a word.
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<String> = header
        .iter()
        .filter(|c| !seen.insert(c.as_str()))
        .map(|c| format!("line 1: the column {:?} is named twice", shared::domain::text::escape(c)))
        .collect();
    if !twice.is_empty() {
        return Err(twice);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        match record {
            Ok(r) => {
                let line = r.position().map_or(i + 2, |p| line_at(text, p.byte()));
                let cells = header.iter().cloned().zip(r.iter().map(|c| c.trim().to_owned())).collect();
                rows.push(Row { line, cells });
            }
            Err(e) => {
                let line = e.position().map_or(i + 2, |p| line_at(text, p.byte()));
                errors.push(format!("line {line}: {e}"));
            }
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// The line (from 1) holding byte `at` of `text`, whatever the line endings: `\r\n`, `\n` or a
/// lone `\r` each end one line (the CSV reader's own count is off by one with CRLF files).
fn line_at(text: &str, at: u64) -> usize {
    let all = text.as_bytes();
    // The reader may place a record's start on the `\n` of the CRLF before it: a record never
    // starts with a line break, so the line is that of its first other byte.
    let mut end = usize::try_from(at).unwrap_or(usize::MAX).min(text.len());
    while all.get(end).is_some_and(|b| *b == b'\r' || *b == b'\n') {
        end += 1;
    }
    let breaks = all[..end]
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && all.get(i + 1) != Some(&b'\n')))
        .count();
    1 + breaks
}

/// A cell as JSON: a whole number when it reads as one (the parser then checks its range), text
/// otherwise (the parser says why that is wrong); an empty cell is absent.
pub(crate) fn cell(value: &str, numeric: bool) -> Option<Value> {
    if value.is_empty() {
        return None;
    }
    if numeric && let Ok(n) = value.parse::<i64>() {
        return Some(json!(n));
    }
    Some(json!(value))
}

pub(crate) fn check_header(rows: &[Row], expected: &[&str], optional: &[&str]) -> Result<(), Vec<String>> {
    let Some(first) = rows.first() else { return Err(vec!["the file has no rows".into()]) };
    let names: Vec<&str> = first.cells.iter().map(|(k, _)| k.as_str()).collect();
    let mut errors = Vec::new();
    for e in expected {
        if !names.contains(e) {
            errors.push(format!("line 1: column {e:?} is missing"));
        }
    }
    for n in &names {
        if !expected.contains(n) && !optional.contains(n) {
            errors.push(format!("line 1: unknown column {n:?}"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The intake messages of a products file.
pub fn products_from_csv(company: &CompanyId, text: &str, now: DateTime<Utc>) -> Result<Vec<Intake>, Vec<String>> {
    let rows = read_csv(text)?;
    check_header(&rows, &["sku", "available"], &["counted_at"])?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for row in rows {
        let mut m = Map::new();
        m.insert("type".into(), json!("inventory_update"));
        m.insert("version".into(), json!(1));
        m.insert("company_id".into(), json!(company.as_str()));
        m.insert("counted_at".into(), json!(shared::domain::utc_key(now)));
        for (k, v) in &row.cells {
            if let Some(v) = cell(v, k == "available") {
                m.insert(k.clone(), v);
            }
        }
        if let Some(Value::String(sku)) = m.get("sku")
            && let Some(first) = seen.insert(sku.clone(), row.line)
        {
            errors.push(format!("line {}: sku {sku} already on line {first}", row.line));
            continue;
        }
        match parse_intake(&Value::Object(m).to_string(), now) {
            Ok(i) => out.push(i),
            Err(r) => errors.push(format!("line {}: {}: {}", row.line, r.field, r.reason)),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// The intake messages of a purchase-order or container file (one per PO or container).
pub fn sources_from_csv(
    company: &CompanyId,
    kind: SupplyKind,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Intake>, Vec<String>> {
    let (type_name, id_col, date_col) = match kind {
        SupplyKind::PurchaseOrder => ("purchase_order", "po_number", "expected_delivery_date"),
        SupplyKind::Container => ("shipping_container", "container_id", "estimated_arrival_date"),
    };
    let rows = read_csv(text)?;
    check_header(&rows, &[id_col, "status", "sku", "quantity_on_order"], &[date_col, "updated_at"])?;
    let get = |row: &Row, k: &str| row.cells.iter().find(|(c, _)| c == k).map(|(_, v)| v.clone()).unwrap_or_default();
    // (id) -> (status, updated_at, first line, [(line, sku, qty, date)])
    type Group = (String, String, usize, Vec<(usize, String, String, String)>);
    let mut groups: Vec<(String, Group)> = Vec::new();
    let mut errors = Vec::new();
    for row in &rows {
        let id = get(row, id_col);
        let status = get(row, "status");
        let updated = get(row, "updated_at");
        let line = (row.line, get(row, "sku"), get(row, "quantity_on_order"), get(row, date_col));
        match groups.iter_mut().find(|(g, _)| *g == id) {
            Some((_, (s, u, first, lines))) => {
                if *s != status || *u != updated {
                    errors.push(format!(
                        "line {}: {id_col} {id} has another status or updated_at than on line {first}",
                        row.line
                    ));
                }
                lines.push(line);
            }
            None => groups.push((id, (status, updated, row.line, vec![line]))),
        }
    }
    // Each row on its own first (every bad row is named), then each PO or container whole.
    for row in &rows {
        let mut l = Map::new();
        l.insert("sku".into(), json!(get(row, "sku")));
        if let Some(q) = cell(&get(row, "quantity_on_order"), true) {
            l.insert("quantity_on_order".into(), q);
        }
        if let Some(d) = cell(&get(row, date_col), false) {
            l.insert(date_col.into(), d);
        }
        let updated = get(row, "updated_at");
        let body = json!({
            "type": type_name, "version": 1, "company_id": company.as_str(), id_col: get(row, id_col),
            "status": get(row, "status"),
            "updated_at": if updated.is_empty() { shared::domain::utc_key(now) } else { updated },
            "lines": [Value::Object(l)],
        });
        if let Err(r) = parse_intake(&body.to_string(), now) {
            let field = r.field.strip_prefix("lines[0].").unwrap_or(&r.field);
            errors.push(format!("line {}: {field}: {}", row.line, r.reason));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Vec::new();
    for (id, (status, updated, first, lines)) in groups {
        let body = json!({
            "type": type_name,
            "version": 1,
            "company_id": company.as_str(),
            id_col: id,
            "status": status,
            "updated_at": if updated.is_empty() { shared::domain::utc_key(now) } else { updated },
            "lines": lines.iter().map(|(_, sku, q, d)| {
                let mut l = Map::new();
                l.insert("sku".into(), json!(sku));
                if let Some(q) = cell(q, true) { l.insert("quantity_on_order".into(), q); }
                if let Some(d) = cell(d, false) { l.insert(date_col.into(), d); }
                Value::Object(l)
            }).collect::<Vec<_>>(),
        });
        match parse_intake(&body.to_string(), now) {
            Ok(i) => out.push(i),
            Err(r) => {
                // `lines[i].field` names a row of this group.
                let at = r
                    .field
                    .strip_prefix("lines[")
                    .and_then(|rest| rest.split_once(']'))
                    .and_then(|(i, rest)| i.parse::<usize>().ok().map(|i| (i, rest.trim_start_matches('.'))))
                    .and_then(|(i, field)| lines.get(i).map(|l| (l.0, field.to_owned())));
                match at {
                    Some((line, field)) => errors.push(format!("line {line}: {field}: {}", r.reason)),
                    None => errors.push(format!("line {first}: {}: {}", r.field, r.reason)),
                }
            }
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Applies every message of a file that read without errors (through the intake's own path).
async fn apply_all(store: &DynamoStore, intakes: Vec<Intake>) -> Result<()> {
    let (mut done, mut unchanged) = (0usize, 0usize);
    for i in intakes {
        match apply_intake(store, i, Utc::now()).await? {
            IntakeResult::Done(d) if d.contains("nothing changed") => unchanged += 1,
            IntakeResult::Done(_) => done += 1,
            IntakeResult::Unprocessable(r) | IntakeResult::Retry(r) => bail!("{r}"),
        }
    }
    say!("{done} applied, {unchanged} already as recent (nothing changed)");
    Ok(())
}

/// The largest file an import reads (a product CSV of a million SKUs is about 40 MB).
pub const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024;

/// An import's file: a regular file only (a FIFO would hang the command, a device such as
/// `/dev/zero` grow it without end), read up to [`MAX_IMPORT_BYTES`] and refused past it, as
/// UTF-8.
pub fn read_file(path: &std::path::Path) -> Result<String> {
    use std::io::Read;
    let shown = || shared::domain::text::escape(&path.display().to_string()).into_owned();
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", shown()))?;
    if !meta.is_file() {
        anyhow::bail!("{} is not a regular file; an import reads only files", shown());
    }
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", shown()))?;
    // And again on what was opened (the path may have been replaced in between).
    if !file.metadata().with_context(|| format!("reading {}", shown()))?.is_file() {
        anyhow::bail!("{} is not a regular file; an import reads only files", shown());
    }
    let mut bytes = Vec::new();
    file.take(MAX_IMPORT_BYTES + 1).read_to_end(&mut bytes).with_context(|| format!("reading {}", shown()))?;
    if bytes.len() as u64 > MAX_IMPORT_BYTES {
        anyhow::bail!("{} is larger than {} MB; split it", shown(), MAX_IMPORT_BYTES / (1024 * 1024));
    }
    String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("{} is not UTF-8 text (byte {})", shown(), e.utf8_error().valid_up_to()))
}

pub(crate) fn report(errors: Vec<String>) -> anyhow::Error {
    for e in &errors {
        warn_line!("{e}");
    }
    anyhow::anyhow!("{} error(s); nothing was written", errors.len())
}

pub async fn products(store: &DynamoStore, cmd: ProductsCmd) -> Result<()> {
    match cmd {
        ProductsCmd::Import { company, file } => {
            let id = crate::known(store, &company).await?;
            let intakes = products_from_csv(&id, &read_file(&file)?, Utc::now()).map_err(report)?;
            apply_all(store, intakes).await
        }
        ProductsCmd::List { company } => {
            let id = crate::known(store, &company).await?;
            let mut t = Table::new(&["SKU", "AVAILABLE", "COUNTED AT", "SUPPLY (open)", "OVERSTOCK HOLDS", "DUE"]);
            for p in store.list_products(&id).await? {
                let supply: Vec<String> = p
                    .supply
                    .values()
                    .filter(|s| s.line.status == shared::domain::inventory::SupplyStatus::Open)
                    .map(|s| {
                        format!(
                            "{} {}: {}{}",
                            s.line.kind.as_str(),
                            s.line.source_id,
                            s.line.quantity,
                            s.line.expected.map(|d| format!(" @{d}")).unwrap_or_default()
                        )
                    })
                    .collect();
                t.row(vec![
                    p.sku.to_string(),
                    p.available.map_or("-".into(), |a| a.to_string()),
                    p.counted_at.map_or("-".into(), shared::domain::utc_key),
                    if supply.is_empty() { "-".into() } else { supply.join("; ") },
                    p.sent.as_ref().map_or("-".into(), |s| s.value.to_string()),
                    due(&p),
                ]);
            }
            t.print();
            Ok(())
        }
    }
}

fn due(p: &shared::domain::inventory::Product) -> String {
    use shared::domain::inventory::Due;
    match (p.is_failed(), p.due) {
        (true, _) => "failed".into(),
        (false, Due::Now) => "next run".into(),
        (false, Due::On(d)) => format!("on {d}"),
        (false, Due::Never) => "-".into(),
    }
}

pub async fn sources(store: &DynamoStore, kind: SupplyKind, cmd: SourcesCmd) -> Result<()> {
    match cmd {
        SourcesCmd::Import { company, file } => {
            let id = crate::known(store, &company).await?;
            let intakes = sources_from_csv(&id, kind, &read_file(&file)?, Utc::now()).map_err(report)?;
            apply_all(store, intakes).await
        }
        SourcesCmd::List { company } => {
            let id = crate::known(store, &company).await?;
            let mut t = Table::new(&["ID", "STATUS", "UPDATED AT", "LINES (sku: quantity @date)"]);
            for s in store.list_sources(&id, kind).await? {
                let lines: Vec<String> = s
                    .lines
                    .iter()
                    .map(|l| {
                        format!("{}: {}{}", l.sku, l.quantity, l.expected.map(|d| format!(" @{d}")).unwrap_or_default())
                    })
                    .collect();
                t.row(vec![
                    s.id.clone(),
                    format!("{:?}", s.status).to_ascii_lowercase(),
                    shared::domain::utc_key(s.updated_at),
                    lines.join("; "),
                ]);
            }
            t.print();
            Ok(())
        }
    }
}

pub async fn inventory(store: &DynamoStore, cmd: InventoryCmd) -> Result<()> {
    match cmd {
        InventoryCmd::Explain { company, sku, json } => {
            let c = crate::ops::company(store, &company).await?;
            let id = c.company_id.clone();
            let sku = Sku::parse(&sku)?;
            let Some(x) = explain(store, &c, &sku, Utc::now()).await? else { bail!("no product {sku} for {id}") };
            if json {
                crate::out::json(&x)?;
                return Ok(());
            }
            say!("{} / {}", x.company_id, x.sku);
            say!(
                "  today {} ({}), lead time {} month(s), Send Backorder Information {}, containers for PO {}, Enable Inventory Upload {}",
                x.today,
                x.time_zone,
                x.lead_time_months,
                if x.send_backorder_info { "on" } else { "off" },
                if x.shipping_containers_for_po { "on" } else { "off" },
                if x.inventory_upload { "on" } else { "off" },
            );
            say!(
                "  available {} (counted {})",
                x.available.map_or("unknown".into(), |a| a.to_string()),
                x.counted_at.clone().unwrap_or_else(|| "never".into())
            );
            match &x.decision {
                None => say!("  no count yet: nothing is sent"),
                Some(d) => {
                    say!("  value: {}", d.value);
                    say!("  rule: {}", d.rule.explain());
                    for l in &d.fed_by {
                        say!(
                            "  fed by {} {}: {} on order, expected {}",
                            l.kind.as_str(),
                            l.source_id,
                            l.quantity,
                            l.expected.map_or("(no date)".into(), |d| d.to_string())
                        );
                    }
                    for (l, why) in &d.ignored {
                        say!("  not counted: {} {} ({} on order): {why}", l.kind.as_str(), l.source_id, l.quantity);
                    }
                    if let Some(r) = d.recheck_on {
                        say!("  decided again on {r} (the value changes with the date)");
                    }
                }
            }
            match &x.last_accepted {
                Some(s) => say!("  Overstock last accepted: {} (at {})", s.value, shared::domain::utc_key(s.at)),
                None => say!("  Overstock last accepted: nothing yet"),
            }
            if let Some(r) = &x.rejection {
                say!(
                    "  Overstock refused it {} time(s){}: {}",
                    r.attempts,
                    if r.failed { " (failed: not sent again until an input changes)" } else { "" },
                    r.message
                );
            }
            say!("  next run: {}", if x.would_send { "sends the value above" } else { "sends nothing for it" });
            Ok(())
        }
        InventoryCmd::Pending { company } => {
            let c = crate::ops::company(store, &company).await?;
            let next = pending(store, &c, Utc::now()).await?;
            let mut t = Table::new(&["SKU", "VALUE", "RULE"]);
            for (sku, value, rule) in &next {
                t.row(vec![
                    sku.to_string(),
                    value.to_string(),
                    serde_json::to_value(rule)?.as_str().unwrap_or("").into(),
                ]);
            }
            if next.is_empty() {
                say!("nothing to send");
            } else {
                t.print();
                say!("{} product(s) in {} message(s)", next.len(), next.len().div_ceil(500));
            }
            Ok(())
        }
        InventoryCmd::Failed { company } => {
            let id = crate::known(store, &company).await?;
            let mut t = Table::new(&["SKU", "REFUSALS", "LAST", "OVERSTOCK SAID"]);
            for p in store.list_failed_products(&id).await? {
                if let Some(r) = &p.rejection {
                    t.row(vec![
                        p.sku.to_string(),
                        r.attempts.to_string(),
                        shared::domain::utc_key(r.at),
                        r.message.clone(),
                    ]);
                }
            }
            t.print();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> CompanyId {
        CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"))
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_column_named_twice_is_refused() {
        for header in ["sku,available,SKU", "sku, available ,available", "sku,available,counted_at,Available"] {
            let errors = read_csv(&format!("{header}\nA,1,2\n")).err().unwrap_or_default();
            assert_eq!(errors.len(), 1, "{header}: {errors:?}");
            assert!(errors[0].starts_with("line 1: the column") && errors[0].contains("named twice"), "{errors:?}");
        }
        assert!(read_csv("sku,available\nA,1\n").is_ok());
    }

    #[test]
    fn an_import_reads_only_a_regular_file_and_only_so_much() {
        let dir = std::env::temp_dir().join(format!("import-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let plain = dir.join("products.csv");
        std::fs::write(&plain, "sku,available\nA,1\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_file(&plain).ok().as_deref(), Some("sku,available\nA,1\n"));
        // A FIFO (no writer: opening it would block for ever), a device, a directory.
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().map(|s| s.success()).unwrap_or(false);
        assert!(made, "mkfifo");
        for path in [fifo.as_path(), std::path::Path::new("/dev/zero"), dir.as_path()] {
            let e = read_file(path).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("not a regular file"), "{}: {e}", path.display());
        }
        // A file one byte over the bound (sparse: nothing is written).
        let big = dir.join("big.csv");
        let f = std::fs::File::create(&big).unwrap_or_else(|e| panic!("{e}"));
        f.set_len(MAX_IMPORT_BYTES + 1).unwrap_or_else(|e| panic!("{e}"));
        let e = read_file(&big).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("larger than 64 MB"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    proptest::proptest! {
        /// Any rows, written as RFC 4180 CSV (quotes, commas, line breaks, any text in cells),
        /// read back cell for cell under their header, on the line they start at.
        #[test]
        fn any_written_csv_reads_back_cell_for_cell(
            rows in proptest::collection::vec(proptest::collection::vec("[a-zA-Z0-9 ,\"\n\r;é漢'-]{0,8}", 3), 0..6),
        ) {
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            let ok = w.write_record(["sku", "available", "note"]).is_ok()
                && rows.iter().all(|r| w.write_record(r).is_ok());
            proptest::prop_assert!(ok);
            let text = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
            let expected: Vec<&Vec<String>> = rows.iter().collect();
            let read = read_csv(&text);
            proptest::prop_assert!(read.is_ok(), "{:?}", read.err());
            let read = read.unwrap_or_default();
            proptest::prop_assert_eq!(read.len(), expected.len());
            for (row, want) in read.iter().zip(expected) {
                let names: Vec<&str> = row.cells.iter().map(|(k, _)| k.as_str()).collect();
                proptest::prop_assert_eq!(names, ["sku", "available", "note"]);
                let cells: Vec<String> = row.cells.iter().map(|(_, v)| v.clone()).collect();
                let trimmed: Vec<String> = want.iter().map(|c| c.trim().to_owned()).collect();
                proptest::prop_assert_eq!(cells, trimmed);
            }
        }

        /// Any header naming a column twice (in any case, with any spaces) is refused whole.
        #[test]
        fn any_header_naming_a_column_twice_is_refused(
            names in proptest::collection::vec("[a-z_]{1,6}", 1..5),
            pick in proptest::prelude::any::<proptest::sample::Index>(),
            upper in proptest::prelude::any::<bool>(),
        ) {
            let twice = names[pick.index(names.len())].clone();
            let again = if upper { format!(" {} ", twice.to_ascii_uppercase()) } else { twice.clone() };
            let header = names.iter().cloned().chain([again]).collect::<Vec<_>>().join(",");
            let cells = vec!["1"; names.len() + 1].join(",");
            let read = read_csv(&format!("{header}\n{cells}\n"));
            proptest::prop_assert!(read.is_err(), "{header}");
        }
    }

    #[test]
    fn a_products_file_reads_into_intake_messages() {
        let text = "sku,available,counted_at\nA,5,2026-11-27T09:00:00Z\n\"B,1\",-2,\n";
        let got = products_from_csv(&acme(), text, now()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(got.len(), 2);
        let Intake::Count { sku, available, counted_at, .. } = &got[1] else { panic!("{got:?}") };
        assert_eq!((sku.as_str(), *available, *counted_at), ("B,1", -2, now()), "an empty counted_at is now");
    }

    #[test]
    fn bad_rows_are_named_by_their_own_line_whatever_the_line_endings() {
        let lf =
            "sku,available,counted_at\nA,1,2026-11-27T10:00:00Z\nB,x,2026-11-27T10:00:00Z\nC,2,2026-11-27T10:00:00Z\n";
        for (name, text) in [("LF", lf.to_owned()), ("CRLF", lf.replace('\n', "\r\n")), ("CR", lf.replace('\n', "\r"))]
        {
            let e = products_from_csv(&acme(), &text, now()).err().unwrap_or_default();
            assert_eq!(e.len(), 1, "{name}: {e:?}");
            assert!(e[0].starts_with("line 3: "), "{name}: {e:?}");
        }
        assert_eq!(line_at("a\r\nb\r\nc", 6), 3);
        assert_eq!(line_at("a\rb\rc", 4), 3);
    }

    #[test]
    fn every_bad_row_is_named_by_its_line_and_nothing_is_returned() {
        let text = "sku,available\nA,5\nB,lots\n,3\nA,1\n";
        let errors = products_from_csv(&acme(), text, now()).err().unwrap_or_default();
        assert_eq!(
            errors,
            ["line 3: available: must be a whole number", "line 4: sku: missing", "line 5: sku A already on line 2",]
        );
        assert_eq!(
            products_from_csv(&acme(), "sku,qty\nA,1\n", now()).err().unwrap_or_default(),
            ["line 1: column \"available\" is missing", "line 1: unknown column \"qty\""]
        );
        assert!(products_from_csv(&acme(), "sku,available\nA,1,9\n", now()).is_err(), "a row with more cells");
    }

    #[test]
    fn a_po_file_groups_its_rows_and_names_the_bad_line() {
        let text = "po_number,status,sku,quantity_on_order,expected_delivery_date\n\
                    PO-1,open,A,40,2027-01-15\nPO-1,open,B,5,\nPO-2,received,A,3,2026-12-01\n";
        let got = sources_from_csv(&acme(), SupplyKind::PurchaseOrder, text, now()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(got.len(), 2);
        let Intake::Source(po1) = &got[0] else { panic!("{got:?}") };
        assert_eq!((po1.id.as_str(), po1.lines.len()), ("PO-1", 2));
        let bad = "po_number,status,sku,quantity_on_order,expected_delivery_date\n\
                   PO-1,open,A,40,2027-01-15\nPO-1,open,B,5,15/01/2027\nPO-1,closed,C,1,\nPO-3,maybe,A,1,\n";
        let errors = sources_from_csv(&acme(), SupplyKind::PurchaseOrder, bad, now()).err().unwrap_or_default();
        assert_eq!(
            errors,
            [
                "line 4: po_number PO-1 has another status or updated_at than on line 2",
                "line 3: expected_delivery_date: must be a date, YYYY-MM-DD",
                "line 4: status: unknown status \"closed\": expected open, received or cancelled",
                "line 5: status: unknown status \"maybe\": expected open, received or cancelled",
            ]
        );
        let twice = "po_number,status,sku,quantity_on_order\nPO-1,open,A,1\nPO-1,open,A,2\n";
        assert_eq!(
            sources_from_csv(&acme(), SupplyKind::PurchaseOrder, twice, now()).err().unwrap_or_default(),
            ["line 3: sku: A appears twice: one line per SKU"]
        );
    }

    #[test]
    fn a_container_file_uses_its_own_columns() {
        let text = "container_id,status,sku,quantity_on_order,estimated_arrival_date,updated_at\n\
                    CONT-9,open,A,30,2027-03-01,2026-11-27T08:00:00Z\n";
        let got = sources_from_csv(&acme(), SupplyKind::Container, text, now()).unwrap_or_else(|e| panic!("{e:?}"));
        let Intake::Source(c) = &got[0] else { panic!("{got:?}") };
        assert_eq!((c.kind, c.lines[0].quantity), (SupplyKind::Container, 30));
        let wrong = "po_number,status,sku,quantity_on_order\nX,open,A,1\n";
        assert!(sources_from_csv(&acme(), SupplyKind::Container, wrong, now()).is_err());
    }
}
