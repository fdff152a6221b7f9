use std::time::Duration;

/// Everything that can go wrong talking to Overstock, classed as permanent or retryable.
#[derive(Debug, thiserror::Error)]
pub enum OverstockError {
    /// 401: bad credentials. Permanent within a run; the company gets flagged.
    #[error("overstock rejected the credentials (401)")]
    Unauthorized,
    /// 429: throttled.
    #[error("overstock throttled the request (429)")]
    Throttled { retry_after: Option<Duration> },
    /// 5xx.
    #[error("overstock server error ({status})")]
    Server { status: u16 },
    /// The literal body `null` instead of XML.
    #[error("overstock answered with a null body")]
    NullBody,
    #[error("request to overstock timed out")]
    Timeout,
    #[error("could not reach overstock: {0}")]
    Transport(String),
    /// A 400 naming no element: the whole message was rejected.
    #[error("overstock rejected the message: {0}")]
    MessageRejected(String),
    /// Any other 4xx.
    #[error("overstock answered {status}: {body}")]
    Client { status: u16, body: String },
    /// The response could not be parsed.
    #[error("unreadable overstock response: {0}")]
    BadResponse(String),
    /// The request could not be built (bad base URL, bad data to send).
    #[error("bad request to overstock: {0}")]
    BadRequest(String),
}

impl OverstockError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Server { .. } | Self::NullBody | Self::Timeout | Self::Transport(_))
    }
}
