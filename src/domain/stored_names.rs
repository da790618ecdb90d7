//! Enums whose values are stored in the database by name (statuses, kinds, channels).
//!
//! [`stored_names!`](crate::stored_names) declares such an enum once, each value beside
//! the name it is stored under, and writes what every one of them needs: `ALL` in
//! declaration order, `as_str`, `FromStr` (an [`UnknownName`] for a name this version does
//! not know) and `Display`. `db/` makes each a database value, so that entities hold the
//! enum rather than a string. A stored name is part of the database's contract: never
//! rename one.

/// A stored name that is not one of its enum's values (a newer version wrote it, or the
/// row was edited by hand).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`")]
pub struct UnknownName {
    /// What the name should have been, e.g. "job status".
    pub what: &'static str,
    /// The name found.
    pub name: String,
}

/// Declares an enum stored by name. The enum derives `Clone, Copy, Debug, PartialEq, Eq,
/// Hash`; further attributes (docs, other derives) are passed through.
///
/// ```ignore
/// stored_names! {
///     /// Where a job is in its life.
///     pub enum JobStatus ("job status") {
///         /// Waiting for a worker.
///         Queued = "queued",
///         /// A worker holds it.
///         Running = "running",
///     }
/// }
/// ```
#[macro_export]
macro_rules! stored_names {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $stored:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$(Self::$variant),+];

            /// The name it is stored (and logged) under.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $stored),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::stored_names::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
                    $crate::domain::stored_names::UnknownName {
                        what: $what,
                        name: s.to_owned(),
                    }
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::stored_names! {
        /// A test enum.
        #[derive(PartialOrd, Ord)]
        enum Colour ("colour") {
            /// First.
            Red = "red",
            /// Second.
            DeepBlue = "deep_blue",
        }
    }

    #[test]
    fn every_value_round_trips_through_its_stored_name() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DeepBlue]);
        for colour in Colour::ALL {
            assert_eq!(colour.as_str().parse::<Colour>(), Ok(colour));
            assert_eq!(colour.to_string(), colour.as_str());
        }
        assert!(Colour::Red < Colour::DeepBlue);
    }

    #[test]
    fn an_unknown_name_says_what_it_should_have_been() {
        let err = "green".parse::<Colour>().unwrap_err();
        assert_eq!(err.to_string(), "unknown colour `green`");
        assert!("Red".parse::<Colour>().is_err(), "names are case-sensitive");
    }
}
