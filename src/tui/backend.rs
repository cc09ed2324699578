//! A terminal backend that writes colours in the classic 16-colour SGR form (`31`, `91`,
//! `42`…) instead of crossterm's 256-colour form (`38;5;1`): a terminal that knows only
//! the 16 ANSI colours (an old console, a minimal SSH client) then still understands every
//! style, and each colour is the one the person's own palette defines. Everything but
//! drawing is delegated to ratatui's crossterm backend.

use std::io::{self, Write};

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::crossterm::cursor::MoveTo;
use ratatui::crossterm::queue;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};

/// Draws with 16-colour SGR sequences; see the module docs.
pub struct Ansi16Backend<W: Write> {
    inner: CrosstermBackend<W>,
    /// The terminal went away: output is dropped instead of failing.
    detached: bool,
}

impl<W: Write> Ansi16Backend<W> {
    /// A backend writing to `writer`.
    pub fn new(writer: W) -> Self {
        Ansi16Backend {
            inner: CrosstermBackend::new(writer),
            detached: false,
        }
    }

    /// The terminal is gone (hung up): from now on output is discarded and succeeds.
    /// ratatui's `Terminal`, when dropped, shows the cursor and reports a failure with
    /// `eprintln!`, which panics when stderr is that same dead terminal.
    pub fn detach(&mut self) {
        self.detached = true;
    }
}

impl<W: Write> Write for Ansi16Backend<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.detached {
            return Ok(buf.len());
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.detached {
            return Ok(());
        }
        Write::flush(&mut self.inner)
    }
}

/// The SGR parameter setting `color` as foreground (`background` false) or background.
fn color_code(color: Color, background: bool) -> String {
    let base = |n: u8| {
        let n = if background { n + 10 } else { n };
        n.to_string()
    };
    match color {
        Color::Reset => base(39),
        Color::Black => base(30),
        Color::Red => base(31),
        Color::Green => base(32),
        Color::Yellow => base(33),
        Color::Blue => base(34),
        Color::Magenta => base(35),
        Color::Cyan => base(36),
        Color::Gray => base(37),
        Color::DarkGray => base(90),
        Color::LightRed => base(91),
        Color::LightGreen => base(92),
        Color::LightYellow => base(93),
        Color::LightBlue => base(94),
        Color::LightMagenta => base(95),
        Color::LightCyan => base(96),
        Color::White => base(97),
        // Never produced by the theme; passed on in the only form that expresses them.
        Color::Indexed(i) => format!("{};5;{i}", if background { 48 } else { 38 }),
        Color::Rgb(r, g, b) => format!("{};2;{r};{g};{b}", if background { 48 } else { 38 }),
    }
}

/// One SGR sequence that resets, then sets `fg`, `bg` and `modifier` in full.
pub fn sgr(fg: Color, bg: Color, modifier: Modifier) -> String {
    let mut params = vec!["0".to_string()];
    for (flag, code) in [
        (Modifier::BOLD, "1"),
        (Modifier::DIM, "2"),
        (Modifier::ITALIC, "3"),
        (Modifier::UNDERLINED, "4"),
        (Modifier::SLOW_BLINK, "5"),
        (Modifier::RAPID_BLINK, "6"),
        (Modifier::REVERSED, "7"),
        (Modifier::HIDDEN, "8"),
        (Modifier::CROSSED_OUT, "9"),
    ] {
        if modifier.contains(flag) {
            params.push(code.to_string());
        }
    }
    if fg != Color::Reset {
        params.push(color_code(fg, false));
    }
    if bg != Color::Reset {
        params.push(color_code(bg, true));
    }
    format!("\x1b[{}m", params.join(";"))
}

impl<W: Write> Backend for Ansi16Backend<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        if self.detached {
            return Ok(());
        }
        let mut style: Option<(Color, Color, Modifier)> = None;
        let mut last: Option<(u16, u16)> = None;
        for (x, y, cell) in content {
            if !matches!(last, Some((px, py)) if x == px.wrapping_add(1) && y == py) {
                queue!(self.inner, MoveTo(x, y))?;
            }
            last = Some((x, y));
            let next = (cell.fg, cell.bg, cell.modifier);
            if style != Some(next) {
                self.inner
                    .write_all(sgr(cell.fg, cell.bg, cell.modifier).as_bytes())?;
                style = Some(next);
            }
            self.inner.write_all(cell.symbol().as_bytes())?;
        }
        self.inner.write_all(b"\x1b[0m")
    }

    fn append_lines(&mut self, n: u16) -> io::Result<()> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        if self.detached {
            return Ok(());
        }
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        if self.detached {
            return Ok(());
        }
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> io::Result<()> {
        if self.detached {
            return Ok(());
        }
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.detached {
            return Ok(());
        }
        Backend::flush(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_use_the_classic_16_colour_codes() {
        assert_eq!(
            sgr(Color::Red, Color::Reset, Modifier::empty()),
            "\x1b[0;31m"
        );
        assert_eq!(
            sgr(Color::LightCyan, Color::Blue, Modifier::BOLD),
            "\x1b[0;1;96;44m"
        );
        assert_eq!(
            sgr(
                Color::Reset,
                Color::Reset,
                Modifier::DIM | Modifier::REVERSED
            ),
            "\x1b[0;2;7m"
        );
    }

    #[test]
    fn draw_writes_positions_styles_and_text() {
        let mut out = Vec::new();
        {
            let mut b = Ansi16Backend::new(&mut out);
            let mut red = Cell::new("a");
            red.fg = Color::Red;
            let plain = Cell::new("b");
            let cells = [(0, 0, &red), (1, 0, &red), (5, 1, &plain)];
            b.draw(cells.into_iter()).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "\x1b[1;1H\x1b[0;31maa\x1b[2;6H\x1b[0mb\x1b[0m");
    }

    /// A writer standing for a hung-up terminal: every write fails like one.
    struct DeadTerminal;

    impl Write for DeadTerminal {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(5))
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(5))
        }
    }

    #[test]
    fn a_detached_backend_on_a_dead_terminal_neither_fails_nor_writes() {
        let mut b = Ansi16Backend::new(DeadTerminal);
        assert!(b.show_cursor().is_err(), "the dead terminal fails like one");
        b.detach();
        b.show_cursor().unwrap();
        b.hide_cursor().unwrap();
        b.clear().unwrap();
        b.draw(std::iter::once((0, 0, &Cell::new("a")))).unwrap();
        Backend::flush(&mut b).unwrap();
        assert_eq!(b.write(b"xy").unwrap(), 2);
    }
}
