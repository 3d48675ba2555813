//! TOML and serde errors turned into `file:line:column: key.path: message`: the key path is
//! found from the error's span, serde's wording is rewritten into the file's vocabulary
//! (tables, arrays, keys), and an unknown key gets a "did you mean" when one is close.

use std::path::Path;

use super::raw::INLINE_SECRET_KEYS;
use super::ConfigError;

pub(super) fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let mut message = rewrite_serde_message(e.message());
    match e.span() {
        Some(span) => {
            // toml says only "duplicate key"; its span is the key's own text (never a value).
            let key_text = text.get(span.clone()).unwrap_or_default();
            if message == "duplicate key" && !key_text.is_empty() && key_text.len() <= 100 && !key_text.contains('\n') {
                message = format!("duplicate key {key_text}; each key may be given once per table");
            }
            let (line, column) = line_col(text, span.start);
            let key = key_path_at(text, span.start).unwrap_or_default();
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                key,
                message,
            }
        }
        None => ConfigError::Invalid {
            path: path.to_path_buf(),
            key: String::new(),
            message,
        },
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The key path that a byte offset belongs to: a key's own text belongs to the table holding
/// it (`tenants[0].ukg` for an unknown key there); a value or table header belongs to its key.
pub(super) fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let (doc, _) = toml::de::DeTable::parse_recoverable(text);
    let mut best: Option<(usize, String)> = None;
    visit_table(doc.get_ref(), offset, "", &mut best);
    best.map(|(_, path)| path)
}

pub(super) fn consider(span: std::ops::Range<usize>, offset: usize, path: &str, best: &mut Option<(usize, String)>) {
    let end = span.end.max(span.start + 1);
    if span.start <= offset && offset < end {
        let len = end - span.start;
        // `<=`: on a tie the deeper node (visited later) wins.
        if best.as_ref().is_none_or(|(l, _)| len <= *l) {
            *best = Some((len, path.to_string()));
        }
    }
}

pub(super) fn visit_table(
    table: &toml::de::DeTable<'_>,
    offset: usize,
    prefix: &str,
    best: &mut Option<(usize, String)>,
) {
    for (k, v) in table.iter() {
        let name: &str = k.get_ref();
        let bare = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let name = if bare { name.to_string() } else { format!("{name:?}") };
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        consider(k.span(), offset, prefix, best);
        consider(v.span(), offset, &path, best);
        visit_value(v.get_ref(), offset, &path, best);
    }
}

pub(super) fn visit_value(v: &toml::de::DeValue<'_>, offset: usize, path: &str, best: &mut Option<(usize, String)>) {
    match v {
        toml::de::DeValue::Table(t) => visit_table(t, offset, path, best),
        toml::de::DeValue::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                consider(e.span(), offset, &p, best);
                visit_value(e.get_ref(), offset, &p, best);
            }
        }
        _ => {}
    }
}

/// Rewrites serde's wording into the file's vocabulary: "unknown field `x`, expected one of
/// `a`, `b`" becomes `unknown key "x"; expected one of a, b` (inline-secret keys left out,
/// with a "did you mean" when one is close); "map"/"sequence" become "table"/"array".
pub(super) fn rewrite_serde_message(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // Backtick-quoted names: the unknown key first, then the expected ones.
        let names: Vec<&str> = rest.split('`').step_by(2).collect();
        let unknown = names.first().copied().unwrap_or_default();
        let expected: Vec<&str> = names[1..]
            .iter()
            .copied()
            .filter(|n| !n.is_empty() && !INLINE_SECRET_KEYS.contains(n))
            .collect();
        let mut out = format!("unknown key {unknown:?}");
        if let Some(close) = closest(unknown, &expected) {
            out.push_str(&format!(" (did you mean {close:?}?)"));
        }
        if !expected.is_empty() {
            out.push_str(&format!("; expected one of {}", expected.join(", ")));
        }
        return out;
    }
    message
        .replace("invalid type: map", "invalid type: table")
        .replace("invalid type: sequence", "invalid type: array")
        .replace("expected a sequence", "expected an array of tables ([[tenants]])")
}

/// The candidate nearest to `word` by edit distance, when close enough to be a typo.
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 4).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
