//! Parsing `#[resource(...)]` into [`ResourceAttrs`]: syntax, unknown and duplicate keys, and
//! the scope flags. What the values mean is checked in `resource.rs`.
//!
//! Syntax errors (a missing `=`, a number where a string belongs, an unknown key) stop the
//! parse at once. Semantic ones (a duplicate key, two scopes) are collected in [`Errors`] so
//! that one build shows all of them.

use syn::meta::ParseNestedMeta;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, LitStr, Path, Token, bracketed};

use crate::names::did_you_mean;

/// The attribute's keys, in the order the docs list them.
const KEYS: &[&str] = &[
    "group",
    "version",
    "kind",
    "plural",
    "singular",
    "namespaced",
    "cluster",
    "short_names",
    "categories",
    "defaults",
    "protobuf",
    "crate",
];

/// Everything `#[resource(...)]` said, each value with its span for later errors.
#[derive(Default)]
pub(crate) struct ResourceAttrs {
    /// The first `resource(...)` attribute, for "missing key" errors.
    pub first: Option<syn::Meta>,
    pub group: Option<Group>,
    pub version: Option<LitStr>,
    pub kind: Option<LitStr>,
    pub plural: Option<LitStr>,
    pub singular: Option<LitStr>,
    pub scope: Option<Scope>,
    pub short_names: Option<Vec<LitStr>>,
    pub categories: Option<Vec<LitStr>>,
    pub defaults: Option<Path>,
    /// `protobuf`: the type also derives `Protobuf` and is served and stored in it.
    pub protobuf: Option<proc_macro2::Span>,
    pub krate: Option<Path>,
}

/// `group = "a.b"` (checked at compile time) or `group = some::GROUP` (a `&str` const, used
/// as is, so several kinds can share one declaration of their group).
pub(crate) enum Group {
    Lit(LitStr),
    Path(Path),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Namespaced,
    Cluster,
}

impl Scope {
    fn key(self) -> &'static str {
        match self {
            Scope::Namespaced => "namespaced",
            Scope::Cluster => "cluster",
        }
    }
}

/// Collects errors so that one build reports all of them.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `Err` with every error pushed so far, if any.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

impl ResourceAttrs {
    /// Reads every `#[resource(...)]` among `attrs`; keys may be spread over several of them.
    pub(crate) fn parse(attrs: &[Attribute], errors: &mut Errors) -> syn::Result<Self> {
        let mut out = ResourceAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("resource")) {
            out.first.get_or_insert_with(|| attr.meta.clone());
            attr.parse_nested_meta(|meta| {
                let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
                let key_span = meta.path.span();
                let duplicate = |errors: &mut Errors| {
                    errors.push(syn::Error::new(key_span, format!("duplicate `{key}` in #[resource(...)]")));
                };
                match key.as_str() {
                    "group" => {
                        let value = value(&meta, "\"restaurant.example.com\"")?.parse::<GroupValue>()?.0;
                        set(&mut out.group, value, errors, duplicate);
                    }
                    "version" => set(&mut out.version, string(&meta, "v1beta1")?, errors, duplicate),
                    "kind" => set(&mut out.kind, string(&meta, "Pizza")?, errors, duplicate),
                    "plural" => set(&mut out.plural, string(&meta, "pizzas")?, errors, duplicate),
                    "singular" => set(&mut out.singular, string(&meta, "pizza")?, errors, duplicate),
                    "short_names" => {
                        let value = value(&meta, "[\"pz\"]")?.parse::<StrList>()?.0;
                        set(&mut out.short_names, value, errors, duplicate);
                    }
                    "categories" => {
                        let value = value(&meta, "[\"all\"]")?.parse::<StrList>()?.0;
                        set(&mut out.categories, value, errors, duplicate);
                    }
                    "defaults" => {
                        let value = value(&meta, "Self::apply_defaults_v1")?.parse()?;
                        set(&mut out.defaults, value, errors, duplicate);
                    }
                    "crate" => {
                        let value = value(&meta, "\"piazza_core\"")?.parse::<CratePath>()?.0;
                        set(&mut out.krate, value, errors, duplicate);
                    }
                    "protobuf" => {
                        if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                            return Err(meta.error(
                                "`protobuf` is a flag and takes no value: write `#[resource(..., protobuf)]`",
                            ));
                        }
                        set(&mut out.protobuf, key_span, errors, duplicate);
                    }
                    "namespaced" | "cluster" => {
                        let scope = if key == "namespaced" { Scope::Namespaced } else { Scope::Cluster };
                        if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                            return Err(meta.error(format!(
                                "`{key}` is a flag and takes no value: write `#[resource(..., {key})]`"
                            )));
                        }
                        match out.scope {
                            Some(previous) if previous == scope => duplicate(errors),
                            Some(previous) => errors.push(syn::Error::new(
                                key_span,
                                format!(
                                    "`{key}` conflicts with `{}`: a kind is either namespaced or cluster-scoped",
                                    previous.key()
                                ),
                            )),
                            None => out.scope = Some(scope),
                        }
                    }
                    _ => {
                        let hint = match did_you_mean(&key, KEYS) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None if key == "scope" => "the scope is a flag: write `namespaced` or `cluster`".into(),
                            None => format!("expected one of: {}", KEYS.join(", ")),
                        };
                        let shown = path_to_string(&meta.path);
                        return Err(meta.error(format!("unknown key `{shown}` in #[resource(...)]; {hint}")));
                    }
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// The input after `key =`, or an error showing how the key is written.
fn value<'a>(meta: &'a ParseNestedMeta<'_>, example: &str) -> syn::Result<ParseStream<'a>> {
    if !meta.input.peek(Token![=]) {
        let key = path_to_string(&meta.path);
        return Err(meta.error(format!("`{key}` needs a value: `{key} = {example}`")));
    }
    meta.value()
}

/// A string value, or an error showing how the key is written.
fn string(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<LitStr> {
    let input = value(meta, &format!("\"{example}\""))?;
    if !input.peek(LitStr) {
        let key = path_to_string(&meta.path);
        return Err(input.error(format!("expected a string: `{key} = \"{example}\"`")));
    }
    input.parse()
}

/// Stores a value unless the key was given already.
fn set<T>(slot: &mut Option<T>, value: T, errors: &mut Errors, duplicate: impl FnOnce(&mut Errors)) {
    if slot.is_some() {
        duplicate(errors);
    } else {
        *slot = Some(value);
    }
}

fn path_to_string(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.join("::")
}

struct GroupValue(Group);

impl Parse for GroupValue {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(GroupValue(Group::Lit(input.parse()?)));
        }
        if input.peek(syn::Lit) || input.is_empty() || input.peek(Token![,]) {
            return Err(input.error(
                "expected the group as a string, e.g. `group = \"restaurant.example.com\"`, or a path to a `&str` const",
            ));
        }
        Ok(GroupValue(Group::Path(input.parse()?)))
    }
}

/// `["a", "b"]`, trailing comma allowed.
struct StrList(Vec<LitStr>);

impl Parse for StrList {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(syn::token::Bracket) {
            return Err(input.error("expected a list of strings in brackets, e.g. `[\"pz\"]`"));
        }
        let content;
        bracketed!(content in input);
        let items = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
        Ok(StrList(items.into_iter().collect()))
    }
}

/// `crate = "piazza_core"` (as serde writes it) or `crate = piazza_core`.
struct CratePath(Path);

impl Parse for CratePath {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            return lit.parse().map(CratePath).map_err(|_| {
                syn::Error::new(
                    lit.span(),
                    "expected a crate path such as `\"piazza_core\"` or `\"::piazza\"`",
                )
            });
        }
        Ok(CratePath(input.call(Path::parse_mod_style)?))
    }
}
