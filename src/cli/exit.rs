//! The one table of exit codes every command uses, so a script reads the same number the
//! same way whichever command it ran. README.md ("Exit codes") and docs/json.md show it;
//! `keyward --help` points there.

/// What a run of keyward came to, as its exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: done; for `check`, all fine.
    Done,
    /// 1: an error; nothing more specific applies (one line on stderr says what and where).
    Failed,
    /// 2: `check`: something expired or overdue; `verify`: a stored secret is invalid.
    Expired,
    /// 3: could not check: the inventory did not open for `check`, or a provider could not
    /// be reached for `check`, `sync` or `verify`.
    CouldNotCheck,
    /// 4: a person is needed: something waits for one (`keyward resume` finishes it), or the
    /// action needs one and there is no terminal (run it on one, or pass `--yes`).
    NeedsPerson,
    /// 5: nothing to do: the selection is empty or nothing is in flight.
    NothingToDo,
    /// 6: `check`: something needs attention soon (due soon, stale, an interrupted rotation).
    Attention,
    /// 7: a person said no: a confirmation answered no, or `connect` declined at the server.
    Declined,
    /// 8: `connect`: the code expired before anyone approved it.
    TimedOut,
    /// 64: the command line itself is wrong (sysexits' EX_USAGE): clap's own 2 would
    /// collide with "expired".
    Usage,
    /// 130: interrupted with Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted,
}

impl Exit {
    /// Every exit code, in table order.
    pub const ALL: [Exit; 11] = [
        Exit::Done,
        Exit::Failed,
        Exit::Expired,
        Exit::CouldNotCheck,
        Exit::NeedsPerson,
        Exit::NothingToDo,
        Exit::Attention,
        Exit::Declined,
        Exit::TimedOut,
        Exit::Usage,
        Exit::Interrupted,
    ];

    /// The process exit code.
    pub const fn as_code(self) -> i32 {
        match self {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::Expired => 2,
            Exit::CouldNotCheck => 3,
            Exit::NeedsPerson => 4,
            Exit::NothingToDo => 5,
            Exit::Attention => 6,
            Exit::Declined => 7,
            Exit::TimedOut => 8,
            Exit::Usage => 64,
            Exit::Interrupted => 130,
        }
    }

    /// The name the README's table gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Exit::Done => "done",
            Exit::Failed => "failed",
            Exit::Expired => "expired",
            Exit::CouldNotCheck => "could-not-check",
            Exit::NeedsPerson => "needs-person",
            Exit::NothingToDo => "nothing-to-do",
            Exit::Attention => "attention",
            Exit::Declined => "declined",
            Exit::TimedOut => "timed-out",
            Exit::Usage => "usage",
            Exit::Interrupted => "interrupted",
        }
    }

    /// The exit with code `code`, if it is one of the table's.
    pub fn from_code(code: i32) -> Option<Exit> {
        Exit::ALL.into_iter().find(|e| e.as_code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_name_is_distinct_and_round_trips() {
        for (i, a) in Exit::ALL.iter().enumerate() {
            assert_eq!(Exit::from_code(a.as_code()), Some(*a));
            for b in &Exit::ALL[i + 1..] {
                assert_ne!(a.as_code(), b.as_code());
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }

    #[test]
    fn the_readme_table_lists_every_code() {
        let readme = include_str!("../../README.md");
        for e in Exit::ALL {
            let row = format!("| {} | `{}` |", e.as_code(), e.as_str());
            assert!(readme.contains(&row), "README.md lacks the row `{row}`");
        }
    }
}
