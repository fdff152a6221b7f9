//! Cancel, refund and RMA requests from the command line: the CLI is one more sender, so it
//! puts the same JSON messages on the same queues (it never bypasses them), after checking them
//! with the consumer's own parser. Also the request records and the dead-letter queues.

use crate::ops;
use crate::out::say;
use anyhow::{Context, Result};
use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use shared::domain::requests::{REFUND_REASONS, SHORT_SHIP_REASONS};
use shared::store::{DynamoStore, RequestState, RequestStore};

use crate::table::Table;

#[derive(Args)]
pub struct Sender {
    /// The sender's id of the request (the idempotency key); default: a new one.
    #[arg(long)]
    request_id: Option<String>,
    /// Who asks (recorded with the request).
    #[arg(long, default_value = "overstockctl")]
    requested_by: String,
}

#[derive(Subcommand)]
pub enum RequestCmd {
    /// Queues a cancel of lines of an order not yet ship confirmed (short-ship reason code).
    Cancel {
        /// The company's id.
        company: String,
        /// Overstock's order number.
        order: String,
        /// A line number, repeatable; none: every open line.
        #[arg(long = "line")]
        lines: Vec<String>,
        /// The short-ship reason sent to Overstock.
        #[arg(long, value_parser = PossibleValuesParser::new(SHORT_SHIP_REASONS.iter().copied()))]
        reason: String,
        /// Sellercloud's "Set as Cancel": change the order here, send nothing to Overstock.
        #[arg(long)]
        local_only: bool,
        /// The cancel request queue (the one the other senders use).
        #[arg(long, env = "CANCEL_QUEUE_URL")]
        queue_url: String,
        #[command(flatten)]
        sender: Sender,
    },
    /// Queues a refund of a ship-confirmed order: LINE:AMOUNT[:QUANTITY], repeatable.
    Refund {
        /// The company's id.
        company: String,
        /// Overstock's order number.
        order: String,
        /// LINE:AMOUNT[:QUANTITY], repeatable (e.g. --line 1:44.99 --line 2:10.00:1); the amount
        /// an exact decimal, at most the line's price times its quantity.
        #[arg(long = "line")]
        lines: Vec<String>,
        /// Shipping refunded too, an exact decimal (e.g. 9.95).
        #[arg(long)]
        shipping: Option<String>,
        /// The refund reason sent to Overstock.
        #[arg(long, value_parser = PossibleValuesParser::new(REFUND_REASONS.iter().copied()))]
        reason: String,
        /// Free text sent with the refund (recorded; never a customer's address).
        #[arg(long)]
        notes: Option<String>,
        /// The refund request queue (refunds and RMAs; the one the other senders use).
        #[arg(long, env = "REFUND_QUEUE_URL")]
        queue_url: String,
        #[command(flatten)]
        sender: Sender,
    },
    /// Returns (RMAs) on the refund queue.
    #[command(subcommand)]
    Rma(RmaCmd),
}

#[derive(Subcommand)]
pub enum RmaCmd {
    /// Opens an RMA for ship-confirmed lines: LINE:QUANTITY, repeatable.
    Open {
        /// The company's id.
        company: String,
        /// Overstock's order number.
        order: String,
        /// The RMA's id (the seller's; the next steps name it).
        rma_id: String,
        /// LINE:QUANTITY, repeatable: what the customer sends back.
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
        /// The return reason (refunded with it when the goods come back).
        #[arg(long, value_parser = PossibleValuesParser::new(REFUND_REASONS.iter().copied()))]
        reason: String,
        /// The refund request queue (refunds and RMAs; the one the other senders use).
        #[arg(long, env = "REFUND_QUEUE_URL")]
        queue_url: String,
        #[command(flatten)]
        sender: Sender,
    },
    /// Goods of an RMA received back (LINE:QUANTITY, repeatable): what came back is refunded.
    Receive {
        /// The company's id.
        company: String,
        /// Overstock's order number.
        order: String,
        /// The RMA's id, as opened.
        rma_id: String,
        /// LINE:QUANTITY, repeatable: what came back.
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
        /// The refund request queue (refunds and RMAs; the one the other senders use).
        #[arg(long, env = "REFUND_QUEUE_URL")]
        queue_url: String,
        #[command(flatten)]
        sender: Sender,
    },
    /// Closes an RMA.
    Close {
        /// The company's id.
        company: String,
        /// Overstock's order number.
        order: String,
        /// The RMA's id, as opened.
        rma_id: String,
        /// The refund request queue (refunds and RMAs; the one the other senders use).
        #[arg(long, env = "REFUND_QUEUE_URL")]
        queue_url: String,
        #[command(flatten)]
        sender: Sender,
    },
}

#[derive(Subcommand)]
pub enum RecordsCmd {
    /// A company's requests with their outcome.
    List {
        /// The company's id.
        company: String,
        /// At most this many requests.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// One request's record (JSON): its state, outcome and failed deliveries.
    Show {
        /// The company's id.
        company: String,
        /// The sender's request id (e.g. erp-cancel-000123).
        request_id: String,
    },
}

#[derive(Subcommand)]
pub enum DlqCmd {
    /// What a dead-letter queue holds (left in it).
    List {
        /// The dead-letter queue's URL.
        #[arg(long)]
        queue_url: String,
    },
    /// Moves every message of a dead-letter queue back to its queue, once the cause is fixed.
    Redrive {
        /// The dead-letter queue's URL.
        #[arg(long)]
        queue_url: String,
        /// The queue its messages go back to.
        #[arg(long)]
        to: String,
    },
}

impl Sender {
    fn ops(self) -> ops::Sender {
        ops::Sender { request_id: self.request_id, requested_by: self.requested_by }
    }
}

/// Builds the message by the rule the console's forms use too, checks it with the consumer's
/// parser and queues it.
pub async fn request(sqs: &aws_sdk_sqs::Client, cmd: RequestCmd) -> Result<()> {
    use ops::Request as R;
    let (company, order, queue_url, sender, request) = match cmd {
        RequestCmd::Cancel { company, order, lines, reason, local_only, queue_url, sender } => {
            (company, order, queue_url, sender, R::Cancel { lines, reason, local_only })
        }
        RequestCmd::Refund { company, order, lines, shipping, reason, notes, queue_url, sender } => {
            (company, order, queue_url, sender, R::Refund { lines, shipping, reason, notes })
        }
        RequestCmd::Rma(RmaCmd::Open { company, order, rma_id, lines, reason, queue_url, sender }) => {
            (company, order, queue_url, sender, R::RmaOpen { rma_id, lines, reason })
        }
        RequestCmd::Rma(RmaCmd::Receive { company, order, rma_id, lines, queue_url, sender }) => {
            (company, order, queue_url, sender, R::RmaReceive { rma_id, lines })
        }
        RequestCmd::Rma(RmaCmd::Close { company, order, rma_id, queue_url, sender }) => {
            (company, order, queue_url, sender, R::RmaClose { rma_id })
        }
    };
    let m = ops::message(&company, &order, request, &sender.ops(), "cli")?;
    let body = ops::queue(sqs, &queue_url, &m).await?;
    say!("queued {body}");
    Ok(())
}

pub fn state(s: &RequestState) -> String {
    match s {
        RequestState::Received => "in progress".into(),
        RequestState::Done { summary, .. } => format!("done: {summary}"),
        RequestState::Rejected { reason, .. } => format!("REJECTED: {reason}"),
        RequestState::GaveUp { reason, .. } => format!("GAVE UP (on the dead-letter queue): {reason}"),
    }
}

pub async fn records(store: &DynamoStore, cmd: RecordsCmd) -> Result<()> {
    match cmd {
        RecordsCmd::List { company, limit } => {
            let id = crate::known(store, &company).await?;
            let mut t = Table::new(&["REQUEST", "TYPE", "ORDER", "RECEIVED", "OUTCOME", "FAILED DELIVERIES"]);
            for r in store.list_requests(&id, limit).await? {
                t.row(vec![
                    r.request_id.clone(),
                    r.kind.clone(),
                    r.order_number.clone(),
                    r.received_at.format("%Y-%m-%d %H:%M").to_string(),
                    state(&r.state),
                    match &r.last_failure {
                        Some(f) => format!("{} ({f})", r.failures),
                        None => r.failures.to_string(),
                    },
                ]);
            }
            t.print();
        }
        RecordsCmd::Show { company, request_id } => {
            let id = crate::known(store, &company).await?;
            let r = store.get_request(&id, &request_id).await?.with_context(|| format!("no request {request_id}"))?;
            crate::out::json(&r)?;
        }
    }
    Ok(())
}

pub async fn dlq(sqs: &aws_sdk_sqs::Client, cmd: DlqCmd) -> Result<()> {
    match cmd {
        DlqCmd::List { queue_url } => {
            let mut t = Table::new(&["MESSAGE", "RECEIVES", "REASON", "BODY"]);
            for m in ops::peek(sqs, &queue_url).await? {
                let reason =
                    m.reason.unwrap_or_else(|| "(retried out: overstockctl requests show COMPANY REQUEST_ID)".into());
                t.row(vec![m.id, m.receives, reason.chars().take(100).collect(), m.body.chars().take(120).collect()]);
            }
            t.print();
        }
        DlqCmd::Redrive { queue_url, to } => {
            let moved = ops::redrive(sqs, &queue_url, &to, usize::MAX).await?;
            say!("{moved} message(s) moved back");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ops::{line_quantities, refund_lines};
    use serde_json::{Value, json};

    /// What `send` would do with a refund built from these `--line` arguments: the message, or
    /// the error the operator sees (from the argument parser or the consumer's parser).
    fn refund(lines: &[&str]) -> std::result::Result<Value, String> {
        let lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        let parsed = refund_lines(&lines).map_err(|e| format!("{e:#}"))?;
        let m = json!({"type": "refund", "version": 1, "request_id": "cli-1", "company_id": "acme", "order_number": "O-1",
                       "lines": parsed, "reason": "DAMAGED"});
        shared::domain::requests::parse_request(&m.to_string()).map_err(|r| r.to_string())?;
        Ok(m)
    }

    fn rma(lines: &[&str]) -> std::result::Result<Value, String> {
        let lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        let parsed = line_quantities(&lines).map_err(|e| format!("{e:#}"))?;
        let m = json!({"type": "rma_open", "version": 1, "request_id": "cli-1", "company_id": "acme", "order_number": "O-1",
                       "rma_id": "R-1", "lines": parsed, "reason": "CUSTOMER_RETURN"});
        shared::domain::requests::parse_request(&m.to_string()).map_err(|r| r.to_string())?;
        Ok(m)
    }

    #[test]
    fn good_line_arguments_make_the_message_the_consumer_accepts() {
        let m = refund(&["1:44.99", "2:5:1"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m["lines"], json!([{"line": "1", "amount": "44.99"}, {"line": "2", "amount": "5", "quantity": 1}]));
        let m = rma(&["1:2"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m["lines"], json!([{"line": "1", "quantity": 2}]));
    }

    #[test]
    fn bad_line_arguments_are_refused_with_the_reason_and_nothing_is_sent() {
        for (args, expect) in [
            (&["1"][..], "expected LINE:AMOUNT"),
            (&["1:2:3:4"][..], "expected LINE:AMOUNT"),
            (&["1:4.999"][..], "two decimal places"),
            (&["1:-5.00"][..], "negative"),
            (&["1:abc"][..], "amount"),
            (&["1:5:x"][..], "quantity"),
            (&["1:5:-1"][..], "quantity"),
        ] {
            let e = refund(args).err().unwrap_or_else(|| panic!("{args:?} accepted"));
            assert!(e.contains(expect), "{args:?}: {e}");
        }
        for (args, expect) in [(&["1"][..], "LINE:QUANTITY"), (&["1:two"][..], "quantity"), (&["1:-2"][..], "quantity")]
        {
            let e = rma(args).err().unwrap_or_else(|| panic!("{args:?} accepted"));
            assert!(e.contains(expect), "{args:?}: {e}");
        }
    }
}
