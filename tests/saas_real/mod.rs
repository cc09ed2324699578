//! Issue 15: the providers as the real services behave. Each test pins a mismatch between
//! keyward and a service's documented behaviour, against the fakes in `saas_common` that
//! now model it (tests/specs/SOURCES.md names the documentation pages).

mod connections;
mod openai;
mod sendgrid;
mod twilio;
