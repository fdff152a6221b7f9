//! Shared crate of the Overstock channel connector.
//!
//! - [`domain`]: pure rules (ids, settings, shipping method mapping, order lifecycle, query windows).
//! - [`overstock`]: the Supplier Oasis HTTP client, one module per operation
//!   ([`overstock::acknowledgements`] is provisional: its wire format is the project's own).
//! - [`store`]: the ports (traits) the functions depend on and the DynamoDB adapter.
//! - [`credentials`]: where Overstock credentials come from (Secrets Manager or a local file).
//! - [`services`]: one service per function (order-download, tracking-upload) and the
//!   warehouse-side shipping operations, generic over the ports.
//! - [`job`]: the per-company frame of every scheduled job, the error kinds it keeps, and the
//!   one order write path.
//! - [`config`], [`aws`], [`telemetry`]: typed configuration, SDK settings, logging.

pub mod audit;
pub mod aws;
pub mod config;
pub mod credentials;
pub mod domain;
#[cfg(test)]
pub(crate) mod fakes;
pub mod job;
pub mod metrics;
pub mod overstock;
pub mod queue;
pub mod services;
pub mod store;
pub mod telemetry;
