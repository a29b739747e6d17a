//! Domain words as enums that travel as text: one macro gives each its words (`as_str`,
//! `parse`, `Display`, `FromStr`, serde as the word), and `FlagSet` keeps a set of them as one
//! comma-separated text. Storage stores them through these (see `storage::words`).

use std::collections::BTreeSet;
use std::fmt;

/// A word that is not one of an enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{word}` is not a known {what} (one of {})", choices.join(", "))]
pub struct UnknownWord {
    pub what: &'static str,
    pub word: String,
    pub choices: Vec<&'static str>,
}

impl UnknownWord {
    pub fn of<W: Word>(word: &str) -> UnknownWord {
        UnknownWord {
            what: W::WHAT,
            word: word.to_owned(),
            choices: W::ALL.iter().map(|each| each.as_str()).collect(),
        }
    }
}

/// An enum whose every variant is a word.
pub trait Word: Copy + Ord + fmt::Debug + 'static {
    /// What the words name, for error messages ("action status").
    const WHAT: &'static str;
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;

    /// Exactly one of the words (stored text, query values).
    fn parse(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|each| each.as_str() == word)
    }

    /// A word as a person types it: surrounding spaces and case do not matter.
    fn parse_loose(word: &str) -> Option<Self> {
        Self::parse(&word.trim().to_ascii_lowercase())
    }
}

/// `text_enum! { /// doc  pub enum Name ("what it names") { /// doc  Variant = "word", … } }`
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $crate::domain::words::Word for $name {
            const WHAT: &'static str = $what;
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                $crate::domain::words::Word::as_str(self)
            }

            pub fn parse(word: &str) -> Option<$name> {
                <$name as $crate::domain::words::Word>::parse(word)
            }

            pub fn parse_loose(word: &str) -> Option<$name> {
                <$name as $crate::domain::words::Word>::parse_loose(word)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::words::UnknownWord;
            fn from_str(word: &str) -> Result<Self, Self::Err> {
                $name::parse(word)
                    .ok_or_else(|| $crate::domain::words::UnknownWord::of::<$name>(word))
            }
        }

        /// Tests and callers may compare with the word itself.
        impl PartialEq<&str> for $name {
            fn eq(&self, word: &&str) -> bool {
                self.as_str() == *word
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, word: &$name) -> bool {
                *self == word.as_str()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let word = <::std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                word.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use text_enum;

/// A set of words, in the enum's order; as text, the words joined by commas (empty: none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlagSet<W: Word>(BTreeSet<W>);

impl<W: Word> Default for FlagSet<W> {
    fn default() -> Self {
        FlagSet(BTreeSet::new())
    }
}

impl<W: Word> FlagSet<W> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, word: W) -> bool {
        self.0.insert(word)
    }

    pub fn contains(&self, word: &W) -> bool {
        self.0.contains(word)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &FlagSet<W>) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = W> + '_ {
        self.0.iter().copied()
    }

    /// Reads stored text; a word this version does not know is an error, not a silent drop.
    pub fn from_text(text: &str) -> Result<Self, UnknownWord> {
        text.split(',')
            .filter(|word| !word.is_empty())
            .map(|word| W::parse(word).ok_or_else(|| UnknownWord::of::<W>(word)))
            .collect()
    }
}

impl<W: Word> fmt::Display for FlagSet<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, word) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(word.as_str())?;
        }
        Ok(())
    }
}

impl<W: Word> FromIterator<W> for FlagSet<W> {
    fn from_iter<I: IntoIterator<Item = W>>(words: I) -> Self {
        FlagSet(words.into_iter().collect())
    }
}

impl<W: Word, const N: usize> From<[W; N]> for FlagSet<W> {
    fn from(words: [W; N]) -> Self {
        words.into_iter().collect()
    }
}

impl<W: Word> Extend<W> for FlagSet<W> {
    fn extend<I: IntoIterator<Item = W>>(&mut self, words: I) {
        self.0.extend(words)
    }
}

impl<W: Word> IntoIterator for FlagSet<W> {
    type Item = W;
    type IntoIter = std::collections::btree_set::IntoIter<W>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, W: Word> IntoIterator for &'a FlagSet<W> {
    type Item = &'a W;
    type IntoIter = std::collections::btree_set::Iter<'a, W>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// As a JSON array of the words.
impl<W: Word + serde::Serialize> serde::Serialize for FlagSet<W> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    text_enum! {
        /// A test enum.
        pub enum Colour ("colour") {
            Red = "red",
            DeepBlue = "deep_blue",
        }
    }

    #[test]
    fn words_round_trip_and_unknown_ones_are_named() {
        for colour in Colour::ALL {
            assert_eq!(colour.as_str().parse::<Colour>(), Ok(*colour));
        }
        assert_eq!(Colour::DeepBlue.to_string(), "deep_blue");
        let error = "green".parse::<Colour>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "`green` is not a known colour (one of red, deep_blue)"
        );
        assert_eq!(serde_json::to_string(&Colour::Red).unwrap(), "\"red\"");
        assert_eq!(
            serde_json::from_str::<Colour>("\"deep_blue\"").unwrap(),
            Colour::DeepBlue
        );
    }

    #[test]
    fn a_set_is_its_words_in_order_joined_by_commas() {
        let set: FlagSet<Colour> = [Colour::DeepBlue, Colour::Red].into_iter().collect();
        assert_eq!(set.to_string(), "red,deep_blue");
        assert_eq!(FlagSet::<Colour>::from_text("red,deep_blue"), Ok(set));
        assert_eq!(FlagSet::<Colour>::from_text(""), Ok(FlagSet::new()));
        assert!(FlagSet::<Colour>::from_text("red,reddish").is_err());
    }
}
