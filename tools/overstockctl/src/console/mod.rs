//! `overstockctl console`: the operator's console in the browser, served on loopback
//! only with the operator's own AWS credentials (the CLI's): no service in the AWS account, no
//! new role, nothing public.
//!
//! - The command prints a URL with a one-time token (as notebook servers do). Opening it sets an
//!   HttpOnly, SameSite=Strict session cookie; the token is spent. Every other request needs the
//!   cookie; without it, a page says how to get in.
//! - Every form that changes state carries the session's CSRF token, checked before anything.
//! - Requests whose `Host` is not this console's own loopback address are refused (a web page
//!   elsewhere cannot reach it through DNS rebinding).
//! - Pages are server-rendered with `maud` (compile-time-checked, every value escaped); the same
//!   services and domain rules as the CLI (`shared::services`), no rule written twice.
//!
//! This module: the server, the login, the checks, the routes. The pages: `pages` (layout,
//! companies), `company` (settings, mappings), `orders` (attention, an order's page and its
//! actions), `requests`, `inventory`. Every change goes through `crate::ops`, as the CLI's.

mod company;
mod dlq;
mod inventory;
mod orders;
mod pages;
mod requests;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use shared::store::DynamoStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The session cookie's name.
const COOKIE: &str = "overstock_console";

/// What the console keeps: the store and AWS settings (the CLI's), the request queues (the CLI's
/// `CANCEL_QUEUE_URL`, `REFUND_QUEUE_URL`), the one-time token (until spent), the sessions, and
/// the address it answers as.
pub struct Console {
    store: DynamoStore,
    sdk: aws_config::SdkConfig,
    sqs: aws_sdk_sqs::Client,
    cancel_queue: Option<String>,
    refund_queue: Option<String>,
    /// The queues whose dead-letter depth the companies page shows (those configured).
    watched_queues: Vec<(&'static str, String)>,
    token: Mutex<Option<String>>,
    sessions: Mutex<HashMap<String, SessionData>>,
    port: u16,
}

/// A session's CSRF token, and the message its next page shows (what the last form did).
struct SessionData {
    csrf: String,
    flash: Option<String>,
    last_seen: std::time::Instant,
}

type Shared = Arc<Console>;

/// 256 random bits as hex (two v4 UUIDs' random parts: the OS's generator).
fn secret() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// Equal without saying where they differ (no early exit on the first byte).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves the console on `127.0.0.1:port` (0: a free port) until interrupted; prints the login
/// URL first.
pub async fn serve(store: DynamoStore, sdk: &aws_config::SdkConfig, port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.context("bind 127.0.0.1")?;
    let port = listener.local_addr()?.port();
    let token = secret();
    let queue = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let console = Arc::new(Console {
        store,
        sdk: sdk.clone(),
        sqs: aws_sdk_sqs::Client::new(sdk),
        cancel_queue: queue("CANCEL_QUEUE_URL"),
        refund_queue: queue("REFUND_QUEUE_URL"),
        watched_queues: [
            ("cancel requests", "CANCEL_QUEUE_URL"),
            ("refund and RMA requests", "REFUND_QUEUE_URL"),
            ("order download work", "WORK_QUEUE_DOWNLOAD_URL"),
            ("tracking upload work", "WORK_QUEUE_UPLOAD_URL"),
            ("inventory push work", "WORK_QUEUE_INVENTORY_URL"),
            ("reconcile work", "WORK_QUEUE_RECONCILE_URL"),
        ]
        .into_iter()
        .filter_map(|(what, var)| queue(var).map(|url| (what, url)))
        .collect(),
        token: Mutex::new(Some(token.clone())),
        sessions: Mutex::default(),
        port,
    });
    // The URL on stdout, alone on its line (tests and scripts read it); the rest on stderr.
    println!("http://127.0.0.1:{port}/login?token={token}");
    eprintln!("overstockctl console: open the URL above (once; it signs this browser in). Ctrl-C stops it.");
    axum::serve(listener, router(console))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("console")
}

fn router(console: Shared) -> Router {
    use axum::routing::post;
    let pages = Router::new()
        .route("/", get(pages::companies))
        .route("/logout", post(pages::logout))
        .route("/c/{company}", get(company::settings))
        .route("/c/{company}/settings", post(company::save_settings))
        .route("/c/{company}/mappings", get(company::mappings).post(company::save_mapping))
        .route("/c/{company}/mappings/remove", post(company::remove_mapping))
        .route("/c/{company}/orders", get(orders::attention))
        .route("/c/{company}/order", get(orders::order))
        .route("/c/{company}/order/requeue-ack", post(orders::requeue_ack))
        .route("/c/{company}/order/reset-upload", post(orders::reset_upload))
        .route("/c/{company}/requests", get(requests::list).post(requests::queue))
        .route("/c/{company}/inventory", get(inventory::show))
        .route("/dlq/{n}", get(dlq::show))
        .route("/dlq/{n}/redrive", post(dlq::redrive))
        .route_layer(middleware::from_fn_with_state(console.clone(), signed_in));
    Router::new()
        .route("/login", get(login))
        .route("/style.css", get(pages::style))
        .merge(pages)
        .layer(middleware::from_fn_with_state(console.clone(), own_host))
        .layer(middleware::from_fn(security_headers))
        .with_state(console)
}

/// Only this console's own loopback address (`127.0.0.1:PORT`, `localhost:PORT`).
async fn own_host(State(c): State<Shared>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let own = [format!("127.0.0.1:{}", c.port), format!("localhost:{}", c.port)];
    if own.iter().any(|o| o == host) {
        next.run(req).await
    } else {
        (StatusCode::FORBIDDEN, "this console answers only to its own loopback address").into_response()
    }
}

/// No framing, no sniffing, no referrer, no script at all (the pages have none).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The session named by the request's cookie, with its CSRF token and the message left for it.
pub struct Session {
    id: String,
    pub csrf: String,
    pub flash: Option<String>,
}

fn session_of(c: &Console, headers: &HeaderMap) -> Option<Session> {
    let cookies = headers.get_all(header::COOKIE);
    let id = cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())?;
    let mut sessions = lock(&c.sessions);
    let now = std::time::Instant::now();
    // A session nobody used for IDLE is over (a laptop left signed in).
    sessions.retain(|_, d| !idle(d.last_seen, now));
    sessions.iter_mut().find(|(k, _)| same(k, &id)).map(|(k, d)| {
        d.last_seen = now;
        Session { id: k.clone(), csrf: d.csrf.clone(), flash: d.flash.take() }
    })
}

/// How long a session lasts without a request.
const IDLE: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

fn idle(last_seen: std::time::Instant, now: std::time::Instant) -> bool {
    now.saturating_duration_since(last_seen) > IDLE
}

async fn signed_in(State(c): State<Shared>, mut req: Request, next: Next) -> Response {
    match session_of(&c, req.headers()) {
        Some(s) => {
            req.extensions_mut().insert(Arc::new(s));
            next.run(req).await
        }
        None => (StatusCode::UNAUTHORIZED, Html(pages::signed_out())).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

/// The one-time URL: right token (unspent) → a session and its cookie; anything else refused.
async fn login(State(c): State<Shared>, Query(q): Query<LoginQuery>) -> Response {
    let given = q.token.unwrap_or_default();
    let spent = {
        let mut token = lock(&c.token);
        let right = token.as_deref().is_some_and(|t| same(t, &given));
        right && token.take().is_some()
    };
    if !spent {
        return (StatusCode::FORBIDDEN, Html(pages::signed_out())).into_response();
    }
    let id = secret();
    lock(&c.sessions)
        .insert(id.clone(), SessionData { csrf: secret(), flash: None, last_seen: std::time::Instant::now() });
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// A form's CSRF field checked against the session's (every state-changing handler calls this
/// first).
pub fn csrf_ok(session: &Session, form: &HashMap<String, String>) -> bool {
    form.get("csrf").is_some_and(|t| same(t, &session.csrf))
}

/// A state-changing form's guard: `Some(refusal)` when its CSRF token is missing or wrong.
pub fn refused(session: &Session, form: &HashMap<String, String>) -> Option<Response> {
    (!csrf_ok(session, form)).then(|| {
        (StatusCode::FORBIDDEN, "the form's CSRF token is missing or wrong: nothing was changed").into_response()
    })
}

impl Console {
    pub fn store(&self) -> &DynamoStore {
        &self.store
    }

    /// Leaves a message for the session's next page (what its form did), then sends the browser
    /// there (post, redirect, get: a reload does not submit again).
    pub fn done(&self, session: &Session, message: String, to: &str) -> Response {
        if let Some(d) = lock(&self.sessions).get_mut(&session.id) {
            d.flash = Some(message);
        }
        Redirect::to(to).into_response()
    }

    fn end(&self, session: &Session) {
        lock(&self.sessions).remove(&session.id);
    }
}

/// Percent-encodes a value for a URL's query (everything but unreserved characters).
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_and_distinct_and_comparison_is_exact() {
        let (a, b) = (secret(), secret());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]), "a prefix is not the token");
        let s = Session { id: String::new(), csrf: "t".repeat(64), flash: None };
        let mut form = HashMap::new();
        assert!(!csrf_ok(&s, &form), "no field");
        form.insert("csrf".into(), "t".repeat(63));
        assert!(!csrf_ok(&s, &form));
        form.insert("csrf".into(), "t".repeat(64));
        assert!(csrf_ok(&s, &form));
    }

    #[test]
    fn a_session_unused_for_twelve_hours_is_over() {
        let t = std::time::Instant::now();
        assert!(!idle(t, t + IDLE), "exactly twelve hours: still on");
        assert!(idle(t, t + IDLE + std::time::Duration::from_secs(1)));
        assert!(!idle(t + IDLE, t), "a clock read before the last use is not idle");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("OSTK-1"), "OSTK-1");
        assert_eq!(query_value("a b&c=<d>/é"), "a%20b%26c%3D%3Cd%3E%2F%C3%A9");
    }
}
