//! Product catalog items, upserted by (catalog id, item id).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::AnyConnection;
use super::schema::catalog_items;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = catalog_items)]
pub struct CatalogItem {
    pub catalog_id: String,
    pub item_id: String,
    pub source: String,
    pub name: Option<String>,
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub stock: Option<String>,
    pub change_type: Option<String>,
    pub changed_fields: Option<String>,
    pub extra: Option<String>,
    pub delivery_id: i64,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

/// What a change says; on update a None leaves the stored value alone.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = catalog_items)]
pub struct CatalogItemChange<'a> {
    pub name: Option<&'a str>,
    pub price: Option<i64>,
    pub currency: Option<&'a str>,
    pub stock: Option<&'a str>,
    pub change_type: Option<&'a str>,
    pub changed_fields: Option<&'a str>,
    pub extra: Option<&'a str>,
    pub delivery_id: i64,
    pub last_seen_at: NaiveDateTime,
}

pub fn find(
    conn: &mut AnyConnection,
    catalog_id: &str,
    item_id: &str,
) -> QueryResult<Option<CatalogItem>> {
    catalog_items::table
        .find((catalog_id, item_id))
        .select(CatalogItem::as_select())
        .first(conn)
        .optional()
}

pub fn insert(
    conn: &mut AnyConnection,
    catalog_id: &str,
    item_id: &str,
    source: &str,
    change: &CatalogItemChange<'_>,
) -> QueryResult<usize> {
    diesel::insert_into(catalog_items::table)
        .values((
            catalog_items::catalog_id.eq(catalog_id),
            catalog_items::item_id.eq(item_id),
            catalog_items::source.eq(source),
            catalog_items::first_seen_at.eq(change.last_seen_at),
            change,
        ))
        .execute(conn)
}

pub fn update(
    conn: &mut AnyConnection,
    catalog_id: &str,
    item_id: &str,
    change: &CatalogItemChange<'_>,
) -> QueryResult<usize> {
    diesel::update(catalog_items::table.find((catalog_id, item_id)))
        .set(change)
        .execute(conn)
}

/// Items of a catalog (or all), by catalog and item id, after an optional item id.
pub fn search(
    conn: &mut AnyConnection,
    catalog_id: Option<&str>,
    item_id: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<CatalogItem>> {
    let mut query = catalog_items::table
        .select(CatalogItem::as_select())
        .into_boxed();
    if let Some(catalog_id) = catalog_id {
        query = query.filter(catalog_items::catalog_id.eq(catalog_id));
    }
    if let Some(item_id) = item_id {
        query = query.filter(catalog_items::item_id.eq(item_id));
    }
    query
        .order((
            catalog_items::catalog_id.asc(),
            catalog_items::item_id.asc(),
        ))
        .limit(limit)
        .load(conn)
}
