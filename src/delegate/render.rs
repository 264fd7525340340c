//! Text rendering of a report.

use std::fmt;

use super::{DelegateSummary, OpReport, Report, Verdict};

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            None => write!(f, "{}: yes", self.delegate),
            Some(r) => write!(f, "{}: no ({r})", self.delegate),
        }
    }
}

impl fmt::Display for OpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} {} v{}", self.subgraph, self.index, self.name, self.version)?;
        if self.macs > 0 || self.params > 0 {
            write!(f, " ({} MACs, {} params)", self.macs, self.params)?;
        }
        for v in &self.verdicts {
            write!(f, "; {v}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DelegateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}/{} ops, {:.1}% of {} MACs, {} partition{}",
            self.delegate,
            self.ops_taken,
            self.ops_total,
            100.0 * self.macs_share(),
            self.macs_total,
            self.partitions,
            if self.partitions == 1 { "" } else { "s" }
        )
    }
}

impl fmt::Display for Report {
    /// One line per operator (`subgraph:index NAME vVERSION (MACs, params);
    /// delegate: yes | no (reason); ...`), then one summary line per
    /// delegate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in &self.ops {
            writeln!(f, "{o}")?;
        }
        for s in &self.summaries {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}
