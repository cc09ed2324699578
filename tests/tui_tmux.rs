//! The dashboard in a real terminal: the real binary's `demo` in tmux, driven with keys
//! (filter, detail, reveal, back, timeline, help, quit), resized below the minimum and
//! back, and checked to leave the terminal as it found it: alternate screen left, cursor
//! shown, canonical mode and echo back on. Also how it ends when the terminal goes away or
//! a signal comes (within a second, never spinning), that it costs nothing while idle, and
//! that it follows the inventory when another keyward changes it.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::tmux::Tmux;
use support::workspace::{self, Workspace};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keyward")
}

/// A shell in tmux running `keyward demo`, waiting for the table.
fn demo(env_prefix: &str) -> Tmux {
    let t = Tmux::start("sh", 100, 30, &[]);
    t.type_text("echo ready-$((1+1))");
    t.send(&["Enter"]);
    t.wait_for("ready-2");
    t.type_text(&format!("{env_prefix}{} demo", bin()));
    t.send(&["Enter"]);
    t.wait_for("STATUS");
    t
}

fn format(t: &Tmux, what: &str) -> String {
    t.tmux(&["display-message", "-p", "-t", &t.session, what])
        .trim()
        .to_string()
}

/// Polls (a bounded number of times) until `ok` holds for the screen.
fn wait_until(t: &Tmux, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let mut screen = String::new();
    for _ in 0..400 {
        screen = t.screen();
        if ok(&screen) {
            return screen;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} never happened; the screen:\n{screen}");
}

/// `(shown, total)` from the title bar's `N/M shown`.
fn shown(screen: &str) -> (usize, usize) {
    let title = screen.lines().next().unwrap_or_default();
    let fact = title
        .split_whitespace()
        .find(|w| w.contains('/') && w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no N/M in the title: {title}"));
    let (a, b) = fact.split_once('/').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// Quits is done: the shell runs commands again, the alternate screen is left, the cursor
/// shows and the tty is back in canonical mode with echo and signals.
fn assert_terminal_restored(t: &Tmux) {
    // The shell owns the terminal again once keyward has exited.
    for _ in 0..400 {
        if format(t, "#{pane_current_command}") == "sh" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        format(t, "#{pane_current_command}"),
        "sh",
        "keyward did not exit"
    );
    t.type_text("echo back-$((40+2))");
    t.send(&["Enter"]);
    t.wait_for("back-42");
    assert_eq!(
        format(t, "#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(format(t, "#{cursor_flag}"), "1", "the cursor stays hidden");
    t.type_text("stty -a|tr ' ;' '\\n\\n'|grep -xE 'icanon|echo|isig'|tr '\\n' +;echo =$((6*7))");
    t.send(&["Enter"]);
    let screen = t.wait_for("=42");
    let line = screen
        .lines()
        .find(|l| l.ends_with("=42") && !l.contains("stty"))
        .unwrap();
    let flags: Vec<&str> = line.trim_end_matches("=42").split('+').collect();
    for flag in ["icanon", "echo", "isig"] {
        assert!(
            flags.contains(&flag),
            "{flag} is off after quitting: {line}"
        );
    }
}

#[test]
fn filter_open_a_detail_go_back_and_quit_leaves_the_terminal_restored() {
    let t = demo("");
    assert_eq!(format(&t, "#{alternate_on}"), "1");
    let start = t.screen();
    assert!(start.contains("keyward demo"));
    assert!(start.contains("expired") && start.contains("ok"));
    let (shown_all, total) = shown(&start);
    assert_eq!(shown_all, total);

    // `/` filters live; letters are text.
    t.type_text("/crm-sync");
    let filtered = wait_until(&t, "the filter", |s| {
        s.contains("/crm-sync") && shown(s).0 == 1
    });
    assert!(filtered.contains("crm-sync"));
    t.send(&["Enter"]);
    let kept = wait_until(&t, "keeping the filter", |s| s.contains("· /crm-sync"));
    assert_eq!(shown(&kept).0, 1);

    // Enter opens the detail, masked; x reveals; Esc goes back; reopening masks again.
    t.send(&["Enter"]);
    let detail = t.wait_for("› detail");
    assert!(detail.contains("acme/crm-sync"));
    assert!(detail.contains("Secret") && detail.contains("••••••••"));
    assert!(detail.contains("Used by") && detail.contains("History"));
    t.send(&["x"]);
    let revealed = t.wait_for("(x hides)");
    let secret_line = revealed.lines().find(|l| l.contains("(x hides)")).unwrap();
    let secret = secret_line.split_whitespace().nth(1).unwrap().to_string();
    assert!(!secret.contains('•') && secret.len() >= 8, "{secret_line}");
    t.send(&["Escape"]);
    let back = wait_until(&t, "back to the table", |s| {
        !s.contains("› detail") && s.contains("STATUS")
    });
    assert!(
        !back.contains(&secret),
        "the secret stays on screen after leaving"
    );
    assert_eq!(shown(&back).0, 1, "the filter survives the detail");
    t.send(&["Enter"]);
    let again = t.wait_for("› detail");
    assert!(again.contains("(x reveals") && !again.contains(&secret));
    t.send(&["Escape"]);
    wait_until(&t, "back to the table", |s| !s.contains("› detail"));

    // Esc clears the filter and never quits.
    for _ in 0..3 {
        t.send(&["Escape"]);
    }
    let cleared = wait_until(&t, "the filter cleared", |s| shown(s).0 == total);
    assert!(cleared.contains("STATUS"));
    assert_eq!(format(&t, "#{alternate_on}"), "1", "Esc quit the dashboard");

    t.send(&["t"]);
    t.wait_for("Falling due per week");
    t.send(&["Escape"]);
    wait_until(&t, "back to the table", |s| !s.contains("› timeline"));
    // A separate key: ESC followed at once by `?` reads as Alt-?.
    t.send(&["?"]);
    t.wait_for("› help");
    t.send(&["G"]);
    t.wait_for("Commands (after :)");
    t.send(&["Escape"]);
    wait_until(&t, "back to the table", |s| {
        s.contains("STATUS") && !s.contains("› help")
    });

    t.send(&["q"]);
    assert_terminal_restored(&t);
}

#[test]
fn resizing_redraws_and_ctrl_c_quits_cleanly() {
    let t = demo("");
    let session = t.session.clone();
    // USED is shown at 100 columns and dropped first when the terminal narrows (DUE and
    // WHY keep their room).
    assert!(t.screen().contains("USED"));
    t.tmux(&["resize-window", "-t", &session, "-x", "60", "-y", "20"]);
    let narrow = wait_until(&t, "a narrow redraw", |s| {
        s.contains("STATUS") && !s.contains("USED")
    });
    assert!(narrow.lines().all(|l| l.chars().count() <= 60));
    t.tmux(&["resize-window", "-t", &session, "-x", "30", "-y", "8"]);
    t.wait_for("too small");
    t.tmux(&["resize-window", "-t", &session, "-x", "100", "-y", "30"]);
    wait_until(&t, "the table again", |s| s.contains("USED"));

    // Sync runs in the background and reports in the status line, whatever the provider
    // answers (or that this build has no client for it); the dashboard stays up.
    t.send(&["s"]);
    t.wait_for("1 done");
    assert_eq!(format(&t, "#{alternate_on}"), "1");

    // Ctrl-C quits, even from the filter field.
    t.type_text("/");
    t.send(&["C-c"]);
    assert_terminal_restored(&t);
}

/// SGR parameters that set a colour, from `capture-pane -e` output.
fn colour_codes(screen: &str) -> Vec<String> {
    let mut out = Vec::new();
    for chunk in screen.split("\x1b[").skip(1) {
        let Some(end) = chunk.find('m') else { continue };
        let params: Vec<&str> = chunk[..end].split(';').collect();
        let mut i = 0;
        while i < params.len() {
            let n: u32 = params[i].parse().unwrap_or(0);
            match n {
                38 | 48 => {
                    out.push(params[i..].join(";"));
                    break;
                }
                30..=37 | 40..=47 | 90..=97 | 100..=107 => out.push(n.to_string()),
                _ => {}
            }
            i += 1;
        }
    }
    out
}

#[test]
fn no_color_turns_colour_off_and_otherwise_only_the_16_ansi_colours_show() {
    let t = demo("NO_COLOR=1 ");
    let plain = t.tmux(&["capture-pane", "-p", "-e", "-t", &t.session]);
    assert!(plain.contains("expired"));
    assert_eq!(colour_codes(&plain), Vec::<String>::new());
    t.send(&["q"]);
    assert_terminal_restored(&t);

    let t = demo("env -u NO_COLOR ");
    let coloured = t.tmux(&["capture-pane", "-p", "-e", "-t", &t.session]);
    let codes = colour_codes(&coloured);
    assert!(
        codes.iter().any(|c| c == "31"),
        "expired rows are red: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| !c.starts_with("38") && !c.starts_with("48")),
        "only the 16 ANSI colours: {codes:?}"
    );
    t.send(&["q"]);
    assert_terminal_restored(&t);
}

/// Needs the `test-hooks` feature (CI builds with it): the binary panics after drawing.
#[cfg(feature = "test-hooks")]
#[test]
fn a_panic_restores_the_terminal_before_the_message_prints() {
    let t = Tmux::start("sh", 100, 30, &[]);
    t.type_text("echo ready-$((1+1))");
    t.send(&["Enter"]);
    t.wait_for("ready-2");
    t.type_text(&format!(
        "KEYWARD_TEST_PANIC_IN_DASHBOARD=1 RUST_BACKTRACE=0 {} demo",
        bin()
    ));
    t.send(&["Enter"]);
    let screen = t.wait_for("panicked on purpose");
    // Raw mode left before printing: the message's lines start at column 0, not in a
    // staircase.
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("test hook: the dashboard panicked on purpose")),
        "{screen}"
    );
    assert!(
        !screen.contains("STATUS"),
        "the message landed on the dashboard's screen:\n{screen}"
    );
    assert_terminal_restored(&t);
}

#[test]
fn sigterm_closes_the_dashboard_like_q() {
    let t = Tmux::start(&format!("exec {} demo", bin()), 100, 30, &[]);
    t.wait_for("STATUS");
    let pid = format(&t, "#{pane_pid}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(t.wait_exit(), 0, "SIGTERM is a clean quit");
    assert_eq!(format(&t, "#{alternate_on}"), "0");
}

#[test]
fn read_only_hides_and_refuses_sync() {
    let t = Tmux::start(&format!("exec {} demo --read-only", bin()), 100, 30, &[]);
    let screen = t.wait_for("STATUS");
    assert!(screen.contains("[read-only]"));
    let footer = screen.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        footer.contains("verify") && !footer.contains("sync"),
        "{footer}"
    );
    t.send(&["s"]);
    t.wait_for("read-only: cannot sync");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

/// The fields of `/proc/PID/stat` after the command name: state first. `None` once the
/// process is gone.
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.rsplit_once(')')?.1;
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// Whether `pid` has exited: gone, or a zombie nobody reaped (a container's init may not).
fn has_exited(pid: u32) -> bool {
    proc_stat(pid).is_none_or(|f| f[0] == "Z")
}

/// CPU time `pid` has used so far, user and system, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let f = proc_stat(pid).expect("the process is running");
    // utime and stime are fields 14 and 15 of stat; 3 is the first after the name.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// How long `pid` took to exit, polling `/proc` for up to `limit`; `None` if it did not.
fn time_to_exit(pid: u32, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if has_exited(pid) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The pid `sh -c 'echo $$ >FILE; exec …'` wrote.
fn read_pid(file: &Path) -> u32 {
    for _ in 0..400 {
        if let Ok(text) = std::fs::read_to_string(file) {
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} never held a pid", file.display());
}

/// A shell line that records its pid in `file`, then becomes `keyward demo`.
fn demo_recording_pid(file: &Path) -> String {
    format!("sh -c 'echo $$ >{}; exec {} demo'", file.display(), bin())
}

/// Regression: `tmux kill-session` (what a dropped `ssh -t` does) left `keyward demo`
/// running forever, its key reader calling `read(0)` on the hung-up terminal and getting
/// end-of-file in a tight loop at 60-100% of a core.
#[test]
fn a_dropped_terminal_no_longer_spins_a_core() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let t = Tmux::start("sh", 100, 30, &[]);
    t.type_text("echo ready-$((1+1))");
    t.send(&["Enter"]);
    t.wait_for("ready-2");
    t.type_text(&demo_recording_pid(&pid_file));
    t.send(&["Enter"]);
    t.wait_for("STATUS");
    let pid = read_pid(&pid_file);
    t.tmux(&["kill-session", "-t", &t.session]);
    let took = time_to_exit(pid, Duration::from_secs(3));
    let burnt = proc_stat(pid).map(|_| cpu_ticks(pid));
    assert!(
        took.is_some(),
        "keyward still runs 3 s after its terminal went away (CPU ticks so far: {burnt:?})"
    );
}

/// The same with no hang-up signal at all: keyward in a session of its own (as when the
/// shell that started it does not pass SIGHUP on) only sees its input end.
#[test]
fn end_of_input_alone_ends_the_dashboard_without_spinning() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let t = Tmux::start(
        &format!("setsid -w {}", demo_recording_pid(&pid_file)),
        100,
        30,
        &[],
    );
    t.wait_for("STATUS");
    let pid = read_pid(&pid_file);
    let sid = proc_stat(pid).unwrap()[3].clone();
    assert_eq!(sid, pid.to_string(), "keyward should lead its own session");
    t.tmux(&["kill-session", "-t", &t.session]);
    let took = time_to_exit(pid, Duration::from_secs(3));
    assert!(
        took.is_some(),
        "keyward still runs 3 s after its input ended; CPU ticks: {:?}",
        proc_stat(pid).map(|_| cpu_ticks(pid))
    );
}

/// SIGTERM and SIGHUP sent to the process end it within a second, exit 0, and give the
/// terminal back.
#[test]
fn sigterm_and_sighup_end_the_dashboard_within_a_second() {
    for signal in ["-TERM", "-HUP"] {
        let t = Tmux::start(&format!("exec {} demo", bin()), 100, 30, &[]);
        t.wait_for("STATUS");
        let pid: u32 = format(&t, "#{pane_pid}").parse().unwrap();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let took = time_to_exit(pid, Duration::from_secs(5));
        assert!(
            took.is_some_and(|d| d < Duration::from_millis(1500)),
            "{signal}: took {took:?}"
        );
        assert_eq!(t.wait_exit(), 0, "{signal} is a clean quit");
        assert_eq!(format(&t, "#{alternate_on}"), "0", "{signal}");
    }
}

/// Open and idle, the dashboard wakes about once a second and draws nothing new: its CPU
/// use over two seconds is next to nothing.
#[test]
fn an_idle_dashboard_uses_no_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let t = Tmux::start(&demo_recording_pid(&pid_file), 100, 30, &[]);
    t.wait_for("STATUS");
    let pid = read_pid(&pid_file);
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - before;
    // 10 ticks is 0.1 s of CPU in 2 s, 5% of a core; a busy loop shows ~200.
    assert!(used <= 10, "{used} ticks of CPU in 2 s while idle");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

/// Regression: a credential rotated from the command line while a dashboard was open kept
/// its old secret there, so `x` would reveal a key already deactivated.
#[test]
fn a_rotation_from_the_command_line_shows_in_the_open_dashboard() {
    let ws = Workspace::new();
    let kept = ws.path("demo");
    ws.ok(&["demo", "--keep-in", kept.to_str().unwrap()], "");
    let inventory = kept.join("demo.yaml.age");
    let identity = kept.join("demo-identity.txt");
    let home = ws.dir.path().to_str().unwrap().to_string();
    let t = Tmux::start(
        &format!("exec {}", bin()),
        100,
        30,
        &[
            ("HOME", &home),
            ("KEYWARD_INVENTORY", inventory.to_str().unwrap()),
            ("KEYWARD_IDENTITY", identity.to_str().unwrap()),
            ("KEYWARD_NOW", workspace::NOW),
        ],
    );
    t.wait_for("STATUS");
    t.type_text("/mail-send");
    wait_until(&t, "the filter", |s| shown(s).0 == 1);
    t.send(&["Enter"]);
    t.send(&["Enter"]);
    t.wait_for("› detail");
    t.send(&["x"]);
    let revealed = t.wait_for("(x hides)");
    let secret_of = |screen: &str| {
        let line = screen.lines().find(|l| l.contains("(x hides)")).unwrap();
        line.split_whitespace().nth(1).unwrap().to_string()
    };
    let old = secret_of(&revealed);

    let rotate = || {
        let out = ws
            .keyward()
            .env("KEYWARD_INVENTORY", &inventory)
            .env("KEYWARD_IDENTITY", &identity)
            .args(["rotate", "acme/mail-send", "--yes"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    rotate();

    // Within seconds the dashboard reads the file again; the old secret leaves the screen
    // and the detail is masked until revealed (and audited) again.
    let reloaded = t.wait_for("reloaded: changed on disk");
    assert!(reloaded.contains("› detail"), "{reloaded}");
    assert!(!reloaded.contains(&old), "the old secret stays on screen");
    assert!(reloaded.contains("(x reveals"), "{reloaded}");
    t.send(&["x"]);
    let new = secret_of(&t.wait_for("(x hides)"));
    assert_ne!(new, old, "the dashboard reveals the rotated-away secret");
    let on_disk = workspace::age(
        &[
            "-d",
            "-i",
            identity.to_str().unwrap(),
            inventory.to_str().unwrap(),
        ],
        "",
    );
    let plain = String::from_utf8_lossy(&on_disk.stdout);
    assert!(
        plain.contains(&new),
        "the revealed secret is not the stored one"
    );
    assert!(!plain.contains(&old), "the old secret is still stored");

    // Rotated again, and `x` pressed at once, before the once-a-second look at the file:
    // the dashboard reads the file before acting on a secret, so the key does not merely
    // mask the old secret, it reveals the current one.
    rotate();
    t.send(&["x"]);
    let third = wait_until(&t, "the third secret revealed", |s| {
        s.contains("(x hides)") && !s.contains(&new)
    });
    let third = secret_of(&third);
    assert_ne!(third, old);
    let on_disk = workspace::age(
        &[
            "-d",
            "-i",
            identity.to_str().unwrap(),
            inventory.to_str().unwrap(),
        ],
        "",
    );
    assert!(String::from_utf8_lossy(&on_disk.stdout).contains(&third));

    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}
