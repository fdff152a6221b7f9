//! `overstockctl console` as an operator starts it (the built binary), against moto, over HTTP:
//! the one-time URL signs one browser in and only once, every page needs the session, a request
//! for another `Host` is refused, a form without its CSRF token changes nothing, and values from
//! the tables are escaped in the page.

use chrono::Utc;
use shared::domain::CompanyId;
use shared::domain::settings::{ApiBaseUrl, Company, CompanySettings, CredentialsHealth, CredentialsRef};
use shared::store::{CompanyStore, DynamoStore, Tables};

mod common;

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
    let now = Utc::now();
    let company = Company {
        company_id: CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
        // As another writer could have stored it: markup and a control character in the name.
        name: "<script>alert(1)</script> & Sons\u{1b}[2J".into(),
        settings: CompanySettings::new(
            "ACME MAIN".into(),
            ApiBaseUrl::parse("test").unwrap_or_else(|e| panic!("{e}")),
            CredentialsRef::parse("acme").unwrap_or_else(|e| panic!("{e}")),
        ),
        credentials_health: CredentialsHealth::Ok,
        created_at: now,
        updated_at: now,
    };
    store.create_company(&company).await.unwrap_or_else(|e| panic!("{e}"));

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
