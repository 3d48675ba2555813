//! URLs and hosts in the config file: the UKG and SCIM base URLs are normalised (http
//! upgraded to https unless the host is loopback, user info refused, notices for what was
//! dropped); SMTP and SFTP hosts are bare host names or IP addresses.

use std::net::IpAddr;

/// Normalises a UKG host URL: scheme+host(+port) only, any path such as "/services/..." dropped,
/// http upgraded to https unless the host is loopback (127.0.0.0/8, ::1, localhost). Returns the
/// URL and notices for the user ("upgraded http://… to https://…", "dropped path /services/…").
pub fn normalize_ukg_url(raw: &str) -> Result<(String, Vec<String>), String> {
    let (mut url, mut notices) = parse_http_url(raw, "https://service4.ultipro.com", "username and password_env")?;
    let path = url.path().to_string();
    let had_query = url.query().is_some() || url.fragment().is_some();
    url.set_query(None);
    url.set_fragment(None);
    let base = url[..url::Position::BeforePath].to_string();
    if path != "/" && !path.is_empty() {
        notices.push(format!(
            "dropped path {path}: UKG's REST API lives at the host root, {base}"
        ));
    }
    if had_query {
        notices.push("dropped the query string: UKG's REST API lives at the host root".to_string());
    }
    Ok((base, notices))
}

/// Same for the SCIM base URL: keeps the path (trailing slash trimmed), upgrades http → https
/// unless loopback. A trailing `/Users` (the resource, not the base) is dropped with a notice.
pub fn normalize_scim_url(raw: &str) -> Result<(String, Vec<String>), String> {
    let (url, mut notices) = parse_http_url(raw, "https://app.example.com/scim/v2", "token_env")?;
    if url.query().is_some() || url.fragment().is_some() {
        // Not echoed: a query string is where people paste tokens.
        return Err("a query string or fragment is not accepted in the SCIM base URL; give the SCIM root, e.g. https://app.example.com/scim/v2".to_string());
    }
    let mut path = url.path().trim_end_matches('/').to_string();
    if path.len() >= 6 && path[path.len() - 6..].eq_ignore_ascii_case("/users") {
        path.truncate(path.len() - 6);
        path = path.trim_end_matches('/').to_string();
        notices.push("dropped /Users: the base URL is the SCIM root; hrsync appends /Users itself".to_string());
    }
    Ok((format!("{}{path}", &url[..url::Position::BeforePath]), notices))
}

/// Whether `host` (a name or an IP address, IPv6 with or without brackets) is loopback:
/// `localhost`, 127.0.0.0/8, `::1` (and `::ffff:127.x.y.z`).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

/// Parses an http(s) URL with a host and no user info, and upgrades http to https unless the
/// host is loopback (with a notice).
fn parse_http_url(raw: &str, example: &str, credentials_hint: &str) -> Result<(url::Url, Vec<String>), String> {
    let raw = raw.trim();
    // Never echo a URL that may carry credentials.
    let shown = if raw.contains('@') {
        "(not shown: it contains '@')".to_string()
    } else {
        format!("{raw:?}")
    };
    if raw.is_empty() {
        return Err(format!(
            "expected an https:// URL such as \"{example}\", got an empty string"
        ));
    }
    let mut url = url::Url::parse(raw).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => {
            format!("expected an https:// URL such as \"{example}\", got {shown} (no scheme)")
        }
        e => format!("expected an https:// URL such as \"{example}\", got {shown}: {e}"),
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("expected an https:// URL such as \"{example}\", got {shown}"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "a user name or password in the URL is not accepted (URLs are logged); use {credentials_hint}"
        ));
    }
    let Some(host) = url.host_str().map(str::to_string) else {
        return Err(format!(
            "expected a URL with a host, such as \"{example}\", got {shown}"
        ));
    };
    let mut notices = Vec::new();
    if url.scheme() == "http" && !is_loopback_host(&host) {
        let before = url[..url::Position::BeforePath].to_string();
        url.set_scheme("https")
            .map_err(|()| "cannot switch this URL to https".to_string())?;
        let after = &url[..url::Position::BeforePath];
        notices.push(format!(
            "upgraded {before} to {after}: plain http is only used towards loopback hosts"
        ));
    }
    Ok((url, notices))
}

/// A bare host: a DNS name or an IP address (IPv6 with or without brackets); no scheme, port or path.
pub(super) fn is_host(host: &str) -> bool {
    let unbracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if unbracketed.parse::<IpAddr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}
