//! `#[derive(Resource)]`: from a struct and its `#[resource(...)]` attribute to
//! `impl Object` and `impl Resource`.
//!
//! [`derive`] is the whole macro as a plain function over `syn` types, so tests can call it
//! without a compiler in the loop.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Field, Fields, LitStr, Path};

use crate::attr::{Errors, Group, ResourceAttrs, Scope};
use crate::names::{check_group, check_kind, check_name, check_version, default_plural};

/// Expands `#[derive(Resource)]` on `input`.
pub(crate) fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    // A struct that is not one and a bad attribute are reported in the same build.
    let mut errors = Errors::default();
    let metadata = metadata_field(&input).map_err(|e| errors.push(e)).ok();
    let names = match ResourceAttrs::parse(&input.attrs, &mut errors) {
        Ok(attrs) => Names::resolve(&input, attrs, &mut errors),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    errors.finish()?;
    match (metadata, names) {
        (Some(metadata), Some(names)) => Ok(expand(&input, metadata, &names)),
        _ => unreachable!("each `None` above pushed an error"),
    }
}

/// The `metadata` field, which must exist on a struct with named fields.
fn metadata_field(input: &DeriveInput) -> syn::Result<&Field> {
    const NEED: &str = "#[derive(Resource)] needs a struct with named fields, one of them \
                        `metadata: ObjectMeta`";
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => fields,
            Fields::Unnamed(fields) => return Err(syn::Error::new(fields.span(), NEED)),
            Fields::Unit => return Err(syn::Error::new(input.ident.span(), NEED)),
        },
        Data::Enum(data) => return Err(syn::Error::new(data.enum_token.span(), NEED)),
        Data::Union(data) => return Err(syn::Error::new(data.union_token.span(), NEED)),
    };
    fields.named.iter().find(|f| f.ident.as_ref().is_some_and(|i| i == "metadata")).ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            format!(
                "`{}` has no `metadata` field; add `pub metadata: ObjectMeta` \
                 (the Kubernetes object metadata)",
                input.ident
            ),
        )
    })
}

/// The checked values of every `Resource` item.
struct Names {
    krate: Path,
    group: GroupTokens,
    version: LitStr,
    kind: LitStr,
    plural: LitStr,
    singular: LitStr,
    scope: Scope,
    short_names: Vec<LitStr>,
    categories: Vec<LitStr>,
    defaults: Option<Path>,
    protobuf: bool,
}

enum GroupTokens {
    Lit(LitStr),
    Path(Path),
}

impl Names {
    /// Fills in defaults and checks every value, pushing one error per problem. Returns `None`
    /// only if it pushed at least one error.
    fn resolve(input: &DeriveInput, attrs: ResourceAttrs, errors: &mut Errors) -> Option<Self> {
        let Some(first) = &attrs.first else {
            errors.push(syn::Error::new(
                input.ident.span(),
                "#[derive(Resource)] needs a #[resource(...)] attribute, \
                 e.g. #[resource(group = \"restaurant.example.com\", version = \"v1\", namespaced)]",
            ));
            return None;
        };
        let missing = |key: &str, what: &str| {
            syn::Error::new_spanned(first, format!("missing `{key}` in #[resource(...)]: {what}"))
        };

        let group = match attrs.group {
            Some(Group::Lit(lit)) => {
                check(errors, &lit, "group", check_group);
                Some(GroupTokens::Lit(lit))
            }
            Some(Group::Path(path)) => Some(GroupTokens::Path(path)),
            None => {
                errors.push(missing("group", "the API group, e.g. `group = \"restaurant.example.com\"`"));
                None
            }
        };
        let version = match attrs.version {
            Some(lit) => {
                check(errors, &lit, "version", check_version);
                Some(lit)
            }
            None => {
                errors.push(missing("version", "the API version, e.g. `version = \"v1beta1\"`"));
                None
            }
        };
        let scope = match attrs.scope {
            Some(scope) => Some(scope),
            None => {
                errors.push(missing(
                    "namespaced` or `cluster",
                    "say whether objects live in a namespace (`namespaced`) or not (`cluster`)",
                ));
                None
            }
        };

        // The kind defaults to the struct's name; the names default to the kind's.
        let kind_ok;
        let kind = match attrs.kind {
            Some(kind) => {
                kind_ok = check(errors, &kind, "kind", check_kind);
                kind
            }
            None => {
                let ident = input.ident.to_string();
                let kind = LitStr::new(ident.strip_prefix("r#").unwrap_or(&ident), input.ident.span());
                kind_ok = check(errors, &kind, "kind", |kind| {
                    check_kind(kind).map_err(|why| {
                        format!(
                            "{why} (the kind defaults to the struct's name; set `kind = \"...\"` for another)"
                        )
                    })
                });
                kind
            }
        };
        let derived = |value: String| LitStr::new(&value, kind.span());
        let singular = attrs.singular.unwrap_or_else(|| derived(kind.value().to_ascii_lowercase()));
        let plural = attrs.plural.unwrap_or_else(|| derived(default_plural(&singular.value())));
        // A name derived from a bad kind would only repeat the kind's error.
        if kind_ok {
            check(errors, &singular, "singular", check_name);
            check(errors, &plural, "plural", check_name);
        }
        let short_names = attrs.short_names.unwrap_or_default();
        check_list(errors, &short_names, "short name");
        let categories = attrs.categories.unwrap_or_default();
        check_list(errors, &categories, "category");

        Some(Names {
            krate: attrs.krate.unwrap_or_else(|| syn::parse_quote!(::piazza)),
            group: group?,
            version: version?,
            kind,
            plural,
            singular,
            scope: scope?,
            short_names,
            categories,
            defaults: attrs.defaults,
            protobuf: attrs.protobuf.is_some(),
        })
    }
}

/// Runs `rule` on a string value, pushing an error at the value if it fails.
fn check(errors: &mut Errors, lit: &LitStr, what: &str, rule: impl Fn(&str) -> Result<(), String>) -> bool {
    let value = lit.value();
    match rule(&value) {
        Ok(()) => true,
        Err(why) => {
            let shown = if value.is_empty() { "\"\"".to_owned() } else { format!("`{value}`") };
            errors.push(syn::Error::new(lit.span(), format!("{shown} is not a valid {what}: {why}")));
            false
        }
    }
}

fn check_list(errors: &mut Errors, items: &[LitStr], what: &str) {
    for (i, lit) in items.iter().enumerate() {
        if check(errors, lit, what, check_name)
            && items[..i].iter().any(|earlier| earlier.value() == lit.value())
        {
            errors.push(syn::Error::new(lit.span(), format!("duplicate {what} `{}`", lit.value())));
        }
    }
}

fn expand(input: &DeriveInput, metadata: &Field, names: &Names) -> TokenStream {
    let Names {
        krate,
        group,
        version,
        kind,
        plural,
        singular,
        scope,
        short_names,
        categories,
        defaults,
        protobuf,
    } = names;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    // Spanned at the field's type, so a `metadata` of the wrong type is reported there.
    let meta_ty = metadata.ty.span();
    let object_meta = quote_spanned!(meta_ty=> #krate::meta::ObjectMeta);
    let get = quote_spanned!(meta_ty=> &self.metadata);
    let get_mut = quote_spanned!(meta_ty=> &mut self.metadata);

    let group = match group {
        GroupTokens::Lit(lit) => quote!(#lit),
        GroupTokens::Path(path) => quote!(#path),
    };
    let scope = match scope {
        Scope::Namespaced => quote!(#krate::Scope::Namespaced),
        Scope::Cluster => quote!(#krate::Scope::Cluster),
    };
    let apply_defaults = defaults.as_ref().map(|path| {
        // Spanned at the path, so a function of the wrong signature is reported there.
        // The fn pointer makes a wrong signature one error: "expected `fn(&mut Pizza)`".
        let call = quote_spanned! {path.span()=>
            let apply_defaults: fn(&mut Self) = #path;
            apply_defaults(self);
        };
        quote! {
            fn apply_defaults(&mut self) {
                #call
            }
        }
    });

    let protobuf = protobuf.then(|| {
        quote! {
            fn protobuf() -> ::core::option::Option<#krate::ProtobufHooks<Self>> {
                ::core::option::Option::Some(#krate::codec::protobuf::hooks::<Self>())
            }
        }
    });

    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Object for #ident #ty_generics #where_clause {
            fn metadata(&self) -> &#object_meta {
                #get
            }
            fn metadata_mut(&mut self) -> &mut #object_meta {
                #get_mut
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::Resource for #ident #ty_generics #where_clause {
            const GROUP: &'static str = #group;
            const VERSION: &'static str = #version;
            const KIND: &'static str = #kind;
            const PLURAL: &'static str = #plural;
            const SINGULAR: &'static str = #singular;
            const SCOPE: #krate::Scope = #scope;
            const SHORT_NAMES: &'static [&'static str] = &[#(#short_names),*];
            const CATEGORIES: &'static [&'static str] = &[#(#categories),*];
            #apply_defaults
            #protobuf
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_ok(input: TokenStream) -> String {
        derive(syn::parse2(input).unwrap()).unwrap().to_string()
    }

    fn expand_err(input: TokenStream) -> Vec<String> {
        derive(syn::parse2(input).unwrap()).unwrap_err().into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn full_attribute() {
        let out = expand_ok(quote! {
            #[derive(Clone)]
            #[resource(group = "restaurant.programming-kubernetes.info", version = "v1beta1", kind = "Pizza",
                       plural = "pizzas", singular = "pizza", namespaced, short_names = ["pz"],
                       categories = ["all"], defaults = Self::apply_pizza_defaults)]
            pub struct Pizza { pub metadata: ObjectMeta, pub spec: PizzaSpec }
        });
        let want = quote! {
            #[automatically_derived]
            impl ::piazza::Object for Pizza {
                fn metadata(&self) -> &::piazza::meta::ObjectMeta {
                    &self.metadata
                }
                fn metadata_mut(&mut self) -> &mut ::piazza::meta::ObjectMeta {
                    &mut self.metadata
                }
            }

            #[automatically_derived]
            impl ::piazza::Resource for Pizza {
                const GROUP: &'static str = "restaurant.programming-kubernetes.info";
                const VERSION: &'static str = "v1beta1";
                const KIND: &'static str = "Pizza";
                const PLURAL: &'static str = "pizzas";
                const SINGULAR: &'static str = "pizza";
                const SCOPE: ::piazza::Scope = ::piazza::Scope::Namespaced;
                const SHORT_NAMES: &'static [&'static str] = &["pz"];
                const CATEGORIES: &'static [&'static str] = &["all"];
                fn apply_defaults(&mut self) {
                    let apply_defaults: fn(&mut Self) = Self::apply_pizza_defaults;
                    apply_defaults(self);
                }
            }
        };
        assert_eq!(out, want.to_string());
    }

    #[test]
    fn defaults_crate_path_and_generics() {
        let out = expand_ok(quote! {
            #[resource(group = super::GROUP, version = "v1")]
            #[resource(cluster, crate = "piazza_core")]
            struct Policy<T: Clone> where T: Send { metadata: ObjectMeta, spec: T }
        });
        let want = quote! {
            #[automatically_derived]
            impl<T: Clone> piazza_core::Object for Policy<T> where T: Send {
                fn metadata(&self) -> &piazza_core::meta::ObjectMeta {
                    &self.metadata
                }
                fn metadata_mut(&mut self) -> &mut piazza_core::meta::ObjectMeta {
                    &mut self.metadata
                }
            }

            #[automatically_derived]
            impl<T: Clone> piazza_core::Resource for Policy<T> where T: Send {
                const GROUP: &'static str = super::GROUP;
                const VERSION: &'static str = "v1";
                const KIND: &'static str = "Policy";
                const PLURAL: &'static str = "policies";
                const SINGULAR: &'static str = "policy";
                const SCOPE: piazza_core::Scope = piazza_core::Scope::Cluster;
                const SHORT_NAMES: &'static [&'static str] = &[];
                const CATEGORIES: &'static [&'static str] = &[];
            }
        };
        assert_eq!(out, want.to_string());
    }

    #[test]
    fn protobuf_flag_returns_the_derived_hooks() {
        let out = expand_ok(quote! {
            #[resource(group = "a.b", version = "v1", namespaced, protobuf)]
            struct Thing { metadata: ObjectMeta }
        });
        let want = quote! {
            fn protobuf() -> ::core::option::Option<::piazza::ProtobufHooks<Self>> {
                ::core::option::Option::Some(::piazza::codec::protobuf::hooks::<Self>())
            }
        };
        assert!(out.contains(&want.to_string()), "{out}");
        let plain = expand_ok(quote! {
            #[resource(group = "a.b", version = "v1", namespaced)]
            struct Thing { metadata: ObjectMeta }
        });
        assert!(!plain.contains("fn protobuf"), "{plain}");
        let errors = expand_err(quote! {
            #[resource(group = "a.b", version = "v1", namespaced, protobuf = true)]
            struct Thing { metadata: ObjectMeta }
        });
        assert_eq!(errors, ["`protobuf` is a flag and takes no value: write `#[resource(..., protobuf)]`"]);
    }

    #[test]
    fn names_follow_kind_and_raw_identifiers() {
        let out = expand_ok(quote! {
            #[resource(group = "a.b", version = "v1", namespaced, kind = "Ingress", crate = ::piazza)]
            struct r#Whatever { metadata: ObjectMeta }
        });
        assert!(out.contains(r#"const KIND : & 'static str = "Ingress""#), "{out}");
        assert!(out.contains(r#"const PLURAL : & 'static str = "ingresses""#), "{out}");
        assert!(out.contains(r#"const SINGULAR : & 'static str = "ingress""#), "{out}");

        let out = expand_ok(quote! {
            #[resource(group = "a.b", version = "v1", namespaced)]
            struct r#Box { metadata: ObjectMeta }
        });
        assert!(out.contains(r#"const KIND : & 'static str = "Box""#), "{out}");
        assert!(out.contains(r#"const PLURAL : & 'static str = "boxes""#), "{out}");
    }

    #[test]
    fn reports_every_problem_at_once() {
        let errors = expand_err(quote! {
            #[resource(group = "Example", version = "1", namespaced, cluster, plural = "Pizzas",
                       short_names = ["pz", "pz"], categories = ["All"])]
            #[resource(version = "v1")]
            struct Pizza { metadata: ObjectMeta }
        });
        assert_eq!(
            errors,
            [
                "`cluster` conflicts with `namespaced`: a kind is either namespaced or cluster-scoped",
                "duplicate `version` in #[resource(...)]",
                "`Example` is not a valid group: it contains the uppercase letter `E` (try `example`); \
                 a group is a lowercase DNS subdomain with at least one dot, e.g. `restaurant.example.com`",
                "`1` is not a valid version: it must start with a lowercase `v`; a version is `v`, a major \
                 number, and optionally `alpha` or `beta` and a number, e.g. `v1`, `v1beta2`, `v2alpha1`",
                "`Pizzas` is not a valid plural: it must be lowercase (try `pizzas`)",
                "duplicate short name `pz`",
                "`All` is not a valid category: it must be lowercase (try `all`)",
            ]
        );
    }

    #[test]
    fn missing_keys() {
        let errors = expand_err(quote! {
            #[resource(kind = "Pizza")]
            struct Pizza { metadata: ObjectMeta }
        });
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("missing `group`"), "{errors:?}");
        assert!(errors[1].starts_with("missing `version`"), "{errors:?}");
        assert!(errors[2].starts_with("missing `namespaced` or `cluster`"), "{errors:?}");

        let errors = expand_err(quote!(
            struct Pizza {
                metadata: ObjectMeta,
            }
        ));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("#[derive(Resource)] needs a #[resource(...)] attribute"));
    }

    #[test]
    fn shape_errors() {
        for input in [
            quote!(
                #[resource(group = "a.b", version = "v1", namespaced)]
                enum E {
                    A,
                }
            ),
            quote!(
                #[resource(group = "a.b", version = "v1", namespaced)]
                struct T(ObjectMeta);
            ),
            quote!(
                #[resource(group = "a.b", version = "v1", namespaced)]
                struct U;
            ),
        ] {
            let errors = expand_err(input);
            assert_eq!(errors.len(), 1);
            assert!(errors[0].starts_with("#[derive(Resource)] needs a struct with named fields"));
        }
        let errors = expand_err(quote! {
            #[resource(group = "a.b", version = "v1", namespaced)]
            struct Pizza { meta: ObjectMeta }
        });
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("`Pizza` has no `metadata` field"));
        // With a broken attribute too, both are reported.
        let errors = expand_err(quote! {
            #[resource(group = 1)]
            enum E { A }
        });
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn syntax_errors() {
        for (input, want) in [
            (
                quote!(
                    #[resource(scope = "Cluster")]
                    struct P {
                        metadata: M,
                    }
                ),
                "the scope is a flag",
            ),
            (
                quote!(
                    #[resource(colour = "red")]
                    struct P {
                        metadata: M,
                    }
                ),
                "expected one of: group, version",
            ),
            (
                quote!(
                    #[resource(shortNames = ["p"])]
                    struct P {
                        metadata: M,
                    }
                ),
                "did you mean `short_names`?",
            ),
            (
                quote!(
                    #[resource(namespaced = true)]
                    struct P {
                        metadata: M,
                    }
                ),
                "`namespaced` is a flag",
            ),
            (
                quote!(
                    #[resource(group = 1)]
                    struct P {
                        metadata: M,
                    }
                ),
                "expected the group as a string",
            ),
            (
                quote!(
                    #[resource(version = v1)]
                    struct P {
                        metadata: M,
                    }
                ),
                "expected a string: `version = \"v1beta1\"`",
            ),
            (
                quote!(
                    #[resource(group)]
                    struct P {
                        metadata: M,
                    }
                ),
                "`group` needs a value",
            ),
            (
                quote!(
                    #[resource(short_names = "pz")]
                    struct P {
                        metadata: M,
                    }
                ),
                "expected a list of strings",
            ),
            (
                quote!(
                    #[resource(crate = "not a path")]
                    struct P {
                        metadata: M,
                    }
                ),
                "expected a crate path",
            ),
            (
                quote!(
                    #[resource]
                    struct P {
                        metadata: M,
                    }
                ),
                "expected attribute arguments in parentheses",
            ),
        ] {
            let errors = expand_err(input);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].contains(want), "{errors:?} should contain {want:?}");
        }
    }

    #[test]
    fn bad_kind_is_reported_once() {
        let errors = expand_err(quote! {
            #[resource(group = "a.b", version = "v1", namespaced)]
            struct Pizza_Topping { metadata: ObjectMeta }
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("`Pizza_Topping` is not a valid kind"), "{errors:?}");
        assert!(
            errors[0].ends_with("(the kind defaults to the struct's name; set `kind = \"...\"` for another)")
        );
    }
}
