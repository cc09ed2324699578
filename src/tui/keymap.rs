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
}

impl Mode {
    /// Every mode, in the order help lists them.
    pub const ALL: [Mode; 6] = [
        Mode::Main,
        Mode::Filter,
        Mode::Command,
        Mode::Detail,
        Mode::Timeline,
        Mode::Help,
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
        }
    }

    /// Whether letters typed here are text.
    pub fn is_text(self) -> bool {
        matches!(self, Mode::Filter | Mode::Command)
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

use Mode::{Command, Detail, Filter, Help, Main, Timeline};

const MOVE: &[Mode] = &[Main, Detail, Help];
const VIEWS: &[Mode] = &[Main, Detail, Timeline];
const QUIT_MODES: &[Mode] = &[Main, Detail, Timeline, Help];
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
        help: "COLUMN: client integration provider scopes expires used rotated status",
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
        _ => None,
    }
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
