//! Shared crate of the Overstock channel connector.
//!
//! - [`domain`]: pure rules (ids, settings, shipping method mapping, order lifecycle, query windows).
//! - [`overstock`]: the Supplier Oasis HTTP client; its provisional operations live in
//!   [`overstock::provisional`].
//! - [`store`]: the ports (traits) the functions depend on and the DynamoDB adapter.
//! - [`credentials`]: where Overstock credentials come from (Secrets Manager or a local file).
//! - [`download`]: the order-download service, generic over the ports.

pub mod aws;
pub mod config;
pub mod credentials;
pub mod domain;
pub mod download;
#[cfg(test)]
pub(crate) mod fakes;
pub mod job;
pub mod overstock;
pub mod shipping;
pub mod store;
pub mod telemetry;
pub mod upload;
