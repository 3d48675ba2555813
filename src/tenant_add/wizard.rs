//! `tenant add`, interactive: questions on stderr, answers from `input` line by line; a
//! value that fails is asked again with the previous answer as the default (hidden when it
//! [`looks_like_secret`]).

use super::*;

pub(super) struct Wizard<R> {
    pub(super) input: R,
    /// End each question's line after reading the answer (stdin is not a terminal, so the
    /// answer was not echoed; the answer itself is never echoed, it may be a pasted secret).
    pub(super) newline_after_answer: bool,
    /// The secret values read so far (password, API key, token): an answer holding one is
    /// never echoed back (see [`looks_like_secret`]).
    pub(super) seen: Vec<SecretString>,
}

impl<R: AsyncBufRead + Unpin> Wizard<R> {
    /// One answer: the trimmed line, or `default` for an empty one. The end of the input
    /// stops the setup.
    async fn ask(&mut self, question: &str, default: Option<&str>) -> anyhow::Result<String> {
        loop {
            match default {
                Some(d) if looks_like_secret(d, &self.seen) => {
                    eprint!("{question} [{HIDDEN_DEFAULT}]: ")
                }
                Some(d) => eprint!("{question} [{d}]: "),
                None => eprint!("{question}: "),
            }
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            let n = self
                .input
                .read_line(&mut line)
                .await
                .context("cannot read the answer from stdin")?;
            if n == 0 {
                eprintln!();
                bail!("the input ended before the setup was complete; nothing was written");
            }
            if self.newline_after_answer {
                eprintln!();
            }
            let answer = line.trim();
            match (answer.is_empty(), default) {
                (false, _) => return Ok(answer.to_string()),
                (true, Some(d)) => return Ok(d.to_string()),
                (true, None) => eprintln!("  an answer is needed"),
            }
        }
    }

    /// Asks until `parse` accepts the answer. `given` (a flag) is tried first, without asking.
    /// Returns the answer as typed and the parsed value.
    async fn obtain<T>(
        &mut self,
        question: &str,
        given: Option<String>,
        default: Option<&str>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> anyhow::Result<(String, T)> {
        if let Some(given) = given {
            match parse(&given) {
                Ok(v) => return Ok((given, v)),
                Err(e) => eprintln!("  ✗ {question}: {}", unechoed(&e, &given)),
            }
        }
        loop {
            let answer = self.ask(question, default).await?;
            match parse(&answer) {
                Ok(v) => return Ok((answer, v)),
                Err(e) => eprintln!("  ✗ {}", unechoed(&e, &answer)),
            }
        }
    }

    /// Asks for a secret reference until it resolves. `given` (the flags) is tried first.
    async fn obtain_secret(
        &mut self,
        field: SecretField,
        id: &str,
        given: Option<GivenRef>,
        default: Option<&str>,
    ) -> anyhow::Result<Secret> {
        if let Some(given) = given {
            match resolve_given(&given, field) {
                Ok(secret) => {
                    eprintln!("  ✓ {}: {}", field.what, secret.reference.describe());
                    self.seen.push(secret.value.clone());
                    return Ok(secret);
                }
                Err(e) => eprintln!("  ✗ {}: {e}", field.what),
            }
        }
        let example = field.example_env.replace("{ID}", &id.to_uppercase().replace('-', "_"));
        let question = format!(
            "{} — an environment variable name (e.g. {example}) or a file path",
            capitalise(field.what)
        );
        loop {
            let answer = self.ask(&question, default).await?;
            match resolve_answer(&answer, field) {
                Ok(secret) => {
                    eprintln!("  ✓ {}", secret.reference.describe());
                    self.seen.push(secret.value.clone());
                    return Ok(secret);
                }
                Err(e) => eprintln!("  ✗ {e}"),
            }
        }
    }

    pub(super) async fn run(&mut self, args: &TenantAddArgs, ids: &[String]) -> anyhow::Result<NewTenant> {
        eprintln!(
            "Adding a tenant to {}. Each value is checked as soon as it can be; Enter keeps a [default].\n\
             Secrets are given as references: the name of an environment variable, or the path of a file, \
             holding them.",
            args.config.display()
        );
        let (_, id) = self
            .obtain("Tenant id (a-z, 0-9, '-'; e.g. acme)", args.id.clone(), None, |v| {
                parse_id(v, ids)
            })
            .await?;

        // UKG Pro: ask, check, ask again what a failure points at (the previous answer is the default).
        eprintln!(
            "\nUKG Pro (the host is on {UKG_WEB_SERVICES_PAGE}; the account and the Customer API Key on \
             {UKG_ACCOUNTS_PAGE})"
        );
        let mut url = self.ask_ukg_url(args.ukg_url.clone(), None).await?;
        let ask_user = "Web service account user name";
        let mut user = self
            .obtain(ask_user, args.ukg_username.clone(), None, parse_username)
            .await?;
        let mut password = self
            .obtain_secret(UKG_PASSWORD, &id, given_ref(args, UKG_PASSWORD), None)
            .await?;
        let mut api_key = self
            .obtain_secret(UKG_API_KEY, &id, given_ref(args, UKG_API_KEY), None)
            .await?;
        loop {
            let base = &url.1;
            eprintln!("Checking UKG Pro at {base} ...");
            let findings = check::check_ukg(&ukg_spec(base, &user.1, &password, &api_key), policy()).await;
            let mut lines = check::ukg_lines("", base, &findings, None);
            lines.push(employee_export_note());
            print_lines(&lines);
            let again = match ukg_problem(base, &findings) {
                None => break,
                Some(UkgProblem::Url(text)) => {
                    eprintln!("✗ {text}\n  Enter the URL again:");
                    url = self.ask_ukg_url(None, Some(&url.0)).await?;
                    continue;
                }
                Some(UkgProblem::Credentials(text)) => format!("{text}\n  Enter them again (Enter keeps an answer):"),
                Some(UkgProblem::Permissions(text)) => format!(
                    "{text}\n  Grant it, then press Enter at each question to check again (or give another account):"
                ),
            };
            eprintln!("✗ {again}");
            user = self.obtain(ask_user, None, Some(&user.0), parse_username).await?;
            let previous = password.reference.answer().to_string();
            password = self.obtain_secret(UKG_PASSWORD, &id, None, Some(&previous)).await?;
            let previous = api_key.reference.answer().to_string();
            api_key = self.obtain_secret(UKG_API_KEY, &id, None, Some(&previous)).await?;
        }

        let target = self.ask_target(args, &id).await?;
        eprintln!();
        let (_, contact) = self
            .obtain(
                "Technical contact (email address, told when a run needs a person)",
                args.contact.clone(),
                None,
                parse_contact,
            )
            .await?;
        Ok(NewTenant {
            id,
            contact,
            ukg_url: url.1,
            ukg_username: user.1,
            ukg_password: password,
            ukg_api_key: api_key,
            target,
        })
    }

    /// Where users go: the SCIM app (URL and token, checked live) or a user file's folder.
    async fn ask_target(&mut self, args: &TenantAddArgs, id: &str) -> anyhow::Result<NewTarget> {
        let kind = if args.file_dir.is_some() {
            "file".to_string()
        } else if args.scim_url.is_some() || args.scim_token_env.is_some() || args.scim_token_file.is_some() {
            "scim".to_string()
        } else {
            eprintln!();
            self.obtain(
                "Target: \"scim\" (the app's SCIM 2.0 API) or \"file\" (a user file in a folder, e.g. for Betterworks)",
                None,
                Some("scim"),
                |v| match v.trim().to_lowercase().as_str() {
                    k @ ("scim" | "file") => Ok(k.to_string()),
                    _ => Err("expected scim or file".to_string()),
                },
            )
            .await?
            .1
        };
        if kind == "file" {
            let (_, directory) = self
                .obtain(
                    "Folder for the user file (created by the first run if missing)",
                    args.file_dir.clone(),
                    None,
                    parse_file_dir,
                )
                .await?;
            eprintln!("  ✓ user file folder {directory}");
            return Ok(NewTarget::File { directory });
        }
        // The SCIM app, the same way as UKG.
        eprintln!("\nThe app (SCIM 2.0)");
        let mut scim_url = self
            .ask_url(
                SCIM_URL_QUESTION,
                args.scim_url.clone(),
                None,
                config::normalize_scim_url,
            )
            .await?;
        let mut token = self
            .obtain_secret(SCIM_TOKEN, id, given_ref(args, SCIM_TOKEN), None)
            .await?;
        loop {
            let base = &scim_url.1;
            eprintln!("Checking the SCIM app at {base} ...");
            let result = check::check_scim(&scim_spec(base, &token), policy()).await;
            print_lines(&[check::scim_line("", base, &result, None)]);
            match scim_problem(base, &result) {
                None => break,
                Some((text, true)) => {
                    eprintln!("✗ {text}\n  Enter the token reference again:");
                    let previous = token.reference.answer().to_string();
                    token = self.obtain_secret(SCIM_TOKEN, id, None, Some(&previous)).await?;
                }
                Some((text, false)) => {
                    eprintln!("✗ {text}\n  Enter the URL again:");
                    scim_url = self
                        .ask_url(SCIM_URL_QUESTION, None, Some(&scim_url.0), config::normalize_scim_url)
                        .await?;
                }
            }
        }
        Ok(NewTarget::Scim { url: scim_url.1, token })
    }

    /// The UKG host URL, asked until the host answers: one request without credentials
    /// (UKG answers 401), so a mistyped host is asked again before the account questions.
    async fn ask_ukg_url(&mut self, given: Option<String>, default: Option<&str>) -> anyhow::Result<(String, String)> {
        let mut url = self
            .ask_url(UKG_URL_QUESTION, given, default, config::normalize_ukg_url)
            .await?;
        loop {
            let probe = Secret {
                reference: SecretRef::Env(String::new()),
                value: SecretString::from(""),
            };
            let spec = ukg_spec(&url.1, "hrsync-setup-probe", &probe, &probe);
            let findings = check::check_ukg(&spec, policy()).await;
            let UkgFindings::Unreachable(e) = findings else {
                eprintln!("  ✓ UKG host {} answers", url.1);
                return Ok(url);
            };
            eprintln!("  ✗ UKG host {}: {e}\n  Enter the URL again:", url.1);
            url = self
                .ask_url(UKG_URL_QUESTION, None, Some(&url.0), config::normalize_ukg_url)
                .await?;
        }
    }

    /// A URL, normalised by `normalize`; what changed is told. Returns (as typed, normalised).
    async fn ask_url(
        &mut self,
        question: &str,
        given: Option<String>,
        default: Option<&str>,
        normalize: Normalize,
    ) -> anyhow::Result<(String, String)> {
        let (typed, (url, notices)) = self.obtain(question, given, default, normalize).await?;
        for n in &notices {
            eprintln!("  note: {n}");
        }
        if !notices.is_empty() {
            eprintln!("  using {url}");
        }
        Ok((typed, url))
    }
}

/// [`config::normalize_ukg_url`] or [`config::normalize_scim_url`]: the URL and what changed.
pub(super) type Normalize = fn(&str) -> Result<(String, Vec<String>), String>;

pub(super) const UKG_URL_QUESTION: &str = "UKG API host URL (e.g. https://service4.ultipro.com)";
pub(super) const SCIM_URL_QUESTION: &str = "SCIM base URL (e.g. https://app.example.com/scim/v2)";

pub(super) fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_wizard_re_asks_until_an_answer_parses_and_stops_at_the_end_of_input() {
        let mut w = Wizard {
            input: &b"Bad Id\n\nacme\n"[..],
            newline_after_answer: true,
            seen: Vec::new(),
        };
        let (_, id) = w.obtain("id", None, None, |v| parse_id(v, &[])).await.unwrap();
        assert_eq!(id, "acme");
        let end = w.obtain("id", None, None, |v| parse_id(v, &[])).await;
        assert!(end.unwrap_err().to_string().contains("nothing was written"));

        let mut w = Wizard {
            input: &b"\n"[..],
            newline_after_answer: false,
            seen: Vec::new(),
        };
        let (answer, _) = w.obtain("id", None, Some("beta"), |v| parse_id(v, &[])).await.unwrap();
        assert_eq!(answer, "beta");
    }
}
