//! Requests: the company's cancel, refund and RMA requests with their outcome, and forms that
//! queue new ones — the message built by the CLI's rule (`ops::message`), checked by the
//! consumer's parser and put on the same queues (`ops::queue`). The console never applies a
//! request itself: the request function does, as for every other sender.

use super::pages::{company_or_page, csrf_field, failed, form_company, page, shown, when};
use super::{Session, Shared, query_value};
use crate::ops::{self, Request, split_lines};
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use shared::domain::requests::{REFUND_REASONS, SHORT_SHIP_REASONS};
use shared::store::{RequestState, RequestStore};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub struct Prefill {
    /// An order number to put in the forms (from an order's page).
    n: Option<String>,
}

fn reasons(name: &str, list: &[&str]) -> Markup {
    html! {
        select name=(name) {
            @for r in list { option value=(r) { (r) } }
        }
    }
}

/// The outcome as the CLI says it (escaped), and whether it needs a person.
fn state(s: &RequestState) -> (String, bool) {
    (shown(&crate::requests::state(s)), matches!(s, RequestState::Rejected { .. } | RequestState::GaveUp { .. }))
}

/// The list and the forms.
pub async fn list(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
    Query(q): Query<Prefill>,
) -> Response {
    let company = match company_or_page(&c, &session, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cid = &company.company_id;
    let records = match c.store().list_requests(cid, 200).await {
        Ok(r) => r,
        Err(e) => return failed(&session, Some(cid), "Requests", StatusCode::BAD_GATEWAY, &e.into()),
    };
    let cs = cid.as_str();
    let order = q.n.unwrap_or_default();
    let action = format!("/c/{cs}/requests");
    let body = html! {
        @if records.is_empty() {
            p { "No request recorded yet." }
        } @else {
            table id="requests" {
                tr { th { "request" } th { "type" } th { "order" } th { "received" } th { "outcome" } th { "failed deliveries" } }
                @for r in &records {
                    @let (outcome, bad) = state(&r.state);
                    tr {
                        td { (shown(&r.request_id)) }
                        td { (shown(&r.kind)) }
                        td { a href={ "/c/" (cs) "/order?n=" (query_value(&r.order_number)) } { (shown(&r.order_number)) } }
                        td { (when(r.received_at)) }
                        td class=[bad.then_some("bad")] { (outcome) }
                        td { (r.failures) @if let Some(f) = &r.last_failure { " (" (shown(f)) ")" } }
                    }
                }
            }
            p class="muted" { "Newest first; a request queued a moment ago appears once the request function has received it (reload)." }
        }
        @if c.cancel_queue.is_none() || c.refund_queue.is_none() {
            p class="error" { "Set CANCEL_QUEUE_URL and REFUND_QUEUE_URL (as for the CLI's request commands) before starting the console to queue requests here." }
        }
        h2 { "Cancel lines (not yet ship confirmed)" }
        form method="post" action=(action) id="cancel" {
            (csrf_field(&session))
            input type="hidden" name="kind" value="cancel";
            label { "Order " input type="text" name="order" value=(order); }
            label { "Lines (numbers, space-separated; empty: every open line) " input type="text" name="lines"; }
            label { "Reason " (reasons("reason", SHORT_SHIP_REASONS)) }
            label { input type="checkbox" name="local_only" value="on"; " Only here (Sellercloud's \"Set as Cancel\": nothing sent to Overstock)" }
            (sender())
            button type="submit" id="queue-cancel" { "Queue the cancel" }
        }
        h2 { "Refund (ship-confirmed lines)" }
        form method="post" action=(action) id="refund" {
            (csrf_field(&session))
            input type="hidden" name="kind" value="refund";
            label { "Order " input type="text" name="order" value=(order); }
            label { "Lines, LINE:AMOUNT[:QUANTITY] each (e.g. 1:44.99 2:10.00:1) " input type="text" name="lines"; }
            label { "Shipping refunded (exact decimal, optional) " input type="text" name="shipping"; }
            label { "Reason " (reasons("reason", REFUND_REASONS)) }
            label { "Notes (sent with the refund; never a customer's address) " input type="text" name="notes"; }
            (sender())
            button type="submit" id="queue-refund" { "Queue the refund" }
        }
        h2 { "Return (RMA) step" }
        form method="post" action=(action) id="rma" {
            (csrf_field(&session))
            label { "Step "
                select name="kind" {
                    option value="rma_open" { "open (lines the customer sends back)" }
                    option value="rma_receive" { "receive (lines that came back: refunded)" }
                    option value="rma_close" { "close" }
                }
            }
            label { "Order " input type="text" name="order" value=(order); }
            label { "RMA id " input type="text" name="rma_id"; }
            label { "Lines, LINE:QUANTITY each (open, receive) " input type="text" name="lines"; }
            label { "Return reason (open) " (reasons("reason", REFUND_REASONS)) }
            (sender())
            button type="submit" id="queue-rma" { "Queue the RMA step" }
        }
    };
    let title = format!("{} — requests", shown(&company.name));
    Html(page(&title, &session, Some(cid), body)).into_response()
}

fn sender() -> Markup {
    html! {
        label class="muted" { "Request id (optional: the idempotency key; default a new one) " input type="text" name="request_id"; }
    }
}

/// The form as the CLI's request, by its `kind`.
fn request_of(form: &HashMap<String, String>) -> anyhow::Result<Request> {
    let text = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let lines = split_lines(&text("lines"));
    Ok(match text("kind").as_str() {
        "cancel" => Request::Cancel { lines, reason: text("reason"), local_only: form.contains_key("local_only") },
        "refund" => Request::Refund {
            lines,
            shipping: Some(text("shipping")),
            reason: text("reason"),
            notes: form.get("notes").cloned(),
        },
        "rma_open" => Request::RmaOpen { rma_id: text("rma_id"), lines, reason: text("reason") },
        "rma_receive" => Request::RmaReceive { rma_id: text("rma_id"), lines },
        "rma_close" => Request::RmaClose { rma_id: text("rma_id") },
        other => anyhow::bail!("{:?} is not a request type", shown(other)),
    })
}

/// Queues the request (checked by the consumer's parser first; nothing queued on a refusal).
pub async fn queue(
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
    let result = async {
        let request = request_of(&form)?;
        let queue_url = if request.on_cancel_queue() { &c.cancel_queue } else { &c.refund_queue };
        let Some(queue_url) = queue_url else {
            anyhow::bail!("the console was started without CANCEL_QUEUE_URL / REFUND_QUEUE_URL: nothing was queued");
        };
        let order = form.get("order").map(|v| v.trim()).unwrap_or_default();
        let sender =
            ops::Sender { request_id: form.get("request_id").cloned(), requested_by: "overstockctl console".into() };
        let m = ops::message(cid.as_str(), order, request, &sender, "console")?;
        ops::queue(&c.sqs, queue_url, &m).await?;
        Ok((m["type"].as_str().unwrap_or_default().to_owned(), m["request_id"].as_str().unwrap_or_default().to_owned()))
    }
    .await;
    match result {
        Ok((kind, request_id)) => c.done(
            &session,
            format!("Queued {kind} request {request_id}: its outcome appears below once the request function has handled it."),
            &format!("/c/{id}/requests"),
        ),
        Err(e) => failed(&session, Some(&cid), "Not queued", StatusCode::UNPROCESSABLE_ENTITY, &e),
    }
}
