// The message list: each sandbox message drawn the way Discord draws it, kept in step with the
// sandbox by rebuilding only the messages that changed. A message whose new version brings new
// images keeps showing the old one until they have loaded, so a progress preview that updates
// every second swaps in place instead of blinking.

import { el, emoji, plainText, renderMarkdown } from './markdown.js';

const STYLE = { 1: 'primary', 2: 'secondary', 3: 'success', 4: 'danger', 5: 'secondary', 6: 'primary' };
const IMAGE_TYPES = /^image\/(png|jpe?g|gif|webp)/;
/** Discord shows an image at most this big; small ones are enlarged a little so they read. */
const MAX_IMAGE = 550;
const MIN_IMAGE = 400;
const EYE =
  '<svg viewBox="0 0 24 24" width="16" height="16"><path fill="currentColor" d="M12 5C5.6 5 2 12 2 12s3.6 7 ' +
  '10 7 10-7 10-7-3.6-7-10-7zm0 11.5a4.5 4.5 0 1 1 0-9 4.5 4.5 0 0 1 0 9zm0-2.5a2 2 0 1 0 0-4 2 2 0 0 0 0 4z"/></svg>';

/** A stable colour and initial for a member without an avatar. */
export function avatar(user, size = '') {
  const node = el('span', `avatar ${size}`.trim());
  node.setAttribute('aria-hidden', 'true');
  if (user?.bot) {
    const img = el('img');
    img.src = '/ui/easel.svg';
    img.alt = '';
    node.append(img);
    return node;
  }
  const name = user?.name ?? '?';
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  node.classList.add(`c${hash % 8}`);
  // Drawn by CSS, so the initial is not part of the text around it ("alice used /imagine").
  node.dataset.initial = name.charAt(0).toUpperCase();
  return node;
}

/** Attachment URLs name the sandbox's address; a path keeps them same-origin however it was opened. */
export function localUrl(url) {
  try {
    const u = new URL(url, location.href);
    return u.origin === location.origin || u.hostname === '127.0.0.1' || u.hostname === 'localhost'
      ? u.pathname + u.search
      : url;
  } catch {
    return url;
  }
}

export class MessageList {
  /**
   * `hooks`: `click(message, button)`, `dismiss(messageId)`, `dismissPending(interactionId)`,
   * `openImage(src, alt)`.
   */
  constructor(list, scroller, hooks) {
    this.list = list;
    this.scroller = scroller;
    this.hooks = hooks;
    /** id → {el, sig, gen} */
    this.entries = new Map();
    /** Image URLs the browser already holds. */
    this.loaded = new Set();
    // Like Discord, the list follows new messages while the member is at the bottom, however
    // the content grows: a new message, an image, the error line under the box.
    this.pinned = true;
    scroller.addEventListener('scroll', () => (this.pinned = this.atBottom()));
    const follow = new ResizeObserver(() => this.pinned && this.toBottom());
    follow.observe(scroller);
    follow.observe(list);
  }

  /**
   * Shows `messages` (already filtered to what the member sees) then `pending` commands.
   * `cx` carries what drawing needs: users, the member, interactions, busy buttons and errors.
   */
  update(messages, pending, cx) {
    const wanted = [];
    const items = [
      ...messages.map((m) => ({ key: m.id, sig: signature(m, cx), build: () => this.build(m, cx) })),
      ...pending.map((p) => ({
        key: `pending-${p.id}`,
        sig: JSON.stringify(p),
        build: () => this.buildPending(p, cx),
      })),
    ];
    for (const item of items) {
      let entry = this.entries.get(item.key);
      if (!entry) {
        entry = { el: item.build(), sig: item.sig, gen: 0 };
        this.entries.set(item.key, entry);
      } else if (entry.sig !== item.sig) {
        entry.sig = item.sig;
        this.replace(entry, item.build());
      }
      wanted.push(entry.el);
    }
    const keep = new Set(items.map((i) => i.key));
    for (const [key, entry] of this.entries) {
      if (!keep.has(key)) {
        entry.el.remove();
        this.entries.delete(key);
      }
    }
    wanted.forEach((node, i) => {
      if (this.list.children[i] !== node) this.list.insertBefore(node, this.list.children[i] ?? null);
    });
  }

  /** Swaps a message's element for a new build once the new build's images are ready. */
  replace(entry, next) {
    const gen = ++entry.gen;
    const fresh = [...next.querySelectorAll('img[data-src]')].filter((img) => !this.loaded.has(img.dataset.src));
    const swap = () => {
      if (entry.gen !== gen) return;
      // A keyboard user who just pressed a button keeps the focus on it in the new version.
      const focused = entry.el.contains(document.activeElement) ? document.activeElement.dataset.customId : null;
      entry.el.replaceWith(next);
      entry.el = next;
      if (focused) next.querySelector(`[data-custom-id="${CSS.escape(focused)}"]`)?.focus();
    };
    if (!fresh.length) return swap();
    const ready = fresh.map((img) => preload(img.dataset.src).then(() => this.loaded.add(img.dataset.src)));
    // A preview that fails to load must not hold back the rest of the message.
    Promise.all(ready).then(swap, swap);
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  toBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** Scrolls to a message and makes it glow, as Discord does when you jump to a reply. */
  jumpTo(id) {
    const node = this.entries.get(id)?.el;
    if (!node) return;
    node.scrollIntoView({ block: 'center', behavior: 'smooth' });
    node.classList.remove('flash');
    void node.offsetWidth;
    node.classList.add('flash');
  }

  build(m, cx) {
    const author = cx.users.get(m.author_id) ?? { name: 'Unknown', bot: false };
    let mentionsMe = false;
    const md = { ...cx.markdown, onMentionMe: () => (mentionsMe = true) };

    const li = el('li', 'message');
    li.id = `message-${m.id}`;
    li.dataset.id = m.id;
    const record = m.interaction_id ? cx.interactions.get(m.interaction_id) : null;
    if (record) li.append(this.context(record, cx));
    li.append(avatar(author));

    const body = el('div', 'body');
    const meta = el('h3', 'meta');
    meta.append(el('span', 'author', author.name));
    if (author.bot) meta.append(el('span', 'app-tag', 'App'));
    const time = el('time', null, cx.timeOf(m));
    time.dateTime = cx.dateOf(m).toISOString();
    meta.append(time);
    body.append(meta);

    const content = el('div', 'content');
    if (m.loading) {
      const thinking = el('span', 'thinking');
      const dots = el('span', 'dots');
      dots.append(el('i'), el('i'), el('i'));
      thinking.append(dots, `${author.name} is thinking…`);
      content.append(thinking);
    } else if (m.content) {
      content.append(renderMarkdown(m.content, md));
    }
    body.append(content);

    if (m.attachments.length) body.append(this.attachments(m, cx));
    for (const e of m.embeds) body.append(embed(e, md));
    if (m.components.length) body.append(this.components(m, cx));

    const error = cx.clickErrors.get(m.id);
    if (error) {
      const p = el('p', 'interaction-error', error);
      p.setAttribute('role', 'alert');
      body.append(p);
    }
    if (m.ephemeral_for) body.append(this.ephemeralNote(() => this.hooks.dismiss(m.id)));
    li.append(body);

    li.classList.toggle('ephemeral', Boolean(m.ephemeral_for));
    li.classList.toggle('mentioned', mentionsMe);
    return li;
  }

  /** A command that was sent but that no message answers yet (or ever). */
  buildPending(p, cx) {
    const li = el('li', 'message pending');
    li.append(this.context({ user_id: p.user, kind: { type: 'command', name: p.command } }, cx));
    const bot = cx.users.get(cx.botId) ?? { name: 'Easel', bot: true };
    li.append(avatar(bot));
    const body = el('div', 'body');
    const meta = el('h3', 'meta');
    meta.append(el('span', 'author', bot.name), el('span', 'app-tag', 'App'));
    body.append(meta);
    const content = el('div', 'content');
    if (p.state === 'sending') {
      content.append('Sending command…');
    } else {
      const text = p.state === 'modal'
        ? `${bot.name} opened a form, which this page cannot show yet.`
        : 'The application did not respond';
      const note = el('span', 'no-response', text);
      note.setAttribute('role', 'alert');
      content.append(note);
    }
    body.append(content);
    if (p.state !== 'sending') body.append(this.ephemeralNote(() => this.hooks.dismissPending(p.id)));
    li.append(body);
    li.classList.add('ephemeral');
    return li;
  }

  /** "alice used /imagine" for a command; a reply line to the clicked message for a button. */
  context(record, cx) {
    const line = el('div', 'context');
    const who = cx.users.get(record.user_id) ?? { name: 'someone' };
    if (record.kind.type === 'component') {
      const source = cx.messageById(record.kind.message_id);
      const button = el('button', 'reply-to');
      button.type = 'button';
      button.title = 'Jump to the message';
      const author = source ? (cx.users.get(source.author_id) ?? { name: 'Unknown' }) : null;
      if (author) button.append(avatar(author, 'tiny'), el('span', 'who', `@${author.name}`));
      const snippet = source
        ? plainText(source.content, cx.markdown) || 'Click to see attachment'
        : 'Original message was deleted';
      button.append(el('span', 'snippet', snippet));
      button.setAttribute('aria-label', `Reply to ${author ? author.name : 'a deleted message'}: ${snippet}`);
      button.addEventListener('click', () => this.jumpTo(record.kind.message_id));
      line.append(button);
    } else {
      const command = el('span', 'cmd', `/${record.kind.name}`);
      line.append(avatar(who, 'tiny'), el('span', 'who', who.name), ' used ', command);
    }
    return line;
  }

  attachments(m, cx) {
    const box = el('div', 'attachments');
    const alt = plainText(m.content ?? '', cx.markdown);
    for (const a of m.attachments) {
      const src = localUrl(a.url);
      if (IMAGE_TYPES.test(a.content_type ?? '') || /\.(png|jpe?g|gif|webp)$/i.test(a.filename)) {
        const text = a.description || (alt ? `${alt} (${a.filename})` : a.filename);
        const open = el('button', 'image-link');
        open.type = 'button';
        open.title = 'Open the full-size image';
        const img = el('img', 'attachment');
        img.alt = text;
        img.dataset.src = src;
        img.addEventListener('load', () => {
          img.dataset.loaded = '';
          this.loaded.add(src);
        });
        img.src = src;
        if (a.width && a.height) {
          img.width = a.width;
          img.height = a.height;
          let w = Math.min(MAX_IMAGE, Math.max(a.width, MIN_IMAGE));
          w = Math.min(w, (MAX_IMAGE * a.width) / a.height);
          open.style.width = `${Math.round(w)}px`;
        }
        open.append(img);
        open.addEventListener('click', () => this.hooks.openImage(src, text));
        box.append(open);
      } else {
        const file = el('div', 'file');
        const link = el('a', null, a.filename);
        link.href = src;
        link.download = a.filename;
        const text = el('div');
        text.append(link, el('div', 'size', size(a.size)));
        file.append(el('span', null, '📄'), text);
        box.append(file);
      }
    }
    return box;
  }

  components(m, cx) {
    const box = el('div', 'components');
    for (const row of m.components) {
      const line = el('div', 'row');
      for (const b of row.buttons) line.append(this.button(m, b, cx));
      for (const other of row.others) {
        const note = el('div', 'select-placeholder', other.placeholder || 'Make a selection');
        note.title = 'Select menus are shown but not yet usable in the sandbox page';
        note.setAttribute('aria-disabled', 'true');
        line.append(note);
      }
      box.append(line);
    }
    return box;
  }

  button(m, b, cx) {
    const style = STYLE[b.style] ?? 'secondary';
    const parts = [];
    if (b.emoji) parts.push(emoji(b.emoji));
    if (b.label) parts.push(el('span', 'label', b.label));
    if (b.style === 5 && b.url) {
      const a = el('a', `btn ${style}`);
      a.href = b.url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.append(...parts, el('span', null, '↗'));
      return a;
    }
    const button = el('button', `btn ${style}`);
    button.type = 'button';
    button.append(...parts);
    if (!b.label) {
      button.classList.add('icon-only');
      button.setAttribute('aria-label', b.emoji?.name === '🔄' ? 'Reroll (🔄)' : (b.emoji?.name ?? 'Button'));
    }
    button.disabled = b.disabled;
    if (cx.busy.get(m.id) === b.custom_id) {
      button.classList.add('busy');
      button.setAttribute('aria-busy', 'true');
    }
    button.dataset.customId = b.custom_id ?? '';
    button.addEventListener('click', () => this.hooks.click(m, b));
    return button;
  }

  ephemeralNote(dismiss) {
    const note = el('div', 'ephemeral-note');
    const eye = el('span', 'eye');
    eye.setAttribute('aria-hidden', 'true');
    // A fixed icon from this file, never data from the sandbox.
    eye.innerHTML = EYE;
    const button = el('button', null, 'Dismiss message');
    button.type = 'button';
    button.addEventListener('click', dismiss);
    note.append(eye, 'Only you can see this • ', button);
    return note;
  }
}

/** What a message's drawing depends on; the message is rebuilt only when this changes. */
function signature(m, cx) {
  const record = m.interaction_id ? cx.interactions.get(m.interaction_id) : null;
  const source = record?.kind.type === 'component' ? cx.messageById(record.kind.message_id)?.content : null;
  return JSON.stringify([
    m, Boolean(record), source, cx.busy.get(m.id), cx.clickErrors.get(m.id), cx.me, cx.usersVersion,
  ]);
}

function embed(e, md) {
  const box = el('article', 'embed');
  if (Number.isInteger(e.color)) box.style.borderLeftColor = `#${e.color.toString(16).padStart(6, '0')}`;
  if (e.author?.name) box.append(el('div', 'embed-author', e.author.name));
  if (e.title) {
    const title = el('div', 'embed-title');
    title.append(renderMarkdown(e.title, md));
    box.append(title);
  }
  if (e.description) {
    const d = el('div', 'content');
    d.append(renderMarkdown(e.description, md));
    box.append(d);
  }
  if (e.fields?.length) {
    const grid = el('div', 'embed-fields');
    for (const f of e.fields) {
      const field = el('div', f.inline ? 'embed-field inline' : 'embed-field');
      const value = el('div', 'content');
      value.append(renderMarkdown(String(f.value ?? ''), md));
      field.append(el('div', 'embed-field-name', f.name), value);
      grid.append(field);
    }
    box.append(grid);
  }
  for (const key of ['image', 'thumbnail']) {
    if (!e[key]?.url) continue;
    const img = el('img');
    img.src = localUrl(e[key].url);
    img.alt = e.title ? `${e.title} (${key})` : `Embedded ${key}`;
    box.append(img);
  }
  if (e.footer?.text) box.append(el('div', 'embed-footer', e.footer.text));
  return box;
}

function preload(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = resolve;
    img.onerror = reject;
    img.src = src;
  });
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}
