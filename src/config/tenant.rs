//! One `[[tenants]]` block: its own keys, `[tenants.mapping]`, and the cross-table rules
//! (a UKG source, exactly one target, no change feed for a file target).

use std::time::Duration;

use hrsync_actors::brake::BrakeSpec;
use hrsync_actors::expr::Expr;
use hrsync_actors::mapping::check_mapping_entry;
use hrsync_actors::scope::ScopeSpec;
use hrsync_actors::spec::{MappingSpec, TargetSpec, TenantSpec};
use toml::Value;

use super::raw::{Dur, RawMapping, RawTenant};
use super::validate::{
    describe, is_tenant_id, Ctx, DEFAULT_QUARANTINE_AFTER, DEFAULT_SCHEDULE, MAX_CHANGES_EVERY, MAX_SCHEDULE,
    MIN_CHANGES_EVERY, MIN_SCHEDULE,
};
use super::ConfigError;

impl Ctx<'_> {
    pub(super) fn tenant(
        &self,
        i: usize,
        raw: &RawTenant,
        notices: &mut Vec<String>,
    ) -> Result<TenantSpec, ConfigError> {
        let t = format!("tenants[{i}]");
        let id_expected = "1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-', e.g. \"acme\"";
        let id = self.string(raw.id.as_ref(), &format!("{t}.id"), id_expected)?;
        let id = self.required(id, &format!("{t}.id"), id_expected)?;
        if !is_tenant_id(id) {
            return Err(self.err(format!("{t}.id"), format!("expected {id_expected}, got {id:?}")));
        }
        let schedule = self.duration(
            raw.schedule.as_ref(),
            &format!("{t}.schedule"),
            "\"24h\" or \"6h 30m\"",
            DEFAULT_SCHEDULE,
            MIN_SCHEDULE,
            MAX_SCHEDULE,
        )?;
        let technical_contact = self.email(
            raw.technical_contact.as_ref(),
            &format!("{t}.technical_contact"),
            "it-alerts@acme.example",
        )?;
        let quarantine_after = self
            .int(raw.quarantine_after.as_ref(), &format!("{t}.quarantine_after"), 1, 100)?
            .unwrap_or(DEFAULT_QUARANTINE_AFTER) as u32;
        let tz_expected = "an IANA time zone such as \"UTC\", \"America/New_York\" or \"Europe/Paris\"";
        let timezone = match self.string(raw.timezone.as_ref(), &format!("{t}.timezone"), tz_expected)? {
            None => chrono_tz::Tz::UTC,
            Some(name) => name
                .trim()
                .parse()
                .map_err(|_| self.err(format!("{t}.timezone"), format!("expected {tz_expected}, got {name:?}")))?,
        };
        let defaults = BrakeSpec::default();
        let brake = BrakeSpec {
            max_deactivation_percent: self
                .int(
                    raw.max_deactivation_percent.as_ref(),
                    &format!("{t}.max_deactivation_percent"),
                    0,
                    100,
                )?
                .map_or(defaults.max_deactivation_percent, |v| v as u32),
            min_population: defaults.min_population,
            max_deactivations: self
                .int(
                    raw.max_deactivations.as_ref(),
                    &format!("{t}.max_deactivations"),
                    0,
                    i64::MAX,
                )?
                .map(|v| v as u64),
            min_roster_percent: self
                .int(
                    raw.min_roster_percent.as_ref(),
                    &format!("{t}.min_roster_percent"),
                    0,
                    100,
                )?
                .map_or(defaults.min_roster_percent, |v| v as u32),
        };
        let first_run_review = self
            .boolean(raw.first_run_review.as_ref(), &format!("{t}.first_run_review"))?
            .unwrap_or(false);
        let changes_every = self.changes_every(raw.changes_every.as_ref(), &format!("{t}.changes_every"))?;
        let mapping = match &raw.mapping {
            None => MappingSpec::default(),
            Some(m) => self.mapping(&format!("{t}.mapping"), m)?,
        };
        let scope = match &raw.scope {
            None => ScopeSpec::default(),
            Some(s) => self.scope(&format!("{t}.scope"), s)?,
        };
        let Some(ukg) = &raw.ukg else {
            return Err(self.err(
                format!("{t}.ukg"),
                "missing; add a [tenants.ukg] table after this tenant's [[tenants]] line",
            ));
        };
        let ukg = self.ukg(&format!("{t}.ukg"), ukg, notices)?;
        let target = match (&raw.scim, &raw.file) {
            (Some(scim), None) => TargetSpec::Scim(self.scim(&format!("{t}.scim"), scim, notices)?),
            (None, Some(file)) => TargetSpec::File(self.user_file(&format!("{t}.file"), file, &mapping)?),
            (Some(_), Some(_)) => {
                return Err(self.err(
                    &t,
                    "has both [tenants.scim] and [tenants.file]; a tenant writes to one target: keep one",
                ))
            }
            (None, None) => {
                return Err(self.err(
                    format!("{t}.scim"),
                    "missing; add a [tenants.scim] table (an app with a SCIM API) or a [tenants.file] table (a user file in a folder or over SFTP) after this tenant's [[tenants]] line",
                ))
            }
        };
        if changes_every.is_some() && matches!(target, TargetSpec::File(_)) {
            return Err(self.err(
                format!("{t}.changes_every"),
                "the change feed applies changes one person at a time through SCIM; a [tenants.file] tenant gets a whole new file from each full run: remove changes_every or shorten schedule",
            ));
        }
        Ok(TenantSpec {
            id: id.to_string(),
            schedule,
            technical_contact,
            quarantine_after,
            timezone,
            brake,
            first_run_review,
            changes_every,
            mapping,
            scope,
            ukg,
            target,
        })
    }

    /// `changes_every`: absent (the change feed is off), or a duration of at least 3 h.
    pub(super) fn changes_every(&self, v: Option<&Dur>, key: &str) -> Result<Option<Duration>, ConfigError> {
        if v.is_none() {
            return Ok(None);
        }
        let d = self.duration(
            v,
            key,
            "\"3h\" or \"6h\"",
            MIN_CHANGES_EVERY,
            Duration::ZERO,
            Duration::MAX,
        )?;
        if d > MAX_CHANGES_EVERY {
            return Err(self.err(
                key,
                format!(
                    "expected at most 24h, got {:?}: the full run already reads everything once a day",
                    humantime::format_duration(d).to_string()
                ),
            ));
        }
        if d < MIN_CHANGES_EVERY {
            return Err(self.err(
                key,
                format!(
                    "expected at least 3h, got {:?}: UKG allows its change feed 8 calls a day, at least 3 hours apart",
                    humantime::format_duration(d).to_string()
                ),
            ));
        }
        Ok(Some(d))
    }

    /// `[tenants.mapping]`: status codes that count as active, and attribute expressions.
    pub(super) fn mapping(&self, t: &str, raw: &RawMapping) -> Result<MappingSpec, ConfigError> {
        let key = format!("{t}.active_statuses");
        let expected = "a list of UKG status codes such as [\"A\", \"L\"]";
        let active_statuses = match &raw.active_statuses {
            None => None,
            Some(Value::Array(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                        other => Err(self.err(&key, format!("expected {expected}, got {}", describe(other)))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => return Err(self.err(&key, format!("expected {expected}, got {}", describe(other)))),
        };
        let mut attributes = Vec::new();
        for (path, v) in raw.attributes.iter().flatten() {
            let key = format!("{t}.attributes.\"{path}\"");
            let Value::String(src) = v else {
                return Err(self.err(
                    &key,
                    format!(
                        "expected an expression such as \"{{jobDescription}}\" (a quoted string), got {}",
                        describe(v)
                    ),
                ));
            };
            let expr = Expr::parse(src).map_err(|m| self.err(&key, m))?;
            check_mapping_entry(path, &expr).map_err(|m| self.err(&key, m))?;
            attributes.push((path.clone(), expr));
        }
        Ok(MappingSpec {
            active_statuses,
            attributes,
        })
    }
}
