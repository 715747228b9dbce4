//! The parts of an aggregate: each dimension and label, and each measure,
//! checked against the declared columns (or the parent's outputs) and
//! compiled.

use super::*;
use crate::rules::error::Problems;
use crate::rules::expr::Expr;
use crate::rules::spec::{AggFn, DimensionSpec, MeasureSpec};

#[allow(clippy::too_many_arguments)] // one call site per kind of dimension; a struct would only rename them
pub(super) fn compile_dimension(
    d: &DimensionSpec,
    name: &str,
    from_parent: bool,
    parent_col: &ParentColumn<'_>,
    compile_expr: &CompileExpr<'_>,
    problems: &mut Problems<'_>,
) -> Option<Dimension> {
    let dim_name = d.name.get_ref().clone();
    let given = [d.column.is_some(), d.expr.is_some(), d.explode.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given != 1 {
        problems.span(
            &d.name.span(),
            format!("aggregate `{name}`, `{dim_name}`: give exactly one of `column`, `expr` or `explode`"),
        );
        return None;
    }
    if d.field.is_some() != d.explode.is_some() {
        problems.span(
            &d.name.span(),
            format!("aggregate `{name}`, `{dim_name}`: `field` goes with `explode`"),
        );
        return None;
    }
    if from_parent {
        let Some(col) = &d.column else {
            problems.span(
                &d.name.span(),
                format!("aggregate `{name}`, `{dim_name}`: with `from`, use `column`"),
            );
            return None;
        };
        return parent_col(col, problems).map(|i| Dimension {
            name: dim_name,
            source: DimSource::Parent(i),
        });
    }
    if let (Some(list), Some(field)) = (&d.explode, &d.field) {
        let (index, ty) = compile_expr(list, &format!("`{dim_name}`"), problems)
            .and_then(|(e, ty)| match e {
                Expr::Column(i) => Some((i, ty)),
                _ => None,
            })
            .or_else(|| {
                problems.span(
                    &list.span(),
                    format!("aggregate `{name}`, `{dim_name}`: `explode` names a list column"),
                );
                None
            })?;
        if ty != Ty::List {
            problems.span(
                &list.span(),
                format!(
                    "aggregate `{name}`, `{dim_name}`: `{}` is not an entity_list column",
                    list.get_ref()
                ),
            );
            return None;
        }
        return Some(Dimension {
            name: dim_name,
            source: DimSource::Explode {
                column: index,
                field: field.get_ref().clone(),
            },
        });
    }
    let text = d.column.as_ref().or(d.expr.as_ref())?;
    compile_expr(text, &format!("`{dim_name}`"), problems).map(|(e, _)| Dimension {
        name: dim_name,
        source: DimSource::Expr(e),
    })
}

#[allow(clippy::too_many_arguments)] // mirrors compile_dimension
pub(super) fn compile_measure(
    m: &MeasureSpec,
    name: &str,
    parent: Option<usize>,
    earlier: &[Aggregate],
    parent_col: &ParentColumn<'_>,
    compile_expr: &CompileExpr<'_>,
    problems: &mut Problems<'_>,
) -> Option<Measure> {
    let m_name = m.name.get_ref().clone();
    let what = format!("measure `{m_name}`");
    let err = |problems: &mut Problems<'_>, msg: String| {
        problems.span(&m.name.span(), format!("aggregate `{name}`, {what}: {msg}"))
    };
    let filter = match &m.filter {
        Some(f) if parent.is_none() => Some(compile_expr(f, &what, problems)?.0),
        Some(_) => {
            err(problems, "`filter` is not supported with `from`".into());
            return None;
        }
        None => None,
    };
    let parent_integer = |i: usize| -> bool {
        let p = &earlier[parent.unwrap_or(0)];
        let offset = p.dimensions.len() + p.labels.len();
        i >= offset && p.measures.get(i - offset).is_some_and(|m| m.integer)
    };
    let (input, integer) = match (m.agg, parent) {
        (AggFn::Count, _) => {
            if m.expr.is_some() {
                err(problems, "`count` counts rows and takes no `expr`".into());
                return None;
            }
            (MeasureInput::Rows, true)
        }
        (AggFn::Argmax, Some(_)) => {
            let (Some(by), Some(value)) = (&m.by, &m.value) else {
                err(problems, "`argmax` needs `by` and `value`".into());
                return None;
            };
            let by = parent_col(by, problems)?;
            let value_index = parent_col(value, problems)?;
            let tie_break = match &m.tie_break {
                Some(t) => parent_col(t, problems)?,
                None => value_index,
            };
            // An argmax returns a key or a label: compared exactly.
            (
                MeasureInput::Argmax {
                    by,
                    value: value_index,
                    tie_break,
                },
                true,
            )
        }
        (AggFn::Argmax, None) => {
            err(
                problems,
                "`argmax` works on the output of another aggregate (use `from`)".into(),
            );
            return None;
        }
        (agg, Some(_)) => {
            let Some(col) = &m.expr else {
                err(
                    problems,
                    format!("`{}` needs `expr` (a parent column)", agg_name(agg)),
                );
                return None;
            };
            let i = parent_col(col, problems)?;
            (
                MeasureInput::Parent(i),
                agg != AggFn::Avg && parent_integer(i),
            )
        }
        (agg, None) => {
            let Some(text) = &m.expr else {
                err(problems, format!("`{}` needs `expr`", agg_name(agg)));
                return None;
            };
            let (e, ty) = compile_expr(text, &what, problems)?;
            if !ty.is_numeric() && matches!(agg, AggFn::Sum | AggFn::Avg) {
                err(
                    problems,
                    format!(
                        "`{}` needs a number, but `{}` is a {}",
                        agg_name(agg),
                        text.get_ref(),
                        ty.name()
                    ),
                );
                return None;
            }
            (MeasureInput::Expr(e), ty == Ty::Int && agg != AggFn::Avg)
        }
    };
    let default = if integer {
        0.0
    } else {
        DEFAULT_FLOAT_TOLERANCE
    };
    Some(Measure {
        name: m_name,
        agg: m.agg,
        input,
        filter,
        integer,
        tolerance: Tolerance {
            abs: m.abs_tolerance.unwrap_or(default),
            rel: m.rel_tolerance.unwrap_or(default),
        },
    })
}

pub(super) fn agg_name(agg: AggFn) -> &'static str {
    match agg {
        AggFn::Count => "count",
        AggFn::Sum => "sum",
        AggFn::Avg => "avg",
        AggFn::Min => "min",
        AggFn::Max => "max",
        AggFn::Argmax => "argmax",
    }
}
