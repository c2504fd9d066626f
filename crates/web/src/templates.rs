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
