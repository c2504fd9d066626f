//! The route table: every path, its method and who may call it. Authorisation is decided
//! here (with the permission table in `xinjian_core::role`) for every request, before any
//! handler runs; the matrix test in `tests/authz.rs` walks this table with every role.

use xinjian_core::role::Permission;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not (portal, login, health, public API).
    Public,
    /// Any logged-in account.
    Login,
    /// Accounts whose role has any of these permissions.
    Any(&'static [Permission]),
}

#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    /// axum path pattern, e.g. `/subjects/{code}`.
    pub path: &'static str,
    pub access: Access,
    /// What it is, for the OpenAPI document and the docs.
    pub summary: &'static str,
}

use Access::*;
use Permission as P;

const fn r(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        summary,
    }
}

#[rustfmt::skip]
pub const ROUTES: &[RouteSpec] = &[
    r("GET", "/", Public, "公示门户首页"),
    r("GET", "/search", Public, "按名称或代码查询市场主体"),
    r("GET", "/s/{code}", Public, "市场主体公示信息"),
    r("GET", "/healthz", Public, "健康检查"),
    r("GET", "/static/{file}", Public, "静态资源"),
    r("GET", "/api/v1/openapi.json", Public, "OpenAPI 文档"),
    r("GET", "/api/v1/public/search", Public, "公开查询：名称或代码"),
    r("GET", "/api/v1/public/subjects/{code}", Public, "公开查询：主体公示信息、公示中的信用记录与名单"),
    r("GET", "/api/v1/public/catalog", Public, "公共信用信息目录"),
    r("GET", "/public/penalties", Public, "行政处罚公示"),
    r("GET", "/public/licenses", Public, "行政许可公示"),
    r("GET", "/public/lists/{list}", Public, "名单公示"),
    r("GET", "/public/catalog", Public, "公共信用信息目录"),
    r("GET", "/login", Public, "登录页"),
    r("POST", "/login", Public, "登录"),
    r("POST", "/logout", Login, "退出登录"),
    r("GET", "/api/v1/me", Login, "当前账号"),
    r("GET", "/workspace", Any(&[P::Workspace]), "工作台"),
    r("GET", "/subjects", Any(&[P::SubjectRead]), "主体名录"),
    r("POST", "/subjects", Any(&[P::SubjectWrite]), "登记新主体"),
    r("GET", "/subjects/new", Any(&[P::SubjectWrite]), "登记新主体（表单）"),
    r("POST", "/subjects/lookup", Any(&[P::SubjectRead]), "按证件号码查找自然人（号码在表单中提交，查找留痕）"),
    r("GET", "/subjects/{code}", Any(&[P::SubjectRead]), "主体详情与变更历史"),
    r("POST", "/subjects/{code}", Any(&[P::SubjectWrite]), "修改登记信息（生成新版本）"),
    r("GET", "/subjects/{code}/edit", Any(&[P::SubjectWrite]), "修改登记信息（表单）"),
    r("POST", "/subjects/{code}/reveal", Any(&[P::PersonalDataRead]), "查看完整证件号码：法定代表人或自然人（留痕）"),
    r("GET", "/my", Any(&[P::OwnSubjectRead]), "本主体信息（市场主体账号）"),
    r("GET", "/imports", Any(&[P::SubjectImport]), "导入登记信息、行政处罚、行政许可、名单"),
    r("POST", "/imports", Any(&[P::SubjectImport]), "上传登记信息文件"),
    r("GET", "/imports/template.xlsx", Any(&[P::SubjectImport]), "导入模板"),
    r("GET", "/imports/demo-messy.csv", Any(&[P::SubjectImport]), "演示用问题数据文件"),
    r("GET", "/imports/demo-penalties.csv", Any(&[P::SubjectImport]), "演示用行政处罚数据文件"),
    r("GET", "/imports/{id}", Any(&[P::SubjectImport]), "导入进度与结果"),
    r("GET", "/imports/{id}/errors.xlsx", Any(&[P::SubjectImport]), "下载错误明细"),
    r("GET", "/quality", Any(&[P::RegistryQuality]), "重错码治理报告"),
    r("GET", "/records", Any(&[P::CreditRead]), "信用记录"),
    r("POST", "/records", Any(&[P::CreditWrite]), "录入信用记录"),
    r("GET", "/records/new", Any(&[P::CreditWrite]), "录入信用记录（表单）"),
    r("GET", "/records/{id}", Any(&[P::CreditRead]), "信用记录详情与版本"),
    r("POST", "/records/{id}/change", Any(&[P::CreditWrite]), "暂缓公示、发布、更正或撤销（生成新版本）"),
    r("GET", "/publicity", Any(&[P::CreditRead]), "双公示公示情况"),
    r("GET", "/publicity/export.xlsx", Any(&[P::CreditRead]), "导出双公示公示情况（Excel）"),
    r("GET", "/lists", Any(&[P::CreditRead]), "名单管理"),
    r("POST", "/lists", Any(&[P::ListManage]), "列入名单"),
    r("POST", "/lists/{id}/exit", Any(&[P::ListManage]), "移出名单"),
    r("GET", "/catalog", Any(&[P::CreditRead, P::CatalogAdmin]), "公共信用信息目录与处罚类别对照"),
    r("POST", "/catalog/kinds", Any(&[P::CatalogAdmin]), "新增或修改信息类别"),
    r("POST", "/catalog/categories", Any(&[P::CatalogAdmin]), "新增或修改处罚类别对照"),
    r("GET", "/grades", Any(&[P::GradeRead]), "公共信用综合评价结果分布与评价批次"),
    r("POST", "/grades/run", Any(&[P::GradeRun]), "开展评价（全量或增量）"),
    r("GET", "/grades/export.xlsx", Any(&[P::GradeRead]), "导出评价结果分布"),
    r("POST", "/grades/rules", Any(&[P::GradeRulesAdmin]), "保存新的评价规则版本"),
    r("GET", "/export", Any(&[P::CreditExport]), "数据共享导出"),
    r("GET", "/export/download", Any(&[P::CreditExport]), "下载导出文件"),
    r("GET", "/admin/users", Any(&[P::UserAdmin]), "用户管理"),
    r("POST", "/admin/users", Any(&[P::UserAdmin]), "新建用户"),
    r("POST", "/admin/users/{id}/active", Any(&[P::UserAdmin]), "启用或停用用户"),
    r("POST", "/admin/users/{id}/password", Any(&[P::UserAdmin]), "重置密码"),
    r("POST", "/admin/users/{id}/tokens", Any(&[P::UserAdmin]), "签发接口令牌"),
    r("POST", "/admin/tokens/{id}/revoke", Any(&[P::UserAdmin]), "吊销接口令牌"),
    r("GET", "/admin/audit", Any(&[P::AuditRead]), "审计日志"),
    r("GET", "/admin/calendar", Any(&[P::CalendarRead]), "工作日历"),
    r("POST", "/admin/calendar", Any(&[P::CalendarAdmin]), "导入年度节假日安排"),
    r("GET", "/api/v1/subjects", Any(&[P::SubjectRead]), "查询主体名录"),
    r("POST", "/api/v1/subjects/lookup", Any(&[P::SubjectRead]), "按证件号码查找自然人：请求体 {\"id_number\"}，返回 {\"code\"}（查找留痕）"),
    r("POST", "/api/v1/subjects", Any(&[P::SubjectWrite]), "登记新主体"),
    r("GET", "/api/v1/subjects/{code}", Any(&[P::SubjectRead, P::OwnSubjectRead, P::DepartmentQuery]), "主体登记信息"),
    r("PUT", "/api/v1/subjects/{code}", Any(&[P::SubjectWrite]), "修改登记信息（生成新版本）"),
    r("GET", "/api/v1/subjects/{code}/history", Any(&[P::SubjectRead, P::OwnSubjectRead]), "主体变更历史"),
    r("GET", "/api/v1/imports/{id}", Any(&[P::SubjectImport]), "导入任务进度"),
    r("POST", "/api/v1/records", Any(&[P::CreditPush, P::CreditWrite]), "推送信用记录（批量）"),
    r("GET", "/api/v1/records", Any(&[P::CreditRead]), "查询信用记录"),
    r("GET", "/api/v1/records/{id}", Any(&[P::CreditRead]), "信用记录及其版本"),
    r("GET", "/api/v1/publicity", Any(&[P::CreditRead]), "双公示公示情况（逾期、未公示、即将到期）"),
    r("GET", "/api/v1/subjects/{code}/credit", Any(&[P::CreditRead]), "主体的全部信用记录与名单"),
    r("GET", "/api/v1/subjects/{code}/grade", Any(&[P::GradeRead, P::OwnGradeRead]), "公共信用综合评价结果及依据（工作人员或主体本身）"),
    r("GET", "/api/v1/calendar/add-workdays", Any(&[P::CalendarRead, P::DepartmentQuery]), "计算第 N 个工作日"),
    r("GET", "/api/v1/audit/verify", Any(&[P::AuditRead]), "校验审计日志哈希链"),
];

/// The route spec for a matched path pattern and method.
pub fn find(method: &str, path: &str) -> Option<&'static RouteSpec> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.route("PATH", get(…).post(…))` registered in `lib.rs` has a spec here for each
    /// of its methods (a missing one would answer 500), and no spec is left without a route.
    #[test]
    fn the_table_matches_the_router() {
        // Without whitespace, so that rustfmt's line breaks do not matter.
        let src: String = include_str!("lib.rs").split_whitespace().collect();
        let mut registered = Vec::new();
        for part in src.split(".route(\"").skip(1) {
            let path = &part[..part.find('"').expect("closing quote")];
            let call = &part[..part.find("))").map(|i| i + 2).unwrap_or(part.len())];
            for (token, method) in [
                ("get(", "GET"),
                ("post(", "POST"),
                ("put(", "PUT"),
                ("delete(", "DELETE"),
            ] {
                if call.contains(token) {
                    registered.push((method, path.to_owned()));
                }
            }
        }
        for (method, path) in &registered {
            assert!(
                find(method, path).is_some(),
                "{method} {path} is routed but missing from ROUTES"
            );
        }
        for r in ROUTES {
            assert!(
                registered
                    .iter()
                    .any(|(m, p)| *m == r.method && p == r.path),
                "{} {} is in ROUTES but not routed",
                r.method,
                r.path
            );
        }
    }
}
