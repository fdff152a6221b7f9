//! Where a company's Overstock credentials may be sent: the API base URL as a parsed value, and
//! the deployment's policy that says which base URLs may receive credentials.
//!
//! Overstock's production and test hosts over https always may; other https hosts only when the
//! deployment lists them (`OVERSTOCK_ALLOWED_HOSTS`, empty by default); plain http only to a
//! literal loopback address (127.0.0.0/8 or ::1) and only when the deployment allows it
//! (`OVERSTOCK_ALLOW_LOOPBACK`, local runs). A host *name* that merely starts like an address
//! (`127.0.0.1.example.com`) or `localhost` is not a literal address and is refused.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use url::{Host, Url};

/// Overstock's production API.
pub const PRODUCTION_BASE_URL: &str = "https://api.supplieroasis.com";
/// Overstock's test API.
pub const TEST_BASE_URL: &str = "https://api.test.supplieroasis.com";
const OVERSTOCK_HOSTS: [&str; 2] = ["api.supplieroasis.com", "api.test.supplieroasis.com"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("API base URL {url:?}: {reason}")]
pub struct InvalidBaseUrl {
    pub url: String,
    pub reason: String,
}

/// An Overstock API base URL: scheme, host and port only (no user, path, query or fragment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiBaseUrl(Url);

impl ApiBaseUrl {
    /// `production`, `test`, or an `http(s)://host[:port]` URL (a trailing `/` is allowed).
    pub fn parse(s: &str) -> Result<Self, InvalidBaseUrl> {
        let bad = |reason: &str| InvalidBaseUrl { url: s.chars().take(200).collect(), reason: reason.into() };
        let text = match s.trim() {
            "production" => PRODUCTION_BASE_URL,
            "test" => TEST_BASE_URL,
            other => other,
        };
        let url = Url::parse(text).map_err(|e| bad(&format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(bad("the scheme must be https (or http to a local sandbox)"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials never go in the URL"));
        }
        if url.host().is_none() {
            return Err(bad("no host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("only scheme, host and port: the API's paths are directly under the root"));
        }
        Ok(Self(url))
    }

    /// The URL without a trailing slash: `https://api.supplieroasis.com`.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// The URL of one API path (`/salesorders`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.as_str())
    }

    /// Whether `policy` lets credentials go to this URL.
    pub fn check(&self, policy: &EndpointPolicy) -> Result<(), InvalidBaseUrl> {
        let refuse = |reason: &str| Err(InvalidBaseUrl { url: self.as_str().into(), reason: reason.into() });
        match (self.0.scheme(), self.0.host()) {
            ("https", Some(Host::Domain(h))) => {
                let h = h.to_ascii_lowercase();
                if OVERSTOCK_HOSTS.contains(&h.as_str())
                    || policy.allowed_hosts.iter().any(|a| a.eq_ignore_ascii_case(&h))
                {
                    Ok(())
                } else {
                    refuse("not Overstock's production or test host, and not in OVERSTOCK_ALLOWED_HOSTS")
                }
            }
            ("https", Some(Host::Ipv4(ip))) if policy.allowed_hosts.iter().any(|a| a == &ip.to_string()) => Ok(()),
            ("http", Some(host)) => {
                let loopback = match host {
                    Host::Ipv4(ip) => IpAddr::V4(ip).is_loopback(),
                    Host::Ipv6(ip) => IpAddr::V6(ip).is_loopback(),
                    Host::Domain(_) => false,
                };
                match (loopback, policy.allow_loopback) {
                    (true, true) => Ok(()),
                    (true, false) => refuse(
                        "plain http to a loopback sandbox is allowed only in local runs (OVERSTOCK_ALLOW_LOOPBACK)",
                    ),
                    (false, _) => refuse("plain http only to a literal loopback address (127.0.0.0/8 or ::1)"),
                }
            }
            _ => refuse("not an allowed host"),
        }
    }
}

impl TryFrom<String> for ApiBaseUrl {
    type Error = InvalidBaseUrl;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ApiBaseUrl> for String {
    fn from(u: ApiBaseUrl) -> Self {
        u.as_str().to_owned()
    }
}

impl std::fmt::Display for ApiBaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The deployment's rule for where credentials may be sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// Extra https hosts (exact names), e.g. an Overstock host not yet known to this code.
    pub allowed_hosts: Vec<String>,
    /// Plain http to a literal loopback address (a local sandbox).
    pub allow_loopback: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> ApiBaseUrl {
        ApiBaseUrl::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    const LOCAL: EndpointPolicy = EndpointPolicy { allowed_hosts: Vec::new(), allow_loopback: true };
    const DEPLOYED: EndpointPolicy = EndpointPolicy { allowed_hosts: Vec::new(), allow_loopback: false };

    #[test]
    fn overstock_hosts_always_pass() {
        for u in ["production", "test", "https://api.supplieroasis.com/", "https://API.supplieroasis.com:443"] {
            assert_eq!(url(u).check(&DEPLOYED), Ok(()), "{u}");
        }
        assert_eq!(url("production").endpoint("/salesorders"), "https://api.supplieroasis.com/salesorders");
    }

    #[test]
    fn lookalike_hosts_are_refused() {
        for u in [
            "http://127.0.0.1.evil.example:8090",
            "http://localhost:8090",
            "https://api.supplieroasis.com.evil.example",
            "https://evil.example",
            "http://10.0.0.5:8090",
            "http://api.supplieroasis.com",
        ] {
            assert!(url(u).check(&LOCAL).is_err(), "{u} must be refused");
        }
    }

    #[test]
    fn loopback_only_when_the_deployment_allows_it() {
        for u in ["http://127.0.0.1:8090", "http://127.3.4.5:1", "http://[::1]:8090"] {
            assert_eq!(url(u).check(&LOCAL), Ok(()), "{u}");
            assert!(url(u).check(&DEPLOYED).is_err(), "{u} in a deployment");
        }
    }

    #[test]
    fn listed_hosts_pass_over_https_only() {
        let p = EndpointPolicy { allowed_hosts: vec!["ostk-proxy.example".into()], allow_loopback: false };
        assert_eq!(url("https://ostk-proxy.example").check(&p), Ok(()));
        assert!(url("http://ostk-proxy.example").check(&p).is_err());
    }

    #[test]
    fn malformed_urls_are_refused_at_parse() {
        for u in [
            "ftp://api.supplieroasis.com",
            "https://user:pw@api.supplieroasis.com",
            "https://api.supplieroasis.com/v1",
            "https://api.supplieroasis.com/?x=1",
            "not a url",
            "",
        ] {
            assert!(ApiBaseUrl::parse(u).is_err(), "{u}");
        }
    }
}
