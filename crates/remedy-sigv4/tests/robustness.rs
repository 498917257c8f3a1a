//! No input makes the verifier panic. A cheap, deterministic stand-in for the fuzz target
//! (`fuzz/fuzz_targets/sigv4_parse.rs`) that runs with the ordinary test suite.

mod common;

use common::*;
use remedy_sigv4::{parse_authorization, verify};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Bytes biased towards the characters SigV4 parsing cares about.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"AWS4-HMAC-SHA256 ",
            b"Credential=",
            b"AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
            b"SignedHeaders=",
            b"host;x-amz-date",
            b"Signature=",
            b"X-Amz-Algorithm=AWS4-HMAC-SHA256",
            b"X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request",
            b"X-Amz-Date=20150830T123600Z",
            b"X-Amz-Expires=",
            b"X-Amz-SignedHeaders=host",
            b"X-Amz-Signature=",
            b"%",
            b"%E1%88",
            b"/../",
            b"//",
            b",",
            b"=",
            b"&",
            b"?",
            b";",
            b"/",
            b" ",
            b"\t",
            b"\xff",
            "ሴ".as_bytes(),
            b"99999999999999999999",
        ];
        let mut out = Vec::new();
        let len = self.below(max + 1);
        while out.len() < len {
            if self.below(3) == 0 {
                out.push(self.next() as u8);
            } else {
                out.extend_from_slice(PIECES[self.below(PIECES.len())]);
            }
        }
        out
    }
}

#[test]
fn random_inputs_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let opts = options();
    let base = RawRequest {
        method: "GET".into(),
        target: "/".into(),
        headers: vec![
            ("Host".into(), b"example.amazonaws.com".to_vec()),
            ("X-Amz-Date".into(), b"20150830T123600Z".to_vec()),
        ],
        body: Vec::new(),
    };
    let mut verified_some = 0usize;
    for _ in 0..20_000 {
        let auth = rng.bytes(300);
        let _ = parse_authorization(&String::from_utf8_lossy(&auth));

        let mut req = base.clone();
        let mut target = b"/".to_vec();
        target.extend(rng.bytes(200));
        req.target = String::from_utf8_lossy(&target).into_owned();
        if rng.below(2) == 0 {
            req.headers.push(("Authorization".into(), auth));
        }
        if rng.below(4) == 0 {
            req.headers
                .push(("X-Amz-Content-Sha256".into(), rng.bytes(70)));
        }
        if rng.below(4) == 0 {
            req.set_header("X-Amz-Date", &String::from_utf8_lossy(&rng.bytes(20)));
        }
        req.body = rng.bytes(50);
        if let Some(parts) = req.to_parts() {
            verified_some += 1;
            let _ = verify(&parts, &req.body, &Store, &opts);
        }
    }
    assert!(
        verified_some > 1000,
        "too few inputs reached verify: {verified_some}"
    );
}

#[test]
fn huge_inputs_are_handled() {
    let big = "a;".repeat(100_000);
    let v = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders={big}host, Signature=00"
    );
    assert!(parse_authorization(&v).is_err());
    let v = format!("AWS4-HMAC-SHA256 {}", ",".repeat(1_000_000));
    assert!(parse_authorization(&v).is_err());
    let v = format!(
        "AWS4-HMAC-SHA256 Credential={}/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
        "A".repeat(1_000_000)
    );
    assert!(parse_authorization(&v).is_ok());
}
