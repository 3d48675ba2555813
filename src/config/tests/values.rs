//! Values and defaults: every default, full round trips, ids, emails, the change feed, smtp
//! ports, shards. (Error tables by key are in `cases`.)

use super::*;

#[test]
fn first_run_review_is_a_boolean_defaulting_to_false() {
    assert!(!parse_ok(&with_tenant(|t| t.to_string())).tenants[0].first_run_review);
    let on = with_tenant(|t| t.replacen("\n[tenants.ukg]", "first_run_review = true\n\n[tenants.ukg]", 1));
    assert!(parse_ok(&on).tenants[0].first_run_review);
    let bad = with_tenant(|t| t.replacen("\n[tenants.ukg]", "first_run_review = \"yes\"\n\n[tenants.ukg]", 1));
    assert!(parse_err(&bad).contains("tenant acme: first_run_review: expected true or false, got"));
}

#[test]
fn minimal_config_gets_every_default() {
    let s = parse_ok(&with_tenant(str::to_string));
    assert_eq!(s.path, Path::new(FILE));
    assert_eq!(s.service.data_dir, Path::new("/var/lib/hrsync"));
    assert_eq!(s.service.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(s.service.log_format, LogFormat::Text);
    assert!(s.smtp.is_none());
    assert!(s.notices.is_empty(), "{:?}", s.notices);
    let [t] = &s.tenants[..] else {
        panic!("one tenant expected")
    };
    assert_eq!(t.id, "acme");
    assert_eq!(t.schedule, Duration::from_secs(86400));
    assert_eq!(t.technical_contact, "it-alerts@acme.example");
    assert_eq!(t.ukg.base_url, "https://service4.ultipro.com");
    assert_eq!(t.ukg.username, "svc-hrsync");
    assert_eq!(t.ukg.password.expose_secret(), "value-of-ACME_UKG_PASSWORD");
    assert_eq!(t.ukg.api_key.expose_secret(), "value-of-ACME_UKG_API_KEY");
    assert!(t.ukg.user_api_key.is_none());
    assert_eq!(t.ukg.page_size, 1000);
    assert_eq!(t.ukg.requests_per_second, 2);
    assert_eq!(t.ukg.burst, None);
    assert_eq!(t.ukg.department_org_level, 1);
    assert_eq!(t.ukg.timeout, Duration::from_secs(120));
    assert_eq!(scim(t).base_url, "https://app.example.com/scim/v2");
    assert_eq!(scim(t).token.expose_secret(), "value-of-ACME_SCIM_TOKEN");
    assert_eq!(scim(t).requests_per_second, 10);
    assert_eq!(scim(t).burst, None);
    assert_eq!(scim(t).concurrency, 4);
    assert_eq!(scim(t).timeout, Duration::from_secs(30));
}

#[test]
fn full_config_round_trips_into_the_specs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("user-key"), "UK-1\n").unwrap();
    let text = r#"
[service]
data_dir = "state"
listen = "0.0.0.0:9090"
log_format = "json"

[smtp]
host = "smtp.example.com"
port = 465
tls = "tls"
from = "hrsync@example.com"
username = "mailer"
password_env = "SMTP_PASSWORD"

[[tenants]]
id = "acme"
schedule = "6h 30m"
technical_contact = "it-alerts@acme.example"

[tenants.ukg]
base_url = "https://service5.ultipro.com/"
username = "svc-hrsync"
password_env = "ACME_UKG_PASSWORD"
api_key_env = "ACME_UKG_API_KEY"
user_api_key_file = "user-key"
page_size = 10000
requests_per_second = 3
burst = 6
department_org_level = 4
timeout = "5m"

[tenants.scim]
base_url = "https://app.example.com/scim/v2/"
token_env = "ACME_SCIM_TOKEN"
requests_per_second = 20
burst = 40
concurrency = 64
timeout = "45s"

[[tenants]]
id = "globex-2"
technical_contact = "ops@globex.example"
ukg = { base_url = "https://servicet.ultipro.com", username = "u", password_env = "G_PW", api_key_env = "G_KEY" }
scim = { base_url = "http://127.0.0.1:9000/scim", token_env = "G_TOKEN" }
"#;
    let path = dir.path().join("hrsync.toml");
    let s = parse(text, &path, &env).unwrap();
    assert_eq!(s.service.data_dir, dir.path().join("state"));
    assert_eq!(s.service.listen, "0.0.0.0:9090".parse().unwrap());
    assert_eq!(s.service.log_format, LogFormat::Json);
    let smtp = s.smtp.as_ref().unwrap();
    assert_eq!(
        (smtp.host.as_str(), smtp.port, smtp.tls),
        ("smtp.example.com", 465, SmtpTls::Tls)
    );
    assert_eq!(smtp.from, "hrsync@example.com");
    assert_eq!(smtp.username.as_deref(), Some("mailer"));
    assert_eq!(
        smtp.password.as_ref().unwrap().expose_secret(),
        "value-of-SMTP_PASSWORD"
    );

    let [a, g] = &s.tenants[..] else {
        panic!("two tenants expected")
    };
    assert_eq!(a.schedule, Duration::from_secs(6 * 3600 + 30 * 60));
    assert_eq!(a.ukg.base_url, "https://service5.ultipro.com");
    assert_eq!(a.ukg.user_api_key.as_ref().unwrap().expose_secret(), "UK-1");
    assert_eq!(
        (a.ukg.page_size, a.ukg.requests_per_second, a.ukg.burst),
        (10000, 3, Some(6))
    );
    assert_eq!(a.ukg.department_org_level, 4);
    assert_eq!(a.ukg.timeout, Duration::from_secs(300));
    assert_eq!(scim(a).base_url, "https://app.example.com/scim/v2");
    assert_eq!(
        (scim(a).requests_per_second, scim(a).burst, scim(a).concurrency),
        (20, Some(40), 64)
    );
    assert_eq!(scim(a).timeout, Duration::from_secs(45));

    assert_eq!(g.id, "globex-2");
    assert_eq!(g.ukg.base_url, "https://servicet.ultipro.com");
    assert_eq!(scim(g).base_url, "http://127.0.0.1:9000/scim", "loopback stays http");
    assert_eq!(scim(g).token.expose_secret(), "value-of-G_TOKEN");
    assert!(s.notices.is_empty(), "{:?}", s.notices);
}

#[test]
fn smtp_port_defaults_follow_tls_and_login_is_optional() {
    for (tls, port) in [("starttls", 587), ("tls", 465)] {
        let s = parse_ok(&format!(
            "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\ntls = \"{tls}\"\nfrom = \"a@example.com\"\n"
        ));
        let smtp = s.smtp.unwrap();
        assert_eq!(smtp.port, port);
        assert!(smtp.username.is_none() && smtp.password.is_none());
    }
    let s = parse_ok(&format!(
        "{SERVICE}[smtp]\nhost = \"localhost\"\ntls = \"none\"\nfrom = \"a@example.com\"\n"
    ));
    assert_eq!(
        (s.smtp.as_ref().unwrap().tls, s.smtp.as_ref().unwrap().port),
        (SmtpTls::None, 25)
    );
}

#[test]
fn no_tenants_is_valid_with_a_notice() {
    let s = parse_ok(SERVICE);
    assert!(s.tenants.is_empty());
    assert_eq!(s.notices.len(), 1);
    assert!(
        s.notices[0].starts_with(FILE) && s.notices[0].contains("no [[tenants]]"),
        "{:?}",
        s.notices
    );
}

#[test]
fn duplicate_tenant_id_names_both() {
    let e = parse_err(&format!("{SERVICE}{TENANT}{TENANT}"));
    assert_eq!(
        e,
        "config/hrsync.toml: tenants[1].id: \"acme\" is used by tenants[0] already; tenant ids must be unique"
    );
}

#[test]
fn bad_tenant_ids_are_refused() {
    for bad in ["Acme", "-acme", "acme-", "ac_me", "", &"a".repeat(64)] {
        let e = parse_err(&with_tenant(|t| t.replace("id = \"acme\"", &format!("id = \"{bad}\""))));
        assert!(
            e.contains("tenants[0].id: expected 1 to 63 characters of a-z, 0-9 and '-'"),
            "{bad}: {e}"
        );
    }
    let ok = parse_ok(&with_tenant(|t| {
        t.replace("id = \"acme\"", &format!("id = \"{}\"", "a".repeat(63)))
    }));
    assert_eq!(ok.tenants[0].id.len(), 63);
    let e = parse_err(&with_tenant(|t| t.replace("id = \"acme\"\n", "")));
    assert!(e.contains("tenants[0].id: missing; expected 1 to 63 characters"), "{e}");
}

#[test]
fn emails_must_look_like_emails() {
    for bad in [
        "it-alerts",
        "it alerts@acme.example",
        "it-alerts@acme",
        "@acme.example",
        "a@b@c.example",
        "Ops <ops@acme.example>",
        "a@acme..example",
    ] {
        let e = parse_err(&with_tenant(|t| t.replace("it-alerts@acme.example", bad)));
        assert!(
            e.contains("tenant acme: technical_contact: expected an email address such as"),
            "{bad}: {e}"
        );
    }
    for good in ["it-alerts@acme.example", "first.last+hr@mail.acme.co.uk"] {
        assert!(looks_like_email(good), "{good}");
    }
}

#[test]
fn changes_every_is_refused_for_a_user_file_tenant() {
    let text = with_tenant(|t| {
        t.replace("id = \"acme\"", "id = \"acme\"\nchanges_every = \"3h\"")
            .replace(
                "[tenants.scim]\nbase_url = \"https://app.example.com/scim/v2\"\ntoken_env = \"ACME_SCIM_TOKEN\"\n",
                "[tenants.file]\ndirectory = \"/var/lib/hrsync/outbox\"\n",
            )
    });
    let e = parse_err(&text);
    assert!(
        e.contains("tenant acme: changes_every: the change feed applies changes one person at a time through SCIM"),
        "{e}"
    );
}

#[test]
fn changes_every_is_off_by_default_and_at_least_3h() {
    let s = parse_ok(&with_tenant(str::to_string));
    assert_eq!(s.tenants[0].changes_every, None);
    let s = parse_ok(&with_tenant(|t| {
        t.replace("id = \"acme\"", "id = \"acme\"\nchanges_every = \"3h\"")
    }));
    assert_eq!(s.tenants[0].changes_every, Some(Duration::from_secs(3 * 3600)));
    // The errors (under 3h, over 24h, not a string) are in cases::durations_name_key_and_examples.
}

#[test]
fn shards_split_tenants_exactly_once() {
    let tenants: Vec<String> = (0..500).map(|i| format!("tenant-{i}")).collect();
    for n in [1u32, 2, 3, 7] {
        let shards: Vec<Shard> = (0..n).map(|i| format!("{i}/{n}").parse().unwrap()).collect();
        for t in &tenants {
            assert_eq!(
                shards.iter().filter(|s| s.owns(t)).count(),
                1,
                "{t} in exactly one of {n}"
            );
        }
        let biggest = shards
            .iter()
            .map(|s| tenants.iter().filter(|t| s.owns(t)).count())
            .max()
            .unwrap();
        assert!(biggest < 500 / n as usize + 60, "{n} shards are balanced: {biggest}");
    }
    assert_eq!(shard_of("acme", 3), shard_of("acme", 3), "stable");
    assert!("3/3".parse::<Shard>().is_err() && "x".parse::<Shard>().is_err() && "0/0".parse::<Shard>().is_err());
    let e = parse_err(&with_tenant(str::to_string).replacen("[service]\n", "[service]\nshard = \"4/2\"\n", 1));
    assert!(e.contains("service.shard") && e.contains("I/N"), "{e}");
}
