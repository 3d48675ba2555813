//! A tenant's rate limiters and request counters, owned above the actors that may restart
//! (re-exported as `tenant::TenantResources`).

use std::sync::Arc;

use crate::model::Traffic;
use crate::spec::TenantSpec;
use crate::upstream::{self, Counters, Limiter};

/// A tenant's rate limiters and request counters: created once per process, so that
/// restarting any actor never resets a quota.
#[derive(Clone)]
pub struct TenantResources {
    pub ukg_limiter: Arc<Limiter>,
    pub scim_limiter: Arc<Limiter>,
    pub ukg_counters: Arc<Counters>,
    pub scim_counters: Arc<Counters>,
}

impl TenantResources {
    pub fn new(spec: &TenantSpec) -> Self {
        // A file target makes no SCIM requests; its limiter is never asked.
        let (scim_rps, scim_burst) = spec
            .target
            .scim()
            .map_or((1, None), |s| (s.requests_per_second, s.burst));
        TenantResources {
            ukg_limiter: upstream::limiter(spec.ukg.requests_per_second, spec.ukg.burst),
            scim_limiter: upstream::limiter(scim_rps, scim_burst),
            ukg_counters: Arc::default(),
            scim_counters: Arc::default(),
        }
    }

    /// The tenant's request counters now.
    pub(crate) fn traffic(&self) -> Traffic {
        Traffic {
            ukg_requests: self.ukg_counters.requests(),
            ukg_retries: self.ukg_counters.retries(),
            ukg_throttled: self.ukg_counters.throttled(),
            scim_requests: self.scim_counters.requests(),
            scim_retries: self.scim_counters.retries(),
            scim_throttled: self.scim_counters.throttled(),
        }
    }
}
