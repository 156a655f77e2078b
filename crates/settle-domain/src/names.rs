//! The names enums are stored and sent as, declared once per enum with `names!`.

/// A stored name that is none of its type's (a database written by something other than Settle).
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

/// Declares an enum whose variants are stored and sent by name, with `ALL`, `as_str`, `FromStr` (exact names
/// only), `Display`, serde by name, and (`sea-orm` feature) a typed string column for the store's entities.
macro_rules! names {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $name:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "sea-orm", derive(sea_orm::DeriveValueType), sea_orm(value_type = "String", from_str = "Self::from_stored"))]
        pub enum $ty {
            $( $(#[$vmeta])* #[serde(rename = $name)] $variant ),+
        }

        impl $ty {
            pub const ALL: [$ty; [$($name),+].len()] = [$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }

            /// Reads a stored name (a column).
            pub fn from_stored(s: &str) -> Result<Self, $crate::UnknownName> {
                s.parse().map_err(|()| $crate::UnknownName { kind: $kind, value: s.to_owned() })
            }
        }

        impl std::str::FromStr for $ty {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use names;
