//! What AWS calls a function's code makes, against what its role in `template.yaml` allows.
//!
//! A [`Recorder`] is an SDK interceptor: on the wire (before each attempt is sent) it notes the
//! action (`dynamodb:Query`, `sqs:SendMessage`…) and the resource (a table, a table's index, a
//! queue) of every call a client makes. A test runs one function's flows with recorded clients,
//! then [`Roles::check`] finds each call among the statements the template gives that function's
//! role: a call the role lacks fails the test, naming the action, the resource and the function.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// One AWS call: `dynamodb:Query` on `orders/index/orders-open` (the table's name without the
/// test's prefix), `sqs:SendMessage` on a queue URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub action: String,
    pub resource: String,
}

/// Records every call of the clients it is attached to: the distinct (action, resource) pairs,
/// and every call in order (a batch call naming two tables counts once, under its first).
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<(BTreeSet<Call>, Vec<Call>)>>);

impl Recorder {
    pub fn calls(&self) -> BTreeSet<Call> {
        self.0.lock().map(|c| c.0.clone()).unwrap_or_default()
    }

    /// Every call since the last `clear`, in order.
    pub fn log(&self) -> Vec<Call> {
        self.0.lock().map(|c| c.1.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut c) = self.0.lock() {
            c.0.clear();
            c.1.clear();
        }
    }

    fn note(&self, action: String, resources: Vec<String>) {
        if let Ok(mut c) = self.0.lock() {
            if let Some(first) = resources.first() {
                c.1.push(Call { action: action.clone(), resource: first.clone() });
            }
            for resource in resources {
                c.0.insert(Call { action: action.clone(), resource });
            }
        }
    }
}

/// The resources a DynamoDB or SQS request body names.
fn resources(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = body["TableName"].as_str() {
        match body["IndexName"].as_str() {
            Some(i) => out.push(format!("{t}/index/{i}")),
            None => out.push(t.to_owned()),
        }
    }
    if let Some(items) = body["RequestItems"].as_object() {
        out.extend(items.keys().cloned());
    }
    for item in body["TransactItems"].as_array().into_iter().flatten() {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(t) = op["TableName"].as_str() {
                out.push(t.to_owned());
            }
        }
    }
    if let Some(q) = body["QueueUrl"].as_str() {
        out.push(q.to_owned());
    }
    out
}

impl aws_sdk_dynamodb::config::Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request();
        let body: Value = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
        let action = match request.headers().get("x-amz-target") {
            Some(t) if t.starts_with("DynamoDB_") => t.split_once('.').map(|(_, op)| format!("dynamodb:{op}")),
            // SQS's batch operations are authorised by the single one's IAM action.
            Some(t) if t.starts_with("AmazonSQS.") => t.split_once('.').map(|(_, op)| {
                let op = match op {
                    "SendMessageBatch" => "SendMessage",
                    "DeleteMessageBatch" => "DeleteMessage",
                    "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
                    other => other,
                };
                format!("sqs:{op}")
            }),
            Some(t) => Some(format!("unknown:{t}")),
            None => Some(format!("unknown:{}", request.uri())),
        };
        if let Some(action) = action {
            let mut found = resources(&body);
            if found.is_empty() {
                found.push("*".to_owned());
            }
            self.note(action, found);
        }
        Ok(())
    }
}

/// A DynamoDB store whose client records its calls, on the same tables as `like`.
pub async fn recorded_store(like: &shared::store::DynamoStore, recorder: &Recorder) -> shared::store::DynamoStore {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(recorder.clone()).build(),
    );
    shared::store::DynamoStore::new(client, like.tables().clone())
}

/// An SQS client that records its calls.
pub async fn recorded_sqs(recorder: &Recorder) -> aws_sdk_sqs::Client {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&sdk).interceptor(recorder.clone()).build())
}

/// One statement of a role: its actions and resources, resources written as logical names
/// (`OrdersTable`, `OrdersTable/index/orders-open`, `RequestOutcomesQueue`).
#[derive(Debug, Clone)]
struct Statement {
    actions: Vec<String>,
    resources: Vec<String>,
}

/// The functions' roles as `template.yaml` writes them (read from the JSON that `cfn-lint`'s
/// decoder makes of it: `TEMPLATE_JSON`, written by scripts/test.sh).
pub struct Roles {
    template: Value,
    statements: BTreeMap<String, Vec<Statement>>,
}

/// `{"Fn::GetAtt": ["OrdersTable", "Arn"]}` → `OrdersTable`; `{"Fn::Sub": "${OrdersTable.Arn}/index/x"}`
/// → `OrdersTable/index/x`; `{"Ref": "X"}` → `X`; a plain string as it is.
fn logical(v: &Value) -> String {
    if let Some(a) = v.get("Fn::GetAtt").and_then(|a| a.as_array()) {
        return a.first().and_then(|x| x.as_str()).unwrap_or_default().to_owned();
    }
    if let Some(s) = v.get("Fn::Sub").and_then(|s| s.as_str()) {
        return s.replace(".Arn}", "").replace("${", "");
    }
    if let Some(r) = v.get("Ref").and_then(|r| r.as_str()) {
        return r.to_owned();
    }
    v.as_str().unwrap_or_default().to_owned()
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

impl Roles {
    pub fn load() -> Self {
        let path = crate::required_env("TEMPLATE_JSON");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let template: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut statements = BTreeMap::new();
        for (name, r) in template["Resources"].as_object().into_iter().flatten() {
            if r["Type"] != "AWS::Serverless::Function" {
                continue;
            }
            let mut out = Vec::new();
            for policy in list(&r["Properties"]["Policies"]) {
                for s in list(&policy["Statement"]) {
                    if s["Effect"] != "Allow" {
                        continue;
                    }
                    out.push(Statement {
                        actions: list(&s["Action"]).iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
                        resources: list(&s["Resource"]).iter().map(logical).collect(),
                    });
                }
            }
            statements.insert(name.clone(), out);
        }
        Self { template, statements }
    }

    /// Every inline policy document of every function, for checks on their form.
    pub fn policies(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for (name, r) in self.template["Resources"].as_object().into_iter().flatten() {
            if r["Type"] == "AWS::Serverless::Function" {
                out.extend(list(&r["Properties"]["Policies"]).into_iter().map(|p| (name.clone(), p)));
            }
        }
        out
    }

    /// The template's resource for a table (by its name without the prefix) or a queue (by the
    /// environment variable the function reads its URL from).
    fn resource_of(&self, function: &str, call: &Call, prefix: &str, queues: &BTreeMap<String, String>) -> String {
        if call.action.starts_with("sqs:") {
            let var = queues.iter().find(|(_, url)| **url == call.resource).map(|(var, _)| var.clone());
            let Some(var) = var else { return format!("(a queue this test did not name: {})", call.resource) };
            return logical(&self.template["Resources"][function]["Properties"]["Environment"]["Variables"][&var]);
        }
        let (table, index) = match call.resource.split_once("/index/") {
            Some((t, i)) => (t, Some(i)),
            None => (call.resource.as_str(), None),
        };
        let suffix = table.strip_prefix(prefix).unwrap_or(table);
        let id = self.template["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .find(|(_, r)| {
                r["Type"] == "AWS::DynamoDB::Table"
                    && r["Properties"]["TableName"]["Fn::Sub"].as_str() == Some(&format!("${{TablePrefix}}{suffix}"))
            })
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| format!("(no table named {suffix} in the template)"));
        match index {
            Some(i) => format!("{id}/index/{i}"),
            None => id,
        }
    }

    /// The calls among `calls` that `function`'s role does not allow, each as
    /// "action on resource". `prefix`: the test tables' prefix; `queues`: environment variable →
    /// queue URL, as the function would be configured.
    pub fn missing(
        &self,
        function: &str,
        calls: &BTreeSet<Call>,
        prefix: &str,
        queues: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let statements = self.statements.get(function).cloned().unwrap_or_default();
        let mut out = Vec::new();
        for call in calls {
            let resource = self.resource_of(function, call, prefix, queues);
            let allowed = statements.iter().any(|s| {
                s.actions.iter().any(|a| {
                    a == &call.action || a == "*" || a.strip_suffix('*').is_some_and(|p| call.action.starts_with(p))
                }) && s
                    .resources
                    .iter()
                    .any(|r| r == &resource || r == "*" || r.strip_suffix('*').is_some_and(|p| resource.starts_with(p)))
            });
            if !allowed {
                out.push(format!("{function}: {} on {resource}", call.action));
            }
        }
        out
    }

    /// The grants of `function` that no call among `calls` used (printed, for tightening).
    pub fn unused(
        &self,
        function: &str,
        calls: &BTreeSet<Call>,
        prefix: &str,
        queues: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let used: BTreeSet<(String, String)> =
            calls.iter().map(|c| (c.action.clone(), self.resource_of(function, c, prefix, queues))).collect();
        let mut out = Vec::new();
        for s in self.statements.get(function).into_iter().flatten() {
            for a in s.actions.iter().filter(|a| a.starts_with("dynamodb:") || a.starts_with("sqs:")) {
                // Only reads by index name an index; item writes and gets name the table.
                let on_index = matches!(a.as_str(), "dynamodb:Query" | "dynamodb:Scan");
                for r in s.resources.iter().filter(|r| on_index || !r.contains("/index/")) {
                    if !used.contains(&(a.clone(), r.clone())) {
                        out.push(format!("{function}: {a} on {r}"));
                    }
                }
            }
        }
        out
    }
}
