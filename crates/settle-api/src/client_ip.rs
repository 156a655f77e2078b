//! Who the client is: the peer, or — when the peer is a trusted reverse proxy — the first address in
//! `X-Forwarded-For`, read right to left, that is not a trusted proxy.
//!
//! Only hops appended by trusted proxies can be believed, and each proxy appends to the right, so the list is read
//! from the right and stops at the first hop that is not a trusted proxy: that hop is the client. Everything to its
//! left was sent by the client and is never believed. A hop that is not an address (garbage, or an injected
//! `1.2.3.4:5678` sent to make the parser skip it) is not skipped either: it stops the walk and is the client, as
//! sent (bounded), so it can neither hide the real client nor name another. IPv4-mapped IPv6 addresses
//! (`::ffff:127.0.0.1`, seen on a `[::]` listener) compare as the IPv4 address.

use std::{fmt, net::IpAddr, str::FromStr};

/// A trusted proxy: one address, or a CIDR range (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedProxy {
    net: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (whole, rest) = (usize::from(prefix / 8), prefix % 8);
    a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
}

impl From<IpAddr> for TrustedProxy {
    fn from(ip: IpAddr) -> Self {
        let ip = ip.to_canonical();
        Self { net: ip, prefix: if ip.is_ipv4() { 32 } else { 128 } }
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let Some((addr, prefix)) = s.split_once('/') else {
            return s.parse::<IpAddr>().map(Self::from).map_err(|_| format!("{s} is not an IP address or CIDR range"));
        };
        let net = addr.parse::<IpAddr>().map_err(|_| format!("{s} is not an IP address or CIDR range"))?.to_canonical();
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{s}: the prefix length must be 0 to {max}"))?;
        Ok(Self { net, prefix })
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Reads one `X-Forwarded-For` hop: an address, with or without a port (`1.2.3.4:5678`, `[::1]:80`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    None
}

/// The client of a request from `peer` carrying the `X-Forwarded-For` values `forwarded` (in header order).
pub fn client_of(peer: IpAddr, forwarded: &[&str], trusted: &[TrustedProxy]) -> String {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|t| t.contains(ip));
    if !is_trusted(peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = forwarded.iter().flat_map(|v| v.split(',')).map(str::trim).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop_address(hop) {
            Some(ip) if is_trusted(ip) => client = ip,
            Some(ip) => return ip.to_string(),
            // Not an address: the client, as it was sent (printable, bounded), never skipped.
            None => return format!("unparsed:{}", hop.chars().filter(|c| c.is_ascii_graphic()).take(64).collect::<String>()),
        }
    }
    // Every hop is a trusted proxy: the leftmost one is the client.
    client.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_walk_stops_at_the_first_untrusted_hop_from_the_right() {
        let t = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_of(lo, &["1.2.3.4"], &t), "1.2.3.4");
        assert_eq!(client_of(lo, &["6.6.6.6, 1.2.3.4"], &t), "1.2.3.4", "the client's own entry is never believed");
        assert_eq!(client_of(lo, &["6.6.6.6, 1.2.3.4, 10.1.2.3"], &t), "1.2.3.4", "a trusted range is walked past");
        assert_eq!(client_of(lo, &["6.6.6.6", "1.2.3.4"], &t), "1.2.3.4", "several headers read as one list");
        assert_eq!(client_of(lo, &["6.6.6.6, 1.2.3.4:5678"], &t), "1.2.3.4", "an address with a port is the address");
        assert_eq!(client_of(lo, &["6.6.6.6, garbage"], &t), "unparsed:garbage", "a malformed hop is the client, never skipped");
        assert_eq!(client_of(lo, &[], &t), "127.0.0.1");
        assert_eq!(client_of(lo, &["10.0.0.5"], &t), "10.0.0.5", "every hop trusted: the leftmost");
        let other: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(client_of(other, &["1.2.3.4"], &t), "8.8.8.8", "an untrusted peer's header is ignored");
    }

    #[test]
    fn ipv4_mapped_addresses_compare_as_ipv4() {
        let t = proxies(&["127.0.0.1"]);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(client_of(mapped, &["1.2.3.4"], &t), "1.2.3.4");
        assert_eq!(client_of(mapped, &[], &t), "127.0.0.1");
        assert!(proxies(&["::ffff:10.0.0.1"])[0].contains("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn ranges_parse_and_contain() {
        let r: TrustedProxy = "192.168.0.0/16".parse().unwrap();
        assert!(r.contains("192.168.200.1".parse().unwrap()));
        assert!(!r.contains("192.169.0.1".parse().unwrap()));
        let r: TrustedProxy = "10.0.0.0/9".parse().unwrap();
        assert!(r.contains("10.127.0.1".parse().unwrap()) && !r.contains("10.128.0.1".parse().unwrap()));
        let r: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(r.contains("fd12::1".parse().unwrap()) && !r.contains("fe80::1".parse().unwrap()));
        assert!("0.0.0.0/0".parse::<TrustedProxy>().unwrap().contains("1.2.3.4".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "1.2.3.4/x", "::/129"] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad}");
        }
    }
}
