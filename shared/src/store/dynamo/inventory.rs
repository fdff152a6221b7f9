//! The inventory table: products (`P#sku`), purchase orders (`PO#id`) and containers (`CT#id`)
//! under the company, with two sparse indexes — products due for a decision, products failed.

use super::{DynamoStore, Item, WRITE_CONCURRENCY, classify, from_item, s, to_item};
use crate::domain::CompanyId;
use crate::domain::inventory::{Due, Product, Sku, SupplyKind, SupplySource, source_key};
use crate::store::{InventoryStore, StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Index names (also in template.yaml and docs/dynamodb.md).
pub const INVENTORY_DUE: &str = "inventory-due";
pub const INVENTORY_FAILED: &str = "inventory-failed";
/// The sort key attribute of the inventory table.
pub const ITEM: &str = "item";
/// `due_at` of a product due now: sorts before every date.
const DUE_NOW: &str = "0000-00-00";

pub(super) fn product_key(sku: &Sku) -> String {
    format!("P#{}", sku.as_str())
}

fn product_item(p: &Product) -> StoreResult<Item> {
    let mut item = to_item(p)?;
    item.insert(ITEM.into(), s(product_key(&p.sku)));
    // Sparse index keys: present only while the product is due / failed.
    let due_at = match p.due {
        Due::Now => Some(DUE_NOW.to_owned()),
        Due::On(d) => Some(d.format("%Y-%m-%d").to_string()),
        Due::Never => None,
    };
    if let Some(at) = due_at {
        item.insert("due_key".into(), s(p.company_id.as_str()));
        item.insert("due_at".into(), s(at));
    }
    if p.is_failed() {
        item.insert("failed_key".into(), s(p.company_id.as_str()));
    }
    Ok(item)
}

/// The attribute ordering the versions of a source (`updated_at` as a sortable UTC key).
const UPDATED_KEY: &str = "updated_key";

fn source_item(src: &SupplySource) -> StoreResult<Item> {
    let mut item = to_item(src)?;
    item.insert(ITEM.into(), s(source_key(src.kind, &src.id)));
    item.insert(UPDATED_KEY.into(), s(crate::domain::utc_key(src.updated_at)));
    Ok(item)
}

impl DynamoStore {
    /// Every page of a Query on the inventory table or one of its indexes.
    async fn inventory_query(
        &self,
        index: Option<&str>,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.tables.inventory)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(condition)
                .set_exclusive_start_key(start.take());
            for (k, v) in &values {
                q = q.expression_attribute_values(*k, v.clone());
            }
            if condition.contains("#item") {
                // ITEM is one of DynamoDB's reserved words.
                q = q.expression_attribute_names("#item", ITEM);
            }
            if index.is_none() {
                q = q.consistent_read(true);
            }
            let resp = q.send().await.map_err(|e| classify("query inventory", e))?;
            out.extend(resp.items.unwrap_or_default());
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Writes `p` as `version + 1` if the stored version is still `p.version` (absent for 0);
    /// a retried request that finds its own write is reported written (see `put_order_version`).
    async fn put_product_version(&self, p: &Product) -> StoreResult<bool> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let item = {
            let mut next = p.clone();
            next.version = p.version + 1;
            product_item(&next)?
        };
        let expected = (p.version > 0).then_some(p.version);
        self.put_versioned(&self.tables.inventory, item, expected, &token, "put product").await
    }
}

impl InventoryStore for DynamoStore {
    async fn get_products(&self, company: &CompanyId, skus: &[Sku]) -> StoreResult<HashMap<Sku, Product>> {
        let mut unique: Vec<&Sku> = skus.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique.into_iter().map(|k| {
            HashMap::from([("company_id".to_owned(), s(company.as_str())), (ITEM.to_owned(), s(product_key(k)))])
        });
        let items = self.batch_get_keys(&self.tables.inventory, keys.collect(), None, "batch get products").await?;
        items.into_iter().map(|item| from_item::<Product>(item).map(|p| (p.sku.clone(), p))).collect()
    }

    async fn put_products(&self, products: &[Product]) -> StoreResult<Vec<Sku>> {
        let lost: Vec<Option<Sku>> = futures::stream::iter(products.iter().cloned())
            .map(|p| async move { Ok::<_, StoreError>((!self.put_product_version(&p).await?).then_some(p.sku)) })
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(lost.into_iter().flatten().collect())
    }

    async fn list_due_products(&self, company: &CompanyId, today: NaiveDate) -> StoreResult<Vec<Product>> {
        let items = self
            .inventory_query(
                Some(INVENTORY_DUE),
                "due_key = :c AND due_at <= :today",
                vec![(":c", s(company.as_str())), (":today", s(today.format("%Y-%m-%d").to_string()))],
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn list_products(&self, company: &CompanyId) -> StoreResult<Vec<Product>> {
        let items = self
            .inventory_query(
                None,
                "company_id = :c AND begins_with(#item, :p)",
                vec![(":c", s(company.as_str())), (":p", s("P#"))],
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn list_failed_products(&self, company: &CompanyId) -> StoreResult<Vec<Product>> {
        let items =
            self.inventory_query(Some(INVENTORY_FAILED), "failed_key = :c", vec![(":c", s(company.as_str()))]).await?;
        items.into_iter().map(from_item).collect()
    }

    async fn get_source(&self, company: &CompanyId, kind: SupplyKind, id: &str) -> StoreResult<Option<SupplySource>> {
        let r = self
            .client
            .get_item()
            .table_name(&self.tables.inventory)
            .key("company_id", s(company.as_str()))
            .key(ITEM, s(source_key(kind, id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("get source", e))?;
        r.item.map(from_item).transpose()
    }

    async fn put_source(&self, source: &SupplySource) -> StoreResult<bool> {
        let r = self
            .client
            .put_item()
            .table_name(&self.tables.inventory)
            .set_item(Some(source_item(source)?))
            .condition_expression("attribute_not_exists(company_id) OR updated_key < :u")
            .expression_attribute_values(":u", s(crate::domain::utc_key(source.updated_at)))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(e) => match classify("put source", e) {
                StoreError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn list_sources(&self, company: &CompanyId, kind: SupplyKind) -> StoreResult<Vec<SupplySource>> {
        let prefix = source_key(kind, "");
        let items = self
            .inventory_query(
                None,
                "company_id = :c AND begins_with(#item, :p)",
                vec![(":c", s(company.as_str())), (":p", s(prefix))],
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }
}
