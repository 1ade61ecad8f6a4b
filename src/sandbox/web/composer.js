// The message box: typing `/` opens a picker of the bot's registered commands; picking one (or
// typing `/name ` in full) turns the box into that command's options, drawn from what the bot
// registered, so commands Easel adds later work without touching this page. Enter sends.

import { el } from './markdown.js';
import { localUrl } from './messages.js';

/** Discord's application command option types. */
const T = {
  STRING: 3, INTEGER: 4, BOOLEAN: 5, USER: 6, CHANNEL: 7, ROLE: 8, MENTIONABLE: 9, NUMBER: 10, ATTACHMENT: 11,
};

export class Composer {
  /**
   * `hooks`: `send(command, options)` → promise (rejects with the refusal), `upload(file)` →
   * promise of an attachment, `members()` → [{id, name}].
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.form = document.getElementById('composer');
    this.input = document.getElementById('composer-input');
    this.bar = document.getElementById('command-bar');
    this.picker = document.getElementById('picker');
    this.pickerHead = document.getElementById('picker-head');
    this.pickerList = document.getElementById('picker-list');
    this.hint = document.getElementById('option-hint');
    this.error = document.getElementById('composer-error');
    this.sendButton = document.getElementById('send-button');
    this.commands = [];
    this.appName = 'Easel';
    this.matches = [];
    this.active = 0;
    /** The command being filled in, and its option fields (name → field). */
    this.command = null;
    this.fields = new Map();
    /**
     * A new object each time a command is started: a send that finishes clears the box only if
     * the member has not moved on to another command meanwhile.
     */
    this.session = null;

    this.input.addEventListener('input', () => this.onInput());
    this.input.addEventListener('keydown', (e) => this.onTextKey(e));
    this.input.addEventListener('blur', () => this.closePicker());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    document.getElementById('slash-button').addEventListener('click', () => this.fill('/'));
    this.bar.addEventListener('keydown', (e) => this.onOptionKey(e));
    this.bar.addEventListener('focusin', (e) => this.showHint(e.target.closest('.opt')));
    this.bar.addEventListener('focusout', () => this.showHint(null));
    this.form.addEventListener('dragover', (e) => this.attachmentField() && e.preventDefault());
    this.form.addEventListener('drop', (e) => {
      const field = this.attachmentField();
      const file = e.dataTransfer?.files?.[0];
      if (!field || !file) return;
      e.preventDefault();
      field.take(file);
    });
  }

  setCommands(commands, appName) {
    // Redrawn only on a real change, so an open picker keeps its highlighted row.
    const key = JSON.stringify([commands, appName]);
    if (key === this.commandsKey) return;
    this.commandsKey = key;
    this.commands = commands.filter((c) => (c.type ?? 1) === 1);
    this.appName = appName;
    if (!this.picker.hidden) this.onInput();
  }

  /** Puts `text` in the box as if typed, e.g. `/imagine a cat`. */
  fill(text) {
    this.reset();
    this.input.value = text;
    this.input.focus();
    this.onInput();
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  // Text mode: plain typing, and the picker.

  onInput() {
    this.showError('');
    const text = this.input.value;
    const m = /^\/(\S*)(\s+([\s\S]*))?$/.exec(text);
    if (!m) return this.closePicker();
    const exact = this.commands.find((c) => c.name === m[1].toLowerCase());
    if (exact && m[2] !== undefined) return this.start(exact, m[3] ?? '');
    if (m[2] !== undefined) return this.closePicker();
    this.openPicker(m[1].toLowerCase());
  }

  openPicker(query) {
    const starts = this.commands.filter((c) => c.name.startsWith(query));
    const contains = this.commands.filter((c) => !c.name.startsWith(query) && c.name.includes(query));
    this.matches = [...starts, ...contains];
    this.active = 0;
    this.pickerHead.replaceChildren();
    const icon = el('img');
    icon.src = '/ui/easel.svg';
    icon.alt = '';
    this.pickerHead.append(icon, query ? `Commands matching /${query}` : this.appName);
    this.pickerList.replaceChildren();
    if (!this.matches.length) {
      const empty = el('li', 'empty', this.commands.length
        ? `No command matches /${query}.`
        : `${this.appName} has not registered any commands yet.`);
      empty.setAttribute('role', 'option');
      empty.setAttribute('aria-disabled', 'true');
      this.pickerList.append(empty);
    }
    this.matches.forEach((c, i) => {
      const li = el('li');
      li.id = `command-${c.name}`;
      li.setAttribute('role', 'option');
      const img = el('img');
      img.src = '/ui/easel.svg';
      img.alt = '';
      const text = el('div', 'cmd-text');
      const title = el('div');
      title.append(el('span', 'cmd-name', `/${c.name}`));
      const opts = (c.options ?? []).map((o) => (o.required ? o.name : `[${o.name}]`)).join(' ');
      if (opts) title.append(el('span', 'cmd-opts', opts));
      text.append(title, el('div', 'cmd-desc', c.description ?? ''));
      li.append(img, text, el('span', 'cmd-app', this.appName));
      // Keep the focus in the box: a click on the list must not blur it first.
      li.addEventListener('mousedown', (e) => e.preventDefault());
      li.addEventListener('click', () => this.start(c, ''));
      li.addEventListener('mousemove', () => i !== this.active && this.highlight(i));
      this.pickerList.append(li);
    });
    this.picker.hidden = false;
    this.hint.hidden = true;
    this.input.setAttribute('aria-expanded', 'true');
    this.highlight(0);
  }

  highlight(i) {
    this.active = i;
    [...this.pickerList.children].forEach((li, j) => li.setAttribute('aria-selected', String(j === i)));
    const li = this.pickerList.children[i];
    if (li && this.matches.length) {
      this.input.setAttribute('aria-activedescendant', li.id);
      li.scrollIntoView({ block: 'nearest' });
    }
  }

  closePicker() {
    this.picker.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }

  onTextKey(e) {
    if (!this.picker.hidden && this.matches.length) {
      const n = this.matches.length;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        this.highlight((this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        this.start(this.matches[this.active], '');
        return;
      }
    }
    if (e.key === 'Escape' && !this.picker.hidden) {
      e.preventDefault();
      this.closePicker();
    }
  }

  // Command mode: one field per option.

  /** Switches the box to `command`; `rest` (what followed `/name `) fills its first text option. */
  start(command, rest) {
    this.closePicker();
    this.showError('');
    this.command = command;
    this.session = { sending: false };
    this.fields.clear();
    this.input.value = '';
    this.input.hidden = true;
    this.bar.hidden = false;
    this.bar.replaceChildren(el('span', 'cmd-chip', `/${command.name}`));
    const options = command.options ?? [];
    for (const o of options.filter((o) => o.required)) this.addField(o);
    const text = rest.trim() ? options.find((o) => o.type === T.STRING && !o.choices?.length) : null;
    if (text) {
      if (!this.fields.has(text.name)) this.addField(text);
      this.fields.get(text.name).set(rest);
    }
    this.drawAddButtons();
    const empty = [...this.fields.values()].find((f) => f.value() === undefined);
    (empty ?? [...this.fields.values()].at(-1))?.focus();
    if (!this.fields.size) this.sendButton.focus();
  }

  /** Back to plain text, keeping `/name` so the member can pick another command. */
  leave(text = '') {
    this.command = null;
    this.session = null;
    this.fields.clear();
    this.bar.hidden = true;
    this.bar.replaceChildren();
    this.hint.hidden = true;
    this.input.hidden = false;
    this.input.value = text;
    this.input.focus();
    if (text) this.onInput();
  }

  reset() {
    if (this.command) this.leave();
    this.input.value = '';
    this.closePicker();
    this.showError('');
  }

  addField(option) {
    const field = makeField(option, this.hooks);
    this.fields.set(option.name, field);
    const adds = this.bar.querySelector('.opt-adds');
    this.bar.insertBefore(field.el, adds);
    return field;
  }

  removeField(name) {
    this.fields.get(name)?.el.remove();
    this.fields.delete(name);
    this.drawAddButtons();
  }

  /** "+ name" buttons for the optional options not shown yet. */
  drawAddButtons() {
    this.bar.querySelector('.opt-adds')?.remove();
    const rest = (this.command.options ?? []).filter((o) => !this.fields.has(o.name));
    if (!rest.length) return;
    const box = el('span', 'opt-adds');
    for (const o of rest) {
      const add = el('button', 'opt-add', `+ ${o.name}`);
      add.type = 'button';
      add.title = o.description ?? '';
      add.addEventListener('click', () => {
        const field = this.addField(o);
        this.drawAddButtons();
        field.focus();
      });
      box.append(add);
    }
    this.bar.append(box);
  }

  attachmentField() {
    return [...this.fields.values()].find((f) => f.option.type === T.ATTACHMENT && f.value() === undefined);
  }

  onOptionKey(e) {
    const opt = e.target.closest('.opt');
    if (e.key === 'Escape') {
      e.preventDefault();
      this.reset();
      this.input.focus();
    } else if (e.key === 'Enter' && e.target.tagName !== 'BUTTON') {
      e.preventDefault();
      this.submit();
    } else if (e.key === 'Backspace' && opt && e.target.value === '') {
      // Like Discord: backspace in an empty option removes it, or the command if it was the first.
      const names = [...this.fields.keys()];
      const name = opt.dataset.name;
      const option = this.fields.get(name).option;
      e.preventDefault();
      if (names[0] === name) return this.leave(`/${this.command.name}`);
      const before = this.fields.get(names[names.indexOf(name) - 1]);
      if (!option.required) this.removeField(name);
      before?.focus();
    }
  }

  showHint(opt) {
    this.bar.querySelectorAll('.opt.focused').forEach((o) => o.classList.remove('focused'));
    if (!opt || !this.command) {
      this.hint.hidden = true;
      return;
    }
    opt.classList.add('focused');
    const option = this.fields.get(opt.dataset.name)?.option;
    if (!option) return;
    this.hint.replaceChildren(el('b', null, option.name), option.description ?? '');
    if (option.required) this.hint.append(el('span', 'req', 'Required'));
    this.hint.hidden = false;
  }

  // Sending.

  async submit() {
    if (!this.command) return this.submitText();
    const session = this.session;
    if (session.sending) return;
    const options = [];
    const missing = [];
    for (const field of this.fields.values()) {
      field.el.classList.remove('missing');
      if (field.busy()) return this.showError('Wait a moment: a file is still uploading.');
      let value;
      try {
        value = field.value();
      } catch (e) {
        field.el.classList.add('missing');
        field.focus();
        return this.showError(e.message);
      }
      if (value === undefined) {
        if (field.option.required) missing.push(field);
        continue;
      }
      options.push({ name: field.option.name, value });
    }
    if (missing.length) {
      missing.forEach((f) => f.el.classList.add('missing'));
      missing[0].focus();
      const names = missing.map((f) => f.option.name).join(', ');
      return this.showError(`/${this.command.name} needs ${names} before it can be sent.`);
    }
    session.sending = true;
    this.sendButton.disabled = true;
    try {
      await this.hooks.send(this.command.name, options);
      if (this.session === session) {
        this.reset();
        this.input.focus();
      }
    } catch (e) {
      if (this.session === session) this.showError(e.message);
    } finally {
      session.sending = false;
      this.sendButton.disabled = false;
    }
  }

  submitText() {
    const text = this.input.value.trim();
    if (!text) return;
    const m = /^\/(\S+)\s*([\s\S]*)$/.exec(text);
    if (!m) {
      return this.showError(`${this.appName} only answers slash commands here: type / to see them.`);
    }
    const command = this.commands.find((c) => c.name === m[1].toLowerCase());
    if (!command) return this.showError(`There is no /${m[1]} command. Type / to see the ones ${this.appName} has.`);
    this.start(command, m[2]);
    this.submit();
  }
}

/**
 * One option's input: `{option, el, value(), set(text), focus(), busy(), take(file)}`. `value()`
 * is undefined when empty and throws when what was typed cannot be sent.
 */
function makeField(option, hooks) {
  const wrap = el('span', 'opt');
  wrap.dataset.name = option.name;
  const id = `opt-${option.name}`;
  const name = el('label', 'opt-name', option.name);
  name.htmlFor = id;
  wrap.append(name);
  const field = { option, el: wrap, busy: () => false, take() {}, set() {} };

  const choices = option.choices ?? [];
  if (choices.length || option.type === T.BOOLEAN || option.type === T.USER) {
    const select = el('select');
    select.id = id;
    const items = choices.length
      ? choices.map((c) => [c.value, c.name])
      : option.type === T.BOOLEAN
        ? [[true, 'True'], [false, 'False']]
        : hooks.members().map((u) => [u.id, u.name]);
    select.append(el('option', null, 'Choose…'));
    select.firstChild.value = '';
    items.forEach(([, label], i) => {
      const o = el('option', null, label);
      o.value = String(i);
      select.append(o);
    });
    wrap.append(select);
    field.value = () => (select.value === '' ? undefined : items[Number(select.value)][0]);
    field.set = (text) => {
      const i = items.findIndex(([v, label]) => String(v) === text || label === text);
      if (i >= 0) select.value = String(i);
    };
    field.focus = () => select.focus();
    return field;
  }

  if (option.type === T.ATTACHMENT) {
    const box = el('span', 'opt-file');
    const picker = el('input');
    picker.type = 'file';
    picker.hidden = true;
    picker.id = id;
    const choose = el('button', null, 'Choose a file…');
    choose.type = 'button';
    choose.addEventListener('click', () => picker.click());
    let attachment;
    let uploading = false;
    const draw = (...nodes) => box.replaceChildren(picker, ...nodes);
    field.take = async (file) => {
      uploading = true;
      draw(el('span', null, `Uploading ${file.name}…`));
      try {
        attachment = await hooks.upload(file);
        const thumb = el('img');
        thumb.src = localUrl(attachment.url);
        thumb.alt = '';
        const remove = el('button', 'remove', '×');
        remove.type = 'button';
        remove.setAttribute('aria-label', `Remove ${attachment.filename}`);
        remove.addEventListener('click', () => {
          attachment = undefined;
          draw(choose);
          choose.focus();
        });
        const image = /^image\//.test(attachment.content_type ?? '');
        draw(...(image ? [thumb] : []), el('span', null, attachment.filename), remove);
      } catch (e) {
        attachment = undefined;
        draw(choose, el('span', 'interaction-error', e.message));
      } finally {
        uploading = false;
      }
    };
    picker.addEventListener('change', () => picker.files[0] && field.take(picker.files[0]));
    draw(choose);
    wrap.append(box);
    field.value = () => attachment?.id;
    field.busy = () => uploading;
    field.focus = () => (box.querySelector('button') ?? choose).focus();
    return field;
  }

  const input = el('input');
  input.id = id;
  wrap.append(input);
  field.focus = () => {
    input.focus();
    input.setSelectionRange?.(input.value.length, input.value.length);
  };
  field.set = (text) => (input.value = text);
  if (option.type === T.STRING) {
    wrap.classList.add('grow');
    input.type = 'text';
    if (option.max_length) input.maxLength = option.max_length;
    field.value = () => {
      if (input.value === '') return undefined;
      if (option.min_length && input.value.length < option.min_length) {
        throw new Error(`${option.name} must be at least ${option.min_length} characters long.`);
      }
      return input.value;
    };
  } else if (option.type === T.INTEGER || option.type === T.NUMBER) {
    // Text, not type=number: a number input hides what was typed when it is not a number.
    input.type = 'text';
    input.inputMode = option.type === T.INTEGER ? 'numeric' : 'decimal';
    input.size = 8;
    field.value = () => {
      const text = input.value.trim();
      if (text === '') return undefined;
      const n = Number(text);
      const kind = option.type === T.INTEGER ? 'a whole number' : 'a number';
      if (!Number.isFinite(n) || (option.type === T.INTEGER && !Number.isInteger(n))) {
        throw new Error(`${option.name} must be ${kind}.`);
      }
      if (option.min_value !== undefined && n < option.min_value) {
        throw new Error(`${option.name} must be at least ${option.min_value}.`);
      }
      if (option.max_value !== undefined && n > option.max_value) {
        throw new Error(`${option.name} must be at most ${option.max_value}.`);
      }
      // Integers past 2^53 go as text: the sandbox reads those too.
      return option.type === T.INTEGER && !Number.isSafeInteger(n) ? text : n;
    };
  } else {
    input.disabled = true;
    input.placeholder = 'not supported by the sandbox page';
    field.value = () => undefined;
  }
  return field;
}
