//! Throwaway PostgreSQL databases for the tests that run on `REMEDY_TEST_DATABASE_URL` (a server
//! to create databases on, e.g. `postgres://postgres@127.0.0.1:5432/postgres`): each test gets a
//! database of its own, created with `psql` and dropped (with its connections) however the test
//! ends. Without the variable the test says it was skipped and passes.

use std::process::Command;

/// `url` with its database name replaced by `db` (the query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{db}{query}", &base[..host_end])
}

/// Runs one SQL statement with `psql` against `url`; panics if it fails.
pub fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .arg(url)
        .args(["-Atqc", sql])
        .status()
        .expect("psql");
    assert!(status.success(), "psql {sql}");
}

/// The unaligned output of one SQL query (`psql -Atq`: rows by line, columns by `|`).
pub fn query(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .arg(url)
        .args(["-Atqc", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Drops the database however the test ends: (admin URL, database name).
pub struct DropDatabase(pub String, pub String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.0)
            .args([
                "-Atqc",
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.1),
            ])
            .status();
    }
}

/// A fresh database on the test server: (its URL, what drops it), or `None` without
/// `REMEDY_TEST_DATABASE_URL`, after saying on stderr that test file `who` was skipped.
pub fn database(who: &str) -> Option<(String, DropDatabase)> {
    let Ok(admin) = std::env::var("REMEDY_TEST_DATABASE_URL") else {
        use std::io::Write;
        // Straight to stderr: the test harness captures `eprintln!`, and this must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "{who}: REMEDY_TEST_DATABASE_URL is not set; skipped"
        );
        return None;
    };
    let name = format!("remedy_test_{}", uuid::Uuid::new_v4().simple());
    psql(&admin, &format!("CREATE DATABASE \"{name}\""));
    let url = with_database(&admin, &name);
    Some((url, DropDatabase(admin, name)))
}
