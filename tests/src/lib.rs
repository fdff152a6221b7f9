//! Test harness: the real DynamoDB adapter against moto and the real Overstock client against
//! the sandbox, both over HTTP. `scripts/test.sh` starts both and exports their addresses.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use shared::credentials::FileProvider;
use shared::domain::endpoint::EndpointPolicy;
use shared::domain::mapping::ShippingMethodMapping;
use shared::domain::settings::{ApiBaseUrl, CredentialsRef, LookbackHours};
use shared::domain::settings::{Company, CompanySettings, CredentialsHealth};
use shared::domain::{Clock, CompanyId, ServiceLevelCode, SystemClock};
use shared::overstock::{ClientConfig, OverstockClient, RetryPolicy};
use shared::services::order_download::{Deps, DownloadConfig, RunSummary};
use shared::services::tracking_upload::{UploadConfig, UploadRun, Uploader};
use shared::store::{CompanyStore, DynamoStore, MappingStore, Tables};
use std::path::PathBuf;
use std::time::Duration as StdDuration;

/// Reads an address the test script exported, with a clear message when it is missing.
pub fn required_env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| {
        panic!("{key} is not set: run the tests with scripts/test.sh, which starts moto and the sandbox")
    })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// A store on fresh tables in moto.
pub async fn fresh_store() -> DynamoStore {
    required_env("AWS_ENDPOINT_URL");
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&config), Tables::with_prefix(&unique("t")));
    store.create_tables().await.unwrap_or_else(|e| panic!("create tables: {e}"));
    store
}

/// Fast retries so fault tests finish quickly.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        min_delay: StdDuration::from_millis(5),
        max_delay: StdDuration::from_millis(40),
        max_retries: 6,
        max_retry_after: StdDuration::from_millis(50),
        request_timeout: StdDuration::from_secs(10),
        call_budget: StdDuration::from_secs(60),
        max_response_bytes: 16 * 1024 * 1024,
        max_inventory_bytes: 64 * 1024 * 1024,
    }
}

/// The endpoint policy of local runs: loopback sandboxes allowed.
pub fn local_endpoints() -> EndpointPolicy {
    EndpointPolicy { allowed_hosts: Vec::new(), allow_loopback: true }
}

/// A client with `retry` that may call the loopback sandbox.
pub fn client_with(retry: RetryPolicy) -> OverstockClient {
    OverstockClient::new(ClientConfig { retry, endpoints: local_endpoints() }).unwrap_or_else(|e| panic!("client: {e}"))
}

pub fn client() -> OverstockClient {
    client_with(fast_retry())
}

pub fn base_url(s: &str) -> ApiBaseUrl {
    ApiBaseUrl::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// The account of a sandbox user.
pub fn sandbox_account(base: &str, username: &str, password: &str) -> shared::overstock::Account {
    shared::overstock::Account {
        base_url: base_url(base),
        credentials: shared::credentials::Credentials {
            username: username.into(),
            password: shared::credentials::Secret::new(password),
        },
        deadline: None,
        accepted: Default::default(),
        trail: Default::default(),
        dry_run: Default::default(),
    }
}

/// The sandbox's admin API.
#[derive(Clone)]
pub struct Sandbox {
    pub base: String,
    http: reqwest::Client,
}

impl Sandbox {
    pub fn from_env() -> Self {
        Self { base: required_env("SANDBOX_URL"), http: reqwest::Client::new() }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("sandbox {path}: {e}"));
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "sandbox {path}: {status} {v}");
        v
    }

    pub async fn create_account(&self, user: &str, password: &str, warehouse: &str, shape: &str) {
        self.send(
            reqwest::Method::POST,
            "/admin/accounts",
            Some(json!({"username": user, "password": password, "warehouse": warehouse, "shape": shape})),
        )
        .await;
    }

    /// Generates `count` orders created evenly over [from, to). Returns their numbers.
    pub async fn generate(
        &self,
        user: &str,
        count: usize,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        extra: Value,
    ) -> Vec<String> {
        let mut body = json!({"count": count, "from": from, "to": to, "prefix": format!("{user}-"), "seed": 7});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let v = self.send(reqwest::Method::POST, &format!("/admin/accounts/{user}/orders/generate"), Some(body)).await;
        v["order_numbers"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    pub async fn seed(&self, user: &str, order: Value) {
        self.send(reqwest::Method::POST, &format!("/admin/accounts/{user}/orders"), Some(order)).await;
    }

    /// Hostile answers (see docs/sandbox.md): `{"mode": "redirect", "times": 1, ...}`.
    pub async fn hostile(&self, user: &str, hostile: Value) {
        self.send(reqwest::Method::PUT, &format!("/admin/accounts/{user}/hostile"), Some(hostile)).await;
    }

    /// The order is written correctly again (its seeded `wire_override` is dropped).
    pub async fn clear_override(&self, user: &str, number: &str) {
        self.send(reqwest::Method::DELETE, &format!("/admin/accounts/{user}/orders/{number}/wire-override"), None)
            .await;
    }

    pub async fn faults(&self, user: &str, faults: Value) {
        self.send(reqwest::Method::PUT, &format!("/admin/accounts/{user}/faults"), Some(faults)).await;
    }

    /// Every message the sandbox received on `endpoint` (e.g. `/acknowledgements`).
    pub async fn received(&self, user: &str, endpoint: &str) -> Vec<Value> {
        let v = self
            .send(reqwest::Method::GET, &format!("/admin/accounts/{user}/received?endpoint={endpoint}"), None)
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    pub async fn orders(&self, user: &str) -> Vec<Value> {
        self.send(reqwest::Method::GET, &format!("/admin/accounts/{user}/orders"), None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn stats(&self, user: &str) -> Value {
        self.send(reqwest::Method::GET, &format!("/admin/accounts/{user}/stats"), None).await
    }
}

/// One or more companies, each with its own sandbox account, on fresh tables.
pub struct World {
    pub store: DynamoStore,
    pub sandbox: Sandbox,
    pub overstock: OverstockClient,
    pub credentials: FileProvider,
    creds_path: PathBuf,
    creds: serde_json::Map<String, Value>,
    pub config: DownloadConfig,
    pub upload_config: UploadConfig,
}

pub mod browser;
pub mod iam;
pub mod status_pass;

/// A new queue on moto (its URL).
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(unique(name))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create queue {name}: {e}"))
        .queue_url
        .unwrap_or_default()
}

pub const WAREHOUSE: &str = "ACME MAIN";

impl World {
    pub async fn new() -> Self {
        let store = fresh_store().await;
        let dir = std::env::temp_dir().join(unique("creds-"));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let creds_path = dir.join("credentials.json");
        std::fs::write(&creds_path, "{}").unwrap_or_else(|e| panic!("{e}"));
        Self {
            store,
            sandbox: Sandbox::from_env(),
            overstock: client(),
            credentials: FileProvider::new(&creds_path),
            creds_path,
            creds: serde_json::Map::new(),
            config: DownloadConfig { deadline_margin: Duration::seconds(5), ..DownloadConfig::default() },
            upload_config: UploadConfig { deadline_margin: Duration::seconds(5), ..UploadConfig::default() },
        }
    }

    /// Creates a sandbox account and a company using it (download and acknowledgement on,
    /// 6 h first look-back). Returns the company id, which is also the account name.
    pub async fn company(&mut self, shape: &str, edit: impl FnOnce(&mut CompanySettings)) -> CompanyId {
        let user = unique("co");
        let password = unique("pw");
        self.sandbox.create_account(&user, &password, WAREHOUSE, shape).await;
        self.creds.insert(user.clone(), json!({"username": user, "password": password}));
        std::fs::write(&self.creds_path, Value::Object(self.creds.clone()).to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut settings = CompanySettings::new(
            WAREHOUSE.into(),
            base_url(&self.sandbox.base),
            CredentialsRef::parse(&user).unwrap_or_else(|e| panic!("{e}")),
        );
        settings.order_download = true;
        settings.order_acknowledgement = true;
        settings.initial_lookback_hours = LookbackHours::new(6).unwrap_or_else(|e| panic!("{e}"));
        edit(&mut settings);
        let id = CompanyId::parse(&user).unwrap_or_else(|e| panic!("{e}"));
        let now = Utc::now();
        let company = Company {
            company_id: id.clone(),
            name: user.clone(),
            settings,
            credentials_health: CredentialsHealth::Ok,
            created_at: now,
            updated_at: now,
        };
        self.store.create_company(&company).await.unwrap_or_else(|e| panic!("{e}"));
        id
    }

    /// The credentials file the world's companies use (`CREDENTIALS_SOURCE=file` for functions).
    pub fn credentials_file(&self) -> &std::path::Path {
        &self.creds_path
    }

    /// The Overstock password of a company's account (from the credentials file).
    pub fn password(&self, id: &CompanyId) -> String {
        self.creds.get(id.as_str()).and_then(|c| c["password"].as_str()).unwrap_or_default().to_owned()
    }

    /// Replaces a company's password in the credentials file (the sandbox keeps the real one).
    pub fn break_password(&mut self, id: &CompanyId) {
        self.creds.insert(id.to_string(), json!({"username": id.to_string(), "password": "wrong"}));
        std::fs::write(&self.creds_path, Value::Object(self.creds.clone()).to_string())
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Maps the codes the generator uses (all but `WHITE_GLOVE`).
    pub async fn standard_mappings(&self, id: &CompanyId) {
        for (code, method, send, rush) in [
            ("GROUND", "Ground", "FEDEX", false),
            ("NEXT_DAY", "Next Day Air", "UPS", true),
            ("TWO_DAY", "2nd Day Air", "UPS", false),
            ("DOCK", "Freight", "FXFE", false),
        ] {
            self.map(id, code, method, send, rush).await;
        }
    }

    pub async fn map(&self, id: &CompanyId, code: &str, method: &str, send: &str, rush: bool) {
        let m = ShippingMethodMapping {
            code_to_receive: ServiceLevelCode::parse(code).unwrap_or_else(|e| panic!("{e}")),
            shipping_method: method.into(),
            code_to_send: send.into(),
            rush,
        };
        self.store.put_mapping(id, &m).await.unwrap_or_else(|e| panic!("{e}"));
    }

    pub async fn download(&self, run_id: &str) -> RunSummary {
        self.download_with(run_id, &SystemClock, Utc::now() + Duration::minutes(5)).await
    }

    pub async fn download_with(&self, run_id: &str, clock: &impl Clock, deadline: DateTime<Utc>) -> RunSummary {
        let deps = Deps {
            store: &self.store,
            overstock: &self.overstock,
            credentials: &self.credentials,
            clock,
            config: self.config.clone(),
        };
        deps.run(run_id, deadline).await.unwrap_or_else(|e| panic!("run: {e}"))
    }
}

impl World {
    pub async fn upload(&self, run_id: &str) -> UploadRun {
        self.upload_with(run_id, &SystemClock, Utc::now() + Duration::minutes(5)).await
    }

    pub async fn upload_with(&self, run_id: &str, clock: &impl Clock, deadline: DateTime<Utc>) -> UploadRun {
        let up = Uploader {
            store: &self.store,
            overstock: &self.overstock,
            credentials: &self.credentials,
            clock,
            config: self.upload_config.clone(),
        };
        up.run(run_id, deadline).await.unwrap_or_else(|e| panic!("upload: {e}"))
    }

    /// One inventory-push run with `config`, at the system clock.
    pub async fn push(
        &self,
        run_id: &str,
        config: shared::services::inventory::PushConfig,
    ) -> shared::services::inventory::PushRun {
        self.push_with(run_id, &SystemClock, config).await
    }

    pub async fn push_with(
        &self,
        run_id: &str,
        clock: &impl Clock,
        config: shared::services::inventory::PushConfig,
    ) -> shared::services::inventory::PushRun {
        let ports = shared::job::Ports {
            store: &self.store,
            overstock: &self.overstock,
            credentials: &self.credentials,
            clock,
            config,
        };
        ports.run(run_id, clock.now() + Duration::minutes(5)).await.unwrap_or_else(|e| panic!("push: {e}"))
    }

    /// The company's Overstock account as the connector uses it.
    pub async fn account(&self, id: &CompanyId) -> shared::overstock::Account {
        let credentials = shared::credentials::CredentialsProvider::credentials(&self.credentials, id.as_str())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        shared::overstock::Account {
            base_url: base_url(&self.sandbox.base),
            credentials,
            deadline: None,
            accepted: Default::default(),
            trail: Default::default(),
            dry_run: Default::default(),
        }
    }
}

/// An order to seed: its number and lines (sku, quantity, item price).
pub type SeedOrder<'a> = (&'a str, &'a [(&'a str, u32, &'a str)]);

impl World {
    /// A company with download, acknowledgement and upload on and the standard mappings, with
    /// `orders` seeded 30 minutes ago (service level GROUND) and downloaded.
    pub async fn with_orders(orders: &[SeedOrder<'_>]) -> (World, CompanyId) {
        let mut w = World::new().await;
        let id = w.company("current", |s| s.fulfillment_upload = true).await;
        w.standard_mappings(&id).await;
        w.seed_and_download(&id, orders).await;
        (w, id)
    }

    /// Seeds `orders` on the company's sandbox account, created 30 minutes ago (service level
    /// GROUND), and downloads them (all must be new).
    pub async fn seed_and_download(&self, id: &CompanyId, orders: &[SeedOrder<'_>]) {
        let created = Utc::now() - Duration::minutes(30);
        for (n, lines) in orders {
            let lines: Vec<Value> = lines
                .iter()
                .map(|(sku, q, price)| json!({"partner_sku": sku, "quantity": q, "item_price": price}))
                .collect();
            self.sandbox
                .seed(
                    id.as_str(),
                    json!({"order_number": n, "created": created, "service_level_code": "GROUND", "lines": lines}),
                )
                .await;
        }
        let run = self.download(&unique("seeded")).await;
        assert_eq!(of(&run, id).new, orders.len(), "{:?}", of(&run, id));
    }

    /// Records one package per order holding every line in full (tracking `1Z` + the number).
    pub async fn ship_all(&self, id: &CompanyId, numbers: &[&str]) {
        for n in numbers {
            let o = self.order(id, n).await;
            let req = shared::domain::shipment::ShipmentRequest {
                lines: o.overstock.lines.iter().map(|l| (l.line_number.clone(), l.quantity)).collect(),
                carrier_code: None,
                shipping_method: None,
                tracking_number: format!("1Z{}", n.replace(|c: char| !c.is_ascii_alphanumeric(), "")),
                ship_date: Utc::now() - Duration::minutes(2),
            };
            shared::services::shipping::record_shipment(&self.store, id, &o.order_number, &req, Utc::now())
                .await
                .unwrap_or_else(|e| panic!("ship {n}: {e}"));
        }
    }

    /// One stored order.
    /// The order numbers the sandbox acknowledged with a 200, once per time (sorted).
    pub async fn acknowledged(&self, id: &CompanyId) -> Vec<String> {
        let mut out = Vec::new();
        for m in self.sandbox.received(id.as_str(), "/acknowledgements").await {
            if m["http_status"] == 200 {
                for e in m["elements"].as_array().cloned().unwrap_or_default() {
                    out.push(e["order_number"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
        out.sort();
        out
    }

    /// The numbers of the company's stored orders (sorted).
    pub async fn stored_numbers(&self, id: &CompanyId) -> Vec<String> {
        let mut n: Vec<String> = shared::store::OrderStore::list_orders(&self.store, id, 1000)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|o| o.order_number.to_string())
            .collect();
        n.sort();
        n
    }

    pub async fn order(&self, id: &CompanyId, n: &str) -> shared::domain::order::Order {
        let number = shared::domain::OrderNumber::parse(n).unwrap_or_else(|e| panic!("{e}"));
        use shared::store::OrderStore;
        self.store
            .get_orders(id, std::slice::from_ref(&number))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .remove(&number)
            .unwrap_or_else(|| panic!("{n} is not stored"))
    }
}

/// The summary of one company in an upload run.
pub fn up<'a>(run: &'a UploadRun, id: &CompanyId) -> &'a shared::services::tracking_upload::UploadSummary {
    run.companies.iter().find(|c| c.company_id == id.as_str()).unwrap_or_else(|| panic!("{id} not in {run:?}"))
}

/// The summary of one company in a run.
pub fn of<'a>(run: &'a RunSummary, id: &CompanyId) -> &'a shared::services::order_download::CompanySummary {
    run.companies.iter().find(|c| c.company_id == id.as_str()).unwrap_or_else(|| panic!("{id} not in {run:?}"))
}

/// This process's peak resident set size (VmHWM), in MiB, for the benches.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A bench's goal lines: each printed with its verdict; [`Goals::finish`] exits non-zero when one
/// failed (a bench whose goal fails fails, as a test would).
#[derive(Debug, Default)]
pub struct Goals(std::sync::Mutex<Vec<String>>);

impl Goals {
    /// Prints `line` and whether `met`; remembers a miss.
    pub fn check(&self, line: &str, met: bool) {
        println!("{line}   {}", if met { "ok" } else { "GOAL MISSED" });
        if !met {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(line.to_owned());
        }
    }

    /// Exits with status 1 naming the goals missed, if any.
    pub fn finish(self) {
        let missed = self.0.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !missed.is_empty() {
            eprintln!("goals missed:\n  {}", missed.join("\n  "));
            std::process::exit(1);
        }
    }
}
