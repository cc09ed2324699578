//! The command line: clap definitions mapped onto the library.

/// Runs keyward with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    0
}
