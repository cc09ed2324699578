//! The rotation plan dialog: each credential with its provider, its style (a roll in place
//! warns that the old value dies at once), the provider's preconditions, what needs a
//! person and why it was picked. It opens with the focus on Cancel.

use super::Focus;
use crate::rotation::Plan;

/// The plan, to confirm.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanDialog {
    /// The engine's plan.
    pub plan: Plan,
    /// The focused button.
    pub focus: Focus,
    /// Lines scrolled.
    pub scroll: u16,
}

impl PlanDialog {
    /// The dialog over `plan`, focus on Cancel.
    pub fn new(plan: Plan) -> PlanDialog {
        PlanDialog {
            plan,
            focus: Focus::Cancel,
            scroll: 0,
        }
    }

    /// How many credentials can go ahead.
    pub fn ready(&self) -> usize {
        self.plan.ready().count()
    }
}
