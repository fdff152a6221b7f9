//! Storage ports (the traits services depend on) and the DynamoDB adapter.
//!
//! Tables, keys, indexes and access patterns: `docs/dynamodb.md`.

pub mod dynamo;

pub use dynamo::{DynamoStore, PutOutcome, Tables};

use crate::domain::mapping::ShippingMethodMapping;
use crate::domain::order::Order;
use crate::domain::settings::{Company, CompanySettings, CredentialsHealth};
use crate::domain::{CompanyId, OrderNumber};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write found the item changed (or present/absent) underneath.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// Throttling, network, 5xx: retryable.
    #[error("dynamodb unavailable: {0}")]
    Unavailable(String),
    /// A bad request or an item that does not read back: permanent.
    #[error("dynamodb request failed: {0}")]
    Permanent(String),
    /// The order cannot be stored as one item, even compressed.
    #[error("order {order} is too large to store: {bytes} bytes (at most {limit})")]
    TooLarge { order: String, bytes: usize, limit: usize },
}

impl StoreError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a rerun needs to know about a stored order, read with a small projection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct OrderDigest {
    pub order_number: OrderNumber,
    #[serde(default)]
    pub version: u64,
    /// [`crate::domain::order::overstock_fingerprint`] of the stored Overstock side.
    #[serde(default)]
    pub ostk_fingerprint: String,
    /// Present while the acknowledgement is pending.
    #[serde(default)]
    pub ack_pending_key: Option<String>,
    /// Present while the order is unmapped.
    #[serde(default)]
    pub unmapped_key: Option<String>,
}

/// A company row that does not read back as a [`Company`] (a value edited in the table that the
/// domain refuses: an unknown time zone, an out-of-range look-back, a password where the
/// reference belongs). It fails that company only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("company {company_id:?}: its row cannot be read: {reason}")]
pub struct UnreadableCompany {
    pub company_id: String,
    pub reason: String,
}

/// One row of the companies table.
pub type CompanyRow = Result<Company, UnreadableCompany>;

pub trait CompanyStore: Send + Sync {
    /// Every company, through the `companies-by-kind` index (no Scan); a row that does not read
    /// back is returned as such, never failing the others.
    fn list_companies(&self) -> impl Future<Output = StoreResult<Vec<CompanyRow>>> + Send;
    fn get_company(&self, id: &CompanyId) -> impl Future<Output = StoreResult<Option<Company>>> + Send;
    /// Creates a company; `Conflict` if it exists.
    fn create_company(&self, company: &Company) -> impl Future<Output = StoreResult<()>> + Send;
    fn update_settings(
        &self,
        id: &CompanyId,
        settings: &CompanySettings,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Records whether the company's credentials work (see [`CredentialsHealth`]).
    fn set_credentials_health(
        &self,
        id: &CompanyId,
        health: &CredentialsHealth,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

pub trait MappingStore: Send + Sync {
    fn list_mappings(
        &self,
        company: &CompanyId,
    ) -> impl Future<Output = StoreResult<Vec<ShippingMethodMapping>>> + Send;
    fn put_mapping(
        &self,
        company: &CompanyId,
        mapping: &ShippingMethodMapping,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Removes the mapping of one code to receive; whether there was one.
    fn remove_mapping(
        &self,
        company: &CompanyId,
        code: &crate::domain::ServiceLevelCode,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

pub trait OrderStore: Send + Sync {
    /// The stored orders among `numbers` (BatchGetItem).
    fn get_orders(
        &self,
        company: &CompanyId,
        numbers: &[OrderNumber],
    ) -> impl Future<Output = StoreResult<HashMap<OrderNumber, Order>>> + Send;
    /// [`OrderDigest`]s of the stored orders among `numbers` (BatchGetItem with a projection).
    fn order_digests(
        &self,
        company: &CompanyId,
        numbers: &[OrderNumber],
    ) -> impl Future<Output = StoreResult<HashMap<OrderNumber, OrderDigest>>> + Send;
    /// Whether the order can be stored (checked before it is acknowledged: an order is never
    /// acknowledged while it could not be stored). `TooLarge` when it cannot.
    fn check_storable(&self, order: &Order) -> StoreResult<()>;
    /// Writes orders that a strongly consistent read has just found absent (BatchWriteItem).
    ///
    /// Only order-download creates orders, and it does so under the company's download lease,
    /// so nothing else can create the same key in between; every later change to an order goes
    /// through [`OrderStore::replace_orders`], which is conditional. See docs/decisions.md.
    fn put_new_orders(&self, orders: &[Order]) -> impl Future<Output = StoreResult<()>> + Send;
    /// Replaces orders whose stored `version` equals theirs, incrementing it. Returns the
    /// numbers that lost the race (`version` changed underneath): reload and re-apply those.
    fn replace_orders(&self, orders: &[Order]) -> impl Future<Output = StoreResult<Vec<OrderNumber>>> + Send;
    /// Orders flagged `unmapped shipping method` (sparse index).
    fn list_unmapped(&self, company: &CompanyId) -> impl Future<Output = StoreResult<Vec<Order>>> + Send;
    /// Orders whose acknowledgement is pending (sparse index).
    fn list_ack_pending(&self, company: &CompanyId) -> impl Future<Output = StoreResult<Vec<Order>>> + Send;
    /// Orders with shipments to send or reconcile (sparse index).
    fn list_upload_pending(&self, company: &CompanyId) -> impl Future<Output = StoreResult<Vec<Order>>> + Send;
    /// Orders with a failed upload (sparse index).
    fn list_upload_failed(&self, company: &CompanyId) -> impl Future<Output = StoreResult<Vec<Order>>> + Send;
    /// A company's orders, newest order number last, at most `limit`.
    fn list_orders(&self, company: &CompanyId, limit: usize) -> impl Future<Output = StoreResult<Vec<Order>>> + Send;
    /// Open orders ([`Order::is_open`]) created at or after `since` and, with `until`, not
    /// after it (sparse index, keys and fingerprint only; a range reads only its own entries).
    fn list_open_orders(
        &self,
        company: &CompanyId,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> impl Future<Output = StoreResult<Vec<OpenOrder>>> + Send;
    /// The watched orders ([`Order::watched_ship_by`]) whose ship-by instant is not after
    /// `until`, soonest first, and the ship-by instant of the first one after it (when the
    /// watchdog must look again). Sparse index, keys and the flag only.
    fn list_watched(
        &self,
        company: &CompanyId,
        until: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Watched>> + Send;
}

/// The watched orders due by some instant, from the `orders-ship-by` index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watched {
    pub due: Vec<WatchedOrder>,
    /// The earliest ship-by instant after the asked one, if any order has one.
    pub next: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedOrder {
    pub order_number: OrderNumber,
    pub ship_by: DateTime<Utc>,
    /// What the watchdog last stored on it.
    pub flag: Option<crate::domain::order::WatchFlag>,
}

/// An open order as the status sync needs it (read from the `orders-open` index, not the item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrder {
    pub order_number: OrderNumber,
    /// Overstock's `sofsCreatedDate`: where to read the order again.
    pub created: DateTime<Utc>,
    /// [`crate::domain::order::overstock_fingerprint`] of the stored Overstock side.
    pub fingerprint: String,
}

/// The key of a quarantine record, by kind. Each kind has its own prefix, ending at the first
/// `#`, and what follows it is the kind's own text: an order number from Overstock (any text)
/// can never spell the key of an unreadable second or of an unnamed element, nor of another
/// order ("a key built from outside text never collides with anything").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuarantineKey {
    /// An order element that names its order: `order#<number>`.
    Order(String),
    /// An order element without an order number: `unnamed#<FNV-1a of its text, 16 hex>`.
    Unnamed(u64),
    /// A creation second whose answer cannot be read: `second#<UTC key>`.
    Second(DateTime<Utc>),
}

impl QuarantineKey {
    pub const ORDER: &'static str = "order#";
    pub const UNNAMED: &'static str = "unnamed#";
    pub const SECOND: &'static str = "second#";

    /// The stored key.
    pub fn as_key(&self) -> String {
        match self {
            Self::Order(n) => format!("{}{n}", Self::ORDER),
            Self::Unnamed(f) => format!("{}{f:016x}", Self::UNNAMED),
            Self::Second(t) => format!("{}{}", Self::SECOND, crate::domain::utc_key(*t)),
        }
    }

    /// Whether a stored key is an unreadable second's.
    pub fn is_second(key: &str) -> bool {
        key.starts_with(Self::SECOND)
    }

    /// Whether a stored key has one of the kinds' prefixes (a record written before the keys had
    /// kinds holds the bare order number).
    pub fn has_kind(key: &str) -> bool {
        [Self::ORDER, Self::UNNAMED, Self::SECOND].iter().any(|p| key.starts_with(p))
    }
}

/// An order element Overstock sent that could not be stored: it did not parse, or it is too
/// large to store. It is never acknowledged; each run reads it again (`window`) until it parses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuarantinedOrder {
    /// The record's key ([`QuarantineKey::as_key`]).
    pub key: String,
    pub order_number: Option<String>,
    /// Where to read it again: a one-second window at its creation time when known, else the
    /// window it came in.
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Why it was set apart: the element path and the order, never a name or an address.
    pub reason: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How many runs have read it and still could not store it.
    pub sightings: u32,
}

impl QuarantinedOrder {
    /// A record seen for the first time at `now`, to be read again in `window`.
    pub fn first_sighting(
        key: String,
        order_number: Option<String>,
        window: crate::domain::window::Window,
        reason: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            key,
            order_number,
            window_start: window.start,
            window_end: window.end,
            reason,
            first_seen: now,
            last_seen: now,
            sightings: 1,
        }
    }
}

/// Quarantined orders of a company (kept in the sync-state table).
pub trait QuarantineStore: Send + Sync {
    /// Records or refreshes (keeping `first_seen`, counting `sightings`).
    fn quarantine(
        &self,
        company: &CompanyId,
        orders: &[QuarantinedOrder],
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn list_quarantined(&self, company: &CompanyId) -> impl Future<Output = StoreResult<Vec<QuarantinedOrder>>> + Send;
    /// The order parses (and is stored) now.
    fn release_quarantined(&self, company: &CompanyId, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Where a request (cancel, refund, RMA) stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RequestState {
    /// Recorded before anything was done; being worked on (or interrupted: a redelivery goes on).
    Received,
    /// Done: what it did.
    Done { at: DateTime<Utc>, summary: String },
    /// Refused for a reason that will not change: final.
    Rejected { at: DateTime<Utc>, reason: String },
    /// Retried until its queue gave up (the message is on the dead-letter queue, the sender was
    /// told with the last reason). A message moved back from the DLQ goes on from here.
    GaveUp { at: DateTime<Utc>, reason: String },
}

/// One request as recorded under (company, request id), before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestRecord {
    pub company_id: CompanyId,
    pub request_id: String,
    /// `cancel`, `refund`, `rma_open`, `rma_receive`, `rma_close`.
    pub kind: String,
    pub order_number: String,
    /// FNV-1a of the message body: the same id with another body is a conflict.
    pub body_digest: String,
    pub received_at: DateTime<Utc>,
    pub state: RequestState,
    /// Deliveries that ended in a retryable failure, with the last one's reason.
    #[serde(default)]
    pub failures: u32,
    #[serde(default)]
    pub last_failure: Option<String>,
}

/// What `record_request` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// A record under the same id exists already (a redelivery, or a reused id).
    Existing(RequestRecord),
}

/// Requests by (company, request id): the idempotency of the request queues.
pub trait RequestStore: Send + Sync {
    /// Records a request unless one exists under its id (conditional write); returns which.
    fn record_request(&self, record: &RequestRecord) -> impl Future<Output = StoreResult<Recorded>> + Send;
    /// Replaces an existing record (its outcome, its failures).
    fn update_request(&self, record: &RequestRecord) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_request(
        &self,
        company: &CompanyId,
        request_id: &str,
    ) -> impl Future<Output = StoreResult<Option<RequestRecord>>> + Send;
    /// A company's requests, at most `limit`.
    fn list_requests(
        &self,
        company: &CompanyId,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<RequestRecord>>> + Send;
}

/// What a job's item held when a run took its lease ([`SyncStateStore::take_lease`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobState {
    pub watermark: Option<DateTime<Utc>>,
    /// What the last run left for the next one (the job's own JSON, opaque to the store), when
    /// that run released the lease itself: `None` after a run that died holding it, or before
    /// any run.
    pub notes: Option<String>,
    /// Pokes by writers outside the lease ([`SyncStateStore::poke`]), and how many of them the
    /// last run that released the lease had seen: more pokes than seen means "look again".
    pub pokes: u64,
    pub pokes_seen: u64,
}

impl JobState {
    /// A writer outside the lease poked the job since its last clean run.
    pub fn poked(&self) -> bool {
        self.pokes > self.pokes_seen
    }
}

/// What a run leaves on its job's item as it releases the lease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobRelease {
    /// A watermark further than the stored one (the caller checks that it is further).
    pub watermark: Option<DateTime<Utc>>,
    /// Notes for the next run; `None` removes them (the next run starts from nothing known).
    pub notes: Option<String>,
    /// The notes were written for a failed run on purpose (they claim nothing the run did not
    /// see, e.g. "every check unknown" and the window that failed): the frame keeps them.
    pub notes_after_failure: bool,
    /// The pokes this run had seen when it took the lease (`JobState::pokes`).
    pub pokes_seen: Option<u64>,
    /// When the run ended: the flow's dispatch is finished (the item that holds the lease holds
    /// the dispatch's marks: `DispatchStore::mark_finished` in the same write).
    pub finished_at: Option<DateTime<Utc>>,
}

/// Per-company, per-job progress: a lease (one run at a time) and a watermark.
pub trait SyncStateStore: Send + Sync {
    /// Takes the lease like [`Self::acquire_lease`] and returns what the job's item held before
    /// (`None`: another run holds it). One conditional write, the item read with it.
    fn take_lease(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<JobState>>> + Send;
    /// Releases the lease (if still `owner`'s) and writes `release` in the same write; nothing
    /// is written when the lease is not `owner`'s any more.
    fn release_with(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        release: &JobRelease,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Tells the job's next run that something changed outside its lease (e.g. an operator
    /// requeued an acknowledgement): it looks at everything again.
    fn poke(&self, company: &CompanyId, job: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// A small record of a job's own (e.g. the status sync's pass), by name; `None` if absent.
    fn get_record(&self, company: &CompanyId, name: &str) -> impl Future<Output = StoreResult<Option<String>>> + Send;
    /// Writes (replaces) a record; the caller holds the lease of the job that owns it.
    fn put_record(&self, company: &CompanyId, name: &str, body: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Takes the lease if free, expired, or already ours. False when another run holds it.
    fn acquire_lease(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    fn release_lease(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_watermark(
        &self,
        company: &CompanyId,
        job: &str,
    ) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;
    /// Moves the watermark forward only, and only while `owner` holds the lease. `Conflict`
    /// when the lease was lost; a watermark already further is left as is (Ok).
    fn advance_watermark(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        to: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A rotation cursor (e.g. where the status sync stopped), under `name`.
    fn get_cursor(
        &self,
        company: &CompanyId,
        name: &str,
    ) -> impl Future<Output = StoreResult<Option<DateTime<Utc>>>> + Send;
    /// Sets a rotation cursor (forward or back: a rotation wraps). The caller holds the lease of
    /// the job that owns it.
    fn set_cursor(
        &self,
        company: &CompanyId,
        name: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Products, purchase orders and containers of a company (the inventory push's data).
pub trait InventoryStore: Send + Sync {
    /// The products of `skus` that exist (consistent read).
    fn get_products(
        &self,
        company: &CompanyId,
        skus: &[crate::domain::inventory::Sku],
    ) -> impl Future<Output = StoreResult<HashMap<crate::domain::inventory::Sku, crate::domain::inventory::Product>>> + Send;
    /// Writes each product as `version + 1` if its stored version is still `version` (absent for
    /// version 0). Returns the SKUs that changed underneath (nothing written for those).
    fn put_products(
        &self,
        products: &[crate::domain::inventory::Product],
    ) -> impl Future<Output = StoreResult<Vec<crate::domain::inventory::Sku>>> + Send;
    /// Products due on or before `today` (a sparse index: products at rest cost nothing).
    fn list_due_products(
        &self,
        company: &CompanyId,
        today: chrono::NaiveDate,
    ) -> impl Future<Output = StoreResult<Vec<crate::domain::inventory::Product>>> + Send;
    /// Every product of the company (the periodic comparison, listings).
    fn list_products(
        &self,
        company: &CompanyId,
    ) -> impl Future<Output = StoreResult<Vec<crate::domain::inventory::Product>>> + Send;
    /// Products whose value Overstock refused too many times (a sparse index).
    fn list_failed_products(
        &self,
        company: &CompanyId,
    ) -> impl Future<Output = StoreResult<Vec<crate::domain::inventory::Product>>> + Send;
    fn get_source(
        &self,
        company: &CompanyId,
        kind: crate::domain::inventory::SupplyKind,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<crate::domain::inventory::SupplySource>>> + Send;
    /// Writes the source unless the stored one is as recent (`updated_at`): false then.
    fn put_source(
        &self,
        source: &crate::domain::inventory::SupplySource,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    fn list_sources(
        &self,
        company: &CompanyId,
        kind: crate::domain::inventory::SupplyKind,
    ) -> impl Future<Output = StoreResult<Vec<crate::domain::inventory::SupplySource>>> + Send;
}

/// The contract of a job's lease, notes, pokes and records ([`SyncStateStore::take_lease`] and
/// the methods after it): one suite run on the in-memory store and on DynamoDB (moto), so that
/// the fake the unit tests use cannot drift from the adapter.
pub async fn job_state_contract<S: SyncStateStore>(store: &S, company: &CompanyId) -> Result<(), String> {
    let t = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").map_err(|e| e.to_string())?.with_timezone(&Utc);
    let m = |n: i64| t + chrono::Duration::minutes(n);
    let job = "contract-job";
    let e = |e: StoreError| e.to_string();
    let check = |what: &str, ok: bool| if ok { Ok(()) } else { Err(format!("contract broken: {what}")) };
    let first = store.take_lease(company, job, "run-1", m(2), t).await.map_err(e)?;
    check("a first lease finds nothing", first == Some(JobState::default()))?;
    check(
        "a held lease is not taken",
        store.take_lease(company, job, "run-2", m(3), m(1)).await.map_err(e)?.is_none(),
    )?;
    let release = JobRelease {
        watermark: Some(m(1)),
        notes: Some("{\"a\":1}".into()),
        pokes_seen: Some(0),
        ..Default::default()
    };
    store.release_with(company, job, "run-2", &release).await.map_err(e)?;
    check("another run's release writes nothing", store.get_watermark(company, job).await.map_err(e)?.is_none())?;
    store.release_with(company, job, "run-1", &release).await.map_err(e)?;
    let second = store.take_lease(company, job, "run-2", m(4), m(3)).await.map_err(e)?;
    let want = JobState { watermark: Some(m(1)), notes: Some("{\"a\":1}".into()), pokes: 0, pokes_seen: 0 };
    check("the next run reads the watermark and notes", second.as_ref() == Some(&want))?;
    check("the watermark is the one read apart", store.get_watermark(company, job).await.map_err(e)? == Some(m(1)))?;
    // run-2 dies holding the lease; run-3 takes it once expired: the notes are not trusted.
    store.poke(company, job).await.map_err(e)?;
    store.poke(company, job).await.map_err(e)?;
    let third = store.take_lease(company, job, "run-3", m(10), m(5)).await.map_err(e)?;
    let want = JobState { watermark: Some(m(1)), notes: None, pokes: 2, pokes_seen: 0 };
    check("after a run that died holding the lease: no notes; pokes counted", third.as_ref() == Some(&want))?;
    check("poked", third.as_ref().is_some_and(JobState::poked))?;
    let release = JobRelease { watermark: None, notes: None, pokes_seen: Some(2), ..Default::default() };
    store.release_with(company, job, "run-3", &release).await.map_err(e)?;
    let fourth = store.take_lease(company, job, "run-4", m(11), m(6)).await.map_err(e)?;
    let want = JobState { watermark: Some(m(1)), notes: None, pokes: 2, pokes_seen: 2 };
    check("a release without notes removes them; seen pokes kept", fourth.as_ref() == Some(&want))?;
    check("not poked once seen", fourth.as_ref().is_some_and(|s| !s.poked()))?;
    check("no record yet", store.get_record(company, "contract-record").await.map_err(e)?.is_none())?;
    store.put_record(company, "contract-record", "one").await.map_err(e)?;
    store.put_record(company, "contract-record", "two").await.map_err(e)?;
    check(
        "a record replaced",
        store.get_record(company, "contract-record").await.map_err(e)?.as_deref() == Some("two"),
    )?;
    Ok(())
}

#[cfg(test)]
mod contract_tests {
    #[tokio::test]
    async fn the_memory_store_keeps_the_job_state_contract() {
        let store = crate::fakes::MemoryStore::default();
        let id = super::CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(super::job_state_contract(&store, &id).await, Ok(()));
    }
}
