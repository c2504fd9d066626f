//! The working-day calendar: built-in years plus years loaded by administrators.

use serde_json::json;
use xinjian_core::calendar::WorkdayCalendar;
use xinjian_core::role::Permission;
use xinjian_store::{audit, calendar as store};

use crate::{now, Actor, App, AppError, Result};

impl App {
    /// Re-read administrator-loaded years from the database over the built-in ones.
    pub fn reload_calendar(&self) -> Result<()> {
        let mut cal = WorkdayCalendar::builtin();
        let mut conn = self.db.conn()?;
        for (year, json) in store::years(&mut conn)? {
            cal.load_json(&json).map_err(|e| {
                AppError::Internal(format!("数据库中 {year} 年的日历数据无效：{e}"))
            })?;
        }
        self.set_calendar(cal);
        Ok(())
    }

    /// Load one or more years from a file in the format of `cn-workday-calendar.json`
    /// (the State Council's annual notice, transcribed). Replaces those years.
    pub fn load_calendar_years(&self, actor: &Actor, json_text: &str) -> Result<Vec<i32>> {
        actor.require(Permission::CalendarAdmin)?;
        // Validate on a scratch calendar first: nothing is stored unless the whole file is good.
        let mut scratch = WorkdayCalendar::new();
        let years = scratch
            .load_json(json_text)
            .map_err(|e| AppError::invalid("日历文件", e.to_string()))?;
        if years.is_empty() {
            return Err(AppError::invalid("日历文件", "文件中没有任何年度数据"));
        }
        let now = now();
        let mut conn = self.db.conn()?;
        conn.transaction(|tx| {
            for y in &years {
                let one = scratch
                    .to_json_year(*y)
                    .ok_or_else(|| AppError::Internal("year serialisation".into()))?;
                store::upsert(tx, *y as i64, &one, &actor.name(), &now)?;
            }
            audit::append(
                tx,
                &actor.audit(),
                "calendar.load",
                "calendar",
                &json!({ "years": years }),
            )?;
            Ok::<_, AppError>(())
        })?;
        self.reload_calendar()?;
        // Publication deadlines depend on the calendar: compute those the new years decide.
        self.recompute_deadlines(&years)?;
        Ok(years)
    }
}
