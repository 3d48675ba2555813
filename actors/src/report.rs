//! Turns a run summary into the email a technical contact reads: what happened, which
//! employees, and for each cause what to do. Pure; never includes secrets or HR records
//! beyond employee ids.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::model::{Outcome, RunSummary};

/// An email ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The fix to suggest for an error message, by what it mentions.
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

/// The report for a run, or None when nothing needs a person.
pub fn run_report(s: &RunSummary) -> Option<Email> {
    let headline = match s.outcome {
        Outcome::Ok => return None,
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
    if s.outcome == Outcome::Held {
        let _ = writeln!(
            text,
            "The deactivation brake held {} deactivation(s): more than the tenant's limit at once. Nobody was deactivated.\nCheck UKG for a mass termination or a filter/permission change. If they are right, release them with:\n  hrsync approve --config FILE --tenant {} --run {}\nor drop them with --reject.\n",
            s.counts.held, s.tenant, s.run_id
        );
    }
    if let Some(e) = &s.error {
        let _ = writeln!(text, "The run could not complete: {e}\nWhat to do: {}\n", fix_for(e));
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
        escape(&subject),
        escape(&text).replace('\n', "<br>")
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
            escape(cause),
            escape(&ids.join(", ")),
            escape(fix_for(cause))
        );
    }
    Some(Email { subject, text, html })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
