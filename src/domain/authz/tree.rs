//! The org's workspace tree (seed 004 sub-workspaces): who is whose parent,
//! and the rules a tree keeps — no cycles, at most [`MAX_DEPTH`] levels.
//!
//! The engine reads it for inheritance: a workspace-scoped binding on W
//! covers W's descendants when its role `inherits_to_children`, and a
//! workspace-list entry W makes W's descendants visible too.

use std::collections::HashMap;

use thiserror::Error;

use super::ids::WorkspaceId;

/// Deepest level a workspace may sit at (a top-level workspace is level 1).
pub const MAX_DEPTH: usize = 8;

/// Why a parent link was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TreeError {
    #[error("workspace {0} cannot be its own ancestor (the move would make a cycle)")]
    Cycle(WorkspaceId),
    #[error(
        "workspace {workspace} would sit at level {depth}; sub-workspaces nest at most {MAX_DEPTH} levels deep"
    )]
    TooDeep {
        workspace: WorkspaceId,
        depth: usize,
    },
    #[error("parent workspace {0} does not exist")]
    UnknownParent(WorkspaceId),
}

/// Parent links of an org's workspaces. Workspaces absent from the map are
/// top-level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceTree {
    parents: HashMap<WorkspaceId, WorkspaceId>,
}

impl WorkspaceTree {
    /// A tree from `(workspace, parent)` pairs, validated (every parent
    /// known among `workspaces`, no cycle, depth within [`MAX_DEPTH`]).
    pub fn new<'a>(
        workspaces: impl IntoIterator<Item = (&'a WorkspaceId, Option<&'a WorkspaceId>)>,
    ) -> Result<Self, TreeError> {
        let mut known = Vec::new();
        let mut parents = HashMap::new();
        for (w, parent) in workspaces {
            known.push(w.clone());
            if let Some(p) = parent {
                parents.insert(w.clone(), p.clone());
            }
        }
        let tree = Self { parents };
        for w in &known {
            if let Some(p) = tree.parents.get(w)
                && !known.contains(p)
            {
                return Err(TreeError::UnknownParent(p.clone()));
            }
            let depth = tree.depth_checked(w)?;
            if depth > MAX_DEPTH {
                return Err(TreeError::TooDeep {
                    workspace: w.clone(),
                    depth,
                });
            }
        }
        Ok(tree)
    }

    /// The parent of `w`, if it is a sub-workspace.
    pub fn parent(&self, w: &WorkspaceId) -> Option<&WorkspaceId> {
        self.parents.get(w)
    }

    /// `w`'s ancestors, nearest first.
    pub fn ancestors<'a>(&'a self, w: &'a WorkspaceId) -> impl Iterator<Item = &'a WorkspaceId> {
        let mut current = w;
        let mut steps = 0;
        std::iter::from_fn(move || {
            // A validated tree has no cycle; the bound keeps an unvalidated
            // one from looping.
            if steps > MAX_DEPTH * 4 {
                return None;
            }
            steps += 1;
            let parent = self.parents.get(current)?;
            current = parent;
            Some(parent)
        })
    }

    /// Whether `w` lies strictly below `ancestor`.
    pub fn is_below(&self, w: &WorkspaceId, ancestor: &WorkspaceId) -> bool {
        self.ancestors(w).any(|a| a == ancestor)
    }

    /// Whether `w` is `root` or lies below it.
    pub fn within(&self, w: &WorkspaceId, root: &WorkspaceId) -> bool {
        w == root || self.is_below(w, root)
    }

    /// The level `w` sits at (top level = 1).
    pub fn depth(&self, w: &WorkspaceId) -> usize {
        1 + self.ancestors(w).count()
    }

    /// Deepest level among `w` and its descendants, counted from `w` (a leaf
    /// is 1).
    pub fn height(&self, w: &WorkspaceId) -> usize {
        let mut height = 1;
        for child in self.parents.keys() {
            if self.is_below(child, w) {
                let below = self.ancestors(child).take_while(|a| *a != w).count() + 2;
                height = height.max(below);
            }
        }
        height
    }

    /// Checks that `w` may move under `parent` (or become top-level with
    /// `None`): no cycle, and its whole subtree stays within [`MAX_DEPTH`].
    pub fn check_move(
        &self,
        w: &WorkspaceId,
        parent: Option<&WorkspaceId>,
    ) -> Result<(), TreeError> {
        let Some(parent) = parent else {
            return self.check_depth(w, self.height(w));
        };
        if self.within(parent, w) {
            return Err(TreeError::Cycle(w.clone()));
        }
        self.check_depth(w, self.depth(parent) + self.height(w))
    }

    fn check_depth(&self, w: &WorkspaceId, depth: usize) -> Result<(), TreeError> {
        if depth > MAX_DEPTH {
            return Err(TreeError::TooDeep {
                workspace: w.clone(),
                depth,
            });
        }
        Ok(())
    }

    fn depth_checked(&self, w: &WorkspaceId) -> Result<usize, TreeError> {
        let mut seen = vec![w];
        let mut current = w;
        while let Some(parent) = self.parents.get(current) {
            if seen.contains(&parent) {
                return Err(TreeError::Cycle(w.clone()));
            }
            seen.push(parent);
            current = parent;
        }
        Ok(seen.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(s: &str) -> WorkspaceId {
        WorkspaceId::new(s)
    }

    fn chain(n: usize) -> Vec<(WorkspaceId, Option<WorkspaceId>)> {
        (0..n)
            .map(|i| {
                (
                    ws(&format!("w{i}")),
                    (i > 0).then(|| ws(&format!("w{}", i - 1))),
                )
            })
            .collect()
    }

    fn tree(pairs: &[(WorkspaceId, Option<WorkspaceId>)]) -> Result<WorkspaceTree, TreeError> {
        WorkspaceTree::new(pairs.iter().map(|(w, p)| (w, p.as_ref())))
    }

    #[test]
    fn a_chain_of_eight_is_allowed_and_nine_is_not() {
        let t = tree(&chain(8)).unwrap();
        assert_eq!(t.depth(&ws("w7")), 8);
        assert_eq!(t.height(&ws("w0")), 8);
        assert!(t.is_below(&ws("w7"), &ws("w0")));
        assert!(!t.is_below(&ws("w0"), &ws("w7")));
        assert!(matches!(
            tree(&chain(9)),
            Err(TreeError::TooDeep { depth: 9, .. })
        ));
        // Nothing more fits under the deepest one, and w7 cannot move under w1.
        assert!(t.check_move(&ws("w7"), Some(&ws("w6"))).is_ok());
        assert!(matches!(
            t.check_move(&ws("w1"), Some(&ws("w1"))),
            Err(TreeError::Cycle(_))
        ));
        assert!(matches!(
            t.check_move(&ws("w2"), Some(&ws("w5"))),
            Err(TreeError::Cycle(_))
        ));
    }

    #[test]
    fn moving_a_subtree_counts_its_height() {
        let mut pairs = chain(4); // w0 > w1 > w2 > w3
        pairs.extend(
            chain(5)
                .into_iter()
                .map(|(w, p)| (ws(&format!("x{w}")), p.map(|p| ws(&format!("x{p}"))))),
        ); // xw0 > … > xw4
        let t = tree(&pairs).unwrap();
        // w1's subtree is 3 high; under xw4 (level 5) it would reach level 8.
        assert!(t.check_move(&ws("w1"), Some(&ws("xw4"))).is_ok());
        // w0's subtree is 4 high: level 9.
        assert!(matches!(
            t.check_move(&ws("w0"), Some(&ws("xw4"))),
            Err(TreeError::TooDeep { depth: 9, .. })
        ));
        assert!(t.check_move(&ws("xw3"), None).is_ok());
    }

    #[test]
    fn cycles_and_unknown_parents_are_refused() {
        let pairs = vec![(ws("a"), Some(ws("b"))), (ws("b"), Some(ws("a")))];
        assert!(matches!(tree(&pairs), Err(TreeError::Cycle(_))));
        let pairs = vec![(ws("a"), Some(ws("ghost")))];
        assert_eq!(tree(&pairs), Err(TreeError::UnknownParent(ws("ghost"))));
    }
}
