//! One macro that declares an API's typed operation enum (in the spirit of
//! Garage's `Endpoint`): the variants, an `Unknown` for anything
//! unrecognised (one metrics label, so clients cannot create series),
//! `ALL`, `name()` (the metrics label), `from_name()`, and `info()`, the
//! operation's row in the API's own table (IAM action, whether it writes, ...).

/// `operations! { pub enum S3Op: OpInfo { GetObject => OpInfo {..}, ... } }`
#[macro_export]
macro_rules! operations {
    ($(#[$meta:meta])* $vis:vis enum $name:ident : $info:ty { $($op:ident => $row:expr,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($op,)*
            /// Anything this API does not know.
            Unknown,
        }

        impl $name {
            /// Every known operation (not `Unknown`).
            pub const ALL: &[$name] = &[$($name::$op,)*];

            /// The operation's name: its metrics label.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$op => stringify!($op),)*
                    $name::Unknown => "Unknown",
                }
            }

            /// The operation of a name; `Unknown` for any other string.
            pub fn from_name(name: &str) -> Self {
                match name {
                    $(stringify!($op) => $name::$op,)*
                    _ => $name::Unknown,
                }
            }

            /// The operation's row of the table (`None` for `Unknown`).
            pub fn info(self) -> Option<$info> {
                match self {
                    $($name::$op => Some($row),)*
                    $name::Unknown => None,
                }
            }
        }
    };
}
