//! `remedy import FILE`: bulk-load configuration items into a store.
//!
//! Works on a running server's store as well as a stopped one: SQLite's WAL lets this process write
//! beside the server (each import is one transaction), and the server reads the new items on its
//! next query. Accepted input: one item, a JSON array of items, an object with a
//! `configurationItems` array (the GetResourceConfigHistory response), or JSON Lines.

use std::io::Read;

use serde_json::Value;

use crate::ci_input::parse_item;
use crate::cli::ImportArgs;
use crate::domain::Scope;

/// Splits the input into item values.
pub fn items_of(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(Value::Object(mut obj)) => match obj.remove("configurationItems") {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err("configurationItems must be an array".into()),
            None => Ok(vec![Value::Object(obj)]),
        },
        Ok(_) => Err("expected a configuration item, an array of them, or JSON Lines".into()),
        Err(_) => trimmed
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect(),
    }
}

pub fn run(args: &ImportArgs) -> Result<usize, String> {
    let text = if args.file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| e.to_string())?;
        s
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?
    };
    let mut batch = Vec::new();
    for (i, value) in items_of(&text)?.iter().enumerate() {
        let parsed = parse_item(value).map_err(|e| format!("item {}: {e}", i + 1))?;
        let scope = Scope::new(
            parsed.account.unwrap_or_else(|| args.account.clone()),
            parsed.region.unwrap_or_else(|| args.region.clone()),
        );
        batch.push((scope, parsed.item));
    }
    // The store orders a resource's history by arrival, so record items oldest first: a
    // GetResourceConfigHistory response lists them newest first by default. Items without a
    // capture time are captured "now", after every dated one; ties keep the file's order.
    batch.sort_by(|(_, a), (_, b)| {
        let at = |t: Option<f64>| t.unwrap_or(f64::INFINITY);
        at(a.capture_time).total_cmp(&at(b.capture_time))
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let store = args.storage.open_store().await?;
        store
            .import_configuration_items(batch)
            .await
            .map_err(|e| format!("import failed, nothing was written: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_shapes() {
        assert_eq!(
            items_of(r#"{"resourceType":"a","resourceId":"b"}"#)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(items_of(r#"[{"a":1},{"b":2}]"#).unwrap().len(), 2);
        assert_eq!(
            items_of(r#"{"configurationItems":[{"a":1}],"nextToken":"x"}"#)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(items_of("{\"a\":1}\n{\"b\":2}\n").unwrap().len(), 2);
        assert!(items_of("{\"a\":1}\nnot json").is_err());
        assert!(items_of("42").is_err());
    }
}
