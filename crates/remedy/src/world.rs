//! The emulated AWS world that remediation runbooks act on.
//!
//! A runbook step such as `aws:executeAwsApi` with `Service: s3`, `Api: PutBucketVersioning`
//! is answered here, from and into the **recorded configuration items** of the caller's account
//! and region — there is no other copy of the resources' state:
//!
//! * **Reads** answer from the latest recorded item of the resource (a deleted item counts as
//!   missing), shaped as boto3 returns the response (PascalCase members, no `ResponseMetadata`).
//! * **Writes** build a new item from the latest one with only the affected fields changed and
//!   record it with [`Store::record_configuration_item`]: a new history version (visible in
//!   GetResourceConfigHistory) that re-triggers evaluation through the evaluation queue, exactly
//!   as a PutResourceConfig would. The new version keeps the name, ARN, availability zone,
//!   creation time, tags and relationships; its capture time is "now" and its status `OK`.
//! * **Idempotent**: a write that changes nothing (the same change applied twice) records
//!   **no** new version — AWS Config records only real changes — and answers as the first one
//!   did. Where AWS itself answers a repeated call with an error (revoking a security-group rule
//!   that no longer exists: `InvalidPermission.NotFound`; cancelling the deletion of a key that is
//!   not pending deletion: `KMSInvalidStateException`), the world does the same; the state is
//!   unchanged either way.
//! * **Errors** are AWS's: a missing resource gets the service's own code and message
//!   (`NoSuchBucket`, `InvalidGroup.NotFound`, `NotFoundException`, `TrailNotFoundException`,
//!   `ResourceNotFoundException` / `TableNotFoundException`, `NoSuchEntity`); a missing or
//!   mistyped parameter gets `ValidationException` with boto3's wording ("Parameter validation
//!   failed: Missing required parameter in input: \"Bucket\""); an API the world does not emulate
//!   gets `UnsupportedOperation` naming it and listing [`supported`].
//!
//! Service names are boto3 client names (`s3`, `s3control`, `ec2`, `kms`, `cloudtrail`,
//! `dynamodb`, `iam`; any case); API names are the
//! operation names (`PutBucketVersioning`), and boto3's snake_case method names
//! (`put_bucket_versioning`) are accepted too. Parameters are boto3's; booleans may also be the
//! strings `"true"`/`"false"` (any case) and integers numeric strings, since runbook
//! interpolation often produces strings. Parameters the world does not read are ignored, except
//! where ignoring them would misreport a change (UpdateTable).
//!
//! * **No lost updates**, on one node or many: a write records its new item only if the
//!   resource's latest state id is still the one the change was computed from (a compare-and-set
//!   in the store, [`Store::record_configuration_item_if_latest`]); otherwise it re-reads the
//!   resource and re-applies the change, up to [`UPDATE_ATTEMPTS`] times, then fails with
//!   `ConcurrentModificationException`. Writers in one process also queue on a striped
//!   per-resource lock first, so they do not spend attempts racing each other; the
//!   compare-and-set is what holds across nodes sharing a PostgreSQL database.
//!
//! Per-service details (resource identity, the configuration-item fields read and written) are
//! documented in each module: [`s3`] (with `s3control`), [`ec2`], [`kms`], [`cloudtrail`], [`dynamodb`], [`iam`].

pub mod cloudtrail;
pub mod dynamodb;
pub mod ec2;
pub mod iam;
pub mod kms;
pub mod s3;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value};

use crate::domain::{is_deleted_status, ConfigurationItem, NewConfigurationItem, Scope};
use crate::store::{DiscoveredQuery, Store};

/// A failed call, as AWS reports it: an error code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldError {
    pub code: String,
    pub message: String,
}

impl WorldError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for WorldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for WorldError {}

pub type WorldResult<T> = Result<T, WorldError>;

/// boto3's client-side parameter validation failure.
pub(crate) fn invalid(detail: impl std::fmt::Display) -> WorldError {
    WorldError::new(
        "ValidationException",
        format!("Parameter validation failed: {detail}"),
    )
}

/// Every `(service, api)` the world emulates, service by service, APIs sorted.
pub fn supported() -> Vec<(&'static str, &'static str)> {
    SERVICES
        .iter()
        .flat_map(|(service, apis)| apis.iter().map(move |api| (*service, *api)))
        .collect()
}

const SERVICES: &[(&str, &[&str])] = &[
    ("s3", s3::APIS),
    ("s3control", s3::CONTROL_APIS),
    ("ec2", ec2::APIS),
    ("kms", kms::APIS),
    ("cloudtrail", cloudtrail::APIS),
    ("dynamodb", dynamodb::APIS),
    ("iam", iam::APIS),
];

/// `put_bucket_versioning` → `PutBucketVersioning`; names without `_` are kept as given.
fn operation_name(api: &str) -> String {
    if !api.contains('_') {
        return api.to_string();
    }
    api.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn unsupported(service: &str, api: &str) -> WorldError {
    let list: Vec<String> = supported()
        .iter()
        .map(|(s, a)| format!("{s}:{a}"))
        .collect();
    WorldError::new(
        "UnsupportedOperation",
        format!(
            "remedy's world does not emulate {service}:{api}; supported: {}",
            list.join(", ")
        ),
    )
}

/// The AWS world of one account and region, backed by its recorded configuration items.
#[derive(Clone)]
pub struct ConfigWorld {
    store: Arc<dyn Store>,
    scope: Scope,
    /// The first store failure a call met since the last [`ConfigWorld::take_store_failure`]
    /// (shared by clones). A call that meets one answers `InternalFailure`, as AWS would; the
    /// remediation engine reads this to tell a failed store from a failed API call.
    store_failure: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for ConfigWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWorld")
            .field("scope", &self.scope)
            .finish()
    }
}

impl ConfigWorld {
    pub fn new(store: Arc<dyn Store>, scope: Scope) -> Self {
        Self {
            store,
            scope,
            store_failure: Arc::default(),
        }
    }

    /// The store failure met by a call since the last time this was asked, if any. A runbook
    /// step that met one saw `InternalFailure` from remedy itself, not from the emulated
    /// service: its outcome says nothing about the runbook and must not be kept.
    pub fn take_store_failure(&self) -> Option<String> {
        self.store_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Records a store failure and turns it into the call's `InternalFailure`.
    fn store_failed(&self, e: crate::store::StoreError) -> WorldError {
        let mut first = self
            .store_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        first.get_or_insert_with(|| e.to_string());
        WorldError::new(
            "InternalFailure",
            format!("remedy's store failed while answering the call: {e}"),
        )
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Answers one API call as AWS would, from (and into) the recorded configuration items.
    pub async fn call(&self, service: &str, api: &str, input: Value) -> WorldResult<Value> {
        let service_name = service.trim().to_ascii_lowercase();
        let api_name = operation_name(api.trim());
        let Some(&(service_name, apis)) = SERVICES.iter().find(|(s, _)| *s == service_name) else {
            return Err(unsupported(service, api));
        };
        let Some(&api_name) = apis.iter().find(|a| **a == api_name) else {
            return Err(unsupported(service, api));
        };
        let map = match input {
            Value::Null => Map::new(),
            Value::Object(m) => m,
            other => {
                return Err(invalid(format!(
                    "the input of {service_name}:{api_name} must be an object of parameters, not {other}"
                )))
            }
        };
        let p = Params::root(&map);
        match service_name {
            "s3" => s3::call(self, api_name, p).await,
            "s3control" => s3::control_call(self, api_name, p).await,
            "ec2" => ec2::call(self, api_name, p).await,
            "kms" => kms::call(self, api_name, p).await,
            "cloudtrail" => cloudtrail::call(self, api_name, p).await,
            "dynamodb" => dynamodb::call(self, api_name, p).await,
            "iam" => iam::call(self, api_name, p).await,
            _ => Err(unsupported(service, api)),
        }
    }

    // ---- store access for the service modules --------------------------------------------

    /// The latest recorded item of a resource; `None` when never recorded or deleted.
    pub(crate) async fn current(
        &self,
        resource_type: &str,
        resource_id: &str,
    ) -> WorldResult<Option<ConfigurationItem>> {
        let item = self
            .store
            .latest_configuration_item(&self.scope, resource_type, resource_id)
            .await
            .map_err(|e| self.store_failed(e))?;
        Ok(item.filter(|ci| !is_deleted_status(&ci.status)))
    }

    /// Every current (not deleted) item of a type, ordered by resource id.
    pub(crate) async fn all_current(
        &self,
        resource_type: &str,
        resource_name: Option<&str>,
    ) -> WorldResult<Vec<ConfigurationItem>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list_discovered_resources(
                    &self.scope,
                    &DiscoveredQuery {
                        resource_type: resource_type.to_string(),
                        resource_ids: Vec::new(),
                        resource_name: resource_name.map(str::to_string),
                        include_deleted: false,
                        after_id: after.clone(),
                        limit: 100,
                    },
                )
                .await
                .map_err(|e| self.store_failed(e))?;
            let n = page.len();
            for r in &page {
                if let Some(ci) = self.current(resource_type, &r.resource_id).await? {
                    out.push(ci);
                }
            }
            match page.last() {
                Some(last) if n >= 100 => after = Some(last.resource_id.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Changes a resource's latest item with `change` and records the result as a new version
    /// when something changed. `missing` is the error for a resource that is not recorded (or
    /// deleted); with `create` a missing resource starts from an empty item instead (the
    /// account-level item, which always exists in AWS). Returns the resulting item (the old one
    /// when nothing changed), whether a version was recorded, and what `change` returned.
    ///
    /// The write is a compare-and-set on the resource's latest state id
    /// ([`Store::record_configuration_item_if_latest`]): when another writer (on this node or
    /// another one sharing the database) recorded the resource after it was read, nothing is
    /// written and `change` runs again on the newer state — so `change` may run more than once
    /// and must only edit the `Doc`. After [`UPDATE_ATTEMPTS`] lost races the call fails with
    /// [`concurrent_modification`].
    pub(crate) async fn update<R>(
        &self,
        resource_type: &str,
        resource_id: &str,
        create: bool,
        missing: impl FnOnce() -> WorldError,
        mut change: impl FnMut(&mut Doc) -> WorldResult<R>,
    ) -> WorldResult<Updated<R>> {
        // Writers in this process queue here instead of racing in the store.
        let _guard = lock_for(&self.store, &self.scope, resource_type, resource_id)
            .lock()
            .await;
        // A lost race is retried at once: the loser re-reads the state the winner just
        // recorded, so each round one of the racing nodes records (backing off would only hand
        // the next round to the winner's node again, starving the loser).
        for _ in 0..UPDATE_ATTEMPTS {
            let latest = self
                .store
                .latest_configuration_item(&self.scope, resource_type, resource_id)
                .await
                .map_err(|e| self.store_failed(e))?;
            // The state the change is computed from: a deleted item counts as missing, but a
            // write must still land right after it.
            let read_state = latest.as_ref().map(|ci| ci.state_id);
            let current = latest.filter(|ci| !is_deleted_status(&ci.status));
            let is_new = current.is_none();
            let base = match current {
                Some(ci) => ci,
                None if create => self.empty_item(resource_type, resource_id),
                None => return Err(missing()),
            };
            let mut doc = Doc::new(&base);
            let result = change(&mut doc)?;
            if !is_new && !doc.changed {
                return Ok(Updated {
                    item: base,
                    recorded: false,
                    result,
                });
            }
            let item = NewConfigurationItem {
                resource_type: base.resource_type.clone(),
                resource_id: base.resource_id.clone(),
                resource_name: base.resource_name.clone(),
                arn: base.arn.clone(),
                availability_zone: base.availability_zone.clone(),
                resource_creation_time: base.resource_creation_time,
                capture_time: None,
                status: None,
                configuration: doc.configuration,
                supplementary_configuration: doc.supplementary,
                tags: base.tags.clone(),
                relationships: base.relationships.clone(),
            };
            let recorded = self
                .store
                .record_configuration_item_if_latest(&self.scope, item, read_state)
                .await
                .map_err(|e| self.store_failed(e))?;
            if let Some(item) = recorded {
                return Ok(Updated {
                    item,
                    recorded: true,
                    result,
                });
            }
        }
        Err(concurrent_modification(resource_type, resource_id))
    }

    /// The empty item a `create` write starts from.
    fn empty_item(&self, resource_type: &str, resource_id: &str) -> ConfigurationItem {
        ConfigurationItem {
            account_id: self.scope.account.clone(),
            region: self.scope.region.clone(),
            resource_type: resource_type.to_string(),
            resource_id: resource_id.to_string(),
            resource_name: None,
            arn: None,
            availability_zone: None,
            resource_creation_time: None,
            capture_time: 0.0,
            status: String::new(),
            state_id: 0,
            configuration: Value::Object(Map::new()),
            supplementary_configuration: BTreeMap::new(),
            tags: BTreeMap::new(),
            relationships: Vec::new(),
        }
    }
}

/// How many times [`ConfigWorld::update`] reads, changes and tries to record one resource
/// before it gives up on other writers that keep recording it first. Every round some writer
/// records, and one node's writers take turns, so a write loses a round to about one writer per
/// other node: with a few nodes hammering one resource, losing this many rounds in a row is
/// vanishingly rare.
pub const UPDATE_ATTEMPTS: usize = 32;

/// The error of a write that kept losing races with other writers of the resource: AWS's
/// generic `ConcurrentModificationException`, which callers (and runbook step retries) retry.
pub(crate) fn concurrent_modification(resource_type: &str, resource_id: &str) -> WorldError {
    WorldError::new(
        "ConcurrentModificationException",
        format!(
            "{resource_type} {resource_id} was modified by another request {UPDATE_ATTEMPTS} times while this one was applied; retry the request"
        ),
    )
}

/// The outcome of [`ConfigWorld::update`].
#[derive(Debug)]
pub(crate) struct Updated<R> {
    pub item: ConfigurationItem,
    #[allow(dead_code)]
    pub recorded: bool,
    pub result: R,
}

/// Per-resource write serialisation among the writers sharing one store handle (one node),
/// striped. Writers on other handles — other nodes — are kept apart by the store's
/// compare-and-set alone.
fn lock_for(
    store: &Arc<dyn Store>,
    scope: &Scope,
    resource_type: &str,
    resource_id: &str,
) -> &'static tokio::sync::Mutex<()> {
    const STRIPES: usize = 64;
    static LOCKS: OnceLock<Vec<tokio::sync::Mutex<()>>> = OnceLock::new();
    let locks = LOCKS.get_or_init(|| (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let handle = Arc::as_ptr(store) as *const () as usize;
    (
        handle,
        &scope.account,
        &scope.region,
        resource_type,
        resource_id,
    )
        .hash(&mut h);
    &locks[(h.finish() as usize) % STRIPES]
}

// ---- the item being changed ------------------------------------------------------------------

/// A configuration item's `configuration` and `supplementaryConfiguration` while a write changes
/// them. Values are read decoded (a string holding JSON is parsed); only what a write sets is
/// rewritten, and setting a value equal to the current one is not a change.
#[derive(Debug)]
pub(crate) struct Doc {
    pub configuration: Value,
    supplementary: BTreeMap<String, Value>,
    changed: bool,
}

impl Doc {
    fn new(ci: &ConfigurationItem) -> Self {
        let configuration = match decoded(&ci.configuration) {
            Value::Object(m) => Value::Object(m),
            _ => Value::Object(Map::new()),
        };
        Self {
            changed: false,
            configuration,
            supplementary: ci.supplementary_configuration.clone(),
        }
    }

    /// A `configuration` member, decoded (`None` when absent or null).
    pub fn conf(&self, key: &str) -> Option<Value> {
        self.configuration
            .get(key)
            .map(decoded)
            .filter(|v| !v.is_null())
    }

    /// Sets a `configuration` member (`Value::Null` removes it).
    pub fn set_conf(&mut self, key: &str, value: Value) {
        let obj = self
            .configuration
            .as_object_mut()
            .expect("configuration is an object");
        let old = obj.get(key).map(decoded).unwrap_or(Value::Null);
        if old == value {
            return;
        }
        self.changed = true;
        if value.is_null() {
            obj.remove(key);
        } else {
            obj.insert(key.to_string(), value);
        }
    }

    /// A supplementary value, decoded (`None` when absent or null).
    pub fn supp(&self, key: &str) -> Option<Value> {
        self.supplementary
            .get(key)
            .map(decoded)
            .filter(|v| !v.is_null())
    }

    /// Sets a supplementary value (`Value::Null` removes it).
    pub fn set_supp(&mut self, key: &str, value: Value) {
        let old = self
            .supplementary
            .get(key)
            .map(decoded)
            .unwrap_or(Value::Null);
        if old == value {
            return;
        }
        self.changed = true;
        if value.is_null() {
            self.supplementary.remove(key);
        } else {
            self.supplementary.insert(key.to_string(), value);
        }
    }
}

// ---- reading recorded values ------------------------------------------------------------------

/// A value that may still be a string holding JSON, decoded (up to three levels); a string that
/// is not JSON is returned as it is.
pub(crate) fn decoded(v: &Value) -> Value {
    let mut cur = v.clone();
    for _ in 0..3 {
        match &cur {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(next) if !next.is_string() || s.trim_start().starts_with('"') => cur = next,
                _ => break,
            },
            _ => break,
        }
    }
    cur
}

/// A recorded boolean: JSON or the strings `"true"`/`"false"` (any case).
pub(crate) fn rec_bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A recorded non-empty string.
pub(crate) fn rec_str(v: Option<&Value>) -> Option<&str> {
    v?.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// A recorded array's elements (none for anything else).
pub(crate) fn rec_array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Config's camelCase → boto3's PascalCase, recursively: each key is upper-cased at its first
/// letter unless `special` renames it; `null` members are dropped (boto3 omits absent members).
pub(crate) fn pascal(v: &Value, special: &[(&str, &str)]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let key = special
                        .iter()
                        .find(|(from, _)| from == k)
                        .map(|(_, to)| to.to_string())
                        .unwrap_or_else(|| upper_first(k));
                    (key, pascal(v, special))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| pascal(v, special)).collect()),
        other => other.clone(),
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// The last `/`-separated part of an ARN's resource (`arn:…:trail/name` → `name`).
pub(crate) fn arn_resource<'a>(arn: &'a str, kind: &str) -> Option<&'a str> {
    if !arn.starts_with("arn:") {
        return None;
    }
    let resource = arn.splitn(6, ':').nth(5)?;
    resource
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'))
        .filter(|r| !r.is_empty())
}

/// A KMS key reference (key id, key ARN, alias name, alias ARN) as the ARN services record.
pub(crate) fn kms_key_arn(scope: &Scope, key: &str) -> String {
    if key.starts_with("arn:") {
        key.to_string()
    } else if key.starts_with("alias/") {
        format!("arn:aws:kms:{}:{}:{key}", scope.region, scope.account)
    } else {
        format!("arn:aws:kms:{}:{}:key/{key}", scope.region, scope.account)
    }
}

// ---- reading request parameters ---------------------------------------------------------------

/// A request's parameters (or a nested structure of them), read with boto3's validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params<'a> {
    map: &'a Map<String, Value>,
    /// The structure's member name in the request, for messages ("input" at the top).
    path: &'a str,
}

impl<'a> Params<'a> {
    pub fn root(map: &'a Map<String, Value>) -> Self {
        Self { map, path: "input" }
    }

    /// A member, `None` when absent or null.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The names of the members given (not null).
    pub fn names(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
    }

    fn missing(&self, name: &str) -> WorldError {
        invalid(format!(
            "Missing required parameter in {}: \"{name}\"",
            self.path
        ))
    }

    fn wrong_type(&self, name: &str, v: &Value, expected: &str) -> WorldError {
        invalid(format!(
            "Invalid type for parameter {}, value: {v}, valid types: {expected}",
            self.qualified(name)
        ))
    }

    fn qualified(&self, name: &str) -> String {
        if self.path == "input" {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    pub fn opt_str(&self, name: &str) -> WorldResult<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.wrong_type(name, v, "string")),
        }
    }

    /// A required, non-empty string.
    pub fn str(&self, name: &str) -> WorldResult<&'a str> {
        let s = self.opt_str(name)?.ok_or_else(|| self.missing(name))?;
        if s.trim().is_empty() {
            return Err(invalid(format!(
                "Invalid length for parameter {}, value: 0, valid min length: 1",
                self.qualified(name)
            )));
        }
        Ok(s)
    }

    /// A boolean: JSON, or `"true"`/`"false"` in any case.
    pub fn opt_bool(&self, name: &str) -> WorldResult<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => rec_bool(Some(v))
                .map(Some)
                .ok_or_else(|| self.wrong_type(name, v, "boolean")),
        }
    }

    pub fn bool(&self, name: &str) -> WorldResult<bool> {
        self.opt_bool(name)?.ok_or_else(|| self.missing(name))
    }

    /// An integer: a JSON number or a decimal string.
    pub fn opt_i64(&self, name: &str) -> WorldResult<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => {
                let n = match v {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                n.map(Some)
                    .ok_or_else(|| self.wrong_type(name, v, "integer"))
            }
        }
    }

    /// A nested structure.
    pub fn opt_obj(&self, name: &'a str) -> WorldResult<Option<Params<'a>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Params { map: m, path: name })),
            Some(v) => Err(self.wrong_type(name, v, "dict")),
        }
    }

    pub fn obj(&self, name: &'a str) -> WorldResult<Params<'a>> {
        self.opt_obj(name)?.ok_or_else(|| self.missing(name))
    }

    /// A list (a single non-list value is not accepted).
    pub fn opt_list(&self, name: &str) -> WorldResult<Option<&'a [Value]>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.as_slice())),
            Some(v) => Err(self.wrong_type(name, v, "list, tuple")),
        }
    }

    /// A list of structures.
    pub fn opt_obj_list(&self, name: &'a str) -> WorldResult<Option<Vec<Params<'a>>>> {
        let Some(items) = self.opt_list(name)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match v {
                Value::Object(m) => Ok(Params { map: m, path: name }),
                v => Err(self.wrong_type(name, v, "dict")),
            })
            .collect::<WorldResult<Vec<_>>>()
            .map(Some)
    }

    /// A list of strings; a single string is taken as a one-element list.
    pub fn opt_str_list(&self, name: &str) -> WorldResult<Option<Vec<String>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(self.wrong_type(name, v, "string")),
                })
                .collect::<WorldResult<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.wrong_type(name, v, "list, tuple")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_operation_names() {
        assert_eq!(
            operation_name("put_bucket_versioning"),
            "PutBucketVersioning"
        );
        assert_eq!(operation_name("DescribeKey"), "DescribeKey");
    }

    #[test]
    fn decoding_keeps_plain_strings() {
        assert_eq!(
            decoded(&Value::String("Off".into())),
            Value::String("Off".into())
        );
        assert_eq!(decoded(&Value::String("true".into())), Value::Bool(true));
        assert_eq!(
            decoded(&Value::String("{\"a\":1}".into())),
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn arn_parts() {
        assert_eq!(
            arn_resource("arn:aws:cloudtrail:us-east-1:1:trail/t", "trail"),
            Some("t")
        );
        assert_eq!(arn_resource("t", "trail"), None);
    }
}
