//! First-run review: with `first_run_review = true`, a tenant's first run (and any run after
//! its mapping or scope changed) stops once the plan is computed. Nothing is written; the
//! plan summary is stored, emailed to the technical contact and shown in status, and
//! `hrsync approve --tenant ID` applies it.
//!
//! "Applies it" means exactly the reviewed plan: the approved run's mapper keeps only the
//! changes whose content (hash and manager) the review listed, and its writer only the
//! listed deactivations; anything new since the review is counted as `deferred` and left
//! for the next run. A completed run records the configuration's [`fingerprint`]; a run
//! whose fingerprint differs from the last applied one needs a review again.
//!
//! Used by the tenant supervisor (when to review, computing it), the mapper and the writer
//! (the filter of an approved run) and the CLI / admin API (approve, reject).

use std::collections::BTreeMap;

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::error::StoreError;
pub use crate::model::{change_key, Review, ReviewSummary};
use crate::model::{Action, RecordFailure};
use crate::plan::{PlanError, PlanReport};
use crate::report::{html_escape, Email};
use crate::scim::ScimClient;
use crate::spec::TenantSpec;
use crate::store::ProgressStore;
use crate::ukg::UkgClient;

/// Most entries of each list shown in the review email.
const EMAIL_LIST_LIMIT: usize = 50;

/// What a tenant's next run must do about review.
#[derive(Debug, Clone, PartialEq)]
pub enum Need {
    /// Run normally (review off, or this configuration was applied before).
    None,
    /// Compute a plan and wait for approval.
    Compute,
    /// A plan for this configuration already waits for approval: do nothing.
    Waiting(Box<Review>),
    /// The plan was approved: run, applying exactly it.
    Approved,
}

/// A stable digest of what decides the plan besides UKG's data: the mapping, the scope
/// and the department's org level.
pub fn fingerprint(spec: &TenantSpec) -> String {
    let text = format!(
        "{:?}\u{1e}{}\u{1e}{}",
        spec.mapping,
        spec.scope.fingerprint(),
        spec.ukg.department_org_level
    );
    Sha256::digest(text.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `spec`'s next run must be reviewed, is waiting, or may run.
pub fn need(spec: &TenantSpec, store: &dyn ProgressStore) -> Result<Need, StoreError> {
    if !spec.first_run_review {
        return Ok(Need::None);
    }
    let fp = fingerprint(spec);
    // A run already under way (e.g. resumed after a crash) goes on.
    if store.cursor()?.is_some_and(|c| !c.complete) && store.review()?.is_none_or(|r| r.approved) {
        return Ok(Need::None);
    }
    match store.review()? {
        Some(r) if r.fingerprint == fp && r.approved => Ok(Need::Approved),
        Some(r) if r.fingerprint == fp => Ok(Need::Waiting(Box::new(r))),
        _ if store.applied_fingerprint()?.as_deref() == Some(fp.as_str()) => Ok(Need::None),
        _ => Ok(Need::Compute),
    }
}

/// Why a review could not be approved or discarded.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no plan is waiting for review for tenant {0} (with first_run_review = true, a run computes one)")]
    NothingWaiting(String),
    #[error("the plan waiting for tenant {0} was computed before its mapping or scope changed; the next run computes a new plan to review")]
    Stale(String),
    #[error("the plan for tenant {0} is already approved; it is applied by the next run")]
    AlreadyApproved(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Approves the plan waiting for review (the next run applies exactly it), or discards it
/// (`reject`: the next run computes a new one). Returns what happened, for a person.
pub fn decide(spec: &TenantSpec, store: &dyn ProgressStore, reject: bool) -> Result<String, ReviewError> {
    let tenant = &spec.id;
    let Some(mut review) = store.review()? else {
        return Err(ReviewError::NothingWaiting(tenant.clone()));
    };
    if reject {
        store.set_review(None)?;
        return Ok(format!(
            "the plan awaiting review for tenant {tenant} was discarded; the next run computes a new one"
        ));
    }
    if review.fingerprint != fingerprint(spec) {
        return Err(ReviewError::Stale(tenant.clone()));
    }
    if review.approved {
        return Err(ReviewError::AlreadyApproved(tenant.clone()));
    }
    review.approved = true;
    store.set_review(Some(&review))?;
    Ok(format!(
        "plan approved for tenant {tenant} ({}); applying exactly this plan",
        review.summary.line()
    ))
}

/// Computes the plan to review: the full diff (see `plan::plan`), with creates sorted into
/// new users, adoptions and conflicts against the app's current users (SCIM targets; a
/// user file has no app users to compare with).
pub async fn compute(
    spec: &TenantSpec,
    store: &dyn ProgressStore,
    ukg: &UkgClient,
    scim: Option<&ScimClient>,
) -> Result<(Review, PlanReport), PlanError> {
    let (report, items) = crate::plan::plan_with_items(spec, store, ukg).await?;
    let app_users = match scim {
        Some(scim) => scim.list_users().await?,
        None => Vec::new(),
    };
    let by_external_id: BTreeMap<&str, &crate::scim::RemoteUser> = app_users
        .iter()
        .filter_map(|u| u.external_id.as_deref().map(|x| (x, u)))
        .collect();
    let by_user_name: BTreeMap<String, &crate::scim::RemoteUser> =
        app_users.iter().map(|u| (u.user_name.to_lowercase(), u)).collect();
    let mut summary = ReviewSummary {
        read: report.read,
        updates: report.updates.len() as u64,
        reactivations: report.reactivations.len() as u64,
        manager_links: report.manager_links.len() as u64,
        deactivations: report.deactivations.len() as u64,
        set_aside: report.set_aside.len() as u64,
        out_of_scope: report.out_of_scope.len() as u64,
        unchanged: report.unchanged,
        brake: report.brake.clone(),
        ..ReviewSummary::default()
    };
    let mut conflicts = Vec::new();
    let mut changes = BTreeMap::new();
    for item in &items {
        if matches!(item.action, Action::Deactivate { .. }) {
            continue;
        }
        changes.insert(item.user.external_id.clone(), change_key(item));
        if item.action != Action::Create {
            continue;
        }
        if by_external_id.contains_key(item.user.external_id.as_str()) {
            summary.adoptions += 1;
            continue;
        }
        match by_user_name.get(&item.user.user_name.to_lowercase()) {
            Some(u) if u.external_id.as_deref().is_some_and(|x| x != item.user.external_id) => {
                summary.conflicts += 1;
                conflicts.push(RecordFailure {
                    employee_id: item.user.external_id.clone(),
                    reason: format!(
                        "userName {} already belongs to app user {} of employee {}",
                        item.user.user_name,
                        u.id,
                        u.external_id.as_deref().unwrap_or_default()
                    ),
                });
            }
            Some(_) => summary.adoptions += 1,
            None => summary.creates += 1,
        }
    }
    let review = Review {
        fingerprint: fingerprint(spec),
        created_at: Utc::now(),
        approved: false,
        changes,
        deactivations: report.deactivations.iter().map(|d| d.employee_id.clone()).collect(),
        summary,
        conflicts,
    };
    Ok((review, report))
}

/// The email asking the technical contact to review the plan.
pub fn review_email(tenant: &str, review: &Review, report: &PlanReport) -> Email {
    use std::fmt::Write;
    let s = &review.summary;
    let subject = format!(
        "[hrsync] {tenant}: plan ready for review — {} create, {} adopt, {} update, {} deactivate; nothing written yet",
        s.creates, s.adoptions, s.updates, s.deactivations
    );
    let mut text = format!(
        "Tenant: {tenant}\nPlanned: {}\n\nThis tenant asks for a review before its first run (or after its mapping or scope changed), so nothing was written to the app.\nSee every change, field by field:\n  hrsync plan --config FILE --tenant {tenant}\nApply exactly this plan:\n  hrsync approve --config FILE --tenant {tenant}\nDiscard it (the next run plans again):\n  hrsync approve --config FILE --tenant {tenant} --reject\n\n",
        s.line()
    );
    if let Some(b) = &s.brake {
        let _ = writeln!(
            text,
            "Note: the deactivation brake would trip ({b}); its deactivations would then be held for a second approval.\n"
        );
    }
    let mut section = |title: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        let _ = writeln!(text, "{title} ({}):", lines.len());
        for l in lines.iter().take(EMAIL_LIST_LIMIT) {
            let _ = writeln!(text, "  {l}");
        }
        if lines.len() > EMAIL_LIST_LIMIT {
            let _ = writeln!(
                text,
                "  … and {} more (see hrsync plan)",
                lines.len() - EMAIL_LIST_LIMIT
            );
        }
        let _ = writeln!(text);
    };
    let change = |c: &crate::plan::Change| format!("{} {}", c.employee_id, c.user_name);
    section(
        "Conflicts (would be set aside)",
        review
            .conflicts
            .iter()
            .map(|f| format!("{}: {}", f.employee_id, f.reason))
            .collect(),
    );
    section("Creates and adoptions", report.creates.iter().map(change).collect());
    section("Updates", report.updates.iter().map(change).collect());
    section("Reactivations", report.reactivations.iter().map(change).collect());
    section(
        "Deactivations",
        report
            .deactivations
            .iter()
            .map(|d| format!("{} ({})", d.employee_id, d.reason))
            .collect(),
    );
    section(
        "Set aside",
        report
            .set_aside
            .iter()
            .map(|f| format!("{}: {}", f.employee_id, f.reason))
            .collect(),
    );
    section(
        "Out of scope",
        report
            .out_of_scope
            .iter()
            .map(|f| format!("{} ({})", f.employee_id, f.reason))
            .collect(),
    );
    let html = format!("<h2>{}</h2><pre>{}</pre>", html_escape(&subject), html_escape(&text));
    Email { subject, text, html }
}
