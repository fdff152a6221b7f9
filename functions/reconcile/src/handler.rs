use lambda_runtime::{Error, LambdaEvent};
use shared::credentials::CredentialsProvider;
use shared::domain::Clock;
use shared::overstock::OverstockApi;
use shared::services::reconcile::{CompanyCheck, reconcile_all};
use shared::store::{CompanyStore, MappingStore, OrderStore, SyncStateStore};
use tracing::Instrument;

pub struct Ports<'a, S, O, C, K> {
    pub store: &'a S,
    pub overstock: &'a O,
    pub credentials: &'a C,
    pub clock: &'a K,
    pub days: i64,
}

/// The daily check: every company's last `days` days compared with Overstock; the findings are
/// logged and emitted as metrics (nothing is repaired: that is an operator's `--repair`).
pub async fn handle<S, O, C, K>(
    ports: &Ports<'_, S, O, C, K>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<Vec<CompanyCheck>, Error>
where
    S: CompanyStore
        + MappingStore
        + OrderStore
        + SyncStateStore
        + shared::audit::AuditStore
        + shared::store::InventoryStore,
    O: OverstockApi,
    C: CredentialsProvider,
    K: Clock,
{
    let span = tracing::info_span!("reconcile", run_id = %event.context.request_id, days = ports.days);
    let checks = reconcile_all(ports.store, ports.overstock, ports.credentials, ports.clock, ports.days)
        .instrument(span)
        .await?;
    tracing::info!(checks = %serde_json::to_string(&checks).unwrap_or_default(), "reconciliation finished");
    shared::metrics::emit(shared::metrics::reconcile(&checks, ports.clock.now()));
    // A company that could not be checked fails the invocation too (after every company ran and
    // the metrics are out), so Lambda's Errors metric sees it besides `ReconcileFailed`.
    let failed: Vec<&str> = checks.iter().filter(|c| c.error.is_some()).map(|c| c.company_id.as_str()).collect();
    if !failed.is_empty() {
        return Err(
            format!("reconcile: {} compan(ies) could not be checked: {}", failed.len(), failed.join(", ")).into()
        );
    }
    Ok(checks)
}
