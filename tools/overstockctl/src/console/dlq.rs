//! A dead-letter queue: what it holds (each message's reason and body, left in the queue), and
//! moving its messages back to the queue they came from once the cause is fixed — the CLI's
//! `dlq list` and `dlq redrive`, through the same operations (`ops::peek`, `ops::redrive`).

use super::pages::{csrf_field, failed, failure, page, shown};
use super::{Session, Shared};
use axum::Extension;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use std::collections::HashMap;
use std::sync::Arc;

/// Messages moved back per click: the page answers in seconds; a larger queue takes more clicks.
pub const REDRIVE_LIMIT: usize = 500;

/// The longest part of a body the page shows (a request message is a few hundred bytes).
const BODY_SHOWN: usize = 2000;

/// A watched queue and the dead-letter queue its redrive policy names.
struct Watched {
    /// What the queue carries ("cancel requests").
    what: &'static str,
    url: String,
    dlq_name: String,
    dlq_url: String,
}

/// The watched queue `n` (the companies page's numbering) and its dead-letter queue.
async fn queues(c: &Shared, session: &Session, n: &str) -> Result<Watched, Response> {
    let Some((what, url)) = n.parse::<usize>().ok().and_then(|i| c.watched_queues.get(i)) else {
        let e = anyhow::anyhow!("no such queue: the companies page lists the dead-letter queues");
        return Err(failure(session, None, "No such queue", StatusCode::NOT_FOUND, &e));
    };
    match crate::ops::dead_letter_queue(&c.sqs, url).await {
        Ok((dlq_name, dlq_url)) => Ok(Watched { what, url: url.clone(), dlq_name, dlq_url }),
        Err(e) => Err(failed(session, None, "Dead-letter queue", StatusCode::BAD_GATEWAY, &e)),
    }
}

/// What the dead-letter queue of watched queue `n` holds.
pub async fn show(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(n): Path<String>,
) -> Response {
    let Watched { what, dlq_name: name, dlq_url: dlq, .. } = match queues(&c, &session, &n).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    let (depth, messages) = match tokio::try_join!(crate::ops::depth(&c.sqs, &dlq), crate::ops::peek(&c.sqs, &dlq)) {
        Ok(x) => x,
        Err(e) => return failed(&session, None, "Dead-letter queue", StatusCode::BAD_GATEWAY, &e),
    };
    let body = html! {
        p { "The dead-letter queue of the " (what) " queue: " code { (shown(&name)) } ", " strong id="depth" { (depth) } " message(s)." }
        @if messages.is_empty() {
            p class="muted" { "Nothing to show." }
        } @else {
            @if depth > i64::try_from(messages.len()).unwrap_or(i64::MAX) {
                p class="muted" { "Ten at most are shown at a time (SQS hands out a sample); the count above is SQS's." }
            }
            table id="dead-letters" {
                tr { th { "message" } th { "deliveries" } th { "why it is here" } th { "body" } }
                @for m in &messages {
                    tr {
                        td { code { (shown(&m.id)) } }
                        td { (shown(&m.receives)) }
                        @match &m.reason {
                            Some(r) => td class="bad" { (shown(r)) },
                            None => td { "retried out (its request's outcome says why: the company's Requests page)" },
                        }
                        td { code { (shown(&m.body.chars().take(BODY_SHOWN).collect::<String>())) } }
                    }
                }
            }
        }
        @if depth > 0 {
            form method="post" action={ "/dlq/" (n) "/redrive" } {
                (csrf_field(&session))
                p { "Once the cause is fixed: " button type="submit" id="redrive" { "Move them back to the " (what) " queue" }
                    span class="muted" { " (up to " (REDRIVE_LIMIT) " a click; each is handled again, and a request already done is not done twice)" } }
            }
        }
    };
    Html(page("Dead-letter queue", &session, None, body)).into_response()
}

/// Moves the dead-letter queue's messages back to their queue (a state change: CSRF first).
pub async fn redrive(
    State(c): State<Shared>,
    Extension(session): Extension<Arc<Session>>,
    Path(n): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(r) = super::refused(&session, &form) {
        return r;
    }
    let Watched { what, url, dlq_url: dlq, .. } = match queues(&c, &session, &n).await {
        Ok(q) => q,
        Err(r) => return r,
    };
    match crate::ops::redrive(&c.sqs, &dlq, &url, REDRIVE_LIMIT).await {
        Ok(moved) => {
            c.done(&session, format!("{moved} message(s) moved back to the {what} queue."), &format!("/dlq/{n}"))
        }
        Err(e) => failed(&session, None, "Not moved back", StatusCode::BAD_GATEWAY, &e),
    }
}
