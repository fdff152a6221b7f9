//! The console's layout, its shared pieces and the companies page: `maud` templates (checked when
//! compiled; every value is escaped as HTML text or attribute, and control characters are shown
//! escaped as the CLI shows them).

use super::{Console, Session, Shared};
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use maud::{DOCTYPE, Markup, html};
use shared::domain::CompanyId;
use shared::domain::order::WatchFlag;
use shared::domain::settings::{Company, CredentialsHealth};
use shared::domain::work::Flow;
use shared::services::fanout::RunState;
use shared::store::{CompanyStore, OrderStore};
use std::collections::HashMap;
use std::sync::Arc;

/// Text from outside (names, Overstock's messages): control characters shown escaped, then
/// HTML-escaped by `maud` when interpolated.
pub fn shown(s: &str) -> String {
    shared::domain::text::escape(s).into_owned()
}

/// A time for people: UTC, to the minute.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

const CSS: &str = "body{font:14px system-ui,sans-serif;margin:1.5em 2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.bad{color:#a00;font-weight:bold}.ok{color:#070}.flash{background:#eef7ee;border:1px solid #7b7;padding:.5em 1em}\
.error{background:#fbeeee;border:1px solid #c77;padding:.5em 1em}nav a{margin-right:1em}header{margin-bottom:1em}\
header form{display:inline;margin-left:2em}form.inline{display:inline}label{display:block;margin:.3em 0}label.inline{display:inline}\
fieldset{border:1px solid #ccc;margin:.8em 0;padding:.5em 1em}input[type=text]{width:22em}.muted{color:#666}";

/// The console's only stylesheet (a `style-src 'self'` page may not carry inline styles).
pub async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

/// A page: the header (and sign-out form), the company's navigation when on a company's page,
/// the message the last form left, the title and the body.
pub fn page(title: &str, session: &Session, company: Option<&CompanyId>, body: Markup) -> String {
    layout(title, Some(session), company, body)
}

fn layout(title: &str, session: Option<&Session>, company: Option<&CompanyId>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " — Overstock connector" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    strong { "Overstock connector" } " · " a href="/" { "Companies" }
                    @if let Some(s) = session {
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                @if let Some(id) = company {
                    nav {
                        strong { (id.as_str()) } ": "
                        a href={ "/c/" (id.as_str()) } { "Settings" }
                        a href={ "/c/" (id.as_str()) "/mappings" } { "Shipping method mappings" }
                        a href={ "/c/" (id.as_str()) "/orders" } { "Orders needing attention" }
                        a href={ "/c/" (id.as_str()) "/requests" } { "Requests" }
                        a href={ "/c/" (id.as_str()) "/inventory" } { "Inventory" }
                    }
                }
                @if let Some(f) = session.and_then(|s| s.flash.as_deref()) {
                    p class="flash" id="flash" { (shown(f)) }
                }
                h1 { (title) }
                (body)
            }
        }
    }
    .into_string()
}

/// Shown instead of any page without a session.
pub fn signed_out() -> String {
    layout(
        "Sign in",
        None,
        None,
        html! {
            p { "This console needs the one-time URL that " code { "overstockctl console" } " printed when it started; "
                "open that URL in this browser. A URL already used does not sign in again: start the console again for a new one." }
        },
    )
}

/// Whether an operation's error may go away by itself (the store, the secret store or Overstock
/// unavailable): the kind the shared crate's errors carry, found through anyhow's chain.
pub fn may_succeed_later(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<shared::services::shipping::RecordError>().is_some_and(|e| e.is_retryable())
            || c.downcast_ref::<shared::store::StoreError>().is_some_and(|e| e.is_retryable())
            || c.downcast_ref::<shared::credentials::CredentialsError>().is_some_and(|e| e.is_retryable())
            || c.downcast_ref::<shared::job::JobError>().is_some_and(|e| e.is_retryable())
            || c.downcast_ref::<shared::overstock::OverstockError>().is_some_and(|e| e.is_retryable())
            || c.downcast_ref::<shared::services::SendError>().is_some_and(|e| e.is_retryable())
    })
}

/// What an operation refused, or could not do now: 503 with "try again" when its error says it
/// may succeed later, else `refused` (the request as sent will be refused again).
pub fn failed(
    session: &Session,
    company: Option<&CompanyId>,
    title: &str,
    refused: StatusCode,
    e: &anyhow::Error,
) -> Response {
    if may_succeed_later(e) {
        let e = anyhow::anyhow!("{e:#} (this may succeed later: try again)");
        failure(session, company, title, StatusCode::SERVICE_UNAVAILABLE, &e)
    } else {
        failure(session, company, title, refused, e)
    }
}

/// A page saying what could not be done, and why (escaped), with `status`.
pub fn failure(
    session: &Session,
    company: Option<&CompanyId>,
    title: &str,
    status: StatusCode,
    e: &anyhow::Error,
) -> Response {
    let body = html! { p class="error" id="error" { (shown(&format!("{e:#}"))) } };
    (status, Html(page(title, session, company, body))).into_response()
}

/// The company named in the path, or the page that says it is not one.
pub async fn company_or_page(c: &Console, session: &Session, id: &str) -> Result<Company, Response> {
    crate::ops::company(c.store(), id)
        .await
        .map_err(|e| failed(session, None, "No such company", StatusCode::NOT_FOUND, &e))
}

/// A state-changing form's start: its CSRF token checked first (403, nothing done), then the
/// company named in the path.
pub async fn form_company(
    c: &Console,
    session: &Session,
    id: &str,
    form: &HashMap<String, String>,
) -> Result<Company, Response> {
    if let Some(r) = super::refused(session, form) {
        return Err(r);
    }
    company_or_page(c, session, id).await
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// The credentials' health as the CLI says it (escaped), and whether it needs a person.
fn health(h: &CredentialsHealth) -> (String, bool) {
    (shown(&crate::health(h)), !matches!(h, CredentialsHealth::Ok))
}

/// One company's health at a glance: the flows' last runs and what needs a person now.
pub struct Health {
    pub runs: Vec<(Flow, bool, String, bool)>,
    pub unmapped: usize,
    pub failed_uploads: usize,
    pub at_risk: usize,
    pub late: usize,
    pub quarantined: usize,
}

pub async fn health_of(c: &Console, company: &Company) -> anyhow::Result<Health> {
    let store = c.store();
    let id = &company.company_id;
    let now = Utc::now();
    let s = &company.settings;
    let mut runs = Vec::new();
    for (flow, on) in [
        (Flow::Download, s.order_download),
        (Flow::Upload, s.fulfillment_upload),
        (Flow::Inventory, s.inventory_upload),
    ] {
        let run = store.flow_run(id, flow).await?;
        let (text, bad) = match run.state(now) {
            RunState::Never => ("never ran".to_owned(), false),
            RunState::Running => ("running now".to_owned(), false),
            RunState::Finished => {
                (run.finished_at.map_or_else(|| "finished".into(), |f| format!("finished {}", when(f))), false)
            }
            RunState::Unfinished => (
                format!(
                    "did not finish (dispatched {}); dispatched again once stale",
                    run.dispatched_at.map_or_else(|| "-".into(), when)
                ),
                true,
            ),
        };
        runs.push((flow, on, text, bad));
    }
    let unmapped = store.list_unmapped(id).await?.len();
    let failed_uploads = store.list_upload_failed(id).await?.len();
    let risk = shared::services::watchdog::at_risk(store, company, now).await?;
    let late = risk.iter().filter(|r| r.state == WatchFlag::Late).count();
    let quarantined = shared::store::QuarantineStore::list_quarantined(store, id).await?.len();
    Ok(Health { runs, unmapped, failed_uploads, at_risk: risk.len() - late, late, quarantined })
}

/// Companies whose health is read at once on the companies page.
const HEALTH_READS: usize = 16;

/// Companies on one page of the companies page (in id order).
const PAGE: usize = 50;

#[derive(serde::Deserialize)]
pub struct After {
    /// The last company id of the previous page.
    after: Option<String>,
}

/// A dead-letter queue's name and depth: the queue `queue_url` sends to after its last delivery
/// (its redrive policy), and how many messages it holds.
async fn dlq_depth(c: &Console, queue_url: &str) -> anyhow::Result<(String, i64)> {
    let (name, url) = crate::ops::dead_letter_queue(&c.sqs, queue_url).await?;
    Ok((name, crate::ops::depth(&c.sqs, &url).await?))
}

/// Companies: each with its flows' last runs and what needs attention; the request queues'
/// dead-letter depth.
pub async fn companies(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Query(q): Query<After>,
) -> Response {
    let rows = match c.store().list_companies().await {
        Ok(rows) => rows,
        Err(e) => return failed(&session, None, "Companies", StatusCode::BAD_GATEWAY, &e.into()),
    };
    let mut companies = Vec::new();
    let mut unreadable = Vec::new();
    for row in rows {
        match row {
            Ok(company) => companies.push(company),
            Err(bad) => unreadable.push(bad),
        }
    }
    companies.sort_by(|a, b| a.company_id.cmp(&b.company_id));
    // A page of companies at a time: each one's health costs a handful of reads.
    let total = companies.len();
    let after = q.after.unwrap_or_default();
    companies.retain(|co| co.company_id.as_str() > after.as_str());
    let first = total - companies.len();
    let next = (companies.len() > PAGE).then(|| companies[PAGE - 1].company_id.as_str().to_owned());
    companies.truncate(PAGE);
    // Each company's health is a handful of reads: HEALTH_READS companies at once, in order.
    let lines: Vec<(Company, Result<Health, String>)> = futures::stream::iter(companies)
        .map(|company| {
            let c = &c;
            async move {
                let h = health_of(c, &company).await.map_err(|e| format!("{e:#}"));
                (company, h)
            }
        })
        .buffered(HEALTH_READS)
        .collect()
        .await;
    let mut dlqs = Vec::new();
    for (what, url) in &c.watched_queues {
        dlqs.push((*what, dlq_depth(&c, url).await.map_err(|e| format!("{e:#}"))));
    }
    let on = |b: bool| if b { "on" } else { "off" };
    let body = html! {
        @if lines.is_empty() && unreadable.is_empty() {
            p { "No company yet (" code { "overstockctl company create" } ")." }
        } @else {
            table id="companies" {
                tr { th { "company" } th { "name" } th { "credentials" } th { "order download" } th { "tracking upload" } th { "inventory" }
                     th { "unmapped" } th { "failed uploads" } th { "at risk" } th { "late" } th { "quarantined" } }
                @for (company, h) in &lines {
                    @let (cred, bad) = health(&company.credentials_health);
                    @let id = company.company_id.as_str();
                    tr {
                        td { a href={ "/c/" (id) } { (id) } }
                        td { (shown(&company.name)) }
                        td class=[bad.then_some("bad")] { (cred) }
                        @match h {
                            Ok(h) => {
                                @for (_, enabled, text, bad) in &h.runs {
                                    td class=[bad.then_some("bad")] { (on(*enabled)) br; span class="muted" { (text) } }
                                }
                                td class=[(h.unmapped > 0).then_some("bad")] { a href={ "/c/" (id) "/mappings" } { (h.unmapped) } }
                                td class=[(h.failed_uploads > 0).then_some("bad")] { a href={ "/c/" (id) "/orders" } { (h.failed_uploads) } }
                                td class=[(h.at_risk > 0).then_some("bad")] { (h.at_risk) }
                                td class=[(h.late > 0).then_some("bad")] { (h.late) }
                                td class=[(h.quarantined > 0).then_some("bad")] { (h.quarantined) }
                            }
                            Err(e) => { td colspan="8" class="bad" { "not read: " (shown(e)) } }
                        }
                    }
                }
                @for bad in &unreadable {
                    tr { td { (shown(&bad.company_id)) } td colspan="10" class="bad" { "does not read: " (shown(&bad.reason)) } }
                }
            }
        }
        @if total > PAGE || first > 0 {
            p id="paging" {
                "Companies " (first + 1) "–" (first + lines.len()) " of " (total) ". "
                @if first > 0 { a href="/" { "First" } " " }
                @if let Some(n) = &next { a href={ "/?after=" (super::query_value(n)) } { "Next " (PAGE) } }
            }
        }
        h2 { "Dead-letter queues" }
        @if dlqs.is_empty() {
            p class="muted" { "Set CANCEL_QUEUE_URL and REFUND_QUEUE_URL (as for the CLI's request commands; the WORK_QUEUE_…_URL too for the flows' work queues) to see them and to queue requests." }
        } @else {
            table id="dlqs" {
                tr { th { "of" } th { "queue" } th { "messages" } }
                @for (i, (what, d)) in dlqs.iter().enumerate() {
                    tr {
                        td { (what) }
                        @match d {
                            Ok((name, n)) => { td { a href={ "/dlq/" (i) } { (shown(name)) } } td class=[(*n > 0).then_some("bad")] { (n) } }
                            Err(e) => { td colspan="2" class="bad" { (shown(e)) } }
                        }
                    }
                }
            }
            p class="muted" { "A queue's name opens what its dead-letter queue holds, and why; from there its messages go back once the cause is fixed (the CLI: " code { "overstockctl dlq list" } ", " code { "dlq redrive" } ")." }
        }
    };
    Html(page("Companies", &session, None, body)).into_response()
}

/// Signs this browser out (a state change: the form's CSRF token first).
pub async fn logout(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = super::refused(&session, &form) {
        return r;
    }
    c.end(&session);
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("overstock_console=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_that_may_go_away_is_found_through_the_context_chain() {
        use anyhow::Context;
        use shared::store::StoreError;
        let down: anyhow::Error = StoreError::Unavailable("throttled".into()).into();
        assert!(may_succeed_later(&down));
        let wrapped = Err::<(), _>(StoreError::Unavailable("timeout".into())).context("reset uploads");
        assert!(may_succeed_later(&wrapped.err().unwrap_or_else(|| anyhow::anyhow!("ok"))));
        let record = shared::services::shipping::RecordError::Store(StoreError::Unavailable("x".into()));
        assert!(may_succeed_later(&record.into()));
        let bad = shared::services::shipping::RecordError::Invalid(
            shared::domain::shipment::ShipmentError::UnknownOrder("O-1".into()),
        );
        assert!(!may_succeed_later(&bad.into()), "bad input is refused again");
        assert!(!may_succeed_later(&anyhow::anyhow!("not sent: lines: empty")));
        let sqs_down = shared::services::SendError::Unavailable("send to the queue: throttled".into());
        assert!(may_succeed_later(&anyhow::Error::from(sqs_down).context("queue the cancel")));
        let no_queue = shared::services::SendError::Refused("send to the queue: no such queue".into());
        assert!(!may_succeed_later(&no_queue.into()));
    }
}
