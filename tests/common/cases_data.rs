//! Builder-tier cases of the generated data-movement ops.

use super::*;

/// The cases.
pub fn cases() -> Vec<Case> {
    Vec::new()
}
