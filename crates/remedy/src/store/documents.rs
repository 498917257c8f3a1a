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
