//! [`DocumentStore`] on PostgreSQL: tables `documents` and `document_versions` (migration 0005).
//!
//! Every write holds its scope's advisory lock, so each check (limits, latest version, duplicate
//! content or version name, the default version) and the write it guards are one unit across
//! every node.

use super::*;
use crate::store::documents::*;

const VERSION_COLS: &str = "v.version, v.version_name, v.display_name, v.target_type, v.format,
    v.content, v.hash, v.created";
const HEADER_COLS: &str =
    "d.name, d.document_type, d.default_version, d.latest_version, d.tags, d.created";

fn tags_json(tags: &[(String, String)]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

fn number(row: &Row, at: usize) -> StoreResult<u32> {
    u32::try_from(col::<i64>(row, at)?).map_err(backend)
}

fn header(row: &Row, at: usize) -> StoreResult<DocumentHeader> {
    Ok(DocumentHeader {
        name: col(row, at)?,
        document_type: col(row, at + 1)?,
        default_version: number(row, at + 2)?,
        latest_version: number(row, at + 3)?,
        tags: serde_json::from_str(col::<&str>(row, at + 4)?).unwrap_or_default(),
        created: col(row, at + 5)?,
    })
}

fn version(row: &Row, at: usize) -> StoreResult<DocumentVersionRecord> {
    Ok(DocumentVersionRecord {
        version: number(row, at)?,
        version_name: col(row, at + 1)?,
        display_name: col(row, at + 2)?,
        target_type: col(row, at + 3)?,
        format: col(row, at + 4)?,
        content: col(row, at + 5)?,
        hash: col(row, at + 6)?,
        created: col(row, at + 7)?,
    })
}

fn record(row: &Row) -> StoreResult<DocumentRecord> {
    Ok(DocumentRecord {
        header: header(row, 0)?,
        version: version(row, 6)?,
    })
}

/// The document with one selected version, read in one statement (one snapshot).
async fn select_document(
    c: &impl GenericClient,
    scope: &Scope,
    name: &str,
    selector: &VersionSelector,
    version_name: Option<&str>,
) -> StoreResult<Option<DocumentRecord>> {
    let (mode, number): (&str, Option<i64>) = match selector {
        VersionSelector::Default => ("default", None),
        VersionSelector::Latest => ("latest", None),
        VersionSelector::Number(n) => ("number", Some(*n as i64)),
        VersionSelector::Any => ("any", None),
    };
    c.q_opt(
        &format!(
            "SELECT {HEADER_COLS}, {VERSION_COLS}
               FROM documents d JOIN document_versions v
                 ON v.account = d.account AND v.region = d.region AND v.name = d.name
              WHERE d.account = $1 AND d.region = $2 AND d.name = $3
                AND v.version = CASE $4::text WHEN 'default' THEN d.default_version
                                              WHEN 'latest' THEN d.latest_version
                                              WHEN 'number' THEN $5::bigint
                                              ELSE v.version END
                AND ($6::text IS NULL OR v.version_name = $6)
              ORDER BY v.version LIMIT 1"
        ),
        &[
            &scope.account,
            &scope.region,
            &name,
            &mode,
            &number,
            &version_name,
        ],
    )
    .await
    .map_err(pg)?
    .map(|r| record(&r))
    .transpose()
}

async fn select_header(
    c: &impl GenericClient,
    scope: &Scope,
    name: &str,
) -> StoreResult<Option<DocumentHeader>> {
    c.q_opt(
        &format!(
            "SELECT {HEADER_COLS} FROM documents d
              WHERE d.account = $1 AND d.region = $2 AND d.name = $3"
        ),
        &[&scope.account, &scope.region, &name],
    )
    .await
    .map_err(pg)?
    .map(|r| header(&r, 0))
    .transpose()
}

async fn insert_version(
    c: &impl GenericClient,
    scope: &Scope,
    name: &str,
    number: i64,
    v: &NewDocumentVersion,
    now: f64,
) -> StoreResult<()> {
    c.exec(
        "INSERT INTO document_versions (account, region, name, version, version_name,
            display_name, target_type, format, content, hash, created)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &scope.account,
            &scope.region,
            &name,
            &number,
            &v.version_name,
            &v.display_name,
            &v.target_type,
            &v.format,
            &v.content,
            &v.hash,
            &now,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

#[async_trait]
impl DocumentStore for PgStore {
    async fn create_document(
        &self,
        scope: &Scope,
        doc: &NewDocument,
        max_documents: usize,
        now: f64,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        if select_header(&t, scope, &doc.name).await?.is_some() {
            return Ok(Err(DocumentConflict::AlreadyExists));
        }
        let count: i64 = col(
            &t.q_one(
                "SELECT COUNT(*) FROM documents WHERE account = $1 AND region = $2",
                &[&scope.account, &scope.region],
            )
            .await
            .map_err(pg)?,
            0,
        )?;
        if count as usize >= max_documents {
            return Ok(Err(DocumentConflict::DocumentLimit(max_documents)));
        }
        t.exec(
            "INSERT INTO documents (account, region, name, document_type, default_version,
                latest_version, next_version, tags, created)
             VALUES ($1, $2, $3, $4, 1, 1, 2, $5, $6)",
            &[
                &scope.account,
                &scope.region,
                &doc.name,
                &doc.document_type,
                &tags_json(&doc.tags),
                &now,
            ],
        )
        .await
        .map_err(pg)?;
        insert_version(&t, scope, &doc.name, 1, &doc.first, now).await?;
        let record = select_document(&t, scope, &doc.name, &VersionSelector::Number(1), None)
            .await?
            .ok_or_else(|| backend("created document not readable"))?;
        t.commit().await.map_err(pg)?;
        Ok(Ok(record))
    }

    async fn add_document_version(
        &self,
        scope: &Scope,
        name: &str,
        expected_latest: Option<u32>,
        v: &NewDocumentVersion,
        max_versions: usize,
        now: f64,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        let Some(head) = select_header(&t, scope, name).await? else {
            return Ok(Err(DocumentConflict::NoDocument));
        };
        if expected_latest.is_some_and(|e| e != head.latest_version) {
            return Ok(Err(DocumentConflict::NotLatest(head.latest_version)));
        }
        if let Some(dup) = t
            .q_opt(
                "SELECT version FROM document_versions
                  WHERE account = $1 AND region = $2 AND name = $3 AND hash = $4
                  ORDER BY version LIMIT 1",
                &[&scope.account, &scope.region, &name, &v.hash],
            )
            .await
            .map_err(pg)?
        {
            return Ok(Err(DocumentConflict::DuplicateContent(number(&dup, 0)?)));
        }
        if let Some(vn) = &v.version_name {
            if t.q_opt(
                "SELECT 1 FROM document_versions
                  WHERE account = $1 AND region = $2 AND name = $3 AND version_name = $4",
                &[&scope.account, &scope.region, &name, vn],
            )
            .await
            .map_err(pg)?
            .is_some()
            {
                return Ok(Err(DocumentConflict::DuplicateVersionName));
            }
        }
        let count: i64 = col(
            &t.q_one(
                "SELECT COUNT(*) FROM document_versions
                  WHERE account = $1 AND region = $2 AND name = $3",
                &[&scope.account, &scope.region, &name],
            )
            .await
            .map_err(pg)?,
            0,
        )?;
        if count as usize >= max_versions {
            return Ok(Err(DocumentConflict::VersionLimit(max_versions)));
        }
        let next: i64 = col(
            &t.q_one(
                "UPDATE documents SET latest_version = next_version, next_version = next_version + 1
                  WHERE account = $1 AND region = $2 AND name = $3
                  RETURNING latest_version",
                &[&scope.account, &scope.region, &name],
            )
            .await
            .map_err(pg)?,
            0,
        )?;
        insert_version(&t, scope, name, next, v, now).await?;
        let record = select_document(&t, scope, name, &VersionSelector::Number(next as u32), None)
            .await?
            .ok_or_else(|| backend("new version not readable"))?;
        t.commit().await.map_err(pg)?;
        Ok(Ok(record))
    }

    async fn set_default_document_version(
        &self,
        scope: &Scope,
        name: &str,
        version: u32,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        if select_header(&t, scope, name).await?.is_none() {
            return Ok(Err(DocumentConflict::NoDocument));
        }
        let selector = VersionSelector::Number(version);
        if select_document(&t, scope, name, &selector, None)
            .await?
            .is_none()
        {
            return Ok(Err(DocumentConflict::NoVersion));
        }
        t.exec(
            "UPDATE documents SET default_version = $4
              WHERE account = $1 AND region = $2 AND name = $3",
            &[&scope.account, &scope.region, &name, &(version as i64)],
        )
        .await
        .map_err(pg)?;
        let record = select_document(&t, scope, name, &selector, None)
            .await?
            .ok_or_else(|| backend("default version not readable"))?;
        t.commit().await.map_err(pg)?;
        Ok(Ok(record))
    }

    async fn delete_document(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<DocumentOutcome<()>> {
        let mut c = self.client().await?;
        let t = c.transaction().await.map_err(pg)?;
        lock_scopes(&t, [scope]).await?;
        let Some(head) = select_header(&t, scope, name).await? else {
            return Ok(Err(DocumentConflict::NoDocument));
        };
        let key: &Params = &[&scope.account, &scope.region, &name];
        let Some(number) = version else {
            t.exec(
                "DELETE FROM document_versions WHERE account = $1 AND region = $2 AND name = $3",
                key,
            )
            .await
            .map_err(pg)?;
            t.exec(
                "DELETE FROM documents WHERE account = $1 AND region = $2 AND name = $3",
                key,
            )
            .await
            .map_err(pg)?;
            t.commit().await.map_err(pg)?;
            return Ok(Ok(()));
        };
        if number == head.default_version {
            return Ok(Err(DocumentConflict::DefaultVersion));
        }
        let deleted = t
            .exec(
                "DELETE FROM document_versions
                  WHERE account = $1 AND region = $2 AND name = $3 AND version = $4",
                &[&scope.account, &scope.region, &name, &(number as i64)],
            )
            .await
            .map_err(pg)?;
        if deleted == 0 {
            return Ok(Err(DocumentConflict::NoVersion));
        }
        t.exec(
            "UPDATE documents SET latest_version = (
                SELECT MAX(version) FROM document_versions
                 WHERE account = $1 AND region = $2 AND name = $3)
              WHERE account = $1 AND region = $2 AND name = $3",
            key,
        )
        .await
        .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        Ok(Ok(()))
    }

    async fn get_document(
        &self,
        scope: &Scope,
        name: &str,
        selector: &VersionSelector,
        version_name: Option<&str>,
    ) -> StoreResult<Option<DocumentRecord>> {
        let c = self.client().await?;
        select_document(&c, scope, name, selector, version_name).await
    }

    async fn list_documents(&self, scope: &Scope) -> StoreResult<Vec<DocumentRecord>> {
        // Everything but the content, which a listing never shows.
        let cols = VERSION_COLS.replace("v.content", "'' AS content");
        let rows = self
            .rows(
                &format!(
                    "SELECT {HEADER_COLS}, {cols}
                       FROM documents d JOIN document_versions v
                         ON v.account = d.account AND v.region = d.region AND v.name = d.name
                        AND v.version = d.default_version
                      WHERE d.account = $1 AND d.region = $2
                      ORDER BY d.name"
                ),
                &[&scope.account, &scope.region],
            )
            .await?;
        map_rows(&rows, record)
    }

    async fn list_document_versions(
        &self,
        scope: &Scope,
        name: &str,
        after: Option<u32>,
        limit: usize,
    ) -> StoreResult<Option<(DocumentHeader, Vec<DocumentVersionRecord>)>> {
        let mut c = self.client().await?;
        // One snapshot: the header and the versions agree.
        let t = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg)?;
        let Some(head) = select_header(&t, scope, name).await? else {
            return Ok(None);
        };
        let rows = t
            .q_all(
                &format!(
                    "SELECT {VERSION_COLS} FROM document_versions v
                      WHERE v.account = $1 AND v.region = $2 AND v.name = $3 AND v.version > $4
                      ORDER BY v.version LIMIT $5"
                ),
                &[
                    &scope.account,
                    &scope.region,
                    &name,
                    &(after.unwrap_or(0) as i64),
                    &(limit as i64),
                ],
            )
            .await
            .map_err(pg)?;
        t.commit().await.map_err(pg)?;
        let versions = map_rows(&rows, |r| version(r, 0))?;
        Ok(Some((head, versions)))
    }
}
