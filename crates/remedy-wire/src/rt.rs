//! Runtime helpers used by the generated modules (not a stable API).

use crate::{Render, WireEnum};
use std::fmt::Display;

/// Compiles a (model-derived) pattern with full-match semantics.
///
/// Every pattern is checked to compile by the generator and by the tests; the
/// fallback (match anything) only guards against a panic.
pub fn compile(pattern: &str) -> regex::Regex {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .or_else(|_| regex::Regex::new("(?s).*"))
        .unwrap_or_else(|_| unreachable_regex())
}

#[allow(clippy::expect_used)]
fn unreachable_regex() -> regex::Regex {
    regex::Regex::new("").expect("the empty regex compiles")
}

/// Where a value sits in the request, as AWS's messages name it: `parent.name` for a member
/// (`name` at the top level), `path.N.member` for a list item (N from 1), `path.key.member` for a
/// map value. Built on the stack as validation descends and rendered only when a constraint
/// fails: a valid request allocates nothing for its paths (issue 7's profile found a path
/// string formatted for every list item and member checked).
#[derive(Clone, Copy, Debug)]
pub enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'a str),
    Item(&'a Path<'a>, usize),
    Value(&'a Path<'a>, &'a str),
}

impl Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Member(Path::Root, name) => f.write_str(name),
            Path::Member(parent, name) => write!(f, "{parent}.{name}"),
            Path::Item(parent, i) => write!(f, "{parent}.{}.member", i + 1),
            Path::Value(parent, key) => write!(f, "{parent}.{key}.member"),
        }
    }
}

fn violation(errors: &mut Vec<String>, rendered: &str, path: &Path<'_>, phrase: impl Display) {
    errors.push(format!(
        "Value '{rendered}' at '{path}' failed to satisfy constraint: Member must {phrase}"
    ));
}

/// A required member is absent.
pub fn required(errors: &mut Vec<String>, path: &Path<'_>) {
    errors.push(format!(
        "Value null at '{path}' failed to satisfy constraint: Member must not be null"
    ));
}

fn len_check(
    errors: &mut Vec<String>,
    path: &Path<'_>,
    len: usize,
    min: Option<u64>,
    max: Option<u64>,
    render: impl FnOnce() -> String,
) {
    let len = len as u64;
    if let Some(min) = min {
        if len < min {
            violation(
                errors,
                &render(),
                path,
                format_args!("have length greater than or equal to {min}"),
            );
            return;
        }
    }
    if let Some(max) = max {
        if len > max {
            violation(
                errors,
                &render(),
                path,
                format_args!("have length less than or equal to {max}"),
            );
        }
    }
}

/// Length (in Unicode scalar values) of a string.
pub fn check_str_len(
    errors: &mut Vec<String>,
    path: &Path<'_>,
    s: &str,
    min: Option<u64>,
    max: Option<u64>,
) {
    len_check(errors, path, s.chars().count(), min, max, || s.to_owned());
}

/// Length of a list or map.
pub fn check_len<T: Render + ?Sized>(
    errors: &mut Vec<String>,
    path: &Path<'_>,
    v: &T,
    len: usize,
    min: Option<u64>,
    max: Option<u64>,
) {
    len_check(errors, path, len, min, max, || v.render());
}

/// Range of a number (integer, long or double).
pub fn check_range<N: PartialOrd + Render + std::fmt::Display>(
    errors: &mut Vec<String>,
    path: &Path<'_>,
    v: N,
    min: Option<N>,
    max: Option<N>,
) {
    let (bound, phrase) = match (min, max) {
        (Some(min), _) if v < min => (min, "greater"),
        (_, Some(max)) if v > max => (max, "less"),
        _ => return,
    };
    violation(
        errors,
        &v.render(),
        path,
        format_args!("have value {phrase} than or equal to {bound}"),
    );
}

/// Full-match regular expression.
pub fn check_pattern(
    errors: &mut Vec<String>,
    path: &Path<'_>,
    s: &str,
    re: &regex::Regex,
    pattern: &str,
) {
    if !re.is_match(s) {
        violation(
            errors,
            s,
            path,
            format_args!("satisfy regular expression pattern: {pattern}"),
        );
    }
}

/// Enum membership.
pub fn check_enum<E: WireEnum>(errors: &mut Vec<String>, path: &Path<'_>, v: &E) {
    if !v.is_known() {
        violation(
            errors,
            v.wire(),
            path,
            format_args!("satisfy enum value set: [{}]", E::values().join(", ")),
        );
    }
}

/// Some map key violates the key shape's constraints (`constraints` is the `[...]` list).
pub fn map_keys<T: Render + ?Sized>(
    errors: &mut Vec<String>,
    path: &Path<'_>,
    v: &T,
    constraints: &str,
) {
    errors.push(format!(
        "Value '{}' at '{path}' failed to satisfy constraint: Map keys must satisfy constraint: {constraints}",
        v.render()
    ));
}

/// Deserializes a wire enum from any JSON string.
pub struct EnumVisitor<E>(pub fn(&str) -> E);

impl<E> serde::de::Visitor<'_> for EnumVisitor<E> {
    type Value = E;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<Er: serde::de::Error>(self, v: &str) -> Result<E, Er> {
        Ok((self.0)(v))
    }
}
