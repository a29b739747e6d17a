//! The kinds without money as shown: catalog items, completed jobs, tracking value requests.

use serde::Serialize;

use crate::read::format::{json_or_null, money_text, utc};
use crate::storage::{AnyConnection, StorageError, catalog_items, jobs, tracking_value_requests};

#[derive(Debug, Serialize)]
pub struct CatalogItemView {
    pub catalog_id: String,
    pub item_id: String,
    pub source: String,
    pub name: Option<String>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub stock: Option<String>,
    pub change_type: Option<String>,
    /// The fields the last change altered (empty for the first sighting).
    pub changed_fields: serde_json::Value,
    pub extra: serde_json::Value,
    pub delivery_id: i64,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

pub fn catalog_items(
    conn: &mut AnyConnection,
    catalog_id: Option<&str>,
    item_id: Option<&str>,
    limit: i64,
) -> Result<Vec<CatalogItemView>, StorageError> {
    Ok(catalog_items::search(conn, catalog_id, item_id, limit)?
        .into_iter()
        .map(|item| CatalogItemView {
            price: money_text(item.price),
            changed_fields: json_or_null(item.changed_fields.as_deref()),
            extra: json_or_null(item.extra.as_deref()),
            first_seen_at: utc(item.first_seen_at),
            last_seen_at: utc(item.last_seen_at),
            catalog_id: item.catalog_id,
            item_id: item.item_id,
            source: item.source,
            name: item.name,
            currency: item.currency,
            stock: item.stock,
            change_type: item.change_type,
            delivery_id: item.delivery_id,
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct JobView {
    pub job_id: String,
    pub source: String,
    pub job_type: Option<String>,
    pub account_id: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub records_processed: Option<String>,
    pub detail_uri: Option<String>,
    pub result_uri: Option<String>,
    /// Each download URL with its validity in minutes and when it expires.
    pub result_urls: serde_json::Value,
    pub extra: serde_json::Value,
    pub delivery_id: i64,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

pub fn job(conn: &mut AnyConnection, job_id: &str) -> Result<Option<JobView>, StorageError> {
    Ok(jobs::find(conn, job_id)?.map(|job| JobView {
        start_date: job.start_date.map(utc),
        end_date: job.end_date.map(utc),
        result_urls: json_or_null(job.result_urls.as_deref()),
        extra: json_or_null(job.extra.as_deref()),
        first_seen_at: utc(job.first_seen_at),
        last_seen_at: utc(job.last_seen_at),
        job_id: job.job_id,
        source: job.source,
        job_type: job.job_type,
        account_id: job.account_id,
        records_processed: job.records_processed,
        detail_uri: job.detail_uri,
        result_uri: job.result_uri,
        delivery_id: job.delivery_id,
    }))
}

#[derive(Debug, Serialize)]
pub struct TrackingValueView {
    pub delivery_id: i64,
    pub source: String,
    pub action_id: String,
    pub campaign_id: Option<String>,
    pub action_tracker_id: Option<String>,
    pub media_partner_id: Option<String>,
    pub order_id: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub event_date: Option<String>,
    pub click_id: Option<String>,
    pub ip_address: Option<String>,
    pub items: serde_json::Value,
    pub extra: serde_json::Value,
    pub received_at: String,
}

pub fn tracking_values(
    conn: &mut AnyConnection,
    action_id: &str,
) -> Result<Vec<TrackingValueView>, StorageError> {
    Ok(tracking_value_requests::of_action(conn, action_id)?
        .into_iter()
        .map(|row| TrackingValueView {
            amount: money_text(row.amount),
            event_date: row.event_date.map(utc),
            items: json_or_null(row.items.as_deref()),
            extra: json_or_null(row.extra.as_deref()),
            received_at: utc(row.received_at),
            delivery_id: row.delivery_id,
            source: row.source,
            action_id: row.action_id,
            campaign_id: row.campaign_id,
            action_tracker_id: row.action_tracker_id,
            media_partner_id: row.media_partner_id,
            order_id: row.order_id,
            currency: row.currency,
            click_id: row.click_id,
            ip_address: row.ip_address,
        })
        .collect())
}
