//! [`DocumentStore`] on SQLite: tables `documents` and `document_versions` (migration 0005).
//!
//! Every write runs on the single writer, so each check (limits, latest version, duplicate
//! content or version name, the default version) and the write it guards are one transaction.

use super::*;
use crate::store::documents::*;

const VERSION_COLS: &str = "v.version, v.version_name, v.display_name, v.target_type, v.format,
    v.content, v.hash, v.created";
const HEADER_COLS: &str =
    "d.name, d.document_type, d.default_version, d.latest_version, d.tags, d.created";

fn tags_json(tags: &[(String, String)]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

fn header(row: &Row, at: usize) -> rusqlite::Result<DocumentHeader> {
    let tags: String = row.get(at + 4)?;
    Ok(DocumentHeader {
        name: row.get(at)?,
        document_type: row.get(at + 1)?,
        default_version: row.get(at + 2)?,
        latest_version: row.get(at + 3)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        created: row.get(at + 5)?,
    })
}

fn version(row: &Row, at: usize) -> rusqlite::Result<DocumentVersionRecord> {
    Ok(DocumentVersionRecord {
        version: row.get(at)?,
        version_name: row.get(at + 1)?,
        display_name: row.get(at + 2)?,
        target_type: row.get(at + 3)?,
        format: row.get(at + 4)?,
        content: row.get(at + 5)?,
        hash: row.get(at + 6)?,
        created: row.get(at + 7)?,
    })
}

/// (mode, number) for the version-selecting query.
fn selector_args(selector: &VersionSelector) -> (&'static str, Option<u32>) {
    match selector {
        VersionSelector::Default => ("default", None),
        VersionSelector::Latest => ("latest", None),
        VersionSelector::Number(n) => ("number", Some(*n)),
        VersionSelector::Any => ("any", None),
    }
}

/// The document with one selected version, read in one statement (one snapshot).
fn select_document(
    c: &Connection,
    scope: &Scope,
    name: &str,
    selector: &VersionSelector,
    version_name: Option<&str>,
) -> StoreResult<Option<DocumentRecord>> {
    let (mode, number) = selector_args(selector);
    c.query_row(
        &format!(
            "SELECT {HEADER_COLS}, {VERSION_COLS}
               FROM documents d JOIN document_versions v
                 ON v.account = d.account AND v.region = d.region AND v.name = d.name
              WHERE d.account = ?1 AND d.region = ?2 AND d.name = ?3
                AND v.version = CASE ?4 WHEN 'default' THEN d.default_version
                                        WHEN 'latest' THEN d.latest_version
                                        WHEN 'number' THEN ?5
                                        ELSE v.version END
                AND (?6 IS NULL OR v.version_name = ?6)
              ORDER BY v.version LIMIT 1"
        ),
        params![
            scope.account,
            scope.region,
            name,
            mode,
            number,
            version_name
        ],
        |row| {
            Ok(DocumentRecord {
                header: header(row, 0)?,
                version: version(row, 6)?,
            })
        },
    )
    .optional()
    .map_err(backend)
}

fn select_header(c: &Connection, scope: &Scope, name: &str) -> StoreResult<Option<DocumentHeader>> {
    c.query_row(
        &format!(
            "SELECT {HEADER_COLS} FROM documents d
              WHERE d.account = ?1 AND d.region = ?2 AND d.name = ?3"
        ),
        params![scope.account, scope.region, name],
        |row| header(row, 0),
    )
    .optional()
    .map_err(backend)
}

fn insert_version(
    c: &Connection,
    scope: &Scope,
    name: &str,
    number: u32,
    v: &NewDocumentVersion,
    now: f64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO document_versions (account, region, name, version, version_name,
            display_name, target_type, format, content, hash, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            scope.account,
            scope.region,
            name,
            number,
            v.version_name,
            v.display_name,
            v.target_type,
            v.format,
            v.content,
            v.hash,
            now
        ],
    )
    .map_err(backend)?;
    Ok(())
}

fn exists(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<bool> {
    Ok(c.query_row(sql, p, |_| Ok(()))
        .optional()
        .map_err(backend)?
        .is_some())
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn create_document(
        &self,
        scope: &Scope,
        doc: &NewDocument,
        max_documents: usize,
        now: f64,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>> {
        let scope = scope.clone();
        let doc = doc.clone();
        self.write(move |c| {
            if select_header(c, &scope, &doc.name)?.is_some() {
                return Ok(Err(DocumentConflict::AlreadyExists));
            }
            let count: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM documents WHERE account = ?1 AND region = ?2",
                    params![scope.account, scope.region],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if count as usize >= max_documents {
                return Ok(Err(DocumentConflict::DocumentLimit(max_documents)));
            }
            c.execute(
                "INSERT INTO documents (account, region, name, document_type, default_version,
                    latest_version, next_version, tags, created)
                 VALUES (?1, ?2, ?3, ?4, 1, 1, 2, ?5, ?6)",
                params![
                    scope.account,
                    scope.region,
                    doc.name,
                    doc.document_type,
                    tags_json(&doc.tags),
                    now
                ],
            )
            .map_err(backend)?;
            insert_version(c, &scope, &doc.name, 1, &doc.first, now)?;
            let record = select_document(c, &scope, &doc.name, &VersionSelector::Number(1), None)?
                .ok_or_else(|| StoreError::Backend("created document not readable".into()))?;
            Ok(Ok(record))
        })
        .await
    }

    async fn add_document_version(
        &self,
        scope: &Scope,
        name: &str,
        expected_latest: Option<u32>,
        version: &NewDocumentVersion,
        max_versions: usize,
        now: f64,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>> {
        let scope = scope.clone();
        let name = name.to_string();
        let v = version.clone();
        self.write(move |c| {
            let Some(head) = select_header(c, &scope, &name)? else {
                return Ok(Err(DocumentConflict::NoDocument));
            };
            if expected_latest.is_some_and(|e| e != head.latest_version) {
                return Ok(Err(DocumentConflict::NotLatest(head.latest_version)));
            }
            let duplicate: Option<u32> = c
                .query_row(
                    "SELECT version FROM document_versions
                      WHERE account = ?1 AND region = ?2 AND name = ?3 AND hash = ?4
                      ORDER BY version LIMIT 1",
                    params![scope.account, scope.region, name, v.hash],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if let Some(n) = duplicate {
                return Ok(Err(DocumentConflict::DuplicateContent(n)));
            }
            if let Some(vn) = &v.version_name {
                if exists(
                    c,
                    "SELECT 1 FROM document_versions
                      WHERE account = ?1 AND region = ?2 AND name = ?3 AND version_name = ?4",
                    params![scope.account, scope.region, name, vn],
                )? {
                    return Ok(Err(DocumentConflict::DuplicateVersionName));
                }
            }
            let count: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM document_versions
                      WHERE account = ?1 AND region = ?2 AND name = ?3",
                    params![scope.account, scope.region, name],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            if count as usize >= max_versions {
                return Ok(Err(DocumentConflict::VersionLimit(max_versions)));
            }
            let number: u32 = c
                .query_row(
                    "UPDATE documents SET latest_version = next_version, next_version = next_version + 1
                      WHERE account = ?1 AND region = ?2 AND name = ?3
                      RETURNING latest_version",
                    params![scope.account, scope.region, name],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            insert_version(c, &scope, &name, number, &v, now)?;
            let record = select_document(c, &scope, &name, &VersionSelector::Number(number), None)?
                .ok_or_else(|| StoreError::Backend("new version not readable".into()))?;
            Ok(Ok(record))
        })
        .await
    }

    async fn set_default_document_version(
        &self,
        scope: &Scope,
        name: &str,
        version: u32,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>> {
        let scope = scope.clone();
        let name = name.to_string();
        self.write(move |c| {
            if select_header(c, &scope, &name)?.is_none() {
                return Ok(Err(DocumentConflict::NoDocument));
            }
            let Some(_) =
                select_document(c, &scope, &name, &VersionSelector::Number(version), None)?
            else {
                return Ok(Err(DocumentConflict::NoVersion));
            };
            c.execute(
                "UPDATE documents SET default_version = ?4
                  WHERE account = ?1 AND region = ?2 AND name = ?3",
                params![scope.account, scope.region, name, version],
            )
            .map_err(backend)?;
            let record =
                select_document(c, &scope, &name, &VersionSelector::Number(version), None)?
                    .ok_or_else(|| StoreError::Backend("default version not readable".into()))?;
            Ok(Ok(record))
        })
        .await
    }

    async fn delete_document(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<DocumentOutcome<()>> {
        let scope = scope.clone();
        let name = name.to_string();
        self.write(move |c| {
            let Some(head) = select_header(c, &scope, &name)? else {
                return Ok(Err(DocumentConflict::NoDocument));
            };
            let Some(number) = version else {
                c.execute(
                    "DELETE FROM document_versions WHERE account = ?1 AND region = ?2 AND name = ?3",
                    params![scope.account, scope.region, name],
                )
                .map_err(backend)?;
                c.execute(
                    "DELETE FROM documents WHERE account = ?1 AND region = ?2 AND name = ?3",
                    params![scope.account, scope.region, name],
                )
                .map_err(backend)?;
                return Ok(Ok(()));
            };
            if number == head.default_version {
                return Ok(Err(DocumentConflict::DefaultVersion));
            }
            let deleted = c
                .execute(
                    "DELETE FROM document_versions
                      WHERE account = ?1 AND region = ?2 AND name = ?3 AND version = ?4",
                    params![scope.account, scope.region, name, number],
                )
                .map_err(backend)?;
            if deleted == 0 {
                return Ok(Err(DocumentConflict::NoVersion));
            }
            c.execute(
                "UPDATE documents SET latest_version = (
                    SELECT MAX(version) FROM document_versions
                     WHERE account = ?1 AND region = ?2 AND name = ?3)
                  WHERE account = ?1 AND region = ?2 AND name = ?3",
                params![scope.account, scope.region, name],
            )
            .map_err(backend)?;
            Ok(Ok(()))
        })
        .await
    }

    async fn get_document(
        &self,
        scope: &Scope,
        name: &str,
        selector: &VersionSelector,
        version_name: Option<&str>,
    ) -> StoreResult<Option<DocumentRecord>> {
        let scope = scope.clone();
        let name = name.to_string();
        let selector = selector.clone();
        let version_name = version_name.map(str::to_string);
        self.read(move |c| select_document(c, &scope, &name, &selector, version_name.as_deref()))
            .await
    }

    async fn list_documents(&self, scope: &Scope) -> StoreResult<Vec<DocumentRecord>> {
        let scope = scope.clone();
        self.read(move |c| {
            // Everything but the content, which a listing never shows.
            let cols = VERSION_COLS.replace("v.content", "'' AS content");
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {HEADER_COLS}, {cols}
                       FROM documents d JOIN document_versions v
                         ON v.account = d.account AND v.region = d.region AND v.name = d.name
                        AND v.version = d.default_version
                      WHERE d.account = ?1 AND d.region = ?2
                      ORDER BY d.name"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![scope.account, scope.region], |row| {
                    Ok(DocumentRecord {
                        header: header(row, 0)?,
                        version: version(row, 6)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
        })
        .await
    }

    async fn list_document_versions(
        &self,
        scope: &Scope,
        name: &str,
        after: Option<u32>,
        limit: usize,
    ) -> StoreResult<Option<(DocumentHeader, Vec<DocumentVersionRecord>)>> {
        let scope = scope.clone();
        let name = name.to_string();
        self.read(move |c| {
            // One read transaction: the header and the versions from the same snapshot.
            c.execute_batch("BEGIN").map_err(backend)?;
            let result = (|| {
                let Some(head) = select_header(c, &scope, &name)? else {
                    return Ok(None);
                };
                let mut stmt = c
                    .prepare(&format!(
                        "SELECT {VERSION_COLS} FROM document_versions v
                          WHERE v.account = ?1 AND v.region = ?2 AND v.name = ?3 AND v.version > ?4
                          ORDER BY v.version LIMIT ?5"
                    ))
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(
                        params![
                            scope.account,
                            scope.region,
                            name,
                            after.unwrap_or(0),
                            limit as i64
                        ],
                        |row| version(row, 0),
                    )
                    .map_err(backend)?;
                let versions = rows
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(backend)?;
                Ok(Some((head, versions)))
            })();
            let _ = c.execute_batch("COMMIT");
            result
        })
        .await
    }
}
