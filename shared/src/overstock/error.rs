use std::time::Duration;

/// Everything that can go wrong talking to Overstock, classed as permanent or retryable.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// The connection could not be made: nothing was sent.
    #[error("could not connect to overstock: {0}")]
    Connect(String),
    /// The connection failed after the request may have been sent.
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
    /// The company's base URL may not receive credentials under this deployment's policy.
    #[error("refused to send credentials: {0}")]
    ForbiddenEndpoint(String),
    /// Overstock answered with a redirect: never followed, never trusted.
    #[error("overstock answered with a redirect ({status}); not followed")]
    Redirected { status: u16 },
    /// The body was larger than the configured maximum; not read further.
    #[error("overstock's response exceeds {limit} bytes")]
    TooLarge { limit: usize },
    /// An answer to a POST that does not clearly say what was accepted (a 400 that is not
    /// Overstock's error document or names an element that was not sent; a success status whose
    /// body is not a success): whether the message was applied is not known, and it is settled by
    /// reading Overstock's state.
    #[error("overstock's answer does not say what was accepted; outcome unknown: {0}")]
    UnknownOutcome(String),
    /// The request could not be built (bad base URL, bad data to send).
    #[error("bad request to overstock: {0}")]
    BadRequest(String),
}

impl OverstockError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. }
                | Self::Server { .. }
                | Self::NullBody
                | Self::Timeout
                | Self::Connect(_)
                | Self::Transport(_)
                | Self::UnknownOutcome(_)
        )
    }

    /// Whether the request certainly had no effect (throttled, or never sent). Only these are
    /// retried for a POST: after a 5xx, a timeout or a `null` body the message may have been
    /// applied, and sending it again could confirm a package twice. The caller reconciles.
    pub fn certainly_not_applied(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Connect(_))
    }
}
