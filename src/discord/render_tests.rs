//! What members see in each state of a task.

use super::*;
use crate::base::{FailureCode, MessageRef};
use crate::prompt::{Aspect, PromptSpec};
use crate::tasks::engine::QueuePlace;

/// A task as the tests of every rendering start from (also the ℹ️ panel's).
pub(crate) fn task(kind: TaskKind, state: TaskState) -> Task {
    let mut prompt = PromptSpec { text: "a lighthouse at dusk".into(), ..PromptSpec::default() };
    prompt.params.aspect = Some(Aspect { w: 3, h: 2 });
    Task {
        id: 12,
        kind,
        state,
        parent_id: None,
        user_id: "555".into(),
        guild_id: None,
        channel_id: None,
        prompt,
        backend: "demo".into(),
        model: None,
        tried_backends: Vec::new(),
        remote_id: None,
        remote_state: None,
        progress: 0,
        seed: 1,
        attempts: 0,
        next_attempt_at: 0,
        deadline_at: 0,
        failure: None,
        output_prompts: vec![],
        notes: vec![],
        input_count: 0,
        message: MessageRef::default(),
        edit: None,
        created_at: 0,
        started_at: None,
        finished_at: None,
        images_removed: None,
        deleted_at: None,
    }
}

fn full_caps() -> RenderContext {
    RenderContext {
        caps: Some(Capabilities { imagine: true, variation: true, ..Capabilities::default() }),
        ..RenderContext::default()
    }
}

fn labels(view: &MessageView) -> Vec<Vec<String>> {
    view.rows
        .iter()
        .map(|r| r.iter().map(|b| b.label.clone().or(b.emoji.clone()).unwrap_or_default()).collect())
        .collect()
}

#[test]
fn a_queued_imagine_waits_to_start() {
    let view = render(&task(TaskKind::Imagine, TaskState::Queued), &full_caps());
    assert_eq!(view.content, "**a lighthouse at dusk --ar 3:2** - <@555> (Waiting to start)");
    assert_eq!(labels(&view), [["Cancel"]]);
    assert_eq!(view.rows[0][0].custom_id, "e1:c:12:0");
    assert_eq!(view.rows[0][0].style, ButtonStyle::Danger);
    assert_eq!(view.attach, Attach::None);
}

#[test]
fn a_waiting_task_shows_its_place_in_line_and_an_estimate() {
    let t = task(TaskKind::Imagine, TaskState::Queued);
    let mut cx = full_caps();
    cx.queue = Some(QueuePlace { place: 3, eta: None });
    assert!(render(&t, &cx).content.ends_with("(Waiting to start: #3 in queue)"));
    cx.queue = Some(QueuePlace { place: 3, eta: Some(std::time::Duration::from_secs(38)) });
    assert!(render(&t, &cx).content.ends_with("(Waiting to start: #3 in queue, ~40 s)"));
    cx.queue = Some(QueuePlace { place: 9, eta: Some(std::time::Duration::from_secs(400)) });
    assert!(render(&t, &cx).content.ends_with("(Waiting to start: #9 in queue, ~7 min)"));
}

#[test]
fn running_tasks_can_be_canceled_and_finished_ones_cannot() {
    let running = render(&task(TaskKind::Imagine, TaskState::Running), &full_caps());
    assert_eq!(labels(&running), [["Cancel"]]);
    for state in [TaskState::Failed, TaskState::Canceled] {
        assert!(render(&task(TaskKind::Imagine, state), &full_caps()).rows.is_empty(), "{state:?}");
    }
    let canceled = render(&task(TaskKind::Imagine, TaskState::Canceled), &full_caps());
    assert!(canceled.content.ends_with("(Canceled)"), "{}", canceled.content);
}

#[test]
fn a_running_task_shows_its_percentage_and_the_preview() {
    let mut t = task(TaskKind::Imagine, TaskState::Running);
    t.progress = 37;
    let mut cx = full_caps();
    assert_eq!(render(&t, &cx).attach, Attach::None);
    cx.has_preview = true;
    let view = render(&t, &cx);
    assert_eq!(view.content, "**a lighthouse at dusk --ar 3:2** - <@555> (37%)");
    assert_eq!(view.attach, Attach::Preview);
}

#[test]
fn a_task_waiting_for_a_retry_says_so() {
    let mut t = task(TaskKind::Imagine, TaskState::Queued);
    t.attempts = 1;
    assert!(render(&t, &full_caps()).content.ends_with("(Waiting to retry)"));
}

#[test]
fn a_finished_grid_has_u_reroll_and_v_buttons_with_used_upscales_green() {
    let t = task(TaskKind::Imagine, TaskState::Succeeded);
    let mut cx = full_caps();
    cx.used_upscales = vec![1];
    let view = render(&t, &cx);
    assert_eq!(view.content, "**a lighthouse at dusk --ar 3:2** - <@555>");
    assert_eq!(view.attach, Attach::Grid);
    assert_eq!(labels(&view), [vec!["U1", "U2", "U3", "U4", "🔄"], vec!["V1", "V2", "V3", "V4", "ℹ️"]]);
    assert_eq!(view.rows[1][4].custom_id, "e1:i:12:0");
    assert_eq!(view.rows[0][1].style, ButtonStyle::Success);
    assert_eq!(view.rows[0][0].style, ButtonStyle::Secondary);
    assert_eq!(view.rows[0][4].custom_id, "e1:r:12:0");
    assert_eq!(view.rows[1][2].custom_id, "e1:vx:12:2");
}

#[test]
fn buttons_follow_what_the_backend_can_do() {
    let t = task(TaskKind::Imagine, TaskState::Succeeded);
    let cx = RenderContext {
        caps: Some(Capabilities { imagine: true, ..Capabilities::default() }),
        ..Default::default()
    };
    assert_eq!(
        labels(&render(&t, &cx)),
        [vec!["U1", "U2", "U3", "U4", "🔄"], vec!["ℹ️"]],
        "no V row without variations; ℹ️ on a row of its own, the first being full"
    );
    let gone = RenderContext::default();
    assert_eq!(labels(&render(&t, &gone)), [["ℹ️"]], "only ℹ️ when the backend is gone");
}

#[test]
fn an_upscale_shows_the_image_number_and_vary_buttons() {
    let t = task(TaskKind::Upscale { index: 1 }, TaskState::Succeeded);
    let view = render(&t, &full_caps());
    assert_eq!(view.content, "**a lighthouse at dusk --ar 3:2** - Image #2 <@555>");
    assert_eq!(view.attach, Attach::Image);
    assert_eq!(labels(&view), [vec!["Vary (Subtle)", "Vary (Strong)", "❤️", "ℹ️"]]);
    assert_eq!(view.rows[0][0].custom_id, "e1:vs:12:0");
    assert_eq!(view.rows[0][1].custom_id, "e1:vx:12:0");
}

#[test]
fn variations_name_their_strength() {
    let t = task(TaskKind::Variation { index: 0, strength: Strength::Subtle }, TaskState::Running);
    assert!(render(&t, &full_caps()).content.contains("- Variations (Subtle) by <@555>"));
}

#[test]
fn a_failure_says_what_happened_with_its_code_and_task_id() {
    let mut t = task(TaskKind::Imagine, TaskState::Failed);
    t.failure = Some((FailureCode::ContentBlocked, "The service refused this prompt:\nviolence.".into()));
    let view = render(&t, &full_caps());
    assert_eq!(
        view.content,
        "**a lighthouse at dusk --ar 3:2** - <@555> (Failed)\n> The service refused this prompt: violence.\n-# content-blocked · task 12"
    );
    assert!(view.rows.is_empty());
}

#[test]
fn notes_are_shown_under_the_result() {
    let mut t = task(TaskKind::Imagine, TaskState::Succeeded);
    t.notes = vec!["Backend `demo` ignores --tile".into()];
    assert!(render(&t, &full_caps()).content.ends_with("\n-# Backend `demo` ignores --tile"));
}

#[test]
fn prompts_cannot_break_the_formatting_or_mention_anyone() {
    let mut t = task(TaskKind::Imagine, TaskState::Queued);
    t.prompt = PromptSpec { text: "**bold** <@123> @everyone `code`".into(), ..PromptSpec::default() };
    let view = render(&t, &full_caps());
    assert!(
        view.content.starts_with(r"**\*\*bold\*\* \<@123> @everyone \`code\`** - <@555>"),
        "{}",
        view.content
    );
}

#[test]
fn masked_links_from_members_and_backends_show_as_text() {
    let link = "[free nitro](https://evil.example/claim)";
    let shown = r"\[free nitro\](https://evil.example/claim)";
    let mut t = task(TaskKind::Imagine, TaskState::Failed);
    t.prompt = PromptSpec { text: format!("a cat {link}"), ..PromptSpec::default() };
    t.failure = Some((FailureCode::BackendError, format!("The service said: {link}")));
    let content = render(&t, &full_caps()).content;
    assert!(content.starts_with(&format!("**a cat {shown}** - <@555>")), "{content}");
    assert!(content.contains(&format!("> The service said: {shown}\n")), "{content}");

    let mut t = blend_or_describe(TaskKind::Describe);
    t.output_prompts = vec![format!("a dog {link}")];
    t.notes = vec![format!("Backend `demo` says {link}")];
    let content = render(&t, &full_caps()).content;
    assert!(content.contains(&format!("1️⃣ a dog {shown}")), "{content}");
    assert!(content.ends_with(&format!("-# Backend `demo` says {shown}")), "{content}");
}

#[test]
fn a_huge_prompt_is_clipped_to_fit_discord() {
    let mut t = task(TaskKind::Imagine, TaskState::Failed);
    t.prompt = PromptSpec { text: "word ".repeat(1200).trim().into(), ..PromptSpec::default() };
    t.failure = Some((FailureCode::Internal, "x".repeat(3000)));
    let view = render(&t, &full_caps());
    assert!(view.content.len() <= 2000, "{}", view.content.len());
    assert!(view.content.contains('…'));
}

fn blend_or_describe(kind: TaskKind) -> Task {
    let mut t = task(kind, TaskState::Succeeded);
    t.prompt = PromptSpec::default();
    t
}

#[test]
fn a_blend_is_titled_by_its_command_and_shows_its_aspect() {
    let caps = RenderContext {
        caps: Some(Capabilities { imagine: true, variation: true, blend: true, ..Capabilities::default() }),
        ..RenderContext::default()
    };
    let square = render(&blend_or_describe(TaskKind::Blend), &caps);
    assert_eq!(square.content, "**/blend** - <@555>");
    assert_eq!(square.attach, Attach::Grid);
    assert_eq!(labels(&square), [vec!["U1", "U2", "U3", "U4", "🔄"], vec!["V1", "V2", "V3", "V4", "ℹ️"]]);
    assert_eq!(square.rows[0][4].custom_id, "e1:r:12:0");

    let mut portrait = blend_or_describe(TaskKind::Blend);
    portrait.prompt.params.aspect = Some(Aspect { w: 2, h: 3 });
    assert_eq!(render(&portrait, &caps).content, "**/blend --ar 2:3** - <@555>");

    // A variation of a blend has no prompt to roll again: no 🔄 there.
    let mut vary = blend_or_describe(TaskKind::Variation { index: 0, strength: Strength::Strong });
    vary.prompt.params.aspect = Some(Aspect { w: 2, h: 3 });
    let view = render(&vary, &caps);
    assert_eq!(view.content, "**/blend --ar 2:3** - Variations (Strong) by <@555>");
    assert_eq!(labels(&view)[0], ["U1", "U2", "U3", "U4"]);
}

#[test]
fn a_blend_on_a_backend_that_cannot_blend_again_has_no_reroll() {
    let view = render(&blend_or_describe(TaskKind::Blend), &full_caps());
    assert_eq!(labels(&view)[0], ["U1", "U2", "U3", "U4"]);
}

#[test]
fn a_describe_lists_four_numbered_prompts_with_a_button_each() {
    let mut t = blend_or_describe(TaskKind::Describe);
    t.output_prompts = vec!["a red *fox*".into(), "b".into(), "c\nd".into(), "e".into()];
    let caps = RenderContext {
        caps: Some(Capabilities { imagine: true, describe: true, ..Capabilities::default() }),
        ..RenderContext::default()
    };
    let view = render(&t, &caps);
    assert_eq!(view.content, "**/describe** - <@555>\n1️⃣ a red \\*fox\\*\n2️⃣ b\n3️⃣ c d\n4️⃣ e");
    assert_eq!(labels(&view), [vec!["1", "2", "3", "4", "🔄"], vec!["Imagine all", "ℹ️"]]);
    assert_eq!(view.rows[1][0].custom_id, "e1:a:12:0");
    let ids: Vec<&str> = view.rows[0].iter().map(|b| b.custom_id.as_str()).collect();
    assert_eq!(ids, ["e1:d:12:0", "e1:d:12:1", "e1:d:12:2", "e1:d:12:3", "e1:r:12:0"]);
    assert_eq!(view.attach, Attach::Input);

    // Waiting, it says so under the same title.
    let mut queued = blend_or_describe(TaskKind::Describe);
    queued.state = TaskState::Queued;
    assert_eq!(render(&queued, &caps).content, "**/describe** - <@555> (Waiting to start)");
}

#[test]
fn describe_buttons_follow_what_the_backend_can_do() {
    let mut t = blend_or_describe(TaskKind::Describe);
    t.output_prompts = vec!["a".into(), "b".into()];
    let only_describe = RenderContext {
        caps: Some(Capabilities { describe: true, ..Capabilities::default() }),
        ..RenderContext::default()
    };
    assert_eq!(labels(&render(&t, &only_describe)), [vec!["🔄", "ℹ️"]], "no Imagine all without imagine");
    let only_imagine = full_caps();
    assert_eq!(labels(&render(&t, &only_imagine)), [vec!["1", "2"], vec!["Imagine all", "ℹ️"]]);
    assert_eq!(labels(&render(&t, &RenderContext::default())), [["ℹ️"]]);
    t.output_prompts.truncate(1);
    assert_eq!(labels(&render(&t, &only_imagine)), [vec!["1", "ℹ️"]], "one prompt: nothing to do all of");
}

#[test]
fn long_described_prompts_still_fit_in_one_message() {
    let mut t = blend_or_describe(TaskKind::Describe);
    t.output_prompts = vec!["word ".repeat(400); 4];
    let view = render(&t, &full_caps());
    assert!(view.content.len() <= 2000, "{}", view.content.len());
    assert_eq!(view.content.matches('…').count(), 4);
}

#[test]
fn every_result_fits_discords_button_limits() {
    let kinds = [
        TaskKind::Imagine,
        TaskKind::Reroll,
        TaskKind::Blend,
        TaskKind::Describe,
        TaskKind::Upscale { index: 0 },
        TaskKind::Variation { index: 1, strength: Strength::Strong },
        TaskKind::Edit { index: 0, action: EditAction::ZoomOut2x },
        TaskKind::Upscale2x { index: 0, mode: UpscaleMode::Creative },
    ];
    let all = Capabilities {
        imagine: true,
        variation: true,
        blend: true,
        describe: true,
        outpaint: true,
        inpaint: true,
        upscale_subtle: true,
        upscale_creative: true,
        ..Capabilities::default()
    };
    for kind in kinds {
        let mut t = task(kind, TaskState::Succeeded);
        t.output_prompts = vec!["a".into(), "b".into(), "c".into(), "d".into()];
        let view = render(
            &t,
            &RenderContext {
                caps: Some(all.clone()),
                image_size: Some((768, 512)),
                ..RenderContext::default()
            },
        );
        assert!(
            view.rows.len() <= 5 && view.rows.iter().all(|r| r.len() <= 5),
            "{kind:?}: {:?}",
            labels(&view)
        );
        let info = view.rows.iter().flatten().filter(|b| b.custom_id == "e1:i:12:0").count();
        assert_eq!(info, 1, "{kind:?}: one ℹ️");
        let hearts = view.rows.iter().flatten().filter(|b| b.custom_id == "e1:h:12:0").count();
        let single = matches!(kind, TaskKind::Upscale { .. } | TaskKind::Upscale2x { .. });
        assert_eq!(hearts, usize::from(single), "{kind:?}: ❤️ only on single images");
    }
}

fn edit_caps(size: (u32, u32)) -> RenderContext {
    RenderContext {
        caps: Some(Capabilities {
            imagine: true,
            variation: true,
            outpaint: true,
            inpaint: true,
            upscale_subtle: true,
            upscale_creative: true,
            ..Capabilities::default()
        }),
        image_size: Some(size),
        ..RenderContext::default()
    }
}

#[test]
fn after_u_the_rows_are_midjourneys() {
    let view = render(&task(TaskKind::Upscale { index: 1 }, TaskState::Succeeded), &edit_caps((768, 512)));
    assert_eq!(
        labels(&view),
        [
            vec!["Upscale (Subtle)", "Upscale (Creative)", "Vary (Subtle)", "Vary (Strong)", "Vary (Region)"],
            vec!["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom", "Make Square"],
            vec!["⬅️", "➡️", "⬆️", "⬇️"],
            vec!["❤️", "ℹ️"],
        ]
    );
    assert_eq!(view.rows[1][0].custom_id, "e1:z2:12:0");
    assert_eq!(view.rows[2][1].custom_id, "e1:pr:12:0");
}

#[test]
fn make_square_only_on_non_square_images_and_only_what_the_backend_serves() {
    let view = render(&task(TaskKind::Upscale { index: 0 }, TaskState::Succeeded), &edit_caps((512, 512)));
    assert_eq!(labels(&view)[1], ["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom"]);
    let mut cx = edit_caps((512, 768));
    if let Some(c) = cx.caps.as_mut() {
        c.outpaint = false;
        c.upscale_creative = false;
    }
    let view = render(&task(TaskKind::Upscale { index: 0 }, TaskState::Succeeded), &cx);
    assert_eq!(
        labels(&view),
        [vec!["Upscale (Subtle)", "Vary (Subtle)", "Vary (Strong)", "Vary (Region)"], vec!["❤️", "ℹ️"]]
    );
}

#[test]
fn an_edit_is_a_grid_titled_by_its_button() {
    let kind = TaskKind::Edit { index: 0, action: EditAction::ZoomOut2x };
    let view = render(&task(kind, TaskState::Succeeded), &edit_caps((512, 512)));
    assert!(view.content.ends_with("- Zoom Out by <@555>"), "{}", view.content);
    assert_eq!(view.attach, Attach::Grid);
    assert_eq!(labels(&view)[0], ["U1", "U2", "U3", "U4", "🔄"]);
}
