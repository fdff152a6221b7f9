//! The sandbox's own contract checks over HTTP: strict validation of what suppliers send.

use chrono::{Duration, Utc};
use serde_json::json;
use tests::{Sandbox, WAREHOUSE, unique};

const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

async fn setup() -> (Sandbox, String) {
    let sb = Sandbox::from_env();
    let user = unique("sbx");
    sb.create_account(&user, "pw", WAREHOUSE, "current").await;
    sb.seed(&user, json!({"order_number": "S-1", "created": Utc::now() - Duration::minutes(5), "service_level_code": "GROUND",
        "lines": [{"partner_sku": "A", "quantity": 2, "item_price": "10.00"}, {"partner_sku": "B", "quantity": 1, "item_price": "5.00"}]})).await;
    (sb, user)
}

async fn post(sb: &Sandbox, user: &str, path: &str, body: String) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", sb.base))
        .basic_auth(user, Some("pw"))
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

fn shipment(line: u32, inner: &str) -> String {
    format!(
        "<supplierShipment><salesChannelName>OSTK</salesChannelName><salesChannelOrderNumber>S-1</salesChannelOrderNumber>\
<salesChannelLineNumber>{line}</salesChannelLineNumber><warehouse><code>{WAREHOUSE}</code></warehouse>{inner}</supplierShipment>"
    )
}

fn confirm(qty: u32, date: &str) -> String {
    format!(
        "<supplierShipConfirmation><quantity>{qty}</quantity><carrier><code>UPS</code></carrier><trackingNumber>1Z1</trackingNumber>\
<shipDate>{date}</shipDate><serviceLevel><code>GROUND</code></serviceLevel></supplierShipConfirmation>"
    )
}

fn message(root: &str, inner: &str) -> String {
    format!(r#"{DECL}<{root} xmlns="api.supplieroasis.com">{inner}</{root}>"#)
}

#[tokio::test]
async fn structural_errors_reject_the_whole_message() {
    let (sb, user) = setup().await;
    let today = (Utc::now() - Duration::hours(1))
        .with_timezone(&chrono_tz_denver())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string();
    let no_ns =
        format!("{DECL}<supplierShipmentMessage>{}</supplierShipmentMessage>", shipment(1, &confirm(1, &today)));
    let (status, body) = post(&sb, &user, "/shipments", no_ns).await;
    assert_eq!(status, 400);
    assert!(body.contains("namespace"), "{body}");
    // Children out of the documented order.
    let swapped = message(
        "supplierShipmentMessage",
        &shipment(1, &confirm(1, &today)).replace(
            "<salesChannelName>OSTK</salesChannelName><salesChannelOrderNumber>S-1</salesChannelOrderNumber>",
            "<salesChannelOrderNumber>S-1</salesChannelOrderNumber><salesChannelName>OSTK</salesChannelName>",
        ),
    );
    let (status, body) = post(&sb, &user, "/shipments", swapped).await;
    assert_eq!(status, 400);
    assert!(body.contains("out of order"), "{body}");
    // Both a confirmation and a short ship.
    let both = message(
        "supplierShipmentMessage",
        &shipment(
            1,
            &format!("{}<shortShip><reasonCode><code>OUT_OF_STOCK</code></reasonCode></shortShip>", confirm(1, &today)),
        ),
    );
    assert_eq!(post(&sb, &user, "/shipments", both).await.0, 400);
    let orders = sb.orders(&user).await;
    assert_eq!(orders[0]["lines"][0]["shipped"], 0, "nothing applied");
}

fn chrono_tz_denver() -> chrono_tz::Tz {
    chrono_tz::America::Denver
}

#[tokio::test]
async fn shipment_rules_name_the_element_and_apply_the_rest() {
    let (sb, user) = setup().await;
    let past = (Utc::now() - Duration::hours(1))
        .with_timezone(&chrono_tz_denver())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string();
    let future = (Utc::now() + Duration::hours(2))
        .with_timezone(&chrono_tz_denver())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string();
    let body = message(
        "supplierShipmentMessage",
        &[shipment(1, &confirm(1, &past)), shipment(1, &confirm(5, &past)), shipment(2, &confirm(1, &future))].concat(),
    );
    let (status, errors) = post(&sb, &user, "/shipments", body).await;
    assert_eq!(status, 400);
    assert!(errors.contains("above what is open"), "{errors}");
    assert!(errors.contains("ship date in the future"), "{errors}");
    let orders = sb.orders(&user).await;
    assert_eq!(orders[0]["lines"][0]["shipped"], 1, "the valid package was applied");
    // No short ship after a line shipped.
    let short = message(
        "supplierShipmentMessage",
        &shipment(1, "<shortShip><reasonCode><code>OUT_OF_STOCK</code></reasonCode></shortShip>"),
    );
    let (status, errors) = post(&sb, &user, "/shipments", short).await;
    assert_eq!(status, 400);
    assert!(errors.contains("already shipped"), "{errors}");
}

#[tokio::test]
async fn refund_repeated_id_is_applied_once_and_caps_hold() {
    let (sb, user) = setup().await;
    let past = (Utc::now() - Duration::hours(1))
        .with_timezone(&chrono_tz_denver())
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string();
    assert_eq!(
        post(&sb, &user, "/shipments", message("supplierShipmentMessage", &shipment(1, &confirm(2, &past)))).await.0,
        200
    );
    let refund = |id: &str, amount: &str| {
        message(
            "supplierRefundMessage",
            &format!(
                "<supplierRefund><refundId>{id}</refundId><salesChannelName>OSTK</salesChannelName>\
<salesChannelOrderNumber>S-1</salesChannelOrderNumber><reason><code>DAMAGED</code></reason>\
<line><salesChannelLineNumber>1</salesChannelLineNumber><amount currencyCode=\"USD\">{amount}</amount></line></supplierRefund>"
            ),
        )
    };
    assert_eq!(post(&sb, &user, "/refunds", refund("r-1", "15.00")).await.0, 200);
    assert_eq!(post(&sb, &user, "/refunds", refund("r-1", "15.00")).await.0, 200, "a repeat is answered as the first");
    let (status, body) = post(&sb, &user, "/refunds", refund("r-2", "5.01")).await;
    assert_eq!(status, 400, "15.00 + 5.01 exceeds 2 x 10.00: {body}");
    assert_eq!(sb.orders(&user).await[0]["lines"][0]["refunded"], "15.00");
}

#[tokio::test]
async fn inventory_is_kept_and_read_back() {
    let (sb, user) = setup().await;
    let inv = message(
        "supplierInventoryMessage",
        &format!(
            "<supplierInventory><partnerSKU>A</partnerSKU><warehouse><code>{WAREHOUSE}</code></warehouse><quantity>0</quantity>\
<backorder><quantityOnOrder>40</quantityOnOrder><expectedAvailableDate>2027-01-15</expectedAvailableDate></backorder></supplierInventory>"
        ),
    );
    assert_eq!(post(&sb, &user, "/inventory", inv).await.0, 200);
    let got = reqwest::Client::new()
        .get(format!("{}/inventory", sb.base))
        .basic_auth(&user, Some("pw"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(
        got.contains("<quantityOnOrder>40</quantityOnOrder><expectedAvailableDate>2027-01-15</expectedAvailableDate>"),
        "{got}"
    );
}
