//! `/ready` follows the PostgreSQL database (issue 6): 200 while it answers, 503 once it is gone,
//! while `/health` (liveness) stays 200. Runs when `REMEDY_TEST_DATABASE_URL` names a server.

mod common;

use std::process::Command;

use common::*;

fn psql(admin: &str, sql: &str) {
    let status = Command::new("psql")
        .arg(admin)
        .args(["-Atqc", sql])
        .status()
        .expect("psql");
    assert!(status.success(), "psql {sql}");
}

/// Drops the database however the test ends.
struct DropDatabase(String, String);

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

#[test]
fn ready_follows_the_database() {
    let Ok(admin) = std::env::var("REMEDY_TEST_DATABASE_URL") else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "postgres_ready: REMEDY_TEST_DATABASE_URL is not set; skipped"
        );
        return;
    };
    let name = format!("remedy_test_{}", uuid::Uuid::new_v4().simple());
    psql(&admin, &format!("CREATE DATABASE \"{name}\""));
    let _cleanup = DropDatabase(admin.clone(), name.clone());
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let url = format!("{}/{name}{query}", &base[..host_end]);

    let server = Server::start_with(&["--database-url", &url]);
    assert_eq!(server.get("/ready").unwrap().0, 200);
    // Migrations ran: the schema is there.
    let out = Command::new("psql")
        .arg(&url)
        .args(["-Atqc", "SELECT max(version) FROM remedy_schema_migrations"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<i64>()
            .unwrap()
            >= 6
    );

    psql(&admin, &format!("DROP DATABASE \"{name}\" WITH (FORCE)"));
    assert_eq!(server.get("/ready").unwrap().0, 503);
    assert_eq!(server.get("/health").unwrap().0, 200);
}
