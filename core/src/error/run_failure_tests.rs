//! A test per cause a run fails for: the typed error becomes its [`RunFailure`], whose line
//! is today's reason text and whose fix and quarantine follow from the type.

use super::*;

fn check(f: &RunFailure, line: &str, fix: &str, at_once: bool) {
    assert!(f.to_string().contains(line), "line of {f:?}: {f}");
    assert!(f.fix().contains(fix), "fix of {f:?}: {}", f.fix());
    assert_eq!(f.quarantines_at_once(), at_once, "quarantine of {f:?}");
}

#[test]
fn ukg_credentials_refused() {
    let f = RunFailure::from(&UkgError::Unauthorized {
        path: "/personnel/v1/employee-demographic-details".into(),
    });
    assert_eq!(f.cause(), FailureCause::UkgCredentials);
    check(&f, "UKG Pro rejected the credentials (401)", "Customer API Key", true);
}

#[test]
fn ukg_permission_denied_names_the_endpoint() {
    let f = RunFailure::from(&UkgError::Forbidden {
        path: "/personnel/v1/compensation-details".into(),
        permission: "Personnel Integration",
    });
    assert_eq!(f.cause(), FailureCause::UkgDenied);
    check(&f, "UKG Pro denied access to /personnel/v1/compensation-details (403); give the web service account the Personnel Integration permission", "permissions in UKG", true);
}

#[test]
fn ukg_unreachable_5xx_and_throttled() {
    for e in [
        UkgError::Unreachable("connection refused".into()),
        UkgError::Status {
            path: "/p".into(),
            status: 503,
            detail: "down".into(),
        },
        UkgError::Throttled {
            path: "/p".into(),
            attempts: 5,
        },
        UkgError::Malformed {
            path: "/p".into(),
            detail: "truncated".into(),
        },
    ] {
        let f = RunFailure::from(&e);
        assert_eq!(f.cause(), FailureCause::UkgUnavailable);
        check(&f, &e.to_string(), "API host URL", false);
    }
    check(
        &RunFailure::from(&UkgError::Unreachable("timeout".into())),
        "UKG Pro API unreachable: timeout",
        "next run retries",
        false,
    );
}

#[test]
fn ukg_data_unusable() {
    let f = RunFailure::from(&UkgError::Roster("employment-details page 3 repeated page 2".into()));
    assert_eq!(f.cause(), FailureCause::UkgData);
    check(&f, "page 3 repeated page 2", "nothing was deactivated", false);
    let guard = RunFailure::UkgData("roster guard: UKG returned 0 employees".into());
    check(&guard, "roster guard", "roster guard", false);
}

#[test]
fn app_token_refused() {
    let f = RunFailure::from(&ScimError::Unauthorized);
    assert_eq!(f.cause(), FailureCause::AppToken);
    check(&f, "the app rejected the SCIM token (401)", "SCIM bearer token", true);
}

#[test]
fn app_unreachable_wrong_base_url_and_5xx() {
    for e in [
        ScimError::Unreachable("connection refused".into()),
        ScimError::NotFound {
            path: "/scim/v2/Users".into(),
        },
        ScimError::Status {
            path: "/Users".into(),
            status: 502,
            detail: "bad gateway".into(),
        },
        ScimError::Throttled {
            path: "/Users".into(),
            attempts: 5,
        },
    ] {
        let f = RunFailure::from(&e);
        assert_eq!(f.cause(), FailureCause::AppUnavailable, "{e}");
        check(&f, &e.to_string(), "SCIM base_url", false);
    }
    let other = RunFailure::from(&ScimError::Status {
        path: "/Users".into(),
        status: 400,
        detail: "bad".into(),
    });
    assert_eq!(other.cause(), FailureCause::Other);
}

#[test]
fn storage_full_disk_and_damaged() {
    let full = StoreError::Sled(sled::Error::Io(std::io::Error::from_raw_os_error(28)));
    let f = RunFailure::from(&full);
    assert_eq!(f.cause(), FailureCause::Storage);
    check(&f, "storage: no space left on device", "free space", false);
    let damaged = StoreError::Damaged {
        dir: "/data".into(),
        what: "a page is missing".into(),
    };
    check(
        &RunFailure::from(&damaged),
        "storage: the state database in /data is damaged",
        "restore it from a backup",
        false,
    );
    let refused = StoreError::RunClosed { run: 3, page: 2 };
    assert_eq!(RunFailure::from(&refused).cause(), FailureCause::Other);
}

#[test]
fn crashed_repeatedly() {
    let f = RunFailure::Crashed("the sync crashed 3 times in this run (last: writer: boom)".into());
    check(&f, "crashed 3 times", "kept crashing", false);
}

#[test]
fn review_failed() {
    let f = RunFailure::Review("first-run review: the review did not start (spawn)".into());
    check(&f, "first-run review:", "hrsync check", false);
}

#[test]
fn delivery_refused_quarantines_at_once_and_a_full_folder_does_not() {
    let refused = RunFailure::Delivery {
        reason: "user file not delivered: SFTP host key changed".into(),
        needs_person: true,
    };
    check(&refused, "user file not delivered", "SFTP host", true);
    let local = RunFailure::Delivery {
        reason: "user file not delivered: no such folder".into(),
        needs_person: false,
    };
    check(&local, "no such folder", "folder", false);
}

#[test]
fn other() {
    check(
        &RunFailure::Other("something odd".into()),
        "something odd",
        "hrsync's log",
        false,
    );
}

#[test]
fn the_cause_tag_reads_back() {
    let json = serde_json::to_string(&FailureCause::AppToken).unwrap();
    assert_eq!(json, "\"app_token\"");
    assert_eq!(
        serde_json::from_str::<FailureCause>(&json).unwrap(),
        FailureCause::AppToken
    );
}
