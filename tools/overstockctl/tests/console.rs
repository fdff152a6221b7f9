//! `overstockctl console` as an operator starts it (the built binary), against moto, over HTTP:
//! the one-time URL signs one browser in and only once, every page needs the session, a request
//! for another `Host` is refused, a form without its CSRF token changes nothing, and values from
//! the tables are escaped in the page.

use chrono::Utc;
use shared::domain::CompanyId;
use shared::domain::settings::{ApiBaseUrl, Company, CompanySettings, CredentialsHealth, CredentialsRef};
use shared::store::{CompanyStore, DynamoStore, Tables};

mod common;

/// A company as another writer could have stored it (nothing checked), with credentials
/// reference `id`, created in `store`.
async fn stored_company(store: &DynamoStore, id: &str, name: impl Into<String>, warehouse: &str, api: &str) -> Company {
    let now = Utc::now();
    let company = Company {
        company_id: CompanyId::parse(id).unwrap_or_else(|e| panic!("{e}")),
        name: name.into(),
        settings: CompanySettings::new(
            warehouse.into(),
            ApiBaseUrl::parse(api).unwrap_or_else(|e| panic!("{e}")),
            CredentialsRef::parse(id).unwrap_or_else(|e| panic!("{e}")),
        ),
        credentials_health: CredentialsHealth::Ok,
        created_at: now,
        updated_at: now,
    };
    store.create_company(&company).await.unwrap_or_else(|e| panic!("{e}"));
    company
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_one_time_url_signs_in_once_and_every_page_needs_the_session() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        panic!("AWS_ENDPOINT_URL is not set: run the tests with scripts/test.sh, which starts moto");
    }
    let prefix = format!("con{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap_or_else(|e| panic!("{e}"));
    // As another writer could have stored it: markup and a control character in the name.
    stored_company(&store, "acme", "<script>alert(1)</script> & Sons\u{1b}[2J", "ACME MAIN", "test").await;

    let console = common::start(&[("TABLE_PREFIX", &prefix)]);
    let url = console.login.clone();
    let (base, token) = url.split_once("/login?token=").unwrap_or_else(|| panic!("printed {url:?}"));
    assert!(base.starts_with("http://127.0.0.1:"), "loopback only: {base}");
    assert_eq!(token.len(), 64);
    assert_eq!(base, console.base);

    let http = client();
    // No session: the page says how to get in, shows nothing of the tables.
    let r = http.get(format!("{base}/")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    assert!(!r.text().await.unwrap_or_default().contains("acme"));
    // A wrong token, then the right one (a cookie, HttpOnly, SameSite=Strict), then the right
    // one again: spent.
    let wrong =
        http.get(format!("{base}/login?token={}", "0".repeat(64))).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wrong.status(), 403);
    let login = http.get(&url).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(login.status(), 303);
    let cookie = login.headers().get("set-cookie").and_then(|c| c.to_str().ok()).unwrap_or_default().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap_or_default().to_owned();
    let again = http.get(&url).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.status(), 403, "a one-time URL");

    let page = http.get(format!("{base}/")).header("cookie", &session).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers().get("x-frame-options").and_then(|v| v.to_str().ok()), Some("DENY"));
    let html = page.text().await.unwrap_or_default();
    assert!(html.contains("acme"), "{html}");
    assert!(!html.contains("<script>alert"), "markup from the tables is escaped: {html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons"), "{html}");
    assert!(!html.contains('\u{1b}'), "control characters shown escaped");

    // Another Host (DNS rebinding): refused, even with the session.
    let port = base.rsplit(':').next().unwrap_or_default();
    let evil = http
        .get(format!("{base}/"))
        .header("host", format!("evil.example:{port}"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(evil.status(), 403);

    // A state change without the CSRF token changes nothing; with it, it happens.
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a CSRF field in {html}"))
        .to_owned();
    let forged = http
        .post(format!("{base}/logout"))
        .header("cookie", &session)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forged.status(), 403);
    let still = http.get(format!("{base}/")).header("cookie", &session).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(still.status(), 200, "still signed in");
    let out = http
        .post(format!("{base}/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status(), 303);
    let gone = http.get(format!("{base}/")).header("cookie", &session).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gone.status(), 401, "signed out");
}

/// Signs in through the one-time URL; the session cookie and the page's CSRF token.
async fn sign_in(http: &reqwest::Client, console: &common::Console) -> (String, String) {
    let login = http.get(&console.login).send().await.unwrap_or_else(|e| panic!("{e}"));
    let cookie = login.headers().get("set-cookie").and_then(|c| c.to_str().ok()).unwrap_or_default();
    let session = cookie.split(';').next().unwrap_or_default().to_owned();
    let home = http.get(format!("{}/", console.base)).header("cookie", &session).send().await;
    let html = home.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a CSRF field in {html}"))
        .to_owned();
    (session, csrf)
}

#[tokio::test]
async fn every_page_escapes_what_the_tables_hold_and_a_setting_left_as_shown_is_not_checked_again() {
    let prefix = format!("con{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap_or_else(|e| panic!("{e}"));
    let id = CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
    // Stored by a deployment whose policy let a loopback sandbox receive credentials; this
    // console's does not (OVERSTOCK_ALLOW_LOOPBACK=false).
    let company = stored_company(&store, id.as_str(), "Acme", "ACME MAIN", "http://127.0.0.1:9/").await;
    let hostile = "<script>alert(2)</script>&\u{7}";
    // As another writer could store it (`mapping set` refuses a control character).
    let mapping = shared::domain::mapping::ShippingMethodMapping {
        code_to_receive: shared::domain::ServiceLevelCode::parse("GROUND").unwrap_or_else(|e| panic!("{e}")),
        shipping_method: hostile.into(),
        code_to_send: "UPS".into(),
        rush: false,
    };
    shared::store::MappingStore::put_mapping(&store, &id, &mapping).await.unwrap_or_else(|e| panic!("{e}"));

    let console = common::start(&[("TABLE_PREFIX", &prefix), ("OVERSTOCK_ALLOW_LOOPBACK", "false")]);
    let http = client();
    let (session, csrf) = sign_in(&http, &console).await;
    let base = &console.base;
    for (path, status) in [
        ("/", 200),
        ("/c/acme", 200),
        ("/c/acme/mappings", 200),
        ("/c/acme/orders", 200),
        ("/c/acme/requests", 200),
        ("/c/acme/inventory", 200),
        ("/c/acme/inventory?sku=%3Cb%3Enope", 200),
        ("/c/acme/order?n=%3Cscript%3Ex", 404),
        ("/c/nobody", 404),
        ("/c/%3Cscript%3E", 404),
    ] {
        let r = http.get(format!("{base}{path}")).header("cookie", &session).send().await;
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status().as_u16(), status, "{path}");
        let html = r.text().await.unwrap_or_default();
        assert!(!html.contains("<script") && !html.contains("<b>"), "{path}: markup from outside escaped: {html}");
        assert!(!html.contains('\u{7}'), "{path}: control characters shown escaped");
    }
    let mappings = http.get(format!("{base}/c/acme/mappings")).header("cookie", &session).send().await;
    let mappings = mappings.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
    assert!(mappings.contains("&lt;script&gt;alert(2)&lt;/script&gt;&amp;"), "{mappings}");

    // A setting changed while the API base URL is left as shown: saved (the URL is not checked
    // again against this console's policy); the URL itself changed to loopback: refused.
    let save = |fields: Vec<(&'static str, String)>| {
        let mut form = fields;
        form.push(("csrf", csrf.clone()));
        http.post(format!("{base}/c/acme/settings")).header("cookie", &session).form(&form).send()
    };
    let shown_url = company.settings.api_base_url.to_string();
    let r = save(vec![("lead-time-months", "4".into()), ("api-base-url", shown_url)]).await;
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 303, "saved: {}", r.text().await.unwrap_or_default());
    let r = save(vec![("api-base-url", "http://127.0.0.1:10/".into())]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.unwrap_or_default().contains("API base URL"), "refused with the CLI's reason");
    let after = store.get_company(&id).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("acme"));
    assert_eq!(after.settings.backorder_lead_time_months.get(), 4);
    assert_eq!(after.settings.api_base_url.to_string(), company.settings.api_base_url.to_string());
}

#[tokio::test]
async fn the_companies_page_shows_fifty_at_a_time_in_id_order() {
    let prefix = format!("con{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap_or_else(|e| panic!("{e}"));
    for i in 0..55 {
        let id = format!("co{i:02}");
        stored_company(&store, &id, id.clone(), "W", "test").await;
    }
    let console = common::start(&[("TABLE_PREFIX", &prefix)]);
    let http = client();
    let (session, _) = sign_in(&http, &console).await;
    let page = |path: &str| http.get(format!("{}{path}", console.base)).header("cookie", &session).send();
    let first = page("/").await.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
    let rows = |html: &str| html.matches("/mappings\">").count(); // one link per company row
    assert_eq!(rows(&first), 50);
    assert!(first.contains("Companies 1–50 of 55") && first.contains("href=\"/?after=co49\""), "{first}");
    assert!(first.contains("/c/co00\"") && !first.contains("/c/co50\""));
    let second = page("/?after=co49").await.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
    assert_eq!(rows(&second), 5);
    assert!(second.contains("Companies 51–55 of 55") && !second.contains("after="), "the last page: {second}");
}

/// A dead-letter queue from the companies page: its messages with their reasons (escaped, left
/// in the queue), then moved back to their queue by a form that needs its CSRF token — checked
/// on moto's queues afterwards.
#[tokio::test]
async fn a_dead_letter_queue_is_read_with_its_reasons_and_moved_back() {
    use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName as A};
    let prefix = format!("dlq{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), Tables::with_prefix(&prefix));
    store.create_tables().await.unwrap_or_else(|e| panic!("{e}"));
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dlq = tests::queue(&sqs, "cancel-dlq").await;
    let arn = sqs.get_queue_attributes().queue_url(&dlq).attribute_names(A::QueueArn).send().await;
    let arn = arn.ok().and_then(|a| a.attributes).and_then(|a| a.get(&A::QueueArn).cloned()).unwrap_or_default();
    let cancel = sqs
        .create_queue()
        .queue_name(tests::unique("cancel"))
        .attributes(A::RedrivePolicy, format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"5"}}"#))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .queue_url
        .unwrap_or_default();
    let hostile_body = r#"{"type":"cancel","order_number":"<script>x</script>"}"#;
    let reason = MessageAttributeValue::builder()
        .data_type("String")
        .string_value("order_number: <img src=x onerror=alert(1)>&")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let kept =
        sqs.send_message().queue_url(&dlq).message_body(hostile_body).message_attributes("rejected_reason", reason);
    kept.send().await.unwrap_or_else(|e| panic!("{e}"));
    sqs.send_message()
        .queue_url(&dlq)
        .message_body(r#"{"retried":"out"}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let console = common::start(&[("TABLE_PREFIX", &prefix), ("CANCEL_QUEUE_URL", &cancel)]);
    let http = client();
    let (session, csrf) = sign_in(&http, &console).await;
    let base = &console.base;
    let get = |path: &str| http.get(format!("{base}{path}")).header("cookie", &session).send();
    let home = get("/").await.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
    assert!(home.contains("href=\"/dlq/0\""), "the companies page links the dead-letter queue: {home}");
    let page = get("/dlq/0").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap_or_default();
    assert!(page.contains("<strong id=\"depth\">2</strong>"), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;&amp;"), "the reason, escaped: {page}");
    assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"), "the body, escaped: {page}");
    assert!(!page.contains("<img") && !page.contains("<script"), "{page}");
    assert!(page.contains("retried out"), "a message without a reason says how it got there");
    for path in ["/dlq/1", "/dlq/x"] {
        assert_eq!(get(path).await.unwrap_or_else(|e| panic!("{e}")).status(), 404, "{path}");
    }

    let depth = |url: String| {
        let sqs = sqs.clone();
        async move {
            let a = sqs.get_queue_attributes().queue_url(url).attribute_names(A::ApproximateNumberOfMessages).send();
            let a = a.await.unwrap_or_else(|e| panic!("{e}")).attributes.unwrap_or_default();
            a.get(&A::ApproximateNumberOfMessages).and_then(|n| n.parse::<u32>().ok()).unwrap_or(u32::MAX)
        }
    };
    assert_eq!(depth(dlq.clone()).await, 2, "reading the page left them in the queue");
    let post = |form: Vec<(&'static str, String)>| {
        http.post(format!("{base}/dlq/0/redrive")).header("cookie", &session).form(&form).send()
    };
    let forged = post(vec![("csrf", "0".repeat(64))]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forged.status(), 403);
    assert_eq!(depth(dlq.clone()).await, 2, "nothing moved without the form's token");
    let moved = post(vec![("csrf", csrf.clone())]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved.status(), 303);
    let after = get("/dlq/0").await.unwrap_or_else(|e| panic!("{e}")).text().await.unwrap_or_default();
    assert!(after.contains("2 message(s) moved back to the cancel requests queue."), "{after}");
    assert_eq!(depth(dlq.clone()).await, 0);
    let back = sqs.receive_message().queue_url(&cancel).max_number_of_messages(10).wait_time_seconds(1).send();
    let mut bodies: Vec<String> = back
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    bodies.sort();
    assert_eq!(bodies, [r#"{"retried":"out"}"#, hostile_body], "each message back once, as it was");
}
