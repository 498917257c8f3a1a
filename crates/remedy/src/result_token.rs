//! Result tokens: what a custom rule's handler hands back to PutEvaluations.
//!
//! A token is opaque to clients, bound to one (account, region, rule name), unforgeable and
//! expiring. Form: `rt1.<payload>.<mac>`, both parts base64url without padding, where `payload`
//! is JSON `{"a": account, "r": region, "n": rule, "iat": ms, "exp": ms, "x": nonce}` and `mac`
//! is HMAC-SHA256 over `rt1.<payload>` keyed with a 32-byte server secret.
//!
//! The secret is generated once (from the OS-seeded CSPRNG) and stored in the database, so every
//! node sharing the database — and the `remedy result-token` command, which opens the same
//! store — mints and accepts the same tokens. Tokens survive restarts; rotating the secret (by
//! deleting its row) invalidates every outstanding token.
//!
//! `iat` doubles as the rule's invocation time: PutEvaluations reports it as
//! `ConfigRuleInvokedTime`.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::cli::ResultTokenArgs;
use crate::domain::Scope;

const PREFIX: &str = "rt1";
/// Length of the server secret, in bytes.
pub const SECRET_LEN: usize = 32;
/// How long a token is accepted by default (AWS does not document its own; 6 hours covers the
/// longest custom-rule run).
pub const DEFAULT_TTL: Duration = Duration::from_secs(6 * 60 * 60);

type HmacSha256 = Hmac<Sha256>;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "a")]
    pub account: String,
    #[serde(rename = "r")]
    pub region: String,
    #[serde(rename = "n")]
    pub rule: String,
    /// Minted at, epoch milliseconds.
    pub iat: i64,
    /// Expires at, epoch milliseconds (accepted strictly before).
    pub exp: i64,
    /// Random, so two tokens minted in the same millisecond differ.
    #[serde(rename = "x")]
    pub nonce: String,
}

impl Claims {
    /// When the token was minted, in epoch seconds.
    pub fn issued_at(&self) -> f64 {
        self.iat as f64 / 1000.0
    }
}

/// Why a token was refused (all surface as `InvalidResultTokenException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("it is malformed")]
    Malformed,
    #[error("its signature does not verify")]
    Forged,
    #[error("it has expired")]
    Expired,
    #[error("it was issued for another account or region")]
    WrongScope,
}

/// Mints and verifies tokens with one server secret.
#[derive(Clone)]
pub struct ResultTokenKey {
    secret: Vec<u8>,
    ttl: Duration,
}

impl std::fmt::Debug for ResultTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultTokenKey")
            .field("secret", &"<redacted>")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl ResultTokenKey {
    pub fn new(secret: Vec<u8>, ttl: Duration) -> Self {
        Self { secret, ttl }
    }

    fn mac(&self, signed: &str) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(signed.as_bytes());
        mac
    }

    /// A token for `rule` in `scope`, valid for the key's lifetime from now.
    pub fn mint(&self, scope: &Scope, rule: &str) -> String {
        self.mint_at(scope, rule, crate::time::now_millis(), self.ttl)
    }

    /// A token minted at `now_ms`, valid for `ttl`.
    pub fn mint_at(&self, scope: &Scope, rule: &str, now_ms: i64, ttl: Duration) -> String {
        let nonce: [u8; 8] = rand::random();
        let claims = Claims {
            account: scope.account.clone(),
            region: scope.region.clone(),
            rule: rule.to_string(),
            iat: now_ms,
            exp: now_ms.saturating_add(ttl.as_millis().min(i64::MAX as u128) as i64),
            nonce: URL_SAFE_NO_PAD.encode(nonce),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signed = format!("{PREFIX}.{payload}");
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&signed).finalize().into_bytes());
        format!("{signed}.{tag}")
    }

    /// Checks a token presented by a caller in `scope`; returns what it says.
    pub fn verify(&self, token: &str, scope: &Scope) -> Result<Claims, TokenError> {
        self.verify_at(token, scope, crate::time::now_millis())
    }

    pub fn verify_at(&self, token: &str, scope: &Scope, now_ms: i64) -> Result<Claims, TokenError> {
        let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (prefix, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        if prefix != PREFIX {
            return Err(TokenError::Malformed);
        }
        let tag = URL_SAFE_NO_PAD
            .decode(tag.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        // Constant-time comparison; nothing in the payload is trusted before this.
        self.mac(signed)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Forged)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if now_ms >= claims.exp {
            return Err(TokenError::Expired);
        }
        if claims.account != scope.account || claims.region != scope.region {
            return Err(TokenError::WrongScope);
        }
        Ok(claims)
    }
}

/// A fresh secret from the thread-local CSPRNG (seeded from the OS).
pub fn new_secret() -> Vec<u8> {
    let bytes: [u8; SECRET_LEN] = rand::random();
    bytes.to_vec()
}

/// `remedy result-token`: prints a token for a rule, read from (and, on first use, creating) the
/// store's secret. Lets tests and users push evaluations for custom rules without a handler.
pub fn run_cli(args: &ResultTokenArgs) -> Result<String, String> {
    use crate::store::RuleSelector;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let scope = Scope::new(args.account.clone(), args.region.clone());
    runtime.block_on(async {
        let store = args.storage.open_store().await?;
        let rule = store
            .get_rule(&scope, &RuleSelector::Name(args.rule.clone()))
            .await
            .map_err(|e| e.to_string())?;
        if rule.is_none() {
            return Err(format!(
                "no config rule named {:?} in account {} region {}",
                args.rule, scope.account, scope.region
            ));
        }
        let secret = store
            .result_token_secret()
            .await
            .map_err(|e| e.to_string())?;
        let key = ResultTokenKey::new(secret, Duration::from_secs(args.valid_for_seconds));
        Ok(key.mint(&scope, &args.rule))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ResultTokenKey {
        ResultTokenKey::new(vec![7; SECRET_LEN], DEFAULT_TTL)
    }

    #[test]
    fn round_trip() {
        let scope = Scope::new("111111111111", "eu-west-1");
        let t = key().mint_at(&scope, "my-rule", 1_000, Duration::from_secs(10));
        let c = key().verify_at(&t, &scope, 5_000).unwrap();
        assert_eq!(c.rule, "my-rule");
        assert_eq!(c.issued_at(), 1.0);
    }

    #[test]
    fn refusals() {
        let scope = Scope::new("111111111111", "eu-west-1");
        let t = key().mint_at(&scope, "r", 1_000, Duration::from_secs(10));
        assert_eq!(
            key().verify_at(&t, &scope, 11_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            key().verify_at(&t, &Scope::new("222222222222", "eu-west-1"), 2_000),
            Err(TokenError::WrongScope)
        );
        assert_eq!(
            key().verify_at(&t, &Scope::new("111111111111", "us-east-1"), 2_000),
            Err(TokenError::WrongScope)
        );
        let other = ResultTokenKey::new(vec![8; SECRET_LEN], DEFAULT_TTL);
        assert_eq!(other.verify_at(&t, &scope, 2_000), Err(TokenError::Forged));
        // A payload edited to name another rule no longer matches its MAC.
        let (signed, tag) = t.rsplit_once('.').unwrap();
        let (_, payload) = signed.split_once('.').unwrap();
        let mut claims: Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims.rule = "other".into();
        let edited = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(
            key().verify_at(&format!("rt1.{edited}.{tag}"), &scope, 2_000),
            Err(TokenError::Forged)
        );
        for junk in [
            "",
            "x",
            "rt1.",
            "rt1.a.b",
            "rt2.a.b",
            "a.b.c.d",
            "rt1.!!.??",
        ] {
            assert!(key().verify_at(junk, &scope, 2_000).is_err(), "{junk}");
        }
    }
}
