//! The values `tenant add` asks for: each check returns the value to write, or why not —
//! never echoing what may be a secret. Secret answers resolve to references (an environment
//! variable name or a file path); [`looks_like_secret`] and [`unechoed`] keep every other
//! prompt from showing back a secret pasted in the wrong place.

use super::*;

pub(super) fn parse_id(raw: &str, existing: &[String]) -> Result<String, String> {
    let id = raw.trim();
    if !config::is_tenant_id(id) {
        return Err(format!(
            "expected 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-' (e.g. \"acme\"), \
             got {id:?}"
        ));
    }
    if existing.iter().any(|e| e == id) {
        return Err(format!(
            "the config file has a tenant {id:?} already; choose another id (or edit that tenant's block)"
        ));
    }
    Ok(id.to_string())
}

pub(super) fn parse_username(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("expected the web service account's user name".into());
    }
    Ok(name.to_string())
}

pub(super) fn parse_contact(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    if !config::looks_like_email(email) {
        return Err(format!(
            "expected an email address such as \"it-alerts@acme.example\", got {email:?}"
        ));
    }
    Ok(email.to_string())
}

/// What to add to every message about a secret reference that did not resolve.
pub(super) fn paste_hint(field: SecretField) -> String {
    format!(
        "give the NAME of an environment variable holding {} (set in this shell), or the path of a file holding \
         it — never the secret itself (what you typed was not stored)",
        field.what
    )
}

/// Shown instead of a default that [`looks_like_secret`]; Enter still keeps it.
pub(super) const HIDDEN_DEFAULT: &str = "Enter keeps the previous answer, not shown";
/// Stands for a typed answer in an error about it.
pub(super) const UNSHOWN_ANSWER: &str = "(what you typed, not shown)";

/// Whether a typed answer may be a secret pasted at the wrong prompt, so it is never shown
/// back as a default: it holds a secret value read in this session (a password pasted as
/// the user name), or it has a character that user names, URLs, variable names and paths
/// rarely have (anything but letters, digits and `. _ - @ \ / :`). The secret prompts follow
/// the stricter rule of [`resolve_answer`]: an answer is shown only once it resolved.
pub(super) fn looks_like_secret(answer: &str, seen: &[SecretString]) -> bool {
    use secrecy::ExposeSecret;
    let answer = answer.trim();
    let holds_seen = seen.iter().any(|s| {
        let s = s.expose_secret().trim();
        !s.is_empty() && answer.contains(s)
    });
    holds_seen
        || answer
            .chars()
            .any(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '\\' | '/' | ':')))
}

/// An error about a typed answer, with the answer left out: a value that failed its check
/// may be a secret pasted at the wrong prompt. Only rejected answers pass through here.
pub(super) fn unechoed(error: &str, answer: &str) -> String {
    let answer = answer.trim();
    if answer.is_empty() {
        return error.to_string();
    }
    let error = error.replace(&format!("{answer:?}"), UNSHOWN_ANSWER);
    // Bare, too, unless the answer is so short that it is likely a word of the message.
    if answer.chars().count() >= 5 {
        error.replace(answer, UNSHOWN_ANSWER)
    } else {
        error
    }
}

/// `--{flag}-env NAME`: the variable must be set (and not empty) here. The name is not echoed
/// unless it resolved (it may be the secret, pasted in the wrong place).
pub(super) fn resolve_env(name: &str, field: SecretField) -> Result<Secret, String> {
    let name = name.trim();
    if !config::is_env_name(name) {
        return Err(format!(
            "that is not an environment variable name (letters, digits and _, e.g. {}); {}",
            field.example_env.replace("{ID}", "ACME"),
            paste_hint(field)
        ));
    }
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(Secret {
            reference: SecretRef::Env(name.to_string()),
            value: SecretString::from(value),
        }),
        _ => Err(format!(
            "that environment variable is not set (or is empty) in this shell; export it first (the service \
             needs it too), or {}",
            paste_hint(field)
        )),
    }
}

/// `--{flag}-file PATH`: the file must hold the secret (one trailing newline is ignored, as
/// in the config). Written as an absolute path, so it means the same from the service.
pub(super) fn resolve_file(raw: &str, field: SecretField) -> Result<Secret, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(paste_hint(field));
    }
    if raw.starts_with('~') {
        return Err("'~' is not expanded; give the full path of the file".into());
    }
    let path = std::path::absolute(raw).map_err(|e| format!("cannot use that path: {e}; {}", paste_hint(field)))?;
    let mut text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read that file: {e}; {}", paste_hint(field)))?;
    let kept = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(kept);
    if text.trim().is_empty() {
        return Err(format!("that file is empty; it must hold {}", field.what));
    }
    let Some(shown) = path.to_str() else {
        return Err("the file's path is not valid UTF-8; use a path the config file can hold".into());
    };
    Ok(Secret {
        reference: SecretRef::File(shown.to_string()),
        value: SecretString::from(text),
    })
}

/// An interactive answer: an environment variable name (if set here), else an existing file.
pub(super) fn resolve_answer(answer: &str, field: SecretField) -> Result<Secret, String> {
    let answer = answer.trim();
    if config::is_env_name(answer) {
        if let Ok(secret) = resolve_env(answer, field) {
            return Ok(secret);
        }
        if Path::new(answer).is_file() {
            return resolve_file(answer, field);
        }
        return Err(format!(
            "no environment variable of that name is set (or it is empty) in this shell, and no file has that \
             name; {}",
            paste_hint(field)
        ));
    }
    if answer.contains('/') || answer.starts_with('~') || Path::new(answer).is_file() {
        return resolve_file(answer, field);
    }
    Err(format!(
        "that is neither an environment variable name (letters, digits and _) nor an existing file; {}",
        paste_hint(field)
    ))
}

pub(super) fn resolve_given(given: &GivenRef, field: SecretField) -> Result<Secret, String> {
    match given {
        GivenRef::Env(name) => resolve_env(name, field),
        GivenRef::File(path) => resolve_file(path, field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_answers_resolve_to_references_and_never_echo_what_was_typed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "CANARY-file-secret\n").unwrap();
        let s = resolve_answer(file.to_str().unwrap(), SCIM_TOKEN).unwrap();
        assert_eq!(s.reference, SecretRef::File(file.to_str().unwrap().to_string()));
        use secrecy::ExposeSecret;
        assert_eq!(s.value.expose_secret(), "CANARY-file-secret");

        // PATH is set in any test environment.
        let s = resolve_answer("PATH", SCIM_TOKEN).unwrap();
        assert_eq!(s.reference, SecretRef::Env("PATH".into()));

        for pasted in [
            "CANARY-pasted-secret",
            "CANARYPASTED5",
            "abc/CANARY+def==",
            "   ",
            "~/CANARY",
        ] {
            let e = resolve_answer(pasted, SCIM_TOKEN).err().unwrap();
            assert!(!e.contains("CANARY"), "{e}");
            let e = resolve_env(pasted, SCIM_TOKEN).err().unwrap();
            assert!(!e.contains("CANARY"), "{e}");
            let e = resolve_file(pasted, SCIM_TOKEN).err().unwrap();
            assert!(!e.contains("CANARY"), "{e}");
        }
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(resolve_file(empty.to_str().unwrap(), SCIM_TOKEN)
            .err()
            .unwrap()
            .contains("empty"));
    }

    #[test]
    fn ids_and_contacts_are_checked() {
        assert_eq!(parse_id(" acme ", &[]).unwrap(), "acme");
        assert!(parse_id("Acme", &[]).is_err());
        assert!(parse_id("acme", &["acme".into()]).unwrap_err().contains("already"));
        assert!(parse_contact("it@acme.example").is_ok());
        assert!(parse_contact("it at acme").is_err());
    }

    #[test]
    fn answers_that_may_be_secrets_are_recognised_and_left_out_of_errors() {
        let seen = [SecretString::from("CANARY-pw")];
        assert!(looks_like_secret("CANARY-pw", &seen));
        assert!(looks_like_secret("x CANARY-pw ", &seen));
        assert!(looks_like_secret("Sup3r$ecret", &[]));
        for plain in [
            "svc-hrsync",
            "DOMAIN\\svc.hr@acme",
            "https://service4.ultipro.com",
            "/etc/hrsync/key",
        ] {
            assert!(!looks_like_secret(plain, &seen), "{plain}");
        }
        let e = unechoed("expected an https:// URL, got \"CANARY-pw\" (no scheme)", "CANARY-pw");
        assert_eq!(
            e,
            "expected an https:// URL, got (what you typed, not shown) (no scheme)"
        );
        assert_eq!(unechoed("expected scim or file", "or"), "expected scim or file");
    }
}
