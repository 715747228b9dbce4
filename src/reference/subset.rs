//! Chooses the accepted rows that the reference and the store compare, and
//! feeds the same rows to both: the reference engine and the model batch
//! that is staged.

use csv::ByteRecord;

use crate::check::AcceptedSink;
use crate::check::header::HeaderBinding;
use crate::fields::cell::Cell;
use crate::read::input::Fields;
use crate::reference::Reference;
use crate::rules::RuleSet;
use crate::rules::aggregate::Subset;
use crate::rules::model::Model;
use crate::store::batch::{ModelBatch, SourceRecord, declared_fields, declared_values};

/// Collects the subset while the check streams.
#[derive(Debug)]
pub struct SubsetCollector<'r> {
    rules: &'r RuleSet,
    subset: Subset,
    /// The store's model; `None` when the rule file has none (then only
    /// exported results can be compared).
    model: Option<&'r Model>,
    /// The reference engine, fed the subset (unless the subset is every
    /// row and `all` is kept: then `all` is that engine too).
    reference: Reference<'r>,
    /// The subset, normalized for staging.
    pub batch: ModelBatch,
    /// Accepted rows seen.
    pub accepted: u64,
    /// Rows taken into the subset.
    pub taken: u64,
    /// Stage every accepted row (for promotion), not only the subset.
    all_rows: bool,
    /// Record keys of the subset, when every row is staged.
    pub subset_keys: Vec<Vec<Cell>>,
    /// The input's header, for replaying staged records.
    pub header: Option<ByteRecord>,
    /// The aggregates over every accepted row (when staging all rows): the
    /// batch's contribution to the running totals.
    all: Option<Reference<'r>>,
}

impl<'r> SubsetCollector<'r> {
    /// A collector for `subset` of the rows checked against `rules`.
    pub fn new(rules: &'r RuleSet, subset: Subset) -> Self {
        let model = rules.model.as_ref();
        SubsetCollector {
            rules,
            subset,
            model,
            reference: Reference::new(rules),
            batch: model.map(ModelBatch::new).unwrap_or_default(),
            accepted: 0,
            taken: 0,
            all_rows: false,
            subset_keys: Vec::new(),
            header: None,
            all: None,
        }
    }

    /// The keys of the staged records that are compared, when not every
    /// staged record is (`run` stages every accepted row; `diff` stages
    /// only the subset, so all of them are compared).
    pub fn compared_keys(&self) -> Option<&[Vec<Cell>]> {
        self.all_rows.then_some(self.subset_keys.as_slice())
    }

    /// Also stages every accepted row with its original bytes, as a
    /// promotion needs; the subset is still what the reference computes.
    pub fn staging_all_rows(mut self) -> Self {
        self.all_rows = true;
        self.all = Some(Reference::new(self.rules));
        self
    }

    /// The reference engine over the subset.
    pub fn reference(&self) -> &Reference<'r> {
        match (&self.all, self.subset) {
            (Some(all), Subset::All) => all,
            _ => &self.reference,
        }
    }

    /// Takes the engine over every accepted row (kept when staging all
    /// rows); [`SubsetCollector::reference`] stays what it was.
    pub fn take_all(&mut self) -> Option<Reference<'r>> {
        let all = self.all.take()?;
        if self.subset == Subset::All {
            self.reference = all.clone();
        }
        Some(all)
    }

    /// True when the subset is every row and `all` computes it already.
    fn subset_is_all(&self) -> bool {
        self.all.is_some() && self.subset == Subset::All
    }

    fn selects(&self, fields: &[Option<&str>], raw: &[u8]) -> bool {
        match self.subset {
            Subset::All => true,
            Subset::First(n) => self.taken < n,
            Subset::Sample { fraction, seed } => {
                let point = match self.model {
                    Some(model) => {
                        let key: Vec<&str> = model
                            .record_key
                            .iter()
                            .map(|&c| fields[c].unwrap_or(""))
                            .collect();
                        sample_point(&key.join("\u{1f}"), seed)
                    }
                    None => sample_point(&String::from_utf8_lossy(raw), seed),
                };
                point < fraction
            }
        }
    }
}

impl AcceptedSink for SubsetCollector<'_> {
    fn accepted(&mut self, line: u64, binding: &HeaderBinding, record: &Fields<'_>, raw: &[u8]) {
        self.accepted += 1;
        if self.header.is_none() {
            self.header = Some(binding.names.iter().map(String::as_str).collect());
        }
        let fields = declared_fields(self.rules, binding, |i| record.get(i));
        let selected = self.selects(&fields, raw);
        if !selected && self.all.is_none() {
            return;
        }
        let values = declared_values(self.rules, &fields);
        if selected {
            self.taken += 1;
            if !self.subset_is_all() {
                self.reference.add_row(&values, &fields);
            }
        }
        if let Some(all) = &mut self.all {
            all.add_row(&values, &fields);
        }
        let Some(model) = self.model else { return };
        if !selected && !self.all_rows {
            return;
        }
        let (key, key_cells) = self.batch.add(model, line, &fields, &values);
        if self.all_rows {
            if selected {
                self.subset_keys.push(key_cells.clone());
            }
            self.batch.sources.push(SourceRecord {
                key,
                key_cells,
                line,
                record: raw.to_vec(),
            });
        }
    }
}

/// A key's deterministic position in [0, 1): the same key and seed always
/// give the same point, so a sample is reproducible and stable as a file
/// grows (FNV-1a, then the SplitMix64 finalizer to spread the bits).
pub fn sample_point(key: &str, seed: u64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_points_are_stable_and_spread() {
        assert_eq!(sample_point("862", 7), sample_point("862", 7));
        assert_ne!(sample_point("862", 7), sample_point("862", 8));
        let kept = (0..10_000)
            .filter(|i| sample_point(&i.to_string(), 1) < 0.25)
            .count();
        assert!(
            (2_300..2_700).contains(&kept),
            "kept {kept} of 10000 at 25%"
        );
    }
}
