//! Enum shapes remedy keeps open beyond the model's value list.
//!
//! The model's `ResourceType` enum lists AWS's own types only, yet AWS Config records registered
//! third-party types (PutResourceConfig) and lets them be read back. remedy therefore accepts, in
//! every `ResourceType` member, the model's values plus any well-formed third-party type name;
//! anything else (`AWS::Nope::Thing`, `bucket`) still fails with the model's enum message.
//!
//! The account-level pseudo-type `AWS::::Account` is accepted too: AWS's account-level managed
//! rules evaluate it and its runbooks remediate it, yet the model's enum omits it (spec §7.2 #5).

/// The account-level resource type.
pub const ACCOUNT_RESOURCE_TYPE: &str = "AWS::::Account";

/// Values an open `ResourceType` member accepts beyond the model's list.
pub fn unlisted_resource_type(s: &str) -> bool {
    s == ACCOUNT_RESOURCE_TYPE || third_party_resource_type(s)
}

/// `Provider::Service::Resource` of ASCII alphanumerics, provider not `AWS` and not one of the
/// prefixes AWS reserves (`amzn`, `amazon`, `alexa`, `custom`; case-insensitive).
pub fn third_party_resource_type(s: &str) -> bool {
    let mut parts = s.split("::");
    let (Some(provider), Some(service), Some(resource), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let well_formed = [provider, service, resource]
        .iter()
        .all(|p| !p.is_empty() && p.len() <= 64 && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let reserved = ["aws", "amzn", "amazon", "alexa", "custom"]
        .iter()
        .any(|r| provider.eq_ignore_ascii_case(r));
    well_formed && !reserved
}

#[cfg(test)]
mod tests {
    use super::third_party_resource_type as ok;

    #[test]
    fn accepts_only_well_formed_third_party_types() {
        assert!(ok("MyCompany::Widget::Thing"));
        assert!(!ok("AWS::S3::Bucket"));
        assert!(!ok("aws::Nope::Thing"));
        assert!(!ok("Custom::A::B"));
        assert!(!ok("Amzn::A::B"));
        assert!(!ok("A::B"));
        assert!(!ok("A::B::C::D"));
        assert!(!ok("A::B-x::C"));
        assert!(!ok(""));
        assert!(super::unlisted_resource_type("AWS::::Account"));
        assert!(!super::unlisted_resource_type("AWS::::Nope"));
    }
}
