//! Shared helpers of the integration tests: the fake services Easel's backends talk to, the
//! end-to-end world, and a DevTools client for the browser test.

// Not every helper is used by every theme's tests.
#[allow(dead_code)]
pub mod cdp;
#[allow(dead_code)]
pub mod fake_a1111;
#[allow(dead_code)]
pub mod fake_comfyui;
#[allow(dead_code)]
pub mod fake_imagineapi;
#[allow(dead_code)]
pub mod fake_mj_proxy;
#[allow(dead_code)]
pub mod fake_ohmygpt;
#[allow(dead_code)]
pub mod fake_openai;
#[allow(dead_code)]
pub mod fake_openjourney;
#[allow(dead_code)]
pub mod fake_opj;
#[allow(dead_code)]
pub mod flows;
#[allow(dead_code)]
pub mod openapi_check;
#[allow(dead_code)]
pub mod postgres;
#[allow(dead_code)]
pub mod raw_bot;
#[allow(dead_code)]
pub mod raw_db;
#[allow(dead_code)]
pub mod world;
