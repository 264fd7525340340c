//! The op generator: reads `schema/ops.spec` (one line per builtin operator)
//! and `schema/tflite.fbs`, and generates
//! - `src/model/op_generated.rs`: typed options structs and schema enums for
//!   the generated ops, their read/write glue, and the `OPS` table of every
//!   operator's facts;
//! - the generated variants of `Op`, spliced into `src/model/op.rs` between
//!   the `BEGIN GENERATED` / `END GENERATED` markers;
//! - the generated builder methods, spliced into `src/build/ops.rs`.
//!
//! `cargo test --test opgen` fails when the checked-in code differs from a
//! fresh generation; `TFLITE_FORGE_BLESS=1 cargo test --test opgen` writes
//! it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------- schema

#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: String,
    default: Option<String>,
}

#[derive(Debug, Default)]
struct Schema {
    /// enum name -> (underlying type, [(value name, value)])
    enums: BTreeMap<String, (String, Vec<(String, i64)>)>,
    /// table name -> non-deprecated fields, in order
    tables: BTreeMap<String, Vec<Field>>,
    /// union name -> members
    unions: BTreeMap<String, Vec<String>>,
}

fn strip_comment(l: &str) -> &str {
    l.split("//").next().unwrap_or("").trim()
}

fn parse_schema(text: &str) -> Schema {
    let mut s = Schema::default();
    let mut lines = text.lines().map(strip_comment);
    while let Some(l) = lines.next() {
        let words: Vec<&str> = l.split_whitespace().collect();
        match words.first().copied() {
            Some("enum") => {
                let name = words[1].trim_end_matches(':').to_string();
                let base = words.get(3).map(|w| w.trim_end_matches('{').to_string()).unwrap_or_default();
                let mut values = Vec::new();
                let mut next = 0i64;
                for l in lines.by_ref() {
                    if l.starts_with('}') {
                        break;
                    }
                    let l = l.trim_end_matches(',');
                    if l.is_empty() {
                        continue;
                    }
                    let (n, v) = match l.split_once('=') {
                        Some((n, v)) => (n.trim().to_string(), v.trim().parse::<i64>().expect("enum value")),
                        None => (l.trim().to_string(), next),
                    };
                    next = v + 1;
                    values.push((n, v));
                }
                s.enums.insert(name, (base, values));
            }
            Some("union") => {
                let name = words[1].to_string();
                let mut members = Vec::new();
                for l in lines.by_ref() {
                    if l.starts_with('}') {
                        break;
                    }
                    let m = l.trim_end_matches(',').trim();
                    if !m.is_empty() {
                        members.push(m.to_string());
                    }
                }
                s.unions.insert(name, members);
            }
            Some("table") | Some("struct") => {
                let name = words[1].to_string();
                let mut fields = Vec::new();
                if !l.contains('}') {
                    for l in lines.by_ref() {
                        if l.starts_with('}') {
                            break;
                        }
                        let Some((n, rest)) = l.split_once(':') else { continue };
                        if rest.contains("(deprecated") {
                            continue;
                        }
                        let rest = rest.trim_end_matches(';');
                        let rest = rest.split('(').next().unwrap_or("").trim();
                        let (ty, default) = match rest.split_once('=') {
                            Some((t, d)) => (t.trim().to_string(), Some(d.trim().to_string())),
                            None => (rest.to_string(), None),
                        };
                        fields.push(Field { name: n.trim().to_string(), ty, default });
                    }
                }
                s.tables.insert(name, fields);
            }
            _ => {}
        }
    }
    s
}

// ---------------------------------------------------------------- spec

#[derive(Debug, Clone)]
struct OpSpec {
    code: i32,
    name: String,
    variant: String,
    options: String,
    inputs: (u32, Option<u32>),
    outputs: (u32, Option<u32>),
    family: String,
    deprecated: bool,
    doc: String,
}

impl OpSpec {
    fn hand(&self) -> bool {
        self.options == "hand"
    }
}

fn arity(s: &str) -> (u32, Option<u32>) {
    match s.split_once("..") {
        Some((a, "")) => (a.parse().expect("arity"), None),
        Some((a, b)) => (a.parse().expect("arity"), Some(b.parse().expect("arity"))),
        None => {
            let n = s.parse().expect("arity");
            (n, Some(n))
        }
    }
}

fn parse_spec(text: &str) -> Vec<OpSpec> {
    let mut out = Vec::new();
    for l in text.lines() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with("glue ") {
            continue;
        }
        let (cols, doc) = l.split_once('|').expect("spec line has a doc after |");
        let c: Vec<&str> = cols.split_whitespace().collect();
        assert_eq!(c.len(), 8, "spec line: {l}");
        out.push(OpSpec {
            code: c[0].parse().expect("code"),
            name: c[1].to_string(),
            variant: c[2].to_string(),
            options: c[3].to_string(),
            inputs: arity(c[4]),
            outputs: arity(c[5]),
            family: c[6].to_string(),
            deprecated: c[7] == "deprecated",
            doc: doc.trim().to_string(),
        });
    }
    out
}

/// One field of a hand-written variant's glue: `ours=theirs:conversion`.
#[derive(Debug, Clone)]
struct GlueField {
    ours: String,
    theirs: String,
    conv: Option<String>,
    /// A schema field the model does not keep (`-field`).
    dropped: bool,
}

/// How a hand-written variant maps to its options table (a `glue` line).
#[derive(Debug, Clone)]
struct Glue {
    name: String,
    /// `unit`, `value`, `struct` or `tuple:Type`.
    shape: String,
    /// The options table, or `-`.
    table: String,
    /// `zero`, `omit`, `default` or `required`.
    absent: String,
    fields: Vec<GlueField>,
}

fn parse_glue(text: &str) -> Vec<Glue> {
    let mut out = Vec::new();
    for l in text.lines().map(str::trim).filter(|l| l.starts_with("glue ")) {
        let c: Vec<&str> = l.split_whitespace().collect();
        assert!(c.len() >= 5, "glue line: {l}");
        assert!(matches!(c[4], "zero" | "omit" | "default" | "required"), "absent rule {} in: {l}", c[4]);
        let fields = c[5..]
            .iter()
            .map(|f| {
                if let Some(d) = f.strip_prefix('-') {
                    return GlueField { ours: String::new(), theirs: d.to_string(), conv: None, dropped: true };
                }
                let (names, conv) = match f.split_once(':') {
                    Some((n, c)) => (n, Some(c.to_string())),
                    None => (*f, None),
                };
                let (ours, theirs) = names.split_once('=').unwrap_or((names, names));
                GlueField { ours: ours.to_string(), theirs: theirs.to_string(), conv, dropped: false }
            })
            .collect();
        out.push(Glue { name: c[1].to_string(), shape: c[2].to_string(), table: c[3].to_string(), absent: c[4].to_string(), fields });
    }
    out
}

// ---------------------------------------------------------------- naming

/// `Conv3DOptions` -> `Conv3dOptions`, `LSTMKernelType` -> `LstmKernelType`.
fn rust_type_name(schema_name: &str) -> String {
    if schema_name == "StableHLOCompositeOptions" {
        return "StablehloCompositeOptions".into();
    }
    let chars: Vec<char> = schema_name.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_uppercase() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_uppercase() {
                i += 1;
            }
            let run: Vec<char> = chars[start..i].to_vec();
            // The last capital of a run starts the next word when a lowercase
            // letter follows.
            let followed_by_lower = i < chars.len() && chars[i].is_ascii_lowercase();
            for (k, ch) in run.iter().enumerate() {
                let after_digit = start > 0 && chars[start - 1].is_ascii_digit() && run.len() > 1;
                let keep_upper = (k == 0 && !after_digit) || (followed_by_lower && k == run.len() - 1);
                out.push(if keep_upper { *ch } else { ch.to_ascii_lowercase() });
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// `SHUFFLED4x16INT8` / `STABLEHLO_COMPARISON_DIRECTION_EQ` -> variant names.
fn rust_variant_name(enum_name: &str, value: &str) -> String {
    let mut v = value.to_string();
    let prefixes = ["STABLEHLO_COMPARISON_DIRECTION_", "STABLEHLO_COMPARISON_TYPE_"];
    for p in prefixes {
        if enum_name.starts_with("StablehloComparison") {
            v = v.trim_start_matches(p).to_string();
        }
    }
    v.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &cs.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

fn field_name(n: &str) -> String {
    match n {
        "type" => "kind".into(),
        _ => n.into(),
    }
}

fn fb_field_name(n: &str) -> String {
    match n {
        "type" => "type_".into(),
        _ => n.into(),
    }
}

fn snake(variant: &str) -> String {
    let mut out = String::new();
    let cs: Vec<char> = variant.chars().collect();
    for (i, c) in cs.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower_or_digit = i > 0 && (cs[i - 1].is_ascii_lowercase() || cs[i - 1].is_ascii_digit());
            if i > 0 && prev_lower_or_digit {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

// ---------------------------------------------------------------- types

/// Schema enums that the hand-written model already maps.
fn hand_enum(name: &str) -> Option<&'static str> {
    match name {
        "ActivationFunctionType" => Some("Activation"),
        "Padding" => Some("Padding"),
        "TensorType" => Some("DType"),
        "MirrorPadMode" => Some("MirrorPadMode"),
        "CustomOptionsFormat" => Some("CustomOptionsFormat"),
        _ => None,
    }
}

#[derive(Debug, Clone)]
enum Ty {
    Scalar(&'static str),
    Str,
    Vec(Box<Ty>),
    Enum(String),
}

fn scalar(t: &str) -> Option<&'static str> {
    Some(match t {
        "bool" => "bool",
        "byte" | "int8" => "i8",
        "ubyte" | "uint8" => "u8",
        "short" | "int16" => "i16",
        "ushort" | "uint16" => "u16",
        "int" | "int32" => "i32",
        "uint" | "uint32" => "u32",
        "long" | "int64" => "i64",
        "ulong" | "uint64" => "u64",
        "float" | "float32" => "f32",
        "double" | "float64" => "f64",
        _ => return None,
    })
}

fn ty_of(schema: &Schema, t: &str) -> Ty {
    if let Some(inner) = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        return Ty::Vec(Box::new(ty_of(schema, inner)));
    }
    if t == "string" {
        return Ty::Str;
    }
    if let Some(s) = scalar(t) {
        return Ty::Scalar(s);
    }
    assert!(schema.enums.contains_key(t), "unknown field type {t}");
    Ty::Enum(t.to_string())
}

fn rust_ty(t: &Ty) -> String {
    match t {
        Ty::Scalar(s) => s.to_string(),
        Ty::Str => "String".into(),
        Ty::Vec(inner) => format!("Vec<{}>", rust_ty(inner)),
        Ty::Enum(e) => hand_enum(e).map(str::to_string).unwrap_or_else(|| rust_type_name(e)),
    }
}

fn copy_ty(t: &Ty) -> bool {
    !matches!(t, Ty::Str | Ty::Vec(_))
}

/// Expression converting the fb value `v` (an enum value) to ours, `?` on error.
fn enum_from_fb(e: &str, v: &str) -> String {
    match hand_enum(e) {
        Some("Activation") => format!("activation_from_fb({v})?"),
        Some("Padding") => format!("padding_from_fb({v})?"),
        Some("DType") => format!("dtype_from_fb({v})?"),
        Some("MirrorPadMode") => format!("mirror_pad_mode_from_fb({v})?"),
        Some("CustomOptionsFormat") => format!("custom_options_format_from_fb({v})?"),
        _ => format!("{}::from_fb({v})?", rust_type_name(e)),
    }
}

fn enum_to_fb(e: &str, v: &str) -> String {
    match hand_enum(e) {
        Some("Activation") => format!("activation_to_fb({v})"),
        Some("Padding") => format!("padding_to_fb({v})"),
        Some("DType") => format!("dtype_to_fb({v})"),
        Some("MirrorPadMode") => format!("mirror_pad_mode_to_fb({v})"),
        Some("CustomOptionsFormat") => format!("custom_options_format_to_fb({v})"),
        _ => format!("{v}.to_fb()"),
    }
}

fn default_expr(schema: &Schema, f: &Field, t: &Ty) -> String {
    match t {
        Ty::Scalar("bool") => f.default.clone().unwrap_or_else(|| "false".into()),
        Ty::Scalar("f32") | Ty::Scalar("f64") => {
            let d = f.default.clone().unwrap_or_else(|| "0.0".into());
            if d.contains('.') { d } else { format!("{d}.0") }
        }
        Ty::Scalar(_) => f.default.clone().unwrap_or_else(|| "0".into()),
        Ty::Str => "String::new()".into(),
        Ty::Vec(_) => "Vec::new()".into(),
        Ty::Enum(e) => {
            let (_, values) = &schema.enums[e];
            let name = match &f.default {
                Some(d) => d.clone(),
                None => values.iter().find(|(_, v)| *v == 0).map(|(n, _)| n.clone()).expect("enum has a zero value"),
            };
            match hand_enum(e) {
                Some("DType") => format!("DType::{}", dtype_variant(&name)),
                Some(h) => format!("{h}::{}", hand_enum_variant(h, &name)),
                None => format!("{}::{}", rust_type_name(e), rust_variant_name(e, &name)),
            }
        }
    }
}

fn dtype_variant(n: &str) -> &'static str {
    match n {
        "FLOAT32" => "F32",
        "INT32" => "I32",
        "INT64" => "I64",
        "FLOAT16" => "F16",
        "INT8" => "I8",
        "UINT8" => "U8",
        "BOOL" => "Bool",
        "STRING" => "String",
        other => panic!("dtype default {other}"),
    }
}

fn hand_enum_variant(h: &str, n: &str) -> &'static str {
    match (h, n) {
        ("Activation", "NONE") => "None",
        ("Padding", "SAME") => "Same",
        ("Padding", "VALID") => "Valid",
        ("MirrorPadMode", "REFLECT") => "Reflect",
        ("CustomOptionsFormat", "FLEXBUFFERS") => "FlexBuffers",
        other => panic!("hand enum default {other:?}"),
    }
}

// ---------------------------------------------------------------- generation

struct Gen<'a> {
    schema: &'a Schema,
    ops: &'a [OpSpec],
    /// Hand-written variants of `Op` and how they hold data: `(` tuple,
    /// `{` struct, `,` unit (read from src/model/op.rs).
    hand_shapes: BTreeMap<String, char>,
    /// The `glue` lines of the hand-written variants.
    glue: &'a [Glue],
}

/// The variants declared by hand in `pub enum Op` and their shapes.
fn hand_shapes(op_rs: &str) -> BTreeMap<String, char> {
    let mut out = BTreeMap::new();
    let Some(start) = op_rs.find("pub enum Op {") else { return out };
    let body = &op_rs[start..];
    let end = body.find("\n}\n").unwrap_or(body.len());
    for line in body[..end].lines().skip(1) {
        let Some(rest) = line.strip_prefix("    ") else { continue };
        if rest.starts_with(' ') || rest.starts_with('/') || rest.starts_with('#') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if let Some(c) = rest[name.len()..].trim_start().chars().next() {
            if !name.is_empty() {
                out.insert(name, c);
            }
        }
    }
    out
}

impl Gen<'_> {
    fn union_of(&self, table: &str) -> &'static str {
        if self.schema.unions["BuiltinOptions"].iter().any(|m| m == table) {
            "BuiltinOptions"
        } else if self.schema.unions["BuiltinOptions2"].iter().any(|m| m == table) {
            "BuiltinOptions2"
        } else {
            panic!("options table {table} is in neither union")
        }
    }

    fn fields(&self, table: &str) -> &[Field] {
        self.schema.tables.get(table).unwrap_or_else(|| panic!("no table {table}"))
    }

    fn generated(&self) -> impl Iterator<Item = &OpSpec> {
        self.ops.iter().filter(|o| !o.hand())
    }

    /// Tables with fields used by generated ops, sorted.
    fn option_tables(&self) -> BTreeSet<String> {
        self.generated().filter(|o| o.options != "-" && !self.fields(&o.options).is_empty()).map(|o| o.options.clone()).collect()
    }

    fn payload(&self, o: &OpSpec) -> Option<String> {
        (o.options != "-" && !self.fields(&o.options).is_empty()).then(|| rust_type_name(&o.options))
    }

    fn enums_used(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for t in self.option_tables() {
            for f in self.fields(&t) {
                let mut ty = ty_of(self.schema, &f.ty);
                while let Ty::Vec(inner) = ty {
                    ty = *inner;
                }
                if let Ty::Enum(e) = ty
                    && hand_enum(&e).is_none()
                {
                    out.insert(e);
                }
            }
        }
        out
    }

    fn file(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "// @generated by tests/opgen.rs from schema/ops.spec and schema/tflite.fbs.\n\
             // Do not edit: change the spec or the generator and run\n\
             // `TFLITE_FORGE_BLESS=1 cargo test --test opgen`.\n\n\
             //! Typed options of the generated operators, schema enums, read/write\n\
             //! glue and the table of every builtin operator's facts ([`OPS`]).\n\n\
             use super::op::*;\nuse super::DType;\nuse crate::schema::tflite as fb;\n\n",
        );
        // Enums.
        for e in self.enums_used() {
            let (_, values) = &self.schema.enums[&e];
            let rn = rust_type_name(&e);
            let _ = writeln!(s, "/// The schema enum `{e}`.");
            let _ = writeln!(s, "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]\n#[non_exhaustive]\npub enum {rn} {{");
            for (k, (n, _)) in values.iter().enumerate() {
                let _ = writeln!(s, "    /// `{n}`.");
                if k == 0 {
                    s.push_str("    #[default]\n");
                }
                let _ = writeln!(s, "    {},", rust_variant_name(&e, n));
            }
            s.push_str("}\n\n");
            let _ = writeln!(s, "impl {rn} {{");
            let _ = writeln!(s, "    pub(crate) fn from_fb(v: fb::{e}) -> Result<Self, String> {{\n        Ok(match v {{");
            for (n, _) in values {
                let _ = writeln!(s, "            fb::{e}::{n} => {rn}::{},", rust_variant_name(&e, n));
            }
            let _ = writeln!(s, "            other => return Err(format!(\"unknown {e} value {{}}\", other.0)),\n        }})\n    }}");
            let _ = writeln!(s, "    pub(crate) fn to_fb(self) -> fb::{e} {{\n        match self {{");
            for (n, _) in values {
                let _ = writeln!(s, "            {rn}::{} => fb::{e}::{n},", rust_variant_name(&e, n));
            }
            s.push_str("        }\n    }\n}\n\n");
        }
        // Options structs.
        for t in self.option_tables() {
            let rn = rust_type_name(&t);
            let users: Vec<&str> = self.generated().filter(|o| o.options == t).map(|o| o.name.as_str()).collect();
            let fields = self.fields(&t);
            let all_copy = fields.iter().all(|f| copy_ty(&ty_of(self.schema, &f.ty)));
            let has_float = fields.iter().any(|f| f.ty.contains("float") || f.ty.contains("double"));
            let _ = writeln!(s, "/// Options of {} (the schema's `{t}`).", users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", "));
            let derive = match (all_copy, has_float) {
                (true, true) => "Debug, Clone, Copy, PartialEq",
                (true, false) => "Debug, Clone, Copy, PartialEq, Eq, Hash",
                (false, true) => "Debug, Clone, PartialEq",
                (false, false) => "Debug, Clone, PartialEq, Eq, Hash",
            };
            // Default derives when every schema default is the type's zero.
            let zero = |f: &Field| {
                let ty = ty_of(self.schema, &f.ty);
                let d = default_expr(self.schema, f, &ty);
                match &ty {
                    Ty::Enum(e) => match hand_enum(e) {
                        Some("DType") => false,
                        Some(_) => d.ends_with("::None") || d.ends_with("::Same") || d.ends_with("::Reflect") || d.ends_with("::FlexBuffers"),
                        None => {
                            let (_, values) = &self.schema.enums[e];
                            values.first().is_some_and(|(n, _)| d.ends_with(&format!("::{}", rust_variant_name(e, n))))
                        }
                    },
                    _ => matches!(d.as_str(), "false" | "0" | "0.0" | "Vec::new()" | "String::new()"),
                }
            };
            let derivable = fields.iter().all(zero);
            let derive = if derivable { format!("{derive}, Default") } else { derive.to_string() };
            let _ = writeln!(s, "#[derive({derive})]\n#[non_exhaustive]\npub struct {rn} {{");
            for f in fields {
                let ty = ty_of(self.schema, &f.ty);
                let _ = writeln!(s, "    /// The schema field `{}` (`{}`).", f.name, f.ty);
                let _ = writeln!(s, "    pub {}: {},", field_name(&f.name), rust_ty(&ty));
            }
            s.push_str("}\n\n");
            if !derivable {
                let _ = writeln!(s, "impl Default for {rn} {{\n    fn default() -> Self {{\n        {rn} {{");
                for f in fields {
                    let ty = ty_of(self.schema, &f.ty);
                    let _ = writeln!(s, "            {}: {},", field_name(&f.name), default_expr(self.schema, f, &ty));
                }
                s.push_str("        }\n    }\n}\n\n");
            }
            let _ = writeln!(s, "impl {rn} {{");
            let _ = writeln!(s, "    pub(crate) fn from_fb(x: &fb::{t}T) -> Result<Self, String> {{\n        Ok({rn} {{");
            for f in fields {
                let ty = ty_of(self.schema, &f.ty);
                let src = format!("x.{}", fb_field_name(&f.name));
                let e = match &ty {
                    Ty::Scalar(_) => src,
                    Ty::Str => format!("{src}.clone().unwrap_or_default()"),
                    Ty::Enum(e) => enum_from_fb(e, &src),
                    Ty::Vec(inner) => match inner.as_ref() {
                        Ty::Enum(e) => format!(
                            "{src}.iter().flatten().map(|v| {}).collect::<Result<Vec<_>, _>>()?",
                            enum_from_fb(e, "*v").trim_end_matches('?')
                        ),
                        _ => format!("{src}.clone().unwrap_or_default()"),
                    },
                };
                let _ = writeln!(s, "            {}: {e},", field_name(&f.name));
            }
            s.push_str("        })\n    }\n");
            let recv = if all_copy { "self" } else { "&self" };
            let _ = writeln!(s, "    pub(crate) fn to_fb({recv}) -> fb::{t}T {{\n        fb::{t}T {{");
            for f in fields {
                let ty = ty_of(self.schema, &f.ty);
                let src = format!("self.{}", field_name(&f.name));
                let e = match &ty {
                    Ty::Scalar(_) => src,
                    Ty::Str => format!("(!{src}.is_empty()).then(|| {src}.clone())"),
                    Ty::Enum(e) => enum_to_fb(e, &src),
                    Ty::Vec(inner) => match inner.as_ref() {
                        Ty::Enum(e) => format!("(!{src}.is_empty()).then(|| {src}.iter().map(|v| {}).collect())", enum_to_fb(e, "(*v)")),
                        _ => format!("(!{src}.is_empty()).then(|| {src}.clone())"),
                    },
                };
                let _ = writeln!(s, "            {}: {e},", fb_field_name(&f.name));
            }
            s.push_str("        }\n    }\n}\n\n");
        }
        // Reading.
        s.push_str(
            "/// The typed op of a builtin operator code and its options: `None`\n\
             /// when the code is not one our schema knows, an error when the\n\
             /// options table is of another type, is missing where LiteRT needs\n\
             /// it, or holds an unknown enum value. A missing table reads as\n\
             /// LiteRT reads it: every field zero.\n\
             pub(crate) fn read_typed(code: i32, o: &fb::BuiltinOptionsT, o2: &fb::BuiltinOptions2T) -> Option<Result<Op, String>> {\n\
             \x20   use fb::BuiltinOperator as B;\n\
             \x20   use fb::BuiltinOptions2T as O2;\n\
             \x20   use fb::BuiltinOptionsT as O;\n\
             \x20   Some(match B(code) {\n",
        );
        for o in self.ops {
            if o.hand() {
                s.push_str(&self.hand_read_arm(o));
                continue;
            }
            let _ = write!(s, "        B::{} => ", o.name);
            if o.options == "-" {
                let _ = writeln!(s, "match (o, o2) {{\n            (O::NONE, O2::NONE) => Ok(Op::{}),\n            _ => Err(mismatch(\"none\", o, o2)),\n        }},", o.variant);
                continue;
            }
            let t = &o.options;
            let (this, other) = if self.union_of(t) == "BuiltinOptions" { ("O", "O2") } else { ("O2", "O") };
            let (this_var, other_var) = if this == "O" { ("o", "o2") } else { ("o2", "o") };
            match self.payload(o) {
                None => {
                    let _ = writeln!(
                        s,
                        "match ({this_var}, {other_var}) {{\n            ({this}::NONE | {this}::{t}(_), {other}::NONE) => Ok(Op::{}),\n            _ => Err(mismatch(\"{t}\", o, o2)),\n        }},",
                        o.variant
                    );
                }
                Some(p) => {
                    let _ = writeln!(
                        s,
                        "match ({this_var}, {other_var}) {{\n            ({this}::NONE, {other}::NONE) => {p}::from_fb(&{z}()).map(Op::{v}),\n            ({this}::{t}(x), {other}::NONE) => {p}::from_fb(x).map(Op::{v}),\n            _ => Err(mismatch(\"{t}\", o, o2)),\n        }},",
                        v = o.variant,
                        z = zero_fn(t)
                    );
                }
            }
        }
        s.push_str("        _ => return None,\n    })\n}\n\n");
        s.push_str(
            "fn mismatch(expected: &str, o: &fb::BuiltinOptionsT, o2: &fb::BuiltinOptions2T) -> String {\n\
             \x20   let found = match o {\n\
             \x20       fb::BuiltinOptionsT::NONE => o2.builtin_options_2_type().variant_name(),\n\
             \x20       o => o.builtin_options_type().variant_name(),\n\
             \x20   };\n\
             \x20   format!(\"unexpected options table {} (expected {expected})\", found.unwrap_or(\"of an unknown type\"))\n\
             }\n\n",
        );
        s.push_str("fn missing(table: &str) -> String {\n    format!(\"the op needs its {table} table (LiteRT would read every field as zero)\")\n}\n\n");
        for g in self.glue {
            s.push_str(&self.hand_read_fn(g));
        }
        s.push_str("// The zero value of each options table: what a file without the table\n// means to LiteRT.\n\n");
        for t in self.zero_tables() {
            let _ = writeln!(s, "fn {}() -> fb::{t}T {{\n    fb::{t}T {{", zero_fn(&t));
            for f in self.fields(&t) {
                let _ = writeln!(s, "        {}: {},", fb_field_name(&f.name), self.fb_zero(f));
            }
            s.push_str("    }\n}\n\n");
        }
        // Writing.
        s.push_str(
            "/// The options tables of a typed builtin op, `None` for a custom or an\n\
             /// opaque one.\n\
             pub(crate) fn write_typed(op: &Op) -> Option<(fb::BuiltinOptionsT, fb::BuiltinOptions2T)> {\n\
             \x20   use fb::BuiltinOptions2T as O2;\n\
             \x20   use fb::BuiltinOptionsT as O;\n\
             \x20   Some(match op {\n",
        );
        for o in self.ops {
            if o.hand() {
                s.push_str(&self.hand_write_arm(o));
                continue;
            }
            let t = &o.options;
            if t == "-" {
                let _ = writeln!(s, "        Op::{} => (O::NONE, O2::NONE),", o.variant);
                continue;
            }
            let first = self.union_of(t) == "BuiltinOptions";
            let val = match self.payload(o) {
                None => "Box::default()".to_string(),
                Some(_) => "Box::new(x.to_fb())".to_string(),
            };
            let pat = if self.payload(o).is_some() { format!("Op::{}(x)", o.variant) } else { format!("Op::{}", o.variant) };
            if first {
                let _ = writeln!(s, "        {pat} => (O::{t}({val}), O2::NONE),");
            } else {
                let _ = writeln!(s, "        {pat} => (O::NONE, O2::{t}({val})),");
            }
        }
        s.push_str("        _ => return None,\n    })\n}\n\n");
        // Codes.
        s.push_str(
            "/// The builtin code of any op (`CUSTOM` for custom ops).\n\
             pub(crate) fn code_of(op: &Op) -> i32 {\n\
             \x20   use fb::BuiltinOperator as B;\n\
             \x20   match op {\n",
        );
        for o in self.ops {
            let pat = match (o.hand(), if o.hand() { None } else { self.payload(o) }) {
                (false, Some(_)) => format!("Op::{}(_)", o.variant),
                (false, None) => format!("Op::{}", o.variant),
                (true, _) => match self.hand_shapes.get(&o.variant).copied() {
                    Some('(') => format!("Op::{}(..)", o.variant),
                    Some('{') => format!("Op::{} {{ .. }}", o.variant),
                    _ => format!("Op::{}", o.variant),
                },
            };
            let _ = writeln!(s, "        {pat} => B::{}.0,", o.name);
        }
        s.push_str("        Op::Custom(_) => B::CUSTOM.0,\n        Op::Builtin(o) => o.code,\n    }\n}\n\n");
        // OPS table.
        s.push_str(
            "/// Every builtin operator's facts, in code order: the rows of\n\
             /// `schema/ops.spec`.\n\
             pub static OPS: &[OpInfo] = &[\n",
        );
        for o in self.ops {
            let opt = match o.options.as_str() {
                "hand" => "OptionsKind::Hand".to_string(),
                "-" => "OptionsKind::None".to_string(),
                t => format!("OptionsKind::Table(\"{t}\")"),
            };
            let ar = |(a, b): (u32, Option<u32>)| match b {
                Some(b) => format!("Arity {{ min: {a}, max: Some({b}) }}"),
                None => format!("Arity {{ min: {a}, max: None }}"),
            };
            let _ = writeln!(
                s,
                "    OpInfo {{ code: {}, name: \"{}\", variant: \"{}\", options: {opt}, inputs: {}, outputs: {}, family: OpFamily::{}, deprecated: {}, doc: {:?} }},",
                o.code,
                o.name,
                o.variant,
                ar(o.inputs),
                ar(o.outputs),
                rust_variant_name("", &o.family),
                o.deprecated,
                o.doc
            );
        }
        s.push_str("];\n\n");
        // Families.
        let fams: BTreeSet<&str> = self.ops.iter().map(|o| o.family.as_str()).collect();
        s.push_str("/// The family of an operator, as `schema/ops.spec` groups them.\n#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\n#[non_exhaustive]\npub enum OpFamily {\n");
        for f in fams {
            let _ = writeln!(s, "    /// `{f}` in the spec.\n    {},", rust_variant_name("", f));
        }
        s.push_str("}\n");
        s
    }

    fn glue_of(&self, o: &OpSpec) -> &Glue {
        self.glue.iter().find(|g| g.name == o.name).unwrap_or_else(|| panic!("hand op {} has no glue line", o.name))
    }

    /// Tables whose zero value a missing options table reads as.
    fn zero_tables(&self) -> BTreeSet<String> {
        let mut t = self.option_tables();
        t.extend(self.glue.iter().filter(|g| g.table != "-" && matches!(g.absent.as_str(), "zero" | "omit") && g.fields.iter().any(|f| !f.dropped)).map(|g| g.table.clone()));
        t
    }

    /// The zero of a schema field in the flatbuffer object API.
    fn fb_zero(&self, f: &Field) -> String {
        match ty_of(self.schema, &f.ty) {
            Ty::Scalar("bool") => "false".into(),
            Ty::Scalar("f32" | "f64") => "0.0".into(),
            Ty::Scalar(_) => "0".into(),
            Ty::Str | Ty::Vec(_) => "None".into(),
            Ty::Enum(e) => format!("fb::{e}(0)"),
        }
    }

    fn glue_field_ty(&self, g: &Glue, f: &GlueField) -> Ty {
        let field = self.fields(&g.table).iter().find(|x| x.name == f.theirs);
        ty_of(self.schema, &field.unwrap_or_else(|| panic!("{}: {} has no field {}", g.name, g.table, f.theirs)).ty)
    }

    /// Checks a glue line against the spec, the schema and op.rs.
    fn check_glue(&self, o: &OpSpec, g: &Glue) {
        let shape = self.hand_shapes.get(&o.variant).copied().unwrap_or(',');
        let want = match g.shape.as_str() {
            "unit" => ',',
            "value" => '(',
            "struct" => '{',
            t if t.starts_with("tuple:") => '(',
            other => panic!("{}: unknown shape {other}", g.name),
        };
        let shape = if shape == '(' || shape == '{' { shape } else { ',' };
        assert_eq!(shape, want, "{}: the glue shape {} does not match Op::{} in op.rs", g.name, g.shape, o.variant);
        if g.table == "-" {
            assert!(g.shape == "unit" && g.fields.is_empty(), "{}: no table, so no fields", g.name);
            return;
        }
        assert_eq!(self.union_of(&g.table), "BuiltinOptions", "{}: hand ops use BuiltinOptions tables", g.name);
        let mut theirs: Vec<&str> = g.fields.iter().map(|f| f.theirs.as_str()).collect();
        theirs.sort_unstable();
        let mut table: Vec<&str> = self.fields(&g.table).iter().map(|f| f.name.as_str()).collect();
        table.sort_unstable();
        assert_eq!(theirs, table, "{}: the glue must name every field of {} once", g.name, g.table);
        let kept = g.fields.iter().filter(|f| !f.dropped).count();
        match g.shape.as_str() {
            "unit" => assert_eq!(kept, 0, "{}: a unit variant keeps no field", g.name),
            "value" => {
                assert!(kept == 1 && g.fields.iter().any(|f| f.ours == "."), "{}: a value variant keeps one field, `.`", g.name);
                assert!(copy_ty(&self.glue_field_ty(g, &g.fields[0])), "{}: a value variant holds a Copy value", g.name);
            }
            _ => assert!(kept > 0 && g.fields.iter().all(|f| f.ours != "."), "{}: fields are named", g.name),
        }
    }

    /// `x.field` read and converted from the schema's object.
    fn glue_read_expr(&self, g: &Glue, f: &GlueField) -> String {
        let src = format!("x.{}", fb_field_name(&f.theirs));
        match (copy_ty(&self.glue_field_ty(g, f)), &f.conv) {
            (true, None) => src,
            (true, Some(c)) => format!("{c}_from_fb({src})?"),
            (false, None) => format!("{src}.clone()"),
            (false, Some(c)) => format!("{c}_from_fb(&{src})?"),
        }
    }

    /// A field of the model (bound by reference, or `x` for a value
    /// variant) converted to the schema's object.
    fn glue_write_expr(&self, g: &Glue, f: &GlueField) -> String {
        if f.dropped {
            let field = self.fields(&g.table).iter().find(|x| x.name == f.theirs).expect("field");
            return self.fb_zero(field);
        }
        let bound = if f.ours == "." { "x".to_string() } else { f.ours.clone() };
        match (copy_ty(&self.glue_field_ty(g, f)), &f.conv) {
            (true, None) => format!("*{bound}"),
            (true, Some(c)) => format!("{c}_to_fb(*{bound})"),
            (false, None) => format!("{bound}.clone()"),
            (false, Some(c)) => format!("{c}_to_fb({bound})"),
        }
    }

    /// `read_<variant>`: a hand-written variant from its options table.
    fn hand_read_fn(&self, g: &Glue) -> String {
        if g.fields.iter().all(|f| f.dropped) {
            return String::new();
        }
        let o = self.ops.iter().find(|o| o.name == g.name).unwrap_or_else(|| panic!("glue for unknown op {}", g.name));
        let kept: Vec<&GlueField> = g.fields.iter().filter(|f| !f.dropped).collect();
        let body = match g.shape.as_str() {
            "value" => format!("Op::{}({})", o.variant, self.glue_read_expr(g, kept[0])),
            shape => {
                let fields: Vec<String> = kept.iter().map(|f| format!("        {}: {},", f.ours, self.glue_read_expr(g, f))).collect();
                let head = match shape.strip_prefix("tuple:") {
                    Some(t) => format!("Op::{}({t} {{", o.variant),
                    None => format!("Op::{} {{", o.variant),
                };
                let tail = if shape.starts_with("tuple:") { "    })" } else { "    }" };
                format!("{head}\n{}\n{tail}", fields.join("\n"))
            }
        };
        format!(
            "/// `{}` from its `{}` table (a hand-written variant).\nfn read_{}(x: &fb::{}T) -> Result<Op, String> {{\n    Ok({body})\n}}\n\n",
            g.name,
            g.table,
            snake(&o.variant),
            g.table
        )
    }

    fn hand_read_arm(&self, o: &OpSpec) -> String {
        let g = self.glue_of(o);
        self.check_glue(o, g);
        let v = &o.variant;
        let t = &g.table;
        if t == "-" {
            return format!("        B::{} => match (o, o2) {{\n            (O::NONE, O2::NONE) => Ok(Op::{v}),\n            _ => Err(mismatch(\"none\", o, o2)),\n        }},\n", o.name);
        }
        if g.fields.iter().all(|f| f.dropped) {
            return format!(
                "        B::{} => match (o, o2) {{\n            (O::NONE | O::{t}(_), O2::NONE) => Ok(Op::{v}),\n            _ => Err(mismatch(\"{t}\", o, o2)),\n        }},\n",
                o.name
            );
        }
        let read = format!("read_{}", snake(v));
        let none = match g.absent.as_str() {
            "required" => format!("Err(missing(\"{t}\"))"),
            "default" => format!("Ok(Op::{v}({}::default()))", g.shape.strip_prefix("tuple:").expect("`default` needs a tuple:Type shape")),
            _ => format!("{read}(&{}())", zero_fn(t)),
        };
        format!(
            "        B::{} => match (o, o2) {{\n            (O::NONE, O2::NONE) => {none},\n            (O::{t}(x), O2::NONE) => {read}(x),\n            _ => Err(mismatch(\"{t}\", o, o2)),\n        }},\n",
            o.name
        )
    }

    fn hand_write_arm(&self, o: &OpSpec) -> String {
        let g = self.glue_of(o);
        let v = &o.variant;
        let t = &g.table;
        if t == "-" {
            return format!("        Op::{v} => (O::NONE, O2::NONE),\n");
        }
        if g.fields.iter().all(|f| f.dropped) {
            return format!("        Op::{v} => (O::{t}(Box::default()), O2::NONE),\n");
        }
        let kept: Vec<&GlueField> = g.fields.iter().filter(|f| !f.dropped).collect();
        let names: Vec<&str> = kept.iter().map(|f| f.ours.as_str()).collect();
        let pat = match g.shape.as_str() {
            "value" => format!("Op::{v}(x)"),
            "struct" => format!("Op::{v} {{ {} }}", names.join(", ")),
            tuple => format!("Op::{v}({} {{ {} }})", tuple.trim_start_matches("tuple:"), names.join(", ")),
        };
        let fields: Vec<String> =
            g.fields.iter().map(|f| format!("            {}: {},", fb_field_name(&f.theirs), self.glue_write_expr(g, f))).collect();
        let table = format!("fb::{t}T {{\n{}\n        }}", fields.join("\n"));
        if g.absent == "default" {
            let ty = g.shape.trim_start_matches("tuple:");
            format!("        Op::{v}(x) if *x == {ty}::default() => (O::NONE, O2::NONE),\n        {pat} => (O::{t}(Box::new({table})), O2::NONE),\n")
        } else if g.absent == "omit" {
            format!(
                "        {pat} => {{\n            let x = {};\n            if x == {}() {{ (O::NONE, O2::NONE) }} else {{ (O::{t}(Box::new(x)), O2::NONE) }}\n        }}\n",
                table.replace('\n', "\n    "),
                zero_fn(t)
            )
        } else {
            format!("        {pat} => (O::{t}(Box::new({table})), O2::NONE),\n")
        }
    }

    fn variants(&self) -> String {
        let mut s = String::new();
        for o in self.generated() {
            let _ = writeln!(s, "    /// `{}`: {}", o.name, o.doc);
            match self.payload(o) {
                Some(p) => {
                    let _ = writeln!(s, "    {}({p}),", o.variant);
                }
                None => {
                    let _ = writeln!(s, "    {},", o.variant);
                }
            }
        }
        s
    }

    fn builders(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "// @generated by tests/opgen.rs from schema/ops.spec. Do not edit: change the\n\
             // spec or the generator and run `TFLITE_FORGE_BLESS=1 cargo test --test opgen`.\n\n\
             //! Builder methods of the generated operators, one per op.\n\n\
             #![allow(deprecated)]\n\n\
             use super::SubgraphBuilder;\n\
             use crate::error::ValidationError;\n\
             use crate::model::*;\n\n\
             impl SubgraphBuilder {\n",
        );
        for o in self.generated() {
            let mut name = snake(&o.variant);
            if name == "where" {
                name = "where_true".into();
            }
            let payload = self.payload(o);
            let (params, call_inputs) = match o.inputs {
                (1, Some(1)) => ("x: TensorId".to_string(), "&[Some(x)]".to_string()),
                (2, Some(2)) => ("a: TensorId, b: TensorId".to_string(), "&[Some(a), Some(b)]".to_string()),
                _ => ("inputs: &[Option<TensorId>]".to_string(), "inputs".to_string()),
            };
            let opt_param = payload.as_ref().map(|p| format!(", options: {p}")).unwrap_or_default();
            let op_expr = if payload.is_some() { format!("Op::{}(options)", o.variant) } else { format!("Op::{}", o.variant) };
            let single = o.outputs == (1, Some(1));
            let _ = writeln!(s, "    /// `{}`: {}", o.name, o.doc);
            s.push_str("    ///\n");
            if single {
                s.push_str("    /// Returns the output, with its type and shape inferred; an op whose\n    /// output cannot be inferred is an error (build it with\n    /// [`SubgraphBuilder::add_operator`] and explicit outputs).\n");
            } else {
                s.push_str("    /// Returns the outputs, with types and shapes inferred; an op whose\n    /// outputs cannot be inferred is an error (build it with\n    /// [`SubgraphBuilder::add_operator`] and explicit outputs).\n");
            }
            if o.deprecated {
                s.push_str("    #[deprecated(note = \"a legacy op without a builtin kernel in current runtimes\")]\n");
            }
            let ret = if single { "TensorId" } else { "Vec<TensorId>" };
            let apply = if single { "apply" } else { "apply_multi" };
            let _ = writeln!(
                s,
                "    pub fn {name}(&mut self, {params}{opt_param}) -> Result<{ret}, ValidationError> {{\n        self.{apply}({op_expr}, {call_inputs})\n    }}\n"
            );
        }
        s.push_str("}\n");
        s
    }

    fn exports(&self) -> String {
        let mut names: Vec<String> = self.enums_used().iter().map(|e| rust_type_name(e)).collect();
        names.extend(self.option_tables().iter().map(|t| rust_type_name(t)));
        names.sort();
        let mut s = String::from("pub use op_generated::{\n");
        let mut line = String::from("   ");
        for n in names.iter().map(String::as_str).chain(["OpFamily", "OPS"]) {
            if line.len() + n.len() + 2 > 96 {
                s.push_str(&line);
                s.push('\n');
                line = String::from("   ");
            }
            line.push(' ');
            line.push_str(n);
            line.push(',');
        }
        s.push_str(&line);
        s.push_str("\n};\n");
        s
    }
}

/// The name of the function giving a table's zero value.
fn zero_fn(table: &str) -> String {
    format!("zero_{}", snake(&rust_type_name(table)))
}

fn splice(text: &str, body: &str, marker: &str) -> String {
    let begin = format!("// BEGIN GENERATED {marker}");
    let end = format!("// END GENERATED {marker}");
    let b = text.find(&begin).unwrap_or_else(|| panic!("marker {begin}"));
    let b_line_end = b + text[b..].find('\n').expect("newline") + 1;
    let e = text.find(&end).unwrap_or_else(|| panic!("marker {end}"));
    let e_line_start = text[..e].rfind('\n').map_or(0, |i| i + 1);
    format!("{}{}{}", &text[..b_line_end], body, &text[e_line_start..])
}

fn rustfmt_free_check(name: &str, path: &Path, want: &str, bless: bool, stale: &mut Vec<String>) {
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have != want {
        if bless {
            std::fs::write(path, want).expect("write generated file");
        } else {
            stale.push(name.to_string());
        }
    }
}

#[test]
fn generated_code_is_current() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let schema = parse_schema(&std::fs::read_to_string(root.join("schema/tflite.fbs")).expect("read fbs"));
    let ops = parse_spec(&std::fs::read_to_string(root.join("schema/ops.spec")).expect("read spec"));
    // Every builtin code but CUSTOM and the placeholder, once, in order.
    let codes: Vec<i32> = ops.iter().map(|o| o.code).collect();
    let want: Vec<i32> = (0..=209).filter(|c| *c != 32 && *c != 127).collect();
    assert_eq!(codes, want, "schema/ops.spec must list every builtin code in order");
    let (_, names) = &schema.enums["BuiltinOperator"];
    for o in &ops {
        let n = names.iter().find(|(_, v)| *v == i64::from(o.code)).map(|(n, _)| n.as_str());
        assert_eq!(n, Some(o.name.as_str()), "code {} is named {:?} in the schema", o.code, n);
    }
    let variants: BTreeSet<&str> = ops.iter().map(|o| o.variant.as_str()).collect();
    assert_eq!(variants.len(), ops.len(), "variant names are unique");
    let op_rs = std::fs::read_to_string(root.join("src/model/op.rs")).expect("read op.rs");
    let spec = std::fs::read_to_string(root.join("schema/ops.spec")).expect("read spec");
    let glue = parse_glue(&spec);
    for g in &glue {
        assert!(ops.iter().any(|o| o.name == g.name && o.hand()), "glue line for {}, which is not a hand op", g.name);
        assert_eq!(glue.iter().filter(|x| x.name == g.name).count(), 1, "one glue line for {}", g.name);
    }
    let g = Gen { schema: &schema, ops: &ops, hand_shapes: hand_shapes(&op_rs), glue: &glue };
    let bless = std::env::var_os("TFLITE_FORGE_BLESS").is_some();
    let mut stale = Vec::new();
    rustfmt_free_check("src/model/op_generated.rs", &root.join("src/model/op_generated.rs"), &g.file(), bless, &mut stale);
    rustfmt_free_check("src/build/ops_generated.rs", &root.join("src/build/ops_generated.rs"), &g.builders(), bless, &mut stale);
    for (file, marker, body) in [
        ("src/model/op.rs", "VARIANTS", g.variants()),
        ("src/model/mod.rs", "EXPORTS", g.exports()),
    ] {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).expect("read spliced file");
        let want = splice(&text, &body, marker);
        rustfmt_free_check(file, &path, &want, bless, &mut stale);
    }
    assert!(stale.is_empty(), "stale generated code in {stale:?}; run TFLITE_FORGE_BLESS=1 cargo test --test opgen");
}
