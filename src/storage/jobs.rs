//! Completed jobs, one row per job id, with their result URLs.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::AnyConnection;
use super::schema::jobs;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub job_id: String,
    pub source: String,
    pub job_type: Option<String>,
    pub account_id: Option<String>,
    pub start_date: Option<NaiveDateTime>,
    pub end_date: Option<NaiveDateTime>,
    pub records_processed: Option<String>,
    pub detail_uri: Option<String>,
    pub result_uri: Option<String>,
    pub result_urls: Option<String>,
    pub extra: Option<String>,
    pub delivery_id: i64,
    pub first_seen_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = jobs)]
pub struct JobFields<'a> {
    pub job_type: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub start_date: Option<NaiveDateTime>,
    pub end_date: Option<NaiveDateTime>,
    pub records_processed: Option<&'a str>,
    pub detail_uri: Option<&'a str>,
    pub result_uri: Option<&'a str>,
    pub result_urls: Option<&'a str>,
    pub extra: Option<&'a str>,
    pub delivery_id: i64,
    pub last_seen_at: NaiveDateTime,
}

pub fn find(conn: &mut AnyConnection, job_id: &str) -> QueryResult<Option<Job>> {
    jobs::table
        .find(job_id)
        .select(Job::as_select())
        .first(conn)
        .optional()
}

pub fn insert(
    conn: &mut AnyConnection,
    job_id: &str,
    source: &str,
    fields: &JobFields<'_>,
) -> QueryResult<usize> {
    diesel::insert_into(jobs::table)
        .values((
            jobs::job_id.eq(job_id),
            jobs::source.eq(source),
            jobs::first_seen_at.eq(fields.last_seen_at),
            fields,
        ))
        .execute(conn)
}

pub fn update(
    conn: &mut AnyConnection,
    job_id: &str,
    fields: &JobFields<'_>,
) -> QueryResult<usize> {
    diesel::update(jobs::table.find(job_id))
        .set(fields)
        .execute(conn)
}
