//! Page templates (minijinja, embedded in the binary, auto-escaped).

use minijinja::Environment;
use serde::Serialize;

use crate::error::WebError;

pub struct Templates {
    env: Environment<'static>,
}

macro_rules! tpl {
    ($env:ident, $($name:literal),+) => {
        $( $env.add_template($name, include_str!(concat!("templates/", $name))).expect(concat!("template ", $name)); )+
    };
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        // Timestamps are stored in UTC; people read China time.
        env.add_filter("local", |v: Option<String>| {
            v.map(|t| xinjian_app::accounts::format_local(&t))
                .unwrap_or_default()
        });
        // Counts as staff read them: 1,000,000.
        env.add_filter("num", |n: i64| grouped(n));
        tpl!(
            env,
            "base.html",
            "portal_home.html",
            "portal_search.html",
            "portal_subject.html",
            "login.html",
            "workspace.html",
            "subjects.html",
            "subject_form.html",
            "subject_detail.html",
            "imports.html",
            "import_detail.html",
            "quality.html",
            "users.html",
            "audit.html",
            "calendar.html",
            "_records_macros.html",
            "_catalog_table.html",
            "portal_records.html",
            "portal_list.html",
            "portal_catalog.html",
            "records.html",
            "record_detail.html",
            "record_form.html",
            "publicity.html",
            "lists.html",
            "catalog.html",
            "export.html",
            "grades.html",
            "_grade.html"
        );
        Templates { env }
    }

    pub fn render(
        &self,
        name: &str,
        ctx: impl Serialize,
    ) -> Result<axum::response::Html<String>, WebError> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| WebError::internal(format!("template {name}: {e}")))?;
        t.render(ctx)
            .map(axum::response::Html)
            .map_err(|e| WebError::internal(format!("template {name}: {e:#}")))
    }
}

/// A count with its thousands grouped by commas (`1234567` → `1,234,567`).
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        for (n, s) in [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1000, "1,000"),
            (214_287, "214,287"),
            (1_000_000, "1,000,000"),
            (-12_345, "-12,345"),
            (i64::MIN, "-9,223,372,036,854,775,808"),
        ] {
            assert_eq!(super::grouped(n), s);
        }
    }
}
