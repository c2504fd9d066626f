//! Xinjian domain types and rules: pure, no I/O.

pub mod audit;
pub mod calendar;
pub mod credit;
pub mod credit_row;
pub mod dates;
pub mod division;
pub mod grade;
pub mod person_id;
pub mod registry_row;
pub mod risk;
pub mod role;
pub mod subject;
pub mod text;
pub mod uscc;

pub use calendar::{CalendarDay, CalendarError, WorkdayCalendar};
pub use division::{DivisionCode, DivisionError, DivisionLevel};
pub use person_id::{PersonId, PersonIdError};
pub use text::normalize_text;
pub use uscc::{Uscc, UsccCheck, UsccError};
