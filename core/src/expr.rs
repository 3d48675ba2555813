//! Mapping expressions: how a tenant's config computes a SCIM attribute from UKG fields.
//!
//! Syntax (a TOML string):
//! - a template: text with `{field}` placeholders, e.g. `"{firstName}.{lastName}@acme.example"`;
//!   text without placeholders is a constant, e.g. `"Europe"`;
//! - a function: `lowercase(E)`, `uppercase(E)`, `trim(E)`, `first_non_empty(E, E, …)`,
//!   where each argument `E` is a bare field name (`preferredName`), a quoted template
//!   (`"{firstName} {lastName}"`) or another function.
//!
//! A template whose placeholders are not all filled yields nothing, so `first_non_empty`
//! can fall through to the next choice. Pure; no I/O.

use std::collections::BTreeMap;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A UKG field by API name.
    Field(String),
    /// Literal text and placeholders.
    Template(Vec<Part>),
    Lowercase(Box<Expr>),
    Uppercase(Box<Expr>),
    Trim(Box<Expr>),
    FirstNonEmpty(Vec<Expr>),
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Field(String),
}

const FUNCTIONS: [&str; 4] = ["lowercase", "uppercase", "trim", "first_non_empty"];

impl Expr {
    /// Parses an expression; the error says what is wrong and where.
    pub fn parse(src: &str) -> Result<Expr, String> {
        let trimmed = src.trim();
        let is_call = FUNCTIONS.iter().any(|f| {
            trimmed
                .strip_prefix(f)
                .is_some_and(|rest| rest.trim_start().starts_with('('))
        });
        if !is_call {
            return template(src);
        }
        let mut p = Parser {
            s: trimmed.as_bytes(),
            i: 0,
            src: trimmed,
        };
        let e = p.expr()?;
        p.skip_ws();
        if p.i != p.s.len() {
            return Err(format!("unexpected {:?} at character {}", &p.src[p.i..], p.i + 1));
        }
        Ok(e)
    }

    /// Every field the expression reads.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Expr::Field(f) => vec![f],
            Expr::Template(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    Part::Field(f) => Some(f.as_str()),
                    Part::Text(_) => None,
                })
                .collect(),
            Expr::Lowercase(e) | Expr::Uppercase(e) | Expr::Trim(e) => e.fields(),
            Expr::FirstNonEmpty(es) => es.iter().flat_map(Expr::fields).collect(),
        }
    }

    /// The value for one employee's fields; None when a field it needs is empty.
    pub fn eval<K: std::borrow::Borrow<str> + Ord>(&self, fields: &BTreeMap<K, String>) -> Option<String> {
        let non_empty = |s: String| (!s.trim().is_empty()).then_some(s);
        match self {
            Expr::Field(f) => fields.get(f.as_str()).cloned().and_then(non_empty),
            Expr::Template(parts) => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        Part::Text(t) => out.push_str(t),
                        Part::Field(f) => out.push_str(fields.get(f.as_str()).filter(|v| !v.trim().is_empty())?),
                    }
                }
                non_empty(out)
            }
            Expr::Lowercase(e) => e.eval(fields).map(|s| s.to_lowercase()),
            Expr::Uppercase(e) => e.eval(fields).map(|s| s.to_uppercase()),
            Expr::Trim(e) => e.eval(fields).map(|s| s.trim().to_string()).and_then(non_empty),
            Expr::FirstNonEmpty(es) => es.iter().find_map(|e| e.eval(fields)),
        }
    }
}

/// Parses `{field}` placeholders in text.
fn template(src: &str) -> Result<Expr, String> {
    let mut parts = Vec::new();
    let mut rest = src;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("unclosed '{{' in {src:?}"))?;
        let name = after[..close].trim();
        if !is_identifier(name) {
            return Err(format!(
                "{{{name}}} is not a field name (letters and digits, e.g. {{firstName}})"
            ));
        }
        parts.push(Part::Field(name.to_string()));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("unmatched '}}' in {src:?}"));
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(Expr::Template(parts))
}

fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.skip_ws();
        if self.s.get(self.i) == Some(&b'"') {
            return self.quoted();
        }
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        let word = &self.src[start..self.i];
        if word.is_empty() {
            return Err(format!(
                "expected a field name, a quoted template or a function at character {}",
                start + 1
            ));
        }
        self.skip_ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Ok(Expr::Field(word.to_string()));
        }
        self.i += 1;
        let mut args = vec![self.expr()?];
        loop {
            self.skip_ws();
            match self.s.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    args.push(self.expr()?);
                }
                Some(b')') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(format!("expected ',' or ')' at character {}", self.i + 1)),
            }
        }
        let one = |mut args: Vec<Expr>, f: fn(Box<Expr>) -> Expr| {
            if args.len() != 1 {
                return Err(format!("{word}() takes one argument, got {}", args.len()));
            }
            Ok(f(Box::new(args.remove(0))))
        };
        match word {
            "lowercase" => one(args, Expr::Lowercase),
            "uppercase" => one(args, Expr::Uppercase),
            "trim" => one(args, Expr::Trim),
            "first_non_empty" => Ok(Expr::FirstNonEmpty(args)),
            other => Err(format!(
                "unknown function {other}(); expected one of {}",
                FUNCTIONS.join(", ")
            )),
        }
    }

    fn quoted(&mut self) -> Result<Expr, String> {
        self.i += 1;
        let mut text = String::new();
        let mut chars = self.src[self.i..].char_indices();
        while let Some((k, c)) = chars.next() {
            match c {
                '"' => {
                    self.i += k + 1;
                    return template(&text);
                }
                '\\' => match chars.next() {
                    Some((_, e)) => text.push(e),
                    None => break,
                },
                c => text.push(c),
            }
        }
        Err("unclosed '\"'".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> BTreeMap<String, String> {
        [
            ("firstName", "Ana"),
            ("lastName", "Ruiz Díaz"),
            ("preferredName", ""),
            ("orgLevel3Code", "CC-7"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn templates_constants_and_functions() {
        let f = fields();
        assert_eq!(
            Expr::parse("{orgLevel3Code}").unwrap().eval(&f).as_deref(),
            Some("CC-7")
        );
        assert_eq!(Expr::parse("Europe").unwrap().eval(&f).as_deref(), Some("Europe"));
        let e = Expr::parse(r#"lowercase("{firstName}.{lastName}@acme.example")"#).unwrap();
        assert_eq!(e.eval(&f).as_deref(), Some("ana.ruiz díaz@acme.example"));
        let e = Expr::parse("first_non_empty(preferredName, firstName)").unwrap();
        assert_eq!(e.eval(&f).as_deref(), Some("Ana"));
        assert_eq!(e.fields(), vec!["preferredName", "firstName"]);
        assert_eq!(
            Expr::parse("{middleName} x").unwrap().eval(&f),
            None,
            "missing field: nothing"
        );
        assert_eq!(
            Expr::parse(" trim( uppercase(firstName) ) ")
                .unwrap()
                .eval(&f)
                .as_deref(),
            Some("ANA")
        );
    }

    #[test]
    fn errors_say_what_and_where() {
        assert!(Expr::parse("{first name}").unwrap_err().contains("not a field name"));
        assert!(Expr::parse("{firstName").unwrap_err().contains("unclosed"));
        assert!(Expr::parse("lowercase(a, b)").unwrap_err().contains("one argument"));
        assert!(Expr::parse("lowercase(a").unwrap_err().contains("expected ',' or ')'"));
        assert!(Expr::parse("trim(\"x)").unwrap_err().contains("unclosed"));
    }
}
