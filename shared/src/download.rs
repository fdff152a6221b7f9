//! The order-download service.
