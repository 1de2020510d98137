//! The session cookie's format: a JSON Web Token (RFC 7519) signed with HMAC-SHA-256 (`HS256`,
//! RFC 7518 §3.2), the only algorithm proxwatch issues or accepts.
//!
//! Written here rather than taken from `jsonwebtoken`: that crate links every algorithm it knows
//! (RSA, the ECDSA curves, Ed25519) whether used or not, about 220 KiB of code that the idle
//! appliance kept resident (DESIGN.md §6, measured for issue 13). What is left is small and uses the
//! RustCrypto `hmac` the project already has, whose `verify_slice` compares in constant time. Tokens
//! issued by the earlier `jsonwebtoken` build verify unchanged (same header, same encoding).
//!
//! What is checked: three base64url (unpadded) parts; a header whose `alg` is exactly `HS256` (no
//! `none`, no key confusion: there is no other key type); the signature over `header.payload`,
//! before the payload is parsed. Expiry and the rest are the caller's claims to check.

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

const B64: data_encoding::Encoding = data_encoding::BASE64URL_NOPAD;

/// The most a token may be: a session cookie is a couple of hundred bytes.
const MAX_LEN: usize = 4096;

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; the error case cannot happen.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

/// Signs `claims` as an HS256 JWT.
pub fn sign<T: Serialize>(key: &[u8], claims: &T) -> Result<String, serde_json::Error> {
    let payload = serde_json::to_vec(claims)?;
    let mut token = B64.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    token.push('.');
    token.push_str(&B64.encode(&payload));
    let mut m = mac(key);
    m.update(token.as_bytes());
    let sig = m.finalize().into_bytes();
    token.push('.');
    token.push_str(&B64.encode(&sig));
    Ok(token)
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
}

/// The claims of a token signed with `key`; `None` for anything else (malformed, another
/// algorithm, a wrong signature, claims that do not parse).
pub fn verify<T: DeserializeOwned>(key: &[u8], token: &str) -> Option<T> {
    if token.len() > MAX_LEN {
        return None;
    }
    let (signed, sig) = token.rsplit_once('.')?;
    let (header, payload) = signed.split_once('.')?;
    let sig = B64.decode(sig.as_bytes()).ok()?;
    let mut m = mac(key);
    m.update(signed.as_bytes());
    m.verify_slice(&sig).ok()?;
    let header: Header = serde_json::from_slice(&B64.decode(header.as_bytes()).ok()?).ok()?;
    if header.alg != "HS256" {
        return None;
    }
    serde_json::from_slice(&B64.decode(payload.as_bytes()).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        sid: String,
        exp: u64,
    }

    #[test]
    fn round_trip_and_tampering() {
        let key = [7u8; 32];
        let c = Claims { sid: "abc".into(), exp: 99 };
        let t = sign(&key, &c).unwrap();
        assert_eq!(verify::<Claims>(&key, &t), Some(c));
        assert_eq!(verify::<Claims>(&[8u8; 32], &t), None, "another key");
        let (head, rest) = t.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged = format!("{head}.{}.{sig}", B64.encode(br#"{"sid":"abc","exp":999999}"#));
        assert_eq!(verify::<Claims>(&key, &forged), None, "a changed payload");
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none"}"#), B64.encode(br#"{"sid":"a","exp":1}"#));
        assert_eq!(verify::<Claims>(&key, &none), None, "alg none");
        for bad in ["", "a", "a.b", "a.b.c", "..", &"x".repeat(5000)] {
            assert_eq!(verify::<Claims>(&key, bad), None, "{bad}");
        }
    }

    /// A token the `jsonwebtoken` crate issued before this module replaced it (key: 32 bytes of 7,
    /// claims `{"sid":"abc","sub":"admin","iat":1,"exp":4102444800}`) still verifies, and this
    /// module's own tokens are byte-for-byte what it issued.
    #[test]
    fn matches_the_tokens_jsonwebtoken_issued() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Full {
            sid: String,
            sub: String,
            iat: u64,
            exp: u64,
        }
        let key = [7u8; 32];
        let c = Full { sid: "abc".into(), sub: "admin".into(), iat: 1, exp: 4102444800 };
        let ours = sign(&key, &c).unwrap();
        assert_eq!(ours, JSONWEBTOKEN_ISSUED);
        assert_eq!(verify::<Full>(&key, JSONWEBTOKEN_ISSUED), Some(c));
    }

    const JSONWEBTOKEN_ISSUED: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJhYmMiLCJzdWIiOiJhZG1pbiIsImlhdCI6MSwiZXhwIjo0MTAyNDQ0ODAwfQ.LzD97zNGtkbCplbH0Qz5umOKc3H15DXSGa1-j0U4PCI";
}
