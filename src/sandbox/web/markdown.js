// Discord's markdown, the part bots use: bold, italics, underline, strikethrough, inline and block
// code, spoilers, quotes, headings, `-#` subtext, mentions, timestamps and links. It builds DOM
// nodes and never HTML strings, so nothing a bot or a prompt says can turn into markup.

/** Discord lets a backslash escape any ASCII punctuation. */
const ESCAPABLE = /[!-/:-@[-`{-~]/;

/** Inline delimiters, longest first so `**` wins over `*`. */
const SPANS = [
  ['**', 'strong'],
  ['__', 'u'],
  ['~~', 's'],
  ['||', 'spoiler'],
  ['*', 'em'],
  ['_', 'em'],
];

const URL_RE = /^https?:\/\/[^\s<]+[^\s<.,:;"')\]!?]/;

/**
 * Renders `text` into a fragment. `cx` names things the text refers to:
 * `userName(id)`, `channelName(id)`, `me` (the current member's id, whose mentions are
 * highlighted) and `onMentionMe()` (called when the text mentions them).
 */
export function renderMarkdown(text, cx) {
  const frag = document.createDocumentFragment();
  const lines = text.split('\n');
  let run = [];
  const flush = () => {
    if (run.length) frag.append(...inline(run.join('\n'), cx));
    run = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if (line.startsWith('```')) {
      const end = lines.findIndex((l, j) => j > i && l.trimEnd().endsWith('```'));
      if (end > i) {
        flush();
        const body = [line.slice(3).replace(/^[\w+-]+$/, ''), ...lines.slice(i + 1, end)];
        body.push(lines[end].trimEnd().slice(0, -3));
        frag.append(el('pre', null, el('code', null, body.join('\n').replace(/^\n|\n$/g, ''))));
        i = end;
        continue;
      }
    }
    if (line.startsWith('>>> ')) {
      flush();
      const q = el('blockquote');
      q.append(...inline([line.slice(4), ...lines.slice(i + 1)].join('\n'), cx));
      frag.append(q);
      break;
    }
    if (line.startsWith('> ') || line === '>') {
      flush();
      const quoted = [];
      while (i < lines.length && (lines[i].startsWith('> ') || lines[i] === '>')) quoted.push(lines[i++].slice(2));
      i--;
      const q = el('blockquote');
      q.append(...inline(quoted.join('\n'), cx));
      frag.append(q);
    } else if ((m = /^(#{1,3}) (.+)$/.exec(line))) {
      flush();
      const h = el(`h${m[1].length}`);
      h.append(...inline(m[2], cx));
      frag.append(h);
    } else if ((m = /^-# (.+)$/.exec(line))) {
      flush();
      const small = el('span', 'subtext');
      small.append(...inline(m[1], cx));
      frag.append(small);
    } else {
      run.push(line);
    }
  }
  flush();
  return frag;
}

/** The text as it reads without formatting, e.g. for a reply's one-line snippet. */
export function plainText(text, cx) {
  const holder = document.createElement('div');
  holder.append(renderMarkdown(text, { ...cx, onMentionMe() {} }));
  return holder.textContent.replace(/\s+/g, ' ').trim();
}

function inline(s, cx) {
  const out = [];
  let buf = '';
  const flush = () => {
    if (buf) out.push(document.createTextNode(buf));
    buf = '';
  };
  let i = 0;
  scan: while (i < s.length) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length && ESCAPABLE.test(s[i + 1])) {
      buf += s[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const ticks = s.startsWith('``', i) ? '``' : '`';
      const end = s.indexOf(ticks, i + ticks.length);
      if (end > i + ticks.length) {
        flush();
        out.push(el('code', null, s.slice(i + ticks.length, end)));
        i = end + ticks.length;
        continue;
      }
    }
    for (const [d, tag] of SPANS) {
      if (!s.startsWith(d, i) || !opens(s, i, d)) continue;
      const close = closing(s, i + d.length, d);
      if (close < 0) continue;
      flush();
      const node = tag === 'spoiler' ? spoiler() : el(tag);
      node.append(...inline(s.slice(i + d.length, close), cx));
      out.push(node);
      i = close + d.length;
      continue scan;
    }
    if (c === '<') {
      const rest = s.slice(i);
      const m =
        /^<(@!?|@&|#)(\d+)>/.exec(rest) ??
        /^<t:(-?\d+)(?::([tTdDfFR]))?>/.exec(rest) ??
        /^<a?:(\w+):\d+>/.exec(rest) ??
        /^<(https?:\/\/[^\s>]+)>/.exec(rest);
      if (m) {
        flush();
        out.push(special(m, cx));
        i += m[0].length;
        continue;
      }
    }
    if (c === '[') {
      const m = /^\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/.exec(s.slice(i));
      if (m) {
        flush();
        const a = link(m[2]);
        a.append(...inline(m[1], cx));
        out.push(a);
        i += m[0].length;
        continue;
      }
    }
    if (c === 'h' && (i === 0 || !/\w/.test(s[i - 1]))) {
      const m = URL_RE.exec(s.slice(i));
      if (m) {
        flush();
        const a = link(m[0]);
        a.textContent = m[0];
        out.push(a);
        i += m[0].length;
        continue;
      }
    }
    buf += c;
    i++;
  }
  flush();
  return out;
}

/** Single-character delimiters need a word start: `2 * 3 * 4` and `snake_case` stay as typed. */
function opens(s, i, d) {
  const next = s[i + d.length];
  if (next === undefined || /\s/.test(next)) return false;
  if (d === '_') return i === 0 || !/\w/.test(s[i - 1]);
  return true;
}

/** Where `d` closes, skipping escapes and code; -1 if it never does. */
function closing(s, from, d) {
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\\') {
      i++;
      continue;
    }
    if (s[i] === '`') {
      const end = s.indexOf('`', i + 1);
      if (end > 0) {
        i = end;
        continue;
      }
    }
    if (!s.startsWith(d, i) || i === from) continue;
    if (d.length === 1) {
      // `*a **b** c*`: a doubled delimiter inside belongs to a bold span, not to this one.
      if (s[i + 1] === d) {
        i++;
        continue;
      }
      if (/\s/.test(s[i - 1])) continue;
    }
    return i;
  }
  return -1;
}

function special(m, cx) {
  const [whole, a, b] = m;
  if (whole.startsWith('<t:')) {
    const when = new Date(Number(a) * 1000);
    const node = el('time', 'mention-time', formatTimestamp(when, b ?? 'f'));
    node.dateTime = when.toISOString();
    return node;
  }
  if (/^<a?:/.test(whole)) return document.createTextNode(`:${a}:`);
  if (a.startsWith('http')) {
    const node = link(a);
    node.textContent = a;
    return node;
  }
  if (a === '#') return el('span', 'mention', `#${cx.channelName(b) ?? 'unknown-channel'}`);
  if (a === '@&') return el('span', 'mention', '@role');
  if (b === cx.me) cx.onMentionMe();
  return el('span', 'mention', `@${cx.userName(b) ?? 'unknown-user'}`);
}

function formatTimestamp(date, style) {
  if (style === 'R') {
    const s = Math.round((date - Date.now()) / 1000);
    const units = [
      ['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1],
    ];
    const [unit, size] = units.find(([, n]) => Math.abs(s) >= n) ?? ['second', 1];
    return new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }).format(Math.round(s / size), unit);
  }
  const formats = {
    t: { timeStyle: 'short' },
    T: { timeStyle: 'medium' },
    d: { dateStyle: 'short' },
    D: { dateStyle: 'long' },
    f: { dateStyle: 'long', timeStyle: 'short' },
    F: { dateStyle: 'full', timeStyle: 'short' },
  };
  return date.toLocaleString(undefined, formats[style] ?? formats.f);
}

function spoiler() {
  const node = el('span', 'spoiler');
  node.tabIndex = 0;
  node.setAttribute('role', 'button');
  node.setAttribute('aria-label', 'Spoiler: reveal');
  const reveal = () => {
    node.classList.add('revealed');
    node.removeAttribute('role');
    node.removeAttribute('aria-label');
    node.removeAttribute('tabindex');
  };
  node.addEventListener('click', reveal);
  node.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && reveal());
  return node;
}

function link(href) {
  const a = el('a');
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

/** `document.createElement` with a class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text instanceof Node) node.append(text);
  else if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/**
 * Discord draws emoji as images rather than with the system font; the ones Easel uses are
 * drawn here, so they look the same on a machine without a colour emoji font.
 */
const EMOJI = {
  '🔄':
    '<svg viewBox="0 0 36 36" aria-hidden="true"><rect width="36" height="36" rx="7" fill="#3b88c3"/>' +
    '<g fill="none" stroke="#fff" stroke-width="3.4" stroke-linecap="round">' +
    '<path d="M9.5 17.5a8.5 8.5 0 0 1 15.2-5.2"/><path d="M26.5 18.5a8.5 8.5 0 0 1-15.2 5.2"/></g>' +
    '<path fill="#fff" d="M28.4 7.2v8.6h-8.6z"/><path fill="#fff" d="M7.6 28.8v-8.6h8.6z"/></svg>',
};

/** An emoji by its unicode name (or a custom emoji's `:name:`), as an element. */
export function emoji(e) {
  const svg = EMOJI[e.name];
  if (svg) {
    const span = el('span', 'emoji');
    span.setAttribute('role', 'img');
    span.setAttribute('aria-label', e.name);
    // A fixed string from this file, never data from the sandbox.
    span.innerHTML = svg;
    return span;
  }
  return el('span', 'emoji', e.id ? `:${e.name}:` : e.name);
}
