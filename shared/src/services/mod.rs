//! The services, one module per function (plus the warehouse-side shipping operations), each
//! generic over the ports of [`crate::store`], [`crate::overstock`] and [`crate::credentials`],
//! and run in the per-company frame of [`crate::job`].

pub mod fanout;
pub mod inventory;
pub mod order_download;
pub mod reconcile;
pub mod requests;
pub mod shipping;
pub mod tracking_upload;
pub mod watchdog;
