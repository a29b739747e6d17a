//! Settings the program keeps in the database (such as a generated postback secret).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::settings;
use super::{AnyConnection, per_backend};

pub fn get(conn: &mut AnyConnection, key: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .optional()
}

pub fn put(
    conn: &mut AnyConnection,
    key: &str,
    value: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    per_backend!(conn, c => diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq(value), settings::updated_at.eq(at)))
        .on_conflict(settings::key)
        .do_update()
        .set((settings::value.eq(value), settings::updated_at.eq(at)))
        .execute(c))
}

/// Stores `value` unless the key exists; returns what is stored afterwards. Two instances
/// starting together agree on one value.
pub fn get_or_insert(
    conn: &mut AnyConnection,
    key: &str,
    value: &str,
    at: NaiveDateTime,
) -> QueryResult<String> {
    per_backend!(conn, c => diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq(value), settings::updated_at.eq(at)))
        .on_conflict(settings::key)
        .do_nothing()
        .execute(c))?;
    settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
}
