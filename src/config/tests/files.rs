//! Files: loading from disk, the shipped config files, tenant mappings, `[tenants.file]` targets.

use super::*;

#[test]
fn load_reports_an_unreadable_file() {
    let missing = Path::new("/nonexistent/hrsync.toml");
    let e = load(missing).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot read config file /nonexistent/hrsync.toml: No such file or directory"),
        "{e}"
    );
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hrsync.toml");
    std::fs::write(&path, "[service]\ndata_dir = \"data\"\n").unwrap();
    let s = load(&path).unwrap();
    assert_eq!(s.service.data_dir, dir.path().join("data"));
    assert_eq!(s.path, path);
}

/// Every config file shipped in `config/` parses (any variable it names is "set").
#[test]
fn shipped_config_files_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = parse(&text, &path, &env) {
                panic!("{e}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 1, "no *.toml in {}", dir.display());
    let example = parse(
        &std::fs::read_to_string(dir.join("hrsync.example.toml")).unwrap(),
        &dir.join("hrsync.example.toml"),
        &env,
    )
    .unwrap();
    let ids: Vec<&str> = example.tenants.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["acme", "globex", "initech"]);
    assert!(
        matches!(&example.tenants[2].target, TargetSpec::File(f) if f.sftp.is_some() && f.directory.is_some()),
        "the example shows a file tenant with both deliveries"
    );
    assert!(example.smtp.is_some());
    assert!(
        example.notices.is_empty(),
        "the example should need no notice: {:?}",
        example.notices
    );
}

#[test]
fn tenant_mappings_are_parsed_and_checked() {
    let base = with_tenant(|t| t.to_string());
    let add = |extra: &str| base.replace("[tenants.ukg]", &format!("{extra}\n[tenants.ukg]"));
    let s = parse(
            &add("[tenants.mapping]\nactive_statuses = [\"A\", \"L\"]\n[tenants.mapping.attributes]\ntitle = \"first_non_empty(jobDescription, jobTitle)\"\n\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\" = \"{orgLevel3Code}\"\n"),
            Path::new("config/hrsync.toml"),
            &env,
        )
        .unwrap();
    let m = &s.tenants[0].mapping;
    assert_eq!(
        m.active_statuses.as_deref(),
        Some(&["A".to_string(), "L".to_string()][..])
    );
    assert_eq!(m.attributes.len(), 2);
    let e = parse_err(&add("[tenants.mapping.attributes]\ntitle = \"{ssn}\"\n"));
    assert!(
        e.contains("tenant acme: mapping.attributes.\"title\"") && e.contains("sensitive"),
        "{e}"
    );
    let e = parse_err(&add(
        "[tenants.mapping.attributes]\nexternalId = \"{employeeNumber}\"\n",
    ));
    assert!(e.contains("set by hrsync"), "{e}");
    let e = parse_err(&add("[tenants.mapping.attributes]\ntitle = \"lowercase(jobTitle\"\n"));
    assert!(e.contains("expected ',' or ')'"), "{e}");
    let e = parse_err(&add("[tenants.mapping]\nactive_statuses = \"A\"\n"));
    assert!(
        e.contains("active_statuses") && e.contains("a list of UKG status codes"),
        "{e}"
    );
}

#[test]
fn a_file_target_gets_betterworks_defaults() {
    let s = parse_ok(&with_file("[tenants.file]\ndirectory = \"out/acme\"\n"));
    let f = file_spec(&s);
    assert_eq!(f.format, FileFormat::Csv);
    assert_eq!(f.date_format, "%m/%d/%Y");
    assert_eq!(f.columns, user_file::default_columns());
    let names: Vec<&str> = f.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "email",
            "first_name",
            "last_name",
            "employee_id",
            "title",
            "department",
            "manager_email",
            "location",
            "deactivation_date"
        ]
    );
    assert_eq!(
        f.directory.as_deref(),
        Some(Path::new("config/out/acme")),
        "relative to the file"
    );
    assert_eq!(f.keep, 30);
    assert!(f.sftp.is_none());
}

#[test]
fn a_file_target_with_columns_json_and_sftp() {
    let s = parse_ok(&with_file(
        r#"[tenants.file]
format = "json"
date_format = "%Y-%m-%d"
keep = 7
columns = [
  { name = "Email", value = "lowercase(email)" },
  { name = "Name", value = "{first_name} {last_name}" },
  { name = "Company", value = "Acme" },
]
sftp = { host = "sftp.example.com", port = 2222, username = "acme", password_env = "ACME_SFTP_PASSWORD", remote_dir = "/inbound", known_hosts = "/etc/hrsync/known_hosts" }
"#,
    ));
    let f = file_spec(&s);
    assert_eq!(
        (f.format, f.date_format.as_str(), f.keep),
        (FileFormat::JsonLines, "%Y-%m-%d", 7)
    );
    assert_eq!(f.columns.len(), 3);
    assert_eq!(f.columns[2].value, Expr::parse("Acme").unwrap());
    assert!(f.directory.is_none());
    let sftp = f.sftp.as_ref().unwrap();
    assert_eq!(
        (sftp.host.as_str(), sftp.port, sftp.username.as_str()),
        ("sftp.example.com", 2222, "acme")
    );
    assert_eq!(sftp.remote_dir, "/inbound");
    assert_eq!(sftp.known_hosts, Path::new("/etc/hrsync/known_hosts"));
    assert_eq!(sftp.timeout, Duration::from_secs(60));
    match &sftp.auth {
        SftpAuth::Password(p) => assert_eq!(p.expose_secret(), "value-of-ACME_SFTP_PASSWORD"),
        SftpAuth::Key(_) => panic!("a password expected"),
    }
    // A key from a file; Debug never shows it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), format!("{CANARY}\n")).unwrap();
    let text = with_file(
        "[tenants.file]\nsftp = { host = \"10.0.0.5\", username = \"u\", key_file = \"key\", known_hosts = \"kh\" }\n",
    );
    let s = parse(&text, &dir.path().join("hrsync.toml"), &env).unwrap();
    let sftp = file_spec(&s).sftp.as_ref().unwrap();
    assert_eq!((sftp.port, sftp.remote_dir.as_str()), (22, "."));
    assert_eq!(sftp.known_hosts, dir.path().join("kh"));
    assert!(matches!(&sftp.auth, SftpAuth::Key(k) if k.expose_secret() == CANARY));
    assert!(!format!("{s:?}").contains(CANARY), "Debug shows no key");
}

#[test]
fn file_target_errors_name_the_key() {
    let scim = "[tenants.scim]\nbase_url = \"https://app.example.com/scim/v2\"\ntoken_env = \"ACME_SCIM_TOKEN\"\n";
    let e = parse_err(&with_file(&format!("{scim}[tenants.file]\ndirectory = \"out\"\n")));
    assert!(
        e.contains("tenant acme: has both [tenants.scim] and [tenants.file]"),
        "{e}"
    );
    let e = parse_err(&with_file(""));
    assert!(
        e.contains("tenant acme: scim: missing; add a [tenants.scim] table") && e.contains("[tenants.file]"),
        "{e}"
    );
    let cases = [
            ("keep = 3\n", "tenant acme: file: no destination; set directory"),
            ("directory = \"out\"\nformat = \"xml\"\n", "tenant acme: file.format: expected \"csv\" or \"json\""),
            ("directory = \"out\"\ndate_format = \"mm/dd/yyyy\"\n", "tenant acme: file.date_format: \"mm/dd/yyyy\" has no date fields"),
            ("directory = \"out\"\ndate_format = \"%m/%d/%Y %H:%M\"\n", "tenant acme: file.date_format: "),
            ("directory = \"out\"\nkeep = 0\n", "tenant acme: file.keep: expected an integer 1..=100000, got 0"),
            ("directory = \"out\"\ncolumns = []\n", "tenant acme: file.columns: must not be empty"),
            ("directory = \"out\"\ncolumns = \"email\"\n", "tenant acme: file.columns: expected an array of tables"),
            ("directory = \"out\"\ncolumns = [{ name = \"e\", value = \"{emial}\" }]\n", "tenant acme: file.columns[0].value: emial is not a field of the user file's rows"),
            ("directory = \"out\"\ncolumns = [{ name = \"e\", value = \"email\" }]\n", "tenant acme: file.columns[0].value: \"email\" is a constant; to read the field write \"{email}\""),
            ("directory = \"out\"\ncolumns = [{ name = \"e\", value = \"{email}\" }, { name = \"e\", value = \"{title}\" }]\n", "tenant acme: file.columns[1].name: \"e\" is also the name of columns[0]"),
            ("directory = \"out\"\ncolumns = [{ name = \"e\", valeu = \"{email}\" }]\n", "tenant acme: file.columns[0]: unknown key \"valeu\"; expected name, value"),
            ("directory = \"out\"\ncolumns = [{ name = \"e\" }]\n", "tenant acme: file.columns[0].value: missing; expected an expression"),
            ("directory = \"out\"\ncolumns = [{ name = \"cc\", value = \"{ssn}\" }]\n", "tenant acme: file.columns[0].value: ssn is not a field"),
            ("sftp = { host = \"sftp.example.com\", username = \"u\", known_hosts = \"kh\" }\n", "tenant acme: file.sftp: missing key_file or key_env"),
            ("sftp = { host = \"sftp.example.com\", username = \"u\", key_env = \"K\", password_env = \"P\", known_hosts = \"kh\" }\n", "tenant acme: file.sftp: both a key and a password are set"),
            ("sftp = { host = \"sftp://x\", username = \"u\", key_env = \"K\", known_hosts = \"kh\" }\n", "tenant acme: file.sftp.host: expected a host name or IP address"),
            ("sftp = { host = \"x.example\", username = \"u\", key_env = \"K\" }\n", "tenant acme: file.sftp.known_hosts: missing; expected the path of an OpenSSH known_hosts file"),
            ("sftp = { host = \"x.example\", port = 0, username = \"u\", key_env = \"K\", known_hosts = \"kh\" }\n", "tenant acme: file.sftp.port: expected an integer 1..=65535, got 0"),
        ];
    for (file, expected) in cases {
        let e = parse_err(&with_file(&format!("[tenants.file]\n{file}")));
        assert!(e.contains(expected), "{file}: {e}");
    }
    // Inline secrets are refused without being echoed, and not offered as keys.
    let e = parse_err(&with_file(&format!(
            "[tenants.file]\nsftp = {{ host = \"x.example\", username = \"u\", key = \"{CANARY}\", known_hosts = \"kh\" }}\n"
        )));
    assert!(
        e.contains("tenant acme: file.sftp.key: secrets are not accepted inline; set key_env"),
        "{e}"
    );
    let e = parse_err(&with_file(&format!(
            "[tenants.file]\nsftp = {{ host = \"x.example\", username = \"u\", password = \"{CANARY}\", known_hosts = \"kh\" }}\n"
        )));
    assert!(
        e.contains("tenant acme: file.sftp.password: secrets are not accepted inline"),
        "{e}"
    );
    let e = parse_err(&with_file(
        "[tenants.file]\ndirectory = \"out\"\nsftp = { hots = \"x\" }\n",
    ));
    assert!(
        e.contains("tenants[0].file.sftp: unknown key \"hots\" (did you mean \"host\"?)") && !e.contains(" key,"),
        "{e}"
    );
    // A mapped attribute can be a column.
    let s = parse_ok(&with_file("[tenants.file]\ndirectory = \"out\"\ncolumns = [{ name = \"cost_center\", value = \"{costCenter}\" }]\n").replace(
            "[tenants.ukg]",
            "[tenants.mapping.attributes]\n\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\" = \"{orgLevel3Code}\"\n[tenants.ukg]",
        ));
    assert_eq!(file_spec(&s).columns[0].name, "cost_center");
}
