//! The Overstock Supplier Oasis client.
//!
//! - [`client`]: HTTP transport (Basic auth, timeouts, retry with backoff) and the confirmed
//!   operations (`GET /salesorders`).
//! - [`xml`]: parsing of order responses (both shapes, namespace- and order-agnostic).
//! - [`provisional`]: operations whose wire format is not public and is defined by this project
//!   (acknowledgements now; inventory and refunds later). Replace this module when the official
//!   XSD is available.

pub mod client;
pub mod error;
pub mod provisional;
pub mod shipments;
pub mod xml;

pub use client::{Account, ClientConfig, OverstockClient, RetryPolicy};
pub use error::OverstockError;

use crate::domain::window::Window;
use crate::domain::order::SalesOrder;
use std::future::Future;

/// The orders of one window and the count Overstock says the window holds.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderPage {
    pub total_count: usize,
    pub orders: Vec<SalesOrder>,
}

impl OrderPage {
    /// A page is complete when it holds as many orders as `totalCount` says.
    pub fn is_complete(&self) -> bool {
        self.orders.len() >= self.total_count
    }
}

/// One element Overstock rejected in a POST (see the error body in the API doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedElement {
    pub order_number: String,
    pub line_number: Option<String>,
    pub message: String,
}

/// The port the services use to talk to Overstock.
pub trait OverstockApi: Send + Sync {
    /// `GET /salesorders` for one window.
    fn fetch_orders(&self, account: &Account, window: &Window)
    -> impl Future<Output = Result<OrderPage, OverstockError>> + Send;

    /// `POST /acknowledgements` (provisional). `Ok` lists the elements Overstock rejected; every
    /// other element was accepted.
    fn acknowledge(
        &self,
        account: &Account,
        acks: &[provisional::Acknowledgement],
    ) -> impl Future<Output = Result<Vec<RejectedElement>, OverstockError>> + Send;

    /// `POST /shipments`. `Ok` lists the elements Overstock rejected; every other was accepted.
    fn post_shipments(
        &self,
        account: &Account,
        items: &[shipments::ShipConfirmation],
    ) -> impl Future<Output = Result<Vec<RejectedElement>, OverstockError>> + Send;
}
