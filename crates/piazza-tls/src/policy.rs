//! The serving TLS policy: the minimum protocol version (`--tls-min-version`) and the allowed
//! cipher suites (`--tls-cipher-suites`), named as Go's `crypto/tls` names them.
//!
//! rustls implements TLS 1.2 and 1.3 with AEAD, forward-secret suites only, so the names Go
//! still accepts for older or weaker suites (CBC, RSA key exchange, RC4, 3DES) and the
//! versions `VersionTLS10`/`VersionTLS11` are refused with an error that says so, rather
//! than silently ignored.
//!
//! As in Go, the TLS 1.3 suites are all enabled unless the list names some of them; the
//! list restricts the TLS 1.2 suites.

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedCipherSuite, SupportedProtocolVersion};

use crate::TlsError;

/// A TLS protocol version a server may require as its minimum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (the default).
    #[default]
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// Parses a Go version name (`VersionTLS12`, `VersionTLS13`). An empty name is the
    /// default; `VersionTLS10` and `VersionTLS11` are refused as unsupported.
    pub fn parse(name: &str) -> Result<Self, TlsError> {
        match name {
            "" => Ok(Self::default()),
            "VersionTLS12" => Ok(Self::Tls12),
            "VersionTLS13" => Ok(Self::Tls13),
            "VersionTLS10" | "VersionTLS11" => Err(TlsError::Policy {
                message: format!(
                    "--tls-min-version {name} is not supported: only VersionTLS12 and VersionTLS13 are implemented"
                ),
            }),
            other => Err(TlsError::Policy {
                message: format!(
                    "unknown tls version {other:?}: possible values are VersionTLS12, VersionTLS13"
                ),
            }),
        }
    }

    /// The rustls protocol versions from this minimum up, newest first.
    fn versions(self) -> Vec<&'static SupportedProtocolVersion> {
        match self {
            Self::Tls12 => vec![&rustls::version::TLS13, &rustls::version::TLS12],
            Self::Tls13 => vec![&rustls::version::TLS13],
        }
    }
}

/// The suites this server implements, by their Go (IANA) names, with Go's legacy aliases.
const SUITES: &[(&str, CipherSuite)] = &[
    ("TLS_AES_128_GCM_SHA256", CipherSuite::TLS13_AES_128_GCM_SHA256),
    ("TLS_AES_256_GCM_SHA384", CipherSuite::TLS13_AES_256_GCM_SHA384),
    ("TLS_CHACHA20_POLY1305_SHA256", CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
];

/// The suite a Go name stands for, if this server implements it.
pub fn cipher_suite_by_name(name: &str) -> Option<CipherSuite> {
    SUITES.iter().find(|(n, _)| *n == name).map(|(_, suite)| *suite)
}

/// The Go names this server accepts in `--tls-cipher-suites`.
pub fn supported_cipher_suite_names() -> impl Iterator<Item = &'static str> {
    SUITES.iter().map(|(name, _)| *name)
}

/// The minimum version and the allowed suites of a server's TLS configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsPolicy {
    min_version: TlsVersion,
    /// `None`: every suite of the provider.
    cipher_suites: Option<Vec<CipherSuite>>,
}

impl TlsPolicy {
    /// The policy of the flags: `min_version` as [`TlsVersion::parse`] reads it, and the
    /// allowed suites by Go name (empty: all). Every unknown or unsupported name is listed
    /// in the error.
    pub fn new(min_version: &str, cipher_suites: &[String]) -> Result<Self, TlsError> {
        let min_version = TlsVersion::parse(min_version)?;
        if cipher_suites.is_empty() {
            return Ok(Self { min_version, cipher_suites: None });
        }
        let mut suites = Vec::new();
        let mut refused = Vec::new();
        for name in cipher_suites.iter().map(|n| n.trim()) {
            match cipher_suite_by_name(name) {
                Some(suite) if !suites.contains(&suite) => suites.push(suite),
                Some(_) => {}
                None => refused.push(name.to_owned()),
            }
        }
        if !refused.is_empty() {
            return Err(TlsError::Policy {
                message: format!(
                    "--tls-cipher-suites: cipher suites not supported or unknown: {}; supported: {}",
                    refused.join(", "),
                    supported_cipher_suite_names().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        // Never without a version: TLS 1.3 keeps its suites unless the list names some.
        Ok(Self { min_version, cipher_suites: Some(suites) })
    }

    /// The minimum protocol version.
    pub fn min_version(&self) -> TlsVersion {
        self.min_version
    }

    /// `base` with its cipher suites narrowed to this policy's.
    pub fn provider(&self, base: &CryptoProvider) -> CryptoProvider {
        let Some(allowed) = &self.cipher_suites else { return base.clone() };
        let names_tls13 = allowed.iter().any(|s| is_tls13(*s));
        let keep = |suite: &SupportedCipherSuite| {
            let id = suite.suite();
            // Like Go, TLS 1.3 suites stay on unless the list names some of them.
            allowed.contains(&id) || (is_tls13(id) && !names_tls13)
        };
        let mut provider = base.clone();
        provider.cipher_suites.retain(keep);
        provider
    }

    /// The protocol versions to enable: from the minimum up, and only those left with a suite.
    pub fn versions_with_suites(&self, base: &CryptoProvider) -> Vec<&'static SupportedProtocolVersion> {
        let provider = self.provider(base);
        self.min_version
            .versions()
            .into_iter()
            .filter(|v| provider.cipher_suites.iter().any(|s| s.version() == *v))
            .collect()
    }
}

fn is_tls13(suite: CipherSuite) -> bool {
    matches!(
        suite,
        CipherSuite::TLS13_AES_128_GCM_SHA256
            | CipherSuite::TLS13_AES_256_GCM_SHA384
            | CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn suites_of(policy: &TlsPolicy) -> Vec<CipherSuite> {
        policy.provider(&crate::crypto_provider()).cipher_suites.iter().map(|s| s.suite()).collect()
    }

    #[test]
    fn versions_parse_as_go_names_them() {
        assert_eq!(TlsVersion::parse("").unwrap(), TlsVersion::Tls12);
        assert_eq!(TlsVersion::parse("VersionTLS12").unwrap(), TlsVersion::Tls12);
        assert_eq!(TlsVersion::parse("VersionTLS13").unwrap(), TlsVersion::Tls13);
        let old = TlsVersion::parse("VersionTLS11").unwrap_err().to_string();
        assert!(old.contains("VersionTLS11 is not supported"), "{old}");
        let unknown = TlsVersion::parse("TLS1.3").unwrap_err().to_string();
        assert!(unknown.contains("unknown tls version \"TLS1.3\""), "{unknown}");
    }

    #[test]
    fn the_default_policy_keeps_every_suite_and_both_versions() {
        let policy = TlsPolicy::new("", &[]).unwrap();
        assert_eq!(suites_of(&policy).len(), crate::crypto_provider().cipher_suites.len());
        assert_eq!(policy.versions_with_suites(&crate::crypto_provider()).len(), 2);
        let tls13 = TlsPolicy::new("VersionTLS13", &[]).unwrap();
        assert_eq!(tls13.versions_with_suites(&crate::crypto_provider()), vec![&rustls::version::TLS13]);
    }

    #[test]
    fn a_tls12_list_narrows_tls12_and_keeps_tls13() {
        let policy = TlsPolicy::new("", &names(&["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"])).unwrap();
        let suites = suites_of(&policy);
        assert!(suites.contains(&CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256));
        assert!(!suites.contains(&CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384));
        assert!(suites.contains(&CipherSuite::TLS13_AES_256_GCM_SHA384), "{suites:?}");
    }

    #[test]
    fn naming_a_tls13_suite_narrows_tls13_too() {
        let policy =
            TlsPolicy::new("", &names(&["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"]))
                .unwrap();
        assert_eq!(
            suites_of(&policy),
            vec![
                CipherSuite::TLS13_AES_128_GCM_SHA256,
                CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            ]
        );
    }

    #[test]
    fn unknown_and_insecure_names_are_all_listed() {
        let err = TlsPolicy::new("", &names(&["TLS_RSA_WITH_RC4_128_SHA", "TLS_AES_128_GCM_SHA256", "NOPE"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("TLS_RSA_WITH_RC4_128_SHA, NOPE;"), "{err}");
        assert!(err.contains("supported: TLS_AES_128_GCM_SHA256"), "{err}");
    }

    #[test]
    fn a_list_of_tls13_suites_only_leaves_tls12_without_suites_so_it_is_off() {
        let only13 = TlsPolicy::new("VersionTLS12", &names(&["TLS_AES_256_GCM_SHA384"])).unwrap();
        assert_eq!(only13.versions_with_suites(&crate::crypto_provider()), vec![&rustls::version::TLS13]);
        let only12 =
            TlsPolicy::new("VersionTLS13", &names(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])).unwrap();
        assert_eq!(only12.versions_with_suites(&crate::crypto_provider()), vec![&rustls::version::TLS13]);
    }
}
