//! Where requests go: scheme, host, port, and the base path of a URL.

use http::Uri;
use http::uri::Authority;

use crate::error::BenchError;

/// A parsed `http(s)://host:port/path?query`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `https` or not.
    pub tls: bool,
    /// The host as written (an IP address or a name; brackets stripped from IPv6).
    pub host: String,
    /// The port (defaulted from the scheme).
    pub port: u16,
    /// `host:port` for the `:authority` / `Host` header.
    pub authority: Authority,
    /// Path and query of the URL (`/` when empty).
    pub path_and_query: String,
}

impl Target {
    /// Parses an absolute `http://` or `https://` URL.
    pub fn parse(url: &str) -> Result<Target, BenchError> {
        let uri: Uri = url.parse().map_err(|e| BenchError::Usage(format!("URL {url:?}: {e}")))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(BenchError::Usage(format!("URL {url:?}: scheme must be http or https"))),
        };
        let authority =
            uri.authority().cloned().ok_or_else(|| BenchError::Usage(format!("URL {url:?}: no host")))?;
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
        Ok(Target { tls, host, port, authority, path_and_query })
    }

    /// The socket address to connect to.
    pub fn socket_addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `scheme://authority`, for building absolute URIs.
    pub fn origin(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.authority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = Target::parse("https://127.0.0.1:8443/apis/x?watch=true").unwrap();
        assert!(t.tls);
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8443));
        assert_eq!(t.path_and_query, "/apis/x?watch=true");
        assert_eq!(t.socket_addr(), "127.0.0.1:8443");
        assert_eq!(t.origin(), "https://127.0.0.1:8443");

        let t = Target::parse("http://[::1]").unwrap();
        assert!(!t.tls);
        assert_eq!((t.host.as_str(), t.port), ("::1", 80));
        assert_eq!(t.socket_addr(), "[::1]:80");

        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("/just/a/path").is_err());
    }
}
