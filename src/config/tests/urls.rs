//! URLs: checked and named, the UKG URL reduced to its https host, the SCIM URL keeping its
//! path, notices, loopback hosts.

use super::*;

#[test]
fn urls_are_checked_and_named() {
    let cases = [
            ("ftp://service4.ultipro.com", "tenant acme: ukg.base_url: expected an https:// URL such as \"https://service4.ultipro.com\", got \"ftp://service4.ultipro.com\""),
            ("service4.ultipro.com", "tenant acme: ukg.base_url: expected an https:// URL"),
            ("https://", "tenant acme: ukg.base_url: expected an https:// URL"),
            ("", "tenant acme: ukg.base_url: expected an https:// URL such as \"https://service4.ultipro.com\", got an empty string"),
        ];
    for (url, expected) in cases {
        let e = parse_err(&with_tenant(|t| t.replace("https://service4.ultipro.com", url)));
        assert!(e.contains(expected), "{url}: {e}");
    }
    let e = parse_err(&with_tenant(|t| {
        t.replace(
            "https://service4.ultipro.com",
            &format!("https://svc:{CANARY}@service4.ultipro.com"),
        )
    }));
    assert!(
        e.contains("tenant acme: ukg.base_url: a user name or password in the URL is not accepted"),
        "{e}"
    );
    let e = parse_err(&with_tenant(|t| {
        t.replace(
            "https://app.example.com/scim/v2",
            &format!("https://app.example.com/scim/v2?token={CANARY}"),
        )
    }));
    assert!(
        e.contains("tenant acme: scim.base_url: a query string or fragment is not accepted"),
        "{e}"
    );
}

#[test]
fn ukg_url_is_reduced_to_https_host() {
    let (url, notices) = normalize_ukg_url("http://servicet.ultipro.com/services/EmployeePerson").unwrap();
    assert_eq!(url, "https://servicet.ultipro.com");
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices[0].contains("upgraded http://servicet.ultipro.com to https://servicet.ultipro.com"),
        "{notices:?}"
    );
    assert!(
        notices[1].contains("dropped path /services/EmployeePerson"),
        "{notices:?}"
    );

    assert_eq!(
        normalize_ukg_url("https://service4.ultipro.com").unwrap(),
        ("https://service4.ultipro.com".to_string(), vec![])
    );
    assert_eq!(
        normalize_ukg_url(" https://Service4.UltiPro.com/ ").unwrap().0,
        "https://service4.ultipro.com"
    );
    assert_eq!(
        normalize_ukg_url("https://service4.ultipro.com:8443/x").unwrap().0,
        "https://service4.ultipro.com:8443"
    );
    assert_eq!(
        normalize_ukg_url("https://service4.ultipro.com/?a=1").unwrap().1.len(),
        1
    );
    // Loopback keeps http (simulators, tests).
    for raw in [
        "http://127.0.0.1:3000",
        "http://localhost:3000/",
        "http://[::1]:3000",
        "http://127.1.2.3",
    ] {
        let (url, notices) = normalize_ukg_url(raw).unwrap();
        assert!(url.starts_with("http://"), "{raw} -> {url}");
        assert!(notices.is_empty(), "{raw}: {notices:?}");
    }
    assert_eq!(
        normalize_ukg_url("http://127.0.0.1:3000/").unwrap().0,
        "http://127.0.0.1:3000"
    );
}

#[test]
fn scim_url_keeps_its_path() {
    assert_eq!(
        normalize_scim_url("https://app.example.com/scim/v2/").unwrap(),
        ("https://app.example.com/scim/v2".to_string(), vec![])
    );
    let (url, notices) = normalize_scim_url("http://app.example.com/scim/v2").unwrap();
    assert_eq!(url, "https://app.example.com/scim/v2");
    assert_eq!(notices, vec!["upgraded http://app.example.com to https://app.example.com: plain http is only used towards loopback hosts"]);
    let (url, notices) = normalize_scim_url("http://127.0.0.1:9000/acme/v2/").unwrap();
    assert_eq!((url.as_str(), notices.len()), ("http://127.0.0.1:9000/acme/v2", 0));
    let (url, notices) = normalize_scim_url("https://app.example.com/scim/v2/Users").unwrap();
    assert_eq!(url, "https://app.example.com/scim/v2");
    assert!(notices[0].contains("dropped /Users"), "{notices:?}");
    assert_eq!(
        normalize_scim_url("https://app.example.com").unwrap().0,
        "https://app.example.com"
    );
}

#[test]
fn url_notices_reach_settings_with_file_and_key() {
    let s = parse_ok(&with_tenant(|t| {
        t.replace("https://service4.ultipro.com", "http://servicet.ultipro.com/services/x")
    }));
    assert_eq!(s.tenants[0].ukg.base_url, "https://servicet.ultipro.com");
    assert_eq!(s.notices.len(), 2, "{:?}", s.notices);
    assert!(
        s.notices[0].starts_with(
            "config/hrsync.toml: tenant acme: ukg.base_url: upgraded http://servicet.ultipro.com to https://"
        ),
        "{:?}",
        s.notices
    );
    assert!(
        s.notices[1].starts_with("config/hrsync.toml: tenant acme: ukg.base_url: dropped path /services/x"),
        "{:?}",
        s.notices
    );
}

#[test]
fn loopback_hosts() {
    for host in [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "127.0.0.1",
        "127.255.0.9",
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",
    ] {
        assert!(is_loopback_host(host), "{host}");
    }
    for host in [
        "",
        "example.com",
        "10.0.0.1",
        "0.0.0.0",
        "::",
        "localhost.example.com",
        "128.0.0.1",
        "[::2]",
    ] {
        assert!(!is_loopback_host(host), "{host}");
    }
}
