//! Shared helpers of the integration tests: the fake services Easel's backends talk to.

// Each test binary compiles all of `support` but uses only its own fake.
#[allow(dead_code)]
pub mod fake_openai;
#[allow(dead_code)]
pub mod world;
