//! What ❤️ shows: the private answer to a heart, a page of `/favorites`, and the showcase
//! post's text. Pure: plain data in, text out, unit-tested below.

use super::render::{escape_markdown, message_link};
use crate::app::{FavoritesPage, Hearted};
use crate::db::Task;

/// Characters of a prompt a favourites line shows.
const PROMPT_IN_LIST: usize = 80;
/// Characters of a prompt the showcase post shows.
const PROMPT_IN_SHOWCASE: usize = 1500;

/// The private answer to a ❤️ press.
pub fn hearted_text(h: &Hearted) -> String {
    match h.added {
        true => format!(
            "❤️ Added task {} to your favourites ({} in all). See them with `/favorites`; press ❤️ \
             again to take it out.",
            h.task.id, h.count
        ),
        false => format!("🤍 Took task {} out of your favourites ({} left).", h.task.id, h.count),
    }
}

/// A page of `/favorites`: one line per image, newest heart first, each with a link to its
/// message.
pub fn favorites_text(p: &FavoritesPage) -> String {
    if p.total == 0 {
        return "You have no favourites yet. Press ❤️ under an upscaled image to keep it here.".into();
    }
    let mut out = format!("**Your favourites** ({} in all", p.total);
    if p.pages > 1 {
        out += &format!(", page {} of {}", p.page, p.pages);
    }
    out += ")\n";
    for f in &p.favorites {
        let prompt = short(&prompt_of(&f.task), PROMPT_IN_LIST);
        let at = f.task.finished_at.unwrap_or(f.task.created_at).div_euclid(1000);
        let link = message_link(&f.task).map(|url| format!(" · [open]({url})")).unwrap_or_default();
        out += &format!("`{}` {} · <t:{at}:d>{link}\n", f.task.id, escape_markdown(prompt));
    }
    if p.page < p.pages {
        out += &format!("More: `/favorites page:{}`", p.page + 1);
    }
    out.trim_end().to_string()
}

/// The showcase post: the prompt, who made it and whose heart brought it here (credit
/// without a ping: the post mentions nobody).
pub fn showcase_text(t: &Task, hearted_by: &str) -> String {
    let prompt = short(&prompt_of(t), PROMPT_IN_SHOWCASE);
    let mut out = format!("**{}**\nby <@{}>", escape_markdown(prompt), t.user_id);
    if hearted_by != t.user_id {
        out += &format!(" · ❤️ <@{hearted_by}>");
    }
    out
}

fn prompt_of(t: &Task) -> String {
    let text = t.prompt.canonical();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() { "(no prompt)".into() } else { text }
}

fn short(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", s[..cut].trim_end()),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::{MessageRef, TaskKind, TaskState};
    use crate::db::Favorite;
    use crate::prompt::PromptSpec;

    fn task(id: i64, text: &str) -> Task {
        let mut t = crate::discord::render::tests::task(TaskKind::Upscale { index: 1 }, TaskState::Succeeded);
        t.id = id;
        t.prompt = PromptSpec { text: text.into(), ..PromptSpec::default() };
        t.user_id = "555".into();
        t.guild_id = Some("100".into());
        t.channel_id = Some("200".into());
        t.message = MessageRef { message_id: Some(format!("{}", 900 + id)), ..MessageRef::default() };
        t.finished_at = Some(1_700_000_000_000);
        t
    }

    #[test]
    fn a_heart_says_what_it_did_and_where_to_look() {
        let h = Hearted { task: task(7, "a fox"), added: true, count: 3, showcase: None };
        assert!(hearted_text(&h).contains("Added task 7 to your favourites (3 in all)"));
        let h = Hearted { added: false, count: 2, ..h };
        assert_eq!(hearted_text(&h), "🤍 Took task 7 out of your favourites (2 left).");
    }

    #[test]
    fn the_list_links_each_image_and_offers_the_next_page() {
        let favorites = vec![
            Favorite { task: task(7, "a *fox* in snow"), at: 1 },
            Favorite { task: task(8, &"long ".repeat(40)), at: 2 },
        ];
        let p = FavoritesPage { favorites, page: 1, pages: 3, total: 25 };
        let text = favorites_text(&p);
        assert!(text.starts_with("**Your favourites** (25 in all, page 1 of 3)\n"), "{text}");
        assert!(
            text.contains("`7` a \\*fox\\* in snow · <t:1700000000:d> · [open](https://discord.com/channels/100/200/907)"),
            "{text}"
        );
        assert!(text.contains("long long…"), "long prompts are cut: {text}");
        assert!(text.ends_with("More: `/favorites page:2`"), "{text}");
        assert!(text.chars().count() < 2000);
    }

    #[test]
    fn no_favourites_says_how_to_get_some() {
        let p = FavoritesPage { favorites: vec![], page: 1, pages: 1, total: 0 };
        assert!(favorites_text(&p).contains("Press ❤️ under an upscaled image"));
    }

    #[test]
    fn the_showcase_credits_the_maker_and_the_heart() {
        let t = task(7, "a fox");
        assert_eq!(showcase_text(&t, "777"), "**a fox**\nby <@555> · ❤️ <@777>");
        assert_eq!(showcase_text(&t, "555"), "**a fox**\nby <@555>");
    }
}
