//! The Overstock sandbox: a local stand-in for Supplier Oasis with accounts, seeded orders,
//! strict validation of what it receives, fault injection and an admin API.
//!
//! `overstock-sandbox --port 8090` (loopback). See docs/sandbox.md for the admin API.

// Handlers return `Result<_, Response>` (axum style); a Response is large by design.
#![allow(clippy::result_large_err)]

mod generate;
mod model;
mod xmlin;
mod xmlout;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::America::Denver;
use clap::Parser;
use model::{Account, Faults, Sandbox, Shape};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Local Overstock Supplier Oasis sandbox")]
struct Args {
    /// Address to bind (loopback by default).
    #[arg(long, env = "SANDBOX_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port; 0 picks a free one (printed on stdout).
    #[arg(long, env = "SANDBOX_PORT", default_value_t = 8090)]
    port: u16,
}

type Shared = Arc<Mutex<Sandbox>>;

fn lock(s: &Shared) -> MutexGuard<'_, Sandbox> {
    s.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let args = Args::parse();
    let state: Shared = Arc::new(Mutex::new(Sandbox::default()));
    let app = Router::new()
        .route("/salesorders", get(get_sales_orders))
        .route("/shipments", post(post_shipments))
        .route("/acknowledgements", post(post_acknowledgements))
        .route("/inventory", post(post_inventory).get(get_inventory))
        .route("/refunds", post(post_refunds))
        .route("/admin/health", get(|| async { "ok" }))
        .route("/admin/reset", post(admin_reset))
        .route("/admin/accounts", post(admin_create_account))
        .route("/admin/accounts/{user}/faults", put(admin_faults))
        .route("/admin/accounts/{user}/shape", put(admin_shape))
        .route("/admin/accounts/{user}/hostile", put(admin_hostile).delete(admin_hostile_off))
        .route("/admin/accounts/{user}/orders", post(admin_seed_order).get(admin_list_orders))
        .route("/admin/accounts/{user}/orders/generate", post(admin_generate))
        .route("/admin/accounts/{user}/orders/{number}/cancel", post(admin_cancel))
        .route("/admin/accounts/{user}/orders/{number}/wire-override", axum::routing::delete(admin_clear_override))
        .route("/admin/accounts/{user}/orders/{number}/status", put(admin_set_status))
        .route("/admin/accounts/{user}/received", get(admin_received))
        .route("/admin/accounts/{user}/inventory/{sku}", put(admin_set_inventory).delete(admin_delete_inventory))
        .route("/admin/accounts/{user}/stats", get(admin_stats))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    println!("overstock-sandbox listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

fn bad(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

/// Basic auth: the account name, or a 401.
fn authenticate(sb: &Sandbox, headers: &HeaderMap) -> Result<String, Response> {
    let unauthorized = || {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"supplieroasis\"")], "").into_response()
    };
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(unauthorized)?;
    let encoded = value.strip_prefix("Basic ").ok_or_else(unauthorized)?;
    let decoded = base64_decode(encoded.trim()).ok_or_else(unauthorized)?;
    let (user, pass) = decoded.split_once(':').ok_or_else(unauthorized)?;
    match sb.accounts.get(user) {
        Some(a) if a.password == pass => Ok(user.to_owned()),
        _ => Err(unauthorized()),
    }
}

/// The account name a request claims, whether or not its password is right (for counting).
fn claimed_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = base64_decode(value.strip_prefix("Basic ")?.trim())?;
    decoded.split_once(':').map(|(u, _)| u.to_owned())
}

fn base64_decode(s: &str) -> Option<String> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Authentication, request counting, latency and the 429/500/null faults of an account.
async fn gate(state: &Shared, headers: &HeaderMap, endpoint: &str) -> Result<String, Response> {
    let (user, latency) = {
        let mut sb = lock(state);
        // Every request naming an account is counted, 401s included.
        if let Some(acc) = claimed_user(headers).and_then(|u| sb.accounts.get_mut(&u)) {
            *acc.requests.entry(endpoint.to_owned()).or_default() += 1;
        }
        let user = authenticate(&sb, headers)?;
        let acc = sb.accounts.get_mut(&user).ok_or_else(|| bad(StatusCode::UNAUTHORIZED, "no account"))?;
        (user, acc.faults.latency_ms)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Some(r) = hostile_gate(state, &user, endpoint).await {
        return Err(r);
    }
    let mut sb = lock(state);
    let acc = sb.accounts.get_mut(&user).ok_or_else(|| bad(StatusCode::UNAUTHORIZED, "no account"))?;
    let f = acc.faults.clone();
    let c = &mut acc.fault_clock;
    c.acc_429 += f.share_429;
    c.acc_500 += f.share_500;
    c.acc_null += f.share_null;
    let fault = if c.acc_429 >= 1.0 {
        c.acc_429 -= 1.0;
        Some("429")
    } else if c.acc_500 >= 1.0 {
        c.acc_500 -= 1.0;
        Some("500")
    } else if c.acc_null >= 1.0 {
        c.acc_null -= 1.0;
        Some("null")
    } else {
        None
    };
    if let Some(kind) = fault {
        *acc.faults_injected.entry(kind.to_owned()).or_default() += 1;
        return Err(match kind {
            "429" => {
                let mut r = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
                if let Some(s) = f.retry_after_secs {
                    if let Ok(v) = s.to_string().parse() {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                }
                r
            }
            "500" => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
            _ => (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml")], "null").into_response(),
        });
    }
    Ok(user)
}

/// Takes one hostile answer of the account, if any is left.
fn take_hostile(state: &Shared, user: &str) -> Option<model::Hostile> {
    let mut sb = lock(state);
    let acc = sb.accounts.get_mut(user)?;
    let h = acc.hostile.clone()?;
    match h.times {
        Some(0) => {
            acc.hostile = None;
            return None;
        }
        Some(n) => acc.hostile.as_mut().map(|x| x.times = Some(n - 1)),
        None => None,
    };
    *acc.faults_injected.entry(format!("hostile {:?}", h.mode)).or_default() += 1;
    Some(h)
}

/// Hostile answers that replace any endpoint's answer.
async fn hostile_gate(state: &Shared, user: &str, endpoint: &str) -> Option<Response> {
    let (mode, only) =
        lock(state).accounts.get(user).and_then(|a| a.hostile.as_ref().map(|h| (h.mode, h.endpoint.clone())))?;
    if only.is_some_and(|e| e != endpoint) {
        return None;
    }
    if !matches!(
        mode,
        model::HostileMode::Redirect
            | model::HostileMode::Html400
            | model::HostileMode::Hang
            | model::HostileMode::Unauthorized
            | model::HostileMode::Named400
            | model::HostileMode::Html200
    ) {
        return None;
    }
    let h = take_hostile(state, user)?;
    Some(match h.mode {
        model::HostileMode::Redirect => {
            (StatusCode::FOUND, [(header::LOCATION, "http://127.0.0.1:9/elsewhere")], "").into_response()
        }
        model::HostileMode::Html400 => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>400 Bad Request</h1>proxy</body></html>",
        )
            .into_response(),
        model::HostileMode::Named400 => xml(
            StatusCode::BAD_REQUEST,
            xmlout::errors(&[xmlout::ErrorItem {
                sku: String::new(),
                order: h.order.clone().unwrap_or_default(),
                line: h.line.clone().unwrap_or_default(),
                message: h
                    .message
                    .clone()
                    .unwrap_or_else(|| "salesChannelLineNumber is not a line of the order".into()),
            }]),
        ),
        model::HostileMode::Html200 => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>",
        )
            .into_response(),
        model::HostileMode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            (StatusCode::OK, "").into_response()
        }
        _ => (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"supplieroasis\"")], "")
            .into_response(),
    })
}

/// Hostile bodies for `GET /salesorders`, built from the real one.
fn hostile_body(h: &model::Hostile, real: String) -> Response {
    use model::HostileMode::*;
    let bytes: Vec<u8> = match h.mode {
        Oversized => {
            let size = h.size_bytes.unwrap_or(20 * 1024 * 1024);
            let pad = " ".repeat(size);
            real.replacen("<totalCount>", &format!("<padding>{pad}</padding><totalCount>"), 1).into_bytes()
        }
        Truncated => real.as_bytes()[..real.len() / 2].to_vec(),
        Deep => {
            let d = h.depth.unwrap_or(100_000);
            let nested = format!("{}{}", "<a>".repeat(d), "</a>".repeat(d));
            real.replacen("<ns2:retailChannelCode>", &format!("{nested}<ns2:retailChannelCode>"), 1).into_bytes()
        }
        Entities => {
            let mut decl = String::from("<!DOCTYPE r [<!ENTITY l0 \"lol\">");
            for i in 1..10 {
                decl.push_str(&format!("<!ENTITY l{i} \"{}\">", format!("&l{};", i - 1).repeat(10)));
            }
            decl.push_str("]>");
            real.replacen("standalone=\"yes\"?>", &format!("standalone=\"yes\"?>{decl}"), 1)
                .replacen("<ns2:itemName>", "<ns2:itemName>&l9;", 1)
                .into_bytes()
        }
        Bom => {
            let mut b = "\u{FEFF}".as_bytes().to_vec();
            b.extend_from_slice(real.as_bytes());
            b
        }
        NonUtf8 => {
            let mut b = real.into_bytes();
            if let Some(i) = b.windows(13).position(|w| w == b"<ns2:itemName") {
                b.splice(i..i, [0xFFu8, 0xFE, 0xFD]);
            }
            b
        }
        _ => real.into_bytes(),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml")], bytes).into_response()
}

/// `2026-11-26T09:00:00` (Denver local, the earlier instant when ambiguous) or `2026-11-26`.
fn parse_local(s: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    Denver.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
}

async fn get_sales_orders(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let user = match gate(&state, &headers, "GET /salesorders").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let (Some(start), Some(end)) =
        (q.get("startTime").and_then(|s| parse_local(s)), q.get("endTime").and_then(|s| parse_local(s)))
    else {
        return xml(
            StatusCode::BAD_REQUEST,
            xmlout::errors(&[xmlout::ErrorItem {
                sku: String::new(),
                order: String::new(),
                line: String::new(),
                message: "startTime and endTime must be local times like 2026-11-26T09:00:00".into(),
            }]),
        );
    };
    let sb = lock(&state);
    let Some(acc) = sb.accounts.get(&user) else { return bad(StatusCode::UNAUTHORIZED, "no account") };
    let mut matching: Vec<&model::Order> =
        acc.orders.values().filter(|o| o.created >= start && o.created < end).collect();
    matching.sort_by(|a, b| a.created.cmp(&b.created).then(a.number.cmp(&b.number)));
    let total = matching.len();
    if matching.iter().any(|o| acc.faults.unrenderable.contains(&o.number)) {
        let status = acc.faults.unrenderable_status.and_then(|s| StatusCode::from_u16(s).ok());
        let status = status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (status, [(header::CONTENT_TYPE, "text/html")], "<html><body>Bad Gateway</body></html>")
            .into_response();
    }
    if let Some(cap) = acc.faults.max_orders_per_response {
        matching.truncate(cap);
    }
    let body = xmlout::orders(&matching, total, &acc.warehouse, acc.shape);
    // Body modes hit an answer that holds orders (an empty window would waste them).
    let hostile_body_mode = !matching.is_empty()
        && acc.hostile.as_ref().is_some_and(|h| {
            matches!(
                h.mode,
                model::HostileMode::Oversized
                    | model::HostileMode::Truncated
                    | model::HostileMode::Deep
                    | model::HostileMode::Entities
                    | model::HostileMode::NonUtf8
                    | model::HostileMode::Bom
            )
        });
    drop(sb);
    if hostile_body_mode {
        if let Some(h) = take_hostile(&state, &user) {
            return hostile_body(&h, body);
        }
    }
    // A poison order's raw text may ask for a byte that is not UTF-8: U+FFFF is written as 0xFF.
    if body.contains('\u{FFFF}') {
        let mut bytes = Vec::with_capacity(body.len());
        for part in body.split('\u{FFFF}') {
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(0xFF);
        }
        bytes.pop();
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/xml")], bytes).into_response();
    }
    xml(StatusCode::OK, body)
}

fn record(acc: &mut Account, seq: u64, endpoint: &str, body: &str, outcome: &xmlin::Outcome, status: StatusCode) {
    acc.received.push(model::Received {
        seq,
        at: Utc::now(),
        endpoint: endpoint.to_owned(),
        http_status: status.as_u16(),
        elements: outcome.elements.clone(),
        errors: outcome
            .errors
            .iter()
            .map(|e| format!("{} {} {}", e.order, e.line, e.message).trim().to_owned())
            .collect(),
        body: body.to_owned(),
    });
}

async fn post_message(
    state: Shared,
    headers: HeaderMap,
    body: Bytes,
    endpoint: &str,
    apply: impl FnOnce(&mut Account, &str) -> xmlin::Outcome,
) -> Response {
    let user = match gate(&state, &headers, endpoint).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut sb = lock(&state);
    sb.seq += 1;
    let seq = sb.seq;
    let Some(acc) = sb.accounts.get_mut(&user) else { return bad(StatusCode::UNAUTHORIZED, "no account") };
    let outcome = if !ct.starts_with("application/xml") {
        xmlin::Outcome {
            elements: vec![],
            errors: vec![xmlout::ErrorItem {
                sku: String::new(),
                order: String::new(),
                line: String::new(),
                message: format!("Content-Type must be application/xml, not {ct:?}"),
            }],
        }
    } else {
        apply(acc, &text)
    };
    let status = if outcome.errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    record(acc, seq, endpoint, &text, &outcome, status);
    if outcome.errors.is_empty() {
        xml(StatusCode::OK, String::new())
    } else {
        xml(status, xmlout::errors(&outcome.errors))
    }
}

async fn post_shipments(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    post_message(state, headers, body, "POST /shipments", |acc, b| xmlin::shipments(acc, b, Utc::now())).await
}
async fn post_acknowledgements(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    post_message(state, headers, body, "POST /acknowledgements", xmlin::acknowledgements).await
}
async fn post_inventory(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let today = Utc::now().with_timezone(&Denver).date_naive();
    post_message(state, headers, body, "POST /inventory", |acc, b| xmlin::inventory(acc, b, today)).await
}
async fn post_refunds(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    post_message(state, headers, body, "POST /refunds", xmlin::refunds).await
}

async fn get_inventory(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let user = match gate(&state, &headers, "GET /inventory").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let sb = lock(&state);
    let Some(acc) = sb.accounts.get(&user) else { return bad(StatusCode::UNAUTHORIZED, "no account") };
    xml(StatusCode::OK, xmlout::inventory(&acc.inventory.values().collect::<Vec<_>>()))
}

// ---------------------------------------------------------------- admin

async fn admin_reset(State(state): State<Shared>) -> Response {
    *lock(&state) = Sandbox::default();
    Json(json!({"reset": true})).into_response()
}

#[derive(Deserialize)]
struct NewAccount {
    username: String,
    password: String,
    warehouse: String,
    #[serde(default)]
    shape: Shape,
}

async fn admin_create_account(State(state): State<Shared>, Json(a): Json<NewAccount>) -> Response {
    let mut sb = lock(&state);
    let acc = sb.accounts.entry(a.username.clone()).or_default();
    acc.password = a.password;
    acc.warehouse = a.warehouse;
    acc.shape = a.shape;
    Json(json!({"username": a.username})).into_response()
}

fn with_account<T>(state: &Shared, user: &str, f: impl FnOnce(&mut Account) -> T) -> Result<T, Response> {
    let mut sb = lock(state);
    sb.accounts.get_mut(user).map(f).ok_or_else(|| bad(StatusCode::NOT_FOUND, format!("no account {user:?}")))
}

async fn admin_faults(State(state): State<Shared>, Path(user): Path<String>, Json(f): Json<Faults>) -> Response {
    match with_account(&state, &user, |a| {
        a.faults = f.clone();
        a.fault_clock = Default::default();
    }) {
        Ok(()) => Json(json!(f)).into_response(),
        Err(r) => r,
    }
}

async fn admin_hostile(
    State(state): State<Shared>,
    Path(user): Path<String>,
    Json(h): Json<model::Hostile>,
) -> Response {
    match with_account(&state, &user, |a| a.hostile = Some(h.clone())) {
        Ok(()) => Json(json!(h)).into_response(),
        Err(r) => r,
    }
}

async fn admin_hostile_off(State(state): State<Shared>, Path(user): Path<String>) -> Response {
    match with_account(&state, &user, |a| a.hostile = None) {
        Ok(()) => Json(json!({"hostile": null})).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct ShapeBody {
    shape: Shape,
}

async fn admin_shape(State(state): State<Shared>, Path(user): Path<String>, Json(b): Json<ShapeBody>) -> Response {
    match with_account(&state, &user, |a| a.shape = b.shape) {
        Ok(()) => Json(json!({"shape": b.shape})).into_response(),
        Err(r) => r,
    }
}

async fn admin_seed_order(
    State(state): State<Shared>,
    Path(user): Path<String>,
    Json(spec): Json<generate::OrderSpec>,
) -> Response {
    match with_account(&state, &user, |a| generate::insert_spec(a, spec)) {
        Ok(Ok(n)) => Json(json!({"order_number": n})).into_response(),
        Ok(Err(e)) => bad(StatusCode::BAD_REQUEST, e),
        Err(r) => r,
    }
}

async fn admin_generate(
    State(state): State<Shared>,
    Path(user): Path<String>,
    Json(g): Json<generate::Generate>,
) -> Response {
    match with_account(&state, &user, |a| generate::generate(a, &g)) {
        Ok(Ok(numbers)) => Json(json!({"count": numbers.len(), "order_numbers": numbers})).into_response(),
        Ok(Err(e)) => bad(StatusCode::BAD_REQUEST, e),
        Err(r) => r,
    }
}

async fn admin_list_orders(State(state): State<Shared>, Path(user): Path<String>) -> Response {
    match with_account(&state, &user, |a| json!(a.orders.values().collect::<Vec<_>>())) {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

/// `?line=N`: which line the customer cancelled.
#[derive(Debug, serde::Deserialize)]
struct CancelQuery {
    line: Option<u32>,
}

/// Overstock cancels on its side (the customer cancelled): the whole order (its status and every
/// line not shipped) or, with `?line=N`, one line.
async fn admin_cancel(
    State(state): State<Shared>,
    Path((user, number)): Path<(String, String)>,
    Query(q): Query<CancelQuery>,
) -> Response {
    match with_account(&state, &user, |a| {
        a.orders.get_mut(&number).map(|o| match q.line {
            Some(n) => match o.lines.iter_mut().find(|l| l.number == n) {
                Some(l) => {
                    l.status = Some("CANCELLED".into());
                    true
                }
                None => false,
            },
            None => {
                o.status = "CANCELLED".into();
                o.action_required = false;
                for l in o.lines.iter_mut().filter(|l| l.shipped == 0) {
                    l.status = Some("CANCELLED".into());
                }
                true
            }
        })
    }) {
        Ok(Some(true)) => Json(json!({"cancelled": number, "line": q.line})).into_response(),
        Ok(Some(false)) => bad(StatusCode::NOT_FOUND, format!("order {number:?} has no line {:?}", q.line)),
        Ok(None) => bad(StatusCode::NOT_FOUND, format!("no order {number:?}")),
        Err(r) => r,
    }
}

#[derive(Debug, serde::Deserialize)]
struct StatusBody {
    status: String,
}

/// Sets an order's status as Overstock would show it (reconciliation tests: drift on Overstock's
/// side), e.g. back to `ENTERED`.
async fn admin_set_status(
    State(state): State<Shared>,
    Path((user, number)): Path<(String, String)>,
    Json(b): Json<StatusBody>,
) -> Response {
    match with_account(&state, &user, |a| a.orders.get_mut(&number).map(|o| o.status = b.status.clone())) {
        Ok(Some(())) => Json(json!({"order": number, "status": b.status})).into_response(),
        Ok(None) => bad(StatusCode::NOT_FOUND, format!("no order {number:?}")),
        Err(r) => r,
    }
}

/// Sets (or, DELETE, removes) what Overstock holds for a SKU, bypassing validation: drift on
/// Overstock's side for the inventory comparison's tests.
async fn admin_set_inventory(
    State(state): State<Shared>,
    Path((user, sku)): Path<(String, String)>,
    Json(mut i): Json<model::Inventory>,
) -> Response {
    i.partner_sku = sku;
    match with_account(&state, &user, |a| a.inventory.insert(i.partner_sku.clone(), i.clone())) {
        Ok(_) => Json(json!({"inventory": i})).into_response(),
        Err(r) => r,
    }
}

async fn admin_delete_inventory(State(state): State<Shared>, Path((user, sku)): Path<(String, String)>) -> Response {
    match with_account(&state, &user, |a| a.inventory.remove(&sku)) {
        Ok(removed) => Json(json!({"removed": removed.is_some()})).into_response(),
        Err(r) => r,
    }
}

async fn admin_clear_override(State(state): State<Shared>, Path((user, number)): Path<(String, String)>) -> Response {
    match with_account(&state, &user, |a| a.orders.get_mut(&number).map(|o| o.wire_override = None)) {
        Ok(Some(())) => Json(json!({"wire_override": null})).into_response(),
        Ok(None) => bad(StatusCode::NOT_FOUND, format!("no order {number:?}")),
        Err(r) => r,
    }
}

async fn admin_received(
    State(state): State<Shared>,
    Path(user): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let endpoint = q.get("endpoint").cloned();
    match with_account(&state, &user, |a| {
        json!(
            a.received
                .iter()
                .filter(|r| endpoint.as_ref().is_none_or(|e| r.endpoint.ends_with(e.as_str())))
                .collect::<Vec<_>>()
        )
    }) {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

async fn admin_stats(State(state): State<Shared>, Path(user): Path<String>) -> Response {
    match with_account(
        &state,
        &user,
        |a| json!({"requests": a.requests, "faults_injected": a.faults_injected, "orders": a.orders.len()}),
    ) {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}
