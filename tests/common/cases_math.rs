//! Builder-tier cases of the generated numeric ops.

use super::*;

/// The cases.
pub fn cases() -> Vec<Case> {
    Vec::new()
}
