//! The `keyward` binary: parses the command line and hands over to the library.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(keyward::cli::main());
}
