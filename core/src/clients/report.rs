//! Turns a run summary into the email a technical contact reads: what happened, which
//! employees, and for each cause what to do. Pure; never includes secrets or HR records
//! beyond employee ids.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::engine::brake::Held;
use crate::error::FailureCause;
use crate::model::{Outcome, RunSummary};

/// An email ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The fix to suggest for a record set aside, by what its reason mentions. Only for
/// per-record failures: a failed run's fix comes from its typed cause
/// (`RunFailure::fix`, stored as `RunSummary::cause`), never from its text.
pub fn fix_for(reason: &str) -> &'static str {
    let r = reason.to_lowercase();
    if r.contains("credentials") || r.contains("401") && r.contains("ukg") {
        "Check the web service account user name and password and the Customer API Key (UKG: System Configuration → Security → Web Services)."
    } else if r.contains("denied access") || r.contains("403") {
        "Check the service account's permissions in UKG: Company Configuration Integration, Employee Export, Personnel Integration."
    } else if r.contains("unreachable") {
        "Check the API host URL: it must be https and reachable from the hrsync machine (e.g. https://service4.ultipro.com)."
    } else if r.contains("scim token") {
        "Check the SCIM bearer token configured for this tenant; it may have expired or been revoked in the app."
    } else if r.contains("userName") || r.contains("username") {
        "Two people share a work email, or the app holds an account for someone else with this email: correct the email in UKG or in the app."
    } else if r.contains("email") || r.contains("name in ukg") {
        "Check the record's data in UKG (work email, first and last name)."
    } else if r.contains("manager") {
        "Check the employee's supervisor in UKG: the supervisor must be an active employee with a valid work email."
    } else {
        "Check the field mapping and the record's data in UKG; if it persists, contact hrsync support with the run id."
    }
}

/// Held deactivations listed in a report (the rest are counted).
const HELD_SHOWN: usize = 200;

/// The report for a run, or None when nothing needs a person. `held`: the deactivations a
/// `held` run holds (from the store), listed with why, when still held.
pub fn run_report(s: &RunSummary, held: Option<&Held>) -> Option<Email> {
    let headline = match s.outcome {
        // The review has its own email (`review::review_email`).
        Outcome::Ok | Outcome::AwaitingReview => return None,
        Outcome::CompletedWithFailures => {
            format!("{} employee(s) could not be synced", s.counts.failed)
        }
        Outcome::Failed => "sync failed".to_string(),
        Outcome::Held => format!("{} deactivation(s) held for approval", s.counts.held),
    };
    let subject = format!("[hrsync] {}: {} (run {})", s.tenant, headline, s.run_id);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Tenant: {}\nRun: {}\nStarted: {}\nFinished: {}\n",
        s.tenant,
        s.run_id,
        s.started_at.to_rfc3339(),
        s.finished_at.to_rfc3339()
    );
    let held = held.filter(|h| s.outcome == Outcome::Held && h.run_id == s.run_id);
    if s.outcome == Outcome::Held {
        let why = held.map_or(String::new(), |h| format!(" ({})", h.reason));
        let (t, r) = (&s.tenant, s.run_id);
        let _ = writeln!(
            text,
            "The deactivation brake held {n} deactivation(s) of run {r}: more than the tenant's limit at once{why}. Nobody was deactivated; the rest of the run was applied.\nCheck UKG for a mass termination or a filter/permission change.\n\nIf they are right, release them (FILE is hrsync's config file):\n  hrsync approve --config FILE --tenant {t} --run {r}\nIf not, drop them (the next run plans them again if they still apply):\n  hrsync approve --config FILE --tenant {t} --run {r} --reject\nWhile `hrsync run` is up, use its admin API instead: POST /tenants/{t}/approve with {{\"run\": {r}}} or {{\"run\": {r}, \"reject\": true}}.\n",
            n = s.counts.held,
        );
        if let Some(h) = held {
            let _ = writeln!(text, "Held deactivations (employee id: why):");
            for d in h.deactivations.iter().take(HELD_SHOWN) {
                let _ = writeln!(text, "- {}: {}", d.employee_id, d.reason);
            }
            if h.deactivations.len() > HELD_SHOWN {
                let _ = writeln!(text, "… and {} more", h.deactivations.len() - HELD_SHOWN);
            }
            text.push('\n');
        }
    }
    if let Some(e) = &s.error {
        // A summary stored before causes were typed has none: its text is all there is.
        let fix = s.cause.map_or_else(|| fix_for(e), FailureCause::fix);
        let _ = writeln!(text, "The run could not complete: {e}\nWhat to do: {fix}\n");
    }
    let c = &s.counts;
    let _ = writeln!(
        text,
        "Created {}, adopted {}, updated {}, deactivated {}, reactivated {}, managers linked {}, unchanged {}, failed {}.\n",
        c.created, c.adopted, c.updated, c.deactivated, c.reactivated, c.managers_linked, c.unchanged, c.failed
    );
    let mut by_cause: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in &s.failures {
        by_cause
            .entry(f.reason.as_str())
            .or_default()
            .push(f.employee_id.as_str());
    }
    let mut html = format!(
        "<h2>{}</h2><p>{}</p>",
        html_escape(&subject),
        html_escape(&text).replace('\n', "<br>")
    );
    for (cause, ids) in &by_cause {
        let _ = writeln!(
            text,
            "- {cause}\n  Employees: {}\n  What to do: {}\n",
            ids.join(", "),
            fix_for(cause)
        );
        let _ = write!(
            html,
            "<h3>{}</h3><p>Employees: {}</p><p>What to do: {}</p>",
            html_escape(cause),
            html_escape(&ids.join(", ")),
            html_escape(fix_for(cause))
        );
    }
    if !s.excluded.is_empty() {
        let mut by_rule: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in &s.excluded {
            by_rule
                .entry(e.reason.as_str())
                .or_default()
                .push(e.employee_id.as_str());
        }
        let _ = writeln!(text, "Out of scope (not synced): {}", s.counts.out_of_scope);
        let _ = write!(html, "<h3>Out of scope (not synced): {}</h3>", s.counts.out_of_scope);
        for (rule, ids) in &by_rule {
            let shown: Vec<&str> = ids.iter().take(OUT_OF_SCOPE_SHOWN).copied().collect();
            let more = ids.len().saturating_sub(OUT_OF_SCOPE_SHOWN);
            let more = if more > 0 {
                format!(" … and {more} more")
            } else {
                String::new()
            };
            let _ = writeln!(text, "- {rule}: {}{more}", shown.join(", "));
            let _ = write!(
                html,
                "<p>{}: {}{}</p>",
                html_escape(rule),
                html_escape(&shown.join(", ")),
                html_escape(&more)
            );
        }
    }
    Some(Email { subject, text, html })
}

/// Employee ids listed per scope rule in a report.
const OUT_OF_SCOPE_SHOWN: usize = 20;

/// Escapes text for HTML (element content and quoted attributes).
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A stable key for "the same failure": the outcome, the run error and the set of
/// (employee, reason) pairs. The same signature is mailed at most once per 24 h.
pub fn signature(s: &RunSummary) -> String {
    use sha2::{Digest, Sha256};
    let mut parts: Vec<String> = s
        .failures
        .iter()
        .map(|f| format!("{}\u{1f}{}", f.employee_id, f.reason))
        .collect();
    parts.sort();
    // Each held run names its own approve command: mailed once per run.
    let held_run = if s.outcome == Outcome::Held { s.run_id } else { 0 };
    let text = format!(
        "{:?}\u{1e}{held_run}\u{1e}{}\u{1e}{}\u{1e}{}",
        s.outcome,
        s.error.as_deref().unwrap_or(""),
        s.counts.held,
        parts.join("\u{1e}")
    );
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "run-{}",
        digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The email saying a failing tenant works again.
pub fn recovery_report(s: &RunSummary) -> Email {
    let subject = format!("[hrsync] {}: sync recovered (run {})", s.tenant, s.run_id);
    let text = format!(
        "Tenant: {}\nRun: {}\nFinished: {}\n\nThe sync completed again: every record was applied. Nothing to do.\n",
        s.tenant,
        s.run_id,
        s.finished_at.to_rfc3339()
    );
    let html = format!(
        "<h2>{}</h2><p>{}</p>",
        html_escape(&subject),
        html_escape(&text).replace('\n', "<br>")
    );
    Email { subject, text, html }
}

/// The email saying a tenant entered (or left) quarantine.
/// The quarantine email; `cause`, the last failure's typed cause, gives the fix (a reason
/// without one falls back to its words).
pub fn quarantine_report(tenant: &str, entered: bool, reason: &str, cause: Option<FailureCause>) -> Email {
    let (subject, text) = if entered {
        (
            format!("[hrsync] {tenant}: sync quarantined"),
            format!(
                "Tenant: {tenant}\n\nThe sync keeps failing, so it is quarantined: it now retries after 6 h, then 12 h, then every 24 h, until a run succeeds.\nLast failure: {reason}\nWhat to do: {}\nOnce fixed, run `hrsync sync --config FILE --tenant {tenant} --force` (while `hrsync run` is up: POST /tenants/{tenant}/sync with {{\"force\": true}}), or wait for the next attempt.\n",
                cause.map_or_else(|| fix_for(reason), FailureCause::fix)
            ),
        )
    } else {
        (
            format!("[hrsync] {tenant}: quarantine lifted"),
            format!("Tenant: {tenant}\n\nA run succeeded: the sync is back on its schedule.\n"),
        )
    };
    let html = format!(
        "<h2>{}</h2><p>{}</p>",
        html_escape(&subject),
        html_escape(&text).replace('\n', "<br>")
    );
    Email { subject, text, html }
}

/// A short hash of a text, for signatures.
pub fn signature_of_text(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Counts, RecordFailure, Traffic};

    fn summary(outcome: Outcome, failures: Vec<RecordFailure>, error: Option<&str>) -> RunSummary {
        RunSummary {
            tenant: "acme".into(),
            run_id: 7,
            started_at: chrono::Utc::now(),
            finished_at: chrono::Utc::now(),
            outcome,
            counts: Counts {
                failed: failures.len() as u64,
                ..Counts::default()
            },
            failures,
            excluded: Vec::new(),
            review: None,
            error: error.map(str::to_string),
            cause: None,
            pages: 1,
            traffic: Traffic::default(),
        }
    }

    #[test]
    fn a_failed_run_gets_the_fix_of_its_typed_cause_not_of_its_words() {
        use crate::error::RunFailure;
        // Words that would fool the substring matcher into the UKG-credentials fix.
        let failure =
            RunFailure::AppToken("the app rejected the SCIM token (401); the UKG credentials were accepted".into());
        assert!(
            fix_for(failure.reason()).contains("Customer API Key"),
            "the words mislead"
        );
        let mut s = summary(Outcome::Failed, vec![], Some(failure.reason()));
        s.cause = Some(failure.cause());
        let e = run_report(&s, None).unwrap();
        let line = format!("The run could not complete: {failure}\nWhat to do: {}", failure.fix());
        assert!(e.text.contains(&line), "{}", e.text);
        assert!(e.text.contains("SCIM bearer token"), "{}", e.text);
        assert!(!e.text.contains("Customer API Key"), "{}", e.text);
        // A summary stored before causes were typed still gets a fix, from its words.
        s.cause = None;
        let old = run_report(&s, None).unwrap();
        assert!(
            old.text.contains("What to do: Check the web service account"),
            "{}",
            old.text
        );
    }

    #[test]
    fn a_summary_stored_before_causes_reads_without_one() {
        let mut s = summary(Outcome::Failed, vec![], Some("UKG Pro API unreachable: timeout"));
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("\"cause\""), "{json}");
        assert_eq!(serde_json::from_str::<RunSummary>(&json).unwrap().cause, None);
        s.cause = Some(FailureCause::UkgUnavailable);
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"cause\":\"ukg_unavailable\""), "{json}");
        assert_eq!(
            serde_json::from_str::<RunSummary>(&json).unwrap().cause,
            Some(FailureCause::UkgUnavailable)
        );
    }

    #[test]
    fn the_quarantine_email_gets_the_fix_of_the_typed_cause() {
        let reason = "the app rejected the SCIM token (401); the UKG credentials were accepted";
        let e = quarantine_report("acme", true, reason, Some(FailureCause::AppToken));
        assert!(
            e.text
                .contains(&format!("What to do: {}", FailureCause::AppToken.fix())),
            "{}",
            e.text
        );
        assert!(!e.text.contains("Customer API Key"), "{}", e.text);
    }

    #[test]
    fn failures_are_grouped_by_cause_with_a_fix() {
        let f = |id: &str, r: &str| RecordFailure {
            employee_id: id.into(),
            reason: r.into(),
        };
        let s = summary(
            Outcome::CompletedWithFailures,
            vec![
                f("E1", "no work email (emailAddress) in UKG; add it"),
                f("E2", "no work email (emailAddress) in UKG; add it"),
            ],
            None,
        );
        let e = run_report(&s, None).unwrap();
        assert!(e.subject.contains("acme") && e.subject.contains("2 employee(s)"));
        assert!(e.text.contains("Employees: E1, E2"), "{}", e.text);
        assert!(e.text.contains("Check the record's data in UKG"), "{}", e.text);
        assert!(run_report(&summary(Outcome::Ok, vec![], None), None).is_none());
    }

    #[test]
    fn a_held_run_lists_its_deactivations_and_both_commands() {
        use crate::engine::brake::HeldDeactivation;
        let mut s = summary(Outcome::Held, vec![], None);
        s.counts.held = 2;
        let held = Held {
            run_id: 7,
            reason: "2 deactivations exceed max_deactivations = 1".into(),
            deactivations: ["E1", "E2"]
                .iter()
                .map(|id| HeldDeactivation {
                    employee_id: id.to_string(),
                    app_id: format!("app-{id}"),
                    reason: "terminated in UKG".into(),
                    hash: None,
                    back_since: None,
                })
                .collect(),
        };
        let e = run_report(&s, Some(&held)).unwrap();
        assert!(
            e.subject.contains("2 deactivation(s) held") && e.subject.contains("run 7"),
            "{}",
            e.subject
        );
        for line in [
            "hrsync approve --config FILE --tenant acme --run 7\n",
            "hrsync approve --config FILE --tenant acme --run 7 --reject",
            "max_deactivations = 1",
            "- E1: terminated in UKG",
            "- E2: terminated in UKG",
        ] {
            assert!(e.text.contains(line), "{line:?} not in {}", e.text);
        }
        let mut next = s.clone();
        next.run_id = 8;
        assert_ne!(signature(&s), signature(&next), "each held run is mailed");
    }

    #[test]
    fn signatures_match_for_the_same_failure_only() {
        let a = summary(Outcome::Failed, vec![], Some("UKG Pro rejected the credentials (401)"));
        let mut b = a.clone();
        b.run_id = 8;
        assert_eq!(signature(&a), signature(&b), "another run, same failure");
        b.error = Some("UKG Pro API unreachable: timed out".into());
        assert_ne!(signature(&a), signature(&b));
        let fix = run_report(&a, None).unwrap();
        assert!(fix.text.contains("Customer API Key"), "{}", fix.text);
    }
}
