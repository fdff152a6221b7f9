//! Shipments from a CSV file, for a seller whose warehouse has no system that sends `shipment`
//! messages: each package is read as that message would be (the same checks), decided against
//! its order by the same rule, and recorded the same way. A file with one bad row writes nothing.

use crate::inventory::{cell, check_header, read_csv, read_file, report};
use crate::out::say;
use anyhow::Result;
use chrono::Utc;
use clap::Subcommand;
use serde_json::{Map, Value, json};
use shared::domain::CompanyId;
use shared::domain::mapping::MappingTable;
use shared::domain::shipment::SenderRecorded;
use shared::domain::shipment_message::{ShipmentMessage, parse_shipment};
use shared::services::shipping::record_shipment_message;
use shared::store::{DynamoStore, MappingStore, OrderStore};
use std::collections::BTreeMap;

#[derive(Subcommand)]
pub enum ShipmentsCmd {
    /// Records the packages of a CSV file: header `order_number,package_id,line,quantity,
    /// tracking_number,ship_date[,carrier_code][,shipping_method][,send_now]`, one row a line of a
    /// package (rows with the same package_id are one package and must agree on its order,
    /// tracking, carrier, method, date and send_now). The package id is the file's own: importing
    /// the same file again changes nothing. A file with any bad row writes nothing; each error is
    /// printed with its line.
    Import {
        /// The company's id.
        company: String,
        /// The CSV file (UTF-8, comma-separated, the header first).
        file: std::path::PathBuf,
    },
}

/// The columns of a package (every row of it says the same).
const PACKAGE_COLUMNS: [&str; 7] =
    ["order_number", "tracking_number", "ship_date", "carrier_code", "shipping_method", "send_now", "sent_by"];

/// One package of a file as its rows are read: its id, the line it starts on, its package
/// columns, its lines.
struct FilePackage {
    id: String,
    first: usize,
    columns: Map<String, Value>,
    lines: Vec<Value>,
}

/// The `shipment` messages of a file, each with the line its package starts on.
pub fn messages_from_csv(company: &CompanyId, text: &str) -> Result<Vec<(usize, ShipmentMessage)>, Vec<String>> {
    let rows = read_csv(text)?;
    check_header(
        &rows,
        &["order_number", "package_id", "line", "quantity", "tracking_number", "ship_date"],
        &["carrier_code", "shipping_method", "send_now", "sent_by"],
    )?;
    let mut errors = Vec::new();
    // Packages in the order they first appear.
    let mut packages: Vec<FilePackage> = Vec::new();
    for row in rows {
        let get = |k: &str| row.cells.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("");
        let id = get("package_id").to_owned();
        let mut columns = Map::new();
        for k in PACKAGE_COLUMNS {
            let value = match k {
                "send_now" => match get(k).to_ascii_lowercase().as_str() {
                    "" => None,
                    "true" | "yes" | "1" => Some(json!(true)),
                    "false" | "no" | "0" => Some(json!(false)),
                    other => Some(json!(other)),
                },
                _ => cell(get(k), false),
            };
            if let Some(v) = value {
                columns.insert(k.to_owned(), v);
            }
        }
        let line = json!({"line": get("line"), "quantity": cell(get("quantity"), true)});
        match packages.iter_mut().find(|p| p.id == id) {
            Some(p) => {
                if p.columns != columns {
                    let differs =
                        PACKAGE_COLUMNS.iter().find(|k| p.columns.get(**k) != columns.get(**k)).unwrap_or(&"a column");
                    errors.push(format!(
                        "line {}: package {:?}: {differs} differs from line {}",
                        row.line,
                        shared::domain::text::escape(&id),
                        p.first
                    ));
                    continue;
                }
                p.lines.push(line);
            }
            None => packages.push(FilePackage { id, first: row.line, columns, lines: vec![line] }),
        }
    }
    let mut out = Vec::new();
    for FilePackage { id, first, columns, lines } in packages {
        let mut m = columns;
        m.insert("type".into(), json!("shipment"));
        m.insert("version".into(), json!(1));
        m.insert("company_id".into(), json!(company.as_str()));
        m.insert("package_id".into(), json!(id));
        m.insert("lines".into(), Value::Array(lines));
        match parse_shipment(&Value::Object(m).to_string()) {
            Ok(msg) => out.push((first, msg)),
            Err(r) => errors.push(format!("line {first}: {}: {}", r.field, r.reason)),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Each package decided against its order as stored (in memory, in the file's order: two
/// packages of one order count against each other), so that a file with one package the rule
/// refuses writes nothing.
async fn check_against_orders(
    store: &DynamoStore,
    company: &CompanyId,
    messages: &[(usize, ShipmentMessage)],
) -> Result<Vec<String>> {
    let mappings = MappingTable::new(store.list_mappings(company).await?);
    let numbers: Vec<_> = messages.iter().map(|(_, m)| m.order_number.clone()).collect();
    let mut orders: BTreeMap<_, _> = store.get_orders(company, &numbers).await?.into_iter().collect();
    let now = Utc::now();
    let mut errors = Vec::new();
    for (line, m) in messages {
        let Some(o) = orders.get_mut(&m.order_number) else {
            errors.push(format!("line {line}: unknown order {}", m.order_number));
            continue;
        };
        if let Err(e) = o.record_sender_shipment(&m.package_id, &m.content(), &m.request, &mappings, now) {
            errors.push(format!("line {line}: {e}"));
        }
    }
    Ok(errors)
}

pub async fn shipments(store: &DynamoStore, cmd: ShipmentsCmd) -> Result<()> {
    match cmd {
        ShipmentsCmd::Import { company, file } => {
            let id = crate::known(store, &company).await?;
            let messages = messages_from_csv(&id, &read_file(&file)?).map_err(report)?;
            let refused = check_against_orders(store, &id, &messages).await?;
            if !refused.is_empty() {
                return Err(report(refused));
            }
            let (mut recorded, mut already) = (0usize, 0usize);
            for (_, m) in &messages {
                match record_shipment_message(store, m, Utc::now()).await? {
                    SenderRecorded::New(_) => recorded += 1,
                    SenderRecorded::Already(_) => already += 1,
                }
            }
            say!("{recorded} package(s) recorded, {already} recorded before (nothing changed)");
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

    const HEADER: &str = "order_number,package_id,line,quantity,tracking_number,ship_date,carrier_code,send_now";

    #[test]
    fn rows_of_one_package_make_one_message() {
        let text = format!(
            "{HEADER}\nO-1,PK-1,1,2,1Z1,2026-11-27T10:00:00Z,UPS,\nO-1,PK-1,2,1,1Z1,2026-11-27T10:00:00Z,UPS,\n\
             O-2,PK-2,1,1,1Z2,2026-11-27T11:00:00Z,,yes\n"
        );
        let got = messages_from_csv(&acme(), &text).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[1].0), (2, 4), "each with the line it starts on");
        assert_eq!(got[0].1.request.lines, [("1".to_owned(), 2), ("2".to_owned(), 1)]);
        assert_eq!(got[0].1.request.carrier_code.as_deref(), Some("UPS"));
        assert!(got[1].1.send_now && got[1].1.request.carrier_code.is_none());
    }

    #[test]
    fn every_bad_row_is_named_by_its_line_and_nothing_is_taken() {
        let text = format!(
            "{HEADER}\nO-1,PK-1,1,2,1Z1,2026-11-27T10:00:00Z,UPS,\nO-1,PK-1,2,1,1Z9,2026-11-27T10:00:00Z,UPS,\n\
             O-2,PK-2,1,0,1Z2,2026-11-27T11:00:00Z,,\nO-3,PK-3,1,1,1Z3,yesterday,,\nO-4,PK-4,1,1,1Z4,2026-11-27T11:00:00Z,,maybe\n"
        );
        let errors = messages_from_csv(&acme(), &text).err().unwrap_or_default();
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("line 3: package \"PK-1\": tracking_number differs from line 2"), "{errors:?}");
        assert!(errors[1].starts_with("line 4: lines[0].quantity"), "{errors:?}");
        assert!(errors[2].starts_with("line 5: ship_date"), "{errors:?}");
        assert!(errors[3].starts_with("line 6: send_now"), "{errors:?}");
        let missing = messages_from_csv(&acme(), "order_number,package_id,line\nO-1,P,1\n").err().unwrap_or_default();
        assert!(missing.iter().any(|e| e.contains("\"quantity\" is missing")), "{missing:?}");
    }
}
