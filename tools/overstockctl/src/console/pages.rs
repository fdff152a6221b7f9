//! The console's pages: `maud` templates (checked when compiled; every value is escaped as HTML
//! text or attribute, and control characters are shown escaped as the CLI shows them).

use super::{Session, Shared, csrf_ok, lock};
use axum::Extension;
use axum::extract::{Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use shared::domain::settings::{Company, CredentialsHealth};
use shared::store::{CompanyStore, OrderStore};
use std::collections::HashMap;
use std::sync::Arc;

/// Text from outside (names, Overstock's messages): control characters shown escaped, then
/// HTML-escaped by `maud` when interpolated.
fn shown(s: &str) -> String {
    shared::domain::text::escape(s).into_owned()
}

fn page(title: &str, session: Option<&Session>, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " — Overstock connector" }
                style { "body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.bad{color:#a00;font-weight:bold}" }
            }
            body {
                header {
                    strong { "Overstock connector" } " · " a href="/" { "Companies" }
                    @if let Some(s) = session {
                        form method="post" action="/logout" style="display:inline;margin-left:2em" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
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
    page(
        "Sign in",
        None,
        html! {
            p { "This console needs the one-time URL that " code { "overstockctl console" } " printed when it started; "
                "open that URL in this browser. A URL already used does not sign in again: start the console again for a new one." }
        },
    )
}

fn health(h: &CredentialsHealth) -> (String, bool) {
    match h {
        CredentialsHealth::Ok => ("ok".into(), false),
        CredentialsHealth::Refused { refusals, reason, .. } => {
            (format!("refused {refusals}× ({})", shown(reason)), true)
        }
        CredentialsHealth::Failed { reason, .. } => {
            (format!("FAILED: {} (clear the flag once fixed)", shown(reason)), true)
        }
    }
}

/// One company's health at a glance: what needs a person now.
struct Health {
    unmapped: usize,
    failed_uploads: usize,
    at_risk: usize,
    late: usize,
}

async fn health_of(c: &super::Console, company: &Company) -> Result<Health, shared::store::StoreError> {
    let store = c.store();
    let id = &company.company_id;
    let unmapped = store.list_unmapped(id).await?.len();
    let failed_uploads = store.list_upload_failed(id).await?.len();
    let risk = shared::services::watchdog::at_risk(store, company, chrono::Utc::now()).await?;
    let late = risk.iter().filter(|r| r.state == shared::domain::order::WatchFlag::Late).count();
    Ok(Health { unmapped, failed_uploads, at_risk: risk.len() - late, late })
}

/// Companies: each with its flows and what needs attention.
pub async fn companies(State(c): State<Shared>, Extension(session): Extension<Arc<Session>>) -> Response {
    let rows = match c.store().list_companies().await {
        Ok(rows) => rows,
        Err(e) => {
            let body = html! { p class="bad" { "The companies table could not be read: " (shown(&e.to_string())) } };
            return (StatusCode::BAD_GATEWAY, Html(page("Companies", Some(&session), body))).into_response();
        }
    };
    let mut lines = Vec::new();
    for row in rows {
        lines.push(match row {
            Ok(company) => {
                let h = health_of(&c, &company).await;
                (company, h.map_err(|e| e.to_string()))
            }
            Err(bad) => {
                let body = html! { p class="bad" { "Company " (shown(&bad.company_id)) " does not read: " (shown(&bad.reason)) } };
                return Html(page("Companies", Some(&session), body)).into_response();
            }
        });
    }
    let on = |b: bool| if b { "on" } else { "off" };
    let body = html! {
        @if lines.is_empty() {
            p { "No company yet (" code { "overstockctl company create" } ")." }
        } @else {
            table {
                tr { th { "company" } th { "name" } th { "credentials" } th { "download" } th { "upload" } th { "inventory" }
                     th { "unmapped" } th { "failed uploads" } th { "at risk" } th { "late" } }
                @for (company, h) in &lines {
                    @let s = &company.settings;
                    @let (cred, bad) = health(&company.credentials_health);
                    tr {
                        td { (shown(company.company_id.as_str())) }
                        td { (shown(&company.name)) }
                        td class=[bad.then_some("bad")] { (cred) }
                        td { (on(s.order_download)) } td { (on(s.fulfillment_upload)) } td { (on(s.inventory_upload)) }
                        @match h {
                            Ok(h) => {
                                td class=[(h.unmapped > 0).then_some("bad")] { (h.unmapped) }
                                td class=[(h.failed_uploads > 0).then_some("bad")] { (h.failed_uploads) }
                                td class=[(h.at_risk > 0).then_some("bad")] { (h.at_risk) }
                                td class=[(h.late > 0).then_some("bad")] { (h.late) }
                            }
                            Err(e) => { td colspan="4" class="bad" { "not read: " (shown(e)) } }
                        }
                    }
                }
            }
        }
    };
    Html(page("Companies", Some(&session), body)).into_response()
}

/// Signs this browser out (a state change: the form's CSRF token first).
pub async fn logout(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&session, &form) {
        return (StatusCode::FORBIDDEN, "the form's CSRF token is missing or wrong").into_response();
    }
    lock(&c.sessions).retain(|_, csrf| csrf != &session.csrf);
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("overstock_console=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}
