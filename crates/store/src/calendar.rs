//! Calendar years loaded by administrators (the built-in years ship with the binary).

use crate::{params, Conn, Result};

/// `(year, json)` of every stored year.
pub fn years(conn: &mut Conn) -> Result<Vec<(i64, String)>> {
    conn.query("SELECT year, data FROM calendar_years ORDER BY year", &[])?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect()
}

pub fn upsert(conn: &mut Conn, year: i64, json: &str, by: &str, now: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO calendar_years (year, data, loaded_by, loaded_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (year) DO UPDATE SET data = excluded.data, loaded_by = excluded.loaded_by, loaded_at = excluded.loaded_at",
        &params![year, json, by, now],
    )?;
    Ok(())
}
