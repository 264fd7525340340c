//! The oldest metadata parser that understands a [`ModelMetadata`].
//!
//! Each schema item added after 1.0.0 raises the requirement to the version
//! that introduced it; the result is the largest over the items in use.

use super::{AssociatedFile, AssociatedFileType, ContentProperties, ModelMetadata, ProcessUnit};

/// A metadata parser version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParserVersion(pub u8, pub u8, pub u8);

impl std::fmt::Display for ParserVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The `min_parser_version` that `md` needs.
///
/// ```
/// use tflite_forge::metadata::{min_parser_version, ModelMetadata, SubGraphMetadata, TensorGroup};
/// let mut md = ModelMetadata::named("m");
/// assert_eq!(min_parser_version(&md).to_string(), "1.0.0");
/// let mut sub = SubGraphMetadata::default();
/// sub.output_tensor_groups.push(TensorGroup::default());
/// md.subgraph_metadata.push(sub);
/// assert_eq!(min_parser_version(&md).to_string(), "1.2.0");
/// ```
pub fn min_parser_version(md: &ModelMetadata) -> ParserVersion {
    let mut v = ParserVersion(1, 0, 0);
    let mut need = |w: ParserVersion| v = v.max(w);
    for f in md.referenced_files() {
        need(file_version(f));
    }
    for sub in &md.subgraph_metadata {
        if !sub.input_process_units.is_empty() || !sub.output_process_units.is_empty() {
            need(ParserVersion(1, 1, 0));
        }
        if !sub.input_tensor_groups.is_empty() || !sub.output_tensor_groups.is_empty() {
            need(ParserVersion(1, 2, 0));
        }
        if !sub.custom_metadata.is_empty() {
            need(ParserVersion(1, 5, 0));
        }
        let units = sub.input_process_units.iter().chain(&sub.output_process_units);
        let tensors = sub.input_tensor_metadata.iter().chain(&sub.output_tensor_metadata);
        for u in units.chain(tensors.clone().flat_map(|t| &t.process_units)) {
            need(unit_version(u));
        }
        for t in tensors {
            if let Some(ContentProperties::Audio { .. }) = t.content.as_ref().map(|c| &c.properties) {
                need(ParserVersion(1, 3, 0));
            }
        }
    }
    v
}

fn file_version(f: &AssociatedFile) -> ParserVersion {
    let by_type = match f.file_type {
        AssociatedFileType::Vocabulary => ParserVersion(1, 0, 1),
        AssociatedFileType::ScannIndexFile => ParserVersion(1, 4, 0),
        _ => ParserVersion(1, 0, 0),
    };
    if f.version.is_some() { by_type.max(ParserVersion(1, 4, 1)) } else { by_type }
}

fn unit_version(u: &ProcessUnit) -> ParserVersion {
    match u {
        ProcessUnit::BertTokenizer { .. } | ProcessUnit::SentencePieceTokenizer { .. } => ParserVersion(1, 1, 0),
        ProcessUnit::RegexTokenizer { .. } => ParserVersion(1, 2, 1),
        _ => ParserVersion(1, 0, 0),
    }
}
