//! Opaque pagination tokens.
//!
//! A token names the operation it belongs to and the last key a page returned (keyset paging, so
//! pages stay stable while rows are added). It is base64url JSON: opaque to clients, and anything
//! that does not decode, or belongs to another operation, is an `InvalidNextTokenException`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error::ApiError;

#[derive(Serialize, Deserialize)]
struct Token<K> {
    op: String,
    after: K,
}

pub fn encode<K: Serialize>(op: &str, after: &K) -> String {
    let json = serde_json::to_vec(&Token {
        op: op.to_string(),
        after,
    })
    .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a client's token; `None` for an absent or empty token (first page).
pub fn decode<K: DeserializeOwned>(op: &str, token: Option<&str>) -> Result<Option<K>, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| ApiError::invalid_next_token())?;
    let t: Token<K> = serde_json::from_slice(&bytes).map_err(|_| ApiError::invalid_next_token())?;
    if t.op != op {
        return Err(ApiError::invalid_next_token());
    }
    Ok(Some(t.after))
}

/// Fetch `limit + 1` rows, then call this: it trims to `limit` and gives the token for the next
/// page when there is one.
pub fn page<T, K: Serialize>(
    op: &str,
    mut rows: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Option<String>) {
    if rows.len() > limit {
        rows.truncate(limit);
        let token = rows.last().map(|last| encode(op, &key(last)));
        (rows, token)
    } else {
        (rows, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let t = encode("DescribeConfigRules", &"rule-9".to_string());
        assert_eq!(
            decode::<String>("DescribeConfigRules", Some(&t))
                .unwrap()
                .as_deref(),
            Some("rule-9")
        );
        assert!(decode::<String>("ListTagsForResource", Some(&t)).is_err());
        assert!(decode::<String>("DescribeConfigRules", Some("garbage!")).is_err());
        assert!(decode::<String>("DescribeConfigRules", None)
            .unwrap()
            .is_none());
        let (rows, next) = page("X", vec![1, 2, 3], 2, |v| *v);
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(decode::<i32>("X", next.as_deref()).unwrap(), Some(2));
    }
}
