//! In-memory fakes of the ports, for unit tests of the services' branches. They are never the
//! evidence that an adapter works: the integration tests against moto and the sandbox are.

use crate::credentials::{Credentials, CredentialsError, CredentialsProvider, Secret};
use crate::domain::mapping::ShippingMethodMapping;
use crate::domain::order::{Order, SalesOrder};
use crate::domain::settings::{Company, CompanySettings, CredentialsHealth};
use crate::domain::window::Window;
use crate::domain::{CompanyId, OrderNumber};
use crate::overstock::acknowledgements::Acknowledgement;
use crate::overstock::shipments::ShipmentElement;
use crate::overstock::{Account, OrderPage, OverstockApi, OverstockError, RejectedElement, UnparseableOrder};
use crate::store::{
    CompanyStore, MappingStore, OrderDigest, OrderStore, QuarantineStore, QuarantinedOrder, StoreError, StoreResult,
    SyncStateStore,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// (company, job).
type JobKey = (CompanyId, String);
/// When a company's work was dispatched, and when it last finished.
type Dispatched = (DateTime<Utc>, Option<DateTime<Utc>>);

/// What the fake store does to the n-th `replace_orders` write (counted from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// The write is applied but reported as a lost race: what a retried request looks like
    /// when its first attempt was applied and its answer lost.
    AppliedButReportedLost,
    /// Another writer changed the order just before this write (its version moves on).
    ConcurrentWriter,
}

/// One company's tables in memory, with optional write faults.
#[derive(Default)]
pub struct MemoryStore {
    pub companies: Mutex<BTreeMap<CompanyId, Company>>,
    pub mappings: Mutex<Vec<(CompanyId, ShippingMethodMapping)>>,
    pub orders: Mutex<BTreeMap<(CompanyId, OrderNumber), Order>>,
    pub leases: Mutex<HashMap<JobKey, (String, DateTime<Utc>)>>,
    pub watermarks: Mutex<HashMap<JobKey, DateTime<Utc>>>,
    pub cursors: Mutex<HashMap<JobKey, DateTime<Utc>>>,
    /// A job's notes and pokes (`SyncStateStore::take_lease`), and jobs' own records.
    pub job_notes: Mutex<HashMap<JobKey, crate::store::JobState>>,
    pub records: Mutex<HashMap<JobKey, String>>,
    /// Faults by the number of the single-order write they hit.
    pub faults: Mutex<HashMap<usize, WriteFault>>,
    pub quarantined: Mutex<BTreeMap<(CompanyId, String), QuarantinedOrder>>,
    pub requests: Mutex<BTreeMap<(CompanyId, String), crate::store::RequestRecord>>,
    pub audit: Mutex<Vec<(CompanyId, crate::audit::AuditEntry)>>,
    pub products: Mutex<BTreeMap<(CompanyId, crate::domain::inventory::Sku), crate::domain::inventory::Product>>,
    pub sources: Mutex<BTreeMap<(CompanyId, String), crate::domain::inventory::SupplySource>>,
    /// Work dispatched per (company, flow): when, and when it last finished.
    pub dispatches: Mutex<HashMap<JobKey, Dispatched>>,
    /// Products read by `list_due_products` and `get_products`, for the "only changes cost reads" tests.
    pub product_reads: Mutex<usize>,
    writes: Mutex<usize>,
}

impl MemoryStore {
    pub fn with_company(company: Company) -> Self {
        let s = Self::default();
        lock(&s.companies).insert(company.company_id.clone(), company);
        s
    }

    pub fn insert_order(&self, o: Order) {
        lock(&self.orders).insert((o.company_id.clone(), o.order_number.clone()), o);
    }

    pub fn all_orders(&self) -> Vec<Order> {
        lock(&self.orders).values().cloned().collect()
    }

    fn filtered(&self, company: &CompanyId, keep: impl Fn(&Order) -> bool) -> Vec<Order> {
        lock(&self.orders).values().filter(|o| &o.company_id == company && keep(o)).cloned().collect()
    }
}

/// A company with every job on, against the test base URL.
pub fn company(id: &str) -> Company {
    let mut settings = CompanySettings::new(
        "ACME MAIN".into(),
        crate::domain::settings::ApiBaseUrl::parse("test").unwrap_or_else(|e| panic!("{e}")),
        crate::domain::settings::CredentialsRef::parse("ref").unwrap_or_else(|e| panic!("{e}")),
    );
    settings.order_download = true;
    settings.fulfillment_upload = true;
    Company {
        company_id: CompanyId::parse(id).unwrap_or_else(|e| panic!("{e}")),
        name: id.into(),
        settings,
        credentials_health: CredentialsHealth::Ok,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

impl CompanyStore for MemoryStore {
    async fn list_companies(&self) -> StoreResult<Vec<crate::store::CompanyRow>> {
        Ok(lock(&self.companies).values().cloned().map(Ok).collect())
    }
    async fn get_company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        Ok(lock(&self.companies).get(id).cloned())
    }
    async fn create_company(&self, company: &Company) -> StoreResult<()> {
        lock(&self.companies).insert(company.company_id.clone(), company.clone());
        Ok(())
    }
    async fn update_settings(&self, id: &CompanyId, settings: &CompanySettings, now: DateTime<Utc>) -> StoreResult<()> {
        let mut c = lock(&self.companies);
        let company = c.get_mut(id).ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        company.settings = settings.clone();
        company.updated_at = now;
        Ok(())
    }
    async fn set_credentials_health(
        &self,
        id: &CompanyId,
        health: &CredentialsHealth,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut c = lock(&self.companies);
        let company = c.get_mut(id).ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        company.credentials_health = health.clone();
        Ok(())
    }
}

impl MappingStore for MemoryStore {
    async fn list_mappings(&self, company: &CompanyId) -> StoreResult<Vec<ShippingMethodMapping>> {
        Ok(lock(&self.mappings).iter().filter(|(c, _)| c == company).map(|(_, m)| m.clone()).collect())
    }
    async fn put_mapping(&self, company: &CompanyId, mapping: &ShippingMethodMapping) -> StoreResult<()> {
        let mut m = lock(&self.mappings);
        m.retain(|(c, x)| !(c == company && x.code_to_receive == mapping.code_to_receive));
        m.push((company.clone(), mapping.clone()));
        Ok(())
    }
    async fn remove_mapping(&self, company: &CompanyId, code: &crate::domain::ServiceLevelCode) -> StoreResult<bool> {
        let mut m = lock(&self.mappings);
        let before = m.len();
        m.retain(|(c, x)| !(c == company && &x.code_to_receive == code));
        Ok(m.len() < before)
    }
}

impl OrderStore for MemoryStore {
    async fn get_orders(
        &self,
        company: &CompanyId,
        numbers: &[OrderNumber],
    ) -> StoreResult<HashMap<OrderNumber, Order>> {
        let orders = lock(&self.orders);
        Ok(numbers
            .iter()
            .filter_map(|n| orders.get(&(company.clone(), n.clone())).map(|o| (n.clone(), o.clone())))
            .collect())
    }
    async fn order_digests(
        &self,
        company: &CompanyId,
        numbers: &[OrderNumber],
    ) -> StoreResult<HashMap<OrderNumber, OrderDigest>> {
        let orders = lock(&self.orders);
        Ok(numbers
            .iter()
            .filter_map(|n| orders.get(&(company.clone(), n.clone())))
            .map(|o| {
                let d = OrderDigest {
                    order_number: o.order_number.clone(),
                    version: o.version,
                    ostk_fingerprint: crate::domain::order::overstock_fingerprint(&o.overstock),
                    ack_pending_key: (o.ack == crate::domain::order::AckState::Pending)
                        .then(|| o.company_id.to_string()),
                    unmapped_key: o.is_unmapped().then(|| o.company_id.to_string()),
                };
                (d.order_number.clone(), d)
            })
            .collect())
    }
    fn check_storable(&self, order: &Order) -> StoreResult<()> {
        let bytes = serde_json::to_vec(order).map(|v| v.len()).unwrap_or(usize::MAX);
        if bytes > 400 * 1024 {
            return Err(StoreError::TooLarge { order: order.order_number.to_string(), bytes, limit: 400 * 1024 });
        }
        Ok(())
    }

    async fn put_new_orders(&self, orders: &[Order]) -> StoreResult<()> {
        for o in orders {
            self.insert_order(o.clone());
        }
        Ok(())
    }
    async fn replace_orders(&self, orders: &[Order]) -> StoreResult<Vec<OrderNumber>> {
        let mut lost = Vec::new();
        for o in orders {
            let n = {
                let mut w = lock(&self.writes);
                *w += 1;
                *w
            };
            let fault = lock(&self.faults).get(&n).copied();
            let mut stored = lock(&self.orders);
            let key = (o.company_id.clone(), o.order_number.clone());
            if fault == Some(WriteFault::ConcurrentWriter) {
                if let Some(s) = stored.get_mut(&key) {
                    s.version += 1;
                }
            }
            match stored.get(&key) {
                Some(s) if s.version == o.version => {
                    let mut next = o.clone();
                    next.version += 1;
                    stored.insert(key, next);
                    if fault == Some(WriteFault::AppliedButReportedLost) {
                        lost.push(o.order_number.clone());
                    }
                }
                _ => lost.push(o.order_number.clone()),
            }
        }
        Ok(lost)
    }
    async fn list_unmapped(&self, company: &CompanyId) -> StoreResult<Vec<Order>> {
        Ok(self.filtered(company, |o| o.is_unmapped()))
    }
    async fn list_ack_pending(&self, company: &CompanyId) -> StoreResult<Vec<Order>> {
        Ok(self.filtered(company, |o| o.ack == crate::domain::order::AckState::Pending))
    }
    async fn list_upload_pending(&self, company: &CompanyId) -> StoreResult<Vec<Order>> {
        Ok(self.filtered(company, |o| o.has_upload_work()))
    }
    async fn list_open_orders(
        &self,
        company: &CompanyId,
        since: chrono::DateTime<chrono::Utc>,
        until: Option<chrono::DateTime<chrono::Utc>>,
    ) -> StoreResult<Vec<crate::store::OpenOrder>> {
        Ok(self
            .filtered(company, |o| o.is_open())
            .into_iter()
            .filter_map(|o| {
                let created = o.overstock.sofs_created_date.filter(|c| *c >= since && until.is_none_or(|u| *c <= u))?;
                Some(crate::store::OpenOrder {
                    order_number: o.order_number.clone(),
                    created,
                    fingerprint: crate::domain::order::overstock_fingerprint(&o.overstock),
                })
            })
            .collect())
    }
    async fn list_watched(
        &self,
        company: &CompanyId,
        until: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<crate::store::Watched> {
        let mut all: Vec<crate::store::WatchedOrder> = self
            .filtered(company, |o| o.watched_ship_by().is_some())
            .into_iter()
            .filter_map(|o| {
                Some(crate::store::WatchedOrder {
                    order_number: o.order_number.clone(),
                    ship_by: o.watched_ship_by()?,
                    flag: o.watch,
                })
            })
            .collect();
        all.sort_by(|a, b| (a.ship_by, &a.order_number).cmp(&(b.ship_by, &b.order_number)));
        let next = all.iter().find(|w| w.ship_by > until).map(|w| w.ship_by);
        all.retain(|w| w.ship_by <= until);
        Ok(crate::store::Watched { due: all, next })
    }
    async fn list_upload_failed(&self, company: &CompanyId) -> StoreResult<Vec<Order>> {
        Ok(self.filtered(company, |o| o.has_failed_upload()))
    }
    async fn list_orders(&self, company: &CompanyId, limit: usize) -> StoreResult<Vec<Order>> {
        let mut all = self.filtered(company, |_| true);
        all.truncate(limit);
        Ok(all)
    }
}

impl crate::services::fanout::DispatchStore for MemoryStore {
    async fn mark_dispatched(
        &self,
        company: &CompanyId,
        flow: crate::domain::work::Flow,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut d = lock(&self.dispatches);
        let key = (company.clone(), flow.as_str().to_owned());
        let free = match d.get(&key) {
            None => true,
            Some((at, finished)) => *at < stale_before || finished.is_some_and(|f| f >= *at),
        };
        if free {
            let finished = d.get(&key).and_then(|(_, f)| *f);
            d.insert(key, (now, finished));
        }
        Ok(free)
    }

    async fn mark_finished(
        &self,
        company: &CompanyId,
        flow: crate::domain::work::Flow,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut d = lock(&self.dispatches);
        let key = (company.clone(), flow.as_str().to_owned());
        let dispatched = d.get(&key).map_or(at, |(t, _)| *t);
        d.insert(key, (dispatched, Some(at)));
        Ok(())
    }
}

impl SyncStateStore for MemoryStore {
    async fn acquire_lease(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut l = lock(&self.leases);
        let key = (company.clone(), job.to_owned());
        match l.get(&key) {
            Some((o, u)) if o != owner && *u >= now => Ok(false),
            _ => {
                l.insert(key, (owner.to_owned(), until));
                Ok(true)
            }
        }
    }
    async fn release_lease(&self, company: &CompanyId, job: &str, owner: &str) -> StoreResult<()> {
        let mut l = lock(&self.leases);
        let key = (company.clone(), job.to_owned());
        if l.get(&key).is_some_and(|(o, _)| o == owner) {
            l.remove(&key);
        }
        Ok(())
    }
    async fn take_lease(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<crate::store::JobState>> {
        let key = (company.clone(), job.to_owned());
        let released = !lock(&self.leases).contains_key(&key);
        if !self.acquire_lease(company, job, owner, until, now).await? {
            return Ok(None);
        }
        let mut state = lock(&self.job_notes).get(&key).cloned().unwrap_or_default();
        state.watermark = lock(&self.watermarks).get(&key).copied();
        if !released {
            state.notes = None;
        }
        Ok(Some(state))
    }
    async fn release_with(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        release: &crate::store::JobRelease,
    ) -> StoreResult<()> {
        let key = (company.clone(), job.to_owned());
        if lock(&self.leases).get(&key).is_none_or(|(o, _)| o != owner) {
            return Ok(());
        }
        if let Some(w) = release.watermark {
            lock(&self.watermarks).insert(key.clone(), w);
        }
        if let (Some(at), Some(flow)) = (release.finished_at, crate::domain::work::Flow::of_job(job)) {
            let mut d = lock(&self.dispatches);
            let key = (company.clone(), flow.as_str().to_owned());
            let dispatched = d.get(&key).map_or(at, |(t, _)| *t);
            d.insert(key, (dispatched, Some(at)));
        }
        {
            let mut notes = lock(&self.job_notes);
            let state = notes.entry(key.clone()).or_default();
            state.notes.clone_from(&release.notes);
            if let Some(p) = release.pokes_seen {
                state.pokes_seen = p;
            }
        }
        lock(&self.leases).remove(&key);
        Ok(())
    }
    async fn poke(&self, company: &CompanyId, job: &str) -> StoreResult<()> {
        lock(&self.job_notes).entry((company.clone(), job.to_owned())).or_default().pokes += 1;
        Ok(())
    }
    async fn get_record(&self, company: &CompanyId, name: &str) -> StoreResult<Option<String>> {
        Ok(lock(&self.records).get(&(company.clone(), name.to_owned())).cloned())
    }
    async fn put_record(&self, company: &CompanyId, name: &str, body: &str) -> StoreResult<()> {
        lock(&self.records).insert((company.clone(), name.to_owned()), body.to_owned());
        Ok(())
    }
    async fn get_watermark(&self, company: &CompanyId, job: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(lock(&self.watermarks).get(&(company.clone(), job.to_owned())).copied())
    }
    async fn advance_watermark(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        to: DateTime<Utc>,
    ) -> StoreResult<()> {
        let key = (company.clone(), job.to_owned());
        if lock(&self.leases).get(&key).is_none_or(|(o, _)| o != owner) {
            return Err(StoreError::Conflict("lease lost".into()));
        }
        let mut w = lock(&self.watermarks);
        if w.get(&key).is_none_or(|cur| *cur < to) {
            w.insert(key, to);
        }
        Ok(())
    }
    async fn get_cursor(&self, company: &CompanyId, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(lock(&self.cursors).get(&(company.clone(), name.to_owned())).copied())
    }
    async fn set_cursor(&self, company: &CompanyId, name: &str, at: DateTime<Utc>) -> StoreResult<()> {
        lock(&self.cursors).insert((company.clone(), name.to_owned()), at);
        Ok(())
    }
}

impl crate::audit::AuditStore for MemoryStore {
    async fn record_audit(&self, company: &CompanyId, entries: &[crate::audit::AuditEntry]) -> StoreResult<()> {
        lock(&self.audit).extend(entries.iter().map(|e| (company.clone(), e.clone())));
        Ok(())
    }

    async fn list_calls(
        &self,
        company: &CompanyId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<crate::audit::CallRecord>> {
        let calls: Vec<crate::audit::CallRecord> = lock(&self.audit)
            .iter()
            .filter(|(c, _)| c == company)
            .filter_map(|(_, e)| match e {
                crate::audit::AuditEntry::Call(call) if call.at >= since => Some(call.clone()),
                _ => None,
            })
            .collect();
        Ok(calls[calls.len().saturating_sub(limit)..].to_vec())
    }

    async fn order_story(
        &self,
        company: &CompanyId,
        order: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<crate::audit::OrderEvent>> {
        let mut out = Vec::new();
        for (_, e) in lock(&self.audit).iter().filter(|(c, _)| c == company) {
            match e {
                crate::audit::AuditEntry::Call(call) => out.extend(call.order_events()),
                crate::audit::AuditEntry::Note(n) => out.push(n.event()),
            }
        }
        out.retain(|e| e.order == order && e.sku.is_none() && e.at >= since);
        Ok(out)
    }

    async fn sku_story(
        &self,
        company: &CompanyId,
        sku: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<crate::audit::OrderEvent>> {
        let mut out = Vec::new();
        for (_, e) in lock(&self.audit).iter().filter(|(c, _)| c == company) {
            if let crate::audit::AuditEntry::Call(call) = e {
                out.extend(call.order_events().into_iter().filter(|e| e.sku.as_deref() == Some(sku) && e.at >= since));
            }
        }
        Ok(out)
    }
}

impl crate::store::InventoryStore for MemoryStore {
    async fn get_products(
        &self,
        company: &CompanyId,
        skus: &[crate::domain::inventory::Sku],
    ) -> StoreResult<HashMap<crate::domain::inventory::Sku, crate::domain::inventory::Product>> {
        let all = lock(&self.products);
        let out: HashMap<_, _> = skus
            .iter()
            .filter_map(|k| all.get(&(company.clone(), k.clone())).map(|p| (k.clone(), p.clone())))
            .collect();
        *lock(&self.product_reads) += out.len();
        Ok(out)
    }

    async fn put_products(
        &self,
        products: &[crate::domain::inventory::Product],
    ) -> StoreResult<Vec<crate::domain::inventory::Sku>> {
        let mut all = lock(&self.products);
        let mut lost = Vec::new();
        for p in products {
            let key = (p.company_id.clone(), p.sku.clone());
            let stored = all.get(&key).map_or(0, |s| s.version);
            if stored != p.version {
                lost.push(p.sku.clone());
                continue;
            }
            let mut next = p.clone();
            next.version += 1;
            all.insert(key, next);
        }
        Ok(lost)
    }

    async fn list_due_products(
        &self,
        company: &CompanyId,
        today: chrono::NaiveDate,
    ) -> StoreResult<Vec<crate::domain::inventory::Product>> {
        use crate::domain::inventory::Due;
        let out: Vec<_> = lock(&self.products)
            .values()
            .filter(|p| &p.company_id == company)
            .filter(|p| match p.due {
                Due::Now => true,
                Due::On(d) => d <= today,
                Due::Never => false,
            })
            .cloned()
            .collect();
        *lock(&self.product_reads) += out.len();
        Ok(out)
    }

    async fn list_products(&self, company: &CompanyId) -> StoreResult<Vec<crate::domain::inventory::Product>> {
        Ok(lock(&self.products).values().filter(|p| &p.company_id == company).cloned().collect())
    }

    async fn list_failed_products(&self, company: &CompanyId) -> StoreResult<Vec<crate::domain::inventory::Product>> {
        Ok(lock(&self.products).values().filter(|p| &p.company_id == company && p.is_failed()).cloned().collect())
    }

    async fn get_source(
        &self,
        company: &CompanyId,
        kind: crate::domain::inventory::SupplyKind,
        id: &str,
    ) -> StoreResult<Option<crate::domain::inventory::SupplySource>> {
        Ok(lock(&self.sources).get(&(company.clone(), crate::domain::inventory::source_key(kind, id))).cloned())
    }

    async fn put_source(&self, source: &crate::domain::inventory::SupplySource) -> StoreResult<bool> {
        let key = (source.company_id.clone(), crate::domain::inventory::source_key(source.kind, &source.id));
        let mut all = lock(&self.sources);
        if all.get(&key).is_some_and(|s| s.updated_at >= source.updated_at) {
            return Ok(false);
        }
        all.insert(key, source.clone());
        Ok(true)
    }

    async fn list_sources(
        &self,
        company: &CompanyId,
        kind: crate::domain::inventory::SupplyKind,
    ) -> StoreResult<Vec<crate::domain::inventory::SupplySource>> {
        Ok(lock(&self.sources).values().filter(|s| &s.company_id == company && s.kind == kind).cloned().collect())
    }
}

impl QuarantineStore for MemoryStore {
    async fn quarantine(&self, company: &CompanyId, orders: &[QuarantinedOrder]) -> StoreResult<()> {
        let mut q = lock(&self.quarantined);
        for o in orders {
            let key = (company.clone(), o.key.clone());
            let mut next = o.clone();
            if let Some(old) = q.get(&key) {
                next.first_seen = old.first_seen;
                next.sightings = old.sightings + 1;
            } else {
                next.sightings = 1;
            }
            q.insert(key, next);
        }
        Ok(())
    }
    async fn list_quarantined(&self, company: &CompanyId) -> StoreResult<Vec<QuarantinedOrder>> {
        Ok(lock(&self.quarantined).iter().filter(|((c, _), _)| c == company).map(|(_, q)| q.clone()).collect())
    }
    async fn release_quarantined(&self, company: &CompanyId, key: &str) -> StoreResult<()> {
        lock(&self.quarantined).remove(&(company.clone(), key.to_owned()));
        Ok(())
    }
}

impl crate::store::RequestStore for MemoryStore {
    async fn record_request(&self, record: &crate::store::RequestRecord) -> StoreResult<crate::store::Recorded> {
        let mut r = lock(&self.requests);
        let key = (record.company_id.clone(), record.request_id.clone());
        match r.get(&key) {
            Some(existing) => Ok(crate::store::Recorded::Existing(existing.clone())),
            None => {
                r.insert(key, record.clone());
                Ok(crate::store::Recorded::New)
            }
        }
    }
    async fn update_request(&self, record: &crate::store::RequestRecord) -> StoreResult<()> {
        lock(&self.requests).insert((record.company_id.clone(), record.request_id.clone()), record.clone());
        Ok(())
    }
    async fn get_request(
        &self,
        company: &CompanyId,
        request_id: &str,
    ) -> StoreResult<Option<crate::store::RequestRecord>> {
        Ok(lock(&self.requests).get(&(company.clone(), request_id.to_owned())).cloned())
    }
    async fn list_requests(&self, company: &CompanyId, limit: usize) -> StoreResult<Vec<crate::store::RequestRecord>> {
        Ok(lock(&self.requests).iter().filter(|((c, _), _)| c == company).map(|(_, r)| r.clone()).take(limit).collect())
    }
}

/// Overstock in memory: orders to serve per window, and every message received.
#[derive(Default)]
pub struct FakeOverstock {
    /// A message holding an element with this tracking number is rejected whole (a 400
    /// naming no element), as Overstock does with an element it cannot read.
    pub poison_tracking: Option<String>,
    pub orders: Mutex<Vec<SalesOrder>>,
    /// Order elements that do not parse, served in the window of their `created`.
    pub unparseable: Mutex<Vec<UnparseableOrder>>,
    pub shipments: Mutex<Vec<Vec<ShipmentElement>>>,
    pub acks: Mutex<Vec<Vec<Acknowledgement>>>,
    pub refunds: Mutex<Vec<Vec<crate::overstock::refunds::RefundItem>>>,
    /// Refunds Overstock applied, by refund id (a repeat is answered as the first).
    pub refunds_applied: Mutex<BTreeMap<String, crate::overstock::refunds::RefundItem>>,
    /// The next N refund posts are applied, then answered 500 (maybe applied, as far as the
    /// sender can tell).
    pub refund_500_after_apply: Mutex<usize>,
    /// Sizes of the messages rejected whole.
    pub rejected_messages: Mutex<Vec<usize>>,
    /// Inventory messages received; what is held per SKU (as last accepted).
    pub inventory_posts: Mutex<Vec<Vec<crate::overstock::inventory::InventoryElement>>>,
    pub inventory_held: Mutex<BTreeMap<String, crate::overstock::inventory::InventoryElement>>,
    /// Inventory elements of these SKUs are rejected by name.
    pub reject_skus: Mutex<Vec<String>>,
}

impl FakeOverstock {
    /// Every (order, line, tracking) confirmed, with how many times.
    pub fn confirmed(&self) -> HashMap<(String, String, String), usize> {
        let mut out = HashMap::new();
        for m in lock(&self.shipments).iter() {
            for i in m {
                if let ShipmentElement::Confirmation(i) = i {
                    *out.entry((i.order_number.clone(), i.line_number.clone(), i.tracking_number.clone()))
                        .or_default() += 1;
                }
            }
        }
        out
    }
}

impl OverstockApi for FakeOverstock {
    async fn fetch_orders(&self, _: &Account, window: &Window) -> Result<OrderPage, OverstockError> {
        let orders: Vec<SalesOrder> = lock(&self.orders)
            .iter()
            .filter(|o| o.sofs_created_date.is_some_and(|t| t >= window.start && t < window.end))
            .cloned()
            .collect();
        let unparseable: Vec<UnparseableOrder> = lock(&self.unparseable)
            .iter()
            .filter(|u| u.created.is_some_and(|t| t >= window.start && t < window.end))
            .cloned()
            .collect();
        Ok(OrderPage { total_count: orders.len() + unparseable.len(), orders, unparseable })
    }
    async fn acknowledge(&self, _: &Account, acks: &[Acknowledgement]) -> Result<Vec<RejectedElement>, OverstockError> {
        lock(&self.acks).push(acks.to_vec());
        Ok(Vec::new())
    }
    async fn post_shipments(
        &self,
        _: &Account,
        items: &[ShipmentElement],
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        if let Some(p) = &self.poison_tracking {
            if items.iter().any(|i| matches!(i, ShipmentElement::Confirmation(c) if &c.tracking_number == p)) {
                lock(&self.rejected_messages).push(items.len());
                return Err(OverstockError::MessageRejected("unreadable element".into()));
            }
        }
        lock(&self.shipments).push(items.to_vec());
        Ok(Vec::new())
    }

    async fn post_refunds(
        &self,
        _: &Account,
        items: &[crate::overstock::refunds::RefundItem],
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        lock(&self.refunds).push(items.to_vec());
        let mut applied = lock(&self.refunds_applied);
        for i in items {
            applied.entry(i.refund_id.clone()).or_insert_with(|| i.clone());
        }
        let mut fail = lock(&self.refund_500_after_apply);
        if *fail > 0 {
            *fail -= 1;
            return Err(OverstockError::Server { status: 500 });
        }
        Ok(Vec::new())
    }

    async fn post_inventory(
        &self,
        _: &Account,
        items: &[crate::overstock::inventory::InventoryElement],
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        lock(&self.inventory_posts).push(items.to_vec());
        let reject = lock(&self.reject_skus).clone();
        let mut out = Vec::new();
        for i in items {
            if reject.iter().any(|s| s == i.sku.as_str()) {
                out.push(RejectedElement {
                    order_number: String::new(),
                    line_number: None,
                    sku: Some(i.sku.to_string()),
                    message: "not in the catalog".into(),
                });
            } else {
                lock(&self.inventory_held).insert(i.sku.to_string(), i.clone());
            }
        }
        Ok(out)
    }

    async fn fetch_inventory(
        &self,
        _: &Account,
    ) -> Result<Vec<crate::overstock::inventory::HeldElement>, OverstockError> {
        Ok(lock(&self.inventory_held).values().cloned().map(crate::overstock::inventory::HeldElement::Read).collect())
    }
}

/// Credentials for any reference.
pub struct FixedCredentials;

impl CredentialsProvider for FixedCredentials {
    async fn credentials(&self, _: &str) -> Result<Credentials, CredentialsError> {
        Ok(Credentials { username: "u".into(), password: Secret::new("p") })
    }
}
