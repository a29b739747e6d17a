//! An action's details (`domain::details`) as columns of `actions`: selected and read as one
//! embedded group, bound in declaration order by the write path's multi-row statements.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromStaticSqlRow, Queryable};
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Nullable, Text, Timestamp};

use super::schema::actions;
use crate::domain::details::{ActionDetails, with_action_details};

/// The details as stored.
pub type StoredDetails = ActionDetails<String, NaiveDateTime>;
/// The details as the write path holds them, borrowed from the events.
pub type RowDetails<'a> = ActionDetails<&'a str, NaiveDateTime>;

macro_rules! text_type {
    ($field:ident) => { Nullable<Text> };
}
macro_rules! date_type {
    ($field:ident) => { Nullable<Timestamp> };
}
macro_rules! text_value {
    ($field:ident) => { Option<String> };
}
macro_rules! date_value {
    ($field:ident) => { Option<NaiveDateTime> };
}

macro_rules! stored_details {
    (texts: $($text:ident),+; dates: $($date:ident),+) => {
        /// The detail columns, in the order `ActionDetails` declares them.
        pub type Columns = ($(actions::$text,)+ $(actions::$date,)+);
        /// Their SQL types, in the same order.
        pub type Types = ($(text_type!($text),)+ $(date_type!($date),)+);
        type Values = ($(text_value!($text),)+ $(date_value!($date),)+);

        /// `, col, col, …`: the detail columns for a hand-written column list.
        pub const COLUMN_LIST: &str = concat!($(", ", stringify!($text),)+ $(", ", stringify!($date),)+);

        impl<DB: Backend> Selectable<DB> for StoredDetails {
            type SelectExpression = Columns;
            fn construct_selection() -> Columns {
                ($(actions::$text,)+ $(actions::$date,)+)
            }
        }

        impl<DB: Backend> Queryable<Types, DB> for StoredDetails
        where
            Values: FromStaticSqlRow<Types, DB>,
        {
            type Row = Values;
            fn build(row: Values) -> deserialize::Result<Self> {
                let ($($text,)+ $($date,)+) = row;
                Ok(ActionDetails { $($text,)+ $($date,)+ })
            }
        }

        impl RowDetails<'_> {
            /// Binds `, ?` for each detail, in `COLUMN_LIST` order.
            pub fn bind<'b, DB>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>
            where
                DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
                str: ToSql<Text, DB>,
                NaiveDateTime: ToSql<Timestamp, DB>,
            {
                $(
                    out.push_sql(", ");
                    out.push_bind_param::<Nullable<Text>, _>(&self.$text)?;
                )+
                $(
                    out.push_sql(", ");
                    out.push_bind_param::<Nullable<Timestamp>, _>(&self.$date)?;
                )+
                Ok(())
            }
        }
    };
}

with_action_details!(stored_details);
