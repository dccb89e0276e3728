//! Public ids: the `vps_…`/`bkp_…`/`job_…`/`req_…` form of the reference (a prefix and 26
//! lowercase Crockford base32 digits), how new ones are made and how one is recognised.
//!
//! One room for the alphabet, so the fixture's fixed ids, the ids the simulator hands out and
//! the checks of ids it is given cannot drift apart.

use super::clock::now_ms;

/// Lowercase Crockford base32, the digits of every public id.
pub(crate) const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Lowercase Crockford base32 of `v`, left-padded to `width` digits.
pub(crate) fn base32_fixed(mut v: u128, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = CROCKFORD[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A ULID-like public id: prefix + 10 base32 digits of time + 16 random base32 digits.
pub(crate) fn new_id(prefix: &str) -> String {
    let t = (now_ms().max(0) as u128) & ((1u128 << 50) - 1);
    let r: u128 = rand::random::<u128>() & ((1u128 << 80) - 1);
    format!("{prefix}{}{}", base32_fixed(t, 10), base32_fixed(r, 16))
}

/// Whether `id` is `prefix` + 26 lowercase base32 characters.
pub(crate) fn is_public_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 26 && rest.bytes().all(|b| CROCKFORD.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let id = new_id("req_");
        assert_eq!(id.len(), 30);
        assert!(id[4..]
            .bytes()
            .all(|b| b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b)));
        assert_ne!(new_id("job_"), new_id("job_"));
    }
}
