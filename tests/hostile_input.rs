//! Hostile input through the real binary: escape sequences and newlines in names and ids,
//! formula cells for spreadsheets, links for Markdown renderers, secrets in the wrong CSV
//! column, nesting bombs, byte order marks, empty settings and unsafe endpoints. The bytes
//! each command writes to stdout and stderr are checked, not what a terminal would show.

use crate::support;

use std::process::Output;
use std::time::{Duration, Instant};

use support::workspace::{age, Workspace};

/// Retitles the terminal (OSC 0), clears it (CSI 2J), then starts a fake row.
const HOSTILE: &str = "CRM\x1b]0;pwned\x07\x1b[2J\nacme/fake  manual  ok";

/// Asserts neither stream holds a byte that drives a terminal: ESC, BEL, CSI (8-bit), and
/// no line starts with the fake row.
fn assert_terminal_safe(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !bytes.iter().any(|b| matches!(b, 0x1b | 0x07 | 0x00)),
            "{what}: raw control byte on {stream}: {:?}",
            String::from_utf8_lossy(bytes)
        );
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains('\u{9b}'), "{what}: C1 CSI on {stream}");
        assert!(
            !text.lines().any(|l| l.starts_with("acme/fake")),
            "{what}: a newline printed a fake row on {stream}: {text}"
        );
    }
}

fn public_key(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.default_identity())
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string()
}

/// An inventory with one credential whose every free-text field is hostile.
fn hostile_workspace() -> Workspace {
    let ws = Workspace::new();
    ws.init();
    ws.ok(
        &[
            "add",
            "acme/crm",
            "--provider",
            "manual",
            "--name",
            HOSTILE,
            "--owner",
            HOSTILE,
            "--used-by",
            HOSTILE,
            "--scope",
            HOSTILE,
            "--remote-id",
            HOSTILE,
            "--param",
            &format!("k={HOSTILE}"),
            "--expires",
            "2026-11-20",
        ],
        "sk-live-0123456789abcdefghij\n",
    );
    ws
}

#[test]
fn output_attacks_the_terminal_escape_sequences_and_newlines_are_shown_escaped() {
    let ws = hostile_workspace();
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["show", "acme/crm"],
        &["show", "acme/crm", "--json"],
        &["audit"],
        &["audit", "--json"],
        &["check"],
        &["report"],
        &["report", "--format", "csv"],
        &["report", "--format", "json"],
        &["rotate", "acme/crm", "--dry-run"],
        &["list", "--client", HOSTILE],
        &["show", HOSTILE],
        &["import", HOSTILE],
    ] {
        let out = ws.run(args, "");
        assert_terminal_safe(&format!("{:?}", args[0]), &out);
    }
    // The user's text is still there, escaped: `\x1b` and `\n` as text.
    let shown = ws.ok(&["show", "acme/crm"], "");
    assert!(
        shown.contains("CRM\\x1b]0;pwned\\x07\\x1b[2J\\nacme/fake  manual  ok"),
        "{shown}"
    );
    let errors = ws.run(&["list", "--client", HOSTILE], "");
    let stderr = String::from_utf8_lossy(&errors.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("\\x1b[2J\\n"), "{stderr}");
}

#[test]
fn output_attacks_the_terminal_through_the_audit_actor_and_import_file_name() {
    let ws = Workspace::new();
    ws.init();
    let name = ws.path("keys\x1b[2J\n.csv");
    std::fs::write(&name, "client,integration,provider\nacme,crm,manual\n").unwrap();
    let out = ws.run(&["import", name.to_str().unwrap()], "");
    assert_terminal_safe("import", &out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let audit = support::workspace::run_with_stdin(
        ws.keyward()
            .env("USER", "mallory\x1b]0;pwned\x07")
            .args(["audit"]),
        "",
    );
    assert_terminal_safe("audit", &audit);
    let mut add = ws.keyward();
    add.env("USER", "mallory\x1b]0;pwned\x07").args([
        "add",
        "acme/bot",
        "--provider",
        "manual",
        "--no-secret",
    ]);
    assert!(support::workspace::run_with_stdin(&mut add, "")
        .status
        .success());
    let audit = ws.run(&["audit"], "");
    assert_terminal_safe("audit", &audit);
    assert!(
        String::from_utf8_lossy(&audit.stdout).contains("mallory\\x1b]0;pwned\\x07"),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}

#[test]
fn ids_with_control_characters_or_whitespace_are_refused_at_every_boundary() {
    let ws = Workspace::new();
    ws.init();
    for bad in ["ac\x1b[2Jme/crm", "acme/c\nrm", "a b/c", "acme/\u{202e}crm"] {
        let out = ws.run(&["add", bad, "--provider", "manual", "--no-secret"], "");
        assert_eq!(out.status.code(), Some(64), "{bad:?}");
        assert_terminal_safe("add", &out);
    }
    // The same rule in `import --dry-run` as in the real run (the dry run used to accept
    // `a b/c`), for CSV and YAML.
    let csv = ws.path("keys.csv");
    let yaml = ws.path("keys.yaml");
    for (file, text) in [
        (&csv, "client,integration,provider\na b,c,manual\n"),
        (
            &csv,
            "client,integration,provider\nacme,\"c\x1b[2J\",manual\n",
        ),
        (
            &yaml,
            "clients:\n  - id: a b\n    integrations:\n      - id: c\n        provider: manual\n",
        ),
        (
            &yaml,
            "connections:\n  - id: \"x\\e[2J\"\n    provider: gitlab\n",
        ),
    ] {
        std::fs::write(file, text).unwrap();
        for dry in [true, false] {
            let mut args = vec!["import", file.to_str().unwrap()];
            if dry {
                args.push("--dry-run");
            }
            let out = ws.run(&args, "");
            assert_eq!(out.status.code(), Some(1), "{text:?} dry={dry}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("id may not contain"), "{stderr}");
            assert_terminal_safe("import", &out);
        }
    }
    assert!(ws.ok(&["list"], "").contains("The inventory is empty"));
    // An inventory file written by someone else is held to the same rule.
    let inv = ws.path("crafted.age");
    let out = age(
        &["-r", &public_key(&ws), "-o", inv.to_str().unwrap()],
        "version: 1\nclients:\n  - id: \"acme\\e]0;x\\a\"\n    integrations: []\n",
    );
    assert!(out.status.success());
    let out = ws.run(&["--inventory", inv.to_str().unwrap(), "list"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("clients[0].id: id may not contain"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn output_attacks_the_spreadsheet_formula_cells_are_prefixed_with_a_quote() {
    let ws = Workspace::new();
    ws.init();
    ws.ok(
        &[
            "add",
            "acme/crm",
            "--provider",
            "manual",
            "--no-secret",
            "--used-by",
            "=cmd|' /C calc'!A0",
            "--name",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "--owner",
            "+1+cmd",
            "--remote-id=-2+3",
        ],
        "",
    );
    let csv = ws.ok(&["report", "--format", "csv"], "");
    let row = csv.lines().nth(1).expect("a data row");
    let cells: Vec<String> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    for cell in &cells {
        assert!(
            !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "formula cell {cell:?} in {row}"
        );
    }
    assert!(cells.contains(&"'=cmd|' /C calc'!A0".to_string()), "{row}");
    assert!(
        cells.contains(&"'@SUM(1+1)*cmd|' /C calc'!A0".to_string()),
        "{row}"
    );
}

#[test]
fn markdown_report_renders_links_and_images_from_user_fields_as_text() {
    let ws = Workspace::new();
    ws.init();
    ws.ok(
        &[
            "add",
            "acme/crm",
            "--provider",
            "manual",
            "--no-secret",
            "--name",
            "![pixel](https://evil.example/track.png)",
            "--owner",
            "[click me](javascript:alert(1))",
            "--used-by",
            "<img src=x onerror=alert(1)>",
        ],
        "",
    );
    let md = ws.ok(&["report"], "");
    for live in [
        "![pixel](",
        "](javascript",
        "<img",
        "https://evil",
        "[click me]",
    ] {
        assert!(!md.contains(live), "{live} is live in: {md}");
    }
    assert!(md.contains("\\!\\[pixel\\]"), "{md}");
}

#[test]
fn a_secret_in_a_shifted_csv_column_is_never_printed() {
    let ws = Workspace::new();
    ws.init();
    let secret = "sk-proj-AbCdEf0123456789ghijklmnopQRSTUV";
    let file = ws.path("keys.csv");
    // The header names one column too few before `secret`: every cell shifts one left.
    for (header, row) in [
        (
            "client,integration,provider,expires_at",
            format!("acme,crm,manual,{secret}"),
        ),
        (
            "client,integration,provider,rotate_every_days",
            format!("acme,crm,manual,{secret}"),
        ),
        ("client,integration,provider", format!("acme,crm,{secret}")),
        (
            "client,integration,provider",
            format!("acme,{secret} x,manual"),
        ),
        (
            format!("acme,crm,{secret}").as_str(),
            "acme,crm,manual".into(),
        ),
    ] {
        std::fs::write(&file, format!("{header}\n{row}\n")).unwrap();
        for dry in [true, false] {
            let mut args = vec!["import", file.to_str().unwrap()];
            if dry {
                args.push("--dry-run");
            }
            let out = ws.run(&args, "");
            assert_eq!(out.status.code(), Some(1), "{header} / {row}");
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!all.contains("sk-proj"), "{all}");
            assert!(!all.contains("0123456789"), "{all}");
            assert!(all.contains("line "), "the cell is named by line: {all}");
        }
    }
}

#[test]
fn nesting_bomb_is_refused_in_milliseconds() {
    let ws = Workspace::new();
    ws.init();
    let bomb = format!("version: 1\nclients: {}", "[".repeat(200_000));
    let file = ws.path("bomb.yaml");
    std::fs::write(&file, &bomb).unwrap();
    let t = Instant::now();
    let out = ws.run(&["import", file.to_str().unwrap(), "--dry-run"], "");
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nest more than 64 deep"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It took the parser over a minute; a debug binary starts in well under the bound.
    assert!(took < Duration::from_secs(3), "import took {took:?}");

    let inv = ws.path("bomb.age");
    assert!(age(
        &["-r", &public_key(&ws), "-o", inv.to_str().unwrap()],
        &bomb
    )
    .status
    .success());
    let t = Instant::now();
    let out = ws.run(&["--inventory", inv.to_str().unwrap(), "list"], "");
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nest more than 64 deep"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(3), "list took {took:?}");
}

#[test]
fn a_byte_order_mark_is_accepted_in_the_inventory_and_imports() {
    let ws = Workspace::new();
    ws.init();
    let inv = ws.path("bom.age");
    let text = "\u{feff}version: 1\nclients:\n  - id: acme\n    integrations:\n      - id: crm\n        provider: manual\n";
    assert!(
        age(&["-r", &public_key(&ws), "-o", inv.to_str().unwrap()], text)
            .status
            .success()
    );
    let listed = ws.ok(&["--inventory", inv.to_str().unwrap(), "list"], "");
    assert!(listed.contains("acme/crm"), "{listed}");

    let csv = ws.path("keys.csv");
    std::fs::write(
        &csv,
        "\u{feff}client,integration,provider\nbeta,bot,manual\n",
    )
    .unwrap();
    ws.ok(&["import", csv.to_str().unwrap()], "");
    let yaml = ws.path("keys.yaml");
    std::fs::write(
        &yaml,
        "\u{feff}clients:\n  - id: gamma\n    integrations:\n      - id: bot\n        provider: manual\n",
    )
    .unwrap();
    ws.ok(&["import", yaml.to_str().unwrap()], "");
    let listed = ws.ok(&["list"], "");
    assert!(
        listed.contains("beta/bot") && listed.contains("gamma/bot"),
        "{listed}"
    );
}

#[test]
fn an_empty_keyward_identity_does_not_break_dash_i() {
    let ws = Workspace::new();
    ws.init();
    let identity = ws.default_identity();
    let out = support::workspace::run_with_stdin(
        ws.keyward()
            .env("KEYWARD_IDENTITY", "")
            .args(["-i", identity.to_str().unwrap(), "list"]),
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Empty means unset: the default identity is found.
    let out = support::workspace::run_with_stdin(
        ws.keyward().env("KEYWARD_IDENTITY", "").args(["list"]),
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn connections_add_refuses_file_javascript_relative_and_remote_http_endpoints() {
    let ws = Workspace::new();
    ws.init();
    let before = support::workspace::hash(&ws.inventory());
    for endpoint in [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "/api/v4",
        "gitlab.example.com",
        "http://gitlab.example.com",
        "ftp://gitlab.example.com",
        "https://user:hunter2@gitlab.example.com",
    ] {
        let out = ws.run(
            &[
                "connections",
                "add",
                "gl",
                "--provider",
                "gitlab",
                "--endpoint",
                endpoint,
            ],
            "",
        );
        assert_eq!(out.status.code(), Some(1), "{endpoint} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    assert_eq!(support::workspace::hash(&ws.inventory()), before);
    for endpoint in [
        "https://gitlab.example.com",
        "http://127.0.0.1:8080",
        "http://localhost:9",
    ] {
        let id = format!("gl{}", endpoint.len());
        ws.ok(
            &[
                "connections",
                "add",
                &id,
                "--provider",
                "gitlab",
                "--endpoint",
                endpoint,
            ],
            "",
        );
    }
}
