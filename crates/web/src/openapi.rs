//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated from the route table so it
//! cannot drift from what the server routes.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::routes::{Access, ROUTES};

pub fn build() -> Value {
    let mut paths = Map::new();
    for r in ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/") || r.path == "/healthz")
    {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let security = match r.access {
            Access::Public => json!([]),
            _ => json!([{ "session": [] }, { "bearer": [] }]),
        };
        let op = json!({
            "summary": r.summary,
            "parameters": params,
            "security": security,
            "responses": {
                "200": { "description": "成功", "content": { "application/json": {} } },
                "400": { "description": "输入有误（problem+json）" },
                "401": { "description": "未登录" },
                "403": { "description": "无权访问" },
                "404": { "description": "不存在" }
            }
        });
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "信监 Xinjian API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "信用监管平台接口。错误按 RFC 9457 返回 application/problem+json。协同部门使用 Bearer 令牌。" },
        "paths": paths,
        "components": { "securitySchemes": {
            "session": { "type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE },
            "bearer": { "type": "http", "scheme": "bearer" }
        } }
    })
}

pub async fn document() -> Response {
    Json(build()).into_response()
}
