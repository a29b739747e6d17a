//! The domain's words as `Text` columns: read back as their enums (an unknown word is an error,
//! never a silent default) and written as their words, on either backend.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::expression::AsExpression;
// The expression type diesel's own `AsExpression` derive binds a value with.
use diesel::internal::derives::as_expression::Bound;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Nullable, SingleValue, Text};

use crate::domain::alert::AlertKind;
use crate::domain::bucket::Bucket;
use crate::domain::cross_check::{
    DifferenceKind, LedgerState, Origin, Resolution, RunSource, RunStatus,
};
use crate::domain::event::{ActionStatus, ClearingMatch, EventStatus, InquiryStatus, SourceKind};
use crate::domain::outcome::Outcome;
use crate::domain::reconcile::EntryKind;
use crate::domain::words::{FlagSet, Word};

macro_rules! stored_as_text {
    ($($name:ty),+ $(,)?) => {$(
        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                Ok(String::from_sql(bytes)?.parse::<$name>()?)
            }
        }

        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        // What `#[derive(FromSqlRow)]` would write: the column read as one value.
        impl<DB: Backend, ST: SingleValue> Queryable<ST, DB> for $name
        where
            Self: FromSql<ST, DB>,
        {
            type Row = Self;
            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }

        // What `#[derive(AsExpression)]` would write: the value bound as `Text`.
        impl AsExpression<Text> for $name {
            type Expression = Bound<Text, Self>;
            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }

        impl<'a> AsExpression<Text> for &'a $name {
            type Expression = Bound<Text, Self>;
            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }

        impl AsExpression<Nullable<Text>> for $name {
            type Expression = Bound<Nullable<Text>, Self>;
            fn as_expression(self) -> Self::Expression {
                Bound::new(self)
            }
        }

        impl<DB: Backend> ToSql<Nullable<Text>, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                ToSql::<Text, DB>::to_sql(self, out)
            }
        }
    )+};
}

stored_as_text!(
    ActionStatus,
    EventStatus,
    InquiryStatus,
    SourceKind,
    Outcome,
    EntryKind,
    Bucket,
    ClearingMatch,
    AlertKind,
    Origin,
    DifferenceKind,
    Resolution,
    RunSource,
    RunStatus,
    LedgerState,
);

impl<W: Word, DB: Backend, ST: SingleValue> Queryable<ST, DB> for FlagSet<W>
where
    Self: FromSql<ST, DB>,
{
    type Row = Self;
    fn build(row: Self) -> deserialize::Result<Self> {
        Ok(row)
    }
}

/// A set of flags is read from its comma-separated words (written with `to_string`).
impl<W: Word, DB: Backend> FromSql<Text, DB> for FlagSet<W>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(FlagSet::from_text(&String::from_sql(bytes)?)?)
    }
}
