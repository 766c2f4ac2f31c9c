//! Static bearer tokens from a CSV file (`--token-auth-file`), in kube-apiserver's format:
//! `token,user,uid[,"group1,group2"]` per line. It lets plain HTTP load tools and scripts
//! reach a standalone server.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use piazza_core::user::AUTHENTICATED_GROUP;
use piazza_core::{ApiError, UserInfo};

use super::authentication::Authenticator;

/// The longest token file read.
pub const MAX_TOKEN_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a token file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("reading token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_TOKEN_FILE_BYTES`].
    #[error("token file {0} is larger than {MAX_TOKEN_FILE_BYTES} bytes")]
    TooLarge(String),
    /// A line is malformed.
    #[error("token file line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Splits one CSV record, honouring double quotes (`""` is a literal quote).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        let field = fields.last_mut().expect("never empty");
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(String::new()),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote".to_owned());
    }
    Ok(fields)
}

/// Parses the file's contents into token → user.
pub fn parse_token_file(contents: &str) -> Result<HashMap<String, UserInfo>, TokenFileError> {
    let mut tokens = HashMap::new();
    for (index, raw) in contents.lines().enumerate() {
        let line = index + 1;
        let malformed = |reason: &str| TokenFileError::Malformed { line, reason: reason.to_owned() };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields = split_csv(trimmed).map_err(|r| malformed(&r))?;
        if fields.len() < 3 {
            return Err(malformed("expected at least 3 columns: token,user,uid"));
        }
        let (token, name, uid) = (fields[0].trim(), fields[1].trim(), fields[2].trim());
        if token.is_empty() || name.is_empty() {
            return Err(malformed("token and user must not be empty"));
        }
        let mut groups: Vec<String> = fields
            .get(3)
            .map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        groups.push(AUTHENTICATED_GROUP.to_owned());
        if tokens.contains_key(token) {
            return Err(malformed("duplicate token"));
        }
        tokens.insert(
            token.to_owned(),
            UserInfo { name: name.to_owned(), uid: uid.to_owned(), groups, ..Default::default() },
        );
    }
    Ok(tokens)
}

/// Authenticates `Authorization: Bearer <token>` against a token file.
pub struct TokenFileAuthenticator {
    tokens: HashMap<String, UserInfo>,
}

impl TokenFileAuthenticator {
    /// Loads `path`.
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let display = path.display().to_string();
        let read = |source| TokenFileError::Read { path: display.clone(), source };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_TOKEN_FILE_BYTES {
            return Err(TokenFileError::TooLarge(display));
        }
        let contents = std::fs::read_to_string(path).map_err(read)?;
        Ok(Self { tokens: parse_token_file(&contents)? })
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(parts: &http::request::Parts) -> Option<&str> {
    let value = parts.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty())
}

#[async_trait]
impl Authenticator for TokenFileAuthenticator {
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>, ApiError> {
        let Some(token) = bearer_token(request) else { return Ok(None) };
        match self.tokens.get(token) {
            Some(user) => Ok(Some(user.clone())),
            None => Err(ApiError::unauthorized()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kube_format() {
        let tokens = parse_token_file(
            "# comment\nsecret1,admin,1,\"system:masters,ops\"\nsecret2,bob,2\n\n\"quoted,tok\",carol,3,\"\"\n",
        )
        .unwrap();
        let admin = &tokens["secret1"];
        assert_eq!(admin.name, "admin");
        assert_eq!(admin.uid, "1");
        assert_eq!(admin.groups, vec!["system:masters", "ops", "system:authenticated"]);
        assert_eq!(tokens["secret2"].groups, vec!["system:authenticated"]);
        assert_eq!(tokens["quoted,tok"].name, "carol");
    }

    #[test]
    fn hostile_files_are_rejected() {
        for bad in ["onlytoken", "a,b", ",user,1", "tok,,1", "tok,u,1,\"unterminated", "t,u,1\nt,v,2"] {
            assert!(parse_token_file(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn bearer_tokens_authenticate_or_fail() {
        let auth = TokenFileAuthenticator { tokens: parse_token_file("good,alice,1,devs").unwrap() };
        let parts = |value: Option<&str>| {
            let mut b = http::Request::builder();
            if let Some(v) = value {
                b = b.header("authorization", v);
            }
            b.body(()).unwrap().into_parts().0
        };
        assert_eq!(auth.authenticate(&parts(Some("Bearer good"))).await.unwrap().unwrap().name, "alice");
        assert!(auth.authenticate(&parts(None)).await.unwrap().is_none());
        assert!(auth.authenticate(&parts(Some("Basic Zm9v"))).await.unwrap().is_none());
        assert_eq!(auth.authenticate(&parts(Some("Bearer bad"))).await.unwrap_err().code, 401);
    }
}
