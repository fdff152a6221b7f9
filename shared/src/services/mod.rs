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

/// A message a queue did not take (the outcomes queue, a dead-letter queue, a work queue), and
/// whether sending the same message again may work: the queue's service throttled, failing or
/// not reached may pass; a queue that is not there, not allowed, or refuses the message, and a
/// queue that is not configured, will be refused again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotConfigured(String),
}

impl SendError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
