//! What the engine asks a person, and the non-interactive answer.
//!
//! The engine never reads the terminal: it asks through [`Interact`], which the CLI
//! implements with prompts (hidden for secrets) and tests implement with canned answers.
//! An answer of "no" (or no secret) is never a failure: the rotation stays journaled at its
//! step, waiting, and `keyward resume` asks again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::inventory::CredentialRef;
use crate::secret::Secret;

/// A question needing a yes from a person before a rotation goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// The new secret must reach these consumers by hand; were they updated?
    DeployedByHand {
        /// The credential's `used_by` list.
        used_by: Vec<String>,
        /// The deploy's own instructions, if any.
        instructions: Option<String>,
    },
    /// The provider cannot check the new secret; does it work?
    AcceptUnverified {
        /// Why it cannot be checked.
        reason: String,
    },
    /// Was the old key revoked at the provider (manual providers)?
    RevokedByHand {
        /// The old key's id, if recorded.
        old_remote_id: Option<String>,
        /// Where to do it, if the inventory says.
        instructions: Option<String>,
    },
    /// The provider could not confirm a revocation (a "not found" nothing could confirm):
    /// is the key revoked at the provider?
    ConfirmRevocation {
        /// The key's id.
        remote_id: String,
        /// What was seen, and why it proves nothing.
        reason: String,
    },
    /// Rolling back: are the consumers back on the old secret?
    RevertedByHand {
        /// The credential's `used_by` list.
        used_by: Vec<String>,
    },
    /// A deploy command was started and keyward stopped before it ended: it may have
    /// reached some consumers. Run it again?
    RerunInterruptedDeploy {
        /// When the interrupted run started.
        started_at: DateTime<Utc>,
        /// The deploy is marked harmless to run twice.
        idempotent: bool,
    },
}

impl Question {
    /// The question in words.
    pub fn text(&self) -> String {
        fn list(items: &[String]) -> String {
            if items.is_empty() {
                "its consumers (none recorded in `used_by`)".to_string()
            } else {
                items.join(", ")
            }
        }
        match self {
            Question::DeployedByHand {
                used_by,
                instructions,
            } => {
                let mut s = format!("Update the new secret in {}", list(used_by));
                if let Some(i) = instructions {
                    s.push_str(&format!(" ({i})"));
                }
                s.push_str(". Done?");
                s
            }
            Question::AcceptUnverified { reason } => {
                format!("The provider cannot check the new secret ({reason}). Confirm it works?")
            }
            Question::RevokedByHand {
                old_remote_id,
                instructions,
            } => {
                let mut s = match old_remote_id {
                    Some(id) => format!("Revoke the old key `{id}` at the provider"),
                    None => "Revoke the old key at the provider".to_string(),
                };
                if let Some(i) = instructions {
                    s.push_str(&format!(" ({i})"));
                }
                s.push_str(". Done?");
                s
            }
            Question::ConfirmRevocation { remote_id, reason } => format!(
                "keyward could not confirm that `{remote_id}` is revoked ({reason}). Check at \
                 the provider: is it revoked?"
            ),
            Question::RevertedByHand { used_by } => {
                format!("Put the old secret back in {}. Done?", list(used_by))
            }
            Question::RerunInterruptedDeploy { started_at, .. } => format!(
                "The deploy command started at {} was cut short; it may have reached some \
                 consumers. Run it again?",
                started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }

    /// Whether `--yes` may answer it in advance. Not a revocation by hand nor an unconfirmed
    /// one: saying yes before the person looked would record a live key as revoked.
    /// Nor running again a deploy that may already have run, unless it is marked idempotent.
    pub fn answerable_in_advance(&self) -> bool {
        match self {
            Question::RevokedByHand { .. } | Question::ConfirmRevocation { .. } => false,
            Question::RerunInterruptedDeploy { idempotent, .. } => *idempotent,
            _ => true,
        }
    }

    /// What the rotation waits for when the answer is no.
    pub fn waiting_for(&self) -> &'static str {
        match self {
            Question::DeployedByHand { .. } => "a person to confirm the consumers were updated",
            Question::AcceptUnverified { .. } => {
                "a person to confirm the new secret works (the provider cannot check it)"
            }
            Question::RevokedByHand { .. } => {
                "a person to confirm the old key was revoked at the provider"
            }
            Question::ConfirmRevocation { .. } => {
                "a person to confirm at the provider that the key is revoked (the provider \
                 could not confirm it): `keyward resume` tries again and asks"
            }
            Question::RevertedByHand { .. } => {
                "a person to confirm the consumers are back on the old secret"
            }
            Question::RerunInterruptedDeploy { .. } => {
                "a person to decide whether to run the interrupted deploy again (`keyward \
                 resume` on a terminal; mark the deploy `idempotent: true` if running it twice \
                 is harmless)"
            }
        }
    }
}

/// How the engine reaches a person.
#[async_trait]
pub trait Interact: Send + Sync {
    /// Asks `question` about `at`; true only for an explicit yes.
    async fn confirm(&self, at: &CredentialRef, question: &Question) -> bool;

    /// Asks for a new secret the person issued at the provider (hidden input);
    /// `None` when nobody can answer now.
    async fn enter_secret(&self, at: &CredentialRef, instructions: &str) -> Option<Secret>;
}

/// No person at hand (no terminal). With `yes` (the person passed `--yes` up front) every
/// confirmation that can be given in advance is given; the rest, and everything without
/// `yes`, stops and waits. A secret can never be entered.
#[derive(Debug, Clone, Copy, Default)]
pub struct NonInteractive {
    /// Confirm everything.
    pub yes: bool,
}

#[async_trait]
impl Interact for NonInteractive {
    async fn confirm(&self, _: &CredentialRef, question: &Question) -> bool {
        self.yes && question.answerable_in_advance()
    }

    async fn enter_secret(&self, _: &CredentialRef, _: &str) -> Option<Secret> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_name_the_consumers_and_the_key() {
        let q = Question::DeployedByHand {
            used_by: vec!["n8n 'crm sync'".into(), "Zapier".into()],
            instructions: Some("Settings > Credentials".into()),
        };
        assert_eq!(
            q.text(),
            "Update the new secret in n8n 'crm sync', Zapier (Settings > Credentials). Done?"
        );
        let q = Question::RevokedByHand {
            old_remote_id: Some("K1".into()),
            instructions: None,
        };
        assert_eq!(q.text(), "Revoke the old key `K1` at the provider. Done?");
    }

    #[tokio::test]
    async fn non_interactive_confirms_only_with_yes_and_never_has_a_secret() {
        let at: CredentialRef = "a/b".parse().unwrap();
        let q = Question::AcceptUnverified {
            reason: "no API".into(),
        };
        assert!(!NonInteractive { yes: false }.confirm(&at, &q).await);
        assert!(NonInteractive { yes: true }.confirm(&at, &q).await);
        assert!(NonInteractive { yes: true }
            .enter_secret(&at, "x")
            .await
            .is_none());
        let by_hand = Question::RevokedByHand {
            old_remote_id: None,
            instructions: None,
        };
        assert!(!NonInteractive { yes: true }.confirm(&at, &by_hand).await);
        let rerun = |idempotent| Question::RerunInterruptedDeploy {
            started_at: chrono::DateTime::UNIX_EPOCH,
            idempotent,
        };
        assert!(
            !NonInteractive { yes: true }
                .confirm(&at, &rerun(false))
                .await
        );
        assert!(
            NonInteractive { yes: true }
                .confirm(&at, &rerun(true))
                .await
        );
        assert!(
            !NonInteractive { yes: false }
                .confirm(&at, &rerun(true))
                .await
        );
    }
}
