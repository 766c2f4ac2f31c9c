//! `#[derive(Protobuf)]`: implements the codec's `Protobuf` trait for a struct whose every
//! field carries `#[protobuf(tag = N)]`. The numbering is the wire contract, so it is
//! checked here: every field numbered, numbers unique and valid (1 ..= 2^29 - 1, not
//! protobuf's reserved 19000 ..= 19999), names unique; all problems of a struct reported in
//! one build.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitInt, LitStr, Path};

use crate::attr::Errors;

const STRUCT_KEYS: &[&str] = &["crate", "name"];
const FIELD_KEYS: &[&str] = &["tag", "name"];
const MAX_TAG: u32 = (1 << 29) - 1;

struct Field {
    ident: syn::Ident,
    ty: syn::Type,
    tag: u32,
    name: String,
}

/// The derive's entry point.
pub(crate) fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let (krate, message_name) = struct_attrs(&input, &mut errors)?;
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new(
            input.generics.span(),
            "#[derive(Protobuf)] does not support generic structs",
        ));
    }
    let named = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named,
            _ => return Err(not_a_named_struct(&input)),
        },
        _ => return Err(not_a_named_struct(&input)),
    };

    let mut fields: Vec<Field> = Vec::new();
    for field in &named.named {
        let ident = field.ident.clone().expect("named field");
        let Some((tag, tag_span, name)) = field_attrs(field, &mut errors)? else {
            continue;
        };
        let name = name.unwrap_or_else(|| lower_camel(&ident.to_string()));
        if let Some(other) = fields.iter().find(|f| f.tag == tag) {
            errors.push(syn::Error::new(
                tag_span,
                format!("protobuf tag {tag} is already used by field `{}`", other.ident),
            ));
        } else if let Some(other) = fields.iter().find(|f| f.name == name) {
            errors.push(syn::Error::new(
                ident.span(),
                format!("protobuf field name `{name}` is already used by field `{}`", other.ident),
            ));
        }
        fields.push(Field { ident, ty: field.ty.clone(), tag, name });
    }
    errors.finish()?;
    fields.sort_by_key(|f| f.tag);

    let ty = &input.ident;
    let message_name = message_name.unwrap_or_else(|| ty.to_string());
    let encode = fields.iter().map(|f| {
        let (ident, tag) = (&f.ident, f.tag);
        quote! { #krate::ProtoField::encode_field(&self.#ident, #tag, buf); }
    });
    let merge = fields.iter().map(|f| {
        let (ident, tag, name) = (&f.ident, f.tag, &f.name);
        quote! { #tag => #krate::ProtoField::merge_value(&mut self.#ident, wire, reader, #name), }
    });
    let describe = fields.iter().map(|f| {
        let (ident, tag, name, fty) = (&f.ident, f.tag, &f.name, &f.ty);
        quote! { #krate::describe_field::<Self, #fty>(schema, #name, #tag, |m: &Self| &m.#ident) }
    });
    Ok(quote! {
        impl #krate::Protobuf for #ty {
            fn proto_name() -> ::std::string::String {
                ::std::string::String::from(#message_name)
            }

            fn encode_fields(&self, buf: &mut ::std::vec::Vec<u8>) {
                #(#encode)*
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire: #krate::WireType,
                reader: &mut #krate::Reader<'_>,
            ) -> ::std::result::Result<(), #krate::DecodeError> {
                match tag {
                    #(#merge)*
                    _ => reader.skip(wire),
                }
            }

            fn describe_fields(schema: &mut #krate::Schema) -> ::std::vec::Vec<#krate::FieldDescriptor> {
                ::std::vec![#(#describe),*]
            }
        }
    })
}

fn not_a_named_struct(input: &DeriveInput) -> syn::Error {
    syn::Error::new(input.ident.span(), "#[derive(Protobuf)] needs a struct with named fields")
}

/// `#[protobuf(crate = "path", name = "Message")]` on the struct.
fn struct_attrs(input: &DeriveInput, errors: &mut Errors) -> syn::Result<(Path, Option<String>)> {
    let mut krate: Option<Path> = None;
    let mut name: Option<String> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("protobuf")) {
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                "crate" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(&mut krate, lit.parse()?, meta.path.span(), &key, errors);
                }
                "name" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(&mut name, lit.value(), meta.path.span(), &key, errors);
                }
                _ => return Err(unknown(&meta, &key, STRUCT_KEYS)),
            }
            Ok(())
        })?;
    }
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::piazza::codec::protobuf));
    Ok((krate, name))
}

/// `#[protobuf(tag = N, name = "jsonName")]` on a field. A missing tag is reported (and
/// `None` returned) so that the other fields are still checked.
fn field_attrs(field: &syn::Field, errors: &mut Errors) -> syn::Result<Option<(u32, Span, Option<String>)>> {
    let mut tag: Option<(u32, Span)> = None;
    let mut name: Option<String> = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("protobuf")) {
        attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match key.as_str() {
                "tag" => {
                    let lit: LitInt = meta.value()?.parse()?;
                    let value: u32 = lit.base10_parse().map_err(|_| {
                        syn::Error::new(lit.span(), format!("a protobuf tag is a number from 1 to {MAX_TAG}"))
                    })?;
                    if value == 0 || value > MAX_TAG {
                        errors.push(syn::Error::new(
                            lit.span(),
                            format!("protobuf tag {value} is out of range: use 1 to {MAX_TAG}"),
                        ));
                    } else if (19000..=19999).contains(&value) {
                        errors.push(syn::Error::new(
                            lit.span(),
                            format!("protobuf tag {value} is reserved by protobuf (19000 to 19999)"),
                        ));
                    }
                    set_once(&mut tag, (value, lit.span()), meta.path.span(), &key, errors);
                }
                "name" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(&mut name, lit.value(), meta.path.span(), &key, errors);
                }
                _ => return Err(unknown(&meta, &key, FIELD_KEYS)),
            }
            Ok(())
        })?;
    }
    match tag {
        Some((value, span)) => Ok(Some((value, span, name))),
        None => {
            let ident = field.ident.as_ref().expect("named field");
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "field `{ident}` has no protobuf field number: add #[protobuf(tag = N)] with a number no other field uses"
                ),
            ));
            Ok(None)
        }
    }
}

/// Stores a key's value, reporting a key given twice.
fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, key: &str, errors: &mut Errors) {
    if slot.replace(value).is_some() {
        errors.push(syn::Error::new(span, format!("duplicate `{key}` in #[protobuf(...)]")));
    }
}

fn unknown(meta: &syn::meta::ParseNestedMeta<'_>, key: &str, keys: &[&str]) -> syn::Error {
    meta.error(format!("unknown key `{key}` in #[protobuf(...)]; expected one of: {}", keys.join(", ")))
}

/// `spec_version` → `specVersion`, `r#type` → `type`.
fn lower_camel(ident: &str) -> String {
    let ident = ident.strip_prefix("r#").unwrap_or(ident);
    let mut out = String::with_capacity(ident.len());
    let mut upper = false;
    for c in ident.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::lower_camel;

    #[test]
    fn names_are_lower_camel_case() {
        assert_eq!(lower_camel("spec"), "spec");
        assert_eq!(lower_camel("deletion_grace_period_seconds"), "deletionGracePeriodSeconds");
        assert_eq!(lower_camel("r#type"), "type");
        assert_eq!(lower_camel("_x"), "x");
    }
}
