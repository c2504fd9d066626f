//! Authentication (session cookie or department API token), CSRF, and the authorisation of
//! every request against the route table.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use xinjian_app::{Actor, UserActor};
use xinjian_core::role::allows;

use crate::error::WebError;
use crate::routes::{self, Access};
use crate::{blocking, AppState};

pub const SESSION_COOKIE: &str = "xj_session";

/// Who is calling, available to every handler as an extension.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    /// The session's CSRF token (for forms); empty for the public and API tokens.
    pub csrf: String,
    /// The raw session token (for logout).
    pub session: Option<String>,
}

impl Ctx {
    pub fn user(&self) -> Option<&UserActor> {
        match &self.actor {
            Actor::User(u) => Some(u),
            _ => None,
        }
    }
}

pub fn cookie_value(req_headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    req_headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

/// Resolve the caller, check the route's access rule and, for cookie sessions, the CSRF token
/// of unsafe methods.
pub async fn authorize(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, WebError> {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let is_api = req.uri().path().starts_with("/api/");
    let wants_html = !is_api;
    let method = req.method().clone();

    // 1. Who.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_owned());
    let session = cookie_value(req.headers(), SESSION_COOKIE);
    let app = state.app.clone();
    let ctx = if let Some(token) = bearer {
        let app2 = app.clone();
        match blocking(move || app2.token_actor(&token)).await? {
            Some(u) => Ctx {
                actor: Actor::User(u),
                csrf: String::new(),
                session: None,
            },
            None => return Err(WebError::unauthenticated("接口令牌无效或已吊销").api(is_api)),
        }
    } else if let Some(token) = session.clone() {
        let app2 = app.clone();
        let t2 = token.clone();
        match blocking(move || app2.session(&t2)).await? {
            Some((u, csrf)) => Ctx {
                actor: Actor::User(u),
                csrf,
                session: Some(token),
            },
            None => Ctx {
                actor: Actor::Public,
                csrf: String::new(),
                session: None,
            },
        }
    } else {
        Ctx {
            actor: Actor::Public,
            csrf: String::new(),
            session: None,
        }
    };

    // 2. May they? Unmatched paths fall through to the 404 fallback.
    if let Some(path) = &path {
        let Some(spec) = routes::find(method.as_str(), path) else {
            // HEAD is answered like GET.
            if method == Method::HEAD && routes::find("GET", path).is_some() {
                return Ok(next.run(with_ctx(req, ctx)).await);
            }
            tracing::error!(%method, %path, "route missing from the route table");
            return Err(WebError::internal("路由未登记权限").api(is_api));
        };
        let allowed = match spec.access {
            Access::Public => true,
            Access::Login => ctx.user().is_some(),
            Access::Any(perms) => ctx
                .user()
                .is_some_and(|u| perms.iter().any(|p| allows(u.role, *p))),
        };
        if !allowed {
            return Err(match ctx.actor {
                Actor::Public => {
                    if wants_html && method == Method::GET {
                        WebError::redirect_login(
                            req.uri()
                                .path_and_query()
                                .map(|p| p.as_str())
                                .unwrap_or("/"),
                        )
                    } else {
                        WebError::unauthenticated("请先登录").api(is_api)
                    }
                }
                _ => WebError::forbidden().api(is_api),
            });
        }
        // 3. CSRF for cookie sessions on unsafe methods (token in header, form field or, for
        // uploads, the query string).
        if ctx.session.is_some()
            && !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
            && spec.path != "/login"
        {
            let (req, ok) = check_csrf(req, &ctx.csrf).await?;
            if !ok {
                return Err(WebError::bad_request(
                    "csrf",
                    "页面已过期或请求来源不可信，请刷新页面后重试",
                )
                .api(is_api));
            }
            return Ok(next.run(with_ctx(req, ctx)).await);
        }
    }
    Ok(next.run(with_ctx(req, ctx)).await)
}

fn with_ctx(mut req: Request, ctx: Ctx) -> Request {
    req.extensions_mut().insert(ctx);
    req
}

async fn check_csrf(req: Request, expected: &str) -> Result<(Request, bool), WebError> {
    if expected.is_empty() {
        return Ok((req, false));
    }
    let eq = |a: &str| constant_time_eq(a.as_bytes(), expected.as_bytes());
    if let Some(h) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        let ok = eq(h);
        return Ok((req, ok));
    }
    if let Some(q) = req.uri().query() {
        if let Some(v) = q.split('&').find_map(|kv| kv.strip_prefix("_csrf=")) {
            let ok = eq(v);
            return Ok((req, ok));
        }
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, false));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .map_err(|_| WebError::bad_request("body", "表单内容过大"))?;
    let ok = form_urlencoded_value(&bytes, "_csrf").is_some_and(|v| eq(&v));
    Ok((Request::from_parts(parts, Body::from(bytes)), ok))
}

fn form_urlencoded_value(body: &[u8], key: &str) -> Option<String> {
    serde_urlencoded_pairs(body)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// `application/x-www-form-urlencoded` pairs (undecodable bodies give none).
pub fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let pairs = serde_urlencoded_pairs(b"a=1&_csrf=ab%2Fc&name=%E5%8D%8E+x");
        assert_eq!(pairs[1], ("_csrf".into(), "ab/c".into()));
        assert_eq!(pairs[2], ("name".into(), "华 x".into()));
    }
}
