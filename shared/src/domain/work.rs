//! One company's work for one tick of one flow: the message a dispatcher puts on a flow's work
//! queue and a worker takes (`docs/messages/work.v1.schema.json`). A public interface like the
//! other messages: parsed strictly (a key given twice, an unknown field, a bad value is refused
//! with the field named), and kept on the work queue's DLQ when it cannot be processed.

use super::CompanyId;
use super::requests::{Fields, Rejection, reject};
use chrono::{DateTime, Utc};

/// The message version this build reads and writes.
pub const WORK_VERSION: u64 = 1;

/// The scheduled flows whose work is fanned out per company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flow {
    Download,
    Upload,
    Inventory,
    Reconcile,
}

impl Flow {
    pub const ALL: [Flow; 4] = [Flow::Download, Flow::Upload, Flow::Inventory, Flow::Reconcile];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Download => "download",
            Self::Upload => "upload",
            Self::Inventory => "inventory",
            Self::Reconcile => "reconcile",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The flow's job: the name of its lease's item in sync-state, which also holds the
    /// dispatch's marks (so that the release that ends a run marks it finished in the same
    /// write). Each service's `JOB` is this name (tested there).
    pub fn job(self) -> &'static str {
        match self {
            Self::Download => "order-download",
            Self::Upload => "tracking-upload",
            Self::Inventory => "inventory-push",
            Self::Reconcile => "reconcile",
        }
    }

    /// The flow whose job is `job`.
    pub fn of_job(job: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.job() == job)
    }
}

/// One company's work for one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub flow: Flow,
    pub company_id: CompanyId,
    /// The tick that dispatched it (the schedule's time): the worker's run id is derived from it.
    pub tick: DateTime<Utc>,
}

impl WorkItem {
    /// The message body.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "type": "work",
            "version": WORK_VERSION,
            "flow": self.flow.as_str(),
            "company_id": self.company_id.as_str(),
            "tick": super::utc_key(self.tick),
        })
        .to_string()
    }

    /// The run id a worker uses for this item (leases and watermarks are owned by it).
    pub fn run_id(&self) -> String {
        format!("{}:{}:{}", self.flow.as_str(), self.company_id, super::utc_key(self.tick))
    }
}

/// Parses a work message. Every refusal names the field and says why.
pub fn parse_work(body: &str) -> Result<WorkItem, Rejection> {
    let mut f = Fields::of_body(body)?;
    let (kind, _) = f.kind_and_version(WORK_VERSION)?;
    if kind != "work" {
        return reject("type", "must be work");
    }
    let flow_name = f.required_string("flow", 20)?;
    let Some(flow) = Flow::parse(&flow_name) else {
        let names: Vec<&str> = Flow::ALL.iter().map(|f| f.as_str()).collect();
        return reject("flow", format!("must be one of {}", names.join(", ")));
    };
    let company = f.required_string("company_id", 64)?;
    let company_id = CompanyId::parse(&company).or_else(|e| reject("company_id", e.reason))?;
    let tick = f.timestamp("tick")?.ok_or_else(|| Rejection { field: "tick".into(), reason: "missing".into() })?;
    f.done()?;
    Ok(WorkItem { flow, company_id, tick })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> WorkItem {
        WorkItem {
            flow: Flow::Download,
            company_id: CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            tick: DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn a_work_item_reads_back_as_written_for_every_flow() {
        for flow in Flow::ALL {
            let w = WorkItem { flow, ..item() };
            assert_eq!(parse_work(&w.to_json()), Ok(w.clone()), "{flow:?}");
        }
        assert_eq!(item().run_id(), "download:acme:2026-12-01T10:00:00.000Z");
    }

    /// The published schema's example and the example SQS event parse; the schema names exactly
    /// the fields the parser reads.
    #[test]
    fn the_published_schema_and_event_match_the_parser() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/messages/work.v1.schema.json")).unwrap_or_default();
        let event: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/work-download.json")).unwrap_or_default();
        let example = schema["examples"][0].to_string();
        let demo = CompanyId::parse("demo").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parse_work(&example), Ok(WorkItem { company_id: demo, ..item() }), "{example}");
        let body = event["Records"][0]["body"].as_str().unwrap_or_default();
        assert!(parse_work(body).is_ok_and(|w| w.flow == Flow::Download), "{body}");
        let mut props: Vec<&str> =
            schema["properties"].as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        props.sort_unstable();
        assert_eq!(props, ["company_id", "flow", "tick", "type", "version"]);
        let flows: Vec<&str> =
            schema["properties"]["flow"]["enum"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
        assert_eq!(flows, Flow::ALL.map(Flow::as_str));
    }

    #[test]
    fn every_bad_work_message_is_refused_with_its_field() {
        let good: serde_json::Value = serde_json::from_str(&item().to_json()).unwrap_or_default();
        let with = |k: &str, v: serde_json::Value| {
            let mut b = good.clone();
            b[k] = v;
            b.to_string()
        };
        let without = |k: &str| {
            let mut b = good.clone();
            b.as_object_mut().map(|o| o.remove(k));
            b.to_string()
        };
        for (body, field) in [
            (with("flow", "sweep".into()), "flow"),
            (with("company_id", "Acme Corp".into()), "company_id"),
            (with("tick", "yesterday".into()), "tick"),
            (with("type", "cancel".into()), "type"),
            (with("version", 2.into()), "version"),
            (with("colour", "red".into()), "colour"),
            (without("company_id"), "company_id"),
            (without("flow"), "flow"),
            (without("tick"), "tick"),
            (good.to_string().replacen("\"company_id\":", "\"company_id\":\"other\",\"company_id\":", 1), "company_id"),
            ("{not json".to_owned(), "message"),
        ] {
            let r = parse_work(&body).err();
            assert_eq!(r.as_ref().map(|r| r.field.as_str()), Some(field), "{body}: {r:?}");
        }
    }
}
