//! The reference engine's state as the store keeps it (the running totals
//! of the rollup tables), and an engine resumed from it.

use super::{Group, Reference, RollupState};
use crate::fields::cell::Cell;
use crate::rules::RuleSet;

impl<'r> Reference<'r> {
    /// The engine's groups and labels, for the store's rollup tables.
    pub fn state(&self) -> RollupState {
        let mut state = RollupState::default();
        for (aggregate, groups) in self.rules.aggregates.iter().zip(&self.groups) {
            if aggregate.parent.is_some() {
                continue;
            }
            for (key, group) in groups {
                state.groups.push((
                    aggregate.name.clone(),
                    serde_json::to_string(key).unwrap_or_default(),
                    serde_json::to_string(group).unwrap_or_default(),
                ));
            }
        }
        for dict in &self.labels {
            let label = (
                &self.rules.columns[dict.column].name,
                &dict.key_field,
                &dict.label_field,
            );
            let label = serde_json::to_string(&label).unwrap_or_default();
            for (key, value) in &dict.values {
                state.labels.push((
                    label.clone(),
                    serde_json::to_string(key).unwrap_or_default(),
                    serde_json::to_string(value).unwrap_or_default(),
                ));
            }
        }
        state.groups.sort();
        state.labels.sort();
        state
    }

    /// An engine resumed from stored state. Entries for aggregates or
    /// columns the rules no longer declare, or that no longer parse, are
    /// dropped (the reconciliation then reports the difference).
    pub fn from_state(rules: &'r RuleSet, state: &RollupState) -> Self {
        let mut engine = Reference::new(rules);
        for (name, key, group) in &state.groups {
            let Some(index) = rules.aggregates.iter().position(|a| &a.name == name) else {
                continue;
            };
            let (Ok(key), Ok(group)) = (
                serde_json::from_str::<Vec<Cell>>(key),
                serde_json::from_str::<Group>(group),
            ) else {
                continue;
            };
            engine.groups[index].insert(key, group);
        }
        for (label, key, value) in &state.labels {
            let (Ok((column, key_field, label_field)), Ok(key), Ok(value)) = (
                serde_json::from_str::<(String, String, String)>(label),
                serde_json::from_str::<Cell>(key),
                serde_json::from_str::<Cell>(value),
            ) else {
                continue;
            };
            if let Some(column) = rules.column_index(&column) {
                engine
                    .label_dict(column, &key_field, &label_field)
                    .insert(key, value);
            }
        }
        engine
    }
}
