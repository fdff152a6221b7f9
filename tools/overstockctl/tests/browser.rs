//! The console in a real browser: headless Chromium (Debian's, driven over WebDriver) against
//! `overstockctl console` (the built binary) over moto and the Overstock sandbox. A person's four
//! tasks — change a setting, map an unmapped code, reset a failed upload, queue a cancel — each
//! done by clicking and typing, then checked in DynamoDB, SQS and the sandbox; and what is refused:
//! no session, no or a wrong CSRF token, a value `company set` refuses.
//!
//! Screenshots of the pages go to `CONSOLE_SCREENSHOTS` (a folder; docs/console is refreshed with
//! `CONSOLE_SCREENSHOTS=docs/console`), else to a temporary folder.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use shared::domain::OrderNumber;
use shared::domain::SystemClock;
use shared::domain::shipment::{ShipmentRequest, UploadState};
use shared::services::requests::{MessageResult, RequestService};
use shared::store::{CompanyStore, MappingStore, OrderStore, RequestState, RequestStore};
use tests::browser::Browser;
use tests::{World, of, unique, up};

mod common;

fn num(s: &str) -> OrderNumber {
    OrderNumber::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn an_operator_does_the_four_tasks_in_the_browser_and_each_lands_in_the_tables_and_queues() {
    // The world: a company on the sandbox with four orders, one of them with a code nobody mapped.
    let mut w = World::new().await;
    let id = w.company("current", |s| s.fulfillment_upload = true).await;
    w.standard_mappings(&id).await;
    let created = Utc::now() - Duration::minutes(30);
    // B-5 as hostile data arrives: markup in its service level code and its SKU (item name).
    const CODE5: &str = "<i>X&Y</i>";
    const SKU5: &str = "<img src=x onerror=alert(9)>";
    for (n, code, sku) in [
        ("B-1", "GROUND", "A"),
        ("B-2", "WHITE_GLOVE", "B"),
        ("B-3", "GROUND", "C"),
        ("B-4", "GROUND", "D"),
        ("B-5", CODE5, SKU5),
    ] {
        let line = json!({"partner_sku": sku, "quantity": 1, "item_price": "19.99"});
        w.sandbox
            .seed(
                id.as_str(),
                json!({"order_number": n, "created": created, "service_level_code": code, "lines": [line]}),
            )
            .await;
    }
    let run = w.download(&unique("first")).await;
    assert_eq!((of(&run, &id).new, of(&run, &id).unmapped), (5, 2), "{:?}", of(&run, &id));
    // B-4's tracking is refused by Overstock until its retries are spent: a failed upload.
    let req = ShipmentRequest {
        lines: vec![("1".into(), 1)],
        carrier_code: None,
        shipping_method: None,
        tracking_number: "TBAD4".into(),
        ship_date: Utc::now() - Duration::minutes(5),
    };
    shared::services::shipping::record_shipment(&w.store, &id, &num("B-4"), &req, Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    w.sandbox.faults(id.as_str(), json!({"reject_tracking": ["TBAD4"]})).await;
    w.upload_config.max_attempts = 1;
    let s = w.upload(&unique("up")).await;
    assert_eq!(up(&s, &id).rejected, 1);
    assert_eq!(w.store.list_upload_failed(&id).await.unwrap_or_default().len(), 1);
    w.sandbox.faults(id.as_str(), json!({})).await; // the carrier knows the tracking now

    let sqs = aws_sdk_sqs::Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await);
    // The request queues with their dead-letter queues, as the template makes them.
    let mut queues = Vec::new();
    for name in ["cancel-", "refund-"] {
        let dlq = tests::queue(&sqs, &format!("{name}dlq-")).await;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&dlq)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .attributes
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
            .unwrap_or_default();
        let queue = tests::queue(&sqs, name).await;
        sqs.set_queue_attributes()
            .queue_url(&queue)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": arn, "maxReceiveCount": 5}).to_string(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        queues.push(queue);
    }
    let (cancel_queue, refund_queue) = (queues[0].clone(), queues[1].clone());
    let prefix = w.store.tables().companies.trim_end_matches("companies").to_owned();

    // The console as the operator starts it.
    let credentials = w.credentials_file().display().to_string();
    let console = common::start(&[
        ("TABLE_PREFIX", &prefix),
        ("CREDENTIALS_SOURCE", "file"),
        ("CREDENTIALS_FILE", &credentials),
        ("CANCEL_QUEUE_URL", &cancel_queue),
        ("REFUND_QUEUE_URL", &refund_queue),
    ]);
    let (base, login) = (console.base.clone(), console.login.clone());
    // A relative folder is the workspace's (cargo runs the test in the package's folder).
    let shots = std::env::var("CONSOLE_SCREENSHOTS")
        .map(|d| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(d))
        .unwrap_or_else(|_| std::env::temp_dir().join(unique("console-shots-")));
    let c = id.as_str();

    let b = Browser::start().await;
    // Without the one-time URL: nothing but how to get in.
    b.goto(&format!("{base}/c/{c}")).await;
    assert!(b.text("h1").await.contains("Sign in"));
    assert!(!b.source().await.contains("ACME MAIN"), "no table data without a session");
    // Signed in by the printed URL: the companies page with the company's health.
    b.goto(&login).await;
    assert_eq!(b.url().await, format!("{base}/"));
    let row = b.text("#companies").await;
    assert!(row.contains(c), "{row}");
    let html = b.source().await;
    assert!(html.contains(&format!("/c/{c}/mappings\">2<")), "two unmapped orders, linked");
    let dlqs = b.text("#dlqs").await;
    assert!(dlqs.contains("cancel-dlq-") && dlqs.contains("refund-dlq-"), "each request queue's DLQ: {dlqs}");
    b.screenshot(&shots.join("companies.png")).await;

    // 1. A setting: Send Backorder Information on, lead time 3 months.
    b.follow(&format!("a[href='/c/{c}']")).await;
    b.click("#backorder-info option[value=on]").await;
    b.fill("#lead-time-months", "3").await;
    b.screenshot(&shots.join("settings.png")).await;
    b.follow("#save-settings").await;
    assert!(b.text("#flash").await.contains("Settings saved"));
    let stored = w.store.get_company(&id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("company"));
    assert!(stored.settings.send_backorder_info);
    assert_eq!(stored.settings.backorder_lead_time_months.get(), 3);
    // A value `company set` refuses is refused here with its reason, and nothing changes.
    b.fill("#lead-time-months", "0").await;
    b.click("#backorder-info option[value=off]").await;
    b.follow("#save-settings").await;
    assert!(b.text("#error").await.contains("lead time"), "{}", b.text("#error").await);
    let after = w.store.get_company(&id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("company"));
    assert_eq!(after.settings, stored.settings, "a refused form changes nothing");

    // 2. The unmapped code offered on the mappings page, mapped; the next download maps B-2.
    b.goto(&format!("{base}/c/{c}/mappings")).await;
    assert!(b.text("#unmapped-codes").await.contains("WHITE_GLOVE"));
    // Markup from Overstock is shown as text, never as markup (the page's source holds it escaped).
    assert!(b.text("#unmapped-codes").await.contains("<I>X&Y</I>"), "{}", b.text("#unmapped-codes").await);
    let html = b.source().await;
    assert!(html.contains("&lt;I&gt;X&amp;Y&lt;/I&gt;") && !html.contains("<I>X"), "escaped");
    b.fill("#unmapped-codes form[data-code=WHITE_GLOVE] input[name=shipping_method]", "White Glove Delivery").await;
    b.fill("#unmapped-codes form[data-code=WHITE_GLOVE] input[name=code_to_send]", "FXFE").await;
    b.screenshot(&shots.join("mappings.png")).await;
    b.follow("#unmapped-codes form[data-code=WHITE_GLOVE] button").await;
    assert!(b.text("#flash").await.contains("Mapped WHITE_GLOVE to White Glove Delivery"));
    let ms = w.store.list_mappings(&id).await.unwrap_or_default();
    assert!(ms.iter().any(|m| m.code_to_receive.as_str() == "WHITE_GLOVE" && m.code_to_send == "FXFE"), "{ms:?}");
    assert_eq!(w.order(&id, "B-2").await.shipping, None, "mapped by the download, not by the console");
    let run = w.download(&unique("after-mapping")).await;
    assert_eq!(of(&run, &id).remapped, 1, "{:?}", of(&run, &id));
    let b2 = w.order(&id, "B-2").await;
    assert_eq!(b2.shipping.as_ref().map(|s| s.shipping_method.as_str()), Some("White Glove Delivery"));
    assert!(!b2.is_unmapped());
    b.goto(&format!("{base}/c/{c}/mappings")).await;
    assert!(b.text("#mappings").await.contains("WHITE_GLOVE"));
    assert!(!b.text("#unmapped-codes").await.contains("WHITE_GLOVE"), "B-2 waits for no mapping any more");

    b.goto(&format!("{base}/c/{c}/order?n=B-5")).await;
    assert!(b.text("#lines").await.contains(SKU5), "shown as the text it is");
    assert_eq!(b.count("img").await, 0, "no element made of Overstock's text");

    // 3. The failed upload, found from the attention list, reset from the order's page (Overstock
    // read first), then sent by the next upload.
    b.goto(&format!("{base}/c/{c}/orders")).await;
    let list = b.text("#attention").await;
    assert!(list.contains("B-4") && list.contains("failed upload"), "{list}");
    b.screenshot(&shots.join("attention.png")).await;
    b.follow("#attention a[href$='n=B-4']").await;
    assert!(b.text("#packages").await.contains("FAILED"));
    assert!(b.text("#ship-to").await.len() > 3, "the order's own page shows its address");
    b.screenshot(&shots.join("order.png")).await;
    let clicked = Utc::now() - Duration::seconds(1);
    b.follow("#reset-all").await;
    assert!(b.text("#flash").await.contains("1 failed upload(s) of B-4 back in the queue"));
    let b4 = w.order(&id, "B-4").await;
    assert_eq!(b4.shipments[0].lines[0].upload, UploadState::Pending);
    assert!(w.store.list_upload_failed(&id).await.unwrap_or_default().is_empty());
    // Overstock was read first (the call is on the company's audit trail, at the reset).
    let calls = shared::audit::AuditStore::list_calls(&w.store, &id, clicked, 50).await.unwrap_or_default();
    assert!(
        calls.iter().any(|k| k.operation == shared::audit::Operation::GetSalesOrders),
        "{:?}",
        calls.iter().map(|k| k.operation.as_str()).collect::<Vec<_>>()
    );
    let s = w.upload(&unique("after-reset")).await;
    assert_eq!((up(&s, &id).sent, up(&s, &id).accepted), (1, 1), "sent once after the reset");

    // 4. A cancel queued from the requests page: on the cancel queue as the consumer reads it,
    // handled by the request service as the function would, its outcome on the page.
    b.goto(&format!("{base}/c/{c}/requests?n=B-3")).await;
    b.click("#cancel select[name=reason] option[value=OUT_OF_STOCK]").await;
    b.follow("#queue-cancel").await;
    assert!(b.text("#flash").await.contains("Queued cancel request console-"));
    let got = sqs
        .receive_message()
        .queue_url(&cancel_queue)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let messages = got.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1, "one message on the cancel queue");
    let body = messages[0].body.clone().unwrap_or_default();
    let m: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (m["type"].as_str(), m["order_number"].as_str(), m["reason"].as_str()),
        (Some("cancel"), Some("B-3"), Some("OUT_OF_STOCK"))
    );
    assert_eq!(m["requested_by"], "overstockctl console");
    shared::domain::requests::parse_request(&body).unwrap_or_else(|e| panic!("the consumer refuses it: {e}"));
    let refunds = sqs.receive_message().queue_url(&refund_queue).wait_time_seconds(0).send().await;
    assert!(refunds.map(|r| r.messages.unwrap_or_default().is_empty()).unwrap_or(false), "nothing on the refund queue");
    let svc = RequestService {
        store: &w.store,
        overstock: &w.overstock,
        credentials: &w.credentials,
        clock: &SystemClock,
        config: Default::default(),
    };
    assert!(matches!(svc.handle_message(&body).await, MessageResult::Finished(_)));
    let request_id = m["request_id"].as_str().unwrap_or_default();
    let record = w
        .store
        .get_request(&id, request_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("recorded"));
    assert!(matches!(record.state, RequestState::Done { .. }), "{:?}", record.state);
    b.goto(&format!("{base}/c/{c}/requests")).await;
    let requests = b.text("#requests").await;
    assert!(requests.contains(request_id) && requests.contains("done"), "{requests}");
    b.screenshot(&shots.join("requests.png")).await;
    // A request the consumer's parser refuses is not queued: a refund line with three decimals.
    b.fill("#refund input[name=order]", "B-1").await;
    b.fill("#refund input[name=lines]", "1:4.999").await;
    b.follow("#queue-refund").await;
    assert!(b.text("#error").await.contains("two decimal places"), "{}", b.text("#error").await);
    let refunds = sqs.receive_message().queue_url(&refund_queue).wait_time_seconds(1).send().await;
    assert!(refunds.map(|r| r.messages.unwrap_or_default().is_empty()).unwrap_or(false), "nothing queued");

    b.goto(&format!("{base}/c/{c}/inventory")).await;
    assert!(b.text("h1").await.contains("inventory"));
    b.screenshot(&shots.join("inventory.png")).await;

    // Refused: the session's cookie without the form's CSRF token, or with a wrong one; no
    // cookie at all. The setting stays as the browser left it.
    let cookie = b
        .cookies()
        .await
        .into_iter()
        .find(|k| k["name"] == "overstock_console")
        .unwrap_or_else(|| panic!("the session cookie"));
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["sameSite"], "Strict");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let session = format!("overstock_console={}", cookie["value"].as_str().unwrap_or_default());
    for (cookie, csrf, status) in
        [(Some(&session), None, 403), (Some(&session), Some("0".repeat(64)), 403), (None, None, 401)]
    {
        let mut form = vec![("lead-time-months", "7".to_owned())];
        if let Some(t) = csrf {
            form.push(("csrf", t));
        }
        let mut r = http.post(format!("{base}/c/{c}/settings")).form(&form);
        if let Some(k) = cookie {
            r = r.header("cookie", k);
        }
        let r = r.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), status);
    }
    let last = w.store.get_company(&id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("company"));
    assert_eq!(last.settings.backorder_lead_time_months.get(), 3, "no forged form changed anything");

    // Signing out ends the session: the same cookie opens nothing.
    b.follow("header button").await;
    b.goto(&format!("{base}/")).await;
    assert!(b.text("h1").await.contains("Sign in"));
    let r = http.get(format!("{base}/")).header("cookie", &session).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 401);
}
