//! Test fixtures shared by the unit tests of the domain and the services.

use super::mapping::{MappingTable, ShippingMethodMapping};
use super::order::{Order, OverstockStatus, SalesOrder, SalesOrderLine, ServiceLevel, ShippingSpecifications};
use super::{CompanyId, OrderNumber, ServiceLevelCode};
use chrono::{DateTime, Utc};

pub fn company() -> CompanyId {
    CompanyId::parse("acme").unwrap_or_else(|e| panic!("{e}"))
}

pub fn line(number: &str, quantity: u32) -> SalesOrderLine {
    SalesOrderLine {
        line_number: number.into(),
        partner_sku: None,
        sales_channel_sku: None,
        barcode: None,
        upc: None,
        quantity,
        item_price: Some(rust_decimal::Decimal::new(1000, 2)),
        item_name: None,
        line_status: None,
        unit_cost: None,
        unit_cost_currency_code: None,
    }
}

/// Order `O-1` of warehouse `ACME MAIN` with the given status, service level and lines.
pub fn sales_order(status: &str, code: &str, lines: &[(&str, u32)]) -> SalesOrder {
    SalesOrder {
        order_number: OrderNumber::parse("O-1").unwrap_or_else(|e| panic!("{e}")),
        sales_channel_name: Some("OSTK".into()),
        order_date: None,
        sofs_created_date: None,
        warehouse_code: Some("ACME MAIN".into()),
        ship_to: None,
        return_address: None,
        shipping: ShippingSpecifications {
            service_level: ServiceLevelCode::parse(code).ok().map(|code| ServiceLevel { code, freight: false }),
            ..Default::default()
        },
        overstock_order_id: None,
        status: Some(OverstockStatus::parse(status)),
        action_required: Some(true),
        lines: lines.iter().map(|(n, q)| line(n, *q)).collect(),
        expected_ship_date: None,
        wire_notes: Vec::new(),
    }
}

/// One mapping: `NEXT_DAY` → `method`, carrier `UPS`, rush.
pub fn next_day_mapping(method: &str) -> MappingTable {
    MappingTable::new([ShippingMethodMapping {
        code_to_receive: ServiceLevelCode::parse("NEXT_DAY").unwrap_or_else(|e| panic!("{e}")),
        shipping_method: method.into(),
        code_to_send: "UPS".into(),
        rush: true,
    }])
}

/// A stored order built from [`sales_order`], mapped with [`next_day_mapping`].
pub fn order(status: &str, lines: &[(&str, u32)], at: DateTime<Utc>) -> Order {
    Order::from_download(
        company(),
        sales_order(status, "NEXT_DAY", lines),
        &next_day_mapping("UPS Next Day Air"),
        false,
        at,
    )
}
