//! Who and what the admin lists of seeds 002 and 004 show — rules with no
//! I/O, so the store only narrows candidates and these functions decide.
//!
//! - **Permission sets** (seed 002, "Search for an existing Permission Set by
//!   Name or Application … You may not see an Application on this list if
//!   you have not been granted build access to that application"):
//!   [`find_sets`] matches a search text against a set's name or
//!   application, an optional exact application, and keeps only sets of
//!   applications the viewer holds `app.build` on (the same check as
//!   editing one, [`can_edit_set`](super::can_edit_set)). Builders may
//!   search without reading all access: [`builds_some_application`].
//! - **RACI selection lists** (seed 004, "It indicates that your name
//!   appears in the Manager selection list when you create or change
//!   items"): a role puts its holders on the lists named in its
//!   `selection_lists` attribute; [`on_selection_list`] says whether a user
//!   is on one list of one workspace: active and holding a binding *on that
//!   workspace* to such a role (directly or through a group). Such a binding
//!   also makes the workspace visible to them (SPEC §2, visibility `no`:
//!   "workspaces bound to the user"), so nobody is offered in a workspace
//!   they cannot see. Org-level roles put nobody on a list: the lists are
//!   about who works in a workspace.

use std::fmt;
use std::str::FromStr;

use std::collections::BTreeSet;

use super::engine::{CheckError, check};
use super::grant::{APP_BUILD, can_edit_set};
use super::ids::{ResourceId, ResourceType, RoleId, WorkspaceId};
use super::policy::{APPLICATION, Policy};
use super::role::{PermissionSet, Role};
use super::subject::{Binding, BindingScope, Query, Subject, UserStatus};

/// The role attribute naming the RACI selection lists its holders are on.
pub const SELECTION_LISTS: &str = "selection_lists";

/// What a permission-set search asks for.
#[derive(Debug, Clone, Default)]
pub struct SetSearch {
    /// Case-insensitive substring of the set's name or its application.
    pub text: Option<String>,
    /// Only sets of this application (exact id).
    pub application: Option<ResourceId>,
}

/// The sets matching `search` that `viewer` may see, in the policy's order.
/// `viewer` is `None` for the host's operator (the CLI, instance admins),
/// who sees every set.
pub fn find_sets<'p>(
    policy: &'p Policy,
    viewer: Option<&Subject>,
    search: &SetSearch,
) -> Result<Vec<&'p PermissionSet>, CheckError> {
    let text = search
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(crate::domain::names::comparison_key);
    // A preset without applications has no build access to grant: nobody
    // but the operator builds anything there.
    let viewer = match viewer {
        Some(_) if policy.permission(APP_BUILD).is_none() => return Ok(Vec::new()),
        other => other,
    };
    let mut out = Vec::new();
    for set in policy.sets() {
        if search
            .application
            .as_ref()
            .is_some_and(|a| *a != set.application)
        {
            continue;
        }
        if let Some(t) = &text {
            let name = crate::domain::names::comparison_key(&set.name);
            let application = crate::domain::names::comparison_key(set.application.as_str());
            if !name.contains(t.as_str()) && !application.contains(t.as_str()) {
                continue;
            }
        }
        if let Some(subject) = viewer {
            match can_edit_set(policy, subject, set) {
                Ok(()) => {}
                Err(super::GrantError::Check(e)) => return Err(e),
                Err(_) => continue,
            }
        }
        out.push(set);
    }
    Ok(out)
}

/// Whether `subject` builds at least one application — holds `app.build`
/// on an application named by one of its resource bindings, individual
/// overrides or the org's sets, or on every application (an org-level
/// grant, tried on an application nobody named). Seed 002's builders
/// search the sets of what they build without reading all access.
pub fn builds_some_application(policy: &Policy, subject: &Subject) -> Result<bool, CheckError> {
    if policy.permission(APP_BUILD).is_none() {
        return Ok(false);
    }
    let application = ResourceType::parse(APPLICATION).expect("valid resource type");
    let named = |scope: &BindingScope| match scope {
        BindingScope::Resource { resource_type, id } if *resource_type == application => {
            Some(id.clone())
        }
        _ => None,
    };
    let mut candidates: BTreeSet<ResourceId> = subject
        .bindings
        .iter()
        .filter_map(|b| named(&b.scope))
        .chain(subject.overrides.iter().filter_map(|o| named(&o.scope)))
        .chain(policy.sets().map(|s| s.application.clone()))
        .collect();
    candidates.insert(ResourceId::new("*"));
    for id in candidates {
        let query = Query::of(APP_BUILD).on(application.clone(), id);
        if check(policy, subject, &query)?.allowed {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One of seed 004's four RACI selection lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SelectionList {
    Manager,
    Responsible,
    Editor,
    Reader,
}

impl SelectionList {
    pub const ALL: [SelectionList; 4] = [
        SelectionList::Manager,
        SelectionList::Responsible,
        SelectionList::Editor,
        SelectionList::Reader,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SelectionList::Manager => "manager",
            SelectionList::Responsible => "responsible",
            SelectionList::Editor => "editor",
            SelectionList::Reader => "reader",
        }
    }
}

impl fmt::Display for SelectionList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SelectionList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SelectionList::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!("selection list `{s}` does not exist; the lists are manager, responsible, editor, reader")
            })
    }
}

/// Whether `role` puts its holders on `list` (its `selection_lists`
/// attribute names it).
pub fn role_on_list(role: &Role, list: SelectionList) -> bool {
    role.attributes
        .get(SELECTION_LISTS)
        .and_then(serde_json::Value::as_array)
        .is_some_and(|lists| lists.iter().any(|l| l.as_str() == Some(list.as_str())))
}

/// The roles whose holders are on `list`.
pub fn roles_on_list(policy: &Policy, list: SelectionList) -> Vec<RoleId> {
    policy
        .roles()
        .filter(|r| role_on_list(r, list))
        .map(|r| r.id.clone())
        .collect()
}

/// Whether `binding` puts its holder on `list` in `workspace`: bound on
/// that workspace, or on an ancestor to a role that inherits to children,
/// with a role that names the list.
pub fn puts_on_list(
    policy: &Policy,
    binding: &Binding,
    workspace: &WorkspaceId,
    list: SelectionList,
) -> bool {
    let BindingScope::Workspace { workspace: bound } = &binding.scope else {
        return false;
    };
    policy.role(binding.role.as_str()).is_some_and(|r| {
        role_on_list(r, list)
            && (bound == workspace
                || (r.inherits_to_children && policy.tree().is_below(workspace, bound)))
    })
}

/// Whether the user is on `list` in `workspace`: active and holding a
/// binding that [`puts_on_list`].
pub fn on_selection_list(
    policy: &Policy,
    subject: &Subject,
    workspace: &WorkspaceId,
    list: SelectionList,
) -> bool {
    subject.status == UserStatus::Active
        && subject
            .bindings
            .iter()
            .any(|b| puts_on_list(policy, b, workspace, list))
}
