//! HTTP transport to Overstock: Basic auth, XML, per-request timeout, retry with capped
//! exponential backoff and jitter (backon), `Retry-After` honoured.

use super::error::OverstockError;
use super::xml::{parse_error_response, parse_sales_orders};
use super::{OrderPage, OverstockApi, RejectedElement};
use crate::audit::{self, Attempt, CallRecord, CallTrail, Element, Operation, Rejection};
use crate::config::{self, ConfigError, Env};
use crate::credentials::Credentials;
use crate::domain::dry_run::{DryRun, Flow};
use crate::domain::endpoint::{ApiBaseUrl, EndpointPolicy};
use crate::domain::window::{Window, denver_query_bounds};
use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::time::Duration;

/// The XML declaration every request body starts with.
pub const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;
/// The namespace: a bare string, not a URL.
pub const NAMESPACE: &str = "api.supplieroasis.com";

/// Where and as whom to call Overstock, and until when a call may go on.
#[derive(Debug, Clone)]
pub struct Account {
    pub base_url: ApiBaseUrl,
    pub credentials: Credentials,
    /// The run's deadline: no call (retries included) goes on past it.
    pub deadline: Option<tokio::time::Instant>,
    /// Set once Overstock answers anything but 401: the credentials work.
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Where every call is recorded (flushed to the audit store by the caller's frame).
    pub trail: CallTrail,
    /// The company's flows in dry-run: their POSTs are recorded as "would send", never made.
    pub dry_run: DryRun,
}

impl Account {
    /// An account with no deadline, an empty trail and no dry-run.
    pub fn new(base_url: ApiBaseUrl, credentials: Credentials) -> Self {
        Self {
            base_url,
            credentials,
            deadline: None,
            accepted: Default::default(),
            trail: CallTrail::default(),
            dry_run: DryRun::default(),
        }
    }
}

/// Retry and timeout settings.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// Longest `Retry-After` honoured; longer ones are capped (the run has a deadline).
    pub max_retry_after: Duration,
    pub request_timeout: Duration,
    /// The whole of one call, retries and waits included (also bounded by the run's deadline).
    pub call_budget: Duration,
    /// The largest response body read; a larger one is an error, never held in memory.
    pub max_response_bytes: usize,
    /// The largest `GET /inventory` answer read (every SKU in one document: ~200 bytes each).
    pub max_inventory_bytes: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retries: 5,
            max_retry_after: Duration::from_secs(20),
            request_timeout: Duration::from_secs(20),
            call_budget: Duration::from_secs(90),
            max_response_bytes: 16 * 1024 * 1024,
            max_inventory_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The client's configuration from the environment (see the README).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub retry: RetryPolicy,
    pub endpoints: EndpointPolicy,
}

impl ClientConfig {
    /// `OVERSTOCK_RETRY_MIN_MS`, `OVERSTOCK_RETRY_MAX_MS`, `OVERSTOCK_MAX_RETRIES`,
    /// `OVERSTOCK_TIMEOUT_MS`, `OVERSTOCK_CALL_BUDGET_MS`, `OVERSTOCK_MAX_RESPONSE_BYTES`,
    /// `OVERSTOCK_MAX_INVENTORY_BYTES`,
    /// `OVERSTOCK_ALLOWED_HOSTS`, `OVERSTOCK_ALLOW_LOOPBACK`; a bad value names its variable.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let d = RetryPolicy::default();
        let retry = RetryPolicy {
            min_delay: config::millis(env, "OVERSTOCK_RETRY_MIN_MS", d.min_delay, 1..=60_000)?,
            max_delay: config::millis(env, "OVERSTOCK_RETRY_MAX_MS", d.max_delay, 1..=120_000)?,
            max_retries: config::number(env, "OVERSTOCK_MAX_RETRIES", d.max_retries, 0..=20)?,
            max_retry_after: d.max_retry_after,
            request_timeout: config::millis(env, "OVERSTOCK_TIMEOUT_MS", d.request_timeout, 100..=300_000)?,
            call_budget: config::millis(env, "OVERSTOCK_CALL_BUDGET_MS", d.call_budget, 100..=900_000)?,
            max_response_bytes: config::number(
                env,
                "OVERSTOCK_MAX_RESPONSE_BYTES",
                d.max_response_bytes,
                64 * 1024..=256 * 1024 * 1024,
            )?,
            max_inventory_bytes: config::number(
                env,
                "OVERSTOCK_MAX_INVENTORY_BYTES",
                d.max_inventory_bytes,
                64 * 1024..=512 * 1024 * 1024,
            )?,
        };
        if retry.min_delay > retry.max_delay {
            return Err(ConfigError {
                key: "OVERSTOCK_RETRY_MIN_MS".into(),
                value: retry.min_delay.as_millis().to_string(),
                reason: "must not exceed OVERSTOCK_RETRY_MAX_MS".into(),
            });
        }
        let endpoints = EndpointPolicy {
            allowed_hosts: config::list(env, "OVERSTOCK_ALLOWED_HOSTS"),
            allow_loopback: config::flag(env, "OVERSTOCK_ALLOW_LOOPBACK", false)?,
        };
        Ok(Self { retry, endpoints })
    }
}

/// The Overstock client. Cheap to clone; build once per Lambda instance.
#[derive(Debug, Clone)]
pub struct OverstockClient {
    http: reqwest::Client,
    policy: RetryPolicy,
    endpoints: EndpointPolicy,
    outcomes: std::sync::Arc<CallOutcomes>,
}

/// HTTP attempts by outcome class (relaxed atomic counters).
#[derive(Debug, Default)]
struct CallOutcomes([std::sync::atomic::AtomicU64; CALL_CLASSES.len()]);

/// The classes `call_outcomes` reports, in its order.
const CALL_CLASSES: [&str; 7] = ["2xx", "4xx", "429", "5xx", "null", "timeout", "network"];

/// An attempt's class for metrics (an index into [`CALL_CLASSES`]).
fn class_index(result: &Result<Reply, OverstockError>) -> usize {
    match result {
        Ok(r) if r.status.is_success() => 0,
        Ok(_) => 1,
        Err(OverstockError::Throttled { .. }) => 2,
        Err(OverstockError::Server { .. }) => 3,
        Err(OverstockError::NullBody) => 4,
        Err(OverstockError::Timeout) => 5,
        Err(OverstockError::Connect(_) | OverstockError::Transport(_)) => 6,
        Err(_) => 1,
    }
}

/// An attempt as the audit trail records it: status, a finer class than the metrics', the error.
fn audited_attempt(n: u32, millis: u64, result: &Result<Reply, OverstockError>) -> Attempt {
    let (status, outcome) = match result {
        Ok(r) => (Some(r.status.as_u16()), CALL_CLASSES[class_index(result)]),
        Err(e) => match e {
            OverstockError::Unauthorized => (Some(401), "4xx"),
            OverstockError::Throttled { .. } => (Some(429), "429"),
            OverstockError::Server { status } => (Some(*status), "5xx"),
            OverstockError::Client { status, .. } => (Some(*status), "4xx"),
            OverstockError::Redirected { status } => (Some(*status), "redirect"),
            OverstockError::NullBody => (None, "null"),
            OverstockError::Timeout => (None, "timeout"),
            OverstockError::Connect(_) | OverstockError::Transport(_) => (None, "network"),
            OverstockError::TooLarge { .. } => (None, "too_large"),
            OverstockError::BadResponse(_) | OverstockError::UnknownOutcome(_) => (None, "bad_response"),
            OverstockError::ForbiddenEndpoint(_) => (None, "refused_endpoint"),
            OverstockError::MessageRejected(_) | OverstockError::BadRequest(_) => (None, "not_sent"),
        },
    };
    let error = result.as_ref().err().map(|e| audit::clip(&e.to_string()));
    Attempt { n, status, outcome: outcome.to_owned(), millis, error }
}

impl CallOutcomes {
    fn count(&self, result: &Result<Reply, OverstockError>) {
        self.0[class_index(result)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How one kind of POST is sent: its operation and path, the dry-run flow of each element, how
/// the audit trail describes an element, and the message builder.
struct Outbound<'a, T> {
    operation: Operation,
    path: &'a str,
    flow: fn(&T) -> Flow,
    describe: fn(&T) -> Element,
    message: fn(&[T]) -> String,
}

/// A successful HTTP exchange: status and body text.
struct Reply {
    status: StatusCode,
    body: String,
}

impl OverstockClient {
    pub fn new(config: ClientConfig) -> Result<Self, OverstockError> {
        let ClientConfig { retry: policy, endpoints } = config;
        let http = reqwest::Client::builder()
            .timeout(policy.request_timeout)
            .connect_timeout(Duration::from_secs(5).min(policy.request_timeout))
            // A redirect is never followed: it would carry the Authorization header elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("overstock-connector/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OverstockError::BadRequest(format!("http client: {e}")))?;
        Ok(Self { http, policy, endpoints, outcomes: Default::default() })
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// One call with retries. Success statuses and 400 come back as `Reply`; everything else is
    /// an error. A GET is retried on every retryable error; a POST only when it certainly had
    /// no effect (see [`OverstockError::certainly_not_applied`]).
    async fn call(
        &self,
        account: &Account,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<String>,
    ) -> (Result<Reply, OverstockError>, Vec<Attempt>) {
        let attempts = std::sync::Mutex::new(Vec::new());
        let limit = self.policy.max_response_bytes;
        let result = self.call_with_retries(account, (method, path, limit), query, body, &attempts).await;
        (result, attempts.into_inner().unwrap_or_default())
    }

    /// A call without query or body whose answer may be up to `limit` bytes.
    async fn call_capped(
        &self,
        account: &Account,
        method: Method,
        path: &str,
        limit: usize,
    ) -> (Result<Reply, OverstockError>, Vec<Attempt>) {
        let attempts = std::sync::Mutex::new(Vec::new());
        let result = self.call_with_retries(account, (method, path, limit), &[], None, &attempts).await;
        (result, attempts.into_inner().unwrap_or_default())
    }

    async fn call_with_retries(
        &self,
        account: &Account,
        (method, path, limit): (Method, &str, usize),
        query: &[(&str, String)],
        body: Option<String>,
        attempts: &std::sync::Mutex<Vec<Attempt>>,
    ) -> Result<Reply, OverstockError> {
        let url = account.base_url.endpoint(path);
        let p = self.policy;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(p.min_delay)
            .with_max_delay(p.max_delay)
            .with_max_times(p.max_retries)
            .with_jitter();
        let attempt = || self.attempt(account, (method.clone(), &url, limit), query, body.clone(), attempts);
        let retried = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e| if method == Method::GET { e.is_retryable() } else { e.certainly_not_applied() })
            .adjust(|e, next| retry_delay(e, next, p.max_retry_after))
            .notify(|e, d| tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, path, "overstock call failed, retrying"));
        let budget_end = tokio::time::Instant::now() + p.call_budget;
        let until = account.deadline.map_or(budget_end, |d| d.min(budget_end));
        match tokio::time::timeout_at(until, retried).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(path, "overstock call gave up: its time budget or the run's deadline ran out");
                Err(OverstockError::Timeout)
            }
        }
    }

    async fn attempt(
        &self,
        account: &Account,
        (method, url, limit): (Method, &str, usize),
        query: &[(&str, String)],
        body: Option<String>,
        attempts: &std::sync::Mutex<Vec<Attempt>>,
    ) -> Result<Reply, OverstockError> {
        let started = std::time::Instant::now();
        let result = self.attempt_once(account, (method, url, limit), query, body).await;
        if !matches!(result, Err(OverstockError::ForbiddenEndpoint(_))) {
            self.outcomes.count(&result);
        }
        if let Ok(mut a) = attempts.lock() {
            let n = u32::try_from(a.len()).unwrap_or(u32::MAX).saturating_add(1);
            a.push(audited_attempt(n, u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX), &result));
        }
        result
    }

    async fn attempt_once(
        &self,
        account: &Account,
        (method, url, limit): (Method, &str, usize),
        query: &[(&str, String)],
        body: Option<String>,
    ) -> Result<Reply, OverstockError> {
        // On every request: credentials go only where the deployment allows.
        account.base_url.check(&self.endpoints).map_err(|e| OverstockError::ForbiddenEndpoint(e.to_string()))?;
        let mut req = self
            .http
            .request(method, url)
            .basic_auth(&account.credentials.username, Some(account.credentials.password.expose()))
            .header(ACCEPT, "application/xml")
            .query(query);
        if let Some(b) = body {
            req = req.header(CONTENT_TYPE, "application/xml").body(b);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                OverstockError::Timeout
            } else if e.is_connect() {
                OverstockError::Connect(e.to_string())
            } else if e.is_builder() {
                OverstockError::BadRequest(e.to_string())
            } else {
                OverstockError::Transport(e.to_string())
            }
        })?;
        let status = resp.status();
        if status != StatusCode::UNAUTHORIZED {
            account.accepted.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if status.is_redirection() {
            return Err(OverstockError::Redirected { status: status.as_u16() });
        }
        let body = read_body(resp, limit).await?;
        match status.as_u16() {
            200..=204 if body.trim() == "null" => Err(OverstockError::NullBody),
            200..=204 | 400 => Ok(Reply { status, body }),
            401 => Err(OverstockError::Unauthorized),
            429 => Err(OverstockError::Throttled { retry_after }),
            s if s >= 500 => Err(OverstockError::Server { status: s }),
            s => Err(OverstockError::Client { status: s, body: crate::domain::text::scrub(&body, &[]) }),
        }
    }

    /// POSTs a message and applies the documented rule for the answer: success accepts every
    /// element; a 400 naming elements rejects those only; a 400 naming none rejects the message.
    async fn post_message(
        &self,
        account: &Account,
        path: &str,
        body: String,
        mut record: CallRecord,
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        let (result, attempts) = self.call(account, Method::POST, path, &[], Some(body)).await;
        record.attempts = attempts;
        let answer = result.and_then(|reply| post_answer(reply.status, &reply.body, &record.elements));
        match &answer {
            Ok(rejected) if rejected.is_empty() => record.result = "ok".into(),
            Ok(rejected) => {
                record.result = format!("{} rejected", rejected.len());
                record.rejected = rejected.iter().map(Rejection::from).collect();
            }
            Err(e) => record.result = format!("error: {}", audit::clip(&e.to_string())),
        }
        account.trail.record(record);
        answer
    }

    /// POSTs the elements whose flow is live and records the others as "would send" (dry-run):
    /// every element is decided by the caller the same way; only the sending differs. The
    /// dry-run elements come back accepted.
    async fn post_elements<T: Clone>(
        &self,
        account: &Account,
        wire: Outbound<'_, T>,
        items: &[T],
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        let Outbound { operation, path, flow, describe, message } = wire;
        let (dry, live): (Vec<&T>, Vec<&T>) = items.iter().partition(|t| account.dry_run.contains(flow(t)));
        if !dry.is_empty() {
            let mut record = CallRecord::new(chrono::Utc::now(), operation);
            record.dry_run = true;
            record.result = "would send".into();
            record.elements = dry.iter().map(|t| describe(t)).collect();
            account.trail.record(record);
        }
        if live.is_empty() {
            return Ok(Vec::new());
        }
        let live: Vec<T> = live.into_iter().cloned().collect();
        let mut record = CallRecord::new(chrono::Utc::now(), operation);
        record.elements = live.iter().map(describe).collect();
        self.post_message(account, path, message(&live), record).await
    }
}

/// The documented reading of a POST's answer, given what was sent. It says what was accepted only
/// when it clearly does; anything else is an unknown outcome (the caller settles it by reading
/// Overstock's state, as after a timeout):
/// - a success status whose body is empty or an XML document (not an HTML page, not an error
///   document): every element accepted;
/// - a 400 with Overstock's error document whose errors each name an element that was sent
///   (the same order, and the same line or SKU, spelled exactly as sent): those rejected, every
///   other accepted;
/// - a 400 whose errors name no element: the whole message rejected, nothing applied;
/// - a 400 naming an element that was not sent (another order, line `01` for the sent `1`), or
///   whose body is not Overstock's error document; a 2xx whose body is not a success: unknown.
pub(crate) fn post_answer(
    status: StatusCode,
    body: &str,
    sent: &[Element],
) -> Result<Vec<RejectedElement>, OverstockError> {
    if status != StatusCode::BAD_REQUEST {
        return success_body(status, body).map(|()| Vec::new());
    }
    let errors = parse_error_response(body)
        .map_err(|e| OverstockError::UnknownOutcome(format!("a 400 that is not Overstock's error document ({e})")))?;
    let (named, unnamed): (Vec<_>, Vec<_>) =
        errors.into_iter().partition(|e| !e.order_number.is_empty() || e.sku.is_some());
    if !unnamed.is_empty() || named.is_empty() {
        let msg = unnamed.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
        return Err(OverstockError::MessageRejected(if msg.is_empty() { "400 without errors".into() } else { msg }));
    }
    let foreign = named.iter().filter(|r| !sent.iter().any(|e| Rejection::from(*r).names(e))).count();
    if foreign > 0 {
        return Err(OverstockError::UnknownOutcome(format!(
            "a 400 naming {foreign} element(s) that were not in the message: what was accepted is not known"
        )));
    }
    Ok(named)
}

/// Whether a success status's body says success: empty, or one well-formed XML document that is
/// neither an HTML page nor holds an element named like an error or a fault. Anything else (a
/// maintenance page, a SOAP fault, a document cut short, text, JSON) leaves what was applied
/// unknown.
fn success_body(status: StatusCode, body: &str) -> Result<(), OverstockError> {
    let text = super::xml::without_bom(body).trim();
    if text.is_empty() {
        return Ok(());
    }
    let unknown = |what: &str| {
        OverstockError::UnknownOutcome(format!("a {} whose body is {what}, not a success document", status.as_u16()))
    };
    // Read whole: a document cut short (a proxy's timeout) says nothing either.
    match super::xml::not_a_success_document(text) {
        None => Ok(()),
        Some(what) => Err(unknown(what)),
    }
}

/// Reads a body up to `limit` bytes (an announced or actual larger one is refused before it is
/// held), as UTF-8 (lossily).
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<String, OverstockError> {
    let too_large = || OverstockError::TooLarge { limit };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| {
            if e.is_timeout() { OverstockError::Timeout } else { OverstockError::Transport(e.to_string()) }
        })?;
        let Some(chunk) = chunk else { break };
        if buf.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    // Almost readable beats unreadable: a byte that is not UTF-8 (one bad byte in a name) is
    // read as U+FFFD, and the parser flags the order holding it (and refuses it in an identifier).
    Ok(match String::from_utf8(buf) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The wait before the next attempt: the backoff's, or a 429's `Retry-After` when longer
/// (capped, the run has a deadline). `None` (budget spent) stays `None`.
fn retry_delay(e: &OverstockError, next: Option<Duration>, cap: Duration) -> Option<Duration> {
    match (e, next) {
        (OverstockError::Throttled { retry_after: Some(ra) }, Some(d)) => Some((*ra).min(cap).max(d)),
        (_, next) => next,
    }
}

/// Whether XML 1.0 can carry `s` at all (escaping cannot help a control character).
pub fn xml_safe(s: &str) -> bool {
    s.chars().all(|c| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}'))
}

/// Escapes text for XML element content.
pub(crate) fn xml_text(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

impl OverstockApi for OverstockClient {
    fn call_outcomes(&self) -> std::collections::BTreeMap<&'static str, u64> {
        CALL_CLASSES
            .iter()
            .zip(self.outcomes.0.iter())
            .map(|(c, n)| (*c, n.load(std::sync::atomic::Ordering::Relaxed)))
            .collect()
    }

    async fn fetch_orders(&self, account: &Account, window: &Window) -> Result<OrderPage, OverstockError> {
        let (start, end) = denver_query_bounds(window);
        let mut record = CallRecord::new(chrono::Utc::now(), Operation::GetSalesOrders);
        record.window =
            Some(format!("{}..{}", crate::domain::utc_key(window.start), crate::domain::utc_key(window.end)));
        let (result, attempts) =
            self.call(account, Method::GET, "/salesorders", &[("startTime", start), ("endTime", end)], None).await;
        record.attempts = attempts;
        let page = result.and_then(|reply| {
            if reply.status == StatusCode::BAD_REQUEST {
                return Err(OverstockError::Client { status: 400, body: crate::domain::text::scrub(&reply.body, &[]) });
            }
            parse_sales_orders(&reply.body).map_err(|e| OverstockError::BadResponse(e.0))
        });
        match &page {
            Ok(p) => {
                let numbers =
                    p.orders.iter().map(|o| o.order_number.to_string()).chain(p.unparseable.iter().map(|u| u.key()));
                record.orders_read = numbers.take(audit::MAX_ORDERS_READ).collect();
                record.orders_read_total = p.orders.len() + p.unparseable.len();
                let n = record.orders_read_total;
                let orders = format!("{n} order{}", if n == 1 { "" } else { "s" });
                record.result = if p.unparseable.is_empty() {
                    orders
                } else {
                    format!("{orders}, {} unparseable", p.unparseable.len())
                };
            }
            Err(e) => record.result = format!("error: {}", audit::clip(&e.to_string())),
        }
        account.trail.record(record);
        page
    }

    async fn acknowledge(
        &self,
        account: &Account,
        acks: &[super::acknowledgements::Acknowledgement],
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        self.post_elements(
            account,
            Outbound {
                operation: Operation::PostAcknowledgements,
                path: super::acknowledgements::ACKNOWLEDGEMENTS_PATH,
                flow: |_| Flow::Acknowledgement,
                describe: super::acknowledgements::Acknowledgement::audited,
                message: super::acknowledgements::acknowledgement_message,
            },
            acks,
        )
        .await
    }

    async fn post_shipments(
        &self,
        account: &Account,
        items: &[super::shipments::ShipmentElement],
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        self.post_elements(
            account,
            Outbound {
                operation: Operation::PostShipments,
                path: super::shipments::SHIPMENTS_PATH,
                flow: super::shipments::ShipmentElement::flow,
                describe: super::shipments::ShipmentElement::audited,
                message: super::shipments::shipment_message,
            },
            items,
        )
        .await
    }

    async fn post_inventory(
        &self,
        account: &Account,
        items: &[super::inventory::InventoryElement],
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        self.post_elements(
            account,
            Outbound {
                operation: Operation::PostInventory,
                path: super::inventory::INVENTORY_PATH,
                flow: |_| Flow::Inventory,
                describe: super::inventory::InventoryElement::audited,
                message: super::inventory::inventory_message,
            },
            items,
        )
        .await
    }

    async fn fetch_inventory(&self, account: &Account) -> Result<Vec<super::inventory::HeldElement>, OverstockError> {
        let mut record = CallRecord::new(chrono::Utc::now(), Operation::GetInventory);
        let (result, attempts) = self
            .call_capped(account, Method::GET, super::inventory::INVENTORY_PATH, self.policy.max_inventory_bytes)
            .await;
        record.attempts = attempts;
        let held = result.and_then(|reply| {
            if reply.status == StatusCode::BAD_REQUEST {
                return Err(OverstockError::Client { status: 400, body: crate::domain::text::scrub(&reply.body, &[]) });
            }
            super::inventory::parse_inventory_list(&reply.body).map_err(|e| OverstockError::BadResponse(e.0))
        });
        record.result = match &held {
            Ok(h) => format!("{} SKUs", h.len()),
            Err(e) => format!("error: {}", audit::clip(&e.to_string())),
        };
        account.trail.record(record);
        held
    }

    async fn post_refunds(
        &self,
        account: &Account,
        items: &[super::refunds::RefundItem],
    ) -> Result<Vec<RejectedElement>, OverstockError> {
        self.post_elements(
            account,
            Outbound {
                operation: Operation::PostRefunds,
                path: super::refunds::REFUNDS_PATH,
                flow: |_| Flow::Refund,
                describe: super::refunds::RefundItem::audited,
                message: super::refunds::refund_message,
            },
            items,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_lengthens_the_wait_up_to_the_cap_and_never_extends_the_budget() {
        let cap = Duration::from_secs(20);
        let throttled = |s| OverstockError::Throttled { retry_after: Some(Duration::from_secs(s)) };
        let next = Some(Duration::from_millis(500));
        assert_eq!(retry_delay(&throttled(3), next, cap), Some(Duration::from_secs(3)));
        assert_eq!(retry_delay(&throttled(120), next, cap), Some(cap));
        assert_eq!(retry_delay(&throttled(3), None, cap), None);
        assert_eq!(retry_delay(&OverstockError::Throttled { retry_after: None }, next, cap), next);
        assert_eq!(retry_delay(&OverstockError::NullBody, next, cap), next);
    }

    fn sent(order: &str, line: Option<&str>) -> Element {
        Element { order: order.into(), line: line.map(Into::into), request_id: None, sku: None, what: "ship".into() }
    }

    fn errors(items: &[(&str, &str)]) -> String {
        let mut s = String::from("<?xml version=\"1.0\"?><errorResponse>");
        for (o, l) in items {
            s.push_str(&format!(
                "<error><salesChannelOrderNumber>{o}</salesChannelOrderNumber>\
                 <salesChannelLineNumber>{l}</salesChannelLineNumber><message>no</message></error>"
            ));
        }
        s + "</errorResponse>"
    }

    #[test]
    fn a_400_naming_what_was_not_sent_says_nothing_about_what_was_accepted() {
        let message = [sent("OSTK-1", Some("1")), sent("OSTK-2", Some("1"))];
        let bad = StatusCode::BAD_REQUEST;
        let named = post_answer(bad, &errors(&[("OSTK-2", "1")]), &message);
        assert_eq!(named.ok().map(|r| r.len()), Some(1), "a sent element named: that one rejected");
        for (order, line) in [("OSTK-9", "1"), ("OSTK-1", "01"), ("OSTK-1", " 1x"), ("ostk-1", "1")] {
            let answer = post_answer(bad, &errors(&[("OSTK-2", "1"), (order, line)]), &message);
            assert!(matches!(answer, Err(OverstockError::UnknownOutcome(_))), "{order}/{line}: {answer:?}");
        }
        let html = post_answer(bad, "<html><body>proxy</body></html>", &message);
        assert!(matches!(html, Err(OverstockError::UnknownOutcome(_))), "{html:?}");
        let whole = post_answer(bad, "<errorResponse><error><message>bad</message></error></errorResponse>", &message);
        assert!(matches!(whole, Err(OverstockError::MessageRejected(_))), "{whole:?}");
    }

    #[test]
    fn a_success_status_counts_only_with_a_success_body() {
        let message = [sent("OSTK-1", Some("1"))];
        for body in ["", "  \n", "\u{feff}", "<?xml version=\"1.0\"?><supplierShipmentResponse/>"] {
            assert_eq!(post_answer(StatusCode::OK, body, &message).ok(), Some(vec![]), "{body:?}");
        }
        for body in [
            "<!DOCTYPE html><html><body>Down for maintenance</body></html>",
            "<HTML><p>busy</p></HTML>",
            "<?xml version=\"1.0\"?><supplierShipmentResponse><status>OK",
            "<soap:Envelope><soap:Body><soap:Fault>busy</soap:Fault></soap:Body></soap:Envelope>",
            "<ErrorResponse><message>x</message></ErrorResponse>",
            "<SOAP-ENV:Fault/>",
            "Service Unavailable",
            "{\"status\":\"ok\"}",
            &errors(&[("OSTK-1", "1")]),
        ] {
            let answer = post_answer(StatusCode::OK, body, &message);
            assert!(matches!(answer, Err(OverstockError::UnknownOutcome(_))), "{body:?}: {answer:?}");
        }
    }

    /// An error of a 400: order, line, SKU.
    type Named = (String, Option<String>, Option<String>);

    /// The errors of a 400 as an independent parser (roxmltree) reads them.
    fn reference_errors(body: &str) -> Option<Vec<Named>> {
        let doc = roxmltree::Document::parse(body).ok()?;
        let text = |n: roxmltree::Node, name: &str| {
            n.children().find(|c| c.tag_name().name() == name).and_then(|c| c.text()).map(|t| t.trim().to_owned())
        };
        Some(
            doc.root_element()
                .children()
                .filter(|c| c.tag_name().name() == "error")
                .map(|e| {
                    (
                        text(e, "salesChannelOrderNumber").unwrap_or_default(),
                        text(e, "salesChannelLineNumber").filter(|s| !s.is_empty()),
                        text(e, "partnerSKU").filter(|s| !s.is_empty()),
                    )
                })
                .collect(),
        )
    }

    proptest::proptest! {
        /// For any answer, nothing is taken as accepted unless the answer says so: a success
        /// status only with an empty or XML success body; a 400 only when each of its errors
        /// names, exactly, an element that was sent.
        #[test]
        fn no_element_is_accepted_unless_the_answer_says_so(
            sent_orders in proptest::collection::vec(("OSTK-[0-9]{1,2}", "[0-9]{1,2}"), 1..5),
            named in proptest::collection::vec(("(OSTK-)?[0-9]{1,2}", "0?[0-9]{1,2}"), 0..4),
            status in proptest::sample::select(vec![200u16, 201, 204, 400]),
            body_kind in 0u8..5,
        ) {
            let message: Vec<Element> = sent_orders.iter().map(|(o, l)| sent(o, Some(l))).collect();
            let named: Vec<(&str, &str)> = named.iter().map(|(o, l)| (o.as_str(), l.as_str())).collect();
            let body = match body_kind {
                0 => String::new(),
                1 => errors(&named),
                2 => "<html><body>maintenance</body></html>".to_owned(),
                3 => "<?xml version=\"1.0\"?><ok/>".to_owned(),
                _ => "null or anything".to_owned(),
            };
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Ok(rejected) = post_answer(status, &body, &message) {
                if status == StatusCode::BAD_REQUEST {
                    let errors = reference_errors(&body);
                    proptest::prop_assert!(errors.is_some(), "a 400 read without an error document");
                    let errors = errors.unwrap_or_default();
                    proptest::prop_assert_eq!(rejected.len(), errors.len());
                    for (o, l, _) in &errors {
                        proptest::prop_assert!(
                            message.iter().any(|e| &e.order == o && (l.is_none() || e.line.as_ref() == l.as_ref())),
                            "{o}/{l:?} names nothing that was sent, yet the rest was taken as accepted"
                        );
                    }
                } else {
                    let root = roxmltree::Document::parse(&body).ok().map(|d| d.root_element().tag_name().name().to_owned());
                    proptest::prop_assert!(
                        body.trim().is_empty() || root.is_some_and(|r| r != "html" && r != "errorResponse"),
                        "a {status} with {body:?} taken as success"
                    );
                }
            }
        }
    }

    #[test]
    fn failure_classes() {
        assert!(!OverstockError::Unauthorized.is_retryable());
        assert!(OverstockError::NullBody.is_retryable());
        assert!(OverstockError::Timeout.is_retryable());
        assert!(OverstockError::Server { status: 503 }.is_retryable());
        assert!(OverstockError::Throttled { retry_after: None }.is_retryable());
        assert!(!OverstockError::MessageRejected("x".into()).is_retryable());
        assert!(!OverstockError::BadResponse("x".into()).is_retryable());
    }
}
