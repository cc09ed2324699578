//! Copying a secret to the clipboard of the terminal the person sits at, even over SSH:
//! the OSC 52 escape sequence (`ESC ] 52 ; c ; BASE64 BEL`) asks the terminal emulator to
//! set its clipboard.
//!
//! Inside tmux (`$TMUX` set) the plain sequence reaches the outer terminal only when tmux
//! has `set-clipboard on` (tmux then also keeps it in a paste buffer; the default
//! `external` ignores applications). So the plain sequence is followed by the same sequence
//! wrapped for tmux's DCS passthrough (`ESC P tmux ; …  ESC \`, inner ESCs doubled), which
//! tmux 3.3+ forwards only with `allow-passthrough on` and otherwise drops silently. Either
//! setting is enough; with both, the terminal receives the same value twice.
//!
//! The encoded value is the secret in another form, so it lives in zeroizing buffers.

use base64::Engine;
use zeroize::Zeroizing;

use crate::secret::Secret;

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

/// The bytes that put `secret` on the clipboard; `in_tmux` adds the passthrough copy.
pub fn osc52(secret: &Secret, in_tmux: bool) -> Zeroizing<Vec<u8>> {
    let encoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD.encode(secret.expose_secret().as_bytes()),
    );
    let mut plain = Zeroizing::new(Vec::with_capacity(encoded.len() + 8));
    plain.extend_from_slice(&[ESC, b']']);
    plain.extend_from_slice(b"52;c;");
    plain.extend_from_slice(encoded.as_bytes());
    plain.push(BEL);
    let mut out = Zeroizing::new(Vec::with_capacity(plain.len() * 2 + 16));
    out.extend_from_slice(&plain);
    if in_tmux {
        out.extend_from_slice(&[ESC, b'P']);
        out.extend_from_slice(b"tmux;");
        for &b in plain.iter() {
            if b == ESC {
                out.push(ESC);
            }
            out.push(b);
        }
        out.extend_from_slice(&[ESC, b'\\']);
    }
    out
}

/// Whether this process runs inside tmux.
pub fn in_tmux() -> bool {
    std::env::var_os("TMUX").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_sequence_is_osc_52_with_base64() {
        let seq = osc52(&Secret::new("sk-test-1234"), false);
        assert_eq!(seq.as_slice(), b"\x1b]52;c;c2stdGVzdC0xMjM0\x07");
    }

    #[test]
    fn tmux_adds_a_passthrough_copy_with_doubled_escapes() {
        let seq = osc52(&Secret::new("sk-test-1234"), true);
        let expected: &[u8] =
            b"\x1b]52;c;c2stdGVzdC0xMjM0\x07\x1bPtmux;\x1b\x1b]52;c;c2stdGVzdC0xMjM0\x07\x1b\\";
        assert_eq!(seq.as_slice(), expected);
    }

    #[test]
    fn the_sequence_never_holds_the_secret_in_clear() {
        let seq = osc52(&Secret::new("sk-live-abcdef"), true);
        let text = String::from_utf8_lossy(&seq);
        assert!(!text.contains("sk-live-abcdef"));
    }
}
