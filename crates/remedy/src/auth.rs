//! Who may call remedy: the credential store behind SigV4 verification.
//!
//! Credentials come from a TOML file (`--credentials`), one `[[credential]]` table per access key:
//!
//! ```toml
//! [[credential]]
//! access_key_id = "AKIDTEAMA"
//! secret_access_key = "..."
//! account_id = "111122223333"
//! ```
//!
//! Without a file there is one local credential, `test`/`test` → account `000000000000`, the
//! convention LocalStack users already have. The region of a request always comes from its
//! credential scope.

use std::collections::HashMap;
use std::path::Path;

use remedy_sigv4::{Credential, CredentialStore, SecretKey};
use serde::Deserialize;

/// The account every request signed with the default local credential belongs to.
pub const DEFAULT_ACCOUNT: &str = "000000000000";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    credential: Vec<CredentialEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialEntry {
    access_key_id: String,
    secret_access_key: String,
    account_id: String,
}

/// Access keys known to this server.
pub struct StaticCredentials {
    by_key: HashMap<String, (String, String)>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<_> = self.by_key.keys().collect();
        keys.sort();
        f.debug_struct("StaticCredentials")
            .field("access_keys", &keys)
            .finish()
    }
}

impl StaticCredentials {
    /// The zero-setup default: `test`/`test` → `000000000000`.
    pub fn local_default() -> Self {
        let mut by_key = HashMap::new();
        by_key.insert(
            "test".to_string(),
            ("test".to_string(), DEFAULT_ACCOUNT.to_string()),
        );
        Self { by_key }
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read credentials file {}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("credentials file {}: {e}", path.display()))
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        // Not `e.to_string()`: toml's rendering quotes the offending line, which may be a secret.
        let file: CredentialsFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            match line {
                Some(line) => format!("line {line}: {}", e.message()),
                None => e.message().to_string(),
            }
        })?;
        if file.credential.is_empty() {
            return Err("no [[credential]] entries".into());
        }
        let mut by_key = HashMap::new();
        for c in file.credential {
            if c.account_id.len() != 12 || !c.account_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "account_id of access key {} must be 12 digits",
                    c.access_key_id
                ));
            }
            if by_key
                .insert(c.access_key_id.clone(), (c.secret_access_key, c.account_id))
                .is_some()
            {
                return Err(format!("access key {} is listed twice", c.access_key_id));
            }
        }
        Ok(Self { by_key })
    }
}

impl CredentialStore for StaticCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        self.by_key
            .get(access_key_id)
            .map(|(secret, account)| Credential {
                access_key_id: access_key_id.to_string(),
                secret: SecretKey::new(secret.clone()),
                account_id: account.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_accounts_and_rejects_bad_ones() {
        let c = StaticCredentials::from_toml(
            r#"
            [[credential]]
            access_key_id = "A1"
            secret_access_key = "s1"
            account_id = "111111111111"
            [[credential]]
            access_key_id = "A2"
            secret_access_key = "s2"
            account_id = "222222222222"
            "#,
        )
        .unwrap();
        assert_eq!(c.lookup("A2").unwrap().account_id, "222222222222");
        assert!(c.lookup("nope").is_none());
        assert!(!format!("{c:?}").contains("s1"));
        assert!(StaticCredentials::from_toml(
            "[[credential]]\naccess_key_id='a'\nsecret_access_key='b'\naccount_id='12'"
        )
        .is_err());
        assert!(StaticCredentials::from_toml("").is_err());
        let err = StaticCredentials::from_toml(
            "[[credential]]\naccess_key_id = 'a'\nsecret_access_key = hunter2\n",
        )
        .unwrap_err();
        assert!(err.starts_with("line 3: "), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
