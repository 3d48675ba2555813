//! The shipped example (`config/hrsync.example.toml`) against the code: every key it writes
//! under a `# Default X` comment is written as X, and means the same as leaving the key out.

use super::*;

fn example_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hrsync.example.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

/// Keys the example deliberately sets to something else than their documented default.
const SET_OTHERWISE: [&str; 1] = ["remote_dir"];

/// `# Default X. ...` followed (in the same comment block) by `key = X` or `# key = X`.
#[test]
fn example_writes_each_documented_default_as_its_value() {
    let text = example_text();
    let lines: Vec<&str> = text.lines().collect();
    let mut checked = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("# Default ") else {
            continue;
        };
        // "# Default: every status but T" describes a default in words; nothing to compare.
        let documented = rest.split([' ', ',']).next().unwrap_or_default().trim_end_matches('.');
        // The key line closing this comment block (possibly commented out).
        let Some(key_line) = lines[i + 1..]
            .iter()
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.trim_start_matches("# "))
            .find(|l| l.contains(" = ") && !l.starts_with('#'))
        else {
            panic!("line {}: {line:?} is followed by no key", i + 1);
        };
        let (key, value) = key_line.split_once(" = ").unwrap_or_default();
        if SET_OTHERWISE.contains(&key) {
            continue;
        }
        assert_eq!(
            value,
            documented,
            "line {}: {key} is documented as defaulting to {documented} but written as {value}",
            i + 1
        );
        checked.push(key.to_string());
    }
    assert!(checked.len() >= 25, "too few documented defaults found: {checked:?}");
    for key in [
        "listen",
        "retry_attempts",
        "schedule",
        "page_size",
        "concurrency",
        "keep",
    ] {
        assert!(checked.iter().any(|k| k == key), "{key} not checked: {checked:?}");
    }
}

/// The example's values under `# Default` equal what the code does without them: its first
/// tenant (every default written out) against its second (none written), its [service] and
/// [smtp] against minimal ones, its file tenant against a minimal file tenant.
#[test]
fn example_defaults_are_the_code_defaults() {
    let example = parse(&example_text(), Path::new("config/hrsync.example.toml"), &env)
        .unwrap_or_else(|e| panic!("the example does not parse: {e}"));
    let minimal = parse_ok(&with_tenant(|t| t.to_string()));

    let (written, bare) = (&example.service, &minimal.service);
    assert_eq!(written.listen, bare.listen);
    assert_eq!(written.max_connections, bare.max_connections);
    assert_eq!(written.log_format, bare.log_format);
    assert_eq!(written.retry.max_attempts, bare.retry.max_attempts);
    assert_eq!(written.retry.base_delay, bare.retry.base_delay);
    assert_eq!(written.retry.max_delay, bare.retry.max_delay);
    assert_eq!(written.max_concurrent_runs, bare.max_concurrent_runs);
    assert_eq!(written.start_spread, bare.start_spread);
    assert_eq!(written.shard, bare.shard);

    let smtp = parse_ok(&format!(
        "{SERVICE}[smtp]\nhost = \"smtp.example.com\"\nfrom = \"hrsync@example.com\"\n"
    ));
    let (written, bare) = (example.smtp.as_ref(), smtp.smtp.as_ref());
    let (Some(written), Some(bare)) = (written, bare) else {
        panic!("an [smtp] table expected in both");
    };
    assert_eq!(
        (written.port, written.tls, written.timeout),
        (bare.port, bare.tls, bare.timeout)
    );

    let [acme, globex, initech] = &example.tenants[..] else {
        panic!("three tenants expected in the example");
    };
    let bare = &minimal.tenants[0];
    for (what, t) in [("acme", acme), ("globex", globex)] {
        assert_eq!(t.quarantine_after, bare.quarantine_after, "{what}");
        assert_eq!(t.timezone, bare.timezone, "{what}");
        assert_eq!(t.brake, bare.brake, "{what}");
        assert_eq!(t.first_run_review, bare.first_run_review, "{what}");
        assert_eq!(t.changes_every, bare.changes_every, "{what}");
        assert_eq!(t.scope.out_of_scope, bare.scope.out_of_scope, "{what}");
        let (u, b) = (&t.ukg, &bare.ukg);
        assert_eq!(
            (
                u.page_size,
                u.requests_per_second,
                u.burst,
                u.department_org_level,
                u.timeout
            ),
            (
                b.page_size,
                b.requests_per_second,
                b.burst,
                b.department_org_level,
                b.timeout
            ),
            "{what}"
        );
        let (s, b) = (scim(t), scim(bare));
        assert_eq!(
            (s.requests_per_second, s.burst, s.concurrency, s.timeout),
            (b.requests_per_second, b.burst, b.concurrency, b.timeout),
            "{what}"
        );
    }
    assert_eq!(acme.schedule, bare.schedule);

    let file_tenant = parse_ok(&with_file(
        "[tenants.file]\ndirectory = \"out\"\n[tenants.file.sftp]\nhost = \"sftp.example.com\"\nusername = \"u\"\npassword_env = \"P\"\nknown_hosts = \"kh\"\n",
    ));
    let bare = file_spec(&file_tenant);
    let TargetSpec::File(written) = &initech.target else {
        panic!("initech writes a file in the example");
    };
    assert_eq!(
        (written.format, &written.date_format, written.keep),
        (bare.format, &bare.date_format, bare.keep)
    );
    // The example spells the default columns as templates ("{email}"), the code as fields:
    // the same columns, compared by name.
    let names = |columns: &[user_file::Column]| columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&written.columns), names(&bare.columns));
    let (Some(written), Some(bare)) = (&written.sftp, &bare.sftp) else {
        panic!("an sftp table expected in both");
    };
    assert_eq!((written.port, written.timeout), (bare.port, bare.timeout));
}
