//! Just enough of apimachinery's selector parsers to decide what upstream decides while
//! building request info: whether a `fieldSelector` or `labelSelector` parses at all, and
//! which `metadata.name` a field selector pins.
//!
//! Both work on bytes, because the query values they read are percent-decoded bytes.

// === field selectors (`fields.ParseSelector`) ===

/// Parses a field selector and returns the value of its first exact `metadata.name` term
/// (`RequiresExactMatch("metadata.name")`), or `Err(())` if upstream's parser rejects it.
///
/// Upstream sorts the raw comma-separated terms before parsing, so with several
/// `metadata.name` terms the one that sorts first wins; `!=` terms never pin a name.
pub(super) fn field_selector_exact_name(selector: &[u8]) -> Result<Option<Vec<u8>>, ()> {
    let mut terms = split_field_terms(selector);
    terms.sort_unstable();
    let mut name = None;
    for term in terms.into_iter().filter(|t| !t.is_empty()) {
        let (field, negated, raw_value) = split_field_term(term).ok_or(())?;
        let value = unescape_field_value(raw_value)?;
        if name.is_none() && !negated && field == b"metadata.name" {
            name = Some(value);
        }
    }
    Ok(name)
}

/// Splits on commas that are not escaped by a backslash; escapes stay in the terms.
fn split_field_terms(selector: &[u8]) -> Vec<&[u8]> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, &b) in selector.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator (`!=`, `==` or `=`, tried in that order at each
/// position). Returns the field, whether the operator is `!=`, and the raw value.
fn split_field_term(term: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    (0..term.len()).find_map(|i| {
        let rest = &term[i..];
        if rest.starts_with(b"!=") {
            Some((&term[..i], true, &rest[2..]))
        } else if rest.starts_with(b"==") {
            Some((&term[..i], false, &rest[2..]))
        } else if rest.starts_with(b"=") {
            Some((&term[..i], false, &rest[1..]))
        } else {
            None
        }
    })
}

/// Removes the backslash from `\\`, `\,` and `\=`; any other escape, a dangling
/// backslash, or an unescaped `,` or `=` is an error.
fn unescape_field_value(raw: &[u8]) -> Result<Vec<u8>, ()> {
    let mut out = Vec::with_capacity(raw.len());
    let mut escaped = false;
    for &b in raw {
        match (escaped, b) {
            (true, b'\\' | b',' | b'=') => {
                out.push(b);
                escaped = false;
            }
            (true, _) | (false, b',' | b'=') => return Err(()),
            (false, b'\\') => escaped = true,
            (false, _) => out.push(b),
        }
    }
    if escaped { Err(()) } else { Ok(out) }
}

// === label selectors (`labels.Parse`) ===

/// True if upstream's label selector parser accepts `selector`, with every key and value
/// passing its validation.
pub(super) fn label_selector_is_valid(selector: &[u8]) -> bool {
    LabelParser::new(selector).parse().is_some()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Exists,
    DoesNotExist,
    In,
    NotIn,
    Equals,
    NotEquals,
    GreaterThan,
    LessThan,
}

/// Whether `in` and `notin` are operators (after a key) or plain values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

fn symbol_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// The byte lexer, including upstream's quirk that a NUL byte reads as end of input.
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn lex(&mut self) -> (Token, &'a [u8]) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return (Token::End, b"");
        }
        self.unread();
        if is_special(ch) { self.scan_symbol() } else { self.scan_word() }
    }

    fn scan_word(&mut self) -> (Token, &'a [u8]) {
        let start = self.pos;
        let end = loop {
            let end = self.pos;
            let ch = self.read();
            if ch == 0 {
                break end;
            }
            if is_special(ch) || is_whitespace(ch) {
                self.unread();
                break end;
            }
        };
        let word = &self.s[start..end];
        let token = match word {
            b"in" => Token::In,
            b"notin" => Token::NotIn,
            _ => Token::Identifier,
        };
        (token, word)
    }

    fn scan_symbol(&mut self) -> (Token, &'a [u8]) {
        let start = self.pos;
        let mut last = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if !is_special(ch) {
                self.unread();
                break;
            }
            let symbol = &self.s[start..self.pos];
            match symbol_token(symbol) {
                Some(token) => last = Some((token, symbol)),
                None if last.is_some() => {
                    self.unread();
                    break;
                }
                None => {}
            }
        }
        last.unwrap_or((Token::Error, b""))
    }
}

struct LabelParser<'a> {
    items: Vec<(Token, &'a [u8])>,
    position: usize,
}

impl<'a> LabelParser<'a> {
    fn new(selector: &'a [u8]) -> Self {
        let mut lexer = Lexer { s: selector, pos: 0 };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            items.push(item);
            if item.0 == Token::End {
                break;
            }
        }
        Self { items, position: 0 }
    }

    fn lookahead(&self, context: Context) -> (Token, &'a [u8]) {
        let (token, literal) = self.items.get(self.position).copied().unwrap_or((Token::End, b""));
        match token {
            Token::In | Token::NotIn if context == Context::Values => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, &'a [u8]) {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    /// `Some(())` if the whole selector parses into valid requirements.
    fn parse(&mut self) -> Option<()> {
        loop {
            match self.lookahead(Context::Values).0 {
                Token::Identifier | Token::DoesNotExist => {
                    self.parse_requirement()?;
                    match self.consume(Context::Values).0 {
                        Token::End => return Some(()),
                        Token::Comma => {
                            let next = self.lookahead(Context::Values).0;
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return None;
                            }
                        }
                        _ => return None,
                    }
                }
                Token::End => return Some(()),
                _ => return None,
            }
        }
    }

    fn parse_requirement(&mut self) -> Option<()> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return check_requirement(key, op, &[]);
        }
        let op = self.parse_operator()?;
        let values = match op {
            Op::In | Op::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        check_requirement(key, op, &values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Option<(&'a [u8], Option<Op>)> {
        let mut op = None;
        let (mut token, mut literal) = self.consume(Context::Values);
        if token == Token::DoesNotExist {
            op = Some(Op::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier || !is_label_key(literal) {
            return None;
        }
        if matches!(self.lookahead(Context::Values).0, Token::End | Token::Comma) && op.is_none() {
            op = Some(Op::Exists);
        }
        Some((literal, op))
    }

    fn parse_operator(&mut self) -> Option<Op> {
        Some(match self.consume(Context::KeyAndOperator).0 {
            Token::In => Op::In,
            Token::Equals | Token::DoubleEquals => Op::Equals,
            Token::GreaterThan => Op::GreaterThan,
            Token::LessThan => Op::LessThan,
            Token::NotIn => Op::NotIn,
            Token::NotEquals => Op::NotEquals,
            _ => return None,
        })
    }

    /// `( v1, v2, ... )`, where empty values are allowed.
    fn parse_values(&mut self) -> Option<Vec<&'a [u8]>> {
        if self.consume(Context::Values).0 != Token::OpenPar {
            return None;
        }
        match self.lookahead(Context::Values).0 {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                (self.consume(Context::Values).0 == Token::ClosedPar).then_some(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Some(vec![b""])
            }
            _ => None,
        }
    }

    fn parse_identifiers_list(&mut self) -> Option<Vec<&'a [u8]>> {
        let mut values = Vec::new();
        loop {
            match self.consume(Context::Values) {
                (Token::Identifier, literal) => {
                    values.push(literal);
                    match self.lookahead(Context::Values).0 {
                        Token::Comma => {}
                        Token::ClosedPar => return Some(values),
                        _ => return None,
                    }
                }
                (Token::Comma, _) => {
                    // An empty value before, between or after commas; as a set, one is enough.
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            values.push(b"");
                            return Some(values);
                        }
                        _ => values.push(b""),
                    }
                }
                _ => return None,
            }
        }
    }

    fn parse_exact_value(&mut self) -> Option<Vec<&'a [u8]>> {
        if matches!(self.lookahead(Context::Values).0, Token::End | Token::Comma) {
            return Some(vec![b""]);
        }
        match self.consume(Context::Values) {
            (Token::Identifier, literal) => Some(vec![literal]),
            _ => None,
        }
    }
}

/// Upstream's `NewRequirement` checks, for what the parser can produce.
fn check_requirement(key: &[u8], op: Op, values: &[&[u8]]) -> Option<()> {
    if !is_label_key(key) {
        return None;
    }
    let count_ok = match op {
        Op::Exists | Op::DoesNotExist => values.is_empty(),
        Op::In | Op::NotIn => !values.is_empty(),
        Op::Equals | Op::NotEquals => values.len() == 1,
        Op::GreaterThan | Op::LessThan => values.len() == 1 && values.iter().all(|v| is_go_int64(v)),
    };
    (count_ok && values.iter().all(|v| is_label_value(v))).then_some(())
}

/// True if Go's `strconv.ParseInt(v, 10, 64)` accepts `v`.
pub(super) fn is_go_int64(v: &[u8]) -> bool {
    std::str::from_utf8(v).is_ok_and(|s| s.parse::<i64>().is_ok())
}

// === validation (`validation.IsQualifiedName`, `IsValidLabelValue`) ===

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`
fn is_label_name_chars(s: &[u8]) -> bool {
    match s {
        [] => false,
        [only] => only.is_ascii_alphanumeric(),
        [first, middle @ .., last] => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && middle.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
    }
}

/// A label key: `[prefix/]name`, the prefix a DNS-1123 subdomain, the name at most 63 bytes.
fn is_label_key(key: &[u8]) -> bool {
    let mut parts = key.split(|&b| b == b'/');
    let (prefix, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), None, _) => (None, name),
        (Some(prefix), Some(name), None) => (Some(prefix), name),
        _ => return false,
    };
    prefix.is_none_or(is_dns1123_subdomain) && name.len() <= 63 && is_label_name_chars(name)
}

/// A label value: empty, or at most 63 bytes of name characters.
fn is_label_value(value: &[u8]) -> bool {
    value.is_empty() || (value.len() <= 63 && is_label_name_chars(value))
}

/// At most 253 bytes of dot-separated `[a-z0-9]([-a-z0-9]*[a-z0-9])?` labels.
fn is_dns1123_subdomain(s: &[u8]) -> bool {
    let label_ok = |label: &[u8]| match label {
        [] => false,
        [first, ..] if !is_lower_alnum(*first) => false,
        [.., last] if !is_lower_alnum(*last) => false,
        _ => label.iter().all(|&b| is_lower_alnum(b) || b == b'-'),
    };
    s.len() <= 253 && s.split(|&b| b == b'.').all(label_ok)
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Result<Option<String>, ()> {
        field_selector_exact_name(s.as_bytes()).map(|n| n.map(|n| String::from_utf8(n).unwrap()))
    }

    #[test]
    fn field_selectors() {
        assert_eq!(name(""), Ok(None));
        assert_eq!(name(","), Ok(None));
        assert_eq!(name("metadata.name=a"), Ok(Some("a".into())));
        assert_eq!(name("metadata.name==a"), Ok(Some("a".into())));
        assert_eq!(name("metadata.name!=a"), Ok(None));
        assert_eq!(name("metadata.name!=a,metadata.name=b"), Ok(Some("b".into())));
        assert_eq!(name("metadata.name=b,metadata.name=a"), Ok(Some("a".into())));
        // "==" sorts before "=a" because '=' < 'a'.
        assert_eq!(name("metadata.name=a,metadata.name==b"), Ok(Some("b".into())));
        assert_eq!(name(r"metadata.name=a\,b\=c\\d"), Ok(Some(r"a,b=c\d".into())));
        assert_eq!(name("metadata.name="), Ok(Some("".into())));
        assert_eq!(name("foo=bar"), Ok(None));
        assert_eq!(name("metadata.name=a,foo"), Err(()));
        assert_eq!(name(r"metadata.name=a\x"), Err(()));
        assert_eq!(name(r"metadata.name=a\"), Err(()));
        assert_eq!(name("metadata.name=a=b"), Err(()));
        assert_eq!(name("a!b=c"), Ok(None));
    }

    #[test]
    fn label_selectors() {
        let valid = [
            "",
            " ",
            "x",
            "!x",
            "x=a",
            "x==a",
            "x!=a",
            "x=",
            "x in (a,b)",
            "x notin ()",
            "x in (,)",
            "x in (a,,b)",
            "x in (,a)",
            "x>1",
            "x<10",
            "example.com/x=y",
            "in=in",
            "x in (in,notin)",
            "x,y,z notin (a)",
            "a\0",
            "a\0\0((",
            " \0!!",
        ];
        for s in valid {
            assert!(label_selector_is_valid(s.as_bytes()), "{s:?} should be valid");
        }
        let invalid = [
            ",",
            "x,",
            "!",
            "x=a=b",
            "x in a",
            "x in (a",
            "x in (a b)",
            "x>a",
            "x>-1",
            "x>99999999999999999999",
            "-x",
            "x=-a",
            "Example.com/x",
            "/x",
            "a/b/c",
            "!x=a",
            "x y",
            "x===a",
            "é=a",
            "x=é",
            "(",
            "a\0b",
        ];
        for s in invalid {
            assert!(!label_selector_is_valid(s.as_bytes()), "{s:?} should be invalid");
        }
        let long = format!("x={}", "a".repeat(64));
        assert!(!label_selector_is_valid(long.as_bytes()));
        let long = format!("{}=a", "a".repeat(64));
        assert!(!label_selector_is_valid(long.as_bytes()));
        assert!(label_selector_is_valid(format!("x={}", "a".repeat(63)).as_bytes()));
    }
}
