// The sandbox's control API (`/control`), the only thing this page talks to. Ids are strings:
// snowflakes do not fit in a JavaScript number, and the API sends and takes them as strings.

/** A refusal from the sandbox, or no answer at all (`status` 0). */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

async function call(method, path, { json, body, signal } = {}) {
  const init = { method, signal, headers: {} };
  if (json !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(`/control${path}`, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError('The sandbox is not answering. Is `easel sandbox` still running?', 0);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (an axum rejection is plain text): the text is the explanation.
  }
  if (!response.ok) {
    throw new ApiError(data?.error ?? (text || response.statusText), response.status);
  }
  return data;
}

export const api = {
  state: () => call('GET', '/state'),

  /** Resolves with `{version}` once the state has changed past `after`, or after `timeoutMs`. */
  wait: (after, timeoutMs, signal) => call('GET', `/wait?after=${after}&timeout_ms=${timeoutMs}`, { signal }),

  interaction: (id) => call('GET', `/interactions/${id}`),

  addUser: (name) => call('POST', '/users', { json: { name } }),

  /** Stores a file on the sandbox, for an attachment option; resolves with the attachment. */
  upload: (file) => {
    const q = new URLSearchParams({ filename: file.name || 'upload', content_type: file.type || '' });
    return call('POST', `/upload?${q}`, { body: file });
  },

  slash: (user, command, options) => call('POST', '/slash', { json: { user, command, options } }),

  click: (user, messageId, customId) =>
    call('POST', '/click', { json: { user, message_id: messageId, custom_id: customId } }),
};

/**
 * The sandbox's refusal as a sentence for a member: capitalised, with a full stop, and without
 * the snowflake ids that mean nothing to a person.
 */
export function politely(error) {
  const text = String(error?.message ?? error)
    .trim()
    .replace(/ on message \d{15,}/g, '')
    .replace(/\b(message|user|attachment|interaction) \d{15,}/g, (_, what) => `that ${what}`);
  const sentence = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}
