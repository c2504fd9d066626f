//! Errors as responses: RFC 9457 problem JSON under `/api/`, a Chinese page elsewhere.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;
use xinjian_app::AppError;

/// An error on its way to the client.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<String>,
    /// Render as problem JSON (API) rather than a page.
    pub api: bool,
    pub redirect: Option<String>,
}

impl WebError {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        WebError {
            status,
            title,
            detail: detail.into(),
            field: None,
            api: false,
            redirect: None,
        }
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "internal error");
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "内部错误",
            "服务器内部错误，请稍后重试或联系管理员",
        )
    }
    /// The store was too busy to answer in time (a long import or evaluation holding it): 503
    /// with `Retry-After`, not an internal error; nothing was written.
    pub fn busy(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::warn!(%detail, "store busy");
        WebError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "系统繁忙",
            "数据库正忙（可能有大批量导入、信用评价或定时任务正在进行），本次操作未执行，请稍后重试",
        )
    }
    pub fn unauthenticated(detail: &str) -> Self {
        WebError::new(StatusCode::UNAUTHORIZED, "未登录", detail)
    }
    pub fn forbidden() -> Self {
        WebError::new(StatusCode::FORBIDDEN, "无权访问", "当前账号无权执行此操作")
    }
    pub fn not_found(what: &str) -> Self {
        WebError::new(StatusCode::NOT_FOUND, "未找到", format!("{what}不存在"))
    }
    pub fn bad_request(field: &str, detail: impl Into<String>) -> Self {
        WebError {
            field: Some(field.to_owned()),
            ..WebError::new(StatusCode::BAD_REQUEST, "请求有误", detail)
        }
    }
    /// An upload over [`crate::MAX_UPLOAD_BYTES`].
    pub fn too_large() -> Self {
        WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "文件过大",
            format!(
                "上传内容超过 {} MB；大文件请拆分，或由管理员在服务器上使用命令行导入",
                crate::MAX_UPLOAD_BYTES / 1024 / 1024
            ),
        )
    }

    pub fn redirect_login(next: &str) -> Self {
        let mut e = WebError::new(StatusCode::SEE_OTHER, "请先登录", "请先登录");
        e.redirect = Some(format!("/login?next={}", urlencode(next)));
        e
    }
    /// Mark as an API error (problem JSON).
    pub fn api(mut self, api: bool) -> Self {
        self.api = api;
        self
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid { field, reason } => WebError {
                field: Some(field.clone()),
                ..WebError::new(
                    StatusCode::BAD_REQUEST,
                    "输入有误",
                    format!("{field}：{reason}"),
                )
            },
            AppError::Unauthenticated => WebError::unauthenticated("请先登录"),
            AppError::Forbidden => WebError::forbidden(),
            AppError::NotFound(what) => WebError::not_found(&what),
            AppError::Conflict(m) => WebError::new(StatusCode::CONFLICT, "冲突", m),
            AppError::Locked(until) => WebError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "账号已锁定",
                format!("登录失败次数过多，账号已锁定至 {until}"),
            ),
            AppError::Unprocessable(m) => {
                WebError::new(StatusCode::UNPROCESSABLE_ENTITY, "无法处理", m)
            }
            AppError::Store(e) if e.is_busy() => WebError::busy(e.to_string()),
            AppError::Store(e) => WebError::internal(e.to_string()),
            AppError::Internal(m) => WebError::internal(m),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut resp = self.response();
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

impl WebError {
    fn response(self) -> Response {
        if let Some(to) = &self.redirect {
            return Redirect::to(to).into_response();
        }
        if self.api {
            let mut body = json!({
                "type": "about:blank",
                "title": self.title,
                "status": self.status.as_u16(),
                "detail": self.detail,
            });
            if let Some(f) = &self.field {
                body["field"] = json!(f);
            }
            let mut resp = (self.status, body.to_string()).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            return resp;
        }
        let page = format!(
            "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <title>{title} - 信监</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main class=\"narrow\">\
             <div class=\"card error-card\"><h1>{title}</h1><p>{detail}</p><p><a href=\"/\">公示门户首页</a> · <a href=\"/workspace\">工作台</a></p></div></main></body></html>",
            title = html_escape(self.title),
            detail = html_escape(&self.detail)
        );
        (self.status, Html(page)).into_response()
    }
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The fallback for unknown paths.
pub async fn not_found(req: Request) -> WebError {
    WebError::not_found("页面").api(req.uri().path().starts_with("/api/"))
}

/// Security headers on every response; a 413 from the body limit gets a Chinese message.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        resp = WebError::too_large().api(is_api).into_response();
    }
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use xinjian_store::{Db, StoreError};

    /// A real one: another connection holds SQLite's write lock and this one does not wait.
    fn busy_error(dir: &std::path::Path) -> StoreError {
        let db = Db::open(&format!("sqlite:{}", dir.join("x.db").display())).unwrap();
        let mut holder = db.connect().unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut other = db.connect().unwrap();
        other.execute_batch("PRAGMA busy_timeout = 0").unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap_err()
    }

    #[test]
    fn a_busy_store_is_a_503_to_retry_not_an_internal_error() {
        let dir = tempfile::tempdir().unwrap();
        for api in [false, true] {
            let busy = busy_error(dir.path());
            assert!(busy.is_busy(), "{busy}");
            let resp = WebError::from(AppError::Store(busy))
                .api(api)
                .into_response();
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
        }
        let other = StoreError::Damaged("x".into());
        let resp = WebError::from(AppError::Store(other)).into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(resp.headers().get(header::RETRY_AFTER).is_none());
    }
}
