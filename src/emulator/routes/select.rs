//! `$select` names resolved against the model: the properties Graph knows on the types a
//! result can hold, and the directory extensions defined for them, in Graph's spelling.

use super::reply::{bad_request, Ctx, Reply};
use crate::emulator::extensions;
use crate::emulator::model::model;
use crate::emulator::state::Tenant;

/// Resolves `$select` names against the properties Graph knows on `types` (and the directory
/// extensions defined for them), in Graph's spelling.
pub(crate) fn resolve_select(
    ctx: &Ctx,
    t: &Tenant,
    select: &[String],
    types: &[usize],
    type_name: &str,
) -> Result<Vec<String>, Reply> {
    let m = model();
    let mut out: Vec<String> = Vec::with_capacity(select.len());
    for p in select {
        let known = types
            .iter()
            .find_map(|ty| m.ty(*ty).prop(p).map(|q| q.name.clone()))
            .or_else(|| {
                types
                    .iter()
                    .find_map(|ty| extensions::definition(t, p, m.ty(*ty)).map(|e| e.name))
            });
        let Some(canon) = known else {
            return Err(bad_request(
                ctx,
                &format!("Could not find a property named '{p}' on type '{type_name}'."),
            ));
        };
        if !out.contains(&canon) {
            out.push(canon);
        }
    }
    Ok(out)
}

/// Entity types that can be reference ends, for `$select` on directory-object results.
pub(crate) fn directory_types() -> Vec<usize> {
    let m = model();
    (0..m.types.len())
        .filter(|t| m.is_a(*t, "directoryObject") && !m.ty(*t).is_abstract)
        .collect()
}
