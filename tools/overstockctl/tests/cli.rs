//! overstockctl as an operator runs it (the built binary), against moto: what it prints holds no
//! control character whatever the tables hold, an unknown company is an error, and missing AWS
//! settings are one line saying what to set.

use chrono::Utc;
use shared::domain::mapping::ShippingMethodMapping;
use shared::domain::settings::{ApiBaseUrl, Company, CompanySettings, CredentialsHealth, CredentialsRef};
use shared::domain::text::is_control;
use shared::domain::{CompanyId, ServiceLevelCode};
use shared::store::{CompanyStore, DynamoStore, MappingStore, QuarantineStore, QuarantinedOrder, Tables};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_overstockctl");
/// Clear-screen, set-title, bell, a C1 CSI and a right-to-left override.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}\u{9b}31m\u{202e}";

fn run(prefix: &str, args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("TABLE_PREFIX", prefix).output().unwrap_or_else(|e| panic!("{BIN}: {e}"))
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[tokio::test]
async fn values_from_the_tables_are_printed_escaped_and_unknown_companies_refused() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        panic!("AWS_ENDPOINT_URL is not set: run the tests with scripts/test.sh, which starts moto");
    }
    let prefix = format!("cli{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap_or_else(|e| panic!("{e}"));
    // Written as another writer (or an older version) could have: not through the CLI's checks.
    let id = CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
    let now = Utc::now();
    let settings = CompanySettings::new(
        format!("WH{HOSTILE}"),
        ApiBaseUrl::parse("test").unwrap_or_else(|e| panic!("{e}")),
        CredentialsRef::parse("acme").unwrap_or_else(|e| panic!("{e}")),
    );
    let company = Company {
        company_id: id.clone(),
        name: format!("Acme{HOSTILE}"),
        settings,
        credentials_health: CredentialsHealth::Failed { at: now, reason: format!("refused{HOSTILE}") },
        created_at: now,
        updated_at: now,
    };
    store.create_company(&company).await.unwrap_or_else(|e| panic!("{e}"));
    let mapping = ShippingMethodMapping {
        code_to_receive: ServiceLevelCode::parse("GROUND").unwrap_or_else(|e| panic!("{e}")),
        shipping_method: format!("Ground{HOSTILE}"),
        code_to_send: format!("UPS{HOSTILE}"),
        rush: false,
    };
    store.put_mapping(&id, &mapping).await.unwrap_or_else(|e| panic!("{e}"));
    let q = QuarantinedOrder {
        key: format!("O{HOSTILE}"),
        order_number: Some(format!("O{HOSTILE}")),
        window_start: now,
        window_end: now,
        reason: format!("bad{HOSTILE}"),
        first_seen: now,
        last_seen: now,
        sightings: 1,
    };
    store.quarantine(&id, &[q]).await.unwrap_or_else(|e| panic!("{e}"));

    for args in [
        vec!["company", "list"],
        vec!["company", "show", "acme"],
        vec!["mapping", "list", "acme"],
        vec!["quarantine", "list", "acme"],
        vec!["quarantine", "list", "acme", "--json"],
        vec!["orders", "list", "acme"],
        vec!["uploads", "failed", "acme"],
    ] {
        let out = run(&prefix, &args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(
            !stdout.chars().any(|c| is_control(c) && c != '\n'),
            "{args:?} printed a control character: {stdout:?}"
        );
        if args.len() > 2 && args[0] != "orders" && args[0] != "uploads" {
            assert!(
                stdout.contains("\\u{1b}") || stdout.contains("\\u001b"),
                "{args:?}: the value is shown, escaped: {stdout}"
            );
        }
    }

    for args in [
        vec!["audit", "nope"],
        vec!["orders", "list", "nope"],
        vec!["quarantine", "list", "nope"],
        vec!["mapping", "list", "nope"],
        vec!["uploads", "failed", "nope"],
        vec!["inventory", "pending", "nope"],
    ] {
        let out = run(&prefix, &args);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{args:?}: an unknown company is an error");
        assert!(stderr.contains("no company nope"), "{args:?}: {stderr}");
    }

    // Stored values typed on the command line: control characters and empty values refused.
    for args in [
        vec!["mapping", "set", "acme", "NEXT_DAY", "--shipping-method", "Next\u{1b}[2J", "--code-to-send", "UPS"],
        vec!["mapping", "set", "acme", "NEXT_DAY", "--shipping-method", "", "--code-to-send", "UPS"],
        vec!["mapping", "set", "acme", "NEXT\u{7}DAY", "--shipping-method", "Next", "--code-to-send", "UPS"],
        vec!["company", "set", "acme", "--warehouse", "W\u{1b}]0;x\u{7}"],
        vec!["company", "set", "acme", "--warehouse", "  "],
        vec!["company", "create", "beta", "--name", "", "--warehouse", "W", "--credentials-ref", "beta"],
        vec!["company", "create", "beta", "--name", "B\u{9b}", "--warehouse", "W", "--credentials-ref", "beta"],
    ] {
        let out = run(&prefix, &args);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{args:?}: refused");
        assert!(!stderr.chars().any(|c| is_control(c) && c != '\n'), "{args:?}: {stderr:?}");
    }
    let beta = CompanyId::parse("beta").unwrap_or_else(|e| panic!("{e}"));
    assert!(store.get_company(&beta).await.unwrap_or_else(|e| panic!("{e}")).is_none(), "nothing written");
}

#[test]
fn missing_aws_settings_are_one_line_saying_what_to_set() {
    let out = Command::new(BIN)
        .args(["company", "list"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|e| panic!("{BIN}: {e}"));
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("AWS_REGION"), "{stderr}");
    let with_region = Command::new(BIN)
        .args(["company", "list"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|e| panic!("{BIN}: {e}"));
    let (_, stderr) = text(&with_region);
    assert!(!with_region.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("AWS_ACCESS_KEY_ID") && stderr.len() < 600, "{stderr}");
}

/// `overstockctl shipments import`: a file whose one package the rule refuses writes nothing and
/// names the line; the good file records its packages; the same file again changes nothing; the
/// packages are uploaded and confirmed once.
#[tokio::test]
async fn a_shipments_file_is_all_or_nothing_and_importing_it_again_changes_nothing() {
    let one: &[(&str, u32, &str)] = &[("A", 2, "10.00")];
    let (w, id) = tests::World::with_orders(&[("F-1", one), ("F-2", one)]).await;
    let prefix = w.store.tables().companies.trim_end_matches("companies").to_owned();
    let dir = std::env::temp_dir().join(format!("ship-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let at = (Utc::now() - chrono::Duration::minutes(3)).to_rfc3339();
    let header = "order_number,package_id,line,quantity,tracking_number,ship_date,carrier_code,send_now";
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, format!("{header}\nF-1,WMS-1,1,2,1ZF1,{at},UPS,yes\nF-2,WMS-2,1,3,1ZF2,{at},UPS,yes\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = run(&prefix, &["shipments", "import", id.as_str(), &bad.display().to_string()]);
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("line 3: line 1: quantity 3 is above what is open (2)") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(w.order(&id, "F-1").await.shipments.is_empty(), "the good row of a bad file is not written either");

    let good = dir.join("good.csv");
    std::fs::write(&good, format!("{header}\nF-1,WMS-1,1,2,1ZF1,{at},UPS,yes\nF-2,WMS-2,1,2,1ZF2,{at},UPS,yes\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    for expected in ["2 package(s) recorded, 0 recorded before", "0 package(s) recorded, 2 recorded before"] {
        let out = run(&prefix, &["shipments", "import", id.as_str(), &good.display().to_string()]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert!(stdout.contains(expected), "{stdout}");
    }
    let run_up = w.upload("file-up").await;
    assert_eq!(tests::up(&run_up, &id).accepted, 2, "{:?}", tests::up(&run_up, &id));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `overstockctl orders export`: the orders as the warehouse needs them, JSON and CSV, read back
/// by a JSON parser and a CSV reader; an order's lines, SKUs, open quantities, prices, method
/// and ship-to; nothing downloaded before `--since`.
#[tokio::test]
async fn orders_export_as_json_and_csv_reads_back() {
    let two: &[(&str, u32, &str)] = &[("SKU-A", 2, "10.00"), ("SKU-B", 1, "5.50")];
    let (w, id) = tests::World::with_orders(&[("E-1", two), ("E-2", two)]).await;
    let prefix = w.store.tables().companies.trim_end_matches("companies").to_owned();
    let out = run(&prefix, &["orders", "export", id.as_str(), "--since", "1h", "--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let orders: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let orders = orders.as_array().cloned().unwrap_or_default();
    assert_eq!(orders.len(), 2, "{stdout}");
    let e1 = orders.iter().find(|o| o["order_number"] == "E-1").cloned().unwrap_or_default();
    assert_eq!(e1["lines"][0]["partner_sku"], "SKU-A");
    assert_eq!((e1["lines"][0]["quantity"].as_u64(), e1["lines"][0]["open_quantity"].as_u64()), (Some(2), Some(2)));
    assert_eq!(e1["lines"][1]["item_price"], "5.50");
    assert_eq!(e1["unmapped"], false);
    assert!(e1["shipping_method"].as_str().is_some_and(|m| !m.is_empty()), "{e1}");
    assert!(e1["ship_to"]["address1"].as_str().is_some_and(|a| !a.is_empty()), "{e1}");

    let out = run(&prefix, &["orders", "export", id.as_str(), "--since", "1h", "--format", "csv"]);
    let (stdout, _) = text(&out);
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    let header = reader.headers().map(|h| h.iter().map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default();
    let rows: Vec<csv::StringRecord> = reader.records().filter_map(Result::ok).collect();
    assert_eq!(rows.len(), 4, "a row a line: {stdout}");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
    assert!(rows.iter().any(|r| &r[col("order_number")] == "E-2"
        && &r[col("partner_sku")] == "SKU-B"
        && &r[col("item_price")] == "5.50"));

    // Nothing downloaded since a minute from now.
    let later = (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let out = run(&prefix, &["orders", "export", id.as_str(), "--since", &later]);
    assert_eq!(text(&out).0.trim(), "[]");
}
