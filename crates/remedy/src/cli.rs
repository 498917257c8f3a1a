//! Command line: `remedy serve`, `remedy import`, `remedy result-token`, `remedy version`.
//!
//! Every flag has a `REMEDY_*` environment variable; a flag on the command line wins.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "remedy",
    version,
    about = "A self-hosted, AWS Config-compatible compliance and remediation service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: the AWS Config API (and the SSM slice) on one endpoint.
    Serve(ServeArgs),
    /// Load configuration items (API or notification form, JSON) into a store, running or stopped.
    Import(ImportArgs),
    /// Print a result token for a rule, for PutEvaluations without a rule handler (custom rules).
    ResultToken(ResultTokenArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where state lives.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Directory for the embedded SQLite database (`remedy.db` inside it). Ignored when
    /// --database-url is given.
    #[arg(long, env = "REMEDY_DATA_DIR", default_value = "./remedy-data")]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://USER@HOST:PORT/DB` for PostgreSQL (several nodes may share
    /// it; TLS with `?sslmode=require|verify-ca|verify-full[&sslrootcert=FILE]`), or
    /// `sqlite://PATH` for an explicit SQLite file. Overrides --data-dir.
    #[arg(long, env = "REMEDY_DATABASE_URL")]
    pub database_url: Option<String>,

    /// PostgreSQL connections this node pools (1 to 1000), beside its one liveness connection.
    /// Size it so that every node's pool together stays under the server's max_connections.
    /// Ignored on SQLite.
    #[arg(
        long,
        env = "REMEDY_DATABASE_POOL_SIZE",
        default_value_t = crate::store::postgres::DEFAULT_POOL_SIZE as u32,
        value_parser = clap::value_parser!(u32).range(1..=MAX_POOL_SIZE)
    )]
    pub database_pool_size: u32,
}

/// The largest `--database-pool-size` accepted: far past what one node can use, low enough to
/// catch a typo before it exhausts the database's connections.
pub const MAX_POOL_SIZE: i64 = 1000;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "REMEDY_LISTEN", default_value = "127.0.0.1:4599")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub storage: StorageArgs,

    /// TOML file of accepted access keys ([[credential]] access_key_id, secret_access_key,
    /// account_id). Without it, the single credential test/test maps to account 000000000000.
    #[arg(long, env = "REMEDY_CREDENTIALS")]
    pub credentials: Option<PathBuf>,

    /// Log line format.
    #[arg(long, env = "REMEDY_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Log filter in tracing's EnvFilter syntax (e.g. `info`, `remedy=debug`).
    #[arg(long, env = "REMEDY_LOG", default_value = "info")]
    pub log: String,

    /// Largest accepted request body in bytes; larger bodies are refused before they are read.
    #[arg(long, env = "REMEDY_MAX_BODY_BYTES", default_value_t = crate::app::DEFAULT_BODY_LIMIT)]
    pub max_body_bytes: usize,

    /// Allowed clock skew of signed requests, in seconds (AWS: 900).
    #[arg(long, env = "REMEDY_MAX_CLOCK_SKEW_SECONDS", default_value_t = 900)]
    pub max_clock_skew_seconds: u64,

    /// Config rules allowed per account and region (AWS: 1000).
    #[arg(long, env = "REMEDY_MAX_RULES", default_value_t = 1000)]
    pub max_rules: usize,

    /// Active custom-type resources allowed per account and region (AWS: 100000).
    #[arg(long, env = "REMEDY_MAX_CUSTOM_RESOURCES", default_value_t = 100_000)]
    pub max_custom_resources: usize,

    /// How long a result token (handed to custom rules) is accepted by PutEvaluations, in seconds.
    #[arg(long, env = "REMEDY_RESULT_TOKEN_TTL_SECONDS", default_value_t = 6 * 60 * 60)]
    pub result_token_ttl_seconds: u64,

    /// StartConfigRulesEvaluation accepts each rule at most once per this many seconds (AWS: 60).
    #[arg(
        long,
        env = "REMEDY_RULE_EVALUATION_INTERVAL_SECONDS",
        default_value_t = 60
    )]
    pub rule_evaluation_interval_seconds: u64,

    /// TOML file mapping custom rules' Lambda function ARNs to local handlers ([[handler]]
    /// function_arn, and url = "http://..." or command = ["prog", "arg"]; see the README).
    #[arg(long, env = "REMEDY_LAMBDA_HANDLERS")]
    pub lambda_handlers: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ResultTokenArgs {
    /// The config rule the token is for (it must exist).
    #[arg(long)]
    pub rule: String,

    #[command(flatten)]
    pub storage: StorageArgs,

    /// Account of the rule (the account your credentials map to).
    #[arg(long, env = "REMEDY_ACCOUNT", default_value = crate::auth::DEFAULT_ACCOUNT)]
    pub account: String,

    /// Region of the rule.
    #[arg(long, env = "REMEDY_REGION", default_value = "us-east-1")]
    pub region: String,

    /// How long the token is accepted, in seconds.
    #[arg(long, default_value_t = 6 * 60 * 60)]
    pub valid_for_seconds: u64,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// JSON file: one configuration item, an array of them, an object with `configurationItems`,
    /// or one item per line (JSON Lines). `-` reads standard input.
    pub file: PathBuf,

    #[command(flatten)]
    pub storage: StorageArgs,

    /// Account for items that do not name one (`accountId` / `awsAccountId`).
    #[arg(long, env = "REMEDY_IMPORT_ACCOUNT", default_value = crate::auth::DEFAULT_ACCOUNT)]
    pub account: String,

    /// Region for items that do not name one (`awsRegion`).
    #[arg(long, env = "REMEDY_IMPORT_REGION", default_value = "us-east-1")]
    pub region: String,
}

/// The database a [`StorageArgs`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://…`), shared by every node pointed at it.
    Postgres(String),
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite {}", path.display()),
            // The URL may carry a password: name the backend only.
            Database::Postgres(_) => f.write_str("postgres"),
        }
    }
}

impl StorageArgs {
    /// The database to open: `--database-url` when given, else `remedy.db` in `--data-dir`.
    pub fn database(&self) -> Result<Database, String> {
        match &self.database_url {
            None => Ok(Database::Sqlite(self.data_dir.join("remedy.db"))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Database::Postgres(url.clone()))
            }
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(path) if !path.is_empty() => Ok(Database::Sqlite(PathBuf::from(path))),
                _ => Err(format!(
                    "unsupported --database-url {url:?}: expected sqlite://PATH or postgres://..."
                )),
            },
        }
    }

    /// Opens the store (applying migrations) on the current Tokio runtime.
    pub async fn open_store(&self) -> Result<std::sync::Arc<dyn crate::store::Store>, String> {
        Ok(match self.database()? {
            Database::Sqlite(path) => std::sync::Arc::new(
                crate::store::sqlite::SqliteStore::open(&path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            ),
            Database::Postgres(url) => std::sync::Arc::new(
                crate::store::postgres::PgStore::connect_with_pool_size(
                    &url,
                    self.database_pool_size as usize,
                )
                .await
                .map_err(|e| format!("cannot open the PostgreSQL database: {e}"))?,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(args: &[&str]) -> Result<StorageArgs, clap::Error> {
        let argv = ["remedy", "serve"].iter().chain(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Serve(s) => s.storage,
            other => panic!("parsed {other:?}"),
        })
    }

    #[test]
    fn database_pool_size_defaults_and_bounds() {
        // The environment variable is read too; these tests only pass flags, so make sure it is
        // not what they see.
        assert!(std::env::var_os("REMEDY_DATABASE_POOL_SIZE").is_none());
        assert_eq!(storage(&[]).unwrap().database_pool_size, 16);
        for ok in ["1", "64", "1000"] {
            let s = storage(&["--database-pool-size", ok]).unwrap();
            assert_eq!(s.database_pool_size.to_string(), ok);
        }
        for bad in ["0", "1001", "-3", "many"] {
            let err = storage(&[&format!("--database-pool-size={bad}")]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
            let text = err.to_string();
            assert!(text.contains("--database-pool-size"), "{text}");
        }
        let err = storage(&["--database-pool-size", "0"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("1..=1000"), "{err}");
    }
}
