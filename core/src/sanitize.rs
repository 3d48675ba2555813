//! One sanitizer for every text that comes from outside the process and is kept or shown:
//! an upstream's error detail, a transport error, an SMTP server's answer.
//!
//! [`Redactor::reason`] makes a one-line reason: control characters and ANSI escape
//! sequences are removed (line breaks and tabs become spaces), every configured secret of
//! the tenant and every `Bearer …` / `Basic …` credential is replaced by `[redacted]`, and
//! the result is cut to [`MAX_CHARS`] characters plus a note of how many more there were.
//! [`Redactor::text`] does the same to a whole document (an email) but keeps its line
//! breaks and its length. Both are idempotent: cleaning twice changes nothing.
//!
//! Used at the boundary where an upstream error becomes a reason (`upstream`, `scim`,
//! `ukg`, `mailer`) and again on the way out (the status board, the notifier's emails, the
//! CLI), so a hostile or careless upstream can neither bloat nor poison what people read.

use std::sync::OnceLock;

use regex::Regex;
use secrecy::{ExposeSecret, SecretString};

use crate::spec::{SmtpSpec, TargetSpec, TenantSpec};

/// Longest reason kept or shown, in characters (before the "… (N more characters)" note).
pub const MAX_CHARS: usize = 500;
/// A reason at most this many characters over [`MAX_CHARS`] is kept whole, so that a
/// reason already cut (with its note) is not cut again.
const SLACK: usize = 40;
/// Secrets shorter than this are not searched for: they would match ordinary words.
pub const MIN_SECRET_CHARS: usize = 6;
/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or `ESC ] … ESC \`),
/// and two-character escapes.
fn ansi() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\u{9b}[0-?]*[ -/]*[@-~]")
            .expect("a constant regex")
    })
}

/// `Bearer xyz`, `Basic xyz` (any case), as in an echoed `Authorization` header.
fn auth_scheme() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\b(bearer|basic)(?:\s+|%20|\+)([A-Za-z0-9._~+/=:\-]+)").expect("a constant regex")
    })
}

/// Whether what follows `Bearer`/`Basic` looks like a credential rather than a word ("bearer
/// token was refused"): a digit or a symbol in it, or 20 characters or more.
fn looks_like_credential(word: &str) -> bool {
    word.chars().count() >= 20 || (word.len() >= 6 && word.chars().any(|c| !c.is_ascii_alphabetic()))
}

/// The secrets of one tenant (or none), and the cleaning that uses them.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<SecretString>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these secrets (those shorter than [`MIN_SECRET_CHARS`] are ignored).
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Redactor {
        let mut secrets: Vec<SecretString> = secrets
            .into_iter()
            .filter(|s| s.expose_secret().chars().count() >= MIN_SECRET_CHARS)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.expose_secret().len()));
        Redactor { secrets }
    }

    /// Every secret configured for `spec`: the UKG password and API keys, the SCIM token or
    /// the SFTP password/key, and the SMTP password.
    pub fn for_tenant(spec: &TenantSpec, smtp: Option<&SmtpSpec>) -> Redactor {
        let mut secrets = vec![spec.ukg.password.clone(), spec.ukg.api_key.clone()];
        secrets.extend(spec.ukg.user_api_key.clone());
        match &spec.target {
            TargetSpec::Scim(scim) => secrets.push(scim.token.clone()),
            TargetSpec::File(file) => {
                if let Some(sftp) = &file.sftp {
                    match &sftp.auth {
                        crate::spec::SftpAuth::Key(s) | crate::spec::SftpAuth::Password(s) => secrets.push(s.clone()),
                    }
                }
            }
        }
        secrets.extend(smtp.and_then(|s| s.password.clone()));
        Redactor::new(secrets)
    }

    /// The same redactor, also hiding `secret`.
    pub fn with(mut self, secret: SecretString) -> Redactor {
        self.secrets.push(secret);
        Redactor::new(self.secrets)
    }

    /// A one-line reason: no control characters, no secrets, at most [`MAX_CHARS`]
    /// characters and a note of how many more there were.
    pub fn reason(&self, text: &str) -> String {
        // Only a window of the text is cleaned: enough to fill MAX_CHARS after removals,
        // and to find a secret that straddles the cut.
        let longest = self
            .secrets
            .iter()
            .map(|s| s.expose_secret().chars().count())
            .max()
            .unwrap_or(0);
        let window_chars = 4 * MAX_CHARS + longest;
        let (window, rest_chars) = match text.char_indices().nth(window_chars) {
            Some((at, _)) => (&text[..at], text[at..].chars().count()),
            None => (text, 0),
        };
        let cleaned = self.redact(&strip_controls(window, false));
        let cleaned = cleaned.trim();
        let count = cleaned.chars().count();
        if count <= MAX_CHARS + SLACK && rest_chars == 0 {
            return cleaned.to_string();
        }
        // When the window cut the text, its last characters may hold the head of a secret.
        let cut = if rest_chars > 0 {
            count.saturating_sub(longest).min(MAX_CHARS)
        } else {
            count.min(MAX_CHARS)
        };
        let mut out: String = cleaned.chars().take(cut).collect();
        // Never end inside a partly shown "[redacted]".
        if let Some(open) = out.rfind('[') {
            if REDACTED.starts_with(&out[open..]) && out.len() - open < REDACTED.len() {
                out.truncate(open);
            }
        }
        let more = count - out.chars().count() + rest_chars;
        format!("{}… ({more} more characters)", out.trim_end())
    }

    /// A whole document (an email body): control characters and ANSI escapes removed (line
    /// breaks and tabs kept), secrets replaced; its length is kept.
    pub fn text(&self, text: &str) -> String {
        self.redact(&strip_controls(text, true))
    }

    /// Replaces every configured secret and every `Bearer`/`Basic` credential.
    fn redact(&self, text: &str) -> String {
        let mut out = auth_scheme()
            .replace_all(text, |c: &regex::Captures<'_>| {
                if looks_like_credential(&c[2]) {
                    format!("{} {REDACTED}", &c[1])
                } else {
                    c[0].to_string()
                }
            })
            .into_owned();
        for s in &self.secrets {
            let s = s.expose_secret();
            if out.contains(s) {
                out = out.replace(s, REDACTED);
            }
        }
        out
    }
}

/// A one-line reason with no secret known: see [`Redactor::reason`].
pub fn reason(text: &str) -> String {
    Redactor::default().reason(text)
}

/// A document with no secret known: see [`Redactor::text`].
pub fn text(text: &str) -> String {
    Redactor::default().text(text)
}

/// Removes ANSI escape sequences and control characters (C0, DEL, C1, and the Unicode
/// direction overrides that reorder what a terminal or page shows). Line breaks and tabs
/// are kept when `keep_lines`, otherwise they become spaces.
fn strip_controls(text: &str, keep_lines: bool) -> String {
    let text = ansi().replace_all(text, "");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' if keep_lines => out.push(c),
            '\n' | '\r' | '\t' => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn long_reasons_are_cut_with_a_count() {
        let text = "x".repeat(2_000_000);
        let r = reason(&text);
        assert!(r.starts_with(&"x".repeat(MAX_CHARS)), "{}", &r[..10]);
        assert!(r.ends_with("… (1999500 more characters)"), "{}", &r[MAX_CHARS - 5..]);
        assert_eq!(reason(&r), r, "cleaning twice changes nothing");
        assert_eq!(reason("  short  "), "short");
        let edge = "y".repeat(MAX_CHARS + SLACK);
        assert_eq!(reason(&edge), edge);
    }

    #[test]
    fn control_characters_and_ansi_escapes_are_removed() {
        let r = reason("bad\u{0}value \x1b[31mred\x1b[0m \x1b]0;title\x07line1\nline2\u{202e}\u{7f}\u{9b}2J");
        assert_eq!(r, "badvalue red line1 line2");
        assert_eq!(text("a\n\tb\x1b[2Jc\u{0}"), "a\n\tbc");
    }

    #[test]
    fn secrets_and_credentials_are_redacted() {
        let r = Redactor::new([secret("s3cr3t-token-value"), secret("pw")]);
        let out = r.reason("got Authorization: Bearer abc.DEF-123 and s3cr3t-token-value; Basic dXNlcjpwdw== pw");
        assert_eq!(
            out, "got Authorization: Bearer [redacted] and [redacted]; Basic [redacted] pw",
            "short secrets are ignored"
        );
        assert_eq!(r.reason(&out), out);
        assert_eq!(reason("the bearer token was refused"), "the bearer token was refused");
        // A secret hidden by a control character in the middle is still found.
        assert_eq!(r.reason("s3cr3t-\u{0}token-value"), "[redacted]");
        // A secret straddling the cut is redacted, not half-shown.
        let long = format!("{}s3cr3t-token-value{}", "a".repeat(MAX_CHARS - 5), "b".repeat(3000));
        let out = r.reason(&long);
        assert!(!out.contains("s3cr"), "{out}");
        assert!(!out.contains("[red…"), "{out}");
        assert!(out.ends_with("more characters)"), "{out}");
    }
}
