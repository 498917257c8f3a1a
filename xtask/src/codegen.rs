//! Generator for the `remedy-wire` service modules.
//!
//! To support another operation, add its name to the service's operation list
//! below and re-run `cargo run -p xtask -- codegen`.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::Path;

/// A service to generate a module for.
struct ServiceSpec {
    /// File name of the botocore model inside the models directory.
    model_file: &'static str,
    /// Output path relative to the workspace root.
    out_file: &'static str,
    /// Java package used when rendering structure values in validation messages.
    java_package: &'static str,
    /// Expected `metadata.targetPrefix` (sanity check).
    target_prefix: &'static str,
    /// Operations to generate; shapes reachable from their inputs/outputs are emitted.
    operations: &'static [&'static str],
}

/// AWS Config operations served by remedy.
pub const CONFIG_OPERATIONS: &[&str] = &[
    "PutConfigRule",
    "DescribeConfigRules",
    "DeleteConfigRule",
    "PutRemediationConfigurations",
    "DescribeRemediationConfigurations",
    "DeleteRemediationConfiguration",
    "PutRemediationExceptions",
    "DescribeRemediationExceptions",
    "DeleteRemediationExceptions",
    "PutResourceConfig",
    "DeleteResourceConfig",
    "GetResourceConfigHistory",
    "BatchGetResourceConfig",
    "ListDiscoveredResources",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "StartRemediationExecution",
    "DescribeRemediationExecutionStatus",
    "PutEvaluations",
    "StartConfigRulesEvaluation",
    "GetComplianceDetailsByConfigRule",
    "GetComplianceDetailsByResource",
    "DescribeComplianceByConfigRule",
    "DescribeComplianceByResource",
    "GetComplianceSummaryByConfigRule",
    "GetComplianceSummaryByResourceType",
    "DescribeConfigRuleEvaluationStatus",
    "DeleteEvaluationResults",
];

/// AWS Systems Manager operations served by remedy.
pub const SSM_OPERATIONS: &[&str] = &[
    "CreateDocument",
    "UpdateDocument",
    "UpdateDocumentDefaultVersion",
    "DeleteDocument",
    "GetDocument",
    "DescribeDocument",
    "ListDocuments",
    "ListDocumentVersions",
    "StartAutomationExecution",
    "GetAutomationExecution",
    "DescribeAutomationExecutions",
    "DescribeAutomationStepExecutions",
    "StopAutomationExecution",
];

const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        model_file: "config-2014-11-12.service.json",
        out_file: "crates/remedy-wire/src/config.rs",
        java_package: "com.amazonaws.starling.dove",
        target_prefix: "StarlingDoveService",
        operations: CONFIG_OPERATIONS,
    },
    ServiceSpec {
        model_file: "ssm-2014-11-06.service.json",
        out_file: "crates/remedy-wire/src/ssm.rs",
        java_package: "com.amazonaws.ssm",
        target_prefix: "AmazonSSM",
        operations: SSM_OPERATIONS,
    },
];

/// Model patterns that use Java-only regex syntax, with an equivalent for the
/// `regex` crate (both are matched against the whole value).
/// Enum shapes that also accept values outside the model's list, with the predicate that
/// admits them (see `remedy_wire::open` for why).
const OPEN_ENUMS: &[(&str, &str)] = &[("ResourceType", "crate::open::unlisted_resource_type")];

const PATTERN_TRANSLATIONS: &[(&str, &str)] = &[
    // Negative lookahead "not only whitespace" + `.+` (no line terminators).
    (
        r"^(?!\s*$).+",
        r"[^\n\r\u{85}\u{2028}\u{2029}]*\S[^\n\r\u{85}\u{2028}\u{2029}]*",
    ),
    // `-` after a class escape inside a character class is a literal in Java.
    (
        r"^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w-\/.@+=,]{1,1017}$",
        r"^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w\-\/.@+=,]{1,1017}$",
    ),
];

/// Type names the generated code relies on; a shape with one of these names
/// would shadow them.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "Operation",
    "String",
    "Vec",
    "Option",
    "Box",
    "Result",
    "Some",
    "None",
    "Ok",
    "Err",
    "BTreeMap",
    "Validate",
    "Render",
    "WireEnum",
    "Self",
];

type Res<T> = Result<T, String>;

pub fn run(root: &Path, models: &Path) -> Res<()> {
    for spec in SERVICES {
        let code = generate_service(spec, models)?;
        let out = root.join(spec.out_file);
        std::fs::write(&out, code).map_err(|e| format!("writing {}: {e}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// Generates and rustfmt-formats the module of one service.
fn generate_service(spec: &ServiceSpec, models: &Path) -> Res<String> {
    let path = models.join(spec.model_file);
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    let code = Gen::new(spec, &json)?.generate()?;
    rustfmt(&code)
}

fn rustfmt(code: &str) -> Res<String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("rustfmt")
        .args([
            "--edition",
            "2021",
            "--config",
            "max_width=120,use_small_heuristics=Max",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no rustfmt stdin")?;
    let input = code.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    writer
        .join()
        .map_err(|_| "rustfmt writer panicked")?
        .map_err(|e| format!("writing to rustfmt: {e}"))?;
    if !output.status.success() {
        return Err("rustfmt failed on the generated code".into());
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output: {e}"))
}

struct Gen<'a> {
    spec: &'a ServiceSpec,
    metadata: &'a Map<String, Value>,
    operations: &'a Map<String, Value>,
    shapes: &'a Map<String, Value>,
    /// Selected (reachable, non-exception) shapes, sorted.
    selected: BTreeSet<String>,
    /// Shapes whose values need any validation code.
    needs: HashSet<String>,
    /// Pattern (as in the model) -> static index.
    patterns: BTreeMap<String, usize>,
    errors: BTreeSet<String>,
}

fn obj<'v>(v: &'v Value, what: &str) -> Res<&'v Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| format!("{what} is not an object"))
}

impl<'a> Gen<'a> {
    fn new(spec: &'a ServiceSpec, json: &'a Value) -> Res<Self> {
        let metadata = obj(&json["metadata"], "metadata")?;
        let operations = obj(&json["operations"], "operations")?;
        let shapes = obj(&json["shapes"], "shapes")?;
        let prefix = metadata
            .get("targetPrefix")
            .and_then(Value::as_str)
            .unwrap_or("");
        if prefix != spec.target_prefix {
            return Err(format!(
                "{}: targetPrefix is {prefix:?}, expected {:?}",
                spec.model_file, spec.target_prefix
            ));
        }
        let mut g = Gen {
            spec,
            metadata,
            operations,
            shapes,
            selected: BTreeSet::new(),
            needs: HashSet::new(),
            patterns: BTreeMap::new(),
            errors: BTreeSet::new(),
        };
        g.select()?;
        g.compute_needs()?;
        Ok(g)
    }

    fn shape(&self, name: &str) -> Res<&'a Map<String, Value>> {
        self.shapes
            .get(name)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("unknown shape {name}"))
    }

    fn ty(&self, name: &str) -> Res<&'a str> {
        self.shape(name)?
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("shape {name} has no type"))
    }

    fn is_struct(&self, name: &str) -> Res<bool> {
        let t = self.ty(name)?;
        Ok(t == "structure" || t == "union")
    }

    fn is_enum(&self, name: &str) -> Res<bool> {
        Ok(self.ty(name)? == "string" && self.shape(name)?.contains_key("enum"))
    }

    fn op(&self, name: &str) -> Res<&'a Map<String, Value>> {
        self.operations
            .get(name)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("unknown operation {name} in {}", self.spec.model_file))
    }

    fn op_shape(&self, op: &str, which: &str) -> Res<Option<&'a str>> {
        Ok(self.op(op)?.get(which).and_then(|v| v["shape"].as_str()))
    }

    /// Member shape names of a shape, in model order.
    fn members(&self, name: &str) -> Res<Vec<(&'a str, &'a str)>> {
        let s = self.shape(name)?;
        let mut out = Vec::new();
        if let Some(m) = s.get("members").and_then(Value::as_object) {
            for (k, v) in m {
                let target = v["shape"]
                    .as_str()
                    .ok_or_else(|| format!("{name}.{k} has no shape"))?;
                out.push((k.as_str(), target));
            }
        }
        Ok(out)
    }

    fn required(&self, name: &str) -> Res<Vec<&'a str>> {
        Ok(self
            .shape(name)?
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default())
    }

    fn child(&self, name: &str, key: &str) -> Res<&'a str> {
        self.shape(name)?
            .get(key)
            .and_then(|v| v["shape"].as_str())
            .ok_or_else(|| format!("{name} has no {key}"))
    }

    fn children(&self, name: &str) -> Res<Vec<&'a str>> {
        Ok(match self.ty(name)? {
            "structure" | "union" => self.members(name)?.into_iter().map(|m| m.1).collect(),
            "list" => vec![self.child(name, "member")?],
            "map" => vec![self.child(name, "key")?, self.child(name, "value")?],
            _ => vec![],
        })
    }

    fn select(&mut self) -> Res<()> {
        let mut stack: Vec<String> = Vec::new();
        for op in self.spec.operations {
            for which in ["input", "output"] {
                if let Some(s) = self.op_shape(op, which)? {
                    stack.push(s.to_owned());
                }
            }
            if let Some(errs) = self.op(op)?.get("errors").and_then(Value::as_array) {
                for e in errs {
                    if let Some(s) = e["shape"].as_str() {
                        self.errors.insert(s.to_owned());
                    }
                }
            }
        }
        while let Some(s) = stack.pop() {
            if self.selected.contains(&s) {
                continue;
            }
            let shape = self.shape(&s)?;
            if shape.get("exception").and_then(Value::as_bool) == Some(true) {
                eprintln!("note: exception shape {s} reachable from an input/output; skipped");
                continue;
            }
            self.selected.insert(s.clone());
            for c in self.children(&s)? {
                stack.push(c.to_owned());
            }
        }
        for s in &self.selected {
            let is_type = self.is_struct(s)? || self.is_enum(s)?;
            if is_type && RESERVED_TYPE_NAMES.contains(&s.as_str()) {
                return Err(format!(
                    "shape name {s} collides with a name used by generated code"
                ));
            }
        }
        Ok(())
    }

    fn num(&self, name: &str, key: &str) -> Res<Option<f64>> {
        Ok(self.shape(name)?.get(key).and_then(Value::as_f64))
    }

    fn pattern(&self, name: &str) -> Res<Option<&'a str>> {
        Ok(self.shape(name)?.get("pattern").and_then(Value::as_str))
    }

    fn enum_values(&self, name: &str) -> Res<Vec<&'a str>> {
        Ok(self
            .shape(name)?
            .get("enum")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default())
    }

    /// Whether a string shape (map key) carries constraints.
    fn string_constrained(&self, name: &str) -> Res<bool> {
        Ok(self.ty(name)? == "string"
            && (self.num(name, "min")?.is_some_and(|m| m > 0.0)
                || self.num(name, "max")?.is_some()
                || self.pattern(name)?.is_some()
                || self.is_enum(name)?))
    }

    fn own_constraints(&self, name: &str) -> Res<bool> {
        let min = self.num(name, "min")?;
        let max = self.num(name, "max")?;
        Ok(match self.ty(name)? {
            "string" => self.string_constrained(name)?,
            "integer" | "long" | "double" | "float" => min.is_some() || max.is_some(),
            "list" => min.is_some_and(|m| m > 0.0) || max.is_some(),
            "map" => {
                min.is_some_and(|m| m > 0.0)
                    || max.is_some()
                    || self.string_constrained(self.child(name, "key")?)?
            }
            "structure" | "union" => !self.required(name)?.is_empty(),
            _ => false,
        })
    }

    fn compute_needs(&mut self) -> Res<()> {
        let mut needs = HashSet::new();
        for s in &self.selected {
            if self.own_constraints(s)? {
                needs.insert(s.clone());
            }
        }
        loop {
            let mut changed = false;
            for s in &self.selected {
                if needs.contains(s) {
                    continue;
                }
                let kids = match self.ty(s)? {
                    "map" => vec![self.child(s, "value")?],
                    _ => self.children(s)?,
                };
                if kids.iter().any(|k| needs.contains(*k)) {
                    needs.insert(s.clone());
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        self.needs = needs;
        // Register patterns in a deterministic order.
        let mut pats = BTreeSet::new();
        for s in &self.selected {
            if let Some(p) = self.pattern(s)? {
                if self.ty(s)? == "string" {
                    pats.insert(p.to_owned());
                }
            }
        }
        for (i, p) in pats.into_iter().enumerate() {
            self.patterns.insert(p, i);
        }
        Ok(())
    }

    fn rust_type(&self, name: &str) -> Res<String> {
        Ok(match self.ty(name)? {
            "string" => {
                if self.is_enum(name)? {
                    name.to_owned()
                } else {
                    "String".to_owned()
                }
            }
            "integer" => "i32".into(),
            "long" => "i64".into(),
            "boolean" => "bool".into(),
            "double" | "float" => "f64".into(),
            "timestamp" => "f64".into(),
            "blob" => "String".into(),
            "list" => format!("Vec<{}>", self.rust_type(self.child(name, "member")?)?),
            "map" => format!(
                "BTreeMap<String, {}>",
                self.rust_type(self.child(name, "value")?)?
            ),
            "structure" | "union" => name.to_owned(),
            t => return Err(format!("unsupported shape type {t} ({name})")),
        })
    }

    /// Whether `from` reaches `to` through direct (unboxed) structure members.
    fn direct_reaches(&self, from: &str, to: &str) -> Res<bool> {
        let mut seen = HashSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(s) = stack.pop() {
            if s == to {
                return Ok(true);
            }
            if !seen.insert(s.clone()) {
                continue;
            }
            for (_, t) in self.members(&s)? {
                if self.is_struct(t)? {
                    stack.push(t.to_owned());
                }
            }
        }
        Ok(false)
    }

    fn generate(&self) -> Res<String> {
        let uid = self
            .metadata
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let mut o = String::new();
        w(&mut o, format_args!(
            "// @generated by `cargo run -p xtask -- codegen` from the AWS service model {uid}. Do not edit.\n"
        ));
        o.push_str(
            "#![allow(non_snake_case, non_camel_case_types, clippy::all, clippy::pedantic, rustdoc::all)]\n",
        );
        let full = self
            .metadata
            .get("serviceFullName")
            .and_then(Value::as_str)
            .unwrap_or("");
        w(
            &mut o,
            format_args!("//! Wire types for {full} (`{uid}`).\n\n"),
        );
        o.push_str("use crate::Validate as _;\nuse std::collections::BTreeMap;\n\n");
        w(
            &mut o,
            format_args!(
            "/// `X-Amz-Target` prefix of this service.\npub const TARGET_PREFIX: &str = {:?};\n",
            self.spec.target_prefix
        ),
        );
        let signing = self
            .metadata
            .get("signingName")
            .or_else(|| self.metadata.get("endpointPrefix"))
            .and_then(Value::as_str)
            .unwrap_or("");
        w(
            &mut o,
            format_args!(
            "/// SigV4 signing name of this service.\npub const SIGNING_NAME: &str = {signing:?};\n"
        ),
        );
        w(
            &mut o,
            format_args!(
                "/// API version of the model.\npub const API_VERSION: &str = {:?};\n",
                self.metadata
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
        );
        w(&mut o, format_args!(
            "/// Java package used when rendering structure values in validation messages.\npub const JAVA_PACKAGE: &str = {:?};\n\n",
            self.spec.java_package
        ));
        self.gen_operations(&mut o)?;
        o.push_str("/// Exception shapes referenced by the selected operations.\npub const ERROR_SHAPES: &[&str] = &[\n");
        for e in &self.errors {
            w(&mut o, format_args!("    {e:?},\n"));
        }
        o.push_str("];\n\n");
        self.gen_patterns(&mut o)?;
        for s in &self.selected {
            if self.is_enum(s)? {
                self.gen_enum(&mut o, s)?;
            }
        }
        for s in &self.selected {
            if self.is_struct(s)? {
                self.gen_struct(&mut o, s)?;
            }
        }
        let mut value_shapes = HashSet::new();
        for s in &self.selected {
            match self.ty(s)? {
                "list" => {
                    value_shapes.insert(self.child(s, "member")?);
                }
                "map" => {
                    value_shapes.insert(self.child(s, "value")?);
                }
                "structure" | "union" => {
                    value_shapes.extend(self.members(s)?.into_iter().map(|m| m.1))
                }
                _ => {}
            }
        }
        for s in &self.selected {
            if !self.is_struct(s)? && self.needs.contains(s) && value_shapes.contains(s.as_str()) {
                self.gen_validator(&mut o, s)?;
            }
        }
        Ok(o)
    }

    fn gen_operations(&self, o: &mut String) -> Res<()> {
        o.push_str("/// Operations of this service handled by remedy.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\npub enum Operation {\n");
        for op in self.spec.operations {
            let doc = doc_of(self.op(op)?);
            doc_line(o, &doc, "    ");
            w(o, format_args!("    {op},\n"));
        }
        o.push_str("}\n\nimpl Operation {\n    /// Every operation, in declaration order.\n    pub const ALL: &'static [Operation] = &[\n");
        for op in self.spec.operations {
            w(o, format_args!("        Operation::{op},\n"));
        }
        o.push_str("    ];\n\n    /// Looks an operation up by its name (without the target prefix).\n    pub fn from_name(name: &str) -> Option<Operation> {\n        match name {\n");
        for op in self.spec.operations {
            w(
                o,
                format_args!("            {op:?} => Some(Operation::{op}),\n"),
            );
        }
        o.push_str("            _ => None,\n        }\n    }\n\n    /// The operation name (without the target prefix).\n    pub fn name(&self) -> &'static str {\n        match self {\n");
        for op in self.spec.operations {
            w(o, format_args!("            Operation::{op} => {op:?},\n"));
        }
        o.push_str("        }\n    }\n\n");
        for (which, fname) in [("input", "input_shape"), ("output", "output_shape")] {
            w(o, format_args!(
                "    /// Name of the {which} shape, if the operation has one.\n    pub fn {fname}(&self) -> Option<&'static str> {{\n        match self {{\n"
            ));
            for op in self.spec.operations {
                match self.op_shape(op, which)? {
                    Some(s) => w(
                        o,
                        format_args!("            Operation::{op} => Some({s:?}),\n"),
                    ),
                    None => w(o, format_args!("            Operation::{op} => None,\n")),
                }
            }
            o.push_str("        }\n    }\n\n");
        }
        o.push_str("}\n\nimpl std::fmt::Display for Operation {\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {\n        f.write_str(self.name())\n    }\n}\n\n");
        Ok(())
    }

    fn gen_patterns(&self, o: &mut String) -> Res<()> {
        o.push_str("/// Every `pattern` of the selected shapes: (pattern as in the model, regex used).\npub const PATTERNS: &[(&str, &str)] = &[\n");
        let mut translated = Vec::new();
        for p in self.patterns.keys() {
            let rust = PATTERN_TRANSLATIONS
                .iter()
                .find(|(j, _)| j == p)
                .map(|(_, r)| *r)
                .unwrap_or(p.as_str());
            if let Err(e) = regex::Regex::new(&format!("^(?:{rust})$")) {
                return Err(format!(
                    "pattern {p:?} does not compile with the regex crate ({e}); add it to PATTERN_TRANSLATIONS"
                ));
            }
            w(o, format_args!("    ({}, {}),\n", lit(p), lit(rust)));
            translated.push(rust.to_owned());
        }
        o.push_str("];\n\n");
        for (i, rust) in translated.iter().enumerate() {
            w(o, format_args!(
                "static RE_{i}: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| crate::rt::compile(PATTERNS[{i}].1));\n"
            ));
            let _ = rust;
        }
        o.push_str("\n/// Forces every pattern regex (used by tests).\npub fn force_patterns() -> usize {\n    let all: &[&std::sync::LazyLock<regex::Regex>] = &[");
        for i in 0..translated.len() {
            w(o, format_args!("&RE_{i}, "));
        }
        o.push_str(
            "];\n    all.iter().map(|r| std::sync::LazyLock::force(r).as_str().len()).sum()\n}\n\n",
        );
        Ok(())
    }

    fn gen_enum(&self, o: &mut String, name: &str) -> Res<()> {
        let values = self.enum_values(name)?;
        let mut used: HashSet<String> = HashSet::new();
        used.insert("Unrecognized".into());
        let mut variants = Vec::new();
        for v in &values {
            let base = variant_name(v);
            let mut cand = base.clone();
            let mut n = 2;
            while used.contains(&cand) {
                cand = format!("{base}_{n}");
                n += 1;
            }
            if cand != base {
                eprintln!("note: {name}: enum value {v:?} renamed to variant {cand} (collision)");
            }
            used.insert(cand.clone());
            variants.push(cand);
        }
        let doc = doc_of(self.shape(name)?);
        let doc = if doc.is_empty() {
            format!("Enum shape `{name}`.")
        } else {
            doc
        };
        o.push_str("crate::wire_enum! {\n");
        doc_line(o, &doc, "    ");
        w(o, format_args!("    {name} {{\n"));
        for (v, var) in values.iter().zip(&variants) {
            w(o, format_args!("        {var} => {v:?},\n"));
        }
        match OPEN_ENUMS.iter().find(|(shape, _)| *shape == name) {
            Some((_, predicate)) => w(o, format_args!("    }} accepts {predicate}\n}}\n\n")),
            None => o.push_str("    }\n}\n\n"),
        }
        Ok(())
    }

    fn gen_struct(&self, o: &mut String, name: &str) -> Res<()> {
        let shape = self.shape(name)?;
        let members = self.members(name)?;
        let required = self.required(name)?;
        let doc = doc_of(shape);
        let doc = if doc.is_empty() {
            format!("Structure shape `{name}`.")
        } else {
            doc
        };
        doc_line(o, &doc, "");
        o.push_str(
            "#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]\n",
        );
        w(o, format_args!("pub struct {name} {{\n"));
        let mut used = HashSet::new();
        let mut fields = Vec::new();
        for (m, target) in &members {
            let base = field_name(m);
            let mut cand = base.clone();
            let mut n = 2;
            while used.contains(&cand) {
                cand = format!("{base}_{n}");
                n += 1;
            }
            used.insert(cand.clone());
            let mut ty = self.rust_type(target)?;
            if self.is_struct(target)? && self.direct_reaches(target, name)? {
                ty = format!("Box<{ty}>");
            }
            let mdoc = shape["members"][*m]
                .as_object()
                .map(doc_of)
                .unwrap_or_default();
            doc_line(o, &mdoc, "    ");
            w(o, format_args!(
                "    #[serde(rename = {m:?}, skip_serializing_if = \"Option::is_none\", default)]\n    pub {cand}: Option<{ty}>,\n"
            ));
            fields.push((m, target, cand));
        }
        o.push_str("}\n\n");
        // Validate.
        let mut body = String::new();
        for (m, target, field) in &fields {
            let jpath = lower_first(m);
            let req = required.contains(m);
            let needs = self.needs.contains(**target);
            let call = if needs {
                Some(self.call(target, "v", "&p")?)
            } else {
                None
            };
            match (req, call) {
                (true, Some(call)) => w(&mut body, format_args!(
                    "        let p = crate::rt::Path::Member(path, {jpath:?});\n        match &self.{field} {{\n            Some(v) => {call},\n            None => crate::rt::required(errors, &p),\n        }}\n"
                )),
                (true, None) => w(&mut body, format_args!(
                    "        if self.{field}.is_none() {{\n            crate::rt::required(errors, &crate::rt::Path::Member(path, {jpath:?}));\n        }}\n"
                )),
                (false, Some(call)) => w(&mut body, format_args!(
                    "        if let Some(v) = &self.{field} {{\n            let p = crate::rt::Path::Member(path, {jpath:?});\n            {call};\n        }}\n"
                )),
                (false, None) => {}
            }
        }
        let (pn, en) = if body.is_empty() {
            ("_path", "_errors")
        } else {
            ("path", "errors")
        };
        w(o, format_args!(
            "impl crate::Validate for {name} {{\n    fn validate_members(&self, {pn}: &crate::rt::Path<'_>, {en}: &mut Vec<String>) {{\n{body}    }}\n}}\n\n"
        ));
        w(o, format_args!(
            "impl crate::Render for {name} {{\n    fn render(&self) -> String {{\n        String::from({:?})\n    }}\n}}\n\n",
            format!("{}.{name}@{:08x}", self.spec.java_package, fnv(name))
        ));
        Ok(())
    }

    /// Code validating value expression `v` (a reference) of shape `target` at path expression `p`.
    fn call(&self, target: &str, v: &str, p: &str) -> Res<String> {
        Ok(if self.is_struct(target)? {
            format!("{v}.validate_members({p}, errors)")
        } else {
            format!("v_{target}({v}, {p}, errors)")
        })
    }

    fn len_bounds(&self, name: &str) -> Res<(String, String)> {
        let min = self.num(name, "min")?.filter(|m| *m > 0.0);
        let max = self.num(name, "max")?;
        let f = |x: Option<f64>| match x {
            Some(x) => format!("Some({})", x as u64),
            None => "None".to_owned(),
        };
        Ok((f(min), f(max)))
    }

    /// Statements checking a string (`&str` expression `s`, rendered from `v`).
    fn string_checks(&self, name: &str, out: &mut String) -> Res<()> {
        let (min, max) = self.len_bounds(name)?;
        if min != "None" || max != "None" {
            w(
                out,
                format_args!("    crate::rt::check_str_len(errors, path, s, {min}, {max});\n"),
            );
        }
        if let Some(p) = self.pattern(name)? {
            let i = self.patterns[p];
            w(
                out,
                format_args!(
                    "    crate::rt::check_pattern(errors, path, s, &RE_{i}, PATTERNS[{i}].0);\n"
                ),
            );
        }
        Ok(())
    }

    fn gen_validator(&self, o: &mut String, name: &str) -> Res<()> {
        let ty = self.rust_type(name)?;
        let mut b = String::new();
        match self.ty(name)? {
            "string" => {
                if self.is_enum(name)? {
                    let pre = b.len();
                    self.string_checks(name, &mut b)?;
                    if b.len() > pre {
                        b.insert_str(pre, "    let s = v.as_str();\n");
                    }
                    b.push_str("    crate::rt::check_enum(errors, path, v);\n");
                } else {
                    b.push_str("    let s = v.as_str();\n");
                    self.string_checks(name, &mut b)?;
                }
            }
            "integer" | "long" => {
                let f = |x: Option<f64>| match x {
                    Some(x) => format!("Some({})", x as i64),
                    None => "None".to_owned(),
                };
                w(
                    &mut b,
                    format_args!(
                        "    crate::rt::check_range(errors, path, i64::from(*v), {}, {});\n",
                        f(self.num(name, "min")?),
                        f(self.num(name, "max")?)
                    ),
                );
            }
            "double" | "float" => {
                let f = |x: Option<f64>| match x {
                    Some(x) => format!("Some({x:?})"),
                    None => "None".to_owned(),
                };
                w(
                    &mut b,
                    format_args!(
                        "    crate::rt::check_range(errors, path, *v, {}, {});\n",
                        f(self.num(name, "min")?),
                        f(self.num(name, "max")?)
                    ),
                );
            }
            "list" => {
                let (min, max) = self.len_bounds(name)?;
                if min != "None" || max != "None" {
                    w(
                        &mut b,
                        format_args!(
                            "    crate::rt::check_len(errors, path, v, v.len(), {min}, {max});\n"
                        ),
                    );
                }
                let member = self.child(name, "member")?;
                if self.needs.contains(member) {
                    let call = self.call(member, "item", "&p")?;
                    w(&mut b, format_args!(
                        "    for (i, item) in v.iter().enumerate() {{\n        let p = crate::rt::Path::Item(path, i);\n        {call};\n    }}\n"
                    ));
                }
            }
            "map" => {
                let (min, max) = self.len_bounds(name)?;
                if min != "None" || max != "None" {
                    w(
                        &mut b,
                        format_args!(
                            "    crate::rt::check_len(errors, path, v, v.len(), {min}, {max});\n"
                        ),
                    );
                }
                let key = self.child(name, "key")?;
                if self.string_constrained(key)? {
                    let (cond, desc) = self.key_check(key)?;
                    w(&mut b, format_args!(
                        "    if v.keys().any(|k| {{ let s = k.as_str(); !({cond}) }}) {{\n        crate::rt::map_keys(errors, path, v, {desc:?});\n    }}\n"
                    ));
                }
                let value = self.child(name, "value")?;
                if self.needs.contains(value) {
                    let call = self.call(value, "item", "&p")?;
                    w(&mut b, format_args!(
                        "    for (k, item) in v {{\n        let p = crate::rt::Path::Value(path, k);\n        {call};\n    }}\n"
                    ));
                }
            }
            t => return Err(format!("no validator for type {t} ({name})")),
        }
        w(
            o,
            format_args!(
                "fn v_{name}(v: &{ty}, path: &crate::rt::Path<'_>, errors: &mut Vec<String>) {{\n{b}}}\n\n"
            ),
        );
        Ok(())
    }

    /// (boolean expression over `s: &str`, constraint description) for a map key shape.
    fn key_check(&self, key: &str) -> Res<(String, String)> {
        let mut conds = Vec::new();
        let mut descs = Vec::new();
        let min = self.num(key, "min")?.filter(|m| *m > 0.0);
        let max = self.num(key, "max")?;
        if let Some(max) = max {
            conds.push(format!("s.chars().count() <= {}", max as u64));
            descs.push(format!(
                "Member must have length less than or equal to {}",
                max as u64
            ));
        }
        if let Some(min) = min {
            conds.push(format!("s.chars().count() >= {}", min as u64));
            descs.push(format!(
                "Member must have length greater than or equal to {}",
                min as u64
            ));
        }
        if let Some(p) = self.pattern(key)? {
            let i = self.patterns[p];
            conds.push(format!("RE_{i}.is_match(s)"));
            descs.push(format!(
                "Member must satisfy regular expression pattern: {p}"
            ));
        }
        let vals = self.enum_values(key)?;
        if !vals.is_empty() {
            conds.push(format!("{key}::VALUES.contains(&s)"));
            descs.push(format!(
                "Member must satisfy enum value set: [{}]",
                vals.join(", ")
            ));
        }
        Ok((conds.join(" && "), format!("[{}]", descs.join(", "))))
    }
}

fn w(o: &mut String, args: std::fmt::Arguments<'_>) {
    let _ = o.write_fmt(args);
}

fn lit(s: &str) -> String {
    for hashes in 0..4 {
        let h = "#".repeat(hashes);
        let close = format!("\"{h}");
        if hashes > 0 && !s.contains(&close) || hashes == 0 && !s.contains('"') {
            return format!("r{h}\"{s}\"{h}");
        }
    }
    format!("{s:?}")
}

fn fnv(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Enum variant name of a wire value (see the crate docs for the rules).
pub fn variant_name(v: &str) -> String {
    let mut out = String::new();
    for piece in v.split(|c: char| !c.is_ascii_alphanumeric()) {
        if piece.is_empty() {
            continue;
        }
        let mut chars = piece.chars();
        let Some(first) = chars.next() else { continue };
        out.extend(first.to_uppercase());
        let all_upper = !piece.chars().any(|c| c.is_ascii_lowercase());
        if all_upper {
            out.extend(chars.flat_map(char::to_lowercase));
        } else {
            out.extend(chars);
        }
    }
    if out.is_empty() {
        out.push_str("Empty");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// snake_case field name of a member name.
pub fn field_name(m: &str) -> String {
    let chars: Vec<char> = m.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next = chars.get(i + 1).copied();
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    let out = out.trim_end_matches('_').to_owned();
    if out.is_empty() {
        return "field".into();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        return format!("f_{out}");
    }
    if matches!(out.as_str(), "self" | "super" | "crate" | "extern") {
        return format!("{out}_");
    }
    if KEYWORDS.contains(&out.as_str()) {
        return format!("r#{out}");
    }
    out
}

/// First sentence of a member/shape documentation, HTML stripped, kept short.
fn doc_of(m: &Map<String, Value>) -> String {
    let raw = m.get("documentation").and_then(Value::as_str).unwrap_or("");
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '<'
            && chars
                .peek()
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == '/' || *n == '!')
        {
            let mut tag = String::new();
            for d in chars.by_ref() {
                if d == '>' {
                    break;
                }
                tag.push(d);
            }
            let tname: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if !matches!(
                tname.as_str(),
                "code" | "i" | "b" | "a" | "em" | "strong" | "span"
            ) {
                text.push(' ');
            }
        } else {
            text.push(c);
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut sentence = match text.find(". ") {
        Some(i) => text[..=i].to_owned(),
        None => text,
    };
    const MAX: usize = 160;
    if sentence.chars().count() > MAX {
        let cut: String = sentence.chars().take(MAX).collect();
        let cut = match cut.rfind(' ') {
            Some(i) => cut[..i].to_owned(),
            None => cut,
        };
        sentence = format!("{cut}...");
    }
    sentence
}

fn doc_line(o: &mut String, doc: &str, indent: &str) {
    if doc.is_empty() {
        return;
    }
    // Keep rustdoc from interpreting markdown/HTML-ish content.
    let doc = doc
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace('<', "&lt;");
    w(o, format_args!("{indent}/// {doc}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed modules match what the generator produces (skipped when
    /// the models are not available).
    #[test]
    fn generated_files_are_up_to_date() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new("."));
        let models = root.join("../shared/aws-models");
        if !models.join(SERVICES[0].model_file).exists() {
            eprintln!("models not found at {}; skipping", models.display());
            return;
        }
        for spec in SERVICES {
            let fresh = generate_service(spec, &models).unwrap_or_else(|e| panic!("{e}"));
            let committed = std::fs::read_to_string(root.join(spec.out_file)).unwrap_or_default();
            assert!(
                fresh == committed,
                "{} is stale: run `cargo run -p xtask -- codegen`",
                spec.out_file
            );
        }
    }

    #[test]
    fn variants() {
        assert_eq!(variant_name("NON_COMPLIANT"), "NonCompliant");
        assert_eq!(variant_name("AWS::S3::Bucket"), "AwsS3Bucket");
        assert_eq!(variant_name("TwentyFour_Hours"), "TwentyFourHours");
        assert_eq!(variant_name("SSM_DOCUMENT"), "SsmDocument");
        assert_eq!(variant_name("Reverse"), "Reverse");
        assert_eq!(variant_name("1Day"), "V1Day");
    }

    #[test]
    fn fields() {
        assert_eq!(field_name("ConfigRuleName"), "config_rule_name");
        assert_eq!(field_name("resourceType"), "resource_type");
        assert_eq!(field_name("ARN"), "arn");
        assert_eq!(field_name("SSMDocumentName"), "ssm_document_name");
        assert_eq!(field_name("S3BucketName"), "s3_bucket_name");
        assert_eq!(field_name("type"), "r#type");
        assert_eq!(field_name("EC2InstanceId"), "ec2_instance_id");
    }
}
