//! CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per company and run
//! (dimensions `Function`, `Company`) and one per run (`Function`), which CloudWatch Logs turns
//! into metrics with no API call. Namespace `OverstockConnector`; names in docs/decisions.md.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub const NAMESPACE: &str = "OverstockConnector";

/// One EMF line: `dimensions` (name, value) and `metrics` (name, value, unit).
pub fn line(dimensions: &[(&str, &str)], metrics: &[(&str, f64, &str)], at: DateTime<Utc>) -> String {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                // The full set (per company) and, with more than one, the first dimension alone:
                // alarms watch `Function` without knowing the companies.
                "Dimensions": dimension_sets(dimensions),
                "Metrics": metrics.iter().map(|(n, _, u)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (k, v) in dimensions {
        root.insert((*k).into(), Value::String((*v).into()));
    }
    for (n, v, _) in metrics {
        root.insert((*n).into(), json!(v));
    }
    Value::Object(root).to_string()
}

fn dimension_sets(dimensions: &[(&str, &str)]) -> Vec<Vec<String>> {
    let all: Vec<String> = dimensions.iter().map(|(k, _)| (*k).to_owned()).collect();
    let mut sets = vec![all.clone()];
    if all.len() > 1 {
        sets.push(all[..1].to_vec());
    }
    sets
}

pub(crate) fn n(v: usize) -> f64 {
    v as f64
}

pub(crate) fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Overstock attempts by outcome during the run (the client's counters, before and after).
fn call_metrics(before: &BTreeMap<&'static str, u64>, after: &BTreeMap<&'static str, u64>) -> Vec<Metric> {
    let name = |class: &str| match class {
        "2xx" => "OverstockCalls2xx",
        "4xx" => "OverstockCalls4xx",
        "429" => "OverstockCalls429",
        "5xx" => "OverstockCalls5xx",
        "null" => "OverstockCallsNull",
        "timeout" => "OverstockCallsTimeout",
        _ => "OverstockCallsNetwork",
    };
    after
        .iter()
        .map(|(class, v)| (name(class), v.saturating_sub(before.get(class).copied().unwrap_or(0)) as f64, "Count"))
        .collect()
}

/// A metric: name, value, unit.
pub type Metric = (&'static str, f64, &'static str);
/// The Overstock client's attempt counters before and after a run.
pub type Calls<'a> = (&'a BTreeMap<&'static str, u64>, &'a BTreeMap<&'static str, u64>);

/// One line per company (its metrics, its outcome's among them), then the run's line.
pub(crate) fn run_lines<'a>(
    function: &str,
    companies: impl Iterator<Item = (&'a str, Vec<Metric>, [Metric; 4])>,
    calls: Calls<'_>,
    duration_ms: f64,
    at: DateTime<Utc>,
) -> Vec<String> {
    let mut out: Vec<String> = companies
        .map(|(company, mut m, outcome)| {
            m.extend(outcome);
            line(&[("Function", function), ("Company", company)], &m, at)
        })
        .collect();
    let mut m = vec![("RunDuration", duration_ms, "Milliseconds")];
    m.extend(call_metrics(calls.0, calls.1));
    out.push(line(&[("Function", function)], &m, at));
    out
}

/// The line of one dispatch tick (plain figures: the fan-out builds it from its summary).
pub fn dispatch_line(
    function: &str,
    companies: usize,
    dispatched: usize,
    in_flight: usize,
    errors: usize,
    at: DateTime<Utc>,
) -> String {
    line(
        &[("Function", function)],
        &[
            ("DispatchCompanies", n(companies), "Count"),
            ("WorkDispatched", n(dispatched), "Count"),
            ("WorkInFlight", n(in_flight), "Count"),
            ("DispatchErrors", n(errors), "Count"),
        ],
        at,
    )
}

/// The line of one request batch (cancel-request, refund-request): messages, those left for a
/// redelivery (item failures), DynamoDB calls.
pub fn request_batch(
    function: &str,
    messages: usize,
    retried: usize,
    dynamodb_calls: u64,
    at: DateTime<Utc>,
) -> String {
    line(
        &[("Function", function)],
        &[
            ("RequestMessages", n(messages), "Count"),
            ("RequestsRetried", n(retried), "Count"),
            ("DynamoDbCalls", dynamodb_calls as f64, "Count"),
        ],
        at,
    )
}

/// Prints the lines on stdout, where CloudWatch Logs extracts them.
#[allow(clippy::print_stdout)]
pub fn emit(lines: Vec<String>) {
    for l in lines {
        println!("{l}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_embedded_metric_format() {
        let at = DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
        let v: Value = serde_json::from_str(&line(
            &[("Function", "order-download"), ("Company", "acme")],
            &[("OrdersNew", 3.0, "Count"), ("RunDuration", 1200.0, "Milliseconds")],
            at,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let spec = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_795_000_000_000i64);
        assert_eq!(spec["Namespace"], NAMESPACE);
        assert_eq!(spec["Dimensions"], json!([["Function", "Company"], ["Function"]]));
        // Every declared metric and dimension has its value at the top level.
        for m in spec["Metrics"].as_array().into_iter().flatten() {
            let name = m["Name"].as_str().unwrap_or_default();
            assert!(v[name].is_number(), "{name}");
        }
        assert_eq!((v["Company"].as_str(), v["OrdersNew"].as_f64()), (Some("acme"), Some(3.0)));
    }

    #[test]
    fn calls_are_counted_for_the_run_only() {
        let before = BTreeMap::from([("2xx", 10), ("429", 1)]);
        let after = BTreeMap::from([("2xx", 14), ("429", 1), ("5xx", 2)]);
        let m = call_metrics(&before, &after);
        assert!(m.contains(&("OverstockCalls2xx", 4.0, "Count")));
        assert!(m.contains(&("OverstockCalls429", 0.0, "Count")));
        assert!(m.contains(&("OverstockCalls5xx", 2.0, "Count")));
    }
}
