//! The audit log's hash chain (DOMAIN §12): each entry's hash covers the previous entry's hash
//! and the entry's canonical bytes, so that changing, deleting, inserting or reordering any
//! entry breaks the chain at that entry.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry as stored (without its hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain, starting at 1, without gaps.
    pub seq: i64,
    /// RFC 3339 UTC timestamp.
    pub at: String,
    /// Who: `user:NAME`, `token:NAME`, `system`, `public`.
    pub actor: String,
    pub role: String,
    /// What: `subject.import`, `user.create`, `personal_data.read`, …
    pub action: String,
    /// On what: `subject:CODE`, `user:NAME`, `import:ID`, …
    pub target: String,
    /// Details as compact JSON.
    pub detail: String,
}

impl AuditEntry {
    /// Canonical bytes: every field length-prefixed, so no two entries share an encoding.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.detail.len());
        for field in [
            &self.seq.to_string(),
            &self.at,
            &self.actor,
            &self.role,
            &self.action,
            &self.target,
            &self.detail,
        ] {
            out.extend_from_slice(field.len().to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(field.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// `hex(SHA-256(prev_hash ‖ canonical bytes))`.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(self.canonical_bytes());
        hex::encode(h.finalize())
    }
}

/// What is wrong at the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainFault {
    /// An entry with this sequence number is missing (deleted), or the numbering jumps.
    Missing { expected: i64, found: i64 },
    /// The stored `prev_hash` is not the previous entry's hash (entry inserted, removed or moved).
    PrevMismatch,
    /// The entry's content does not match its hash (modified).
    HashMismatch,
    /// The chain is shorter than its recorded head (entries removed at the end).
    Truncated { head: i64, last: i64 },
    /// Entries exist but the head record is gone (it is written with the first entry).
    HeadMissing,
}

impl std::fmt::Display for ChainFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainFault::Missing { expected, found } => {
                write!(f, "entry {expected} is missing (next entry present is {found})")
            }
            ChainFault::PrevMismatch => f.write_str("previous-hash link does not match the preceding entry (inserted, deleted or reordered)"),
            ChainFault::HashMismatch => f.write_str("content does not match its hash (modified)"),
            ChainFault::HeadMissing => f.write_str("the chain head record is missing (entries may have been removed at the end)"),
            ChainFault::Truncated { head, last } => {
                write!(f, "chain ends at entry {last} but its head records entry {head} (entries removed at the end)")
            }
        }
    }
}

/// Incremental verifier: feed entries in `seq` order.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainVerifier {
    /// Check one entry; on failure returns the sequence number to report and the fault.
    pub fn check(
        &mut self,
        entry: &AuditEntry,
        prev_hash: &str,
        hash: &str,
    ) -> Result<(), (i64, ChainFault)> {
        if entry.seq != self.expected_seq {
            return Err((
                self.expected_seq,
                ChainFault::Missing {
                    expected: self.expected_seq,
                    found: entry.seq,
                },
            ));
        }
        if prev_hash != self.prev_hash {
            return Err((entry.seq, ChainFault::PrevMismatch));
        }
        if entry.hash(prev_hash) != hash {
            return Err((entry.seq, ChainFault::HashMismatch));
        }
        self.expected_seq += 1;
        self.prev_hash = hash.to_owned();
        Ok(())
    }

    /// Number of entries verified so far.
    pub fn count(&self) -> i64 {
        self.expected_seq - 1
    }

    /// Hash of the last verified entry (the chain head), for anchoring outside the database.
    pub fn head_hash(&self) -> &str {
        &self.prev_hash
    }

    /// Compare with the recorded head (seq, hash) after the last entry.
    pub fn finish(&self, head: Option<(i64, &str)>) -> Result<(), (i64, ChainFault)> {
        if head.is_none() && self.count() > 0 {
            return Err((self.count() + 1, ChainFault::HeadMissing));
        }
        if let Some((seq, hash)) = head {
            let last = self.count();
            if seq > last {
                return Err((last + 1, ChainFault::Truncated { head: seq, last }));
            }
            if seq == last && hash != self.prev_hash {
                return Err((seq, ChainFault::HashMismatch));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditEntry, String, String)> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let e = AuditEntry {
                    seq,
                    at: "2026-01-01T00:00:00Z".into(),
                    actor: "user:a".into(),
                    role: "admin".into(),
                    action: "x".into(),
                    target: format!("t:{seq}"),
                    detail: "{}".into(),
                };
                let h = e.hash(&prev);
                let out = (e, prev.clone(), h.clone());
                prev = h;
                out
            })
            .collect()
    }

    fn verify(c: &[(AuditEntry, String, String)]) -> Result<i64, (i64, ChainFault)> {
        let mut v = ChainVerifier::default();
        for (e, p, h) in c {
            v.check(e, p, h)?;
        }
        Ok(v.count())
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
    }

    #[test]
    fn modification_is_found_at_the_entry() {
        let mut c = chain(5);
        c[2].0.target = "t:x".into();
        assert_eq!(verify(&c), Err((3, ChainFault::HashMismatch)));
    }

    #[test]
    fn deletion_is_found() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(&c).unwrap_err().0, 2);
    }

    #[test]
    fn reordering_is_found() {
        let mut c = chain(5);
        let (a, b) = (c[1].0.clone(), c[2].0.clone());
        c[1].0 = AuditEntry { seq: 2, ..b };
        c[2].0 = AuditEntry { seq: 3, ..a };
        assert_eq!(verify(&c).unwrap_err().0, 2);
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let e1 = AuditEntry {
            seq: 1,
            at: "a".into(),
            actor: "bc".into(),
            role: String::new(),
            action: String::new(),
            target: String::new(),
            detail: String::new(),
        };
        let e2 = AuditEntry {
            actor: "b".into(),
            at: "ac".into(),
            ..e1.clone()
        };
        assert_ne!(e1.canonical_bytes(), e2.canonical_bytes());
    }
}
