//! Inventory: one SKU's explanation (its value, the rule, the POs and containers behind it, what
//! Overstock last accepted or refused), what the next push sends, and what Overstock refused —
//! the CLI's `inventory explain|pending|failed`, from the same services.

use super::pages::{company_or_page, failed, page, shown, when};
use super::{Session, Shared, query_value};
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use maud::html;
use shared::domain::inventory::Sku;
use shared::services::inventory::{explain, pending};
use shared::store::InventoryStore;
use std::sync::Arc;

#[derive(serde::Deserialize)]
pub struct Which {
    sku: Option<String>,
}

async fn render(c: &Shared, session: &Session, id: &str, sku: Option<&str>) -> Response {
    let company = match company_or_page(c, session, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cid = &company.company_id;
    let now = Utc::now();
    let store = c.store();
    let explained = match sku.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(s) => Some(match Sku::parse(s) {
            Err(e) => Err(anyhow::Error::from(e)),
            Ok(sku) => match explain(store, &company, &sku, now).await {
                Ok(Some(x)) => Ok(x),
                Ok(None) => Err(anyhow::anyhow!("{} has no product {sku}", cid.as_str())),
                Err(e) => Err(e.into()),
            },
        }),
    };
    let (next, failed) = match (pending(store, &company, now).await, store.list_failed_products(cid).await) {
        (Ok(n), Ok(f)) => (n, f),
        (Err(e), _) | (_, Err(e)) => {
            return failed(session, Some(cid), "Inventory", StatusCode::BAD_GATEWAY, &e.into());
        }
    };
    let cs = cid.as_str();
    let body = html! {
        form method="get" action={ "/c/" (cs) "/inventory" } id="explain" {
            label { "Explain a SKU " input type="text" name="sku" value=(shown(sku.unwrap_or_default())); " " button type="submit" { "Explain" } }
        }
        @match &explained {
            None => {}
            Some(Err(e)) => { p class="error" id="error" { (shown(&format!("{e:#}"))) } }
            Some(Ok(x)) => {
                table id="explanation" {
                    tr { th { "SKU" } td { (shown(&x.sku)) } }
                    tr { th { "today" } td { (x.today) " (" (x.time_zone) ")" } }
                    tr { th { "settings" } td {
                        "lead time " (x.lead_time_months) " month(s) · Send Backorder Information " (if x.send_backorder_info { "on" } else { "off" })
                        " · containers for PO " (if x.shipping_containers_for_po { "on" } else { "off" })
                        " · Enable Inventory Upload " (if x.inventory_upload { "on" } else { "off" })
                    } }
                    tr { th { "available" } td { (x.available.map_or("unknown".into(), |a| a.to_string())) " (counted " (x.counted_at.clone().unwrap_or_else(|| "never".into())) ")" } }
                    @match &x.decision {
                        None => { tr { th { "value" } td { "no count yet: nothing is sent" } } }
                        Some(d) => {
                            tr { th { "value" } td { (shown(&d.value.to_string())) } }
                            tr { th { "rule" } td { (d.rule.explain()) } }
                            @for l in &d.fed_by {
                                tr { th { "fed by" } td { (l.kind.as_str()) " " (shown(&l.source_id)) ": " (l.quantity) " on order, expected " (l.expected.map_or("(no date)".into(), |d| d.to_string())) } }
                            }
                            @for (l, why) in &d.ignored {
                                tr { th { "not counted" } td { (l.kind.as_str()) " " (shown(&l.source_id)) " (" (l.quantity) " on order): " (why) } }
                            }
                            @if let Some(r) = d.recheck_on { tr { th { "decided again" } td { (r) " (the value changes with the date)" } } }
                        }
                    }
                    tr { th { "Overstock last accepted" } td { (x.last_accepted.as_ref().map_or("nothing yet".into(), |s| format!("{} (at {})", shown(&s.value.to_string()), when(s.at)))) } }
                    @if let Some(r) = &x.rejection {
                        tr { th { "Overstock refused it" } td class="bad" { (r.attempts) " time(s)" @if r.failed { " (failed: not sent again until an input changes)" } ": " (shown(&r.message)) } }
                    }
                    tr { th { "next push" } td { (if x.would_send { "sends the value above" } else { "sends nothing for it" }) } }
                }
            }
        }
        h2 { "What the next push sends" }
        @if next.is_empty() {
            p { "Nothing to send." }
        } @else {
            table id="pending" {
                tr { th { "SKU" } th { "value" } th { "rule" } }
                @for (sku, value, rule) in &next {
                    tr {
                        td { a href={ "/c/" (cs) "/inventory?sku=" (query_value(sku.as_str())) } { (shown(sku.as_str())) } }
                        td { (shown(&value.to_string())) }
                        td { (rule.explain()) }
                    }
                }
            }
        }
        h2 { "Refused by Overstock" }
        @if failed.is_empty() {
            p { "Nothing." }
        } @else {
            table id="failed" {
                tr { th { "SKU" } th { "refusals" } th { "last" } th { "Overstock said" } }
                @for p in &failed {
                    @if let Some(r) = &p.rejection {
                        tr {
                            td { a href={ "/c/" (cs) "/inventory?sku=" (query_value(p.sku.as_str())) } { (shown(p.sku.as_str())) } }
                            td { (r.attempts) }
                            td { (when(r.at)) }
                            td { (shown(&r.message)) }
                        }
                    }
                }
            }
        }
    };
    let title = format!("{} — inventory", shown(&company.name));
    Html(page(&title, session, Some(cid), body)).into_response()
}

/// `/c/{company}/inventory[?sku=…]`.
pub async fn show(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(id): Path<String>,
    Query(q): Query<Which>,
) -> Response {
    render(&c, &session, &id, q.sku.as_deref()).await
}
