// The sandbox page: keeps a copy of the sandbox's state, redraws when the `/control/wait` long
// poll says it changed (never on a timer), and acts as the member picked in the switcher.

import { api, politely } from './api.js';
import { Composer } from './composer.js';
import { el, emoji } from './markdown.js';
import { MessageList, avatar } from './messages.js';

/** Pretend members every sandbox page starts with, so a queue shared by several can be seen. */
const DEFAULT_MEMBERS = ['alice', 'bob', 'carol'];
const MEMBER_KEY = 'easel-sandbox.member';
const DISMISSED_KEY = 'easel-sandbox.dismissed';
/** How long a long poll may hang; the server caps it at 60 s. */
const WAIT_MS = 25_000;
/** Discord's window for a first answer: a command nobody answered by then "did not respond". */
const RESPONSE_DEADLINE_MS = 3_500;

const $ = (id) => document.getElementById(id);

const app = {
  state: null,
  version: 0,
  /** When `state` arrived, to place the sandbox clock's times on the wall clock. */
  fetchedAt: 0,
  users: new Map(),
  /** The users as last read, to notice a change; `usersVersion` counts them for redraws. */
  usersJson: '',
  usersVersion: 0,
  memberName: localStorage.getItem(MEMBER_KEY) || DEFAULT_MEMBERS[0],
  /** Interaction records by id; what this page needs from them never changes once known. */
  interactions: new Map(),
  fetching: new Set(),
  /** Commands sent that no message answers yet: interaction id → {id, user, command, state}. */
  pending: new Map(),
  busy: new Map(),
  clickErrors: new Map(),
  dismissed: new Set(JSON.parse(sessionStorage.getItem(DISMISSED_KEY) || '[]')),
  /** First time each message was seen, on the wall clock. */
  dates: new Map(),
  /** What the member list and the violations list were last drawn from. */
  membersKey: '',
  violationsShown: -1,
};

const list = new MessageList($('message-list'), $('scroller'), {
  click: press,
  dismiss(id) {
    app.dismissed.add(id);
    sessionStorage.setItem(DISMISSED_KEY, JSON.stringify([...app.dismissed]));
    render();
  },
  dismissPending(id) {
    app.pending.delete(id);
    render();
  },
  openImage,
});

const composer = new Composer({
  send: sendCommand,
  upload: (file) => api.upload(file),
  members: () => members().map((u) => ({ id: u.id, name: u.name })),
});

function members() {
  return (app.state?.users ?? []).filter((u) => !u.bot);
}

function me() {
  return members().find((u) => u.name === app.memberName) ?? null;
}

function bot() {
  return app.users.get(app.state?.bot_user_id) ?? { name: 'Easel', bot: true };
}

// Talking to the sandbox.

async function refresh() {
  const state = await api.state();
  app.state = state;
  app.version = state.version;
  app.fetchedAt = Date.now();
  const users = JSON.stringify(state.users);
  if (users !== app.usersJson) {
    app.usersJson = users;
    app.users = new Map(state.users.map((u) => [u.id, u]));
    app.usersVersion++;
  }
}

/** Creates the default members and the remembered one if this sandbox does not have them yet. */
async function ensureMembers() {
  const have = new Set(members().map((u) => u.name));
  const wanted = [...new Set([...DEFAULT_MEMBERS, app.memberName])].filter((n) => !have.has(n));
  if (!wanted.length) return;
  for (const name of wanted) await api.addUser(name);
  await refresh();
}

async function live() {
  let backoff = 500;
  for (;;) {
    try {
      const { version } = await api.wait(app.version, WAIT_MS);
      // A lower version means the sandbox was restarted: everything must be read again.
      if (version !== app.version) {
        await refresh();
        if (!me()) await ensureMembers();
        render();
      }
      backoff = 500;
      setBanner();
    } catch (e) {
      setBanner(`${politely(e)} Trying again…`, true);
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
  }
}

async function sendCommand(command, options) {
  const member = me();
  if (!member) throw new Error('Pick a member to act as first (bottom left).');
  try {
    const { interaction_id: id } = await api.slash(member.id, command, options);
    // Like Discord, sending brings the member back to the newest messages.
    list.pinned = true;
    list.toBottom();
    app.pending.set(id, { id, user: member.id, command, state: 'sending' });
    setTimeout(() => checkAnswered(id), RESPONSE_DEADLINE_MS);
    render();
  } catch (e) {
    throw new Error(`Couldn't send /${command}: ${politely(e)}`);
  }
}

/** Past Discord's deadline: either the bot answered without a message (a modal) or it did not. */
async function checkAnswered(id) {
  const pending = app.pending.get(id);
  if (!pending) return;
  let record = null;
  try {
    record = await api.interaction(id);
  } catch {
    // Unknown: say nothing rather than something wrong.
  }
  if (!app.pending.has(id)) return;
  if (record?.callback?.kind === 9) pending.state = 'modal';
  else if (record?.callback) app.pending.delete(id);
  else pending.state = 'failed';
  render();
}

async function press(message, button) {
  const member = me();
  if (!member || app.busy.has(message.id)) return;
  app.busy.set(message.id, button.custom_id);
  app.clickErrors.delete(message.id);
  render();
  try {
    await api.click(member.id, message.id, button.custom_id);
  } catch (e) {
    const name = button.label ?? button.emoji?.name ?? 'that button';
    app.clickErrors.set(message.id, `Couldn't press ${name}: ${politely(e)}`);
  } finally {
    app.busy.delete(message.id);
    render();
  }
}

/** Interaction records are fetched once each, for the "used /imagine" and reply lines. */
function learnInteractions(messages) {
  for (const m of messages) {
    const id = m.interaction_id;
    if (!id || app.interactions.has(id) || app.fetching.has(id)) continue;
    app.fetching.add(id);
    api
      .interaction(id)
      .then((record) => {
        app.interactions.set(id, record);
        render();
      })
      .catch(() => {})
      .finally(() => app.fetching.delete(id));
  }
}

// Drawing.

function render() {
  const state = app.state;
  if (!state) return;
  const member = me();
  const visible = state.messages.filter(
    (m) => (!m.ephemeral_for || m.ephemeral_for === member?.id) && !app.dismissed.has(m.id),
  );
  for (const m of state.messages) {
    if (m.interaction_id) app.pending.delete(m.interaction_id);
  }
  learnInteractions(visible);
  const byId = new Map(state.messages.map((m) => [m.id, m]));
  const channelName = state.channel_name ?? 'general';
  const cx = {
    users: app.users,
    usersVersion: app.usersVersion,
    botId: state.bot_user_id,
    me: member?.id,
    interactions: app.interactions,
    busy: app.busy,
    clickErrors: app.clickErrors,
    messageById: (id) => byId.get(id),
    timeOf: (m) => formatTime(dateOf(m)),
    dateOf,
    markdown: {
      me: member?.id,
      userName: (id) => app.users.get(id)?.name,
      channelName: (id) => (id === state.channel_id ? channelName : null),
      onMentionMe() {},
    },
  };
  list.update(visible, [...app.pending.values()].filter((p) => p.user === member?.id), cx);
  renderChrome(member);
  composer.setCommands(state.commands, bot().name);
}

function renderChrome(member) {
  const state = app.state;
  const channel = state.channel_name ?? 'general';
  const guild = state.guild_name ?? 'Easel Sandbox';
  document.querySelectorAll('.channel-name').forEach((n) => (n.textContent = channel));
  $('guild-name').textContent = guild;
  document.title = `#${channel} · ${guild}`;
  $('composer-input').placeholder = `Message #${channel} — type / for ${bot().name}'s commands`;
  $('composer-input').setAttribute('aria-label', `Message #${channel}`);

  // Rebuilt only when they change: an open menu must keep its focus through live updates.
  const membersKey = JSON.stringify([app.usersVersion, member?.id, state.bot_connected]);
  if (membersKey !== app.membersKey) {
    app.membersKey = membersKey;
    $('member-name').textContent = member?.name ?? 'nobody';
    $('member-avatar').replaceChildren(avatar(member, 'small'), statusDot(true));
    renderMemberMenu(member);
    renderMemberList(member);
  }

  const violations = state.violations ?? [];
  if (violations.length !== app.violationsShown) {
    app.violationsShown = violations.length;
    renderViolations(violations);
  }
  const health = $('health');
  health.hidden = false;
  health.classList.toggle('bad', violations.length > 0);
  health.textContent = violations.length
    ? `⚠ ${violations.length} violation${violations.length === 1 ? '' : 's'}`
    : '✓ Discord rules kept';
  health.title = 'The sandbox checks every request the bot makes against Discord\'s limits.';

  if (!state.bot_connected) {
    setBanner(`${bot().name} is not connected to this sandbox yet: commands will work once it is.`);
  } else if (!app.bannerIsError) {
    setBanner();
  }
}

function statusDot(online) {
  const dot = el('span', online ? 'status' : 'status offline');
  dot.setAttribute('aria-hidden', 'true');
  return dot;
}

function renderMemberList(member) {
  const ul = $('member-list');
  ul.replaceChildren();
  const b = bot();
  const online = app.state.bot_connected;
  ul.append(el('li', 'category', `Apps — 1`));
  const botRow = el('div', 'member');
  const botSlot = el('span', 'avatar-slot');
  botSlot.append(avatar(b, 'small'), statusDot(online));
  const botName = el('span', 'name', b.name);
  const note = el('span', 'note', online ? 'Online' : 'Offline');
  const botText = el('span');
  botText.append(botName, ' ', el('span', 'app-tag', 'App'), note);
  botRow.append(botSlot, botText);
  ul.append(el('li', null, botRow));

  ul.append(el('li', 'category', `Members — ${members().length}`));
  for (const u of members()) {
    const current = u.id === member?.id;
    const row = el('button', current ? 'member current' : 'member');
    row.type = 'button';
    row.setAttribute('aria-pressed', String(current));
    row.title = current ? 'You are acting as this member' : `Act as ${u.name}`;
    const slot = el('span', 'avatar-slot');
    slot.append(avatar(u, 'small'), statusDot(true));
    const text = el('span');
    text.append(el('span', 'name', u.name), el('span', 'note', current ? 'you' : `act as ${u.name}`));
    row.append(slot, text);
    row.addEventListener('click', () => switchTo(u.name));
    ul.append(el('li', null, row));
  }
}

function renderMemberMenu(member) {
  const box = $('member-menu-items');
  box.replaceChildren();
  for (const u of members()) {
    const item = el('button', 'menu-item');
    item.type = 'button';
    item.setAttribute('role', 'menuitemradio');
    item.setAttribute('aria-checked', String(u.id === member?.id));
    item.append(avatar(u, 'small'), el('span', null, u.name), el('span', 'check', '✓'));
    item.addEventListener('click', () => {
      switchTo(u.name);
      toggleMenu(false);
    });
    box.append(item);
  }
}

function renderViolations(violations) {
  const box = $('violations');
  box.replaceChildren(el('h3', null, violations.length ? 'Limits the bot broke' : 'No violations'));
  if (!violations.length) {
    box.append(el('p', null, 'Every request the bot made kept Discord\'s rules.'));
    return;
  }
  const ul = el('ul');
  for (const v of violations) {
    const li = el('li');
    li.append(el('code', null, v.kind), ` ${v.detail}`);
    ul.append(li);
  }
  box.append(ul);
}

function setBanner(text, isError = false) {
  const banner = $('banner');
  app.bannerIsError = Boolean(text) && isError;
  banner.textContent = text ?? '';
  banner.classList.toggle('error', isError);
  banner.hidden = !text;
}

function switchTo(name) {
  if (name === app.memberName) return;
  app.memberName = name;
  localStorage.setItem(MEMBER_KEY, name);
  app.clickErrors.clear();
  render();
}

function toggleMenu(open) {
  const menu = $('member-menu');
  menu.hidden = !open;
  $('member-button').setAttribute('aria-expanded', String(open));
  if (open) menu.querySelector('[aria-checked="true"], .menu-item')?.focus();
}

function dateOf(m) {
  let date = app.dates.get(m.id);
  if (!date) {
    const createdMs = m.created_at.secs * 1000 + m.created_at.nanos / 1e6;
    date = new Date(app.fetchedAt - (app.state.now_ms - createdMs));
    app.dates.set(m.id, date);
  }
  return date;
}

function formatTime(date) {
  const time = date.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
  const today = new Date().toDateString() === date.toDateString();
  return today ? `Today at ${time}` : `${date.toLocaleDateString()} ${time}`;
}

// The lightbox: a click on an image shows it full size.

let lightboxReturn = null;

function openImage(src, alt) {
  lightboxReturn = document.activeElement;
  $('lightbox-image').src = src;
  $('lightbox-image').alt = alt;
  $('lightbox-open').href = src;
  $('lightbox').hidden = false;
  $('lightbox-close').focus();
}

function closeImage() {
  $('lightbox').hidden = true;
  lightboxReturn?.focus();
}

function wire() {
  document.querySelectorAll('[data-emoji]').forEach((n) => n.replaceWith(emoji({ name: n.dataset.emoji })));
  $('lightbox-close').addEventListener('click', closeImage);
  $('lightbox').addEventListener('click', (e) => e.target === e.currentTarget && closeImage());
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    if (!$('lightbox').hidden) closeImage();
    else if (!$('member-menu').hidden) {
      toggleMenu(false);
      $('member-button').focus();
    } else if (!$('violations').hidden) $('violations').hidden = true;
  });
  $('member-button').addEventListener('click', () => toggleMenu($('member-menu').hidden));
  $('member-menu').addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const items = [...$('member-menu').querySelectorAll('.menu-item')];
    const i = items.indexOf(document.activeElement);
    e.preventDefault();
    items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
  });
  document.addEventListener('click', (e) => {
    if (!e.target.closest('.user-panel')) toggleMenu(false);
    if (!e.target.closest('#violations, #health')) $('violations').hidden = true;
  });
  $('add-member').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('add-member-name');
    const name = input.value.trim();
    if (!name) return;
    try {
      if (!members().some((u) => u.name === name)) {
        await api.addUser(name);
        await refresh();
      }
      input.value = '';
      switchTo(name);
      toggleMenu(false);
    } catch (err) {
      input.setCustomValidity(politely(err));
      input.reportValidity();
      input.addEventListener('input', () => input.setCustomValidity(''), { once: true });
    }
  });
  $('health').addEventListener('click', () => ($('violations').hidden = !$('violations').hidden));
  $('try-imagine').addEventListener('click', () => composer.fill('/imagine a lighthouse at dusk --ar 3:2'));
}

async function boot() {
  wire();
  for (let backoff = 500; ; backoff = Math.min(backoff * 2, 5_000)) {
    try {
      await refresh();
      await ensureMembers();
      break;
    } catch (e) {
      setBanner(`${politely(e)} Trying again…`, true);
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
  setBanner();
  render();
  document.body.dataset.ready = '';
  $('composer-input').focus();
  live();
}

boot();
