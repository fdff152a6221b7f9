//! A company's settings form and its shipping method mappings. The form's fields are the CLI's
//! flags (`shared::domain::settings_change::form_values`), read by the same rule
//! (`SettingsChange::set`, then `ops::change_settings`): the console refuses what `company set`
//! refuses, with the same reason.

use super::pages::{company_or_page, csrf_field, failed, form_company, may_succeed_later, page, shown};
use super::{Session, Shared};
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use maud::{Markup, html};
use shared::domain::settings::Company;
use shared::domain::settings_change::{SettingsChange, form_values};
use shared::store::{MappingStore, OrderStore};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

type Fields = Vec<(&'static str, &'static str, String)>;

/// The settings form with `values` (the stored ones, or what was typed when refused).
fn settings_form(session: &Session, company: &Company, values: &Fields, error: Option<&str>) -> Markup {
    let id = company.company_id.as_str();
    html! {
        @if let Some(e) = error {
            p class="error" id="error" { "Not saved (nothing was changed): " (shown(e)) }
        }
        form method="post" action={ "/c/" (id) "/settings" } id="settings" {
            (csrf_field(session))
            fieldset {
                legend { "Company Settings (the seed's toggles)" }
                @for (name, label, value) in values.iter().take(6) {
                    label {
                        select name=(name) id=(name) {
                            option value="on" selected[value == "on"] { "on" }
                            option value="off" selected[value == "off"] { "off" }
                        }
                        " " (label)
                    }
                }
            }
            fieldset {
                legend { "Warehouse, Overstock, time" }
                @for (name, label, value) in values.iter().skip(6) {
                    label {
                        input type="text" name=(name) id=(name) value=(shown(value));
                        " " (label)
                    }
                }
            }
            button type="submit" id="save-settings" { "Save settings" }
            p class="muted" { "Checked as " code { "overstockctl company set" } " checks them; a value refused changes nothing. "
                "A calendar change computes the ship-by time of the open orders again." }
        }
    }
}

/// A company's page: its settings as a form.
pub async fn settings(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
) -> Response {
    let company = match company_or_page(&c, &session, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let values = form_values(&company.settings);
    let title = format!("{} — settings", shown(&company.name));
    Html(page(&title, &session, Some(&company.company_id), settings_form(&session, &company, &values, None)))
        .into_response()
}

/// Saves the settings form: every field through `SettingsChange::set`, then the CLI's operation.
pub async fn save_settings(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let company = match form_company(&c, &session, &id, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut change = SettingsChange::default();
    // The form's own fields only (an unknown field is the form's mistake, refused by `set`).
    let stored = form_values(&company.settings);
    let typed: Fields = stored
        .iter()
        .map(|(name, label, value)| (*name, *label, form.get(*name).cloned().unwrap_or_else(|| value.clone())))
        .collect();
    // The change is what the person changed (as the CLI's flags are what was given): a field
    // left as shown is not set again, so an unchanged API base URL is not checked again against
    // this console's endpoint policy.
    let mut error = None;
    for ((name, _, value), (_, _, was)) in typed.iter().zip(&stored) {
        if value.trim() == was.trim() {
            continue;
        }
        if let Err(e) = change.set(name, value) {
            error = Some(e.to_string());
            break;
        }
    }
    let result = match error {
        Some(e) => Err(anyhow::anyhow!(e)),
        None => crate::ops::change_settings(c.store(), company.clone(), change, Utc::now()).await,
    };
    match result {
        Ok(done) => {
            let mut msg = "Settings saved.".to_owned();
            if let Some((moved, lost)) = done.recomputed {
                msg.push_str(&format!(" The calendar changed: {moved} open order(s) have a new ship-by time."));
                if !lost.is_empty() {
                    msg.push_str(&format!(" {} changed meanwhile: save again for them.", lost.len()));
                }
            }
            c.done(&session, msg, &format!("/c/{id}"))
        }
        Err(e) => {
            let title = format!("{} — settings", shown(&company.name));
            let body = settings_form(&session, &company, &typed, Some(&format!("{e:#}")));
            // Refused (422), or the store could not be reached (503: try again).
            let status =
                if may_succeed_later(&e) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::UNPROCESSABLE_ENTITY };
            (status, Html(page(&title, &session, Some(&company.company_id), body))).into_response()
        }
    }
}

/// The mappings, a form to add or change one (codes seen on unmapped orders offered), and a
/// remove button per mapping.
pub async fn mappings(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
) -> Response {
    let company = match company_or_page(&c, &session, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cid = &company.company_id;
    let (mut ms, unmapped) = match (c.store().list_mappings(cid).await, c.store().list_unmapped(cid).await) {
        (Ok(m), Ok(u)) => (m, u),
        (Err(e), _) | (_, Err(e)) => {
            return failed(&session, Some(cid), "Mappings", StatusCode::BAD_GATEWAY, &e.into());
        }
    };
    ms.sort_by(|a, b| a.code_to_receive.cmp(&b.code_to_receive));
    // Codes on unmapped orders, with how many orders wait for each.
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for o in &unmapped {
        let code = o.overstock.service_level_code().map_or_else(|| "(none)".to_owned(), |c| c.as_str().to_owned());
        *codes.entry(code).or_default() += 1;
    }
    let body = html! {
        @if !codes.is_empty() {
            h2 { "Codes seen on unmapped orders" }
            table id="unmapped-codes" {
                tr { th { "code to receive" } th { "orders waiting" } th { "map it" } }
                @for (code, n) in &codes {
                    tr {
                        td { (shown(code)) }
                        td class="bad" { (n) }
                        td {
                            @if code != "(none)" {
                                (mapping_form(&session, cid.as_str(), code, "", "", false, "Map"))
                            } @else { "the orders carry no service level: a mapping cannot apply" }
                        }
                    }
                }
            }
            p class="muted" { "The next order download maps the waiting orders." }
        }
        h2 { "Mappings" }
        @if ms.is_empty() {
            p { "No mapping yet: every order is stored with \"unmapped shipping method\"." }
        } @else {
            table id="mappings" {
                tr { th { "code to receive" } th { "shipping method" } th { "code to send" } th { "rush" } th { "change" } th { "remove" } }
                @for m in &ms {
                    tr {
                        td { (shown(m.code_to_receive.as_str())) }
                        td { (shown(&m.shipping_method)) }
                        td { (shown(&m.code_to_send)) }
                        td { @if m.rush { "rush" } }
                        td { (mapping_form(&session, cid.as_str(), m.code_to_receive.as_str(), &m.shipping_method, &m.code_to_send, m.rush, "Save")) }
                        td {
                            form class="inline" method="post" action={ "/c/" (cid.as_str()) "/mappings/remove" } {
                                (csrf_field(&session))
                                input type="hidden" name="code" value=(m.code_to_receive.as_str());
                                button type="submit" { "Remove" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a mapping" }
        (mapping_form(&session, cid.as_str(), "", "", "", false, "Add"))
    };
    let title = format!("{} — shipping method mappings", shown(&company.name));
    Html(page(&title, &session, Some(cid), body)).into_response()
}

fn mapping_form(
    session: &Session,
    company: &str,
    code: &str,
    method: &str,
    send: &str,
    rush: bool,
    button: &str,
) -> Markup {
    html! {
        form class="inline mapping" method="post" action={ "/c/" (company) "/mappings" } data-code=(code) {
            (csrf_field(session))
            @if code.is_empty() {
                input type="text" name="code" placeholder="code to receive" aria-label="code to receive";
            } @else {
                input type="hidden" name="code" value=(code);
            }
            " " input type="text" name="shipping_method" value=(shown(method)) placeholder="shipping method" aria-label="shipping method";
            " " input type="text" name="code_to_send" value=(shown(send)) placeholder="code to send" aria-label="code to send";
            " " label class="inline" { input type="checkbox" name="rush" value="on" checked[rush]; " rush" }
            " " button type="submit" { (button) }
        }
    }
}

/// Sets a mapping (the CLI's `mapping set`).
pub async fn save_mapping(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let company = match form_company(&c, &session, &id, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let rush = form.contains_key("rush");
    match crate::ops::set_mapping(
        c.store(),
        &company.company_id,
        field("code"),
        field("shipping_method"),
        field("code_to_send"),
        rush,
    )
    .await
    {
        Ok(m) => c.done(
            &session,
            format!(
                "Mapped {} to {} (code to send {}{}).",
                m.code_to_receive.as_str(),
                m.shipping_method,
                m.code_to_send,
                if m.rush { ", rush" } else { "" }
            ),
            &format!("/c/{id}/mappings"),
        ),
        Err(e) => {
            failed(&session, Some(&company.company_id), "Mapping not saved", StatusCode::UNPROCESSABLE_ENTITY, &e)
        }
    }
}

/// Removes a mapping.
pub async fn remove_mapping(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let company = match form_company(&c, &session, &id, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    match crate::ops::remove_mapping(c.store(), &company.company_id, code).await {
        Ok(true) => c.done(
            &session,
            format!(
                "Removed the mapping of {} (new orders with it are stored unmapped).",
                code.trim().to_ascii_uppercase()
            ),
            &format!("/c/{id}/mappings"),
        ),
        Ok(false) => {
            c.done(&session, format!("There was no mapping of {}.", code.trim()), &format!("/c/{id}/mappings"))
        }
        Err(e) => {
            failed(&session, Some(&company.company_id), "Mapping not removed", StatusCode::UNPROCESSABLE_ENTITY, &e)
        }
    }
}
