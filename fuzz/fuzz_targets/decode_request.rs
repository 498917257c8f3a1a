//! Arbitrary bytes as request bodies through `remedy_wire::decode::<T>` (parse, strict typed
//! conversion, model validation), and as operation names through `Operation::from_name`.
//! Nothing may panic, whatever the input.
//!
//! Input layout: the first byte picks the request type; the rest is the body. The whole input is
//! also tried as an operation name of both services.
//!
//! Beyond "no panic", two properties are checked:
//! * a body that decodes re-encodes to a body that decodes to an equal value (what the server
//!   stores and echoes back is what it accepted);
//! * a name that `from_name` accepts is the operation's own name.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remedy_wire::{config, decode, encode, from_slice, ssm, DecodeError, Validate};

fn check<T>(body: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + Validate + PartialEq + std::fmt::Debug,
{
    match decode::<T>(body) {
        Ok(value) => {
            let again = encode(&value);
            let back: T = from_slice(&again).unwrap_or_else(|e| {
                panic!("re-encoded body does not parse: {e}: {}", String::from_utf8_lossy(&again))
            });
            assert_eq!(back, value, "round trip changed the value");
            assert!(decode::<T>(&again).is_ok(), "re-encoded body fails validation");
        }
        Err(DecodeError::Serialization(m)) | Err(DecodeError::Validation(m)) => {
            assert!(!m.is_empty(), "empty error message");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some((&selector, body)) = data.split_first() {
        match selector % 6 {
            0 => check::<config::PutConfigRuleRequest>(body),
            1 => check::<config::PutRemediationConfigurationsRequest>(body),
            2 => check::<config::PutResourceConfigRequest>(body),
            3 => check::<config::StartRemediationExecutionRequest>(body),
            4 => check::<config::GetResourceConfigHistoryRequest>(body),
            _ => check::<config::PutRemediationExceptionsRequest>(body),
        }
    }

    let name = String::from_utf8_lossy(data);
    if let Some(op) = config::Operation::from_name(&name) {
        assert_eq!(op.name(), name, "config lookup returned another operation");
    }
    if let Some(op) = ssm::Operation::from_name(&name) {
        assert_eq!(op.name(), name, "ssm lookup returned another operation");
    }
    // And as a full target, split the way the server splits it.
    if let Some((prefix, op)) = name.split_once('.') {
        if prefix == config::TARGET_PREFIX {
            let _ = config::Operation::from_name(op);
        } else if prefix == ssm::TARGET_PREFIX {
            let _ = ssm::Operation::from_name(op);
        }
    }
});
