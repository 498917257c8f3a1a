//! SSM documents: CreateDocument, UpdateDocument, UpdateDocumentDefaultVersion, DeleteDocument,
//! GetDocument, DescribeDocument, ListDocuments, ListDocumentVersions.
//!
//! Documents belong to the caller's account and region; each update adds an immutable version,
//! and one version is the default (what `$DEFAULT`, or no version, runs). The built-in runbooks
//! are listed and readable as documents owned by `Amazon` (one version, `1`, YAML) and cannot be
//! changed or deleted.
//!
//! Served: `DocumentType: Automation` (schemaVersion 0.3) in `YAML` or `JSON`. Every other
//! DocumentType (the default, when none is given, is `Command`, as in AWS) is refused with
//! `InvalidDocumentType`: remedy runs runbooks only, and a document it could not run would be a
//! document it cannot serve. `TEXT` format, `Attachments` and `Requires` belong to other
//! document types (packages, AppConfig) and are refused too.

use std::collections::BTreeSet;

use remedy_automation::Runbook;
use remedy_wire::ssm::{
    CreateDocumentRequest, CreateDocumentResult, DeleteDocumentRequest, DeleteDocumentResult,
    DescribeDocumentRequest, DescribeDocumentResult, DocumentDefaultVersionDescription,
    DocumentDescription, DocumentFilter, DocumentFilterKey, DocumentFormat, DocumentHashType,
    DocumentIdentifier, DocumentKeyValuesFilter, DocumentParameter, DocumentParameterType,
    DocumentStatus, DocumentType, DocumentVersionInfo, GetDocumentRequest, GetDocumentResult,
    ListDocumentVersionsRequest, ListDocumentVersionsResult, ListDocumentsRequest,
    ListDocumentsResult, PlatformType, Tag, UpdateDocumentDefaultVersionRequest,
    UpdateDocumentDefaultVersionResult, UpdateDocumentRequest, UpdateDocumentResult,
};

use super::required;
use crate::app::App;
use crate::documents::{
    parse_content, reserved_prefix, sha256_hex, to_json, to_yaml, AMAZON_OWNER, BUILTIN_CREATED,
    MAX_DOCUMENTS, MAX_VERSIONS,
};
use crate::domain::Scope;
use crate::error::{ApiError, ApiResult};
use crate::protocol::RequestContext;
use crate::remediation::runbooks::{BuiltinRunbooks, DEFAULT_VERSION, LATEST_VERSION};
use crate::store::documents::{
    DocumentConflict, DocumentHeader, DocumentRecord, DocumentVersionRecord, NewDocument,
    NewDocumentVersion, VersionSelector,
};

const LIST_DOCUMENTS_OP: &str = "ListDocuments";
const LIST_VERSIONS_OP: &str = "ListDocumentVersions";
/// MaxResults when the request gives none (the model allows 1..50).
const DEFAULT_PAGE: usize = 50;
const AUTOMATION: &str = "Automation";
const SCHEMA_VERSION: &str = "0.3";

fn invalid_document(name: &str) -> ApiError {
    ApiError::client(
        "InvalidDocument",
        format!("Document {name} does not exist in this account and Region."),
    )
}

fn invalid_version(name: &str, version: &str) -> ApiError {
    ApiError::client(
        "InvalidDocumentVersion",
        format!("Document {name} has no version {version}."),
    )
}

fn amazon_owned(name: &str, what: &str) -> ApiError {
    ApiError::client(
        "InvalidDocumentOperation",
        format!("Document {name} is owned by Amazon; it cannot be {what}."),
    )
}

fn is_builtin(name: &str) -> bool {
    BuiltinRunbooks::get(name, None).is_some()
}

/// A document `Name` member that may be an ARN (`arn:aws:ssm:REGION:ACCOUNT:document/NAME`):
/// the name, when the ARN is the caller's own account and region.
fn plain_name(scope: &Scope, name: &str) -> ApiResult<String> {
    let Some(rest) = name.strip_prefix("arn:") else {
        return Ok(name.to_string());
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    match parts.as_slice() {
        [_, "ssm", region, account, resource]
            if *region == scope.region && *account == scope.account =>
        {
            match resource.strip_prefix("document/") {
                Some(n) if !n.is_empty() => Ok(n.to_string()),
                _ => Err(invalid_document(name)),
            }
        }
        _ => Err(invalid_document(name)),
    }
}

/// A built-in runbook as a stored document would look.
fn builtin_record(name: &str) -> Option<DocumentRecord> {
    let source = remedy_automation::builtin_source(name)?;
    Some(DocumentRecord {
        header: DocumentHeader {
            name: name.to_string(),
            document_type: AUTOMATION.into(),
            default_version: 1,
            latest_version: 1,
            tags: Vec::new(),
            created: BUILTIN_CREATED,
        },
        version: DocumentVersionRecord {
            version: 1,
            version_name: None,
            display_name: None,
            target_type: None,
            format: "YAML".into(),
            content: source.to_string(),
            hash: sha256_hex(source),
            created: BUILTIN_CREATED,
        },
    })
}

/// A found document: the record and its owner (`Amazon` or the account).
struct Found {
    record: DocumentRecord,
    owner: String,
}

/// The document named by a read request, at the version it asks for (`DocumentVersion` and/or
/// `VersionName`; neither: the default version). InvalidDocument / InvalidDocumentVersion.
async fn find(
    app: &App,
    scope: &Scope,
    name: &str,
    version: Option<&str>,
    version_name: Option<&str>,
) -> ApiResult<Found> {
    let name = plain_name(scope, name)?;
    let shown = version.or(version_name).unwrap_or(DEFAULT_VERSION);
    if let Some(record) = builtin_record(&name) {
        let version_ok = matches!(version, None | Some(DEFAULT_VERSION | LATEST_VERSION | "1"));
        if !version_ok || version_name.is_some() {
            return Err(invalid_version(&name, shown));
        }
        return Ok(Found {
            record,
            owner: AMAZON_OWNER.into(),
        });
    }
    let selector = match (version, version_name) {
        (None, Some(_)) => VersionSelector::Any,
        _ => crate::documents::selector(version).ok_or_else(|| invalid_version(&name, shown))?,
    };
    if let Some(record) = app
        .store
        .get_document(scope, &name, &selector, version_name)
        .await?
    {
        return Ok(Found {
            record,
            owner: scope.account.clone(),
        });
    }
    let exists = app
        .store
        .get_document(scope, &name, &VersionSelector::Default, None)
        .await?
        .is_some();
    Err(if exists {
        invalid_version(&name, shown)
    } else {
        invalid_document(&name)
    })
}

/// The runbook of a stored or built-in version (its content was validated when written).
fn runbook_of(record: &DocumentRecord) -> ApiResult<Runbook> {
    parse_content(&record.version.content, &record.version.format)
        .map_err(|e| ApiError::internal(format!("stored document no longer parses: {}", e.message)))
}

fn platforms() -> Vec<PlatformType> {
    vec![
        PlatformType::Windows,
        PlatformType::Linux,
        PlatformType::MacOS,
    ]
}

fn wire_tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn parameters(runbook: &Runbook) -> Vec<DocumentParameter> {
    runbook
        .parameters()
        .iter()
        .map(|p| DocumentParameter {
            name: Some(p.name.clone()),
            r#type: Some(DocumentParameterType::from_wire(p.param_type.as_str())),
            description: p.description.clone(),
            default_value: p.default.as_ref().map(|d| match d {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        })
        .collect()
}

fn description(found: &Found) -> ApiResult<DocumentDescription> {
    let r = &found.record;
    let runbook = runbook_of(r)?;
    let params = parameters(&runbook);
    Ok(DocumentDescription {
        hash: Some(r.version.hash.clone()),
        hash_type: Some(DocumentHashType::Sha256),
        name: Some(r.header.name.clone()),
        display_name: r.version.display_name.clone(),
        version_name: r.version.version_name.clone(),
        owner: Some(found.owner.clone()),
        created_date: Some(r.header.created),
        status: Some(DocumentStatus::Active),
        document_version: Some(r.version.version.to_string()),
        description: runbook.description().map(str::to_string),
        parameters: (!params.is_empty()).then_some(params),
        platform_types: Some(platforms()),
        document_type: Some(DocumentType::from_wire(&r.header.document_type)),
        schema_version: Some(SCHEMA_VERSION.into()),
        latest_version: Some(r.header.latest_version.to_string()),
        default_version: Some(r.header.default_version.to_string()),
        document_format: Some(DocumentFormat::from_wire(&r.version.format)),
        target_type: r.version.target_type.clone(),
        tags: Some(wire_tags(&r.header.tags)),
        ..Default::default()
    })
}

/// The format a write request gives its content in (AWS's default: JSON).
fn write_format(format: Option<&DocumentFormat>) -> String {
    format.map_or("JSON", |f| f.as_str()).to_string()
}

/// `DocumentType` of CreateDocument: only Automation is served (see the module docs).
fn check_type(document_type: Option<&DocumentType>) -> ApiResult<()> {
    let t = document_type.map_or("Command", |t| t.as_str());
    if t == AUTOMATION {
        return Ok(());
    }
    Err(ApiError::client(
        "InvalidDocumentType",
        format!(
            "Document type {t} is not supported: remedy serves Automation documents (runbooks) only. Create the document with DocumentType Automation."
        ),
    ))
}

fn refuse_unserved(attachments: bool, requires: bool) -> ApiResult<()> {
    if attachments {
        return Err(ApiError::validation(
            "Attachments are not supported: remedy's Automation documents carry their steps inline.",
        ));
    }
    if requires {
        return Err(ApiError::validation(
            "Requires is only used by ApplicationConfiguration documents, which remedy does not serve.",
        ));
    }
    Ok(())
}

pub async fn create(
    app: &App,
    ctx: &RequestContext,
    req: CreateDocumentRequest,
) -> ApiResult<CreateDocumentResult> {
    let scope = &ctx.scope;
    let name = required(req.name, "Name")?;
    let content = required(req.content, "Content")?;
    if let Some(prefix) = reserved_prefix(&name) {
        return Err(ApiError::validation(format!(
            "Invalid document name {name}: the prefix '{prefix}' is reserved by AWS for its own documents (reserved: aws, amazon, amzn, AWSEC2, AWSConfigRemediation, AWSSupport)."
        )));
    }
    check_type(req.document_type.as_ref())?;
    refuse_unserved(req.attachments.is_some(), req.requires.is_some())?;
    let format = write_format(req.document_format.as_ref());
    parse_content(&content, &format)?;
    let doc = NewDocument {
        name: name.clone(),
        document_type: AUTOMATION.into(),
        tags: req
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect(),
        first: NewDocumentVersion {
            version_name: req.version_name,
            display_name: req.display_name,
            target_type: req.target_type,
            format,
            hash: sha256_hex(&content),
            content,
        },
    };
    let record = match app
        .store
        .create_document(scope, &doc, MAX_DOCUMENTS, crate::time::now())
        .await?
    {
        Ok(r) => r,
        Err(DocumentConflict::AlreadyExists) => {
            return Err(ApiError::client(
                "DocumentAlreadyExists",
                format!("Document with name {name} already exists."),
            ))
        }
        Err(DocumentConflict::DocumentLimit(n)) => {
            return Err(ApiError::client(
                "DocumentLimitExceeded",
                format!("You can have at most {n} active SSM documents in an account and Region. Delete documents you no longer use and try again."),
            ))
        }
        Err(other) => return Err(ApiError::internal(format!("create_document: {other:?}"))),
    };
    let found = Found {
        record,
        owner: scope.account.clone(),
    };
    Ok(CreateDocumentResult {
        document_description: Some(description(&found)?),
    })
}

pub async fn update(
    app: &App,
    ctx: &RequestContext,
    req: UpdateDocumentRequest,
) -> ApiResult<UpdateDocumentResult> {
    let scope = &ctx.scope;
    let name = required(req.name, "Name")?;
    let content = required(req.content, "Content")?;
    if is_builtin(&name) {
        return Err(amazon_owned(&name, "updated"));
    }
    refuse_unserved(req.attachments.is_some(), false)?;
    let Some(latest) = app
        .store
        .get_document(scope, &name, &VersionSelector::Latest, None)
        .await?
    else {
        return Err(invalid_document(&name));
    };
    let expected = match req.document_version.as_deref() {
        None | Some(LATEST_VERSION) => None,
        Some(v) => match v.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => return Err(not_latest(&name, v, latest.header.latest_version)),
        },
    };
    let format = write_format(req.document_format.as_ref());
    parse_content(&content, &format)?;
    // DisplayName and TargetType carry over from the latest version when not given.
    let version = NewDocumentVersion {
        version_name: req.version_name,
        display_name: req.display_name.or(latest.version.display_name),
        target_type: req.target_type.or(latest.version.target_type),
        format,
        hash: sha256_hex(&content),
        content,
    };
    let record = match app
        .store
        .add_document_version(
            scope,
            &name,
            expected,
            &version,
            MAX_VERSIONS,
            crate::time::now(),
        )
        .await?
    {
        Ok(r) => r,
        Err(DocumentConflict::NoDocument) => return Err(invalid_document(&name)),
        Err(DocumentConflict::NotLatest(latest)) => {
            let asked = req.document_version.unwrap_or_default();
            return Err(not_latest(&name, &asked, latest));
        }
        Err(DocumentConflict::DuplicateContent(n)) => {
            return Err(ApiError::client(
                "DuplicateDocumentContent",
                format!("The content of the new version is the same as version {n} of document {name}. Change the content and try again."),
            ))
        }
        Err(DocumentConflict::DuplicateVersionName) => {
            return Err(ApiError::client(
                "DuplicateDocumentVersionName",
                format!(
                    "The version name {} is already used by a version of document {name}. Specify a different version name.",
                    version.version_name.as_deref().unwrap_or_default()
                ),
            ))
        }
        Err(DocumentConflict::VersionLimit(n)) => {
            return Err(ApiError::client(
                "DocumentVersionLimitExceeded",
                format!("Document {name} has {n} versions, the most a document can have. Delete one or more versions and try again."),
            ))
        }
        Err(other) => return Err(ApiError::internal(format!("add_document_version: {other:?}"))),
    };
    let found = Found {
        record,
        owner: scope.account.clone(),
    };
    Ok(UpdateDocumentResult {
        document_description: Some(description(&found)?),
    })
}

fn not_latest(name: &str, asked: &str, latest: u32) -> ApiError {
    ApiError::client(
        "InvalidDocumentVersion",
        format!("Only the latest version of document {name} ({latest}) can be updated; DocumentVersion {asked} is not it. Specify $LATEST or {latest}."),
    )
}

pub async fn update_default_version(
    app: &App,
    ctx: &RequestContext,
    req: UpdateDocumentDefaultVersionRequest,
) -> ApiResult<UpdateDocumentDefaultVersionResult> {
    let scope = &ctx.scope;
    let name = required(req.name, "Name")?;
    let version = required(req.document_version, "DocumentVersion")?;
    if is_builtin(&name) {
        return Err(ApiError::client(
            "InvalidDocument",
            format!("Document {name} is owned by Amazon; its default version cannot be changed."),
        ));
    }
    // The model's pattern makes this a positive number.
    let number = version
        .parse::<u32>()
        .map_err(|_| invalid_version(&name, &version))?;
    let record = match app
        .store
        .set_default_document_version(scope, &name, number)
        .await?
    {
        Ok(r) => r,
        Err(DocumentConflict::NoDocument) => return Err(invalid_document(&name)),
        Err(DocumentConflict::NoVersion) => return Err(invalid_version(&name, &version)),
        Err(other) => return Err(ApiError::internal(format!("set_default: {other:?}"))),
    };
    Ok(UpdateDocumentDefaultVersionResult {
        description: Some(DocumentDefaultVersionDescription {
            name: Some(record.header.name),
            default_version: Some(record.version.version.to_string()),
            default_version_name: record.version.version_name,
        }),
    })
}

pub async fn delete(
    app: &App,
    ctx: &RequestContext,
    req: DeleteDocumentRequest,
) -> ApiResult<DeleteDocumentResult> {
    let scope = &ctx.scope;
    let name = required(req.name, "Name")?;
    if is_builtin(&name) {
        return Err(amazon_owned(&name, "deleted"));
    }
    let version = match (req.document_version.as_deref(), req.version_name.as_deref()) {
        (None, None) => None,
        (v, vn) => {
            let found = match find(app, scope, &name, v, vn).await {
                Ok(f) => f,
                // DeleteDocument reports a missing version as InvalidDocument (its only
                // not-found error).
                Err(e) if e.code == "InvalidDocumentVersion" => {
                    return Err(ApiError::client("InvalidDocument", e.message))
                }
                Err(e) => return Err(e),
            };
            Some(found.record.version.version)
        }
    };
    match app.store.delete_document(scope, &name, version).await? {
        Ok(()) => Ok(DeleteDocumentResult {}),
        Err(DocumentConflict::NoDocument) => Err(invalid_document(&name)),
        Err(DocumentConflict::NoVersion) => Err(ApiError::client(
            "InvalidDocument",
            format!(
                "Document {name} has no version {}.",
                version.unwrap_or_default()
            ),
        )),
        Err(DocumentConflict::DefaultVersion) => Err(ApiError::client(
            "InvalidDocumentOperation",
            format!(
                "Version {} is the default version of document {name} and cannot be deleted alone. Make another version the default, or delete the whole document.",
                version.unwrap_or_default()
            ),
        )),
        Err(other) => Err(ApiError::internal(format!("delete_document: {other:?}"))),
    }
}

pub async fn get(
    app: &App,
    ctx: &RequestContext,
    req: GetDocumentRequest,
) -> ApiResult<GetDocumentResult> {
    let name = required(req.name, "Name")?;
    let found = find(
        app,
        &ctx.scope,
        &name,
        req.document_version.as_deref(),
        req.version_name.as_deref(),
    )
    .await?;
    let r = found.record;
    let stored = r.version.format.as_str();
    let wanted = req
        .document_format
        .as_ref()
        .map_or(stored, DocumentFormat::as_str);
    let content = match (stored, wanted) {
        (s, w) if s == w => r.version.content.clone(),
        (_, "JSON") => to_json(runbook_of(&r)?.content()),
        (_, "YAML") => to_yaml(runbook_of(&r)?.content()),
        (_, other) => {
            return Err(ApiError::validation(format!(
                "DocumentFormat {other} is not available for Automation documents; ask for YAML or JSON."
            )))
        }
    };
    Ok(GetDocumentResult {
        name: Some(r.header.name),
        created_date: Some(r.version.created),
        display_name: r.version.display_name,
        version_name: r.version.version_name,
        document_version: Some(r.version.version.to_string()),
        status: Some(DocumentStatus::Active),
        content: Some(content),
        document_type: Some(DocumentType::from_wire(&r.header.document_type)),
        document_format: Some(DocumentFormat::from_wire(wanted)),
        ..Default::default()
    })
}

pub async fn describe(
    app: &App,
    ctx: &RequestContext,
    req: DescribeDocumentRequest,
) -> ApiResult<DescribeDocumentResult> {
    let name = required(req.name, "Name")?;
    let found = find(
        app,
        &ctx.scope,
        &name,
        req.document_version.as_deref(),
        req.version_name.as_deref(),
    )
    .await?;
    Ok(DescribeDocumentResult {
        document: Some(description(&found)?),
    })
}

/// One ListDocuments condition: a document passes when it passes every condition.
enum Condition {
    /// Self/Private (the account's own) and/or Amazon/Public (the built-ins).
    Owner {
        own: bool,
        amazon: bool,
    },
    NamePrefix(Vec<String>),
    Keyword(Vec<String>),
    DocumentType(Vec<String>),
    PlatformTypes(Vec<String>),
    TargetType(Vec<String>),
    CloudProviders(Vec<String>),
    Tag {
        key: String,
        values: Vec<String>,
    },
}

fn owner_condition(values: &[String]) -> ApiResult<Condition> {
    let (mut own, mut amazon) = (false, false);
    for v in values {
        match v.as_str() {
            "Self" | "Private" => own = true,
            "Amazon" | "Public" => amazon = true,
            "All" => (own, amazon) = (true, true),
            "ThirdParty" => {}
            other => {
                return Err(ApiError::validation(format!(
                    "Invalid value {other} for filter key Owner. Valid values: Self, Amazon, Private, Public, ThirdParty, All."
                )))
            }
        }
    }
    Ok(Condition::Owner { own, amazon })
}

fn condition(key: &str, values: Vec<String>) -> ApiResult<Condition> {
    if let Some(tag) = key.strip_prefix("tag:") {
        return Ok(Condition::Tag {
            key: tag.to_string(),
            values,
        });
    }
    if values.is_empty() {
        return Err(ApiError::validation(format!(
            "Filter key {key} needs at least one value."
        )));
    }
    Ok(match key {
        "Owner" => owner_condition(&values)?,
        "Name" => Condition::NamePrefix(values),
        "SearchKeyword" => Condition::Keyword(values),
        "DocumentType" => Condition::DocumentType(values),
        "PlatformTypes" => Condition::PlatformTypes(values),
        "TargetType" => Condition::TargetType(values),
        "CloudProviders" => Condition::CloudProviders(values),
        other => {
            return Err(ApiError::client(
                "InvalidFilterKey",
                format!("The filter key {other} is not valid. Valid keys: Owner, Name, SearchKeyword, DocumentType, PlatformTypes, TargetType, CloudProviders, tag:<key>."),
            ))
        }
    })
}

fn conditions(
    filters: Option<Vec<DocumentKeyValuesFilter>>,
    legacy: Option<Vec<DocumentFilter>>,
) -> ApiResult<Vec<Condition>> {
    let mut out = Vec::new();
    for f in filters.unwrap_or_default() {
        out.push(condition(
            f.key.as_deref().unwrap_or_default(),
            f.values.unwrap_or_default(),
        )?);
    }
    for f in legacy.unwrap_or_default() {
        let value = vec![f.value.unwrap_or_default()];
        let key = match f.key {
            Some(DocumentFilterKey::Name) => "Name",
            Some(DocumentFilterKey::Owner) => "Owner",
            Some(DocumentFilterKey::PlatformTypes) => "PlatformTypes",
            Some(DocumentFilterKey::DocumentType) => "DocumentType",
            // The model's enum admits nothing else.
            _ => "",
        };
        out.push(condition(key, value)?);
    }
    Ok(out)
}

fn passes(found: &Found, own: bool, c: &Condition) -> bool {
    let r = &found.record;
    let any = |values: &[String], f: &dyn Fn(&str) -> bool| values.iter().any(|v| f(v));
    match c {
        Condition::Owner { own: o, amazon: a } => (own && *o) || (!own && *a),
        Condition::NamePrefix(v) => any(v, &|p| r.header.name.starts_with(p)),
        Condition::Keyword(v) => {
            let name = r.header.name.to_lowercase();
            any(v, &|k| name.contains(&k.to_lowercase()))
        }
        Condition::DocumentType(v) => any(v, &|t| t == r.header.document_type),
        Condition::PlatformTypes(v) => any(v, &|p| matches!(p, "Windows" | "Linux" | "MacOS")),
        Condition::TargetType(v) => any(v, &|t| r.version.target_type.as_deref() == Some(t)),
        Condition::CloudProviders(v) => any(v, &|p| p == "AWS"),
        Condition::Tag { key, values } => r
            .header
            .tags
            .iter()
            .any(|(k, val)| k == key && (values.is_empty() || values.contains(val))),
    }
}

fn identifier(found: &Found) -> DocumentIdentifier {
    let r = &found.record;
    DocumentIdentifier {
        name: Some(r.header.name.clone()),
        created_date: Some(r.header.created),
        display_name: r.version.display_name.clone(),
        owner: Some(found.owner.clone()),
        version_name: r.version.version_name.clone(),
        platform_types: Some(platforms()),
        document_version: Some(r.version.version.to_string()),
        document_type: Some(DocumentType::from_wire(&r.header.document_type)),
        schema_version: Some(SCHEMA_VERSION.into()),
        document_format: Some(DocumentFormat::from_wire(&r.version.format)),
        target_type: r.version.target_type.clone(),
        tags: Some(wire_tags(&r.header.tags)),
        ..Default::default()
    }
}

/// SSM's code for a bad token (Config's is `InvalidNextTokenException`).
fn invalid_next_token() -> ApiError {
    ApiError::client("InvalidNextToken", "The specified token isn't valid.")
}

fn page_size(max_results: Option<i32>) -> usize {
    max_results.map_or(DEFAULT_PAGE, |n| n.max(1) as usize)
}

pub async fn list(
    app: &App,
    ctx: &RequestContext,
    req: ListDocumentsRequest,
) -> ApiResult<ListDocumentsResult> {
    let scope = &ctx.scope;
    let conditions = conditions(req.filters, req.document_filter_list)?;
    let limit = page_size(req.max_results);
    let after: Option<String> =
        crate::pagination::decode(LIST_DOCUMENTS_OP, req.next_token.as_deref())
            .map_err(|_| invalid_next_token())?;
    // The account's documents and the built-ins never share a name (reserved prefixes), so
    // one name-ordered list pages both.
    let mut all: Vec<(Found, bool)> = app
        .store
        .list_documents(scope)
        .await?
        .into_iter()
        .map(|record| {
            (
                Found {
                    record,
                    owner: scope.account.clone(),
                },
                true,
            )
        })
        .collect();
    let builtin_names: BTreeSet<&str> = BuiltinRunbooks::names().into_iter().collect();
    all.extend(builtin_names.into_iter().filter_map(|n| {
        builtin_record(n).map(|record| {
            (
                Found {
                    record,
                    owner: AMAZON_OWNER.into(),
                },
                false,
            )
        })
    }));
    all.sort_by(|a, b| a.0.record.header.name.cmp(&b.0.record.header.name));
    let rows: Vec<Found> = all
        .into_iter()
        .filter(|(f, own)| conditions.iter().all(|c| passes(f, *own, c)))
        .filter(|(f, _)| {
            after
                .as_deref()
                .is_none_or(|a| f.record.header.name.as_str() > a)
        })
        .take(limit + 1)
        .map(|(f, _)| f)
        .collect();
    let (rows, next) = crate::pagination::page(LIST_DOCUMENTS_OP, rows, limit, |f| {
        f.record.header.name.clone()
    });
    Ok(ListDocumentsResult {
        document_identifiers: Some(rows.iter().map(identifier).collect()),
        next_token: next,
    })
}

pub async fn list_versions(
    app: &App,
    ctx: &RequestContext,
    req: ListDocumentVersionsRequest,
) -> ApiResult<ListDocumentVersionsResult> {
    let scope = &ctx.scope;
    let name = plain_name(scope, &required(req.name, "Name")?)?;
    let limit = page_size(req.max_results);
    let after: Option<u32> = crate::pagination::decode(LIST_VERSIONS_OP, req.next_token.as_deref())
        .map_err(|_| invalid_next_token())?;
    let (header, versions) = match builtin_record(&name) {
        Some(r) => (
            r.header,
            if after.is_some_and(|a| a >= 1) {
                Vec::new()
            } else {
                vec![r.version]
            },
        ),
        None => app
            .store
            .list_document_versions(scope, &name, after, limit + 1)
            .await?
            .ok_or_else(|| invalid_document(&name))?,
    };
    let (versions, next) =
        crate::pagination::page(LIST_VERSIONS_OP, versions, limit, |v| v.version);
    Ok(ListDocumentVersionsResult {
        document_versions: Some(
            versions
                .into_iter()
                .map(|v| DocumentVersionInfo {
                    name: Some(header.name.clone()),
                    display_name: v.display_name,
                    is_default_version: Some(v.version == header.default_version),
                    document_version: Some(v.version.to_string()),
                    version_name: v.version_name,
                    created_date: Some(v.created),
                    document_format: Some(DocumentFormat::from_wire(&v.format)),
                    status: Some(DocumentStatus::Active),
                    ..Default::default()
                })
                .collect(),
        ),
        next_token: next,
    })
}
