use super::*;
use crate::prompt::{PromptLimits, parse};

fn caps(imagine: bool, variation: bool, max_aspect: f64) -> Capabilities {
    Capabilities { imagine, variation, max_aspect, ..Capabilities::default() }
}

fn cand(name: &str, aliases: &[&str], caps: Capabilities, load: u32) -> Candidate {
    Candidate {
        name: name.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        caps,
        available: true,
        load,
        concurrency: 2,
    }
}

fn spec(prompt: &str) -> PromptSpec {
    parse(prompt, &PromptLimits::default()).unwrap().remove(0)
}

fn pick(cands: &[Candidate], req: Request) -> Result<String, RouteError> {
    choose(cands, &req).map(|r| r.backend)
}

#[test]
fn the_least_busy_capable_backend_wins_and_config_order_breaks_ties() {
    let cands = [cand("a", &[], caps(true, true, 4.0), 3), cand("b", &[], caps(true, true, 4.0), 1)];
    assert_eq!(pick(&cands, Request::default()).unwrap(), "b");
    let even = [cand("a", &[], caps(true, true, 4.0), 1), cand("b", &[], caps(true, true, 4.0), 1)];
    assert_eq!(pick(&even, Request::default()).unwrap(), "a");
}

#[test]
fn load_is_weighed_by_concurrency() {
    let mut big = cand("big", &[], caps(true, true, 4.0), 4);
    big.concurrency = 8;
    let small = cand("small", &[], caps(true, true, 4.0), 2);
    assert_eq!(pick(&[small, big], Request::default()).unwrap(), "big", "4/8 beats 2/2");
}

#[test]
fn unhealthy_backends_are_avoided_but_not_when_nothing_else_can_serve() {
    let mut a = cand("a", &[], caps(true, true, 4.0), 0);
    a.available = false;
    let b = cand("b", &[], caps(true, true, 4.0), 5);
    assert_eq!(pick(&[a.clone(), b], Request::default()).unwrap(), "b");
    assert_eq!(pick(&[a], Request::default()).unwrap(), "a", "queued to wait for recovery, not refused");
}

#[test]
fn capability_filters_and_names_the_operation_when_none_can() {
    let cands = [cand("a", &[], caps(true, false, 4.0), 0), cand("b", &[], caps(true, true, 4.0), 9)];
    let req = Request { want: Some(Want::Variation), ..Request::default() };
    assert_eq!(pick(&cands, req).unwrap(), "b");
    let only_a = [cands[0].clone()];
    let req = Request { want: Some(Want::Blend), ..Request::default() };
    let err = pick(&only_a, req).unwrap_err();
    assert_eq!(err.to_string(), "No backend here can blend.");
}

#[test]
fn an_explicit_model_matches_names_and_aliases_in_any_spelling() {
    let cands = [
        cand("mj", &["v6", "niji 6"], caps(true, true, 4.0), 9),
        cand("sd", &["sdxl"], caps(true, true, 4.0), 0),
    ];
    let route = choose(&cands, &Request { model: Some("Niji6"), ..Request::default() }).unwrap();
    assert_eq!(route, Route { backend: "mj".into(), model: Some("niji6".into()) });
    assert_eq!(pick(&cands, Request { model: Some("sd"), ..Request::default() }).unwrap(), "sd");
    let err = pick(&cands, Request { model: Some("dalle"), ..Request::default() }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "There is no model called `dalle` here. Pick one of: mj, v6, niji 6, sd, sdxl."
    );
}

#[test]
fn version_flags_pick_the_backend_whose_alias_they_name() {
    let cands = [
        cand("sd", &["sdxl"], caps(true, true, 4.0), 0),
        cand("mj", &["v6", "niji 6"], caps(true, true, 4.0), 9),
    ];
    let s = spec("a fox --niji 6");
    let route = choose(&cands, &Request { spec: Some(&s), ..Request::default() }).unwrap();
    assert_eq!(route, Route { backend: "mj".into(), model: Some("niji6".into()) });
    let s = spec("a fox --v 5");
    let err = choose(&cands, &Request { spec: Some(&s), ..Request::default() }).unwrap_err();
    assert!(err.to_string().starts_with("There is no model called `--v 5` here."), "{err}");
}

#[test]
fn an_unmatched_version_goes_to_a_backend_that_understands_the_flag_itself() {
    let mut proxy_caps = caps(true, true, 4.0);
    proxy_caps.params = vec![Param::Version, Param::Niji];
    let cands = [cand("sd", &[], caps(true, true, 4.0), 0), cand("proxy", &[], proxy_caps, 9)];
    let s = spec("a fox --v 5.2");
    let route = choose(&cands, &Request { spec: Some(&s), ..Request::default() }).unwrap();
    assert_eq!(route, Route { backend: "proxy".into(), model: None });
    // No aliases anywhere and nobody understands the flag: it is only ignored.
    let plain = [cand("sd", &[], caps(true, true, 4.0), 0)];
    assert_eq!(pick(&plain, Request { spec: Some(&s), ..Request::default() }).unwrap(), "sd");
}

#[test]
fn aspect_ratios_go_to_backends_that_accept_them() {
    let cands = [cand("narrow", &[], caps(true, true, 1.78), 0), cand("wide", &[], caps(true, true, 4.0), 9)];
    let s = spec("a road --ar 3:1");
    assert_eq!(pick(&cands, Request { spec: Some(&s), ..Request::default() }).unwrap(), "wide");
    let s = spec("a road --ar 16:9");
    assert_eq!(pick(&cands, Request { spec: Some(&s), ..Request::default() }).unwrap(), "narrow");
    let s = spec("a road --ar 3:1");
    let err = pick(&cands[..1], Request { spec: Some(&s), ..Request::default() }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`--ar 3:1` is wider than any backend here accepts (the widest is 1.78:1). Use a less extreme ratio."
    );
}

#[test]
fn children_stay_with_their_parent_unless_it_is_down_and_bound_backends_never_adopt() {
    let mut bound = caps(true, true, 4.0);
    bound.parent_bound = true;
    let cands = [cand("sd", &[], caps(true, true, 4.0), 0), cand("mj", &[], bound, 9)];
    let req =
        |parent| Request { want: Some(Want::Variation), parent_backend: Some(parent), ..Request::default() };
    assert_eq!(pick(&cands, req("mj")).unwrap(), "mj", "the parent's own backend, though busier");
    let mut down = cands.clone();
    down[1].available = false;
    assert_eq!(
        pick(&down, req("mj")).unwrap(),
        "sd",
        "a down parent backend hands over to one that works from the image"
    );
    let sd_down = {
        let mut c = cands.clone();
        c[0].available = false;
        c
    };
    assert_eq!(pick(&sd_down, req("sd")).unwrap(), "sd", "mj cannot act on another service's job");
}

#[test]
fn a_failover_excludes_what_failed_and_keeps_to_the_chosen_model() {
    let cands = [
        cand("mj1", &["v6"], caps(true, true, 4.0), 0),
        cand("sd", &[], caps(true, true, 4.0), 0),
        cand("mj2", &["v6"], caps(true, true, 4.0), 5),
    ];
    let tried = vec!["mj1".to_string()];
    let req = Request { model: Some("v6"), exclude: &tried, ..Request::default() };
    assert_eq!(pick(&cands, req).unwrap(), "mj2");
    let tried = vec!["mj1".to_string(), "mj2".to_string()];
    let req = Request { model: Some("v6"), exclude: &tried, ..Request::default() };
    assert_eq!(pick(&cands, req).unwrap_err(), RouteError::Exhausted);
    let req = Request { exclude: &tried, ..Request::default() };
    assert_eq!(pick(&cands, req).unwrap(), "sd", "without a chosen model any capable backend will do");
}
