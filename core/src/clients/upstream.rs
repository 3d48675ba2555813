//! What the UKG and SCIM clients share: the HTTP client, the rate limiter, one capped
//! request, and the retry loop with backoff.
//!
//! Every attempt first waits for a permit from the tenant's limiter for that API (async: it
//! never blocks another tenant). 429 honours `Retry-After` (seconds or HTTP date, capped);
//! otherwise backoff starts at 1 s and doubles, with jitter. Counters record requests,
//! retries and 429s so runs can report them.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::{Quota, RateLimiter};
use rand::Rng;
use reqwest::header::HeaderMap;

/// A tenant's rate limiter for one API (owned by the tenant supervisor, so it survives
/// restarts of the actors that use it).
pub type Limiter = governor::DefaultDirectRateLimiter;

/// Builds a limiter allowing `per_second` requests per second, and `burst` at once after an
/// idle spell (default 1: evenly spaced requests, so no 1-second window ever holds more than
/// `per_second + 1`).
pub fn limiter(per_second: u32, burst: Option<u32>) -> Arc<Limiter> {
    let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.unwrap_or(1).max(1)).unwrap_or(NonZeroU32::MIN);
    Arc::new(RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)))
}

/// The process's HTTP client for API calls: rustls, no redirects, a connect timeout. One
/// for all tenants (a client holds TLS roots and a connection pool: one per tenant cost
/// ~0.5 MB each); each request carries its tenant's total timeout.
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")))
                .build()
                // Building fails only when the TLS backend cannot initialise, which is a
                // broken installation, not bad input; fall back to a default client.
                .unwrap_or_default()
        })
        .clone()
}

/// Request counters for one API of one tenant.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    /// Answers by class: see [`STATUS_CLASSES`].
    pub by_class: [AtomicU64; 5],
}

/// Labels of `Counters::by_class`: HTTP status classes, and "error" for no answer.
pub const STATUS_CLASSES: [&str; 5] = ["2xx", "3xx", "4xx", "5xx", "error"];

impl Counters {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Answers counted for `STATUS_CLASSES[i]`.
    pub fn class(&self, i: usize) -> u64 {
        self.by_class[i].load(Ordering::Relaxed)
    }

    fn count_status(&self, status: Option<u16>) {
        let i = match status {
            Some(200..=299) => 0,
            Some(300..=399) => 1,
            Some(400..=499) => 2,
            Some(_) => 3,
            None => 4,
        };
        self.by_class[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// A response read into memory.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Why one attempt did not produce a [`Reply`].
pub enum SendError {
    /// Connection, TLS or timeout failure (retryable).
    Transport(String),
    /// The body was larger than allowed.
    TooLarge(usize),
}

/// Sends one request (after waiting for a permit) and reads the body, at most `max_body` bytes.
pub async fn send(
    limiter: &Limiter,
    counters: &Counters,
    request: reqwest::RequestBuilder,
    max_body: usize,
) -> Result<Reply, SendError> {
    limiter.until_ready().await;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let mut response = request.send().await.map_err(|e| {
        counters.count_status(None);
        SendError::Transport(describe(&e))
    })?;
    let status = response.status().as_u16();
    counters.count_status(Some(status));
    let headers = response.headers().clone();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max_body {
                    return Err(SendError::TooLarge(max_body));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(SendError::Transport(describe(&e))),
        }
    }
    Ok(Reply { status, headers, body })
}

/// A short description of a transport error: its kind and the innermost cause, without the
/// query string (no secret is ever in a URL, but keep messages short).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body interrupted"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut inner = None;
    while let Some(s) = source {
        inner = Some(s.to_string());
        source = s.source();
    }
    match inner {
        Some(inner) => crate::sanitize::reason(&format!("{kind} ({inner})")),
        None => kind.to_string(),
    }
}

/// How hard to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    /// First wait when the server gave no `Retry-After`.
    pub base_delay: Duration,
    /// Longest wait between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// What one attempt concluded.
pub enum Attempt<T, E> {
    /// Success.
    Done(T),
    /// Worth another try, after the server's `Retry-After` if it gave one.
    Retry { error: E, after: Option<Duration> },
    /// Final failure.
    Fail(E),
}

/// Runs `attempt` until it succeeds, fails for good, or the attempts are used up.
pub async fn with_retries<T, E, F, Fut>(policy: &RetryPolicy, counters: &Counters, mut attempt: F) -> Result<T, E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut n = 1;
    loop {
        match attempt(n).await {
            Attempt::Done(v) => return Ok(v),
            Attempt::Fail(e) => return Err(e),
            Attempt::Retry { error, after } => {
                if n >= policy.max_attempts {
                    return Err(error);
                }
                counters.retries.fetch_add(1, Ordering::Relaxed);
                // The server's Retry-After wins (already capped when parsed); otherwise back off.
                let wait = after.unwrap_or_else(|| backoff(policy, n));
                tokio::time::sleep(wait).await;
                n += 1;
            }
        }
    }
}

/// Exponential backoff with ±25 % jitter: base · 2^(attempt-1).
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.base_delay.saturating_mul(1u32 << (attempt - 1).min(16));
    let jitter = rand::rng().random_range(0.75..1.25);
    exp.mul_f64(jitter).min(policy.max_delay)
}

/// Parses `Retry-After` as seconds or an HTTP date, capped at `cap`.
pub fn retry_after(headers: &HeaderMap, cap: Duration) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let now = chrono::Utc::now();
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
    };
    Some(wait.min(cap))
}

/// A short, safe summary of an error body for messages: cleaned by
/// [`crate::sanitize::reason`] (no control characters, no `Bearer`/`Basic` credential, at
/// most 500 characters and a note of how many more there were).
pub fn body_excerpt(body: &[u8]) -> String {
    // Only the head of a large body can be shown: don't decode megabytes.
    let head = &body[..body.len().min(64 * 1024)];
    let mut text = crate::sanitize::reason(&String::from_utf8_lossy(head));
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    if head.len() < body.len() && !text.ends_with(" more characters)") {
        text.push_str(&format!("… ({} more bytes)", body.len() - head.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_caps() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h, Duration::from_secs(60)), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "7000".parse().unwrap());
        assert_eq!(retry_after(&h, Duration::from_secs(60)), Some(Duration::from_secs(60)));
    }

    #[test]
    fn retry_after_reads_http_dates() {
        let mut h = HeaderMap::new();
        let at = chrono::Utc::now() + chrono::Duration::seconds(30);
        h.insert(reqwest::header::RETRY_AFTER, at.to_rfc2822().parse().unwrap());
        let wait = retry_after(&h, Duration::from_secs(60)).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn backoff_doubles_within_jitter() {
        let p = RetryPolicy::default();
        let third = backoff(&p, 3);
        assert!(
            third >= Duration::from_secs(3) && third <= Duration::from_secs(5),
            "{third:?}"
        );
    }
}
