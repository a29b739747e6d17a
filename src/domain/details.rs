//! What an action's events say about it besides its money and status: its currencies, brand
//! and event type, the ids a partner searches by, and its dates.
//!
//! The list is written once, in `with_action_details!`; the event, the stored row, the write
//! path's row, the views and the exports all hold an `ActionDetails` in their own shape (`T` is
//! how a text is held, `D` how a date is), so adding a field means adding it here, to the
//! schema, and to the mapping's field table.

use serde::Serialize;

/// Calls `$callback!` with the detail fields: `texts: a, b, …; dates: c, d, …`. Each is also the
/// canonical field name of the mapping and the column name of `actions`.
macro_rules! with_action_details {
    ($callback:ident) => {
        $callback! {
            texts: payout_currency, amount_currency, campaign_id, campaign_name,
                action_tracker_id, action_tracker_name, media_partner_id, order_id, shared_id,
                sub_id1, sub_id2, sub_id3, click_id, promo_code;
            dates: event_date, creation_date, locking_date, cleared_date
        }
    };
}
pub(crate) use with_action_details;

macro_rules! define_action_details {
    (texts: $($text:ident),+; dates: $($date:ident),+) => {
        /// Every field optional: an event may leave any of them out.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        pub struct ActionDetails<T, D> {
            $(pub $text: Option<T>,)+
            $(pub $date: Option<D>,)+
        }

        const TEXT_COUNT: usize = [$(stringify!($text)),+].len();
        const DATE_COUNT: usize = [$(stringify!($date)),+].len();

        impl<T, D> Default for ActionDetails<T, D> {
            fn default() -> Self {
                ActionDetails {
                    $($text: None,)+
                    $($date: None,)+
                }
            }
        }

        impl<T, D> ActionDetails<T, D> {
            /// The names of the text fields, then of the date fields, in declaration order.
            pub const TEXTS: &'static [&'static str] = &[$(stringify!($text)),+];
            pub const DATES: &'static [&'static str] = &[$(stringify!($date)),+];

            /// Reads each field by its name from `source`.
            pub fn read<R>(
                source: &mut R,
                mut text: impl FnMut(&mut R, &'static str) -> Option<T>,
                mut date: impl FnMut(&mut R, &'static str) -> Option<D>,
            ) -> Self {
                ActionDetails {
                    $($text: text(source, stringify!($text)),)+
                    $($date: date(source, stringify!($date)),)+
                }
            }

            /// The same fields in another shape.
            pub fn map<'s, T2, D2>(
                &'s self,
                mut text: impl FnMut(&'s T) -> T2,
                mut date: impl FnMut(&'s D) -> D2,
            ) -> ActionDetails<T2, D2> {
                ActionDetails {
                    $($text: self.$text.as_ref().map(&mut text),)+
                    $($date: self.$date.as_ref().map(&mut date),)+
                }
            }

            /// The same fields in another shape, dropping those that do not convert.
            pub fn filter_map<'s, T2, D2>(
                &'s self,
                mut text: impl FnMut(&'s T) -> Option<T2>,
                mut date: impl FnMut(&'s D) -> Option<D2>,
            ) -> ActionDetails<T2, D2> {
                ActionDetails {
                    $($text: self.$text.as_ref().and_then(&mut text),)+
                    $($date: self.$date.as_ref().and_then(&mut date),)+
                }
            }

            /// Each field `later` gives replaces this one's: a later event never blanks what an
            /// earlier one gave.
            pub fn overlay(&mut self, later: ActionDetails<T, D>) {
                $(if later.$text.is_some() {
                    self.$text = later.$text;
                })+
                $(if later.$date.is_some() {
                    self.$date = later.$date;
                })+
            }

            /// Each text field with its name, in declaration order.
            pub fn texts(&self) -> [(&'static str, Option<&T>); TEXT_COUNT] {
                [$((stringify!($text), self.$text.as_ref())),+]
            }

            /// Each date field with its name, in declaration order.
            pub fn dates(&self) -> [(&'static str, Option<&D>); DATE_COUNT] {
                [$((stringify!($date), self.$date.as_ref())),+]
            }
        }
    };
}

with_action_details!(define_action_details);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_event_gives_what_it_has_and_blanks_nothing() {
        let mut details: ActionDetails<String, u32> = ActionDetails::read(
            &mut (),
            |_, name| (name == "order_id" || name == "shared_id").then(|| format!("{name}-1")),
            |_, name| (name == "event_date").then_some(1),
        );
        details.overlay(ActionDetails::read(
            &mut (),
            |_, name| (name == "order_id").then(|| "order-2".to_owned()),
            |_, name| (name == "locking_date").then_some(2),
        ));
        assert_eq!(details.order_id.as_deref(), Some("order-2"));
        assert_eq!(details.shared_id.as_deref(), Some("shared_id-1"));
        assert_eq!(
            (details.event_date, details.locking_date),
            (Some(1), Some(2))
        );
        let lengths = details.map(String::len, |date| date * 10);
        assert_eq!(lengths.shared_id, Some(11));
        assert_eq!(lengths.locking_date, Some(20));
        let given: Vec<&str> = details
            .texts()
            .into_iter()
            .filter_map(|(name, value)| value.map(|_| name))
            .collect();
        assert_eq!(given, ["order_id", "shared_id"]);
    }
}
