//! The parts of Go's `net/url` that decide what `RequestInfoFactory.NewRequestInfo` sees:
//! the control-character check on the request target, path unescaping (`URL.Path`) and
//! query parsing (`URL.Query()`).
//!
//! Everything works on bytes, as Go strings do; only the caller decides what must be UTF-8.

/// True if `s` holds a byte Go's URL parser refuses to see unescaped. Go's HTTP server
/// answers such a request with 400 before any handler runs.
pub(super) fn has_control_byte(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 || b == 0x7f)
}

/// Unescapes a raw path the way Go fills `URL.Path`: every `%XX` becomes its byte
/// (`%2F` included) and `+` stays `+`. A malformed escape (which Go's HTTP server answers
/// with 400) is an error holding the bad sequence, at most three bytes of it.
pub(super) fn unescape_path(raw: &str) -> Result<Vec<u8>, String> {
    unescape(raw.as_bytes(), false).map_err(|at| {
        let rest = &raw.as_bytes()[at..];
        String::from_utf8_lossy(&rest[..rest.len().min(3)]).into_owned()
    })
}

/// Unescapes `s`; `plus_is_space` selects query-component mode. On a malformed escape,
/// returns the offset of its `%`.
fn unescape(s: &[u8], plus_is_space: bool) -> Result<Vec<u8>, usize> {
    // Most paths hold nothing to unescape (`contains` on bytes is a memchr).
    let needs_work = s.contains(&b'%') || (plus_is_space && s.contains(&b'+'));
    if !needs_work {
        return Ok(s.to_vec());
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = s.get(i + 1).copied().and_then(hex_value);
                let lo = s.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(i),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A parsed query string: Go's `url.Values`, keeping the order values appeared in.
#[derive(Debug, Default)]
pub(super) struct Query {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Query {
    /// Parses a raw query (without the `?`) as Go's `url.ParseQuery`, dropping what it
    /// drops: empty pieces, pieces holding a `;`, and pieces whose key or value has a
    /// malformed escape. `URL.Query()` ignores those errors, and so do we.
    pub(super) fn parse(raw: &str) -> Self {
        let pairs = raw
            .as_bytes()
            .split(|&b| b == b'&')
            .filter(|piece| !piece.is_empty() && !piece.contains(&b';'))
            .filter_map(|piece| {
                let (key, value) = match piece.iter().position(|&b| b == b'=') {
                    Some(eq) => (&piece[..eq], &piece[eq + 1..]),
                    None => (piece, &b""[..]),
                };
                Some((unescape(key, true).ok()?, unescape(value, true).ok()?))
            })
            .collect();
        Self { pairs }
    }

    /// True if no parameter survived parsing (Go: `len(values) == 0`).
    pub(super) fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The first value of `key` (Go: `values[key][0]`), if the key is present.
    pub(super) fn first(&self, key: &str) -> Option<&[u8]> {
        self.pairs.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, v)| v.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_unescaping_matches_go() {
        assert_eq!(unescape_path("/a%2Fb+c%41").unwrap(), b"/a/b+cA");
        assert_eq!(unescape_path("%00%ff").unwrap(), vec![0, 0xff]);
        assert_eq!(unescape_path("/x%zz"), Err("%zz".into()));
        assert_eq!(unescape_path("/x%a"), Err("%a".into()));
        assert_eq!(unescape_path("/x%"), Err("%".into()));
        assert_eq!(unescape_path("/x%4g1"), Err("%4g".into()));
        assert_eq!(
            unescape_path("/apis/g/v1/namespaces/n/pizzas/p").unwrap(),
            b"/apis/g/v1/namespaces/n/pizzas/p"
        );
        assert_eq!(unescape_path("").unwrap(), b"");
        assert_eq!(unescape_path("plain%41%42+").unwrap(), b"plainAB+");
        assert_eq!(unescape(b"a+b%20c", true).unwrap(), b"a b c");
        assert_eq!(unescape(b"ab+", true).unwrap(), b"ab ");
    }

    #[test]
    fn query_parsing_matches_go() {
        let q = Query::parse("a=1&&b&c=x+y%21&d=%zz&e;f=2&a=3&=z&g==");
        assert_eq!(q.first("a"), Some(&b"1"[..]));
        assert_eq!(q.first("b"), Some(&b""[..]));
        assert_eq!(q.first("c"), Some(&b"x y!"[..]));
        assert_eq!(q.first("d"), None);
        assert_eq!(q.first("e"), None);
        assert_eq!(q.first("e;f"), None);
        assert_eq!(q.first(""), Some(&b"z"[..]));
        assert_eq!(q.first("g"), Some(&b"="[..]));
        assert!(Query::parse("").is_empty());
        assert!(Query::parse("&&;&%zz=1").is_empty());
    }

    #[test]
    fn control_bytes() {
        assert!(has_control_byte("/a\tb"));
        assert!(has_control_byte("\u{7f}"));
        assert!(!has_control_byte("/a%00b/é"));
    }
}
