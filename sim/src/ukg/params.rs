//! Query parameters of the UKG simulator: paging (`page` from 1, page size as `per_Page`
//! in any letter case), the change feed's date range, and UKG's documented 400 body
//! `{title, type, detail, code, message, errors}`.

use std::ops::RangeInclusive;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::{json, Value};

use super::json_response;

/// A requested page: number (from 1) and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Page {
    page: usize,
    size: usize,
}

impl Page {
    /// Reads `page` and `per_Page` (any case); missing → page 1, size `max`.
    /// Page 0, a size of 0 or above `max`, or a non-number → a 400 response.
    pub(crate) fn from_query(query: &[(String, String)], max: usize) -> Result<Page, BadParam> {
        let mut page = Page { page: 1, size: max };
        for (name, value) in query {
            if name.eq_ignore_ascii_case("page") {
                page.page = match value.trim().parse::<usize>() {
                    Ok(p) if p >= 1 => p,
                    _ => {
                        let detail = format!("The value '{value}' is not valid for page: pages start at 1.");
                        return Err(bad_request(name, &detail));
                    }
                };
            } else if name.eq_ignore_ascii_case("per_page") {
                page.size = match value.trim().parse::<usize>() {
                    Ok(s) if (1..=max).contains(&s) => s,
                    _ => {
                        let detail = format!(
                            "The value '{value}' is not valid for {name}: the page size must be between 1 and {max}."
                        );
                        return Err(bad_request(name, &detail));
                    }
                };
            }
        }
        Ok(page)
    }

    /// The page number (from 1).
    pub(crate) fn number(&self) -> usize {
        self.page
    }

    /// Page 1 of the same size (a server that ignores `page`).
    pub(crate) fn first(self) -> Page {
        Page { page: 1, ..self }
    }

    /// The items on this page; empty past the end.
    pub(crate) fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = (self.page - 1).saturating_mul(self.size).min(items.len());
        let end = start.saturating_add(self.size).min(items.len());
        &items[start..end]
    }
}

/// `startDate` (required) ..= `endDate` (optional) of `employee-changes`.
pub(crate) fn change_range(query: &[(String, String)]) -> Result<RangeInclusive<NaiveDateTime>, BadParam> {
    let get = |wanted: &str| {
        query
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, v)| v.as_str())
    };
    let parse = |name: &str, value: &str| {
        parse_datetime(value)
            .ok_or_else(|| bad_request(name, &format!("The value '{value}' is not a valid date for {name}.")))
    };
    let start = match get("startDate") {
        Some(v) => parse("startDate", v)?,
        None => return Err(bad_request("startDate", "The startDate field is required.")),
    };
    let end = match get("endDate") {
        Some(v) => parse("endDate", v)?,
        None => NaiveDateTime::MAX,
    };
    if start > end {
        return Err(bad_request("endDate", "endDate must not be before startDate."));
    }
    Ok(start..=end)
}

/// ISO dates and timestamps (with or without offset; an offset is ignored, times are
/// tenant-local) and US-locale ones like "1/1/1996 12:00:00 AM".
fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.naive_local());
    }
    const DATETIMES: &[&str] = &[
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%m/%d/%Y %I:%M:%S %p",
    ];
    const DATES: &[&str] = &["%Y-%m-%d", "%m/%d/%Y"];
    DATETIMES
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            DATES
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// UKG's documented error body.
pub(crate) fn error_body(status: u16, title: &str, detail: &str, errors: &[(&str, &str)]) -> Value {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(field, message)| json!({"field": field, "message": message}))
        .collect();
    json!({
        "title": title,
        "type": format!("https://httpstatuses.io/{status}"),
        "detail": detail,
        "code": status.to_string(),
        "message": if status == 400 { "The request is invalid." } else { detail },
        "errors": errors,
    })
}

/// A bad query parameter: answered with 400 and the documented body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadParam {
    field: String,
    detail: String,
}

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        let body = error_body(400, "Bad Request", &self.detail, &[(&self.field, &self.detail)]);
        json_response(StatusCode::BAD_REQUEST, &body)
    }
}

fn bad_request(field: &str, detail: &str) -> BadParam {
    BadParam {
        field: field.to_owned(),
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn paging_parameters() {
        let items: Vec<u32> = (0..25).collect();
        let p = Page::from_query(&q(&[("page", "3"), ("PER_PAGE", "10")]), 100).ok();
        assert_eq!(p.map(|p| p.slice(&items).to_vec()), Some(vec![20, 21, 22, 23, 24]));
        let p = Page::from_query(&q(&[("page", "9"), ("per_Page", "10")]), 100).ok();
        assert_eq!(p.map(|p| p.slice(&items).len()), Some(0));
        assert_eq!(Page::from_query(&q(&[]), 7).ok(), Some(Page { page: 1, size: 7 }));
        for bad in [("page", "0"), ("page", "x"), ("per_page", "101"), ("per_page", "0")] {
            let err = Page::from_query(&q(&[bad]), 100).err();
            assert_eq!(
                err.map(|r| r.into_response().status()),
                Some(StatusCode::BAD_REQUEST),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dates_in_several_formats() {
        let midnight = NaiveDate::from_ymd_opt(1996, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        for s in [
            "1996-01-01",
            "1996-01-01T00:00:00",
            "1996-01-01T00:00:00Z",
            "1/1/1996 12:00:00 AM",
            "01/01/1996",
        ] {
            assert_eq!(parse_datetime(s), midnight, "{s}");
        }
        assert_eq!(parse_datetime("yesterday"), None);
        assert!(change_range(&q(&[])).is_err());
        assert!(change_range(&q(&[("startDate", "2024-01-02"), ("endDate", "2024-01-01")])).is_err());
    }
}
