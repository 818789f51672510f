//! Webhook signatures: `X-Ampel-Signature: t=<unix seconds>,v1=<hex>` where
//! `v1 = HMAC-SHA256(key, "<t>.<body>")`, the scheme Stripe and GitHub
//! receivers already know how to check. The timestamp lets a receiver
//! refuse replays; the signature covers exactly the bytes sent.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Ampel-Signature";

/// The header value for `body` sent at `t` (unix seconds).
pub fn signature_header(key: &[u8], t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_test_vector_scheme() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        // Here the signed data is "<t>.<body>", so split it that way.
        let h = signature_header(b"Jefe", 0, b"what do ya want for nothing?");
        assert!(h.starts_with("t=0,v1="));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        let want = hex(&mac.finalize().into_bytes());
        assert_eq!(h, format!("t=0,v1={want}"));
        // And the primitive itself against the RFC's expected digest.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let got = hex(&mac.finalize().into_bytes());
        assert_eq!(
            got,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
