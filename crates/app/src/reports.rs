//! Reports that read much of the store — the workspace's counts, the names of the 重错码
//! report, the grade distribution, the 双公示 report — kept in memory until the data they read
//! changes.
//!
//! Every change to the store is audited in its own transaction, so the last audit entry that
//! can change data ([`audit::data_version`]: logins, accounts and reads excepted) names the
//! state of the data. A report made in one snapshot with that number stays current for as long
//! as the number does not move, whoever changes the store: this process, a CLI import, another
//! server on the same PostgreSQL. On a registry of 1,000,000 subjects the workspace's counts
//! take ~0.8 s and the grade distribution ~3 s; kept, a view takes milliseconds until the next
//! import, record or evaluation.
//!
//! Migrations' data steps that change what these reports read are audited too (the bookkeeping
//! flags of 0016 and 0017), since any CLI command, or another server, migrates the store it
//! opens while a server may be running.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use xinjian_store::{audit, Conn};

use crate::{App, Result};

/// At most this many reports are kept (one per key: a report, a day, a grouping).
const MAX_SLOTS: usize = 32;

#[derive(Default)]
pub(crate) struct ReportCache {
    slots: Mutex<HashMap<String, Slot>>,
    made: AtomicU64,
}

struct Slot {
    version: i64,
    report: Arc<dyn Any + Send + Sync>,
}

impl ReportCache {
    fn get<T: Clone + 'static>(&self, key: &str, version: i64) -> Option<T> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(key).filter(|s| s.version == version)?;
        slot.report.downcast_ref::<T>().cloned()
    }

    fn put<T: Send + Sync + 'static>(&self, key: &str, version: i64, report: T) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // A report made from an older snapshot (a slower request) does not replace a newer one.
        if slots.get(key).is_some_and(|s| s.version > version) {
            return;
        }
        // Reports of older data are not asked for again; and reports asked for many days or
        // groupings of the same data are not all kept.
        slots.retain(|_, s| s.version >= version);
        if slots.len() >= MAX_SLOTS {
            slots.clear();
        }
        slots.insert(
            key.to_owned(),
            Slot {
                version,
                report: Arc::new(report),
            },
        );
    }
}

impl App {
    /// The report `key` of the store as it is now: kept from an earlier call if no data has
    /// changed since, else made by `make` (on one snapshot of the store) and kept. The key names
    /// everything else the report depends on (a day, a grouping). Permissions are checked by the
    /// caller before, and anything a role may not see is removed after.
    pub(crate) fn report<T>(
        &self,
        key: &str,
        make: impl FnOnce(&mut Conn) -> Result<T>,
    ) -> Result<T>
    where
        T: Clone + Send + Sync + 'static,
    {
        self.db.conn()?.read_snapshot(|c| {
            let version = audit::data_version(c)?;
            if let Some(r) = self.reports.get::<T>(key, version) {
                return Ok(r);
            }
            let r = make(c)?;
            self.reports.made.fetch_add(1, Ordering::Relaxed);
            self.reports.put(key, version, r.clone());
            Ok(r)
        })
    }

    /// How many reports this process has made rather than taken from memory (for tests).
    #[doc(hidden)]
    pub fn reports_made(&self) -> u64 {
        self.reports.made.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use xinjian_core::uscc::Uscc;
    use xinjian_store::{audit, subjects};

    use crate::{Actor, App};

    /// One more subject, entered by hand (audited): a copy of the first one under a new code.
    fn add_subject(app: &App, first17: &str) {
        let mut conn = app.db.conn().unwrap();
        let code: String = conn
            .query_row("SELECT code FROM subjects ORDER BY id LIMIT 1", &[])
            .unwrap()
            .get(0)
            .unwrap();
        let mut data = subjects::by_code(&mut conn, &code).unwrap().unwrap().data;
        data.code = Uscc::from_first17(first17).unwrap().as_str().to_owned();
        data.name = format!("{}（分公司）", data.name);
        data.person_id = None;
        app.create_subject(&Actor::System("test".into()), data, "补录")
            .unwrap();
    }

    #[test]
    fn reports_of_older_data_are_dropped_and_at_most_a_few_are_kept() {
        let cache = super::ReportCache::default();
        cache.put("a", 1, 10u32);
        cache.put("b", 1, 20u32);
        assert_eq!(
            (cache.get::<u32>("a", 1), cache.get::<u32>("b", 1)),
            (Some(10), Some(20))
        );
        // Of the wrong type, or asked for another version: not there.
        assert_eq!(cache.get::<u64>("a", 1), None);
        assert_eq!(cache.get::<u32>("a", 2), None);
        // A report of newer data drops those of older data.
        cache.put("c", 2, 30u32);
        assert_eq!(cache.get::<u32>("b", 1), None);
        assert_eq!(cache.slots.lock().unwrap().len(), 1);
        // A slower request's report of older data does not replace a newer one.
        cache.put("c", 1, 31u32);
        assert_eq!(cache.get::<u32>("c", 2), Some(30));
        for n in 0..100u32 {
            cache.put(&format!("day {n}"), 2, n);
        }
        assert!(cache.slots.lock().unwrap().len() <= super::MAX_SLOTS);
        assert_eq!(cache.get::<u32>("day 99", 2), Some(99));
    }

    #[test]
    fn a_report_is_kept_until_the_data_changes_whoever_changes_it() {
        let (dir, app) = crate::test_app_with_registry(40, 3);
        let system = Actor::System("test".into());
        let first = app.registry_stats(&system).unwrap();
        let made = app.reports_made();
        assert_eq!(app.registry_stats(&system).unwrap().total, first.total);
        assert_eq!(app.reports_made(), made, "the second view is kept");

        // A login (or any other entry that changes no data) leaves it current.
        let mut conn = app.db.conn().unwrap();
        conn.transaction(|tx| {
            audit::append(
                tx,
                &system.audit(),
                "user.login",
                "user:1",
                &serde_json::json!({}),
            )
        })
        .unwrap();
        drop(conn);
        assert_eq!(app.registry_stats(&system).unwrap().total, first.total);
        assert_eq!(app.reports_made(), made);

        // A change through this process is seen at once.
        add_subject(&app, "91510800MA0000001");
        assert_eq!(app.registry_stats(&system).unwrap().total, first.total + 1);
        assert_eq!(app.reports_made(), made + 1);

        // So is one through another process on the same store (another `App`, as a CLI import
        // would be).
        let other = App::open(
            &format!("sqlite:{}", dir.path().join("x.db").display()),
            dir.path(),
        )
        .unwrap();
        add_subject(&other, "91510800MA0000002");
        assert_eq!(app.registry_stats(&system).unwrap().total, first.total + 2);
        assert_eq!(app.reports_made(), made + 2);
    }

    #[test]
    fn the_grade_distribution_follows_each_evaluation_run() {
        let (_dir, app) = crate::test_app_with_registry(30, 5);
        let system = Actor::System("test".into());
        let total = |app: &App| -> i64 {
            app.grade_distribution(&system, false)
                .unwrap()
                .iter()
                .map(|r| r.count)
                .sum()
        };
        // No run yet: nothing is evaluated.
        assert_eq!(total(&app), 0);
        assert_eq!(total(&app), 0);
        let made = app.reports_made();
        let run = app
            .evaluate_jurisdiction(&system, None, true, &mut |_, _| {})
            .unwrap();
        assert!(run.evaluated > 0);
        assert_eq!(total(&app), run.evaluated);
        assert_eq!(app.reports_made(), made + 1);
        // The other grouping is a report of its own.
        let by_division: i64 = app
            .grade_distribution(&system, true)
            .unwrap()
            .iter()
            .map(|r| r.count)
            .sum();
        assert_eq!(by_division, run.evaluated);
        assert_eq!(app.reports_made(), made + 2);
    }
}
