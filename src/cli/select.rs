//! The selection flags `list`, `rotate`, `revoke`, `report` and `check` share: the one
//! vocabulary of [`crate::ops::select`], spelled as flags.

use crate::inventory::CredentialRef;
use crate::ops::Selection;

/// Which credentials a command is about; combined flags intersect.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectArgs {
    /// Only credentials that fall due (the earlier of expiry and the rotation date) within
    /// DAYS days, past due included.
    #[arg(long, visible_alias = "expiring", value_name = "DAYS", value_parser = clap::value_parser!(u32).range(0..=36500))]
    pub due: Option<u32>,
    /// Only credentials past their expiry or rotation date.
    #[arg(long)]
    pub overdue: bool,
    /// Only stale credentials: unused for longer than the policy allows, or gone at the
    /// provider.
    #[arg(long)]
    pub stale: bool,
    /// Only this client's credentials.
    #[arg(long, value_name = "CLIENT")]
    pub client: Option<String>,
}

impl SelectArgs {
    /// The selection these flags and `refs` name.
    pub fn selection(&self, refs: &[CredentialRef]) -> Selection {
        Selection {
            refs: refs.to_vec(),
            client: self.client.clone(),
            due_within_days: self.due,
            overdue: self.overdue,
            stale: self.stale,
            include_retired: false,
        }
    }
}
