//! The write path's multi-row statements and IN lists, in a form diesel keeps prepared.
//!
//! Diesel prepares a multi-row INSERT, an upsert or an IN list anew on every call (its text
//! varies with the number of rows), a large share of the SQLite writer's time. Here each is
//! sent in a few fixed sizes, powers of two, so its texts are few, and it is marked safe to
//! cache: diesel then keys its statement cache by the text.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// The most rows (or ids) one statement carries: 256 actions of 31 columns bind 7,936
/// parameters, within SQLite's 32,766 and PostgreSQL's 65,535.
pub const MAX_ROWS: usize = 256;

/// A row that binds its own values, in the order of its statement's column list.
pub trait BindRow<DB: Backend> {
    fn bind<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>;
}

/// `head`, then each row as `(?, ?, …)` separated by commas, then `tail`; `ST` is the SQL type
/// of what it returns (`()` for nothing).
pub struct RowsStatement<'a, R, ST = ()> {
    head: &'static str,
    rows: &'a [R],
    tail: &'static str,
    returns: PhantomData<ST>,
}

impl<'a, R, ST> RowsStatement<'a, R, ST> {
    pub fn new(head: &'static str, rows: &'a [R], tail: &'static str) -> Self {
        RowsStatement {
            head,
            rows,
            tail,
            returns: PhantomData,
        }
    }
}

impl<R, ST, DB> QueryFragment<DB> for RowsStatement<'_, R, ST>
where
    DB: Backend,
    R: BindRow<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.head);
        for (index, row) in self.rows.iter().enumerate() {
            out.push_sql(if index == 0 { "(" } else { ", (" });
            row.bind(&mut out)?;
            out.push_sql(")");
        }
        out.push_sql(self.tail);
        Ok(())
    }

    // The text depends on the number of rows only, and `in_sizes` / `padded` keep that to a
    // few values, so caching by text stays small. (Diesel hides this method from its docs
    // unless a backend-author feature is on; overriding it is how a query opts in.)
    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<R, ST> QueryId for RowsStatement<'_, R, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<R, ST: diesel::sql_types::SqlType> Query for RowsStatement<'_, R, ST> {
    type SqlType = ST;
}

impl<R, ST, Conn> RunQueryDsl<Conn> for RowsStatement<'_, R, ST> {}

/// Splits `rows` into chunks whose lengths are powers of two (largest first, at most
/// `MAX_ROWS`): 300 rows are sent as 256 + 32 + 8 + 4.
pub fn in_sizes<R>(rows: &[R]) -> impl Iterator<Item = &[R]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = MAX_ROWS.min(1 << rest.len().ilog2());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// `ids` in chunks of at most `MAX_ROWS`, each padded to a power of two by repeating its last
/// id: for an IN list, where a repeat changes nothing, one statement per chunk.
pub fn padded<'a>(ids: &[&'a str]) -> Vec<Vec<&'a str>> {
    ids.chunks(MAX_ROWS)
        .map(|chunk| {
            let mut chunk = chunk.to_vec();
            let last = chunk[chunk.len() - 1];
            chunk.resize(chunk.len().next_power_of_two(), last);
            chunk
        })
        .collect()
}

/// An id in an IN list, as `(?)`.
pub struct Id<'a>(pub &'a str);

impl<DB> BindRow<DB> for Id<'_>
where
    DB: Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn bind<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_bind_param::<diesel::sql_types::Text, str>(self.0)
    }
}

/// Runs `load` on each padded chunk of `ids` (as `Id`s) and gathers the rows.
pub fn load_in<T>(
    ids: &[&str],
    mut load: impl FnMut(&[Id<'_>]) -> QueryResult<Vec<T>>,
) -> QueryResult<Vec<T>> {
    let mut found = Vec::new();
    for chunk in padded(ids) {
        let chunk: Vec<Id<'_>> = chunk.into_iter().map(Id).collect();
        found.extend(load(&chunk)?);
    }
    Ok(found)
}

/// Implements `BindRow` on both backends for a struct whose fields bind in the order listed,
/// each with its SQL type, and gives it `INSERT`, the head of its multi-row insert into `$table`
/// with the columns in that same order (one list, so the two cannot drift apart).
macro_rules! bind_row {
    ($row:ident into $table:ident { $first:ident: $first_type:ty $(, $field:ident: $type:ty)* $(,)? }) => {
        impl $row<'_> {
            /// `INSERT INTO <table> (<columns in bind order>) VALUES `, for `RowsStatement`.
            pub const INSERT: &'static str = concat!(
                "INSERT INTO ",
                stringify!($table),
                " (",
                stringify!($first),
                $(", ", stringify!($field),)*
                ") VALUES "
            );
        }
        $crate::storage::prepared::bind_row!(@on diesel::sqlite::Sqlite, $row, $first: $first_type $(, $field: $type)*);
        $crate::storage::prepared::bind_row!(@on diesel::pg::Pg, $row, $first: $first_type $(, $field: $type)*);
    };
    (@on $db:ty, $row:ident, $first:ident: $first_type:ty $(, $field:ident: $type:ty)*) => {
        impl $crate::storage::prepared::BindRow<$db> for $row<'_> {
            fn bind<'b>(
                &'b self,
                out: &mut diesel::query_builder::AstPass<'_, 'b, $db>,
            ) -> diesel::QueryResult<()> {
                #[allow(unused_imports)]
                use diesel::sql_types::*;
                out.push_bind_param::<$first_type, _>(&self.$first)?;
                $(
                    out.push_sql(", ");
                    out.push_bind_param::<$type, _>(&self.$field)?;
                )*
                Ok(())
            }
        }
    };
}
pub(crate) use bind_row;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_split_into_powers_of_two_largest_first() {
        let rows: Vec<usize> = (0..300).collect();
        let sizes: Vec<usize> = in_sizes(&rows).map(<[usize]>::len).collect();
        assert_eq!(sizes, [256, 32, 8, 4]);
        let gathered: Vec<usize> = in_sizes(&rows).flatten().copied().collect();
        assert_eq!(gathered, rows);
        assert_eq!(in_sizes(&rows[..1]).count(), 1);
        assert_eq!(in_sizes::<usize>(&[]).count(), 0);
        let sizes: Vec<usize> = in_sizes(&vec![0; 600]).map(<[usize]>::len).collect();
        assert_eq!(sizes, [256, 256, 64, 16, 8]);
    }

    #[test]
    fn id_lists_are_padded_with_their_last_id() {
        assert_eq!(padded(&["a", "b", "c"]), [vec!["a", "b", "c", "c"]]);
        assert_eq!(padded(&["a"]), [vec!["a"]]);
        let many: Vec<String> = (0..300).map(|n| n.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let chunks = padded(&many);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].len(), 256);
        assert_eq!(chunks[1].len(), 64);
        assert_eq!(chunks[1][43], "299");
        assert_eq!(chunks[1][63], "299");
        assert!(padded(&[]).is_empty());
    }
}
