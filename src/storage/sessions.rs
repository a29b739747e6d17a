//! Dashboard sessions: one row per login, found by the SHA-256 of the cookie's random id.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::AnyConnection;
use super::schema::sessions;

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id_digest: &'a str,
    pub username: &'a str,
    /// Names the login (username and password hash) the session was opened with.
    pub login_fingerprint: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, PartialEq, Eq)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_digest: String,
    pub username: String,
    pub login_fingerprint: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, new: &NewSession<'_>) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)
}

/// The session with this id digest, unless it has expired by `now`.
pub fn find_live(
    conn: &mut AnyConnection,
    id_digest: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .find(id_digest)
        .filter(sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()
}

/// Ends one session (logout).
pub fn delete(conn: &mut AnyConnection, id_digest: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id_digest)).execute(conn)
}

/// Forgets the sessions that expired by `now`.
pub fn delete_expired(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)
}

/// Ends every session not opened with this login (the password or the username changed), or
/// every session when there is no login any more.
pub fn delete_other_logins(
    conn: &mut AnyConnection,
    login_fingerprint: Option<&str>,
) -> QueryResult<usize> {
    match login_fingerprint {
        Some(fingerprint) => {
            diesel::delete(sessions::table.filter(sessions::login_fingerprint.ne(fingerprint)))
                .execute(conn)
        }
        None => diesel::delete(sessions::table).execute(conn),
    }
}

pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    sessions::table.count().get_result(conn)
}
