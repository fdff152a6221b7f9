//! overstockctl: the operator's CLI over the connector's DynamoDB tables.

mod console;
mod inventory;
mod ops;
mod out;
mod requests;
mod shipments;
mod table;

use out::{say, warn_line};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use shared::config::ProcessEnv;
use shared::domain::calendar;
use shared::domain::dry_run::DryRun;
use shared::domain::mapping::ShippingMethodMapping;
use shared::domain::order::{AckState, Order, WatchFlag};
use shared::domain::settings::{ApiBaseUrl, Company, CompanySettings, CredentialsHealth, CredentialsRef};
use shared::domain::settings_change::SettingsChange;
use shared::domain::shipment::{ShipmentRequest, UploadState};
use shared::domain::{CompanyId, OrderNumber, utc_key};
use shared::overstock::ClientConfig;
use shared::store::{CompanyStore, DynamoStore, MappingStore, OrderStore};
use table::Table;

#[derive(Parser)]
#[command(
    name = "overstockctl",
    about = "Operate the Overstock connector: companies, mappings, orders and shipments, requests, inventory, audit",
    long_about = "Operate the Overstock connector: companies and their settings, shipping method mappings, orders and \
                  shipments, cancel/refund/RMA requests, inventory (products, POs, containers), the audit trail, \
                  reconciliation and the dead-letter queues. Reads and writes the same DynamoDB tables and queues \
                  as the functions (AWS_ENDPOINT_URL for moto locally).",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Companies and their settings.
    #[command(subcommand)]
    Company(CompanyCmd),
    /// Shipping method mappings.
    #[command(subcommand)]
    Mapping(MappingCmd),
    /// Orders.
    #[command(subcommand)]
    Orders(OrdersCmd),
    /// Records that (part of) an order shipped: one package with its tracking number.
    Ship(ShipArgs),
    /// Uploads Overstock rejected: failed ones and those being retried.
    #[command(subcommand)]
    Uploads(UploadsCmd),
    /// What the download set apart: orders that do not parse (or cannot be stored) and creation
    /// seconds whose answer cannot be read. Each is read again by every download run (a second on
    /// a back-off up to an hour) and leaves the list once it can be stored.
    #[command(subcommand)]
    Quarantine(QuarantineCmd),
    /// Queues a cancel or refund request (on the same queues as every other sender).
    #[command(flatten)]
    Request(requests::RequestCmd),
    /// Requests as recorded, with their outcome.
    #[command(subcommand)]
    Requests(requests::RecordsCmd),
    /// Dead-letter queues: what they hold, and moving it back once the cause is fixed.
    #[command(subcommand)]
    Dlq(requests::DlqCmd),
    /// Does Overstock agree with us? Compares the orders of the last N days with Overstock's,
    /// prints each difference and what to do; --repair performs the safe repairs only (store a
    /// missed order, mark a line confirmed here but open on Overstock for the next upload).
    Reconcile {
        /// The company's id (as created with `company create`).
        company: String,
        /// How many days back to compare, 1-30 (by creation time on Overstock).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=30))]
        days: u32,
        /// The report as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Perform the safe repairs (store a missed order; mark a line confirmed here but open on
        /// Overstock for the next upload); every other difference is only reported.
        #[arg(long)]
        repair: bool,
    },
    /// What was said to Overstock: the company's calls (time, operation, attempts with their
    /// status and duration, what they concerned, the answer), or with --order one order's story
    /// (downloaded, acknowledged, shipped, rejected and why, cancelled, refunded; dry-run sends
    /// shown as "would send").
    Audit {
        /// The company's id.
        company: String,
        /// One order's story (e.g. OSTK-77310562) instead of the company's calls.
        #[arg(long, conflicts_with = "sku")]
        order: Option<String>,
        /// One SKU's inventory story: every value sent (or refused, or recorded in dry-run).
        #[arg(long)]
        sku: Option<String>,
        /// From when: RFC 3339, a date (YYYY-MM-DD, UTC), or an age (`90m`, `24h`, `7d`).
        /// Default: 24h for calls, 90d for an order.
        #[arg(long, value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
        /// At most this many calls.
        #[arg(long, default_value_t = 200)]
        limit: usize,
        /// The calls as JSON (each attempt, the request and answer bodies as recorded).
        #[arg(long)]
        json: bool,
    },
    /// Shipments from a CSV file (for a warehouse without a system that sends shipment
    /// messages): each package checked and recorded as the message would be.
    #[command(subcommand)]
    Shipments(shipments::ShipmentsCmd),
    /// Products: available quantities (CSV import for sellers without an intake sender).
    #[command(subcommand)]
    Products(inventory::ProductsCmd),
    /// Purchase orders (quantity on order, estimated delivery date).
    #[command(subcommand)]
    Pos(inventory::SourcesCmd),
    /// Shipping containers (quantity on order, estimated arrival date).
    #[command(subcommand)]
    Containers(inventory::SourcesCmd),
    /// Inventory and backorder values: explain one, what the next run sends, what failed.
    #[command(subcommand)]
    Inventory(inventory::InventoryCmd),
    /// Creates the tables (local runs; production uses template.yaml).
    #[command(subcommand)]
    Tables(TablesCmd),
    /// The operator's console in the browser, on 127.0.0.1 only, with these AWS credentials:
    /// prints a one-time URL that signs one browser in (companies, settings, mappings, orders needing
    /// attention, requests, inventory; docs/console.md).
    Console {
        /// The port on 127.0.0.1 (0: a free one).
        #[arg(long, default_value_t = 8700)]
        port: u16,
    },
}

/// `2026-11-27T10:00:00Z`, `2026-11-27` (UTC midnight), or an age before now: `90m`, `24h`, `7d`.
fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let unit = s.chars().last().unwrap_or(' ');
    let n: i64 = s[..s.len().saturating_sub(1)]
        .parse()
        .map_err(|_| format!("{s:?}: expected RFC 3339, YYYY-MM-DD, or an age such as 90m, 24h, 7d"))?;
    let age = match unit {
        'm' => chrono::Duration::try_minutes(n),
        'h' => chrono::Duration::try_hours(n),
        'd' => chrono::Duration::try_days(n),
        _ => None,
    }
    .filter(|_| (0..=36_500 * 24 * 60).contains(&n))
    .ok_or_else(|| format!("{s:?}: expected an age such as 90m, 24h, 7d"))?;
    Ok(Utc::now() - age)
}

#[derive(Args)]
struct ShipArgs {
    /// The company's id.
    company: String,
    /// Overstock's order number (e.g. OSTK-77310562).
    order: String,
    /// LINE:QUANTITY, repeatable (e.g. --line 1:2 --line 2:1).
    #[arg(long = "line", required = true, value_parser = parse_line)]
    lines: Vec<(String, u32)>,
    /// The package's tracking number, as the carrier gives it.
    #[arg(long)]
    tracking: String,
    /// Carrier code to send (e.g. UPS); default: the mapping's code to send.
    #[arg(long, conflicts_with = "shipping_method")]
    carrier: Option<String>,
    /// The seller's shipping method; its mapping gives the carrier code.
    #[arg(long)]
    shipping_method: Option<String>,
    /// RFC 3339 (e.g. 2026-11-26T15:16:14-07:00); default: now.
    #[arg(long)]
    ship_date: Option<String>,
    /// Send the tracking at the next upload run whatever the company's tracking hold (the
    /// carrier already scanned the parcel).
    #[arg(long)]
    send_now: bool,
}

fn parse_line(s: &str) -> Result<(String, u32), String> {
    let (l, q) = s
        .split_once(':')
        .ok_or_else(|| format!("{:?}: expected LINE:QUANTITY", s.chars().take(40).collect::<String>()))?;
    let q = q.trim();
    let quantity = q
        .parse()
        .map_err(|_| format!("{:?} is not a quantity (1 to 4294967295)", q.chars().take(40).collect::<String>()))?;
    Ok((l.trim().to_owned(), quantity))
}

#[derive(Subcommand)]
enum UploadsCmd {
    /// Lists rejected uploads with Overstock's reason (given up, or retrying).
    Failed {
        /// The company's id.
        company: String,
    },
    /// Packages whose tracking is still to be sent: held by the company's tracking hold (and
    /// until when), or due at the next upload run.
    Pending {
        /// The company's id.
        company: String,
        /// The list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Puts an order's failed uploads back in the queue (all, or one package / line). Reads the
    /// order on Overstock first: a line Overstock shows shipped is recorded accepted, never re-sent.
    Reset {
        /// The company's id.
        company: String,
        /// Overstock's order number.
        order: String,
        /// Only this package (its id as `uploads failed` lists it, e.g. P1).
        #[arg(long)]
        package: Option<String>,
        /// Only this order line (its number on Overstock's order).
        #[arg(long)]
        line: Option<String>,
    },
}

#[derive(Subcommand)]
enum QuarantineCmd {
    /// Lists a company's quarantined orders and unreadable seconds, oldest first.
    List {
        /// The company's id.
        company: String,
        /// The list as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TablesCmd {
    /// Creates the seven tables with their indexes (TABLE_PREFIX, default `overstock-`); an
    /// existing table is left as it is.
    Create,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

impl From<OnOff> for bool {
    fn from(v: OnOff) -> bool {
        matches!(v, OnOff::On)
    }
}

/// A list typed as one argument (`sat,sun`): one value for clap, not many.
#[derive(Clone, Debug, Default)]
struct Weekdays(Vec<chrono::Weekday>);

/// Dates typed as one argument (`2026-12-25,2027-01-01`).
#[derive(Clone, Debug, Default)]
struct Dates(std::collections::BTreeSet<chrono::NaiveDate>);

#[derive(Args, Default)]
struct SettingsArgs {
    /// Enable Order Download.
    #[arg(long, value_enum)]
    download: Option<OnOff>,
    /// Enable Order Acknowledgement.
    #[arg(long, value_enum)]
    acknowledgement: Option<OnOff>,
    /// Enable Order Fulfillment Upload.
    #[arg(long, value_enum)]
    fulfillment_upload: Option<OnOff>,
    /// Enable Inventory Upload.
    #[arg(long, value_enum)]
    inventory_upload: Option<OnOff>,
    /// Send Backorder Information.
    #[arg(long, value_enum)]
    backorder_info: Option<OnOff>,
    /// Enable Shipping Containers for PO.
    #[arg(long, value_enum)]
    shipping_containers: Option<OnOff>,
    /// Overstock warehouse name (exact).
    #[arg(long)]
    warehouse: Option<String>,
    /// `production`, `test`, or a URL (e.g. the local sandbox).
    #[arg(long)]
    api_base_url: Option<String>,
    /// Secret reference (Secrets Manager id/ARN, or a key of the local credentials file).
    #[arg(long)]
    credentials_ref: Option<String>,
    /// Backorder default lead time in calendar months.
    #[arg(long)]
    lead_time_months: Option<u32>,
    /// The company's IANA time zone.
    #[arg(long)]
    time_zone: Option<String>,
    /// How far back the first download reaches, in hours.
    #[arg(long)]
    initial_lookback_hours: Option<u32>,
    /// Flows in dry-run (decided and recorded as "would send", never POSTed): a list of ack,
    /// upload, cancel, refund, inventory; `all`; or `none` to send again (what the dry run
    /// "sent" is not sent again).
    #[arg(long, value_parser = DryRun::parse)]
    dry_run: Option<DryRun>,
    /// Handling time: working days after the day an order counts from (0: ship the same day), 0-30.
    #[arg(long)]
    handling_days: Option<u32>,
    /// Daily cut-off, HH:MM in the company's time zone: orders placed at or after it count from
    /// the next working day; an order's ship-by instant is this time of its last handling day.
    #[arg(long, value_parser = |s: &str| calendar::parse_time("cutoff", s).map_err(|e| e.to_string()))]
    cutoff: Option<chrono::NaiveTime>,
    /// Weekdays the warehouse does not ship, comma-separated (e.g. sat,sun), or `none`.
    #[arg(long, value_parser = |s: &str| calendar::parse_weekdays(s).map(Weekdays).map_err(|e| e.to_string()))]
    non_working_days: Option<Weekdays>,
    /// Dates the warehouse does not ship, YYYY-MM-DD comma-separated, or `none` (replaces the
    /// list; the ship-by of the orders still to ship is computed again).
    #[arg(long, value_parser = |s: &str| calendar::parse_dates(s).map(Dates).map_err(|e| e.to_string()))]
    holidays: Option<Dates>,
    /// How many hours before its ship-by instant an order still to ship is at risk, 1-168.
    #[arg(long)]
    at_risk_hours: Option<u32>,
    /// Tracking hold: minutes after a package's ship date before its tracking is sent (0: none).
    #[arg(long)]
    tracking_delay_minutes: Option<u32>,
    /// Tracking hold: the carrier's daily pickup, HH:MM in the company's time zone on working
    /// days (a package recorded before it is sent at it, after it at the next), or `none`.
    #[arg(long, value_parser = |s: &str| shared::domain::settings_change::parse_pickup(s).map(Pickup))]
    pickup: Option<Pickup>,
    /// The most the shipping refunds of one order may come to, all together, in USD (default
    /// 100.00; 0: shipping is never refunded). A refund asking more is refused with the reason.
    #[arg(long, value_parser = shared::domain::requests::Money::parse)]
    shipping_refund_limit: Option<shared::domain::requests::Money>,
}

/// `--pickup HH:MM` or `none`.
#[derive(Clone, Debug)]
struct Pickup(Option<chrono::NaiveTime>);

impl SettingsArgs {
    /// The flags as a [`SettingsChange`], applied by the rule the console's form uses too.
    fn apply(self, s: &mut CompanySettings) -> Result<()> {
        self.change().apply(s, &ClientConfig::from_env(&ProcessEnv)?.endpoints)?;
        Ok(())
    }

    fn change(self) -> SettingsChange {
        SettingsChange {
            download: self.download.map(bool::from),
            acknowledgement: self.acknowledgement.map(bool::from),
            fulfillment_upload: self.fulfillment_upload.map(bool::from),
            inventory_upload: self.inventory_upload.map(bool::from),
            backorder_info: self.backorder_info.map(bool::from),
            shipping_containers: self.shipping_containers.map(bool::from),
            warehouse: self.warehouse,
            api_base_url: self.api_base_url,
            credentials_ref: self.credentials_ref,
            lead_time_months: self.lead_time_months,
            time_zone: self.time_zone,
            initial_lookback_hours: self.initial_lookback_hours,
            dry_run: self.dry_run,
            handling_days: self.handling_days,
            cutoff: self.cutoff,
            non_working_days: self.non_working_days.map(|Weekdays(w)| w),
            holidays: self.holidays.map(|Dates(d)| d),
            at_risk_hours: self.at_risk_hours,
            tracking_delay_minutes: self.tracking_delay_minutes,
            pickup: self.pickup.map(|Pickup(p)| p),
            shipping_refund_limit: self.shipping_refund_limit,
        }
    }
}

/// `production`, `test`, or a URL that this deployment's policy lets credentials go to
/// (`OVERSTOCK_ALLOWED_HOSTS`, `OVERSTOCK_ALLOW_LOOPBACK`: the same rule the functions apply).
fn base_url(u: &str) -> Result<ApiBaseUrl> {
    let url = ApiBaseUrl::parse(u)?;
    let policy = ClientConfig::from_env(&ProcessEnv)?.endpoints;
    url.check(&policy)?;
    Ok(url)
}

#[derive(Subcommand)]
enum CompanyCmd {
    /// Creates a company (all settings off unless given).
    Create {
        /// The company's id: 1-64 lower-case letters, digits, `-` or `_` (in every table key).
        id: String,
        /// The company's display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Shows a company's settings.
    Show {
        /// The company's id.
        id: String,
    },
    /// Lists companies.
    List,
    /// Changes settings.
    Set {
        /// The company's id.
        id: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Clears the credentials-failed flag once the secret is fixed.
    ClearFlag {
        /// The company's id.
        id: String,
    },
}

#[derive(Subcommand)]
enum MappingCmd {
    /// Sets (creates or replaces) the mapping of one code to receive.
    Set {
        /// The company's id.
        company: String,
        /// Code to receive (service level code on Overstock's order), case-insensitive.
        code: String,
        /// The seller's shipping method the code means (e.g. "UPS Next Day Air").
        #[arg(long)]
        shipping_method: String,
        /// The carrier code sent back to Overstock with the tracking number (e.g. UPS).
        #[arg(long)]
        code_to_send: String,
        /// Orders with this code are rush orders (flagged for the warehouse).
        #[arg(long)]
        rush: bool,
    },
    /// Removes the mapping of one code to receive (orders already mapped keep their method; new
    /// orders with the code are stored unmapped).
    Remove {
        /// The company's id.
        company: String,
        /// Code to receive, case-insensitive.
        code: String,
    },
    /// Lists a company's mappings.
    List {
        /// The company's id.
        company: String,
    },
}

#[derive(Subcommand)]
enum OrdersCmd {
    /// Lists a company's orders with status, rush and unmapped flags.
    List {
        /// The company's id.
        company: String,
        /// At most this many orders (in order-number order).
        #[arg(long, default_value_t = 200)]
        limit: usize,
        /// Only orders needing attention (e.g. unmapped shipping method).
        #[arg(long)]
        attention: bool,
    },
    /// Orders still to ship that are at risk of missing their ship-by time or already late,
    /// soonest first, with the time left (the watchdog's list; `company set --handling-days
    /// --cutoff --non-working-days --holidays --at-risk-hours` set the calendar).
    AtRisk {
        /// The company's id.
        company: String,
        /// The list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queues an acknowledgement Overstock rejected to be sent again (the next download run
    /// reads the order's status from Overstock first and sends only if it still waits for one).
    RequeueAck {
        /// The company's id.
        company: String,
        /// Overstock's order number.
        order: String,
    },
    /// Orders downloaded since a time as the warehouse needs them (lines, SKUs, quantities still
    /// open, prices, the mapped shipping method and code to send, rush, ship-by, the ship-to
    /// address), for a warehouse without a system that reads the order feed. An unmapped order
    /// is listed with `unmapped` and no shipping method: not to be shipped by a guessed one.
    Export {
        /// The company's id.
        company: String,
        /// Downloaded since: RFC 3339, a date (YYYY-MM-DD, UTC), or an age (`90m`, `24h`, `7d`).
        #[arg(long, value_parser = parse_since, default_value = "24h")]
        since: DateTime<Utc>,
        /// `json` (one document, the orders with their lines) or `csv` (a row a line, the
        /// order's columns repeated). Control characters in values are written escaped.
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
    },
    /// Rewrites a company's open orders so they carry the index keys of this version (after an
    /// upgrade that added an index, e.g. `orders-open` for the status sync). Version-checked:
    /// an order changed meanwhile is left as the other writer wrote it (and indexed by it).
    Reindex {
        /// The company's id.
        company: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ExportFormat {
    Json,
    Csv,
}

/// The export's CSV: a row a line of an order, the order's columns repeated; every value with
/// its control characters escaped (a value from outside never moves the terminal's cursor).
fn orders_csv(orders: &[shared::domain::warehouse::WarehouseOrder]) -> Result<String> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record([
        "order_number",
        "created",
        "ship_by",
        "status",
        "service_level_code",
        "shipping_method",
        "code_to_send",
        "unmapped",
        "rush",
        "contact_name",
        "address1",
        "address2",
        "city",
        "state_or_province",
        "postal_code",
        "country_code",
        "phone",
        "line",
        "partner_sku",
        "item_name",
        "quantity",
        "open_quantity",
        "cancelled",
        "item_price",
    ])?;
    let opt =
        |s: &Option<String>| s.as_deref().map(|v| shared::domain::text::escape(v).into_owned()).unwrap_or_default();
    let at = |t: Option<DateTime<Utc>>| t.map(utc_key).unwrap_or_default();
    for o in orders {
        let a = o.ship_to.clone().unwrap_or_default();
        for l in &o.lines {
            w.write_record([
                shared::domain::text::escape(&o.order_number).into_owned(),
                at(o.created),
                at(o.ship_by),
                o.status.to_owned(),
                opt(&o.service_level_code),
                opt(&o.shipping_method),
                opt(&o.code_to_send),
                o.unmapped.to_string(),
                o.rush.to_string(),
                opt(&a.contact_name),
                opt(&a.address1),
                opt(&a.address2),
                opt(&a.city),
                opt(&a.state_or_province),
                opt(&a.postal_code),
                opt(&a.country_code),
                opt(&a.phone),
                shared::domain::text::escape(&l.line).into_owned(),
                opt(&l.partner_sku),
                opt(&l.item_name),
                l.quantity.to_string(),
                l.open_quantity.to_string(),
                l.cancelled.to_string(),
                l.item_price.map(|p| p.to_string()).unwrap_or_default(),
            ])?;
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn company_id(s: &str) -> Result<CompanyId> {
    CompanyId::parse(s).map_err(Into::into)
}

/// A company named on the command line that must exist: an unknown one is an error everywhere
/// (never "nothing recorded").
pub(crate) async fn known(store: &DynamoStore, s: &str) -> Result<CompanyId> {
    Ok(ops::company(store, s).await?.company_id)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // An operator's error is one line with its causes, never a backtrace.
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            warn_line!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The AWS settings the commands need, checked before any call: what is missing is said in one
/// line (never the SDK's dump of a failed call).
async fn aws_settings() -> Result<aws_config::SdkConfig> {
    use aws_sdk_sqs::config::ProvideCredentials;
    let sdk = shared::aws::sdk_config().await;
    if sdk.region().is_none() {
        bail!("no AWS region: set AWS_REGION (or AWS_PROFILE with a region), e.g. AWS_REGION=us-east-1");
    }
    let Some(provider) = sdk.credentials_provider() else {
        bail!("no AWS credentials provider: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    };
    let found = tokio::time::timeout(std::time::Duration::from_secs(10), provider.provide_credentials()).await;
    match found {
        Ok(Ok(_)) => Ok(sdk),
        Ok(Err(e)) => bail!(
            "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ({})",
            shared::aws::error_chain(&e)
        ),
        Err(_) => {
            bail!("no AWS credentials within 10 s: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let sdk = aws_settings().await?;
    let store = DynamoStore::from_config(&sdk)?;
    match cli.command {
        Command::Console { port } => console::serve(store, &sdk, port).await?,
        Command::Tables(TablesCmd::Create) => {
            store.create_tables().await?;
            let t = store.tables();
            say!(
                "tables ready: {}, {}, {}, {}, {}, {}, {}",
                t.companies,
                t.mappings,
                t.orders,
                t.sync_state,
                t.requests,
                t.audit,
                t.inventory
            );
        }
        Command::Company(c) => company(&store, c).await?,
        Command::Shipments(c) => shipments::shipments(&store, c).await?,
        Command::Products(c) => inventory::products(&store, c).await?,
        Command::Pos(c) => inventory::sources(&store, shared::domain::inventory::SupplyKind::PurchaseOrder, c).await?,
        Command::Containers(c) => {
            inventory::sources(&store, shared::domain::inventory::SupplyKind::Container, c).await?
        }
        Command::Inventory(c) => inventory::inventory(&store, c).await?,
        Command::Request(r) => requests::request(&aws_sdk_sqs::Client::new(&sdk), r).await?,
        Command::Requests(r) => requests::records(&store, r).await?,
        Command::Dlq(d) => requests::dlq(&aws_sdk_sqs::Client::new(&sdk), d).await?,
        Command::Mapping(m) => mapping(&store, m).await?,
        Command::Ship(args) => ship(&store, args).await?,
        Command::Quarantine(QuarantineCmd::List { company, json }) => {
            let id = known(&store, &company).await?;
            let mut records = shared::store::QuarantineStore::list_quarantined(&store, &id).await?;
            records.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.key.cmp(&b.key)));
            if json {
                crate::out::json(&records)?;
            } else {
                print_quarantine(&records);
            }
        }
        Command::Uploads(UploadsCmd::Pending { company, json }) => {
            let c = crate::ops::company(&store, &company).await?;
            let id = c.company_id.clone();
            let rows = shared::services::shipping::pending_uploads(&store, &id, Utc::now()).await?;
            if json {
                crate::out::json(&rows)?;
            } else if rows.is_empty() {
                say!("{id}: no tracking waiting to be sent");
            } else {
                let zone = c.settings.time_zone.0;
                let mut t = Table::new(&["ORDER", "PACKAGE", "LINES", "TRACKING", "SHIP DATE (COMPANY TIME)", "SENT"]);
                for r in &rows {
                    t.row(vec![
                        r.order_number.to_string(),
                        r.package_id.clone(),
                        r.lines.join(", "),
                        r.tracking_number.clone(),
                        r.ship_date.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string(),
                        match r.held_until {
                            Some(t) => format!("held until {}", t.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z")),
                            None => "next upload run".into(),
                        },
                    ]);
                }
                t.print();
                let held = rows.iter().filter(|r| r.held_until.is_some()).count();
                say!("{} package(s): {held} held, {} due", rows.len(), rows.len() - held);
            }
        }
        Command::Uploads(UploadsCmd::Failed { company }) => {
            let id = known(&store, &company).await?;
            let mut orders = store.list_upload_failed(&id).await?;
            for o in store.list_upload_pending(&id).await? {
                if !orders.iter().any(|f| f.order_number == o.order_number) {
                    orders.push(o);
                }
            }
            orders.sort_by(|a, b| a.order_number.cmp(&b.order_number));
            print_failed_uploads(&orders);
        }
        Command::Audit { company, order, sku, since, limit, json } => {
            let id = known(&store, &company).await?;
            audit(&store, &id, (order.as_deref(), sku.as_deref()), since, limit, json).await?;
        }
        Command::Reconcile { company, days, json, repair } => {
            let c = crate::ops::company(&store, &company).await?;
            let id = c.company_id.clone();
            let (client, account) = ops::overstock_for(&sdk, &c).await?;
            let now = Utc::now();
            let from = now - chrono::Duration::days(i64::from(days));
            let report =
                shared::services::reconcile::reconcile(&store, &client, &account, &c, from, now, now, repair).await;
            shared::audit::flush(&store, &id, &account.trail).await;
            let report = report?;
            if json {
                crate::out::json(&report)?;
            } else {
                say!(
                    "{}: {} to {}: {} order(s) on Overstock, {} stored, {} GET(s), {} unreadable on Overstock",
                    report.company_id,
                    report.from,
                    report.to,
                    report.overstock_orders,
                    report.stored_orders,
                    report.overstock_calls,
                    report.unreadable_on_overstock
                );
                if !report.unreadable_seconds.is_empty() {
                    say!(
                        "not compared: Overstock's answer cannot be read for {} second(s): {} (overstockctl quarantine list)",
                        report.unreadable_seconds.len(),
                        report.unreadable_seconds.join(", ")
                    );
                }
                let mut t = Table::new(&["ORDER", "LINE", "FINDING", "REPAIRABLE", "WHAT TO DO"]);
                for f in &report.findings {
                    t.row(vec![
                        f.order_number.clone(),
                        f.line.clone().unwrap_or_else(|| "-".into()),
                        serde_json::to_value(f.kind)?.as_str().unwrap_or_default().to_owned(),
                        if f.repairable { "yes".into() } else { "no".into() },
                        f.action.to_owned(),
                    ]);
                }
                if report.findings.is_empty() {
                    say!("no differences");
                } else {
                    t.print();
                }
                if let Some(inv) = &report.inventory {
                    say!(
                        "inventory: {} SKU(s) on Overstock, {} product(s) here, {} difference(s)",
                        inv.overstock_skus,
                        inv.products,
                        inv.drift.len()
                    );
                    let mut t = Table::new(&["SKU", "LAST ACCEPTED HERE", "OVERSTOCK HOLDS", "WHAT TO DO"]);
                    for d in &inv.drift {
                        t.row(vec![
                            d.sku.clone(),
                            d.here.clone().unwrap_or_else(|| "-".into()),
                            d.there.clone().unwrap_or_else(|| "nothing".into()),
                            if d.known_here {
                                "send again (--repair, or the push's daily comparison)".into()
                            } else {
                                "not a product here: check the SKU on Overstock".into()
                            },
                        ]);
                    }
                    if !inv.drift.is_empty() {
                        t.print();
                    }
                }
                for r in &report.repaired {
                    say!("repaired: {r}");
                }
            }
        }
        Command::Uploads(UploadsCmd::Reset { company, order, package, line }) => {
            let c = ops::company(&store, &company).await?;
            let number = OrderNumber::parse(&order)?;
            // Overstock is read first: a line it shows shipped is never sent again.
            let r = ops::reset_uploads(&store, &sdk, &c, &number, (package.as_deref(), line.as_deref())).await?;
            say!("{} failed upload(s) of {number} back in the queue", r.reset);
            if r.confirmed_on_overstock > 0 {
                say!(
                    "{} failed upload(s) of {number} already shipped on Overstock: recorded as accepted, not sent again",
                    r.confirmed_on_overstock
                );
            }
        }
        Command::Orders(OrdersCmd::Reindex { company }) => {
            let c = crate::ops::company(&store, &company).await?;
            let id = c.company_id.clone();
            // Orders downloaded before the watchdog existed get their ship-by instant first.
            let (timed, _) = shared::services::watchdog::recompute_ship_by(&store, &c, Utc::now()).await?;
            let (rewritten, skipped) = shared::services::reconcile::reindex_open_orders(&store, &id).await?;
            say!("{rewritten} open order(s) rewritten with this version's index keys ({timed} given a ship-by time)");
            if !skipped.is_empty() {
                say!("{} changed meanwhile (already written by this version): {:?}", skipped.len(), skipped);
            }
        }
        Command::Orders(OrdersCmd::RequeueAck { company, order }) => {
            let id = known(&store, &company).await?;
            let number = OrderNumber::parse(&order)?;
            ops::requeue_ack(&store, &id, &number).await?;
            say!(
                "the acknowledgement of {number} is pending again: the next order-download run reconciles it with Overstock"
            );
        }
        Command::Orders(OrdersCmd::List { company, limit, attention }) => {
            let id = known(&store, &company).await?;
            let mut orders = store.list_orders(&id, limit).await?;
            if attention {
                orders.retain(|o| !o.attention_flags().is_empty());
            }
            print_orders(&orders);
        }
        Command::Orders(OrdersCmd::Export { company, since, format }) => {
            let id = known(&store, &company).await?;
            let mut orders = store.list_orders(&id, usize::MAX).await?;
            orders.retain(|o| o.downloaded_at >= since);
            orders.sort_by(|a, b| (a.downloaded_at, &a.order_number).cmp(&(b.downloaded_at, &b.order_number)));
            let view: Vec<_> = orders.iter().map(shared::domain::warehouse::WarehouseOrder::of).collect();
            match format {
                ExportFormat::Json => crate::out::json(&view)?,
                ExportFormat::Csv => print!("{}", orders_csv(&view)?),
            }
        }
        Command::Orders(OrdersCmd::AtRisk { company, json }) => {
            let c = crate::ops::company(&store, &company).await?;
            let id = c.company_id.clone();
            let rows = shared::services::watchdog::at_risk(&store, &c, Utc::now()).await?;
            if json {
                crate::out::json(&rows)?;
            } else if rows.is_empty() {
                say!(
                    "{id}: no order at risk of missing its ship-by time ({} h before it) and none late",
                    c.settings.ship_by.at_risk_hours
                );
            } else {
                let zone = c.settings.time_zone.0;
                let mut t = Table::new(&["ORDER", "SHIP BY (COMPANY TIME)", "STATE", "TIME LEFT", "LINES TO SHIP"]);
                for r in &rows {
                    t.row(vec![
                        r.order_number.to_string(),
                        r.ship_by.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string(),
                        r.state.as_str().replace('_', " "),
                        shared::services::watchdog::time_left(r.minutes_left),
                        r.lines_to_ship.join(", "),
                    ]);
                }
                t.print();
                let late = rows.iter().filter(|r| r.state == WatchFlag::Late).count();
                say!("{} order(s): {} at risk, {late} late", rows.len(), rows.len() - late);
            }
        }
    }
    Ok(())
}

async fn company(store: &DynamoStore, cmd: CompanyCmd) -> Result<()> {
    match cmd {
        CompanyCmd::Create { id, name, settings } => {
            let id = company_id(&id)?;
            let (Some(warehouse), Some(reference)) = (settings.warehouse.clone(), settings.credentials_ref.clone())
            else {
                bail!("--warehouse and --credentials-ref are required");
            };
            let name = shared::domain::settings::company_name(&name).context("--name")?;
            let mut s = CompanySettings::new(warehouse, base_url("test")?, CredentialsRef::parse(&reference)?);
            settings.apply(&mut s)?;
            let now = Utc::now();
            let c = Company {
                company_id: id.clone(),
                name,
                settings: s,
                credentials_health: CredentialsHealth::Ok,
                created_at: now,
                updated_at: now,
            };
            store.create_company(&c).await.context("create company")?;
            print_company(&c);
        }
        CompanyCmd::Show { id } => {
            let c = ops::company(store, &id).await?;
            print_company(&c);
        }
        CompanyCmd::List => {
            let mut t =
                Table::new(&["COMPANY", "NAME", "DOWNLOAD", "ACK", "UPLOAD", "BACKORDER", "WAREHOUSE", "CREDENTIALS"]);
            for row in store.list_companies().await? {
                let c = match row {
                    Ok(c) => c,
                    Err(bad) => {
                        t.row(vec![
                            bad.company_id.clone(),
                            format!("UNREADABLE: {}", bad.reason),
                            String::new(),
                            String::new(),
                            String::new(),
                            String::new(),
                            String::new(),
                            String::new(),
                        ]);
                        continue;
                    }
                };
                let s = &c.settings;
                t.row(vec![
                    c.company_id.to_string(),
                    c.name.clone(),
                    yn(s.order_download),
                    yn(s.order_acknowledgement),
                    yn(s.fulfillment_upload),
                    yn(s.send_backorder_info),
                    s.warehouse_code.clone(),
                    health(&c.credentials_health),
                ]);
            }
            t.print();
        }
        CompanyCmd::Set { id, settings } => {
            let c = ops::company(store, &id).await?;
            let done = ops::change_settings(store, c, settings.change(), Utc::now()).await?;
            print_company(&done.company);
            if let Some((moved, lost)) = done.recomputed {
                say!("the calendar changed: {moved} open order(s) have a new ship-by time");
                if !lost.is_empty() {
                    warn_line!("{} order(s) changed meanwhile; run the command again for them: {:?}", lost.len(), lost);
                }
            }
        }
        CompanyCmd::ClearFlag { id } => {
            let id = known(store, &id).await?;
            store.set_credentials_health(&id, &CredentialsHealth::Ok, Utc::now()).await?;
            say!("credentials flag cleared for {id}");
        }
    }
    Ok(())
}

async fn mapping(store: &DynamoStore, cmd: MappingCmd) -> Result<()> {
    match cmd {
        MappingCmd::Set { company, code, shipping_method, code_to_send, rush } => {
            let id = known(store, &company).await?;
            let m = ops::set_mapping(store, &id, &code, &shipping_method, &code_to_send, rush).await?;
            say!(
                "{id}: {} -> {}, code to send {}{}",
                m.code_to_receive.as_str(),
                m.shipping_method,
                m.code_to_send,
                if m.rush { ", rush" } else { "" }
            );
        }
        MappingCmd::Remove { company, code } => {
            let id = known(store, &company).await?;
            if ops::remove_mapping(store, &id, &code).await? {
                say!(
                    "{id}: mapping of {} removed (new orders with it are stored unmapped)",
                    code.trim().to_ascii_uppercase()
                );
            } else {
                bail!("{id} has no mapping of {}", code.trim().to_ascii_uppercase());
            }
        }
        MappingCmd::List { company } => {
            let id = known(store, &company).await?;
            let mut ms = store.list_mappings(&id).await?;
            ms.sort_by(|a, b| a.code_to_receive.cmp(&b.code_to_receive));
            print_mappings(&ms);
        }
    }
    Ok(())
}

fn yn(b: bool) -> String {
    if b { "on".into() } else { "off".into() }
}

/// An order's acknowledgement in a word or two (the CLI's table, the console's pages).
pub(crate) fn ack_text(a: &AckState) -> String {
    match a {
        AckState::NotRequired => "-".into(),
        AckState::Pending => "pending".into(),
        AckState::Acknowledged { sent: true, .. } => "sent".into(),
        AckState::Acknowledged { sent: false, .. } => "already".into(),
        AckState::Rejected { reason, .. } => format!("rejected: {reason}"),
    }
}

/// A company's credentials health (the CLI's tables, the console's companies page).
pub(crate) fn health(h: &CredentialsHealth) -> String {
    match h {
        CredentialsHealth::Ok => "ok".into(),
        CredentialsHealth::Failed { at, reason } => format!("FAILED {} ({reason})", at.format("%Y-%m-%d %H:%M UTC")),
        CredentialsHealth::Refused { refusals, retry_at, reason, .. } => {
            format!("REFUSED {refusals}x ({reason}); next try {}", retry_at.format("%Y-%m-%d %H:%M UTC"))
        }
    }
}

/// Prints the company's calls, or one order's story.
async fn audit(
    store: &DynamoStore,
    id: &CompanyId,
    (order, sku): (Option<&str>, Option<&str>),
    since: Option<DateTime<Utc>>,
    limit: usize,
    json: bool,
) -> Result<()> {
    use shared::audit::AuditStore;
    let subject = match (order, sku) {
        (Some(order), _) => Some((OrderNumber::parse(order)?.to_string(), false)),
        (None, Some(sku)) => Some((shared::domain::inventory::Sku::parse(sku)?.to_string(), true)),
        (None, None) => None,
    };
    if let Some((number, is_sku)) = subject {
        let since = since.unwrap_or_else(|| Utc::now() - chrono::Duration::days(90));
        let story = if is_sku {
            store.sku_story(id, &number, since).await?
        } else {
            store.order_story(id, &number, since).await?
        };
        if json {
            crate::out::json(&story)?;
            return Ok(());
        }
        if story.is_empty() {
            say!("nothing recorded for {number} since {}", utc_key(since));
            return Ok(());
        }
        let mut t = Table::new(&["AT (UTC)", "WITH OVERSTOCK", "WHAT", "OUTCOME"]);
        for e in &story {
            t.row(vec![
                utc_key(e.at),
                e.operation.map_or("read".to_owned(), |o| o.as_str().to_owned()),
                e.what.clone(),
                e.outcome.clone(),
            ]);
        }
        t.print();
        return Ok(());
    }
    let since = since.unwrap_or_else(|| Utc::now() - chrono::Duration::hours(24));
    let calls = store.list_calls(id, since, limit).await?;
    if json {
        crate::out::json(&calls)?;
        return Ok(());
    }
    let mut t = Table::new(&["AT (UTC)", "OPERATION", "ATTEMPTS", "ANSWERS", "MS", "CONCERNS", "RESULT"]);
    for c in &calls {
        // Each attempt's HTTP status (or what happened instead: timeout, network…), in order.
        let answers: Vec<String> =
            c.attempts.iter().map(|a| a.status.map_or_else(|| a.outcome.clone(), |s| s.to_string())).collect();
        let millis = c.attempts.iter().map(|a| a.millis).sum::<u64>();
        let orders = c.orders();
        let concerns = match (orders.len(), &c.window) {
            (0, Some(w)) => format!("window {w}"),
            (n, _) if n <= 3 => orders.into_iter().collect::<Vec<_>>().join(" "),
            (n, _) => format!("{} orders ({} ...)", n, orders.into_iter().take(2).collect::<Vec<_>>().join(" ")),
        };
        t.row(vec![
            utc_key(c.at),
            if c.dry_run { format!("{} (dry run)", c.operation.as_str()) } else { c.operation.as_str().to_owned() },
            c.attempts.len().to_string(),
            if answers.is_empty() { "-".into() } else { answers.join(", ") },
            // Loopback answers take under a millisecond: said so, not "0".
            if millis == 0 && !c.attempts.is_empty() { "<1".into() } else { millis.to_string() },
            concerns,
            c.result.clone(),
        ]);
    }
    if calls.is_empty() {
        say!("no calls recorded since {}", utc_key(since));
    } else {
        t.print();
    }
    Ok(())
}

fn print_company(c: &Company) {
    let s = &c.settings;
    let mut t = Table::new(&["SETTING", "VALUE"]);
    for (k, v) in [
        ("company", c.company_id.to_string()),
        ("name", c.name.clone()),
        ("Enable Order Download", yn(s.order_download)),
        ("Enable Order Acknowledgement", yn(s.order_acknowledgement)),
        ("Enable Order Fulfillment Upload", yn(s.fulfillment_upload)),
        ("Enable Inventory Upload", yn(s.inventory_upload)),
        ("Send Backorder Information", yn(s.send_backorder_info)),
        ("Enable Shipping Containers for PO", yn(s.shipping_containers_for_po)),
        ("warehouse code", s.warehouse_code.clone()),
        ("API base URL", s.api_base_url.to_string()),
        ("credentials (secret reference)", s.credentials_ref.to_string()),
        ("credentials health", health(&c.credentials_health)),
        ("backorder lead time (months)", s.backorder_lead_time_months.to_string()),
        ("time zone", s.time_zone.to_string()),
        ("first download look-back (hours)", s.initial_lookback_hours.to_string()),
        ("dry run (recorded, not sent)", s.dry_run.to_string()),
        ("handling time (working days)", s.ship_by.handling_days.to_string()),
        ("cut-off (company time)", s.ship_by.cutoff.format("%H:%M").to_string()),
        (
            "non-working days",
            if s.ship_by.non_working_weekdays.is_empty() {
                "none".into()
            } else {
                s.ship_by.non_working_weekdays.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            },
        ),
        (
            "holidays",
            if s.ship_by.holidays.is_empty() {
                "none".into()
            } else {
                s.ship_by.holidays.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            },
        ),
        ("at risk before ship-by (hours)", s.ship_by.at_risk_hours.to_string()),
        (
            "tracking hold",
            match (s.tracking_hold.delay_minutes, s.tracking_hold.pickup) {
                (0, None) => "none (sent within a minute)".into(),
                (d, None) => format!("{d} min after the ship date"),
                (0, Some(p)) => format!("until the {} pickup", p.format("%H:%M")),
                (d, Some(p)) => format!("{d} min after the ship date and the {} pickup", p.format("%H:%M")),
            },
        ),
        ("shipping refunds of one order at most (USD)", format!("{:.2}", s.shipping_refund_limit.value())),
    ] {
        t.row(vec![k.to_owned(), v]);
    }
    t.print();
}

fn print_mappings(ms: &[ShippingMethodMapping]) {
    let mut t = Table::new(&["CODE TO RECEIVE", "SHIPPING METHOD", "CODE TO SEND", "RUSH"]);
    for m in ms {
        t.row(vec![
            m.code_to_receive.to_string(),
            m.shipping_method.clone(),
            m.code_to_send.clone(),
            if m.rush { "rush".into() } else { String::new() },
        ]);
    }
    t.print();
}

fn print_orders(orders: &[Order]) {
    let mut t = Table::new(&[
        "ORDER",
        "CREATED (DENVER)",
        "LINES",
        "CONFIRMED",
        "CODE",
        "SHIPPING METHOD",
        "SEND",
        "RUSH",
        "STATUS",
        "OVERSTOCK",
        "ACK",
        "ATTENTION",
    ]);
    for o in orders {
        let so = &o.overstock;
        let code = so
            .shipping
            .service_level
            .as_ref()
            .map(|s| if s.freight { format!("{} (LTL)", s.code) } else { s.code.to_string() })
            .unwrap_or_else(|| "-".into());
        t.row(vec![
            o.order_number.to_string(),
            so.sofs_created_date
                .map(|d| {
                    d.with_timezone(&shared::domain::settings::Tz::America__Denver).format("%Y-%m-%d %H:%M").to_string()
                })
                .unwrap_or_default(),
            so.lines.len().to_string(),
            if o.shipments.is_empty() { "-".into() } else { format!("{}/{}", o.confirmed_lines(), so.lines.len()) },
            code,
            o.shipping.as_ref().map(|s| s.shipping_method.clone()).unwrap_or_else(|| "-".into()),
            o.shipping.as_ref().map(|s| s.code_to_send.clone()).unwrap_or_else(|| "-".into()),
            if o.rush { "RUSH".into() } else { String::new() },
            format!("{:?}", o.local_status),
            so.status.as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            ack_text(&o.ack),
            shared::domain::order::attention_summary(&o.attention_flags()),
        ]);
    }
    t.print();
    let unmapped = orders.iter().filter(|o| o.is_unmapped()).count();
    let rush = orders.iter().filter(|o| o.rush).count();
    say!("{} orders, {rush} rush, {unmapped} with unmapped shipping method", orders.len());
}

async fn ship(store: &DynamoStore, args: ShipArgs) -> Result<()> {
    let id = known(store, &args.company).await?;
    let number = OrderNumber::parse(&args.order)?;
    let ship_date = match &args.ship_date {
        Some(d) => {
            chrono::DateTime::parse_from_rfc3339(d).with_context(|| format!("--ship-date {d:?}"))?.with_timezone(&Utc)
        }
        None => Utc::now(),
    };
    let request = ShipmentRequest {
        lines: args.lines,
        carrier_code: args.carrier,
        shipping_method: args.shipping_method,
        tracking_number: args.tracking,
        ship_date,
    };
    use shared::services::shipping::{Send, record_shipment_sending};
    let send = if args.send_now { Send::Now } else { Send::AsTheCompanyHolds };
    let (order, package) = record_shipment_sending(store, &id, &number, &request, send, Utc::now()).await?;
    let held = order.shipments.iter().find(|p| p.package_id == package).and_then(|p| p.send_after);
    match held {
        Some(t) => say!(
            "recorded package {package} of {number}; order is {:?}; tracking held until {} (the company's tracking hold)",
            order.local_status,
            shared::domain::utc_key(t)
        ),
        None => say!("recorded package {package} of {number}; order is {:?}", order.local_status),
    }
    Ok(())
}

fn print_quarantine(records: &[shared::store::QuarantinedOrder]) {
    use shared::services::order_download::UNREADABLE_SECOND;
    if records.is_empty() {
        say!("nothing set apart");
        return;
    }
    let mut t = Table::new(&["KIND", "ORDER / SECOND", "FIRST SEEN", "LAST SEEN", "READS", "NEXT READ", "WHY"]);
    for q in records {
        let second = q.key.starts_with(UNREADABLE_SECOND);
        let next = if second {
            utc_key(q.last_seen + shared::domain::window::reread_backoff(q.sightings))
        } else {
            "every run".to_owned()
        };
        t.row(vec![
            if second { "second" } else { "order" }.to_owned(),
            if second { utc_key(q.window_start) } else { q.order_number.clone().unwrap_or_else(|| q.key.clone()) },
            utc_key(q.first_seen),
            utc_key(q.last_seen),
            q.sightings.to_string(),
            next,
            q.reason.clone(),
        ]);
    }
    t.print();
    let seconds = records.iter().filter(|q| q.key.starts_with(UNREADABLE_SECOND)).count();
    say!("{} order(s), {seconds} unreadable second(s)", records.len() - seconds);
}

fn print_failed_uploads(orders: &[Order]) {
    let mut t = Table::new(&["ORDER", "PACKAGE", "LINE", "QTY", "TRACKING", "STATE", "ATTEMPTS", "OVERSTOCK SAID"]);
    for o in orders {
        for p in &o.shipments {
            for l in &p.lines {
                let state = match &l.upload {
                    UploadState::Failed { reason, .. } => format!("FAILED: {reason}"),
                    UploadState::Pending if l.last_error.is_some() => "retrying".to_owned(),
                    _ => continue,
                };
                t.row(vec![
                    o.order_number.to_string(),
                    p.package_id.clone(),
                    l.line_number.clone(),
                    l.quantity.to_string(),
                    p.tracking_number.clone(),
                    state,
                    l.attempts.to_string(),
                    l.last_error.clone().unwrap_or_default(),
                ]);
            }
        }
        for c in &o.cancellations {
            for l in &c.lines {
                if let shared::domain::cancellation::ShortShip::Failed { reason, .. } = &l.short_ship {
                    t.row(vec![
                        o.order_number.to_string(),
                        "short ship".into(),
                        l.line.clone(),
                        "-".into(),
                        "-".into(),
                        format!("FAILED ({})", c.reason),
                        "1".into(),
                        reason.clone(),
                    ]);
                }
            }
        }
    }
    t.print();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The README's command list shows every command (each leaf: `overstockctl uploads reset`).
    #[test]
    fn the_readme_shows_every_command() {
        use clap::CommandFactory;
        fn leaves(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
            let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| s.get_name() != "help").collect();
            if subs.is_empty() {
                out.push(path.to_owned());
            }
            for sub in subs {
                leaves(sub, &format!("{path} {}", sub.get_name()), out);
            }
        }
        let readme = include_str!("../../../README.md");
        let mut all = Vec::new();
        leaves(&Cli::command(), "overstockctl", &mut all);
        let shown = |c: &String| readme.contains(&format!("{c} ")) || readme.contains(&format!("{c}\n"));
        let missing: Vec<&String> = all.iter().filter(|c| !shown(c)).collect();
        assert!(missing.is_empty(), "README.md does not show: {missing:?}");
    }

    /// The calendar settings parse as typed, each applied to the rules; bad values refused.
    #[test]
    fn the_calendar_settings_parse_and_apply() {
        let args = ["overstockctl", "company", "set", "acme", "--handling-days", "2", "--cutoff", "15:30"];
        let more = ["--non-working-days", "sun", "--holidays", "2026-12-25,2027-01-01", "--at-risk-hours", "6"];
        let cli = Cli::try_parse_from(args.iter().chain(more.iter())).unwrap_or_else(|e| panic!("{e}"));
        let Command::Company(CompanyCmd::Set { settings, .. }) = cli.command else { panic!("company set") };
        let mut s = CompanySettings::new(
            "W".into(),
            ApiBaseUrl::parse("test").unwrap_or_else(|e| panic!("{e}")),
            CredentialsRef::parse("acme").unwrap_or_else(|e| panic!("{e}")),
        );
        settings.apply(&mut s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.ship_by.handling_days, s.ship_by.at_risk_hours), (2, 6));
        assert_eq!(s.ship_by.cutoff.format("%H:%M").to_string(), "15:30");
        assert_eq!(s.ship_by.non_working_weekdays, [chrono::Weekday::Sun]);
        assert_eq!(s.ship_by.holidays.len(), 2);
        for bad in [["--cutoff", "25:00"], ["--non-working-days", "funday"], ["--holidays", "2026-13-01"]] {
            assert!(
                Cli::try_parse_from(["overstockctl", "company", "set", "acme", bad[0], bad[1]]).is_err(),
                "{bad:?}"
            );
        }
        let too_long = Cli::try_parse_from(["overstockctl", "company", "set", "acme", "--handling-days", "31"]);
        let Ok(Cli { command: Command::Company(CompanyCmd::Set { settings, .. }) }) = too_long else {
            panic!("parses")
        };
        assert!(settings.apply(&mut s).is_err(), "31 handling days refused by the rules' check");
    }

    /// `--help` describes every command and every argument (positional ones too), and the
    /// reasons a cancel or refund takes are listed: a newcomer never guesses.
    #[test]
    fn every_command_and_argument_is_described() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(format!("{here}: no description"));
                }
                for arg in sub.get_arguments() {
                    let id = arg.get_id().as_str();
                    if id != "help" && id != "version" && arg.get_help().is_none() {
                        missing.push(format!("{here} <{id}>: no help"));
                    }
                }
                walk(sub, &here, missing);
            }
        }
        let cli = Cli::command();
        let mut missing = Vec::new();
        walk(&cli, "overstockctl", &mut missing);
        assert!(missing.is_empty(), "undescribed:\n  {}", missing.join("\n  "));
        let about = cli.get_about().map(ToString::to_string).unwrap_or_default();
        for word in ["requests", "inventory", "mappings", "audit"] {
            assert!(about.contains(word), "the one-line description names {word}: {about}");
        }
        let mut cli = Cli::command();
        let help = cli.find_subcommand_mut("cancel").map(|c| c.render_help().to_string()).unwrap_or_default();
        for reason in shared::domain::requests::SHORT_SHIP_REASONS {
            assert!(help.contains(reason), "cancel --help lists {reason}:\n{help}");
        }
        assert!(
            Cli::try_parse_from(["overstockctl", "cancel", "c", "O-1", "--reason", "BORED", "--queue-url", "q"])
                .is_err()
        );
    }

    /// `audit --since`: a time, a date or an age; anything else is refused with what it takes,
    /// and so are `--dry-run` flows the connector does not have and `--order` with `--sku`.
    #[test]
    fn audit_and_dry_run_arguments_refuse_bad_values() {
        let at = |s: &str| parse_since(s).map(|t| t.to_rfc3339());
        assert_eq!(at("2026-11-27T10:00:00-07:00"), Ok("2026-11-27T17:00:00+00:00".into()));
        assert_eq!(at("2026-11-27"), Ok("2026-11-27T00:00:00+00:00".into()));
        let hours = parse_since("24h").map(|t| (Utc::now() - t).num_hours());
        assert_eq!(hours, Ok(24));
        for bad in ["yesterday", "7w", "-3d", "", "99999999d"] {
            assert!(parse_since(bad).is_err(), "{bad:?} accepted");
        }
        for args in [
            vec!["overstockctl", "audit", "acme", "--since", "soon"],
            vec!["overstockctl", "audit", "acme", "--order", "O-1", "--sku", "A"],
            vec!["overstockctl", "company", "set", "acme", "--dry-run", "upload,ship"],
        ] {
            assert!(Cli::try_parse_from(&args).is_err(), "{args:?} accepted");
        }
        assert!(Cli::try_parse_from(["overstockctl", "company", "set", "acme", "--dry-run", "none"]).is_ok());
    }

    /// `reconcile --days` takes 1 to 30; anything else is refused before anything is read.
    #[test]
    fn reconcile_days_out_of_range_are_refused() {
        for bad in ["0", "31", "-1", "seven"] {
            let parsed = Cli::try_parse_from(["overstockctl", "reconcile", "acme", "--days", bad]);
            assert!(parsed.is_err(), "--days {bad} accepted");
        }
        assert!(Cli::try_parse_from(["overstockctl", "reconcile", "acme", "--days", "30", "--repair"]).is_ok());
    }

    proptest! {
        /// Any text given to `--line` is a clear error or a (line, quantity): never a panic.
        #[test]
        fn line_arguments_never_panic(s in ".{0,60}") {
            let _ = parse_line(&s);
        }

        /// Any parsed `--line` set goes through the recording rule without a panic, overflow
        /// included.
        #[test]
        fn recording_never_panics(lines in proptest::collection::vec(("[0-9]{1,3}", any::<u32>()), 0..6), tracking in ".{0,50}") {
            let mut o = shared::domain::order::Order::from_download(
                CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
                serde_json::from_value(serde_json::json!({
                    "order_number": "O-1", "sales_channel_name": "OSTK", "order_date": null, "sofs_created_date": null,
                    "warehouse_code": "W", "ship_to": null, "return_address": null,
                    "shipping": {"is_third_party_billing": null, "is_signature_required": null, "is_declared_value_required": null, "is_export": null, "service_level": null},
                    "overstock_order_id": null, "status": "ENTERED", "action_required": true,
                    "lines": [{"line_number": "1", "partner_sku": null, "sales_channel_sku": null, "barcode": null, "upc": null, "quantity": 4294967295u32,
                               "item_price": null, "item_name": null, "line_status": null, "unit_cost": null, "unit_cost_currency_code": null}]
                })).unwrap_or_else(|e| panic!("{e}")),
                &shared::domain::mapping::MappingTable::new([]),
                false,
                Utc::now(),
            );
            let req = ShipmentRequest { lines, carrier_code: None, shipping_method: None, tracking_number: tracking, ship_date: Utc::now() };
            let _ = o.record_shipment(&req, &shared::domain::mapping::MappingTable::new([]), Utc::now());
        }
    }
}
