//! Orders needing attention (unmapped, cancelled by Overstock, flagged, at risk or late, failed
//! uploads, quarantined), an order's own page (its story from the audit trail, its lines,
//! packages and the ship-to address: the only page that shows an address) and the CLI's actions
//! on it: requeue an acknowledgement, reset a failed upload (Overstock read first).

use super::pages::{company_or_page, csrf_field, failed, failure, form_company, page, shown, when};
use super::{Session, Shared, query_value};
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{Duration, Utc};
use maud::{Markup, html};
use shared::audit::AuditStore;
use shared::domain::OrderNumber;
use shared::domain::order::{AckState, Order, attention_summary};
use shared::domain::shipment::UploadState;
use shared::store::{OrderStore, QuarantineStore};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How many of a company's orders the attention page reads (newest order numbers last).
const SCAN: usize = 2_000;

fn order_link(company: &str, number: &str) -> Markup {
    html! { a href={ "/c/" (company) "/order?n=" (query_value(number)) } { (shown(number)) } }
}

fn ack(a: &AckState) -> String {
    shown(&crate::ack_text(a))
}

/// The list: every order with a flag or a failed upload, and what the download set apart.
pub async fn attention(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
) -> Response {
    let company = match company_or_page(&c, &session, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cid = &company.company_id;
    let store = c.store();
    let (orders, failed, quarantined) = match (
        store.list_orders(cid, SCAN).await,
        store.list_upload_failed(cid).await,
        store.list_quarantined(cid).await,
    ) {
        (Ok(o), Ok(f), Ok(q)) => (o, f, q),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return failed(&session, Some(cid), "Orders needing attention", StatusCode::BAD_GATEWAY, &e.into());
        }
    };
    let mut rows: BTreeMap<String, (Order, Vec<String>)> = BTreeMap::new();
    for o in orders.into_iter().chain(failed) {
        let mut why = o.attention_flags();
        let failed_lines = o
            .shipments
            .iter()
            .flat_map(|p| p.lines.iter().map(move |l| (p, l)))
            .filter(|(_, l)| matches!(l.upload, UploadState::Failed { .. }))
            .count();
        if failed_lines > 0 {
            why.push(format!("{failed_lines} failed upload line(s)"));
        }
        if matches!(o.ack, AckState::Rejected { .. }) && !why.iter().any(|w| w.contains("acknowledg")) {
            why.push("acknowledgement rejected".into());
        }
        if !why.is_empty() {
            rows.insert(o.order_number.to_string(), (o, why));
        }
    }
    let cs = cid.as_str();
    let body = html! {
        @if rows.is_empty() {
            p id="nothing" { "No order needs attention." }
        } @else {
            table id="attention" {
                tr { th { "order" } th { "created (UTC)" } th { "status" } th { "acknowledgement" } th { "why" } }
                @for (number, (o, why)) in &rows {
                    tr {
                        td { (order_link(cs, number)) }
                        td { (o.overstock.sofs_created_date.map(when).unwrap_or_default()) }
                        td { (format!("{:?}", o.local_status)) }
                        td { (ack(&o.ack)) }
                        td class="bad" { (shown(&attention_summary(why))) }
                    }
                }
            }
            @if rows.len() >= SCAN { p class="muted" { "Only the first " (SCAN) " orders were read." } }
        }
        h2 { "Set apart by the download (quarantined)" }
        @if quarantined.is_empty() {
            p { "Nothing." }
        } @else {
            table id="quarantine" {
                tr { th { "order" } th { "why" } th { "first seen" } th { "runs since" } }
                @for q in &quarantined {
                    tr {
                        td { (shown(q.order_number.as_deref().unwrap_or(&q.key))) }
                        td { (shown(&q.reason)) }
                        td { (when(q.first_seen)) }
                        td { (q.sightings) }
                    }
                }
            }
            p class="muted" { "Each is read again by every download run (on a back-off up to an hour) and leaves the list once it can be stored." }
        }
    };
    let title = format!("{} — orders needing attention", shown(&company.name));
    Html(page(&title, &session, Some(cid), body)).into_response()
}

#[derive(serde::Deserialize)]
pub struct Which {
    n: Option<String>,
}

/// One order: what it is, its packages with each line's upload state, the actions the CLI has
/// for it, and its story (90 days of the audit trail).
pub async fn order(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
    Query(q): Query<Which>,
) -> Response {
    let company = match company_or_page(&c, &session, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cid = &company.company_id;
    let number = match OrderNumber::parse(q.n.as_deref().unwrap_or_default()) {
        Ok(n) => n,
        Err(e) => return failure(&session, Some(cid), "No such order", StatusCode::BAD_REQUEST, &e.into()),
    };
    let store = c.store();
    let o = match store.get_orders(cid, std::slice::from_ref(&number)).await {
        Ok(mut m) => match m.remove(&number) {
            Some(o) => o,
            None => {
                let e = anyhow::anyhow!("{} has no order {number}", cid.as_str());
                return failure(&session, Some(cid), "No such order", StatusCode::NOT_FOUND, &e);
            }
        },
        Err(e) => return failed(&session, Some(cid), "Order", StatusCode::BAD_GATEWAY, &e.into()),
    };
    let story = match store.order_story(cid, number.as_str(), Utc::now() - Duration::days(90)).await {
        Ok(s) => s,
        Err(e) => return failed(&session, Some(cid), "Order", StatusCode::BAD_GATEWAY, &e.into()),
    };
    let cs = cid.as_str();
    let so = &o.overstock;
    let has_failed = o.shipments.iter().any(|p| p.lines.iter().any(|l| matches!(l.upload, UploadState::Failed { .. })));
    let body = html! {
        table id="order" {
            tr { th { "status here" } td { (format!("{:?}", o.local_status)) } }
            tr { th { "Overstock's status" } td { (so.status.as_ref().map(|s| shown(s.as_str())).unwrap_or_default()) } }
            tr { th { "created on Overstock" } td { (so.sofs_created_date.map(when).unwrap_or_default()) } }
            tr { th { "shipping method" } td {
                (so.service_level_code().map(|c| shown(c.as_str())).unwrap_or_else(|| "-".into())) " → "
                (o.shipping.as_ref().map(|s| format!("{} (send {})", shown(&s.shipping_method), shown(&s.code_to_send))).unwrap_or_else(|| "unmapped".into()))
                @if o.rush { " · rush" }
            } }
            tr { th { "acknowledgement" } td { (ack(&o.ack)) } }
            tr { th { "ship by" } td { (o.ship_by.map(when).unwrap_or_else(|| "-".into())) } }
            @let flags = o.attention_flags();
            tr { th { "needs attention" } @if flags.is_empty() { td { "nothing" } } @else { td class="bad" { (shown(&attention_summary(&flags))) } } }
            @if let Some(a) = &so.ship_to {
                // The only page with an address: the order's own.
                tr { th { "ship to" } td id="ship-to" {
                    @for part in [&a.contact_name, &a.address1, &a.address2, &a.city, &a.state_or_province, &a.postal_code, &a.country_code].into_iter().flatten() {
                        (shown(part)) br;
                    }
                } }
            }
        }
        h2 { "Lines" }
        table id="lines" {
            tr { th { "line" } th { "SKU" } th { "item" } th { "quantity" } th { "price" } th { "on Overstock" } }
            @for l in &so.lines {
                tr {
                    td { (shown(&l.line_number)) }
                    td { (shown(l.partner_sku.as_deref().unwrap_or("-"))) }
                    td { (shown(l.item_name.as_deref().unwrap_or(""))) }
                    td { (l.quantity) }
                    td { (l.item_price.map(|p| p.to_string()).unwrap_or_default()) }
                    td { (shown(l.line_status.as_deref().unwrap_or(""))) }
                }
            }
        }
        @if !o.shipments.is_empty() {
            h2 { "Packages" }
            table id="packages" {
                tr { th { "package" } th { "tracking" } th { "ship date" } th { "line" } th { "quantity" } th { "upload" } th { "" } }
                @for p in &o.shipments {
                    @for l in &p.lines {
                        tr {
                            td { (shown(&p.package_id)) }
                            td { (shown(&p.tracking_number)) }
                            td { (when(p.ship_date)) }
                            td { (shown(&l.line_number)) }
                            td { (l.quantity) }
                            td class=[matches!(l.upload, UploadState::Failed { .. }).then_some("bad")] { (upload(&l.upload, l.last_error.as_deref(), p.send_after)) }
                            td {
                                @if matches!(l.upload, UploadState::Failed { .. }) {
                                    (reset_form(&session, cs, number.as_str(), Some((&p.package_id, &l.line_number)), "Reset this line"))
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Actions" }
        @if has_failed {
            (reset_form(&session, cs, number.as_str(), None, "Reset every failed upload of this order"))
            p class="muted" { "Reads the order on Overstock first: a line Overstock shows shipped is recorded accepted, never sent again." }
        }
        @if matches!(o.ack, AckState::Rejected { .. }) {
            form method="post" action={ "/c/" (cs) "/order/requeue-ack" } {
                (csrf_field(&session))
                input type="hidden" name="n" value=(number.as_str());
                button type="submit" id="requeue-ack" { "Send the acknowledgement again" }
            }
            p class="muted" { "The next order download reads the order's status from Overstock first and sends only if it still waits for one." }
        }
        @if !has_failed && !matches!(o.ack, AckState::Rejected { .. }) {
            p class="muted" { "Nothing to act on here. Cancels and refunds: " a href={ "/c/" (cs) "/requests?n=" (query_value(number.as_str())) } { "Requests" } "." }
        }
        h2 { "Story" }
        @if story.is_empty() {
            p { "Nothing recorded in the last 90 days." }
        } @else {
            table id="story" {
                tr { th { "at (UTC)" } th { "with Overstock" } th { "what" } th { "outcome" } }
                @for e in &story {
                    tr {
                        td { (when(e.at)) }
                        td { (e.operation.map_or("read", |o| o.as_str())) }
                        td { (shown(&e.what)) }
                        td { (shown(&e.outcome)) }
                    }
                }
            }
        }
    };
    let title = format!("Order {}", shown(number.as_str()));
    Html(page(&title, &session, Some(cid), body)).into_response()
}

fn upload(u: &UploadState, last_error: Option<&str>, held: Option<chrono::DateTime<Utc>>) -> String {
    match u {
        UploadState::Pending => match (held.filter(|t| *t > Utc::now()), last_error) {
            (Some(t), _) => format!("held until {}", when(t)),
            (None, Some(e)) => format!("retrying (Overstock said: {})", shown(e)),
            (None, None) => "to be sent".into(),
        },
        UploadState::Sending { .. } => "outcome being read".into(),
        UploadState::Accepted { at } => format!("accepted {}", when(*at)),
        UploadState::Failed { reason, .. } => format!("FAILED: {}", shown(reason)),
        UploadState::Withdrawn { reason, .. } => format!("withdrawn, never sent: {}", shown(reason)),
    }
}

fn reset_form(session: &Session, company: &str, number: &str, one: Option<(&str, &str)>, label: &str) -> Markup {
    html! {
        form class="inline" method="post" action={ "/c/" (company) "/order/reset-upload" } {
            (csrf_field(session))
            input type="hidden" name="n" value=(number);
            @if let Some((package, line)) = one {
                input type="hidden" name="package" value=(package);
                input type="hidden" name="line" value=(line);
            }
            button type="submit" class="reset-upload" id=[one.is_none().then_some("reset-all")] { (label) }
        }
    }
}

fn number_of(form: &HashMap<String, String>) -> anyhow::Result<OrderNumber> {
    Ok(OrderNumber::parse(form.get("n").map(String::as_str).unwrap_or_default())?)
}

/// Resets failed uploads (the CLI's `uploads reset`).
pub async fn reset_upload(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let company = match form_company(&c, &session, &id, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cid = company.company_id.clone();
    let number = match number_of(&form) {
        Ok(n) => n,
        Err(e) => return failure(&session, Some(&cid), "Not reset", StatusCode::BAD_REQUEST, &e),
    };
    let one = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match crate::ops::reset_uploads(c.store(), &c.sdk, &company, &number, (one("package"), one("line"))).await {
        Ok(r) => {
            let mut msg =
                format!("{} failed upload(s) of {number} back in the queue for the next tracking upload.", r.reset);
            if r.confirmed_on_overstock > 0 {
                msg.push_str(&format!(
                    " {} already shipped on Overstock: recorded as accepted, not sent again.",
                    r.confirmed_on_overstock
                ));
            }
            c.done(&session, msg, &format!("/c/{id}/order?n={}", query_value(number.as_str())))
        }
        Err(e) => failed(&session, Some(&cid), "Not reset", StatusCode::UNPROCESSABLE_ENTITY, &e),
    }
}

/// Queues a rejected acknowledgement again (the CLI's `orders requeue-ack`).
pub async fn requeue_ack(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let company = match form_company(&c, &session, &id, &form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cid = company.company_id.clone();
    let result = match number_of(&form) {
        Ok(n) => crate::ops::requeue_ack(c.store(), &cid, &n).await.map(|()| n),
        Err(e) => Err(e),
    };
    match result {
        Ok(n) => c.done(
            &session,
            format!(
                "The acknowledgement of {n} is pending again: the next order download reconciles it with Overstock."
            ),
            &format!("/c/{id}/order?n={}", query_value(n.as_str())),
        ),
        Err(e) => failed(&session, Some(&cid), "Not queued", StatusCode::UNPROCESSABLE_ENTITY, &e),
    }
}
