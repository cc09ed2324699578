//! Keys: one table maps (mode, key) to an [`Action`], and the same table writes the footer
//! hints and the `?` help, so what is shown is what works. [`action_for`] is a pure function.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;

/// Which keys apply: the screen, or the text field open on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The credential table.
    Main,
    /// Typing a `/` filter.
    Filter,
    /// Typing a `:` command.
    Command,
    /// One credential's detail.
    Detail,
    /// The expiry timeline.
    Timeline,
    /// The key help.
    Help,
    /// The run panel: a rotation wizard, or the progress of many.
    Run,
    /// Waiting for the engine's plan.
    Planning,
    /// The rotation plan, to confirm.
    Plan,
    /// The revoke dialog.
    Revoke,
    /// The export dialog.
    Export,
    /// A question of a run, for the person.
    Question,
    /// Typing a new secret, hidden.
    SecretEntry,
    /// Interrupted work found on opening.
    Banner,
    /// The keys the providers hold (`:discover`).
    Discover,
}

impl Mode {
    /// Every mode, in the order help lists them.
    pub const ALL: [Mode; 15] = [
        Mode::Main,
        Mode::Filter,
        Mode::Command,
        Mode::Detail,
        Mode::Timeline,
        Mode::Help,
        Mode::Run,
        Mode::Planning,
        Mode::Plan,
        Mode::Revoke,
        Mode::Export,
        Mode::Question,
        Mode::SecretEntry,
        Mode::Banner,
        Mode::Discover,
    ];

    /// The heading help shows.
    pub fn title(self) -> &'static str {
        match self {
            Mode::Main => "Table",
            Mode::Filter => "Filter (/)",
            Mode::Command => "Command line (:)",
            Mode::Detail => "Detail",
            Mode::Timeline => "Timeline",
            Mode::Help => "Help",
            Mode::Run => "Run panel",
            Mode::Planning => "Planning",
            Mode::Plan => "Rotation plan",
            Mode::Revoke => "Revoke",
            Mode::Export => "Export",
            Mode::Question => "Question",
            Mode::SecretEntry => "New secret (hidden)",
            Mode::Banner => "Interrupted work",
            Mode::Discover => "Discover",
        }
    }

    /// Whether letters typed here are text.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            Mode::Filter | Mode::Command | Mode::Export | Mode::SecretEntry | Mode::Revoke
        )
    }

    /// Whether it is a dialog drawn over a screen.
    pub fn is_dialog(self) -> bool {
        matches!(
            self,
            Mode::Planning
                | Mode::Plan
                | Mode::Revoke
                | Mode::Export
                | Mode::Question
                | Mode::SecretEntry
                | Mode::Banner
        )
    }
}

/// A key with its modifiers, as the table spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl, Alt (Shift is part of the character for letters).
    pub modifiers: KeyModifiers,
}

const fn plain(code: KeyCode) -> Key {
    Key {
        code,
        modifiers: KeyModifiers::NONE,
    }
}

const fn ch(c: char) -> Key {
    plain(KeyCode::Char(c))
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::CONTROL,
    }
}

/// One line of the key table.
#[derive(Debug)]
pub struct Binding {
    /// Where it applies.
    pub modes: &'static [Mode],
    /// The keys that trigger it.
    pub keys: &'static [Key],
    /// How help spells the keys.
    pub label: &'static str,
    /// What it does.
    pub action: Action,
    /// What help says it does.
    pub help: &'static str,
    /// The footer's short word for it; `None` keeps it out of the footer.
    pub hint: Option<&'static str>,
    /// Whether it changes the inventory: hidden and refused in read-only mode.
    pub changes: bool,
}

use Mode::{Banner, Export, Plan, Planning, Question, Revoke, Run, SecretEntry};
use Mode::{Command, Detail, Discover, Filter, Help, Main, Timeline};

const MOVE: &[Mode] = &[Main, Detail, Help, Run, Plan, Banner, Discover];
const VIEWS: &[Mode] = &[Main, Detail, Timeline, Run, Discover];
const QUIT_MODES: &[Mode] = &[Main, Detail, Timeline, Help, Run, Discover];
const ACT: &[Mode] = &[Main, Detail];
const DIALOGS: &[Mode] = &[
    Planning,
    Plan,
    Revoke,
    Export,
    Question,
    SecretEntry,
    Banner,
];
const BUTTONS: &[Mode] = &[Plan, Revoke];
const FIELDS: &[Mode] = &[Revoke, Export, SecretEntry];
const TEXT: &[Mode] = &[Filter, Command];
const ALL: &[Mode] = &Mode::ALL;

/// The key table. Bindings for the same modes sit together: help prints them as one group,
/// and the footer keeps their order.
pub static BINDINGS: &[Binding] = &[
    Binding {
        modes: MOVE,
        keys: &[ch('j'), plain(KeyCode::Down)],
        label: "j ↓",
        action: Action::Down,
        help: "move down",
        hint: None,
        changes: false,
    },
    Binding {
        modes: MOVE,
        keys: &[ch('k'), plain(KeyCode::Up)],
        label: "k ↑",
        action: Action::Up,
        help: "move up",
        hint: None,
        changes: false,
    },
    Binding {
        modes: MOVE,
        keys: &[ch('g'), plain(KeyCode::Home)],
        label: "g Home",
        action: Action::Top,
        help: "go to the top",
        hint: None,
        changes: false,
    },
    Binding {
        modes: MOVE,
        keys: &[ch('G'), plain(KeyCode::End)],
        label: "G End",
        action: Action::Bottom,
        help: "go to the bottom",
        hint: None,
        changes: false,
    },
    Binding {
        modes: MOVE,
        keys: &[plain(KeyCode::PageDown), ctrl('d')],
        label: "PgDn ^D",
        action: Action::PageDown,
        help: "page down",
        hint: None,
        changes: false,
    },
    Binding {
        modes: MOVE,
        keys: &[plain(KeyCode::PageUp), ctrl('u')],
        label: "PgUp ^U",
        action: Action::PageUp,
        help: "page up",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Main],
        keys: &[plain(KeyCode::Enter)],
        label: "Enter",
        action: Action::Open,
        help: "open the credential's detail",
        hint: Some("open"),
        changes: false,
    },
    Binding {
        modes: &[Main],
        keys: &[ch('/')],
        label: "/",
        action: Action::StartFilter,
        help: "filter by client, name, provider, scopes",
        hint: Some("filter"),
        changes: false,
    },
    Binding {
        modes: &[Main],
        keys: &[ch(':')],
        label: ":",
        action: Action::StartCommand,
        help: "command line (see commands below)",
        hint: Some("cmd"),
        changes: false,
    },
    Binding {
        modes: &[Main],
        keys: &[ch(' ')],
        label: "Space",
        action: Action::ToggleMark,
        help: "mark or unmark, then move down",
        hint: Some("mark"),
        changes: false,
    },
    Binding {
        modes: &[Discover],
        keys: &[ch(' ')],
        label: "Space",
        action: Action::ToggleMark,
        help: "mark or unmark a key, then move down",
        hint: Some("mark"),
        changes: false,
    },
    Binding {
        modes: &[Discover],
        keys: &[ch('a')],
        label: "a",
        action: Action::Adopt,
        help: "adopt the marked (or selected) untracked keys; R then takes custody",
        hint: Some("adopt"),
        changes: true,
    },
    Binding {
        modes: &[Main],
        keys: &[ctrl('a')],
        label: "^A",
        action: Action::MarkAllVisible,
        help: "mark every visible row (again: unmark them)",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Main],
        keys: &[ch('c')],
        label: "c",
        action: Action::ClientFilter,
        help: "only this row's client (again: everyone)",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Main],
        keys: &[ch('o')],
        label: "o",
        action: Action::NextSort,
        help: "sort by the next column",
        hint: Some("sort"),
        changes: false,
    },
    Binding {
        modes: &[Main],
        keys: &[ch('O')],
        label: "O",
        action: Action::ReverseSort,
        help: "reverse the sort order",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Main, Detail],
        keys: &[ch('s')],
        label: "s",
        action: Action::Sync,
        help: "sync marked (or selected) with the provider",
        hint: Some("sync"),
        changes: true,
    },
    Binding {
        modes: &[Main, Detail],
        keys: &[ch('v')],
        label: "v",
        action: Action::Verify,
        help: "verify marked (or selected) secrets",
        hint: Some("verify"),
        changes: false,
    },
    Binding {
        modes: &[Main, Detail],
        keys: &[ch('t')],
        label: "t",
        action: Action::Timeline,
        help: "expiry timeline",
        hint: Some("timeline"),
        changes: false,
    },
    Binding {
        modes: &[Detail],
        keys: &[ch('x')],
        label: "x",
        action: Action::Reveal,
        help: "reveal or mask the secret (logged; masked again on leaving)",
        hint: Some("reveal"),
        changes: false,
    },
    Binding {
        modes: &[Detail],
        keys: &[ch('Y')],
        label: "Y",
        action: Action::Copy,
        help: "copy the secret to the clipboard (OSC 52; logged)",
        hint: Some("copy"),
        changes: false,
    },
    Binding {
        modes: ACT,
        keys: &[ch('R')],
        label: "R",
        action: Action::Rotate,
        help: "rotate marked (or selected): shows the plan first",
        hint: Some("rotate"),
        changes: true,
    },
    Binding {
        modes: ACT,
        keys: &[ch('D')],
        label: "D",
        action: Action::Revoke,
        help: "revoke marked (or selected): planned or emergency",
        hint: Some("revoke"),
        changes: true,
    },
    Binding {
        modes: ACT,
        keys: &[ch('P')],
        label: "P",
        action: Action::Deploy,
        help: "push the marked (or selected) current secrets to their deploy targets again",
        hint: None,
        changes: true,
    },
    Binding {
        modes: &[Main],
        keys: &[ch('e')],
        label: "e",
        action: Action::Export,
        help: "export the marked (or visible) credentials' report to a file",
        hint: Some("export"),
        changes: false,
    },
    Binding {
        modes: &[Main, Detail, Timeline],
        keys: &[ch('w')],
        label: "w",
        action: Action::ShowRun,
        help: "the run panel: progress, questions, the last summary",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Run],
        keys: &[plain(KeyCode::Enter)],
        label: "Enter",
        action: Action::NextQuestion,
        help: "answer the next question waiting for you",
        hint: Some("answer"),
        changes: true,
    },
    Binding {
        modes: &[Run],
        keys: &[ch('C')],
        label: "C",
        action: Action::CancelRun,
        help: "cancel: running steps finish, nothing queued starts",
        hint: Some("cancel run"),
        changes: true,
    },
    Binding {
        modes: &[Run, Banner],
        keys: &[ch('r')],
        label: "r",
        action: Action::Resume,
        help: "resume the selected interrupted credential (retry)",
        hint: Some("resume"),
        changes: true,
    },
    Binding {
        modes: &[Run, Banner],
        keys: &[ch('b')],
        label: "b",
        action: Action::RollBack,
        help: "roll the selected interrupted credential back",
        hint: Some("roll back"),
        changes: true,
    },
    Binding {
        modes: &[Banner],
        keys: &[ch('d')],
        label: "d",
        action: Action::DeleteOld,
        help: "delete the old keys whose grace period is over",
        hint: Some("delete old"),
        changes: true,
    },
    Binding {
        modes: BUTTONS,
        keys: &[
            plain(KeyCode::Tab),
            plain(KeyCode::BackTab),
            plain(KeyCode::Left),
            plain(KeyCode::Right),
        ],
        label: "Tab ← →",
        action: Action::SwitchFocus,
        help: "move between Cancel and the action",
        hint: Some("focus"),
        changes: false,
    },
    Binding {
        modes: &[Revoke],
        keys: &[ch(' ')],
        label: "Space",
        action: Action::NextChoice,
        help: "planned (deactivate, delete later) or emergency (delete now)",
        hint: Some("kind"),
        changes: false,
    },
    Binding {
        modes: &[Export],
        keys: &[plain(KeyCode::Tab), plain(KeyCode::Down)],
        label: "Tab ↓",
        action: Action::NextChoice,
        help: "next format: markdown, CSV, JSON",
        hint: Some("format"),
        changes: false,
    },
    Binding {
        modes: &[Export],
        keys: &[plain(KeyCode::BackTab), plain(KeyCode::Up)],
        label: "S-Tab ↑",
        action: Action::PrevChoice,
        help: "previous format",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Plan, Revoke, Export, SecretEntry],
        keys: &[plain(KeyCode::Enter)],
        label: "Enter",
        action: Action::Activate,
        help: "press the focused button (export and secrets: go ahead)",
        hint: Some("ok"),
        changes: false,
    },
    Binding {
        modes: &[Question],
        keys: &[ch('y')],
        label: "y",
        action: Action::Yes,
        help: "yes, done",
        hint: Some("yes"),
        changes: true,
    },
    Binding {
        modes: &[Question],
        keys: &[ch('n')],
        label: "n",
        action: Action::No,
        help: "not now: the work stays journaled, waiting (resume later)",
        hint: Some("not now"),
        changes: true,
    },
    Binding {
        modes: &[Question],
        keys: &[ch('Y')],
        label: "Y",
        action: Action::CopyNew,
        help: "copy the new secret (OSC 52; logged; never shown)",
        hint: Some("copy"),
        changes: false,
    },
    Binding {
        modes: DIALOGS,
        keys: &[plain(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        help: "close; a question stays queued in the run panel",
        hint: Some("close"),
        changes: false,
    },
    Binding {
        modes: FIELDS,
        keys: &[plain(KeyCode::Backspace)],
        label: "Backspace",
        action: Action::DeleteBack,
        help: "delete a character",
        hint: None,
        changes: false,
    },
    Binding {
        modes: VIEWS,
        keys: &[ctrl('r')],
        label: "^R",
        action: Action::Reload,
        help: "reload the inventory from disk (done by itself when it changes)",
        hint: None,
        changes: false,
    },
    Binding {
        modes: VIEWS,
        keys: &[ch('?')],
        label: "?",
        action: Action::Help,
        help: "this help",
        hint: Some("help"),
        changes: false,
    },
    Binding {
        modes: QUIT_MODES,
        keys: &[plain(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        help: "back (clears marks, then filters, on the table); never quits",
        hint: Some("back"),
        changes: false,
    },
    Binding {
        modes: QUIT_MODES,
        keys: &[ch('q')],
        label: "q",
        action: Action::Quit,
        help: "quit",
        hint: Some("quit"),
        changes: false,
    },
    Binding {
        modes: &[Timeline],
        keys: &[ch('t')],
        label: "t",
        action: Action::Back,
        help: "back to the table",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Help],
        keys: &[ch('?')],
        label: "?",
        action: Action::Back,
        help: "close the help",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Filter],
        keys: &[plain(KeyCode::Down)],
        label: "↓",
        action: Action::Down,
        help: "move down while typing",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Filter],
        keys: &[plain(KeyCode::Up)],
        label: "↑",
        action: Action::Up,
        help: "move up while typing",
        hint: None,
        changes: false,
    },
    Binding {
        modes: &[Filter],
        keys: &[plain(KeyCode::Enter)],
        label: "Enter",
        action: Action::Submit,
        help: "keep the filter",
        hint: Some("keep"),
        changes: false,
    },
    Binding {
        modes: &[Filter],
        keys: &[plain(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        help: "clear the filter",
        hint: Some("clear"),
        changes: false,
    },
    Binding {
        modes: &[Command],
        keys: &[plain(KeyCode::Enter)],
        label: "Enter",
        action: Action::Submit,
        help: "run the command",
        hint: Some("run"),
        changes: false,
    },
    Binding {
        modes: &[Command],
        keys: &[plain(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        help: "cancel",
        hint: Some("cancel"),
        changes: false,
    },
    Binding {
        modes: TEXT,
        keys: &[plain(KeyCode::Backspace)],
        label: "Backspace",
        action: Action::DeleteBack,
        help: "delete a character",
        hint: None,
        changes: false,
    },
    Binding {
        modes: TEXT,
        keys: &[ctrl('u')],
        label: "^U",
        action: Action::ClearLine,
        help: "clear the line",
        hint: None,
        changes: false,
    },
    Binding {
        modes: ALL,
        keys: &[ctrl('c')],
        label: "^C",
        action: Action::Quit,
        help: "quit, from anywhere",
        hint: None,
        changes: false,
    },
];

/// One `:` command, for help.
#[derive(Debug)]
pub struct CommandHelp {
    /// How it is typed.
    pub usage: &'static str,
    /// What it does.
    pub help: &'static str,
    /// Whether it changes the inventory.
    pub changes: bool,
}

/// The command line's commands; `update` parses them, help lists them from here.
pub static COMMANDS: &[CommandHelp] = &[
    CommandHelp {
        usage: ":client ID",
        help: "only this client's credentials (no ID: everyone)",
        changes: false,
    },
    CommandHelp {
        usage: ":due DAYS",
        help: "only those falling due within DAYS, past due included (alias :expiring)",
        changes: false,
    },
    CommandHelp {
        usage: ":messages",
        help: "every message of this session in full, newest first",
        changes: false,
    },
    CommandHelp {
        usage: ":discover [CLIENT]",
        help: "every key the providers hold (for CLIENT), untracked ones marked",
        changes: false,
    },
    CommandHelp {
        usage: ":archive",
        help: "move the marked (or selected) revoked credentials out of the table",
        changes: true,
    },
    CommandHelp {
        usage: ":overdue",
        help: "only those past their expiry or rotation date",
        changes: false,
    },
    CommandHelp {
        usage: ":stale",
        help: "only those unused for longer than the policy allows",
        changes: false,
    },
    CommandHelp {
        usage: ":sort COLUMN [desc]",
        help: "COLUMN: client integration provider scopes due used rotated status why",
        changes: false,
    },
    CommandHelp {
        usage: ":filter TEXT",
        help: "same as / TEXT",
        changes: false,
    },
    CommandHelp {
        usage: ":clear",
        help: "drop every filter and mark",
        changes: false,
    },
    CommandHelp {
        usage: ":sync  :verify",
        help: "same as s and v",
        changes: true,
    },
    CommandHelp {
        usage: ":rotate [WHICH]",
        help: "plan a rotation: marked/selected, or due DAYS, overdue, client ID",
        changes: true,
    },
    CommandHelp {
        usage: ":revoke",
        help: "same as D",
        changes: true,
    },
    CommandHelp {
        usage: ":deploy",
        help: "same as P",
        changes: true,
    },
    CommandHelp {
        usage: ":report [CLIENT] [FILE]",
        help: "write CLIENT's report (markdown; .csv/.json by FILE's name)",
        changes: false,
    },
    CommandHelp {
        usage: ":resume",
        help: "interrupted work: resume, roll back, delete old keys",
        changes: true,
    },
    CommandHelp {
        usage: ":timeline  :help",
        help: "open those views",
        changes: false,
    },
    CommandHelp {
        usage: ":q",
        help: "quit",
        changes: false,
    },
];

/// The key as the table spells it: Shift folded into the character for printable keys
/// (terminals disagree on whether `G` carries SHIFT).
fn normalise(key: KeyEvent) -> Key {
    let mut modifiers =
        key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
    if let KeyCode::Char(c) = key.code {
        modifiers.remove(KeyModifiers::SHIFT);
        if modifiers.contains(KeyModifiers::CONTROL) {
            return Key {
                code: KeyCode::Char(c.to_ascii_lowercase()),
                modifiers,
            };
        }
    }
    Key {
        code: key.code,
        modifiers,
    }
}

/// What `key` means in `mode`. In a text field, a printable character is text, whatever
/// it means elsewhere. In read-only mode, a key that would change something yields
/// [`Action::Refused`]. Key releases mean nothing.
pub fn action_for(mode: Mode, key: KeyEvent, read_only: bool) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let key = normalise(key);
    if let Some(binding) = BINDINGS
        .iter()
        .find(|b| b.modes.contains(&mode) && b.keys.contains(&key))
    {
        if binding.changes && read_only {
            return Some(Action::Refused(binding.help));
        }
        return Some(binding.action.clone());
    }
    match key.code {
        KeyCode::Char(c)
            if mode.is_text()
                && !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(Action::Insert(c))
        }
        // A key that works elsewhere says where, instead of doing nothing silently.
        _ => BINDINGS
            .iter()
            .position(|b| {
                b.keys.contains(&key)
                    && b.modes.iter().any(|m| !m.is_text())
                    && !matches!(b.action, Action::Back | Action::Down | Action::Up)
            })
            .map(Action::NotHere),
    }
}

/// Where the binding at `index` works, in words: `R (rotate …) works on: Table · Detail`.
pub fn where_it_works(index: usize) -> Option<String> {
    let b = BINDINGS.get(index)?;
    let mut places: Vec<&str> = Vec::new();
    for m in b.modes {
        if !places.contains(&m.title()) {
            places.push(m.title());
        }
    }
    Some(format!(
        "{}: {} (works on: {})",
        b.label,
        b.help,
        places.join(" · ")
    ))
}

/// The bindings help and the footer show for `mode`: the changing ones are hidden when
/// read-only.
pub fn bindings(mode: Mode, read_only: bool) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| b.modes.contains(&mode) && !(read_only && b.changes))
}

/// The footer's `(keys, word)` pairs for `mode`.
pub fn hints(mode: Mode, read_only: bool) -> Vec<(&'static str, &'static str)> {
    bindings(mode, read_only)
        .filter_map(|b| b.hint.map(|h| (b.label, h)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn esc_never_quits_in_any_mode() {
        for mode in Mode::ALL {
            let action = action_for(mode, key(KeyCode::Esc), false);
            assert_ne!(action, Some(Action::Quit), "{mode:?}");
            assert_eq!(action, Some(Action::Back), "{mode:?}");
        }
    }

    #[test]
    fn letters_in_text_fields_are_text() {
        for mode in [Mode::Filter, Mode::Command] {
            for c in ['q', 'j', 'k', 's', 'v', 'G', '?', ' ', '/', ':', 'x', 'Y'] {
                assert_eq!(
                    action_for(mode, key(KeyCode::Char(c)), false),
                    Some(Action::Insert(c))
                );
            }
        }
        assert_eq!(
            action_for(Mode::Main, key(KeyCode::Char('q')), false),
            Some(Action::Quit)
        );
    }

    #[test]
    fn ctrl_c_quits_everywhere_even_in_text_fields() {
        for mode in Mode::ALL {
            let ev = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
            assert_eq!(action_for(mode, ev, false), Some(Action::Quit), "{mode:?}");
        }
    }

    #[test]
    fn shifted_letters_match_whether_or_not_the_terminal_reports_shift() {
        let with_shift = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(
            action_for(Mode::Main, with_shift, false),
            Some(Action::Bottom)
        );
        assert_eq!(
            action_for(Mode::Main, key(KeyCode::Char('G')), false),
            Some(Action::Bottom)
        );
    }

    #[test]
    fn read_only_refuses_and_hides_changing_keys() {
        let s = key(KeyCode::Char('s'));
        assert_eq!(action_for(Mode::Main, s, false), Some(Action::Sync));
        assert!(matches!(
            action_for(Mode::Main, s, true),
            Some(Action::Refused(_))
        ));
        assert!(hints(Mode::Main, false).iter().any(|(_, h)| *h == "sync"));
        assert!(!hints(Mode::Main, true).iter().any(|(_, h)| *h == "sync"));
        assert!(bindings(Mode::Main, true).all(|b| !b.changes));
    }

    #[test]
    fn key_releases_do_nothing() {
        let mut ev = key(KeyCode::Char('q'));
        ev.kind = KeyEventKind::Release;
        assert_eq!(action_for(Mode::Main, ev, false), None);
    }

    #[test]
    fn no_key_is_bound_twice_in_one_mode() {
        for mode in Mode::ALL {
            let keys: Vec<Key> = BINDINGS
                .iter()
                .filter(|b| b.modes.contains(&mode))
                .flat_map(|b| b.keys.iter().copied())
                .collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} bound twice in {mode:?}");
            }
        }
    }
}
