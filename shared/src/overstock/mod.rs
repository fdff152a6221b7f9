//! The Overstock Supplier Oasis client.
//!
//! - [`client`]: HTTP transport (Basic auth, timeouts, retry with backoff) and the confirmed
//!   operations (`GET /salesorders`).
//! - [`xml`]: parsing of order responses (both shapes, namespace- and order-agnostic).
//! - [`shipments`]: `POST /shipments` (confirmed format).
//! - [`refunds`]: `POST /refunds`, **provisional** like acknowledgements.
//! - [`inventory`]: `POST /inventory` and `GET /inventory`, **provisional**.
//! - [`acknowledgements`]: `POST /acknowledgements`, **provisional**: its wire format is not
//!   public and is defined by this project (so will be inventory and refunds, each in its own
//!   module). Replace the module when the official XSD is available.

pub mod acknowledgements;
pub mod client;
pub mod error;
pub mod inventory;
pub mod refunds;
pub mod shipments;
pub mod xml;

pub use client::{Account, ClientConfig, OverstockClient, RetryPolicy};
pub use error::OverstockError;

use crate::domain::order::SalesOrder;
use crate::domain::window::Window;
use std::future::Future;

/// The orders of one window and the count Overstock says the window holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderPage {
    pub total_count: usize,
    pub orders: Vec<SalesOrder>,
    /// Order elements that did not parse, each with its reason: kept apart (quarantined), never
    /// failing the others of the window.
    pub unparseable: Vec<UnparseableOrder>,
}

impl OrderPage {
    /// A page is complete when it holds as many orders as `totalCount` says (unparseable ones
    /// count: they were received).
    pub fn is_complete(&self) -> bool {
        self.orders.len() + self.unparseable.len() >= self.total_count
    }
}

/// One order element of a response that does not parse. `reason` names the element path and
/// the order, never the value of a name or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnparseableOrder {
    /// `salesChannelOrderNumber`, when it could be read.
    pub order_number: Option<String>,
    /// `sofsCreatedDate`, when it could be read: where to read the order again.
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    pub reason: String,
    /// FNV-1a of the element's text: tells the same unnamed element from another.
    pub fingerprint: u64,
}

impl UnparseableOrder {
    /// The quarantine key: by its order number, or by the fingerprint of its text for an element
    /// without one (so the same element read again is the same record).
    pub fn key(&self) -> String {
        match &self.order_number {
            Some(n) => crate::store::QuarantineKey::Order(n.clone()),
            None => crate::store::QuarantineKey::Unnamed(self.fingerprint),
        }
        .as_key()
    }
}

/// One element Overstock rejected in a POST (see the error body in the API doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedElement {
    /// Empty for an inventory element (named by `sku`).
    pub order_number: String,
    pub line_number: Option<String>,
    /// `partnerSKU`: how an inventory element is named (provisional).
    pub sku: Option<String>,
    pub message: String,
}

/// How the audit trail records a rejection (the audit module is below this one and does not
/// know Overstock's types).
impl From<&RejectedElement> for crate::audit::Rejection {
    fn from(r: &RejectedElement) -> Self {
        Self {
            order: r.order_number.clone(),
            line: r.line_number.clone(),
            sku: r.sku.clone(),
            message: crate::audit::clip(&r.message),
        }
    }
}

/// The port the services use to talk to Overstock.
pub trait OverstockApi: Send + Sync {
    /// `GET /salesorders` for one window.
    fn fetch_orders(
        &self,
        account: &Account,
        window: &Window,
    ) -> impl Future<Output = Result<OrderPage, OverstockError>> + Send;

    /// `POST /acknowledgements` (provisional). `Ok` lists the elements Overstock rejected; every
    /// other element was accepted.
    fn acknowledge(
        &self,
        account: &Account,
        acks: &[acknowledgements::Acknowledgement],
    ) -> impl Future<Output = Result<Vec<RejectedElement>, OverstockError>> + Send;

    /// `POST /shipments`. `Ok` lists the elements Overstock rejected; every other was accepted.
    fn post_shipments(
        &self,
        account: &Account,
        items: &[shipments::ShipmentElement],
    ) -> impl Future<Output = Result<Vec<RejectedElement>, OverstockError>> + Send;

    /// `POST /refunds` (provisional). `Ok` lists the refunds Overstock rejected; every other was
    /// accepted (a repeated refund id is answered as the first).
    fn post_refunds(
        &self,
        account: &Account,
        items: &[refunds::RefundItem],
    ) -> impl Future<Output = Result<Vec<RejectedElement>, OverstockError>> + Send;

    /// `POST /inventory` (provisional), at most 500 elements. `Ok` lists the elements Overstock
    /// rejected (named by SKU); every other was accepted.
    fn post_inventory(
        &self,
        account: &Account,
        items: &[inventory::InventoryElement],
    ) -> impl Future<Output = Result<Vec<RejectedElement>, OverstockError>> + Send;

    /// `GET /inventory` (provisional): what Overstock holds, as last accepted, per SKU.
    fn fetch_inventory(
        &self,
        account: &Account,
    ) -> impl Future<Output = Result<Vec<inventory::HeldElement>, OverstockError>> + Send;

    /// HTTP attempts so far by outcome (`2xx`, `4xx`, `429`, `5xx`, `null`, `timeout`, `network`),
    /// for metrics. Adapters that do not count report none.
    fn call_outcomes(&self) -> std::collections::BTreeMap<&'static str, u64> {
        std::collections::BTreeMap::new()
    }
}
