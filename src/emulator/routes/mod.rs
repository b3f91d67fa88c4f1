//! Graph v1.0 semantics over the in-memory tenant, one module per responsibility, lower ones
//! never importing higher ones: `reply` (answers and Graph's errors) and `request` at the
//! bottom; `extensions` (directory extension attributes); `select` (`$select` names); `expand`
//! (`$expand`); `read` (lists, paging, single objects); `links` (references); `reverse`
//! (memberOf, ownedObjects, directReports); `validate` (write bodies against the model);
//! `writes` (create, update, delete); `children` (contained collections); `deleted` (the
//! recycle bin); `invitations`; `directory` (`directoryObjects/…`); `delta` (delta queries); and
//! `dispatch` on top, which routes a request to them.

mod children;
mod deleted;
mod delta;
mod directory;
mod dispatch;
mod expand;
mod invitations;
mod links;
mod read;
mod reply;
mod request;
mod reverse;
mod select;
mod validate;
mod writes;

pub(crate) use dispatch::{dispatch, request_cost};
pub(crate) use reply::{error, Ctx, Reply};
