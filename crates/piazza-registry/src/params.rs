//! Query parameters of resource requests, parsed once into typed options.
//! Unknown parameters are ignored, as upstream does; malformed known ones are a 400.

use piazza_codec::FieldValidation;
use piazza_core::{ApiError, FieldError, FieldErrors, FieldPath, GroupKind};
use piazza_storage::ReadRevision;

/// The most bytes of query string read.
pub const MAX_QUERY_LEN: usize = 64 * 1024;

/// `resourceVersionMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// Any state at least as new as the given resourceVersion.
    NotOlderThan,
    /// Exactly the given resourceVersion.
    Exact,
}

/// Options of get, list and watch requests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListParams {
    /// `resourceVersion`, verbatim.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `limit` (0 or absent: no limit).
    pub limit: Option<usize>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `labelSelector`, verbatim.
    pub label_selector: Option<String>,
    /// `fieldSelector`, verbatim.
    pub field_selector: Option<String>,
    /// `watch=true`.
    pub watch: bool,
    /// `timeoutSeconds` for watch.
    pub timeout_seconds: Option<u64>,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
}

/// Which options a write carries, for the kind named in their validation errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionsKind {
    /// `CreateOptions`.
    Create,
    /// `UpdateOptions`.
    Update,
    /// `PatchOptions`.
    Patch,
    /// `DeleteOptions`.
    Delete,
}

impl OptionsKind {
    /// The kind's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "CreateOptions",
            Self::Update => "UpdateOptions",
            Self::Patch => "PatchOptions",
            Self::Delete => "DeleteOptions",
        }
    }
}

/// Options of create, update and delete requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteParams {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `gracePeriodSeconds` (delete).
    pub grace_period_seconds: Option<i64>,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
}

/// The raw query pairs of a request.
#[derive(Clone, Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (without `?`).
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_LEN {
            return Err(ApiError::bad_request("query string is too long"));
        }
        Ok(Self(
            form_urlencoded::parse(raw.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
        ))
    }

    /// The first value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// All values of a parameter.
    pub fn all(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1" | "True" | "TRUE") => Ok(Some(true)),
            Some("false" | "0" | "False" | "FALSE" | "") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_request(format!("invalid boolean value for {key}: {other:?}"))),
        }
    }

    fn int<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<T>().map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}")))
            })
            .transpose()
    }

    /// The list/watch/get options.
    pub fn list_params(&self) -> Result<ListParams, ApiError> {
        let resource_version_match = match self.get("resourceVersionMatch").filter(|v| !v.is_empty()) {
            None => None,
            Some("NotOlderThan") => Some(ResourceVersionMatch::NotOlderThan),
            Some("Exact") => Some(ResourceVersionMatch::Exact),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                )));
            }
        };
        let limit: Option<i64> = self.int("limit")?;
        Ok(ListParams {
            resource_version: self.get("resourceVersion").filter(|v| !v.is_empty()).map(str::to_owned),
            resource_version_match,
            limit: limit.filter(|l| *l > 0).map(|l| l as usize),
            continue_token: self.get("continue").filter(|v| !v.is_empty()).map(str::to_owned),
            label_selector: self.get("labelSelector").filter(|v| !v.is_empty()).map(str::to_owned),
            field_selector: self.get("fieldSelector").filter(|v| !v.is_empty()).map(str::to_owned),
            watch: self.bool("watch")?.unwrap_or(false),
            timeout_seconds: self.int("timeoutSeconds")?,
            allow_watch_bookmarks: self.bool("allowWatchBookmarks")?.unwrap_or(false),
            send_initial_events: self.bool("sendInitialEvents")?,
        })
    }

    /// The write options of a `kind` request (`CreateOptions`, …, named in its errors).
    /// `dryRun` accepts only `All`, as upstream's options validation: anything else is a 422.
    pub fn write_params(&self, kind: OptionsKind) -> Result<WriteParams, ApiError> {
        let dry_run_values: Vec<&str> = self.all("dryRun").collect();
        if dry_run_values.iter().any(|v| *v != "All") {
            let mut errors = FieldErrors::new();
            errors.push(FieldError::not_supported(FieldPath::new("dryRun"), dry_run_values, &["All"]));
            return Err(ApiError::invalid(&GroupKind::new("meta.k8s.io", kind.name()), "", &errors));
        }
        let dry_run = !dry_run_values.is_empty();
        Ok(WriteParams {
            dry_run,
            field_manager: self.get("fieldManager").map(str::to_owned),
            grace_period_seconds: self.int("gracePeriodSeconds")?,
            field_validation: FieldValidation::parse(self.get("fieldValidation"))?,
        })
    }
}

/// Parses a resourceVersion string; empty means none.
pub fn parse_resource_version(rv: &str) -> Result<u64, ApiError> {
    rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

/// A 422 for invalid list options, in upstream's shape (`ListOptions.meta.k8s.io "" is invalid: …`).
pub fn list_options_invalid(error: FieldError) -> ApiError {
    ApiError::invalid(&GroupKind::new("meta.k8s.io", "ListOptions"), "", &[error].into_iter().collect())
}

impl ListParams {
    /// The storage read revision for a GET: GetOptions has no `resourceVersionMatch`, so a
    /// resourceVersion means "not older than", "0" means any, and none means latest.
    pub fn get_revision(&self) -> Result<ReadRevision, ApiError> {
        match self.resource_version.as_deref() {
            None => Ok(ReadRevision::Latest),
            Some(rv) => Ok(ReadRevision::NotOlderThan(parse_resource_version(rv)?)),
        }
    }

    /// The storage read revision these options ask for (for get and list without continue).
    pub fn read_revision(&self) -> Result<ReadRevision, ApiError> {
        let Some(rv) = self.resource_version.as_deref() else {
            if self.resource_version_match.is_some() {
                return Err(list_options_invalid(FieldError::forbidden(
                    FieldPath::new("resourceVersionMatch"),
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                )));
            }
            return Ok(ReadRevision::Latest);
        };
        let rv = parse_resource_version(rv)?;
        match self.resource_version_match {
            Some(ResourceVersionMatch::Exact) if rv == 0 => Err(list_options_invalid(FieldError::forbidden(
                FieldPath::new("resourceVersionMatch"),
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ))),
            Some(ResourceVersionMatch::Exact) => Ok(ReadRevision::Exact(rv)),
            Some(ResourceVersionMatch::NotOlderThan) | None => Ok(ReadRevision::NotOlderThan(rv)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_list_options() {
        let q =
            Query::parse(Some("limit=5&continue=abc&labelSelector=a%3Db&watch=1&resourceVersion=7")).unwrap();
        let p = q.list_params().unwrap();
        assert_eq!(p.limit, Some(5));
        assert_eq!(p.continue_token.as_deref(), Some("abc"));
        assert_eq!(p.label_selector.as_deref(), Some("a=b"));
        assert!(p.watch);
        assert_eq!(p.read_revision().unwrap(), ReadRevision::NotOlderThan(7));
    }

    #[test]
    fn rv_semantics() {
        let p = Query::parse(None).unwrap().list_params().unwrap();
        assert_eq!(p.read_revision().unwrap(), ReadRevision::Latest);
        let p = Query::parse(Some("resourceVersion=0")).unwrap().list_params().unwrap();
        assert_eq!(p.read_revision().unwrap(), ReadRevision::NotOlderThan(0));
        let p = Query::parse(Some("resourceVersion=9&resourceVersionMatch=Exact"))
            .unwrap()
            .list_params()
            .unwrap();
        assert_eq!(p.read_revision().unwrap(), ReadRevision::Exact(9));
    }

    #[test]
    fn hostile_values_are_400() {
        for q in [
            "limit=abc",
            "watch=maybe",
            "resourceVersionMatch=Sometimes",
            "timeoutSeconds=-x",
            "limit=99999999999999999999999",
        ] {
            let err = Query::parse(Some(q)).unwrap().list_params().unwrap_err();
            assert_eq!(err.code, 400, "{q}");
        }
        let p = Query::parse(Some("resourceVersion=abc")).unwrap().list_params().unwrap();
        assert_eq!(p.read_revision().unwrap_err().code, 400);
        let p = Query::parse(Some("resourceVersionMatch=Exact")).unwrap().list_params().unwrap();
        let err = p.read_revision().unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
        );
        let p = Query::parse(Some("resourceVersion=0&resourceVersionMatch=Exact"))
            .unwrap()
            .list_params()
            .unwrap();
        assert_eq!(p.read_revision().unwrap_err().code, 422);
        let p = Query::parse(Some("resourceVersion=5&resourceVersionMatch=Exact"))
            .unwrap()
            .list_params()
            .unwrap();
        assert_eq!(p.get_revision().unwrap(), ReadRevision::NotOlderThan(5));
        let err = Query::parse(Some("dryRun=Bogus")).unwrap().write_params(OptionsKind::Create).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Bogus"}: supported values: "All""#
        );
        let err =
            Query::parse(Some("dryRun=All&dryRun=x")).unwrap().write_params(OptionsKind::Delete).unwrap_err();
        assert!(err.message.starts_with(r#"DeleteOptions.meta.k8s.io "" is invalid"#), "{}", err.message);
        assert!(Query::parse(Some("dryRun=All")).unwrap().write_params(OptionsKind::Patch).unwrap().dry_run);
        assert!(!Query::parse(None).unwrap().write_params(OptionsKind::Update).unwrap().dry_run);
        let long = "a=".to_owned() + &"b".repeat(MAX_QUERY_LEN);
        assert_eq!(Query::parse(Some(&long)).unwrap_err().code, 400);
        // malformed percent-encoding does not panic
        assert!(Query::parse(Some("%zz=%ff&&==")).is_ok());
    }
}
