//! The address guard: an endpoint must be https and resolve only to public addresses (unless allowed), checked when
//! it is saved and again on every connection.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use crate::AppError;

/// Whether an address is on the public internet (not loopback, private, link-local, shared, documentation,
/// multicast or otherwise reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

pub(super) fn allowed(allow_hosts: &[String], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    allow_hosts.iter().any(|h| h.trim_start_matches('[').trim_end_matches(']').eq_ignore_ascii_case(host))
}

/// Why a URL may not be delivered to, checked without resolving it (scheme, credentials, an address as host).
pub(super) fn refuse_url(allow_hosts: &[String], url: &reqwest::Url) -> Option<String> {
    let Some(host) = url.host_str() else { return Some("the url has no host".into()) };
    let listed = allowed(allow_hosts, host);
    match url.scheme() {
        "https" => {}
        "http" if listed => {}
        "http" => return Some("the url must be https (plain http only for hosts on SETTLE_WEBHOOK_ALLOW_HOSTS)".into()),
        s => return Some(format!("the url's scheme must be https, not {s}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("the url must not carry credentials".into());
    }
    if !listed
        && let Some(ip) = host_ip(url)
        && !is_public(ip)
    {
        return Some(format!("{ip} is not a public address"));
    }
    None
}

pub(super) fn host_ip(url: &reqwest::Url) -> Option<IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Checks an endpoint URL as a merchant gives it: well formed, https, and its host resolving only to public
/// addresses (unless allow-listed). A name that does not resolve now is accepted: every delivery checks again.
pub(super) async fn check_url(allow_hosts: &[String], raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2048 {
        return Err(AppError::invalid("url", "url must be 1 to 2048 characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| AppError::invalid("url", format!("url is not a valid URL: {e}")))?;
    if let Some(why) = refuse_url(allow_hosts, &url) {
        return Err(AppError::invalid("url", why));
    }
    let host = url.host_str().unwrap_or_default();
    if !allowed(allow_hosts, host)
        && host_ip(&url).is_none()
        && let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(3), tokio::net::lookup_host((host, 443))).await
    {
        for a in addrs {
            if !is_public(a.ip()) {
                return Err(AppError::invalid("url", format!("{host} resolves to {}, which is not a public address", a.ip())));
            }
        }
    }
    Ok(url.to_string())
}

/// The delivery client's resolver: a name resolving to any address that is not public is refused (unless its
/// host is allow-listed), at connection time, so the address checked is the address connected to.
pub(super) struct GuardedResolver {
    pub(super) allow_hosts: Arc<Vec<String>>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let listed = allowed(&self.allow_hosts, &host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !listed && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!("{host} resolves to {}, which is not a public address", bad.ip()).into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
