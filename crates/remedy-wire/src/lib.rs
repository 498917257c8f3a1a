//! Model-driven AWS JSON 1.1 wire layer for remedy.
//!
//! The service modules [`config`] (AWS Config, `StarlingDoveService`) and
//! [`ssm`] (Systems Manager, `AmazonSSM`) are generated from the botocore
//! service models by `cargo run -p xtask -- codegen` and committed; the models
//! are not needed to build or run.
//!
//! Each module contains one struct per structure shape (every member is an
//! `Option`, serialized under its exact wire name), one enum per enum string
//! shape (with an `Unrecognized(String)` fallback), the service's
//! `Operation` enum and constants, and generated [`Validate`] impls that
//! reproduce AWS's framework validation messages.
//!
//! Typical request handling:
//!
//! ```
//! use remedy_wire::{config, decode, DecodeError};
//! let err = decode::<config::StartRemediationExecutionRequest>(br#"{"ResourceKeys":[]}"#)
//!     .unwrap_err();
//! assert!(matches!(err, DecodeError::Validation(_)));
//! ```
//!
//! Validation paths: members are named with their first letter lower-cased,
//! nested with `.`; list items are `{list}.{n}.member` (1-based) and map
//! values `{map}.{key}.member`. Map keys are checked as a whole: one item
//! `Value '{map}' at '{path}' failed to satisfy constraint: Map keys must
//! satisfy constraint: [...]` listing all constraints of the key shape, as
//! AWS does.

use std::collections::BTreeMap;
use std::fmt;

mod de;
pub mod open;
#[doc(hidden)]
pub mod rt;

/// Defines a wire enum with an `Unrecognized(String)` fallback.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal,)* } $(accepts $accept:path)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $wire, "`")]
                $variant,
            )*
            /// A value not in the model's enum (fails validation).
            Unrecognized(String),
        }

        impl $name {
            /// The model's values, in model order.
            pub const VALUES: &'static [&'static str] = &[$($wire),*];

            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Unrecognized(s) => s.as_str(),
                }
            }

            /// Parses a wire value; unknown values become `Unrecognized`.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)*
                    other => Self::Unrecognized(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(Self::from_wire(s))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                d.deserialize_str($crate::rt::EnumVisitor(Self::from_wire))
            }
        }

        impl $crate::WireEnum for $name {
            fn values() -> &'static [&'static str] {
                Self::VALUES
            }
            fn wire(&self) -> &str {
                self.as_str()
            }
            fn is_known(&self) -> bool {
                match self {
                    // An open enum also accepts values its predicate admits (see `open`).
                    Self::Unrecognized(_other) => false $(|| $accept(_other))?,
                    _ => true,
                }
            }
        }

        impl $crate::Render for $name {
            fn render(&self) -> String {
                self.as_str().to_owned()
            }
        }
    };
}
pub(crate) use wire_enum;

#[rustfmt::skip]
pub mod config;
#[rustfmt::skip]
pub mod ssm;

/// Validation of a decoded value against the model's constraints.
///
/// Implemented (generated) by every structure. `path` is the path of the value
/// itself ([`rt::Path::Root`] for a request), and violations are appended to `errors` as
/// complete message items (`Value ... at '...' failed to satisfy constraint: ...`).
pub trait Validate {
    /// Appends every violation of this value's members (depth-first, model order).
    fn validate_members(&self, path: &rt::Path<'_>, errors: &mut Vec<String>);
}

impl<T: Validate + ?Sized> Validate for Box<T> {
    fn validate_members(&self, path: &rt::Path<'_>, errors: &mut Vec<String>) {
        (**self).validate_members(path, errors);
    }
}

/// Java `toString()`-style rendering used for values in validation messages.
pub trait Render {
    /// Renders the value without the surrounding quotes.
    fn render(&self) -> String;
}

impl Render for String {
    fn render(&self) -> String {
        self.clone()
    }
}
impl Render for str {
    fn render(&self) -> String {
        self.to_owned()
    }
}
impl Render for i32 {
    fn render(&self) -> String {
        self.to_string()
    }
}
impl Render for i64 {
    fn render(&self) -> String {
        self.to_string()
    }
}
impl Render for bool {
    fn render(&self) -> String {
        self.to_string()
    }
}
impl Render for f64 {
    fn render(&self) -> String {
        self.to_string()
    }
}
impl<T: Render + ?Sized> Render for Box<T> {
    fn render(&self) -> String {
        (**self).render()
    }
}
impl<T: Render> Render for Vec<T> {
    fn render(&self) -> String {
        let items: Vec<String> = self.iter().map(Render::render).collect();
        format!("[{}]", items.join(", "))
    }
}
impl<T: Render> Render for BTreeMap<String, T> {
    fn render(&self) -> String {
        let items: Vec<String> = self
            .iter()
            .map(|(k, v)| format!("{k}={}", v.render()))
            .collect();
        format!("{{{}}}", items.join(", "))
    }
}

/// Common interface of the generated enums.
pub trait WireEnum {
    /// The model's values, in model order.
    fn values() -> &'static [&'static str];
    /// The wire value.
    fn wire(&self) -> &str;
    /// Whether the value is one of the model's values.
    fn is_known(&self) -> bool;
}

/// A request failed validation; `message` is the complete AWS-style message
/// (`N validation error(s) detected: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Builds the AWS message from violation items; `None` when there are none.
pub fn validation_message(items: &[String]) -> Option<String> {
    match items.len() {
        0 => None,
        1 => Some(format!("1 validation error detected: {}", items[0])),
        n => Some(format!(
            "{n} validation errors detected: {}",
            items.join("; ")
        )),
    }
}

/// Validates a (request) value, collecting all violations into one message.
pub fn validate<T: Validate + ?Sized>(value: &T) -> Result<(), ValidationError> {
    let mut errors = Vec::new();
    value.validate_members(&rt::Path::Root, &mut errors);
    match validation_message(&errors) {
        None => Ok(()),
        Some(message) => Err(ValidationError { message }),
    }
}

/// Why a request body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON, not an object, or a member of the wrong JSON type
    /// (AWS `SerializationException`).
    Serialization(String),
    /// Well-formed but violates the model's constraints
    /// (AWS `ValidationException`); the complete message.
    Validation(String),
}

impl DecodeError {
    /// The human message.
    pub fn message(&self) -> &str {
        match self {
            DecodeError::Serialization(m) | DecodeError::Validation(m) => m,
        }
    }

    /// The AWS error code (`SerializationException` / `ValidationException`).
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Serialization(_) => "SerializationException",
            DecodeError::Validation(_) => "ValidationException",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for DecodeError {}

/// Parses a JSON body into `T` without validating it.
///
/// An empty or all-whitespace body is `{}`; the body must be a JSON object;
/// unknown members are ignored and `null` members are absent.
pub fn from_slice<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let trimmed = body.trim_ascii();
    let value = if trimmed.is_empty() {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice::<serde_json::Value>(trimmed).map_err(|e| e.to_string())?
    };
    from_value(&value)
}

/// Converts a parsed JSON value into `T` with the same strict rules as [`from_slice`].
pub fn from_value<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, String> {
    T::deserialize(de::ValueDe(value)).map_err(|e| e.0)
}

/// Decodes and validates a request body.
pub fn decode<T: serde::de::DeserializeOwned + Validate>(body: &[u8]) -> Result<T, DecodeError> {
    let value: T = from_slice(body).map_err(DecodeError::Serialization)?;
    validate(&value).map_err(|e| DecodeError::Validation(e.message))?;
    Ok(value)
}

/// Encodes a value as a JSON body (absent members omitted).
pub fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}
