//! The outbound HTTP client for discovery, JWKS, token and userinfo calls,
//! with an SSRF guard: redirects are never followed, every host name is
//! resolved by our own resolver which drops private, loopback, link-local
//! and other non-public addresses, and IP-literal URLs are checked before
//! the request. A deployment (or a test) may allow private networks
//! explicitly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::OidcError;

/// Largest body accepted from an IdP endpoint.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Which destinations outbound calls may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkPolicy {
    /// Allow loopback, private, link-local and other non-public addresses
    /// (single-host set-ups and tests).
    pub allow_private_networks: bool,
    /// Allow `http://` URLs (tests on loopback); otherwise HTTPS only.
    pub allow_plain_http: bool,
}

/// True for addresses on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10 carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24 IETF
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15 benchmarking
        || o[0] >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b)) // NAT64 can reach private v4
}

/// Resolves with the system resolver and keeps public addresses only.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    policy: NetworkPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allow_private_networks || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    format!("`{host}` resolves to no permitted (public) address").into();
                return Err(e);
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// A reqwest client that cannot be steered to internal addresses.
#[derive(Debug, Clone)]
pub struct GuardedClient {
    client: reqwest::Client,
    policy: NetworkPolicy,
}

impl GuardedClient {
    pub fn new(policy: NetworkPolicy) -> Result<Self, OidcError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OidcError::Config(format!("HTTP client: {e}")))?;
        Ok(GuardedClient { client, policy })
    }

    pub fn policy(&self) -> NetworkPolicy {
        self.policy
    }

    /// Refuses a URL before any connection: scheme, and IP literals (which
    /// bypass the resolver).
    pub fn check_url(&self, url: &url::Url) -> Result<(), OidcError> {
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allow_plain_http => {}
            other => {
                return Err(OidcError::Blocked(format!("scheme `{other}` in {url}")));
            }
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(OidcError::Blocked(format!("no host in {url}"))),
        };
        if let Some(ip) = ip
            && !self.policy.allow_private_networks
            && !is_public(ip)
        {
            return Err(OidcError::Blocked(format!("non-public address {ip}")));
        }
        Ok(())
    }

    /// Sends a request built on `client()` after checking its URL, and
    /// returns status and body (capped).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), OidcError> {
        let request = request
            .build()
            .map_err(|e| OidcError::Network(e.to_string()))?;
        let url = request.url().clone();
        self.check_url(&url)?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| OidcError::Network(format!("{url}: {}", error_chain(&e))))?;
        let status = response.status();
        let headers = response.headers().clone();
        if response.content_length().unwrap_or(0) > MAX_BODY_BYTES as u64 {
            return Err(OidcError::Network(format!("{url}: body too large")));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| OidcError::Network(format!("{url}: {e}")))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(OidcError::Network(format!("{url}: body too large")));
        }
        Ok((status, headers, body.to_vec()))
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn private_destinations_are_refused_unless_allowed() {
        let strict = GuardedClient::new(NetworkPolicy::default()).expect("client");
        for url in [
            "https://127.0.0.1/.well-known/openid-configuration",
            "https://[::1]/x",
            "https://169.254.169.254/latest/meta-data",
            "http://idp.example/x",
        ] {
            let url = url::Url::parse(url).expect("url");
            assert!(
                matches!(strict.check_url(&url), Err(OidcError::Blocked(_))),
                "{url}"
            );
        }
        // A name that resolves to loopback is dropped by the resolver.
        let by_name = strict
            .send(strict.client().get("https://localhost:9/x"))
            .await;
        assert!(
            matches!(by_name, Err(OidcError::Network(ref m)) if m.contains("no permitted")),
            "{by_name:?}"
        );

        let open = GuardedClient::new(NetworkPolicy {
            allow_private_networks: true,
            allow_plain_http: true,
        })
        .expect("client");
        assert!(
            open.check_url(&url::Url::parse("http://127.0.0.1:1/").expect("url"))
                .is_ok()
        );
    }
}
