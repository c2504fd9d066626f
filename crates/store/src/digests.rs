//! Grading digests: each subject's grading facts — its negative records and its business-
//! licence revocations, with exactly what the evaluation reads of them — in one stored value
//! (`grading_digests`, migration 0008), kept by the writers of credit records in the same
//! transaction as the records themselves.
//!
//! Why: a full evaluation reads the facts of the whole jurisdiction. Read as records (or as
//! index entries) that is one database row per record — ~6,000,000 in the 10 M-record
//! benchmark; read as digests it is one row per subject with facts (333,333), decoded here
//! without copying.
//!
//! The digests are derived data: `credit_records` stays the truth. [`rebuild`] makes every
//! digest from the records again (the migration does it for an existing database); the
//! storage tests check that every writer leaves the digests equal to a rebuild. A single
//! subject's grade (its page, the API, `xinjian grade`) is evaluated from its records.
//!
//! The format (version [`FORMAT`]): one format byte, the number of facts (4 bytes,
//! little-endian; so that a digest cut short is noticed), then the facts in (decision date,
//! document number) order — a subject's document numbers are unique —, each as
//!
//! | bytes | content |
//! |---|---|
//! | 4 | decision date, days from 0001-01-01 (`num_days_from_ce`), little-endian |
//! | 1 | flags: bits 0–1 severity (0 none, 1 minor, 2 general, 3 serious), bit 2 revokes the business licence, bit 3 has an end |
//! | 4 | end (`ended_on`), if bit 3 |
//! | 2 + n | kind code, its length first (little-endian) |
//! | 2 + n | document number, its length first (little-endian) |

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use xinjian_core::credit::Severity;

use crate::grading::{FactRecord, FactRef};
use crate::{params, Conn, Result, StoreError, Value};

/// The digest format this build writes and reads (1 had one-byte kind lengths).
pub const FORMAT: u8 = 2;

/// Whether a record is a grading fact (it goes into its subject's digest): negative, or it
/// revokes the business licence. The same condition as [`FACT_SQL`].
pub fn is_fact(nature: &str, revokes_business_licence: bool) -> bool {
    nature == "negative" || revokes_business_licence
}

/// [`is_fact`] in SQL, over `credit_records r`.
pub const FACT_SQL: &str = "(r.nature = 'negative' OR r.revokes_business_licence = 1)";

/// Whether a fact can matter to an evaluation as of `t` that reads from `since`: decided in
/// `(since, t]`, or a revocation decided on or before `t` (what `grading::REACH_SQL` selects of
/// the records).
pub fn in_reach(f: &FactRef<'_>, since: NaiveDate, t: NaiveDate) -> bool {
    f.decision_date <= t && (f.decision_date > since || f.revokes_business_licence)
}

fn damaged(subject_id: i64, what: &str) -> StoreError {
    StoreError::Damaged(format!(
        "主体 {subject_id} 的评价事实摘要（grading digest）不可读（{what}）；\
         请执行 `xinjian migrate --rebuild-digests` 按信用记录重建"
    ))
}

/// Encode a subject's facts (sorted here, so that the same facts give the same bytes).
pub fn encode(facts: &mut [FactRef<'_>]) -> Result<Vec<u8>> {
    facts.sort_unstable_by(|a, b| {
        (a.decision_date, a.document_number).cmp(&(b.decision_date, b.document_number))
    });
    let mut out = Vec::with_capacity(5 + facts.len() * 24);
    out.push(FORMAT);
    let count = u32::try_from(facts.len())
        .map_err(|_| StoreError::Migration("too many facts for one digest".into()))?;
    out.extend_from_slice(&count.to_le_bytes());
    for f in facts.iter() {
        out.extend_from_slice(&f.decision_date.num_days_from_ce().to_le_bytes());
        let sev = match f.severity {
            None => 0u8,
            Some(Severity::Minor) => 1,
            Some(Severity::General) => 2,
            Some(Severity::Serious) => 3,
        };
        let flags = sev
            | (u8::from(f.revokes_business_licence) << 2)
            | (u8::from(f.ended_on.is_some()) << 3);
        out.push(flags);
        if let Some(e) = f.ended_on {
            out.extend_from_slice(&e.num_days_from_ce().to_le_bytes());
        }
        let kind = u16::try_from(f.kind.len())
            .map_err(|_| StoreError::Migration(format!("kind code too long: {}", f.kind)))?;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(f.kind.as_bytes());
        let doc = u16::try_from(f.document_number.len()).map_err(|_| {
            StoreError::Migration(format!("document number too long: {}", f.document_number))
        })?;
        out.extend_from_slice(&doc.to_le_bytes());
        out.extend_from_slice(f.document_number.as_bytes());
    }
    Ok(out)
}

/// Decode a subject's digest, handing each fact (borrowed from `bytes`) to `f` in order.
pub fn decode<'a, E: From<StoreError>>(
    subject_id: i64,
    bytes: &'a [u8],
    mut f: impl FnMut(FactRef<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let bad = |what: &str| E::from(damaged(subject_id, what));
    let (&format, mut rest) = bytes.split_first().ok_or_else(|| bad("空"))?;
    if format != FORMAT {
        return Err(bad("未知格式"));
    }
    let Some((count, facts)) = rest.split_first_chunk::<4>() else {
        return Err(bad("不完整"));
    };
    let mut left = u32::from_le_bytes(*count);
    rest = facts;
    fn take<'b>(rest: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
        if rest.len() < n {
            return None;
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Some(head)
    }
    let day = |b: &[u8]| {
        NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let text = |b: &'a [u8]| std::str::from_utf8(b).ok();
    while left > 0 {
        left -= 1;
        let cut = || bad("不完整");
        let decision_date = day(take(&mut rest, 4).ok_or_else(cut)?).ok_or_else(|| bad("日期"))?;
        let flags = take(&mut rest, 1).ok_or_else(cut)?[0];
        if flags >> 4 != 0 {
            return Err(bad("标志位"));
        }
        let ended_on = if flags & 8 != 0 {
            Some(day(take(&mut rest, 4).ok_or_else(cut)?).ok_or_else(|| bad("日期"))?)
        } else {
            None
        };
        let n = take(&mut rest, 2).ok_or_else(cut)?;
        let n = usize::from(u16::from_le_bytes([n[0], n[1]]));
        let kind = text(take(&mut rest, n).ok_or_else(cut)?).ok_or_else(|| bad("记录种类"))?;
        let n = take(&mut rest, 2).ok_or_else(cut)?;
        let n = usize::from(u16::from_le_bytes([n[0], n[1]]));
        let document_number =
            text(take(&mut rest, n).ok_or_else(cut)?).ok_or_else(|| bad("文号"))?;
        f(FactRef {
            subject_id,
            kind,
            document_number,
            decision_date,
            severity: match flags & 3 {
                0 => None,
                1 => Some(Severity::Minor),
                2 => Some(Severity::General),
                _ => Some(Severity::Serious),
            },
            revokes_business_licence: flags & 4 != 0,
            ended_on,
        })?;
    }
    if !rest.is_empty() {
        return Err(bad("末尾有多余字节"));
    }
    Ok(())
}

/// PostgreSQL: the digest work of a transaction, done by [`flush`] just before it commits
/// (`Conn::transaction`). A writer that read, merged and wrote a subject's digest at once would
/// have to lock it mid-transaction, and two transactions touching the same subjects in different
/// orders (an import chunk's updates in file order, then its inserts) would deadlock; at commit
/// each transaction locks all its subjects in one ascending sequence. A savepoint rolled back
/// drops the work done under it.
#[derive(Default)]
pub(crate) struct Pending {
    /// Subjects whose digest is made again from their records.
    refresh: Vec<i64>,
    /// Facts of new records, merged into their subjects' digests.
    added: Vec<FactRecord>,
}

impl Pending {
    pub(crate) fn mark(&self) -> (usize, usize) {
        (self.refresh.len(), self.added.len())
    }

    pub(crate) fn truncate(&mut self, (refresh, added): (usize, usize)) {
        self.refresh.truncate(refresh);
        self.added.truncate(added);
    }
}

/// Whether digest work waits for the end of the transaction: on PostgreSQL inside one. SQLite
/// has one writer at a time and does it at once.
fn deferred(conn: &Conn) -> bool {
    conn.backend() == crate::Backend::Postgres && conn.in_transaction()
}

/// Do a transaction's pending digest work (PostgreSQL; called by `Conn::transaction` before
/// `COMMIT`): lock every subject in ascending order, make the digests of the refreshed ones
/// again from their records (which include the transaction's new records), merge the new facts
/// into the others.
pub(crate) fn flush(conn: &mut Conn, pending: Pending) -> Result<()> {
    let Pending { mut refresh, added } = pending;
    if refresh.is_empty() && added.is_empty() {
        return Ok(());
    }
    refresh.sort_unstable();
    refresh.dedup();
    let mut all: Vec<i64> = refresh.clone();
    all.extend(added.iter().map(|f| f.subject_id));
    lock(conn, &all)?;
    let merged: Vec<FactRef<'_>> = added
        .iter()
        .filter(|f| refresh.binary_search(&f.subject_id).is_err())
        .map(FactRecord::as_ref)
        .collect();
    merge_new(conn, &merged)?;
    recompute(conn, &refresh)
}

/// The class of PostgreSQL advisory locks that serialise writers of the same digests (the key
/// of the two-key form; the subject id, folded into 31 bits, is the other).
const DIGEST_LOCK_CLASS: i32 = 0x6467; // "dg"

/// On PostgreSQL, wait for the other transactions writing the digests of these subjects: a
/// digest is read, merged and written back, and two transactions doing that at once would each
/// write a digest without the other's facts. Called once per transaction ([`flush`]), with
/// the keys in ascending numeric order, so two writers never wait for each other in a circle.
/// SQLite has one writer at a time.
fn lock(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    if conn.backend() != crate::Backend::Postgres || ids.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<i64> = ids
        .iter()
        .map(|id| id.rem_euclid(i64::from(i32::MAX)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    for chunk in keys.chunks(1000) {
        let marks = vec!["(CAST(? AS BIGINT))"; chunk.len()].join(",");
        let mut ps = vec![Value::from(i64::from(DIGEST_LOCK_CLASS))];
        ps.extend(chunk.iter().map(|k| Value::from(*k)));
        conn.query(
            &format!(
                "SELECT pg_advisory_xact_lock(CAST(? AS INTEGER), CAST(k AS INTEGER)) \
                 FROM (VALUES {marks}) AS v(k) ORDER BY k"
            ),
            &ps,
        )?;
    }
    Ok(())
}

/// The stored digests of these subjects.
fn load(conn: &mut Conn, ids: &[i64]) -> Result<HashMap<i64, Vec<u8>>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(conn.ids_per_statement()) {
        let (among, ps) = conn.ids_in("subject_id", chunk);
        for r in conn.query(
            &format!("SELECT subject_id, facts FROM grading_digests WHERE {among}"),
            &ps,
        )? {
            out.insert(r.get::<i64>(0)?, r.get::<Vec<u8>>(1)?);
        }
    }
    Ok(out)
}

/// Store these digests (insert or replace), many a statement.
fn put(conn: &mut Conn, rows: &[(i64, Vec<u8>)]) -> Result<()> {
    for chunk in rows.chunks(400) {
        let sql = format!(
            "INSERT INTO grading_digests (subject_id, facts) VALUES {} \
             ON CONFLICT (subject_id) DO UPDATE SET facts = excluded.facts",
            vec!["(?, ?)"; chunk.len()].join(", ")
        );
        let mut ps = Vec::with_capacity(chunk.len() * 2);
        for (id, bytes) in chunk {
            ps.push(Value::from(*id));
            ps.push(Value::Blob(bytes.clone()));
        }
        conn.execute(&sql, &ps)?;
    }
    Ok(())
}

/// Add the facts of new records (not yet in any digest) to their subjects' digests. The bulk
/// path of imports: one read and one write per subject, not a re-read of its records. On
/// PostgreSQL call it inside [`Conn::transaction`] (the work then waits for the commit);
/// outside one it locks and writes at once.
pub(crate) fn add(conn: &mut Conn, new: &[FactRef<'_>]) -> Result<()> {
    if deferred(conn) {
        conn.digests.added.extend(new.iter().map(|f| FactRecord {
            subject_id: f.subject_id,
            record: f.to_record(),
        }));
        return Ok(());
    }
    let ids: Vec<i64> = new.iter().map(|f| f.subject_id).collect();
    lock(conn, &ids)?;
    merge_new(conn, new)
}

fn merge_new(conn: &mut Conn, new: &[FactRef<'_>]) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let mut by_subject: BTreeMap<i64, Vec<FactRef<'_>>> = BTreeMap::new();
    for f in new {
        by_subject.entry(f.subject_id).or_default().push(*f);
    }
    let ids: Vec<i64> = by_subject.keys().copied().collect();
    let stored = load(conn, &ids)?;
    let mut rows = Vec::with_capacity(by_subject.len());
    for (id, mut facts) in by_subject {
        if let Some(bytes) = stored.get(&id) {
            decode(id, bytes, |f| {
                facts.push(f);
                Ok::<(), StoreError>(())
            })?;
        }
        rows.push((id, encode(&mut facts)?));
    }
    put(conn, &rows)
}

/// Make the digests of these subjects again from their records (after a record changed).
pub(crate) fn refresh(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    if deferred(conn) {
        conn.digests.refresh.extend_from_slice(ids);
        return Ok(());
    }
    lock(conn, ids)?;
    recompute(conn, ids)
}

fn recompute(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let ps: Vec<Value> = chunk.iter().map(|c| Value::from(*c)).collect();
        let facts =
            crate::grading::all_facts_where(conn, &format!("r.subject_id IN ({marks})"), &ps)?;
        write_grouped(conn, chunk, &facts)?;
    }
    Ok(())
}

/// Make the digest of the subject of this record again.
pub(crate) fn refresh_of_record(conn: &mut Conn, record_id: i64) -> Result<()> {
    let id: Option<i64> = conn
        .query_opt(
            "SELECT subject_id FROM credit_records WHERE id = ?",
            &params![record_id],
        )?
        .map(|r| r.get(0))
        .transpose()?;
    match id {
        Some(id) => refresh(conn, &[id]),
        None => Ok(()),
    }
}

/// The digest of each subject of `facts` (in subject order).
fn encode_by_subject(facts: &[FactRecord]) -> Result<Vec<(i64, Vec<u8>)>> {
    facts
        .chunk_by(|a, b| a.subject_id == b.subject_id)
        .map(|group| {
            let mut refs: Vec<FactRef<'_>> = group.iter().map(FactRecord::as_ref).collect();
            Ok((group[0].subject_id, encode(&mut refs)?))
        })
        .collect()
}

/// Store the digests of `ids` from their facts (in subject order); subjects without facts lose
/// their digest.
fn write_grouped(conn: &mut Conn, ids: &[i64], facts: &[FactRecord]) -> Result<()> {
    let rows = encode_by_subject(facts)?;
    let empty: Vec<Value> = ids
        .iter()
        .filter(|id| !rows.iter().any(|(r, _)| r == *id))
        .map(|id| Value::from(*id))
        .collect();
    if !empty.is_empty() {
        let marks = vec!["?"; empty.len()].join(",");
        conn.execute(
            &format!("DELETE FROM grading_digests WHERE subject_id IN ({marks})"),
            &empty,
        )?;
    }
    put(conn, &rows)
}

/// Make every digest again from the records (the migration that introduced them; after a
/// restore or a hand edit of `credit_records`). Reads the records by ranges of subjects, so
/// memory stays bounded. Returns the number of digests written.
pub fn rebuild(conn: &mut Conn) -> Result<u64> {
    if conn.backend() == crate::Backend::Postgres {
        // No record may change until this transaction ends: a writer's digest work between the
        // delete and the read of its subject would be lost or undone; and one rebuild at a time
        // (the mode conflicts with itself). Writers wait from the moment this is requested.
        // (SQLite: one writer.)
        conn.execute("LOCK TABLE credit_records IN SHARE ROW EXCLUSIVE MODE", &[])?;
    }
    conn.execute("DELETE FROM grading_digests", &[])?;
    let max: i64 = conn
        .query_row(
            "SELECT COALESCE(max(subject_id), 0) FROM credit_records",
            &[],
        )?
        .get(0)?;
    let mut written = 0u64;
    let step = 20_000i64;
    let mut from = 0i64;
    while from < max {
        let facts = crate::grading::all_facts_where(
            conn,
            "r.subject_id > ? AND r.subject_id <= ?",
            &params![from, from + step],
        )?;
        let rows = encode_by_subject(&facts)?;
        written += rows.len() as u64;
        put(conn, &rows)?;
        from += step;
    }
    // Digest work this transaction left for its commit is covered: the rebuild read its records.
    conn.digests = Pending::default();
    Ok(written)
}

/// Visit the facts within reach of an evaluation as of `t` (see [`in_reach`]) of every subject
/// with a digest, in ascending subject order (a subject's facts together).
pub fn each_fact<E: From<StoreError>>(
    conn: &mut Conn,
    since: NaiveDate,
    t: NaiveDate,
    mut f: impl FnMut(FactRef<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let sql = "SELECT subject_id, facts FROM grading_digests ORDER BY subject_id";
    if let Some(c) = conn.as_sqlite() {
        // Read straight from the statement: the digest is decoded where SQLite holds it.
        let mut st = c.prepare(sql).map_err(StoreError::from)?;
        let mut rows = st.query([]).map_err(StoreError::from)?;
        while let Some(r) = rows.next().map_err(StoreError::from)? {
            let id: i64 = r.get(0).map_err(StoreError::from)?;
            let bytes = r
                .get_ref(1)
                .map_err(StoreError::from)?
                .as_blob()
                .map_err(|e| StoreError::from(rusqlite::Error::from(e)))?;
            decode(id, bytes, |fact| {
                if in_reach(&fact, since, t) {
                    f(fact)?;
                }
                Ok::<(), E>(())
            })?;
        }
        return Ok(());
    }
    conn.query_each(sql, &[], |r| {
        let id: i64 = r.get(0)?;
        let bytes: Vec<u8> = r.get(1)?;
        decode(id, &bytes, |fact| {
            if in_reach(&fact, since, t) {
                f(fact)?;
            }
            Ok::<(), E>(())
        })
    })
}

/// The facts within reach of an evaluation as of `t` of these subjects, from their digests.
pub fn facts_of(
    conn: &mut Conn,
    ids: &[i64],
    since: NaiveDate,
    t: NaiveDate,
) -> Result<Vec<FactRecord>> {
    let stored = match conn.backend() {
        // Most subjects have no digest, and looking one up reads a page of the table (~8
        // digests a page) even when there is none: first which of them have one, from the
        // narrow index of migration 0013 (~340 a page), then only those digests. (1 M
        // subjects, 1 % changed: ~3,900 pages read instead of ~8,900.)
        crate::Backend::Sqlite => {
            let mut present = Vec::new();
            for chunk in ids.chunks(conn.ids_per_statement()) {
                let (among, ps) = conn.ids_in("subject_id", chunk);
                conn.query_each(
                    &format!(
                        "SELECT subject_id FROM grading_digests INDEXED BY grading_digests_subjects WHERE {among}"
                    ),
                    &ps,
                    |r| {
                        present.push(r.get::<i64>(0)?);
                        Ok::<(), StoreError>(())
                    },
                )?;
            }
            load(conn, &present)?
        }
        // Its primary key is an index apart from the rows already.
        crate::Backend::Postgres => load(conn, ids)?,
    };
    let mut out = Vec::new();
    for (id, bytes) in &stored {
        decode(*id, bytes, |fact| {
            if in_reach(&fact, since, t) {
                out.push(FactRecord {
                    subject_id: *id,
                    record: fact.to_record(),
                });
            }
            Ok::<(), StoreError>(())
        })?;
    }
    Ok(out)
}

/// Every digest as facts, in subject order — for the tests that compare the digests with a
/// rebuild.
pub fn all(conn: &mut Conn) -> Result<Vec<FactRecord>> {
    let mut out = Vec::new();
    conn.query_each(
        "SELECT subject_id, facts FROM grading_digests ORDER BY subject_id",
        &[],
        |r| {
            let id: i64 = r.get(0)?;
            let bytes: Vec<u8> = r.get(1)?;
            decode(id, &bytes, |fact| {
                out.push(FactRecord {
                    subject_id: id,
                    record: fact.to_record(),
                });
                Ok::<(), StoreError>(())
            })
        },
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_digest_decodes_to_its_facts_in_order_and_damage_is_reported() {
        let mut facts = vec![
            FactRef {
                subject_id: 7,
                kind: "penalty",
                document_number: "利财罚〔2024〕2号",
                decision_date: d("2024-03-05"),
                severity: Some(Severity::Serious),
                revokes_business_licence: true,
                ended_on: Some(d("2024-05-01")),
            },
            FactRef {
                subject_id: 7,
                kind: "tax_arrears",
                document_number: "A",
                decision_date: d("2020-02-29"),
                severity: None,
                revokes_business_licence: false,
                ended_on: None,
            },
            FactRef {
                subject_id: 7,
                kind: "penalty",
                document_number: "利财罚〔2024〕1号",
                decision_date: d("2024-03-05"),
                severity: Some(Severity::Minor),
                revokes_business_licence: false,
                ended_on: None,
            },
        ];
        let bytes = encode(&mut facts).unwrap();
        let mut back = Vec::new();
        decode(7, &bytes, |f| {
            back.push(f);
            Ok::<(), StoreError>(())
        })
        .unwrap();
        let key = |f: &FactRef<'_>| {
            (
                f.kind.to_owned(),
                f.document_number.to_owned(),
                f.decision_date,
                f.severity,
                f.revokes_business_licence,
                f.ended_on,
            )
        };
        let docs: Vec<&str> = back.iter().map(|f| f.document_number).collect();
        assert_eq!(docs, ["A", "利财罚〔2024〕1号", "利财罚〔2024〕2号"]);
        assert_eq!(
            back.iter().map(key).collect::<Vec<_>>(),
            facts.iter().map(key).collect::<Vec<_>>()
        );
        // Any cut, and anything after the last fact, is reported as damage — never read as
        // fewer facts.
        for n in 0..bytes.len() {
            assert!(
                decode(7, &bytes[..n], |_| Ok::<(), StoreError>(())).is_err(),
                "cut at {n}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(7, &longer, |_| Ok::<(), StoreError>(())).is_err());
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert!(decode(7, &other, |_| Ok::<(), StoreError>(())).is_err());
    }
}
