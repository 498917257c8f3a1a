//! The store's side of SSM documents (users' own runbooks): documents and their immutable
//! versions, per account and region. Like [`super::Store`], each method is one atomic unit of
//! work: the checks that must hold under concurrency (the document limit, "the update names the
//! latest version", "no two versions with the same content or version name", "the default
//! version is not deleted alone") are made inside the transaction that writes.
//!
//! Outcomes the API maps to SSM errors come back as [`DocumentConflict`] inside `Ok`, so
//! [`super::StoreError`] stays the backend's.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::Scope;

/// A version's immutable content and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocumentVersion {
    pub version_name: Option<String>,
    pub display_name: Option<String>,
    pub target_type: Option<String>,
    /// `YAML` or `JSON`: the format the content was given in.
    pub format: String,
    pub content: String,
    /// SHA-256 of `content`, lower-case hex.
    pub hash: String,
}

/// A document to create with its first version.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    pub name: String,
    pub document_type: String,
    pub tags: Vec<(String, String)>,
    pub first: NewDocumentVersion,
}

/// A document's header.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentHeader {
    pub name: String,
    pub document_type: String,
    pub default_version: u32,
    pub latest_version: u32,
    pub tags: Vec<(String, String)>,
    pub created: f64,
}

/// One stored version.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentVersionRecord {
    pub version: u32,
    pub version_name: Option<String>,
    pub display_name: Option<String>,
    pub target_type: Option<String>,
    pub format: String,
    pub content: String,
    pub hash: String,
    pub created: f64,
}

/// A document with one of its versions.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    pub header: DocumentHeader,
    pub version: DocumentVersionRecord,
}

/// Which version a read names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSelector {
    Default,
    Latest,
    Number(u32),
    /// Any version (used with a version name).
    Any,
}

/// Why a document write was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentConflict {
    /// No such document in the scope.
    NoDocument,
    /// No such version of the document.
    NoVersion,
    /// CreateDocument: the name is taken.
    AlreadyExists,
    /// CreateDocument: the scope holds the maximum number of documents.
    DocumentLimit(usize),
    /// UpdateDocument: the document holds the maximum number of versions.
    VersionLimit(usize),
    /// UpdateDocument: the request named a version other than the latest (the latest is given).
    NotLatest(u32),
    /// UpdateDocument: a version with this content exists (its number).
    DuplicateContent(u32),
    /// UpdateDocument: a version with this version name exists.
    DuplicateVersionName,
    /// DeleteDocument of one version: it is the default version.
    DefaultVersion,
}

pub type DocumentOutcome<T> = Result<T, DocumentConflict>;

#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// Creates a document with version 1 (also its default and latest), unless the name is
    /// taken or `max_documents` documents exist in the scope.
    async fn create_document(
        &self,
        scope: &Scope,
        doc: &NewDocument,
        max_documents: usize,
        now: f64,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>>;

    /// Adds the next version (and makes it the latest). `expected_latest`: the version the
    /// request says it updates (`None`: whichever is latest). Refused when the content or the
    /// version name repeats an existing version's, or `max_versions` exist.
    async fn add_document_version(
        &self,
        scope: &Scope,
        name: &str,
        expected_latest: Option<u32>,
        version: &NewDocumentVersion,
        max_versions: usize,
        now: f64,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>>;

    /// Makes an existing version the default; returns the document with that version.
    async fn set_default_document_version(
        &self,
        scope: &Scope,
        name: &str,
        version: u32,
    ) -> StoreResult<DocumentOutcome<DocumentRecord>>;

    /// Deletes the whole document (`version` `None`) or one version that is not the default.
    async fn delete_document(
        &self,
        scope: &Scope,
        name: &str,
        version: Option<u32>,
    ) -> StoreResult<DocumentOutcome<()>>;

    /// A document with the selected version (and, when given, that version name), in one
    /// consistent read. `None` when the document or such a version does not exist.
    async fn get_document(
        &self,
        scope: &Scope,
        name: &str,
        selector: &VersionSelector,
        version_name: Option<&str>,
    ) -> StoreResult<Option<DocumentRecord>>;

    /// Every document of the scope with its default version, ordered by name. The versions'
    /// `content` is left empty (a listing never shows it).
    async fn list_documents(&self, scope: &Scope) -> StoreResult<Vec<DocumentRecord>>;

    /// A document's versions after `after` (exclusive), ascending, at most `limit`; `None` when
    /// the document does not exist.
    async fn list_document_versions(
        &self,
        scope: &Scope,
        name: &str,
        after: Option<u32>,
        limit: usize,
    ) -> StoreResult<Option<(DocumentHeader, Vec<DocumentVersionRecord>)>>;
}

/// The behaviour every [`DocumentStore`] must have, run against a fresh, empty store by each
/// backend's tests (SQLite: `store::sqlite::documents::tests`).
#[cfg(test)]
pub(crate) mod conformance {
    use std::sync::Arc;

    use super::*;

    fn version(content: &str, version_name: Option<&str>) -> NewDocumentVersion {
        NewDocumentVersion {
            version_name: version_name.map(str::to_string),
            display_name: Some("display".into()),
            target_type: None,
            format: "YAML".into(),
            content: content.into(),
            hash: format!("hash-of-{content}"),
        }
    }

    fn doc(name: &str) -> NewDocument {
        NewDocument {
            name: name.into(),
            document_type: "Automation".into(),
            tags: vec![("team".into(), "a".into())],
            first: version(&format!("{name}-v1"), Some("first")),
        }
    }

    /// Runs every check; `store` must be empty.
    pub async fn run(store: Arc<dyn DocumentStore>) {
        let scope = Scope::new("000000000000", "us-east-1");
        let other = Scope::new("111111111111", "us-east-1");
        let s = store.as_ref();

        // Create: version 1 is default and latest; names are unique per scope; the limit holds.
        let created = s
            .create_document(&scope, &doc("b-doc"), 2, 1.0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                created.header.default_version,
                created.header.latest_version,
                created.version.version
            ),
            (1, 1, 1)
        );
        assert_eq!(
            created.header.tags,
            vec![("team".to_string(), "a".to_string())]
        );
        assert_eq!(created.version.version_name.as_deref(), Some("first"));
        assert_eq!(created.version.content, "b-doc-v1");
        assert_eq!(
            s.create_document(&scope, &doc("b-doc"), 2, 1.0)
                .await
                .unwrap(),
            Err(DocumentConflict::AlreadyExists)
        );
        s.create_document(&scope, &doc("a-doc"), 2, 1.0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            s.create_document(&scope, &doc("c-doc"), 2, 1.0)
                .await
                .unwrap(),
            Err(DocumentConflict::DocumentLimit(2))
        );
        // Another scope has its own names and its own count.
        s.create_document(&other, &doc("b-doc"), 2, 1.0)
            .await
            .unwrap()
            .unwrap();

        // Versions: only the latest is updated; content and version names do not repeat.
        let v2 = s
            .add_document_version(
                &scope,
                "b-doc",
                Some(1),
                &version("two", Some("second")),
                3,
                2.0,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                v2.version.version,
                v2.header.latest_version,
                v2.header.default_version
            ),
            (2, 2, 1)
        );
        assert_eq!(
            s.add_document_version(&scope, "b-doc", Some(1), &version("three", None), 3, 3.0)
                .await
                .unwrap(),
            Err(DocumentConflict::NotLatest(2))
        );
        assert_eq!(
            s.add_document_version(&scope, "b-doc", None, &version("b-doc-v1", None), 3, 3.0)
                .await
                .unwrap(),
            Err(DocumentConflict::DuplicateContent(1))
        );
        assert_eq!(
            s.add_document_version(
                &scope,
                "b-doc",
                None,
                &version("three", Some("first")),
                3,
                3.0
            )
            .await
            .unwrap(),
            Err(DocumentConflict::DuplicateVersionName)
        );
        assert_eq!(
            s.add_document_version(&scope, "nope", None, &version("three", None), 3, 3.0)
                .await
                .unwrap(),
            Err(DocumentConflict::NoDocument)
        );
        s.add_document_version(&scope, "b-doc", None, &version("three", None), 3, 3.0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            s.add_document_version(&scope, "b-doc", None, &version("four", None), 3, 4.0)
                .await
                .unwrap(),
            Err(DocumentConflict::VersionLimit(3))
        );

        // Reads by selector and version name.
        let get = |sel: VersionSelector, vn: Option<&'static str>| {
            let scope = scope.clone();
            async move {
                s.get_document(&scope, "b-doc", &sel, vn)
                    .await
                    .unwrap()
                    .map(|r| r.version.version)
            }
        };
        assert_eq!(get(VersionSelector::Default, None).await, Some(1));
        assert_eq!(get(VersionSelector::Latest, None).await, Some(3));
        assert_eq!(get(VersionSelector::Number(2), None).await, Some(2));
        assert_eq!(get(VersionSelector::Number(9), None).await, None);
        assert_eq!(get(VersionSelector::Any, Some("second")).await, Some(2));
        assert_eq!(get(VersionSelector::Number(1), Some("second")).await, None);
        assert_eq!(get(VersionSelector::Any, Some("none")).await, None);
        assert!(s
            .get_document(&other, "a-doc", &VersionSelector::Default, None)
            .await
            .unwrap()
            .is_none());

        // Default version.
        assert_eq!(
            s.set_default_document_version(&scope, "b-doc", 7)
                .await
                .unwrap(),
            Err(DocumentConflict::NoVersion)
        );
        assert_eq!(
            s.set_default_document_version(&scope, "nope", 1)
                .await
                .unwrap(),
            Err(DocumentConflict::NoDocument)
        );
        let d = s
            .set_default_document_version(&scope, "b-doc", 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.header.default_version, d.version.version_name.as_deref()),
            (2, Some("second"))
        );

        // Listing: name order, default versions, no content.
        let listed = s.list_documents(&scope).await.unwrap();
        let names: Vec<(&str, u32)> = listed
            .iter()
            .map(|r| (r.header.name.as_str(), r.version.version))
            .collect();
        assert_eq!(names, vec![("a-doc", 1), ("b-doc", 2)]);
        assert!(listed.iter().all(|r| r.version.content.is_empty()));
        let (head, page) = s
            .list_document_versions(&scope, "b-doc", None, 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(head.default_version, 2);
        assert_eq!(
            page.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let (_, page) = s
            .list_document_versions(&scope, "b-doc", Some(2), 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(page.iter().map(|v| v.version).collect::<Vec<_>>(), vec![3]);
        assert!(s
            .list_document_versions(&scope, "nope", None, 2)
            .await
            .unwrap()
            .is_none());

        // Deleting one version: never the default; the latest follows; numbers are not reused.
        assert_eq!(
            s.delete_document(&scope, "b-doc", Some(2)).await.unwrap(),
            Err(DocumentConflict::DefaultVersion)
        );
        assert_eq!(
            s.delete_document(&scope, "b-doc", Some(8)).await.unwrap(),
            Err(DocumentConflict::NoVersion)
        );
        s.delete_document(&scope, "b-doc", Some(3))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(get(VersionSelector::Latest, None).await, Some(2));
        let v4 = s
            .add_document_version(&scope, "b-doc", Some(2), &version("four", None), 3, 5.0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v4.version.version, 4);

        // Deleting the document: every version, and the name (and a place) is free again.
        s.delete_document(&scope, "b-doc", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            s.delete_document(&scope, "b-doc", None).await.unwrap(),
            Err(DocumentConflict::NoDocument)
        );
        assert_eq!(get(VersionSelector::Any, None).await, None);
        let again = s
            .create_document(&scope, &doc("b-doc"), 2, 6.0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.header.latest_version, 1);
        assert!(s
            .get_document(&other, "b-doc", &VersionSelector::Default, None)
            .await
            .unwrap()
            .is_some());

        // Racing updates of one version: exactly one is added.
        let mut tasks = Vec::new();
        for i in 0..10 {
            let store = store.clone();
            let scope = scope.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .add_document_version(
                        &scope,
                        "a-doc",
                        Some(1),
                        &version(&format!("race-{i}"), None),
                        100,
                        7.0,
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => {
                    assert_eq!(r.version.version, 2);
                    won += 1;
                }
                Err(e) => assert_eq!(e, DocumentConflict::NotLatest(2)),
            }
        }
        assert_eq!(won, 1);
    }
}
