use thiserror::Error;
use xinjian_store::StoreError;

/// Errors of use cases. Every variant but `Store`/`Internal` is the user's to fix and
/// carries a Chinese message; the web layer maps them to 4xx problem responses.
#[derive(Debug, Error)]
pub enum AppError {
    /// Bad input in a named field.
    #[error("{field}：{reason}")]
    Invalid { field: String, reason: String },
    #[error("请先登录")]
    Unauthenticated,
    #[error("无权执行此操作")]
    Forbidden,
    #[error("{0}不存在")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many failed logins.
    #[error("登录失败次数过多，账号已锁定至 {0}")]
    Locked(String),
    /// The request is well-formed but cannot be processed (e.g. a file that is not a table).
    #[error("{0}")]
    Unprocessable(String),
    #[error("数据库错误：{0}")]
    Store(StoreError),
    #[error("内部错误：{0}")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound("记录".into()),
            StoreError::Conflict(m) => AppError::Conflict(m),
            e if e.is_unique_violation() => AppError::Conflict("记录已存在".into()),
            e => AppError::Store(e),
        }
    }
}

impl From<xinjian_core::calendar::CalendarError> for AppError {
    fn from(e: xinjian_core::calendar::CalendarError) -> Self {
        AppError::Unprocessable(e.to_string())
    }
}
