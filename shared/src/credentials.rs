//! Overstock API credentials: where they come from, and a type that never prints the password.

use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;

/// A password. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The clear text, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An Overstock API user and password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The secret does not exist or is malformed: permanent, the company gets flagged.
    #[error("credentials {reference:?} unusable: {reason}")]
    Invalid { reference: String, reason: String },
    /// The secret store could not be reached: retryable.
    #[error("credentials {reference:?} unavailable: {reason}")]
    Unavailable { reference: String, reason: String },
}

impl CredentialsError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// The port: resolves a company's `credentials_ref` to credentials.
pub trait CredentialsProvider: Send + Sync {
    fn credentials(&self, reference: &str) -> impl Future<Output = Result<Credentials, CredentialsError>> + Send;
}

fn parse_secret_json(reference: &str, text: &str) -> Result<Credentials, CredentialsError> {
    serde_json::from_str::<Credentials>(text).map_err(|e| CredentialsError::Invalid {
        reference: reference.to_owned(),
        // serde_json's message names the missing field, never the value.
        reason: format!("secret is not {{\"username\":…,\"password\":…}}: {}", e.classify_label()),
    })
}

trait ClassifyLabel {
    fn classify_label(&self) -> &'static str;
}
impl ClassifyLabel for serde_json::Error {
    fn classify_label(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "missing or wrong field",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Production: the reference is a Secrets Manager secret id or ARN whose value is
/// `{"username": "...", "password": "..."}`.
#[derive(Clone)]
pub struct SecretsManagerProvider {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerProvider {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }
}

impl CredentialsProvider for SecretsManagerProvider {
    async fn credentials(&self, reference: &str) -> Result<Credentials, CredentialsError> {
        use aws_sdk_secretsmanager::error::SdkError;
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
        let out = self.client.get_secret_value().secret_id(reference).send().await.map_err(|e| {
            let reason = e.to_string();
            match &e {
                SdkError::ServiceError(se)
                    if matches!(
                        se.err(),
                        GetSecretValueError::ResourceNotFoundException(_)
                            | GetSecretValueError::InvalidParameterException(_)
                            | GetSecretValueError::DecryptionFailure(_)
                    ) =>
                {
                    CredentialsError::Invalid { reference: reference.to_owned(), reason }
                }
                _ => CredentialsError::Unavailable { reference: reference.to_owned(), reason },
            }
        })?;
        let text = out.secret_string().ok_or_else(|| CredentialsError::Invalid {
            reference: reference.to_owned(),
            reason: "secret has no string value".into(),
        })?;
        parse_secret_json(reference, text)
    }
}

/// Local runs and tests: a JSON file mapping references to credentials,
/// `{"demo": {"username": "...", "password": "..."}}`, read on each call (so an operator can
/// fix it without restarting `cargo lambda watch`).
#[derive(Debug, Clone)]
pub struct FileProvider {
    path: PathBuf,
}

impl FileProvider {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl CredentialsProvider for FileProvider {
    async fn credentials(&self, reference: &str) -> Result<Credentials, CredentialsError> {
        let text = tokio::fs::read_to_string(&self.path).await.map_err(|e| CredentialsError::Unavailable {
            reference: reference.to_owned(),
            reason: format!("cannot read {}: {e}", self.path.display()),
        })?;
        let all: HashMap<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| CredentialsError::Invalid {
                reference: reference.to_owned(),
                reason: format!("{} is not a JSON object: {}", self.path.display(), e.classify_label()),
            })?;
        let entry = all.get(reference).ok_or_else(|| CredentialsError::Invalid {
            reference: reference.to_owned(),
            reason: format!("no entry in {}", self.path.display()),
        })?;
        parse_secret_json(reference, &entry.to_string())
    }
}

/// The provider chosen by configuration: `CREDENTIALS_SOURCE=secretsmanager` (default) or `file`
/// with `CREDENTIALS_FILE`.
#[derive(Clone)]
pub enum ConfiguredProvider {
    SecretsManager(SecretsManagerProvider),
    File(FileProvider),
}

impl ConfiguredProvider {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, crate::config::ConfigError> {
        let err = |key: &str, value: String, reason: &str| crate::config::ConfigError {
            key: key.into(),
            value,
            reason: reason.into(),
        };
        match std::env::var("CREDENTIALS_SOURCE").unwrap_or_else(|_| "secretsmanager".into()).as_str() {
            "secretsmanager" => {
                Ok(Self::SecretsManager(SecretsManagerProvider::new(aws_sdk_secretsmanager::Client::new(config))))
            }
            "file" => std::env::var("CREDENTIALS_FILE")
                .map(|p| Self::File(FileProvider::new(p)))
                .map_err(|_| err("CREDENTIALS_FILE", String::new(), "CREDENTIALS_SOURCE=file needs it")),
            other => Err(err("CREDENTIALS_SOURCE", other.to_owned(), "expected secretsmanager or file")),
        }
    }
}

impl CredentialsProvider for ConfiguredProvider {
    async fn credentials(&self, reference: &str) -> Result<Credentials, CredentialsError> {
        match self {
            Self::SecretsManager(p) => p.credentials(reference).await,
            Self::File(p) => p.credentials(reference).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_never_printed() {
        let c = Credentials { username: "u".into(), password: Secret::new("hunter2") };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.password.expose(), "hunter2");
    }

    #[tokio::test]
    async fn file_provider_reads_entries_and_explains_missing_ones() {
        let dir = std::env::temp_dir().join(format!("creds-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("c.json");
        let _ = std::fs::write(&path, r#"{"demo":{"username":"u","password":"p"},"bad":{"username":"u"}}"#);
        let p = FileProvider::new(&path);
        let c = p.credentials("demo").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.username.as_str(), c.password.expose()), ("u", "p"));
        assert!(matches!(p.credentials("nope").await, Err(CredentialsError::Invalid { .. })));
        match p.credentials("bad").await {
            Err(CredentialsError::Invalid { reason, .. }) => assert!(reason.contains("missing")),
            other => panic!("expected invalid, got {other:?}"),
        }
    }
}
