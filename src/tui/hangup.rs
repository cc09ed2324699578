//! Noticing that the terminal went away (a dropped `ssh -t`, `tmux kill-session`): the
//! kernel hangs up the tty, and from then on every read of it returns end-of-file at once.
//!
//! crossterm's key reader does not treat end-of-file as an end: its read loop retries the
//! empty read forever, inside `event::poll`, at full speed — a core burnt per dropped
//! session, and a reader thread that never comes back to check whether it should stop.
//! So the hang-up is watched for here, on a thread of its own that costs nothing while it
//! waits: `poll(2)` asking for no events at all on standard input still reports `POLLHUP`
//! (and `POLLERR`/`POLLNVAL`), and only those. When it comes, standard input is replaced by
//! the read end of a pipe nobody writes to, so crossterm's next read blocks instead of
//! spinning, and the dashboard is told to close.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;
use std::thread;

use rustix::event::{poll, PollFd, PollFlags};

/// The write end of the pipe that replaced standard input after a hang-up. Kept open for
/// the life of the process: with no writer left, reads would return end-of-file again.
static SILENT_STDIN_WRITER: OnceLock<OwnedFd> = OnceLock::new();

/// A thread waiting for the terminal to hang up; stopped with [`HangupWatch::stop`].
pub struct HangupWatch {
    /// Dropping it wakes the thread (its `poll` sees the pipe's other end close).
    wake: OwnedFd,
    thread: thread::JoinHandle<()>,
}

impl HangupWatch {
    /// Starts watching standard input; `on_hangup` runs once, on the watching thread, when
    /// the terminal hangs up.
    pub fn spawn(on_hangup: impl FnOnce() + Send + 'static) -> std::io::Result<HangupWatch> {
        let (wake_read, wake) = rustix::pipe::pipe()?;
        let thread = thread::Builder::new()
            .name("keyward-hangup".into())
            .spawn(move || {
                if wait_for_hangup(&wake_read) {
                    silence_stdin();
                    on_hangup();
                }
            })?;
        Ok(HangupWatch { wake, thread })
    }

    /// Stops watching and waits for the thread, which returns at once.
    pub fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}

/// Blocks until standard input hangs up (`true`) or `wake` is closed (`false`).
fn wait_for_hangup(wake: &OwnedFd) -> bool {
    let stdin = rustix::stdio::stdin();
    let ended = PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL;
    loop {
        // No events asked for on stdin: a live terminal with keys waiting does not wake
        // this thread, only its end does.
        let mut fds = [
            PollFd::new(&stdin, PollFlags::empty()),
            PollFd::new(wake, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            // Cannot watch (should not happen): the key reader's own errors still end the
            // dashboard, so give up watching rather than spin on a failing poll.
            Err(_) => return false,
        }
        if fds[0].revents().intersects(ended) {
            return true;
        }
        if !fds[1].revents().is_empty() {
            return false;
        }
    }
}

/// Puts a pipe that never delivers anything where the hung-up terminal was, so a reader
/// still looping on standard input blocks instead of reading end-of-file forever.
fn silence_stdin() {
    let Ok((read, write)) = rustix::pipe::pipe() else {
        return;
    };
    if rustix::stdio::dup2_stdin(read.as_fd()).is_ok() {
        let _ = SILENT_STDIN_WRITER.set(write);
    }
}
