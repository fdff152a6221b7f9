//! The DynamoDB adapter. Items are mapped with serde_dynamo; every write is conditional.

mod inventory;
pub use inventory::{INVENTORY_DUE, INVENTORY_FAILED};

use super::{
    CompanyRow, CompanyStore, JobRelease, JobState, MappingStore, OpenOrder, OrderDigest, OrderStore, QuarantineKey,
    QuarantineStore, QuarantinedOrder, Recorded, RequestRecord, RequestStore, StoreError, StoreResult, SyncStateStore,
    UnreadableCompany,
};
use crate::domain::mapping::ShippingMethodMapping;
use crate::domain::order::{AckState, Order, overstock_fingerprint};
use crate::domain::settings::{Company, CompanySettings, CredentialsHealth};
use crate::domain::{CompanyId, OrderNumber, utc_key};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes,
    Projection, ProjectionType, PutRequest, ScalarAttributeType, WriteRequest,
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// Index names (also in template.yaml and docs/dynamodb.md).
pub const COMPANIES_BY_KIND: &str = "companies-by-kind";
pub const ORDERS_UNMAPPED: &str = "orders-unmapped";
pub const ORDERS_ACK_PENDING: &str = "orders-ack-pending";
pub const ORDERS_UPLOAD_PENDING: &str = "orders-upload-pending";
pub const ORDERS_UPLOAD_FAILED: &str = "orders-upload-failed";
pub const ORDERS_OPEN: &str = "orders-open";
/// Orders still to ship by their ship-by instant (the watchdog): keys and the flag only.
pub const ORDERS_SHIP_BY: &str = "orders-ship-by";

const COMPANY_KIND: &str = "COMPANY";
/// The attribute naming the write that produced an order item (see [`DynamoStore::put_order_version`]).
const WRITE_TOKEN: &str = "write_token";
const BATCH_WRITE_MAX: usize = 25;
const BATCH_GET_MAX: usize = 100;
/// Conditional single-item writes in flight at once.
const WRITE_CONCURRENCY: usize = 8;

/// (table, partition key, sort key or "", [(index, partition key, sort key)]).
type TableSpec<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, &'a str, &'a str)>);

/// The table names. Production reads them from the environment (set by template.yaml).
#[derive(Debug, Clone)]
pub struct Tables {
    pub companies: String,
    pub mappings: String,
    pub orders: String,
    pub sync_state: String,
    pub requests: String,
    pub audit: String,
    pub inventory: String,
}

impl Tables {
    /// `{prefix}companies`, `{prefix}mappings`, `{prefix}orders`, `{prefix}sync-state`.
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            companies: format!("{prefix}companies"),
            mappings: format!("{prefix}mappings"),
            orders: format!("{prefix}orders"),
            sync_state: format!("{prefix}sync-state"),
            requests: format!("{prefix}requests"),
            audit: format!("{prefix}audit"),
            inventory: format!("{prefix}inventory"),
        }
    }

    /// `COMPANIES_TABLE`, `MAPPINGS_TABLE`, `ORDERS_TABLE`, `SYNC_STATE_TABLE`, `REQUESTS_TABLE`,
    /// `AUDIT_TABLE`, `INVENTORY_TABLE`; each defaults to
    /// `TABLE_PREFIX` (default `overstock-`) + its base name.
    pub fn from_env() -> Self {
        let prefix = std::env::var("TABLE_PREFIX").unwrap_or_else(|_| "overstock-".into());
        let d = Self::with_prefix(&prefix);
        let var = |k: &str, default: String| std::env::var(k).unwrap_or(default);
        Self {
            companies: var("COMPANIES_TABLE", d.companies),
            mappings: var("MAPPINGS_TABLE", d.mappings),
            orders: var("ORDERS_TABLE", d.orders),
            sync_state: var("SYNC_STATE_TABLE", d.sync_state),
            requests: var("REQUESTS_TABLE", d.requests),
            audit: var("AUDIT_TABLE", d.audit),
            inventory: var("INVENTORY_TABLE", d.inventory),
        }
    }
}

/// The DynamoDB store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    calls: crate::aws::CallCounter,
    /// How long audit items live (their TTL).
    audit_retention: chrono::Duration,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn classify<E, R>(what: &str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    const PASSING: &[&str] = &[
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    ];
    let text = format!("{what}: {}", crate::aws::error_chain(&e));
    if e.as_service_error().and_then(ProvideErrorMetadata::code) == Some("ConditionalCheckFailedException") {
        StoreError::Conflict(text)
    } else if crate::aws::may_pass(&e, PASSING) {
        StoreError::Unavailable(text)
    } else {
        StoreError::Permanent(text)
    }
}

/// Before each retry of a batch's unprocessed keys or items: exponential wait, at most 8 retries.
async fn backoff_unprocessed(rounds: &mut u32, exhausted: &str) -> StoreResult<()> {
    if *rounds > 8 {
        return Err(StoreError::Unavailable(exhausted.to_owned()));
    }
    if *rounds > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(25 << (*rounds).min(5))).await;
    }
    *rounds += 1;
    Ok(())
}

fn to_item<T: Serialize>(v: &T) -> StoreResult<Item> {
    serde_dynamo::to_item(v).map_err(|e| StoreError::Permanent(format!("serialise item: {e}")))
}

fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Permanent(format!("item does not read back: {e}")))
}

/// DynamoDB's item size limit.
pub const ITEM_LIMIT: usize = 400 * 1024;
/// Past this size an order's Overstock payload is stored compressed (`overstock_gz`).
const COMPRESS_ABOVE: usize = 300 * 1024;
/// What an item may be at most (headroom for the attributes later writes add).
const STORABLE_MAX: usize = ITEM_LIMIT - 16 * 1024;

/// An item's size as DynamoDB counts it (attribute names plus values), closely enough to stay
/// clear of the limit.
fn item_size(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value(v) + 1).sum::<usize>(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| value(v) + 1).sum::<usize>(),
            AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(String::len).sum(),
            AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

fn order_item(order: &Order) -> StoreResult<Item> {
    let mut item = to_item(order)?;
    // A large order keeps its Overstock payload gzip-compressed (lines and texts compress well).
    if item_size(&item) > COMPRESS_ABOVE {
        let json =
            serde_json::to_vec(&order.overstock).map_err(|e| StoreError::Permanent(format!("serialise order: {e}")))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &json).map_err(|e| StoreError::Permanent(format!("compress order: {e}")))?;
        let bytes = gz.finish().map_err(|e| StoreError::Permanent(format!("compress order: {e}")))?;
        item.remove("overstock");
        item.insert(OVERSTOCK_GZ.into(), AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(bytes)));
    }
    item.insert("ostk_fingerprint".into(), s(overstock_fingerprint(&order.overstock)));
    // Sparse index keys: present only while the order is in that state.
    if order.is_unmapped() {
        item.insert("unmapped_key".into(), s(order.company_id.as_str()));
    }
    if order.ack == AckState::Pending {
        item.insert("ack_pending_key".into(), s(order.company_id.as_str()));
    }
    if order.has_upload_work() {
        item.insert("upload_pending_key".into(), s(order.company_id.as_str()));
    }
    if order.has_failed_upload() {
        item.insert("upload_failed_key".into(), s(order.company_id.as_str()));
    }
    if let Some(created) = order.overstock.sofs_created_date.filter(|_| order.is_open()) {
        item.insert("open_key".into(), s(order.company_id.as_str()));
        item.insert("open_created".into(), s(utc_key(created)));
    }
    if let Some(ship_by) = order.watched_ship_by() {
        item.insert("ship_by_key".into(), s(order.company_id.as_str()));
        item.insert("ship_by_at".into(), s(utc_key(ship_by)));
        if let Some(flag) = order.watch {
            item.insert("watch_flag".into(), s(flag.as_str()));
        }
    }
    let size = item_size(&item);
    if size > STORABLE_MAX {
        return Err(StoreError::TooLarge { order: order.order_number.to_string(), bytes: size, limit: STORABLE_MAX });
    }
    Ok(item)
}

/// The attribute holding a large order's compressed Overstock payload.
const OVERSTOCK_GZ: &str = "overstock_gz";

/// An order item read back, its compressed payload (if any) expanded.
fn order_from_item(mut item: Item) -> StoreResult<Order> {
    if let Some(AttributeValue::B(b)) = item.remove(OVERSTOCK_GZ) {
        let mut json = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b.as_ref()), &mut json)
            .map_err(|e| StoreError::Permanent(format!("compressed order does not expand: {e}")))?;
        let so: crate::domain::order::SalesOrder = serde_json::from_slice(&json)
            .map_err(|e| StoreError::Permanent(format!("compressed order does not read back: {e}")))?;
        item.insert(
            "overstock".into(),
            serde_dynamo::to_attribute_value(&so).map_err(|e| StoreError::Permanent(e.to_string()))?,
        );
    }
    from_item(item)
}

impl DynamoStore {
    /// A store on `client` (its calls are not counted: [`DynamoStore::calls`] stays at zero).
    pub fn new(client: Client, tables: Tables) -> Self {
        Self {
            client,
            tables,
            calls: crate::aws::CallCounter::default(),
            audit_retention: chrono::Duration::days(i64::from(crate::audit::DEFAULT_RETENTION_DAYS)),
        }
    }

    /// A store on the SDK configuration (honours `AWS_ENDPOINT_URL`) with tables from the
    /// environment, counting its DynamoDB calls; `AUDIT_RETENTION_DAYS` (1-3650, default 90).
    pub fn from_config(config: &aws_config::SdkConfig) -> Result<Self, crate::config::ConfigError> {
        let calls = crate::aws::CallCounter::default();
        let client =
            Client::from_conf(aws_sdk_dynamodb::config::Builder::from(config).interceptor(calls.clone()).build());
        let days = crate::config::number(
            &crate::config::ProcessEnv,
            "AUDIT_RETENTION_DAYS",
            crate::audit::DEFAULT_RETENTION_DAYS,
            1..=3650,
        )?;
        Ok(Self { client, tables: Tables::from_env(), calls, audit_retention: chrono::Duration::days(i64::from(days)) })
    }

    /// The DynamoDB calls this store has made (counted when built by [`DynamoStore::from_config`]).
    pub fn calls(&self) -> crate::aws::Calls {
        self.calls.read()
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the tables and indexes if absent (local runs and tests; production uses
    /// template.yaml, which declares the same schema).
    pub async fn create_tables(&self) -> StoreResult<()> {
        let key = |name: &str, kt: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kt).build();
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let gsi = |name: &str, pk: &str, sk: &str| {
            // The open-orders index carries only what the status sync needs.
            let projection = if name == ORDERS_OPEN {
                Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .non_key_attributes("ostk_fingerprint")
                    .build()
            } else if name == ORDERS_SHIP_BY {
                Projection::builder().projection_type(ProjectionType::Include).non_key_attributes("watch_flag").build()
            } else {
                Projection::builder().projection_type(ProjectionType::All).build()
            };
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash).map_err(|e| e.to_string())?)
                .key_schema(key(sk, KeyType::Range).map_err(|e| e.to_string())?)
                .projection(projection)
                .build()
                .map_err(|e| e.to_string())
        };
        let specs: Vec<TableSpec> = vec![
            (&self.tables.companies, "company_id", "", vec![(COMPANIES_BY_KIND, "kind", "company_id")]),
            (&self.tables.mappings, "company_id", "code_to_receive", vec![]),
            (
                &self.tables.orders,
                "company_id",
                "order_number",
                vec![
                    (ORDERS_UNMAPPED, "unmapped_key", "order_number"),
                    (ORDERS_ACK_PENDING, "ack_pending_key", "order_number"),
                    (ORDERS_UPLOAD_PENDING, "upload_pending_key", "order_number"),
                    (ORDERS_UPLOAD_FAILED, "upload_failed_key", "order_number"),
                    (ORDERS_OPEN, "open_key", "open_created"),
                    (ORDERS_SHIP_BY, "ship_by_key", "ship_by_at"),
                ],
            ),
            (&self.tables.sync_state, "company_id", "job", vec![]),
            (&self.tables.requests, "company_id", "request_id", vec![]),
            (&self.tables.audit, "pk", "sk", vec![]),
            (
                &self.tables.inventory,
                "company_id",
                inventory::ITEM,
                vec![(INVENTORY_DUE, "due_key", "due_at"), (INVENTORY_FAILED, "failed_key", inventory::ITEM)],
            ),
        ];
        for (table, pk, sk, indexes) in specs {
            let mut req = self
                .client
                .create_table()
                .table_name(table)
                .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest);
            let mut attrs = vec![pk.to_owned()];
            req = req.key_schema(key(pk, KeyType::Hash).map_err(|e| StoreError::Permanent(e.to_string()))?);
            if !sk.is_empty() {
                attrs.push(sk.to_owned());
                req = req.key_schema(key(sk, KeyType::Range).map_err(|e| StoreError::Permanent(e.to_string()))?);
            }
            for (name, ipk, isk) in indexes {
                for a in [ipk, isk] {
                    if !attrs.iter().any(|x| x == a) {
                        attrs.push(a.to_owned());
                    }
                }
                req = req.global_secondary_indexes(gsi(name, ipk, isk).map_err(StoreError::Permanent)?);
            }
            for a in &attrs {
                req = req.attribute_definitions(attr(a).map_err(|e| StoreError::Permanent(e.to_string()))?);
            }
            match req.send().await {
                Ok(_) => {}
                Err(e) if e.as_service_error().map(|se| se.is_resource_in_use_exception()).unwrap_or(false) => {}
                Err(e) => return Err(classify("create table", e)),
            }
        }
        // Audit items expire by themselves (as template.yaml declares).
        let ttl = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
            .attribute_name(AUDIT_EXPIRES)
            .enabled(true)
            .build()
            .map_err(|e| StoreError::Permanent(e.to_string()))?;
        match self
            .client
            .update_time_to_live()
            .table_name(&self.tables.audit)
            .time_to_live_specification(ttl)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already enabled.
            Err(e)
                if e.as_service_error().and_then(|se| se.message()).is_some_and(|m| m.contains("already enabled")) =>
            {
                Ok(())
            }
            Err(e) => Err(classify("enable TTL on the audit table", e)),
        }
    }

    /// BatchWriteItem of `items` into `table`, in chunks of 25, retrying unprocessed items.
    async fn batch_put(&self, table: &str, items: Vec<Item>, what: &str) -> StoreResult<()> {
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let writes = items
                .by_ref()
                .take(BATCH_WRITE_MAX)
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map_err(|e| StoreError::Permanent(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let mut request = Some(HashMap::from([(table.to_owned(), writes)]));
            let mut rounds = 0u32;
            while let Some(req) = request.take().filter(|r| r.values().any(|v| !v.is_empty())) {
                backoff_unprocessed(&mut rounds, "batch write: items left unprocessed").await?;
                let resp = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(req))
                    .send()
                    .await
                    .map_err(|e| classify(what, e))?;
                request = resp.unprocessed_items;
            }
        }
        Ok(())
    }

    async fn query_all(
        &self,
        table: &str,
        index: Option<&str>,
        pk_name: &str,
        pk: &str,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        self.query_pages(table, index, (pk_name, pk), None, limit).await
    }

    /// Every page of a Query on `pk` (and, with `sk_prefix`, `begins_with(sort key, prefix)`,
    /// read consistently), at most `limit` items.
    async fn query_pages(
        &self,
        table: &str,
        index: Option<&str>,
        (pk_name, pk): (&str, &str),
        sk_prefix: Option<(&str, &str)>,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(table)
                .set_index_name(index.map(str::to_owned))
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take());
            q = match sk_prefix {
                Some((sk_name, prefix)) => q
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":prefix", s(prefix))
                    .consistent_read(true),
                None => q.key_condition_expression("#pk = :pk"),
            };
            let resp = q.send().await.map_err(|e| classify("query", e))?;
            out.extend(resp.items.unwrap_or_default());
            if limit.map(|l| out.len() >= l).unwrap_or(false) {
                out.truncate(limit.unwrap_or(out.len()));
                break;
            }
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    /// BatchGetItem of `numbers`, in chunks of 100, retrying unprocessed keys.
    async fn batch_get(
        &self,
        company: &CompanyId,
        numbers: &[OrderNumber],
        projection: Option<&str>,
    ) -> StoreResult<Vec<Item>> {
        let mut unique: Vec<&OrderNumber> = numbers.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique.into_iter().map(|n| {
            HashMap::from([("company_id".to_owned(), s(company.as_str())), ("order_number".to_owned(), s(n.as_str()))])
        });
        self.batch_get_keys(&self.tables.orders, keys.collect(), projection, "batch get orders").await
    }

    /// BatchGetItem of `keys` in `table` (consistent), in chunks of 100, retrying unprocessed keys.
    pub(crate) async fn batch_get_keys(
        &self,
        table: &str,
        keys: Vec<Item>,
        projection: Option<&str>,
        what: &str,
    ) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut ka = KeysAndAttributes::builder().set_keys(Some(chunk.to_vec())).consistent_read(true);
            if let Some(p) = projection {
                ka = ka.projection_expression(p);
            }
            let ka = ka.build().map_err(|e| StoreError::Permanent(e.to_string()))?;
            let mut request = Some(HashMap::from([(table.to_owned(), ka)]));
            let mut rounds = 0u32;
            while let Some(req) = request.take().filter(|r| !r.is_empty()) {
                backoff_unprocessed(&mut rounds, "batch get: keys left unprocessed").await?;
                let resp = self
                    .client
                    .batch_get_item()
                    .set_request_items(Some(req))
                    .send()
                    .await
                    .map_err(|e| classify(what, e))?;
                out.extend(resp.responses.unwrap_or_default().remove(table).unwrap_or_default());
                request = resp.unprocessed_keys;
            }
        }
        Ok(out)
    }
}

/// What a version-checked put of an order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The item now holds this write (`version + 1`).
    Written,
    /// The stored version is not the one the write was based on: someone else wrote first.
    VersionChanged,
}

impl DynamoStore {
    /// Writes `order` as `version + 1` if the stored version is still `order.version`.
    ///
    /// Idempotent per `token`: the item carries the token of the write that produced it, so when
    /// the SDK retries a request whose first attempt was applied but whose answer was lost (a
    /// reset connection, a 5xx after the write), the retry's failed condition is recognised as
    /// this very write and reported `Written`, never as a lost race. Without this, one writer
    /// alone could see its own write as a concurrent change.
    pub async fn put_order_version(&self, order: &Order, token: &str) -> StoreResult<PutOutcome> {
        let next_version = order.version + 1;
        let item = {
            let mut next = order.clone();
            next.version = next_version;
            order_item(&next)?
        };
        let written =
            self.put_versioned(&self.tables.orders, item, Some(order.version), token, "replace order").await?;
        if written { Ok(PutOutcome::Written) } else { Ok(PutOutcome::VersionChanged) }
    }

    /// The version-checked PutItem under every order and product write: `item` (holding
    /// `version` = `expected + 1`, or 1 for a new item when `expected` is `None`) is written with
    /// `token` if the stored version is still `expected` (absent for `None`). `Ok(false)`: another
    /// writer's version is stored. A retried request whose first attempt was applied finds its
    /// own token and version and is reported written.
    pub(crate) async fn put_versioned(
        &self,
        table: &str,
        mut item: Item,
        expected: Option<u64>,
        token: &str,
        what: &str,
    ) -> StoreResult<bool> {
        let next_version = expected.unwrap_or(0) + 1;
        item.insert(WRITE_TOKEN.into(), s(token));
        let mut req = self.client.put_item().table_name(table).set_item(Some(item));
        req = match expected {
            Some(v) => req
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(v.to_string())),
            None => req.condition_expression("attribute_not_exists(company_id)"),
        };
        let r = req
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        let e = match r {
            Ok(_) => return Ok(true),
            Err(e) => e,
        };
        let stored = e
            .as_service_error()
            .and_then(|se| match se {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                    c.item.clone()
                }
                _ => None,
            })
            .unwrap_or_default();
        match classify(what, e) {
            StoreError::Conflict(_) => {
                let ours = matches!(stored.get(WRITE_TOKEN), Some(AttributeValue::S(t)) if t == token)
                    && matches!(stored.get("version"), Some(AttributeValue::N(v)) if *v == next_version.to_string());
                if ours {
                    tracing::debug!(what, "a retried write found itself already applied");
                }
                Ok(ours)
            }
            other => Err(other),
        }
    }
}

impl CompanyStore for DynamoStore {
    async fn list_companies(&self) -> StoreResult<Vec<CompanyRow>> {
        let items = self.query_all(&self.tables.companies, Some(COMPANIES_BY_KIND), "kind", COMPANY_KIND, None).await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let company_id = match item.get("company_id") {
                    Some(AttributeValue::S(id)) => id.clone(),
                    _ => "(no id)".to_owned(),
                };
                serde_dynamo::from_item::<_, Company>(item)
                    .map_err(|e| UnreadableCompany { company_id, reason: e.to_string() })
            })
            .collect())
    }

    async fn get_company(&self, id: &CompanyId) -> StoreResult<Option<Company>> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.tables.companies)
            .key("company_id", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("get company", e))?;
        resp.item.map(from_item).transpose()
    }

    async fn create_company(&self, company: &Company) -> StoreResult<()> {
        let mut item = to_item(company)?;
        item.insert("kind".into(), s(COMPANY_KIND));
        self.client
            .put_item()
            .table_name(&self.tables.companies)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(company_id)")
            .send()
            .await
            .map_err(|e| match classify("create company", e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("company {} already exists", company.company_id))
                }
                other => other,
            })?;
        Ok(())
    }

    async fn update_settings(&self, id: &CompanyId, settings: &CompanySettings, now: DateTime<Utc>) -> StoreResult<()> {
        self.set_company_attribute(id, "settings", settings, now).await
    }

    async fn set_credentials_health(
        &self,
        id: &CompanyId,
        health: &CredentialsHealth,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.set_company_attribute(id, "credentials_health", health, now).await
    }
}

impl DynamoStore {
    /// Sets one top-level attribute of an existing company (and `updated_at`).
    async fn set_company_attribute<T: Serialize>(
        &self,
        id: &CompanyId,
        name: &str,
        value: &T,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let value = serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Permanent(e.to_string()))?;
        self.client
            .update_item()
            .table_name(&self.tables.companies)
            .key("company_id", s(id.as_str()))
            .update_expression("SET #a = :v, updated_at = :t")
            .condition_expression("attribute_exists(company_id)")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":v", value)
            .expression_attribute_values(":t", s(utc_key(now)))
            .send()
            .await
            .map_err(|e| match classify(name, e) {
                StoreError::Conflict(_) => StoreError::NotFound(format!("company {id}")),
                other => other,
            })?;
        Ok(())
    }
}

impl MappingStore for DynamoStore {
    async fn list_mappings(&self, company: &CompanyId) -> StoreResult<Vec<ShippingMethodMapping>> {
        let items = self.query_all(&self.tables.mappings, None, "company_id", company.as_str(), None).await?;
        items.into_iter().map(from_item).collect()
    }

    async fn put_mapping(&self, company: &CompanyId, mapping: &ShippingMethodMapping) -> StoreResult<()> {
        // A mapping is configuration: setting it again replaces it (idempotent by key).
        let mut item = to_item(mapping)?;
        item.insert("company_id".into(), s(company.as_str()));
        self.client
            .put_item()
            .table_name(&self.tables.mappings)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| classify("put mapping", e))?;
        Ok(())
    }

    async fn remove_mapping(&self, company: &CompanyId, code: &crate::domain::ServiceLevelCode) -> StoreResult<bool> {
        let old = self
            .client
            .delete_item()
            .table_name(&self.tables.mappings)
            .key("company_id", s(company.as_str()))
            .key("code_to_receive", s(code.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| classify("remove mapping", e))?;
        Ok(old.attributes.is_some_and(|a| !a.is_empty()))
    }
}

impl OrderStore for DynamoStore {
    async fn get_orders(
        &self,
        company: &CompanyId,
        numbers: &[OrderNumber],
    ) -> StoreResult<HashMap<OrderNumber, Order>> {
        self.batch_get(company, numbers, None)
            .await?
            .into_iter()
            .map(|item| order_from_item(item).map(|o| (o.order_number.clone(), o)))
            .collect()
    }

    async fn order_digests(
        &self,
        company: &CompanyId,
        numbers: &[OrderNumber],
    ) -> StoreResult<HashMap<OrderNumber, OrderDigest>> {
        self.batch_get(company, numbers, Some("order_number, version, ostk_fingerprint, ack_pending_key, unmapped_key"))
            .await?
            .into_iter()
            .map(|item| from_item::<OrderDigest>(item).map(|d| (d.order_number.clone(), d)))
            .collect()
    }

    fn check_storable(&self, order: &Order) -> StoreResult<()> {
        order_item(order).map(|_| ())
    }

    async fn put_new_orders(&self, orders: &[Order]) -> StoreResult<()> {
        let items = orders.iter().map(order_item).collect::<StoreResult<Vec<_>>>()?;
        self.batch_put(&self.tables.orders, items, "batch write orders").await
    }

    async fn replace_orders(&self, orders: &[Order]) -> StoreResult<Vec<OrderNumber>> {
        let results: Vec<Option<OrderNumber>> = futures::stream::iter(orders.iter().cloned())
            .map(|o| async move {
                let token = uuid::Uuid::new_v4().simple().to_string();
                match self.put_order_version(&o, &token).await? {
                    PutOutcome::Written => Ok(None),
                    PutOutcome::VersionChanged => Ok(Some(o.order_number)),
                }
            })
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(results.into_iter().flatten().collect())
    }

    async fn list_unmapped(&self, company: &CompanyId) -> StoreResult<Vec<Order>> {
        let items =
            self.query_all(&self.tables.orders, Some(ORDERS_UNMAPPED), "unmapped_key", company.as_str(), None).await?;
        items.into_iter().map(order_from_item).collect()
    }

    async fn list_ack_pending(&self, company: &CompanyId) -> StoreResult<Vec<Order>> {
        let items = self
            .query_all(&self.tables.orders, Some(ORDERS_ACK_PENDING), "ack_pending_key", company.as_str(), None)
            .await?;
        items.into_iter().map(order_from_item).collect()
    }

    async fn list_upload_pending(&self, company: &CompanyId) -> StoreResult<Vec<Order>> {
        let items = self
            .query_all(&self.tables.orders, Some(ORDERS_UPLOAD_PENDING), "upload_pending_key", company.as_str(), None)
            .await?;
        items.into_iter().map(order_from_item).collect()
    }

    async fn list_upload_failed(&self, company: &CompanyId) -> StoreResult<Vec<Order>> {
        let items = self
            .query_all(&self.tables.orders, Some(ORDERS_UPLOAD_FAILED), "upload_failed_key", company.as_str(), None)
            .await?;
        items.into_iter().map(order_from_item).collect()
    }

    async fn list_open_orders(
        &self,
        company: &CompanyId,
        since: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<OpenOrder>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.tables.orders)
                .index_name(ORDERS_OPEN)
                .expression_attribute_values(":c", s(company.as_str()))
                .expression_attribute_values(":since", s(audit_time(since)));
            req = match until {
                Some(u) => req
                    .key_condition_expression("open_key = :c AND open_created BETWEEN :since AND :until")
                    .expression_attribute_values(":until", s(audit_time(u))),
                None => req.key_condition_expression("open_key = :c AND open_created >= :since"),
            };
            let page = req
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("query open orders", e))?;
            for item in page.items.unwrap_or_default() {
                let text = |k: &str| match item.get(k) {
                    Some(AttributeValue::S(v)) => Some(v.clone()),
                    _ => None,
                };
                let number = text("order_number").and_then(|n| OrderNumber::parse(&n).ok());
                let created = text("open_created")
                    .and_then(|c| DateTime::parse_from_rfc3339(&c).ok())
                    .map(|c| c.with_timezone(&Utc));
                match (number, created) {
                    (Some(order_number), Some(created)) => out.push(OpenOrder {
                        order_number,
                        created,
                        fingerprint: text("ostk_fingerprint").unwrap_or_default(),
                    }),
                    _ => {
                        tracing::warn!(company = %company, "an open-orders index entry without a readable number or creation time")
                    }
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    async fn list_watched(&self, company: &CompanyId, until: DateTime<Utc>) -> StoreResult<crate::store::Watched> {
        let mut out = crate::store::Watched::default();
        let mut start: Option<Item> = None;
        loop {
            // Soonest first; a page reaching past `until` ends the list with its first entry
            // after it (the next time to look).
            let page = self
                .client
                .query()
                .table_name(&self.tables.orders)
                .index_name(ORDERS_SHIP_BY)
                .key_condition_expression("ship_by_key = :c")
                .expression_attribute_values(":c", s(company.as_str()))
                .scan_index_forward(true)
                .limit(100)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("query watched orders", e))?;
            for item in page.items.unwrap_or_default() {
                let text = |k: &str| match item.get(k) {
                    Some(AttributeValue::S(v)) => Some(v.clone()),
                    _ => None,
                };
                let number = text("order_number").and_then(|n| OrderNumber::parse(&n).ok());
                let ship_by = text("ship_by_at")
                    .and_then(|c| DateTime::parse_from_rfc3339(&c).ok())
                    .map(|c| c.with_timezone(&Utc));
                let (Some(order_number), Some(ship_by)) = (number, ship_by) else {
                    tracing::warn!(company = %company, "a ship-by index entry without a readable number or time");
                    continue;
                };
                if ship_by > until {
                    out.next = Some(ship_by);
                    return Ok(out);
                }
                let flag = text("watch_flag").and_then(|f| crate::domain::order::WatchFlag::parse(&f));
                out.due.push(crate::store::WatchedOrder { order_number, ship_by, flag });
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    async fn list_orders(&self, company: &CompanyId, limit: usize) -> StoreResult<Vec<Order>> {
        let items = self.query_all(&self.tables.orders, None, "company_id", company.as_str(), Some(limit)).await?;
        items.into_iter().map(order_from_item).collect()
    }
}

impl SyncStateStore for DynamoStore {
    async fn acquire_lease(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // The same conditional write; the old item it returns costs no capacity.
        Ok(self.take_lease(company, job, owner, until, now).await?.is_some())
    }

    async fn release_lease(&self, company: &CompanyId, job: &str, owner: &str) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(job))
            .update_expression("REMOVE lease_owner, lease_until")
            .condition_expression("lease_owner = :o")
            .expression_attribute_values(":o", s(owner))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) => match classify("release lease", e) {
                StoreError::Conflict(_) => Ok(()), // not ours any more: nothing to release
                other => Err(other),
            },
        }
    }

    async fn take_lease(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<JobState>> {
        let r = self
            .client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(job))
            .update_expression("SET lease_owner = :o, lease_until = :u")
            .condition_expression("attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :o")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":u", s(utc_key(until)))
            .expression_attribute_values(":now", s(utc_key(now)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        let old = match r {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) => {
                return match classify("take lease", e) {
                    StoreError::Conflict(_) => Ok(None),
                    other => Err(other),
                };
            }
        };
        let text = |name: &str| match old.get(name) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        };
        let number = |name: &str| match old.get(name) {
            Some(AttributeValue::N(v)) => {
                v.parse::<u64>().map_err(|e| StoreError::Permanent(format!("{name} {v:?}: {e}")))
            }
            _ => Ok(0),
        };
        let watermark = text("watermark")
            .map(|w| {
                DateTime::parse_from_rfc3339(&w)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| StoreError::Permanent(format!("watermark {w:?}: {e}")))
            })
            .transpose()?;
        // Notes count only when the run that wrote them also released the lease.
        let released = !old.contains_key("lease_owner");
        Ok(Some(JobState {
            watermark,
            notes: text("notes").filter(|_| released),
            pokes: number("pokes")?,
            pokes_seen: number("pokes_seen")?,
        }))
    }

    async fn release_with(&self, company: &CompanyId, job: &str, owner: &str, release: &JobRelease) -> StoreResult<()> {
        let mut set = Vec::new();
        let mut req = self
            .client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(job))
            .condition_expression("lease_owner = :o")
            .expression_attribute_values(":o", s(owner));
        if let Some(w) = release.watermark {
            set.push("watermark = :w");
            req = req.expression_attribute_values(":w", s(utc_key(w)));
        }
        if let Some(n) = &release.notes {
            set.push("notes = :n");
            req = req.expression_attribute_values(":n", s(n.clone()));
        }
        if let Some(p) = release.pokes_seen {
            set.push("pokes_seen = :p");
            req = req.expression_attribute_values(":p", AttributeValue::N(p.to_string()));
        }
        if let Some(f) = release.finished_at {
            set.push("finished_at = :f");
            req = req.expression_attribute_values(":f", s(utc_key(f)));
        }
        let mut remove = vec!["lease_owner", "lease_until"];
        if release.notes.is_none() {
            remove.push("notes");
        }
        let mut expr = format!("REMOVE {}", remove.join(", "));
        if !set.is_empty() {
            expr = format!("SET {} {expr}", set.join(", "));
        }
        match req.update_expression(expr).send().await {
            Ok(_) => Ok(()),
            Err(e) => match classify("release lease", e) {
                StoreError::Conflict(_) => Ok(()), // not ours any more: nothing to release or write
                other => Err(other),
            },
        }
    }

    async fn poke(&self, company: &CompanyId, job: &str) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(job))
            .update_expression("ADD pokes :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .map_err(|e| classify("poke job", e))?;
        Ok(())
    }

    async fn get_record(&self, company: &CompanyId, name: &str) -> StoreResult<Option<String>> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(name))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("get record", e))?;
        Ok(match resp.item.and_then(|mut i| i.remove("body")) {
            Some(AttributeValue::S(b)) => Some(b),
            _ => None,
        })
    }

    async fn put_record(&self, company: &CompanyId, name: &str, body: &str) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(name))
            .update_expression("SET body = :b")
            .expression_attribute_values(":b", s(body))
            .send()
            .await
            .map_err(|e| classify("put record", e))?;
        Ok(())
    }

    async fn get_watermark(&self, company: &CompanyId, job: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(job))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("get watermark", e))?;
        let Some(AttributeValue::S(w)) = resp.item.and_then(|mut i| i.remove("watermark")) else { return Ok(None) };
        DateTime::parse_from_rfc3339(&w)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| StoreError::Permanent(format!("watermark {w:?}: {e}")))
    }

    async fn get_cursor(&self, company: &CompanyId, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(name))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("get cursor", e))?;
        let Some(AttributeValue::S(c)) = resp.item.and_then(|mut i| i.remove("cursor")) else { return Ok(None) };
        DateTime::parse_from_rfc3339(&c)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| StoreError::Permanent(format!("cursor {c:?}: {e}")))
    }

    async fn set_cursor(&self, company: &CompanyId, name: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(name))
            .update_expression("SET #c = :c")
            .expression_attribute_names("#c", "cursor")
            .expression_attribute_values(":c", s(utc_key(at)))
            .send()
            .await
            .map_err(|e| classify("set cursor", e))?;
        Ok(())
    }

    async fn advance_watermark(
        &self,
        company: &CompanyId,
        job: &str,
        owner: &str,
        to: DateTime<Utc>,
    ) -> StoreResult<()> {
        let r = self
            .client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(job))
            .update_expression("SET watermark = :w")
            .condition_expression("lease_owner = :o AND (attribute_not_exists(watermark) OR watermark < :w)")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":w", s(utc_key(to)))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) => {
                let old = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                            c,
                        ) => c.item.clone(),
                        _ => None,
                    })
                    .unwrap_or_default();
                match classify("advance watermark", e) {
                    StoreError::Conflict(msg) => {
                        let holder = match old.get("lease_owner") {
                            Some(AttributeValue::S(o)) => o.as_str(),
                            _ => "",
                        };
                        if holder == owner {
                            Ok(()) // the stored watermark is already at or past `to`: never move back
                        } else {
                            Err(StoreError::Conflict(format!("lease lost to {holder:?}: {msg}")))
                        }
                    }
                    other => Err(other),
                }
            }
        }
    }
}

/// The dispatch markers live on the flow's job item (`Flow::job`: `order-download`, …), beside
/// its lease, so that the release that ends a run also marks the dispatch finished.
impl crate::services::fanout::DispatchStore for DynamoStore {
    async fn mark_dispatched(
        &self,
        company: &CompanyId,
        flow: crate::domain::work::Flow,
        at: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let r = self
            .client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(flow.job()))
            .update_expression("SET dispatched_at = :t")
            .condition_expression(
                "attribute_not_exists(dispatched_at) OR dispatched_at < :stale \
                 OR (attribute_exists(finished_at) AND finished_at >= dispatched_at)",
            )
            .expression_attribute_values(":t", s(utc_key(at)))
            .expression_attribute_values(":stale", s(utc_key(stale_before)))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) => match classify("mark work dispatched", e) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn mark_finished(
        &self,
        company: &CompanyId,
        flow: crate::domain::work::Flow,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(flow.job()))
            .update_expression("SET finished_at = :f")
            .expression_attribute_values(":f", s(utc_key(at)))
            .send()
            .await
            .map_err(|e| classify("mark work finished", e))?;
        Ok(())
    }
}

impl DynamoStore {
    /// A flow's last run for a company, from its job item (one GetItem; absent: never ran).
    pub async fn flow_run(
        &self,
        company: &CompanyId,
        flow: crate::domain::work::Flow,
    ) -> StoreResult<crate::services::fanout::FlowRun> {
        let got = self
            .client
            .get_item()
            .table_name(&self.tables.sync_state)
            .key("company_id", s(company.as_str()))
            .key("job", s(flow.job()))
            .projection_expression("dispatched_at, finished_at, lease_until")
            .send()
            .await
            .map_err(|e| classify("read a flow's last run", e))?;
        let item = got.item.unwrap_or_default();
        let at = |name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => DateTime::parse_from_rfc3339(v).ok().map(|t| t.with_timezone(&Utc)),
            _ => None,
        };
        Ok(crate::services::fanout::FlowRun {
            dispatched_at: at("dispatched_at"),
            finished_at: at("finished_at"),
            lease_until: at("lease_until"),
        })
    }
}

/// Sort-key prefix of quarantine records in the sync-state table.
const QUARANTINE_PREFIX: &str = "quarantine#";

impl QuarantineStore for DynamoStore {
    async fn quarantine(&self, company: &CompanyId, orders: &[QuarantinedOrder]) -> StoreResult<()> {
        for q in orders {
            let number = if q.order_number.is_some() { "order_number = :n, " } else { "" };
            let mut r = self
                .client
                .update_item()
                .table_name(&self.tables.sync_state)
                .key("company_id", s(company.as_str()))
                .key("job", s(format!("{QUARANTINE_PREFIX}{}", q.key)))
                .update_expression(format!(
                    "SET quarantine_key = :k, {number}window_start = :ws, window_end = :we, reason = :r, last_seen = :l, \
                     first_seen = if_not_exists(first_seen, :l) ADD sightings :one"
                ))
                .expression_attribute_values(":k", s(&q.key))
                .expression_attribute_values(":ws", s(utc_key(q.window_start)))
                .expression_attribute_values(":we", s(utc_key(q.window_end)))
                .expression_attribute_values(":r", s(&q.reason))
                .expression_attribute_values(":l", s(utc_key(q.last_seen)))
                .expression_attribute_values(":one", AttributeValue::N("1".into()));
            if let Some(n) = &q.order_number {
                r = r.expression_attribute_values(":n", s(n));
            }
            r.send().await.map_err(|e| classify("quarantine order", e))?;
        }
        Ok(())
    }

    async fn list_quarantined(&self, company: &CompanyId) -> StoreResult<Vec<QuarantinedOrder>> {
        let items = self
            .query_pages(
                &self.tables.sync_state,
                None,
                ("company_id", company.as_str()),
                Some(("job", QUARANTINE_PREFIX)),
                None,
            )
            .await?;
        items
            .into_iter()
            .map(|mut item| {
                if let Some(k) = item.remove("quarantine_key") {
                    item.insert("key".into(), k);
                }
                let mut q = from_item::<QuarantinedOrder>(item)?;
                // A record written before keys had kinds holds the bare order number.
                if !QuarantineKey::has_kind(&q.key) {
                    q.key = QuarantineKey::Order(q.order_number.clone().unwrap_or_else(|| q.key.clone())).as_key();
                }
                Ok(q)
            })
            .collect::<StoreResult<Vec<_>>>()
            .map(|records| {
                // An order recorded under both spellings is one record: the later sighting's
                // reason and window, the first sighting's time, the reads of both.
                let mut by_key: std::collections::BTreeMap<String, QuarantinedOrder> = Default::default();
                for q in records {
                    match by_key.remove(&q.key) {
                        None => {
                            by_key.insert(q.key.clone(), q);
                        }
                        Some(have) => {
                            let (first_seen, sightings) =
                                (have.first_seen.min(q.first_seen), have.sightings.saturating_add(q.sightings));
                            let mut later = if have.last_seen >= q.last_seen { have } else { q };
                            (later.first_seen, later.sightings) = (first_seen, sightings);
                            by_key.insert(later.key.clone(), later);
                        }
                    }
                }
                by_key.into_values().collect()
            })
    }

    async fn release_quarantined(&self, company: &CompanyId, key: &str) -> StoreResult<()> {
        let mut keys = vec![key.to_owned()];
        // The same order's record from before keys had kinds, when its bare number cannot be
        // another kind's key.
        if let Some(number) = key.strip_prefix(QuarantineKey::ORDER).filter(|n| !QuarantineKey::has_kind(n)) {
            keys.push(number.to_owned());
        }
        for k in keys {
            self.client
                .delete_item()
                .table_name(&self.tables.sync_state)
                .key("company_id", s(company.as_str()))
                .key("job", s(format!("{QUARANTINE_PREFIX}{k}")))
                .send()
                .await
                .map_err(|e| classify("release quarantined order", e))?;
        }
        Ok(())
    }
}

impl RequestStore for DynamoStore {
    async fn record_request(&self, record: &RequestRecord) -> StoreResult<Recorded> {
        let item = to_item(record)?;
        let r = self
            .client
            .put_item()
            .table_name(&self.tables.requests)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(request_id)")
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match r {
            Ok(_) => Ok(Recorded::New),
            Err(e) => {
                let old = e.as_service_error().and_then(|se| match se {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                        c.item.clone()
                    }
                    _ => None,
                });
                match (classify("record request", e), old) {
                    (StoreError::Conflict(_), Some(old)) => Ok(Recorded::Existing(from_item(old)?)),
                    (StoreError::Conflict(msg), None) => {
                        Err(StoreError::Unavailable(format!("request exists but was not returned: {msg}")))
                    }
                    (other, _) => Err(other),
                }
            }
        }
    }

    async fn update_request(&self, record: &RequestRecord) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.tables.requests)
            .set_item(Some(to_item(record)?))
            .condition_expression("attribute_exists(request_id)")
            .send()
            .await
            .map_err(|e| classify("update request", e))?;
        Ok(())
    }

    async fn get_request(&self, company: &CompanyId, request_id: &str) -> StoreResult<Option<RequestRecord>> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.tables.requests)
            .key("company_id", s(company.as_str()))
            .key("request_id", s(request_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("get request", e))?;
        resp.item.map(from_item).transpose()
    }

    async fn list_requests(&self, company: &CompanyId, limit: usize) -> StoreResult<Vec<RequestRecord>> {
        let items = self.query_all(&self.tables.requests, None, "company_id", company.as_str(), Some(limit)).await?;
        items.into_iter().map(from_item).collect()
    }
}

/// The audit table's TTL attribute (epoch seconds).
const AUDIT_EXPIRES: &str = "expires";

/// Audit partition of a company's calls.
fn audit_calls_pk(company: &CompanyId) -> String {
    format!("C#{}", company.as_str())
}

/// Audit partition of one order's story.
fn audit_order_pk(company: &CompanyId, order: &str) -> String {
    format!("O#{}#{order}", company.as_str())
}

/// The time part of an audit sort key, to the microsecond (entries of one run sort as they
/// happened).
fn audit_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Audit partition of one SKU's inventory story.
fn audit_sku_pk(company: &CompanyId, sku: &str) -> String {
    format!("K#{}#{sku}", company.as_str())
}

/// A sort key: the time (sortable) and a random suffix (two writers in one microsecond).
fn audit_sk(at: DateTime<Utc>) -> String {
    format!("{}#{}", audit_time(at), &uuid::Uuid::new_v4().simple().to_string()[..12])
}

impl DynamoStore {
    fn audit_item(&self, pk: String, at: DateTime<Utc>, kind: &str, body: &impl Serialize) -> StoreResult<Item> {
        let json = serde_json::to_string(body).map_err(|e| StoreError::Permanent(format!("serialise audit: {e}")))?;
        let expires = (at + self.audit_retention).timestamp();
        Ok(HashMap::from([
            ("pk".to_owned(), s(pk)),
            ("sk".to_owned(), s(audit_sk(at))),
            ("kind".to_owned(), s(kind)),
            ("record".to_owned(), s(json)),
            (AUDIT_EXPIRES.to_owned(), AttributeValue::N(expires.to_string())),
        ]))
    }

    /// Items of `pk` whose sort key is at or after `since`: the latest `limit`, oldest first.
    async fn query_since(&self, pk: &str, since: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.tables.audit)
                .key_condition_expression("pk = :pk AND sk >= :since")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":since", s(audit_time(since)))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify("query audit", e))?;
            out.extend(resp.items.unwrap_or_default());
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.reverse();
        Ok(out)
    }
}

fn audit_record<T: DeserializeOwned>(item: &Item) -> StoreResult<T> {
    let Some(AttributeValue::S(json)) = item.get("record") else {
        return Err(StoreError::Permanent("audit item without its record".into()));
    };
    serde_json::from_str(json).map_err(|e| StoreError::Permanent(format!("audit item does not read back: {e}")))
}

impl crate::audit::AuditStore for DynamoStore {
    async fn record_audit(&self, company: &CompanyId, entries: &[crate::audit::AuditEntry]) -> StoreResult<()> {
        use crate::audit::AuditEntry;
        let mut items = Vec::new();
        for entry in entries {
            match entry {
                AuditEntry::Call(call) => {
                    items.push(self.audit_item(audit_calls_pk(company), call.at, "call", call)?);
                    for event in call.order_events() {
                        let pk = match &event.sku {
                            Some(sku) => audit_sku_pk(company, sku),
                            None => audit_order_pk(company, &event.order),
                        };
                        items.push(self.audit_item(pk, event.at, "event", &event)?);
                    }
                }
                AuditEntry::Note(note) => {
                    let event = note.event();
                    items.push(self.audit_item(audit_order_pk(company, &note.order), note.at, "note", &event)?);
                }
            }
        }
        self.batch_put(&self.tables.audit, items, "write audit").await
    }

    async fn list_calls(
        &self,
        company: &CompanyId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<crate::audit::CallRecord>> {
        self.query_since(&audit_calls_pk(company), since, limit).await?.iter().map(audit_record).collect()
    }

    async fn sku_story(
        &self,
        company: &CompanyId,
        sku: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<crate::audit::OrderEvent>> {
        self.query_since(&audit_sku_pk(company, sku), since, usize::MAX).await?.iter().map(audit_record).collect()
    }

    async fn order_story(
        &self,
        company: &CompanyId,
        order: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<crate::audit::OrderEvent>> {
        self.query_since(&audit_order_pk(company, order), since, usize::MAX).await?.iter().map(audit_record).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;

    fn service(code: &str) -> SdkError<PutItemError, HttpResponse> {
        let status = 400u16.try_into().unwrap_or_else(|e| panic!("{e}"));
        SdkError::service_error(
            PutItemError::generic(ErrorMetadata::builder().code(code).build()),
            HttpResponse::new(status, "".into()),
        )
    }

    /// Every key the adapter builds from outside text (order numbers, SKUs, quarantine records,
    /// supply ids), as (kind, company, text, key): two records share a key only when they are
    /// the same record.
    fn keys(company: &CompanyId, text: &str, n: u64) -> Vec<(&'static str, String, String, String)> {
        use crate::domain::inventory::SupplyKind;
        let c = company.to_string();
        let mut out = vec![
            ("audit calls", c.clone(), String::new(), audit_calls_pk(company)),
            ("audit order", c.clone(), text.to_owned(), audit_order_pk(company, text)),
            ("audit sku", c.clone(), text.to_owned(), audit_sku_pk(company, text)),
            ("quarantine order", c.clone(), text.to_owned(), QuarantineKey::Order(text.to_owned()).as_key()),
            ("quarantine unnamed", c.clone(), n.to_string(), QuarantineKey::Unnamed(n).as_key()),
            (
                "purchase order",
                c.clone(),
                text.to_owned(),
                crate::domain::inventory::source_key(SupplyKind::PurchaseOrder, text),
            ),
            (
                "container",
                c.clone(),
                text.to_owned(),
                crate::domain::inventory::source_key(SupplyKind::Container, text),
            ),
        ];
        if let Some(t) = DateTime::from_timestamp(i64::try_from(n % 4_000_000_000).unwrap_or(0), 0) {
            out.push(("quarantine second", c.clone(), n.to_string(), QuarantineKey::Second(t).as_key()));
        }
        if let Ok(sku) = crate::domain::inventory::Sku::parse(text) {
            out.push(("product", c, sku.as_str().to_owned(), inventory::product_key(&sku)));
        }
        out
    }

    proptest::proptest! {
        /// Keys from outside text never collide: whatever two texts (each may spell another
        /// kind's prefix, a company, a time), equal keys in one table mean the same record.
        #[test]
        fn keys_from_outside_text_never_collide(
            a in "(order#|unnamed#|second#|P#|PO#|CT#|O#|K#|C#)?[a-z0-9#:TZ.-]{0,16}",
            b in "(order#|unnamed#|second#|P#|PO#|CT#|O#|K#|C#)?[a-z0-9#:TZ.-]{0,16}",
            ca in "[a-z]{1,3}(-[a-z]{1,2})?",
            cb in "[a-z]{1,3}(-[a-z]{1,2})?",
            na in proptest::prelude::any::<u64>(),
            nb in proptest::prelude::any::<u64>(),
        ) {
            let (Ok(ca), Ok(cb)) = (CompanyId::parse(&ca), CompanyId::parse(&cb)) else { return Ok(()) };
            // The audit table holds the audit keys; the sync-state table the quarantine keys
            // (under one company's partition); the inventory table products and supplies.
            let table = |kind: &str| match kind {
                k if k.starts_with("audit") => "audit",
                k if k.starts_with("quarantine") => "sync-state",
                _ => "inventory",
            };
            for x in keys(&ca, &a, na) {
                for y in keys(&cb, &b, nb) {
                    let same_partition = table(x.0) == "audit" || x.1 == y.1;
                    if table(x.0) == table(y.0) && same_partition && x.3 == y.3 {
                        proptest::prop_assert_eq!((x.0, &x.1, &x.2), (y.0, &y.1, &y.2), "{} collides", x.3);
                    }
                }
            }
        }
    }

    #[test]
    fn a_store_failure_is_a_conflict_may_pass_or_is_permanent() {
        assert!(matches!(classify("put", service("ConditionalCheckFailedException")), StoreError::Conflict(_)));
        for code in ["ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError"] {
            assert!(classify("put", service(code)).is_retryable(), "{code}");
        }
        let missing = classify("put", service("ResourceNotFoundException"));
        assert!(matches!(missing, StoreError::Permanent(ref t) if t.starts_with("put: ")), "{missing:?}");
        assert!(classify("put", SdkError::<PutItemError, HttpResponse>::timeout_error("slow")).is_retryable());
    }
}
