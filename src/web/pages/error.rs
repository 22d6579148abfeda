//! The page for a URL that names nothing (404) or says it wrongly (400): what was not found, or what is
//! wrong, in one sentence.

use askama::Template;
use http::StatusCode;

use super::Frame;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub frame: Frame,
    pub code: u16,
    pub heading: String,
    pub message: String,
}

impl ErrorPage {
    pub fn new(status: StatusCode, heading: &str, message: String) -> ErrorPage {
        ErrorPage {
            frame: Frame::new(heading, String::new()),
            code: status.as_u16(),
            heading: heading.to_string(),
            message,
        }
    }
}
