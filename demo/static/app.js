/* Web chat for the offline Telegram stand-in. Plain JS, no build step, no network beyond
 * this server: the demo machine is offline. All URLs are relative so the app also works
 * when mounted under a prefix. */
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const AVATAR_COLORS = ["#c8161d", "#d9822b", "#2f8f5b", "#2a6fb0", "#7b4fb8", "#a0522d"];
  const ACTION_TEXT = {
    typing: "对方正在输入…",
    upload_photo: "对方正在发送照片…",
    upload_document: "对方正在发送文件…",
    find_location: "对方正在查找位置…",
  };

  // Drawn icons: the demo machine may have no emoji font.
  const ICONS = {
    chat: '<path d="M4 4h16v12H9l-5 4z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/>',
    doc: '<path d="M6 2.5h8l4.5 4.5v14.5H6z" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/><path d="M14 2.5V7h4.5M8.5 12h7M8.5 15.5h7" fill="none" stroke="currentColor" stroke-width="1.6"/>',
    pin: '<path d="M12 22s7-7.2 7-12.5a7 7 0 0 0-14 0C5 14.8 12 22 12 22z" fill="currentColor"/><circle cx="12" cy="9.5" r="2.6" fill="#fff"/>',
    photo: '<rect x="3" y="5" width="18" height="14" rx="2" fill="none" stroke="currentColor" stroke-width="1.8"/><circle cx="9" cy="10" r="1.8" fill="currentColor"/><path d="M4 18l5-5 3.5 3.5L16 13l4 5" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linejoin="round"/>',
    phone: '<path d="M7 3h3l1.5 4.5-2 1.5a11 11 0 0 0 5.5 5.5l1.5-2L21 14v3a2 2 0 0 1-2 2A16 16 0 0 1 5 5a2 2 0 0 1 2-2z" fill="currentColor"/>',
    contact: '<circle cx="12" cy="8.5" r="3.6" fill="currentColor"/><path d="M4.5 20a7.5 7.5 0 0 1 15 0z" fill="currentColor"/>',
  };

  function icon(name, className) {
    const holder = document.createElement("span");
    holder.className = `icon ${className || ""}`.trim();
    holder.innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true">${ICONS[name]}</svg>`;
    return holder;
  }

  const state = {
    config: null,
    personas: [],
    current: null, // user_id of the open chat
    chats: new Map(), // user_id -> {messages: Map(message_id -> view), reply_keyboard, commands}
    unread: new Map(),
    blocks: new Map(), // rendered message blocks: key -> {signature, element}
    pressing: new Map(), // message_id -> {button, timer} while a callback is unanswered
    marker: null, // chosen [lat, lon] on the location picker
    statusTimer: null,
    toastTimer: null,
    refreshTimer: null,
  };
  // The personas' labels and menus change when the bot registers someone: re-read them shortly
  // after the bot speaks (it commits just after replying), and now and then in any case.
  const REFRESH_AFTER_REPLY_MS = 700;
  const REFRESH_EVERY_MS = 5000;

  // ---------------------------------------------------------------- server calls

  async function api(path, options) {
    const response = await fetch(path, options);
    let body = {};
    try { body = await response.json(); } catch (_) { /* empty body */ }
    if (!response.ok) {
      const error = new Error(body.error || response.statusText);
      error.stale = Boolean(body.stale); // a button the bot has removed
      throw error;
    }
    return body;
  }

  const postJSON = (path, data) => api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });

  const chatPath = (suffix) => `api/chats/${state.current}/${suffix}`;

  // ---------------------------------------------------------------- small helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function avatarFor(persona, node) {
    node.textContent = (persona.name || "?").slice(0, 1);
    node.style.background = AVATAR_COLORS[Math.abs(persona.user_id) % AVATAR_COLORS.length];
  }

  // In the bot's zone (Beijing time), not the browser's: the bot says "截止 18:00" in that zone.
  let clockFormat = null;
  function timeOf(seconds) {
    if (!seconds) return "";
    if (!clockFormat) {
      clockFormat = new Intl.DateTimeFormat("en-GB", {
        timeZone: (state.config && state.config.time_zone) || "Asia/Shanghai",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      });
    }
    return clockFormat.format(new Date(seconds * 1000));
  }

  function sizeOf(bytes) {
    if (!bytes && bytes !== 0) return "";
    if (bytes < 1024) return `${bytes} 字节`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function preview(view) {
    if (!view || view.deleted) return "";
    const label = view.photo ? "[图片] " : view.voice ? "[语音] " : view.document ? "[文件] " : view.location ? "[位置] "
      : view.contact ? "[名片] " : "";
    return (label + (view.text || view.caption || "")).trim().slice(0, 40);
  }

  function toast(text) {
    const node = $("#toast");
    node.textContent = text;
    node.hidden = false;
    clearTimeout(state.toastTimer);
    state.toastTimer = setTimeout(() => { node.hidden = true; }, 2800);
  }

  function showAlert(text) {
    $("#alert-text").textContent = text;
    $("#alert").hidden = false;
    $("#alert-ok").focus();
  }

  // Telegram entity offsets count UTF-16 units, exactly what JS string indexes count.
  function renderEntities(text, entities) {
    const fragment = document.createDocumentFragment();
    const sorted = (entities || []).filter((e) => e.length > 0)
      .sort((a, b) => a.offset - b.offset || b.length - a.length);

    function elementFor(entity, inner) {
      switch (entity.type) {
        case "bold": return el("b");
        case "italic": return el("i");
        case "underline": return el("u");
        case "strikethrough": return el("s");
        case "code": return el("code");
        case "pre": return el("pre");
        case "blockquote":
        case "expandable_blockquote": return el("blockquote");
        case "spoiler": {
          const node = el("span", "spoiler");
          node.addEventListener("click", () => node.classList.add("shown"));
          return node;
        }
        case "text_link":
        case "url": {
          const node = el("a");
          node.href = entity.type === "url" ? inner : entity.url;
          node.target = "_blank";
          node.rel = "noopener";
          return node;
        }
        case "bot_command": {
          const node = el("span", "command");
          node.addEventListener("click", () => sendText(inner));
          return node;
        }
        default: return el("span", entity.type);
      }
    }

    function build(parent, start, end, list) {
      let position = start;
      let i = 0;
      while (i < list.length) {
        const entity = list[i];
        if (entity.offset < position) { i += 1; continue; } // overlapping: ignore
        if (entity.offset > position) {
          parent.appendChild(document.createTextNode(text.slice(position, entity.offset)));
        }
        const entityEnd = Math.min(entity.offset + entity.length, end);
        const inner = [];
        let j = i + 1;
        while (j < list.length && list[j].offset < entityEnd) { inner.push(list[j]); j += 1; }
        const node = elementFor(entity, text.slice(entity.offset, entityEnd));
        build(node, entity.offset, entityEnd, inner);
        parent.appendChild(node);
        position = entityEnd;
        i = j;
      }
      if (position < end) parent.appendChild(document.createTextNode(text.slice(position, end)));
    }

    build(fragment, 0, text.length, sorted);
    return fragment;
  }

  // ---------------------------------------------------------------- persona list

  function renderPersonas() {
    const list = $("#persona-list");
    list.replaceChildren();
    for (const persona of state.personas) {
      const item = el("li", "persona");
      item.dataset.userId = persona.user_id;
      if (persona.user_id === state.current) item.classList.add("active");
      const avatar = el("div", "avatar");
      avatarFor(persona, avatar);
      const who = el("div", "who");
      const name = el("div", "name", persona.name);
      if (persona.role_label) name.appendChild(el("span", "role", persona.role_label));
      who.append(name, el("div", "last", persona.last_text || "（还没有消息）"));
      item.append(avatar, who);
      const unread = state.unread.get(persona.user_id) || 0;
      if (unread) item.appendChild(el("span", "badge", String(unread)));
      item.addEventListener("click", () => selectPersona(persona.user_id));
      list.appendChild(item);
    }
  }

  async function selectPersona(userId) {
    const persona = state.personas.find((p) => p.user_id === userId);
    if (!persona) return;
    state.current = userId;
    state.unread.set(userId, 0);
    state.blocks.clear();
    $("#messages").replaceChildren();
    closePanels();
    $("#app").classList.remove("no-chat");
    renderChatTitle();
    avatarFor(persona, $("#chat-avatar"));
    if (location.hash !== `#${userId}`) history.replaceState(null, "", `#${userId}`);
    renderPersonas();
    if (!state.chats.has(userId)) {
      state.chats.set(userId, { messages: new Map(), reply_keyboard: null, commands: [] });
    }
    await loadChat(userId);
    if (state.current === userId) $("#composer-input").focus();
  }

  async function loadChat(userId) {
    const data = await api(`api/chats/${userId}/messages`);
    const chat = state.chats.get(userId);
    for (const view of data.messages) mergeMessage(chat, view);
    chat.reply_keyboard = data.reply_keyboard;
    chat.commands = data.commands;
    if (state.current === userId) renderChat(true);
  }

  // Events and fetches can cross; the version with the higher seq wins.
  function mergeMessage(chat, view) {
    const known = chat.messages.get(view.message_id);
    if (!known || known.seq <= view.seq) chat.messages.set(view.message_id, view);
  }

  function backToList() {
    state.current = null;
    history.replaceState(null, "", location.pathname + location.search);
    $("#app").classList.add("no-chat");
    renderPersonas();
  }

  // ---------------------------------------------------------------- chat rendering

  function renderChat(scrollToEnd) {
    const chat = state.chats.get(state.current);
    if (!chat) return;
    const container = $("#messages");
    const nearBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 120;

    // Group consecutive messages of one album into one block, as Telegram shows them.
    const views = [...chat.messages.values()].filter((v) => !v.deleted)
      .sort((a, b) => a.message_id - b.message_id);
    const blocks = [];
    for (const view of views) {
      const last = blocks[blocks.length - 1];
      if (view.media_group_id && last && last.group === view.media_group_id) {
        last.items.push(view);
      } else {
        blocks.push({
          key: view.media_group_id ? `g${view.media_group_id}` : `m${view.message_id}`,
          group: view.media_group_id,
          items: [view],
        });
      }
    }

    // Reuse unchanged blocks so pictures are not reloaded on every event.
    const keep = new Set();
    blocks.forEach((block, index) => {
      const signature = JSON.stringify(block.items);
      let entry = state.blocks.get(block.key);
      if (!entry || entry.signature !== signature) {
        const element = buildBlock(block);
        if (entry) entry.element.replaceWith(element);
        entry = { signature, element };
        state.blocks.set(block.key, entry);
      }
      keep.add(block.key);
      if (container.children[index] !== entry.element) {
        container.insertBefore(entry.element, container.children[index] || null);
      }
    });
    for (const [key, entry] of state.blocks) {
      if (!keep.has(key)) { entry.element.remove(); state.blocks.delete(key); }
    }
    if (scrollToEnd || nearBottom) container.scrollTop = container.scrollHeight;
    renderReplyKeyboard();
  }

  function buildBlock(block) {
    const first = block.items[0];
    const wrapper = el("div", `msg ${first.from_bot ? "bot" : "user"}`);
    wrapper.dataset.messageId = first.message_id;
    const bubble = el("div", "bubble");
    wrapper.appendChild(bubble);

    if (block.group) {
      bubble.classList.add("media");
      const photos = block.items.filter((v) => v.photo);
      if (photos.length) {
        const album = el("div", "album");
        for (const view of photos) {
          const figure = el("figure");
          figure.dataset.messageId = view.message_id;
          figure.appendChild(photoElement(view.photo));
          album.appendChild(figure);
        }
        bubble.appendChild(album);
      }
      for (const view of block.items.filter((v) => !v.photo)) bubble.appendChild(attachment(view));
      const captioned = block.items.find((v) => v.caption);
      if (captioned) {
        const caption = el("div", "caption");
        caption.appendChild(renderEntities(captioned.caption, captioned.caption_entities));
        bubble.appendChild(caption);
      }
    } else {
      fillBubble(bubble, first);
      if (first.inline_keyboard && first.inline_keyboard.length) {
        wrapper.appendChild(inlineKeyboard(first));
      }
    }
    const edited = block.items.some((v) => v.edited);
    wrapper.appendChild(el("div", "meta", `${timeOf(first.date)}${edited ? " · 已编辑" : ""}`));
    return wrapper;
  }

  function photoElement(photo) {
    const image = el("img", "photo");
    image.src = photo.url;
    image.alt = "图片";
    image.width = photo.width;
    image.height = photo.height;
    image.loading = "lazy";
    image.addEventListener("load", () => {
      const container = $("#messages");
      if (container.scrollHeight - container.scrollTop - container.clientHeight < 400) {
        container.scrollTop = container.scrollHeight;
      }
    });
    image.addEventListener("click", () => {
      $("#lightbox img").src = photo.url;
      $("#lightbox").hidden = false;
    });
    return image;
  }

  function attachment(view) {
    if (view.voice) {
      const voice = el("div", "voice");
      const seconds = view.voice.duration || 0;
      voice.appendChild(el("span", null, `🎤 ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`));
      const player = document.createElement("audio");
      player.controls = true;
      player.preload = "none";
      player.src = view.voice.url;
      voice.appendChild(player);
      return voice;
    }
    if (view.document) {
      const link = el("a", "doc");
      link.href = view.document.url;
      link.download = view.document.file_name || "file";
      link.appendChild(icon("doc", "doc-icon"));
      const about = el("span");
      about.append(el("div", null, view.document.file_name), el("div", "doc-size", sizeOf(view.document.file_size)));
      link.appendChild(about);
      return link;
    }
    if (view.location) {
      const place = el("div", "place");
      place.append(icon("pin", "pin"), el("span", null,
        `位置\n${view.location.latitude.toFixed(5)}, ${view.location.longitude.toFixed(5)}`));
      return place;
    }
    if (view.contact) {
      const place = el("div", "place");
      const name = [view.contact.first_name, view.contact.last_name].filter(Boolean).join(" ");
      place.append(icon("contact", "pin"), el("span", null, `${name}\n${view.contact.phone_number}`));
      return place;
    }
    return el("span", "muted", "[暂不支持显示的消息]");
  }

  function fillBubble(bubble, view) {
    if (view.forwarded_from) bubble.appendChild(el("div", "forwarded", `转发自 ${view.forwarded_from}`));
    if (view.reply_to) bubble.appendChild(el("div", "quote", view.reply_to.text || "…"));
    if (view.photo) {
      bubble.classList.add("media");
      bubble.appendChild(photoElement(view.photo));
    } else if (view.voice || view.document || view.location || view.contact) {
      bubble.appendChild(attachment(view));
    }
    if (view.text !== null && view.text !== undefined) {
      const text = el("div", "text");
      text.appendChild(renderEntities(view.text, view.entities));
      bubble.appendChild(text);
    }
    if (view.caption) {
      const caption = el("div", "caption");
      caption.appendChild(renderEntities(view.caption, view.caption_entities));
      bubble.appendChild(caption);
    }
  }

  function inlineKeyboard(view) {
    const keyboard = el("div", "inline-keyboard");
    for (const row of view.inline_keyboard) {
      const line = el("div", "kb-row");
      for (const button of row) {
        const node = el("button", "inline-btn", button.text);
        node.type = "button";
        if (button.url) {
          node.classList.add("url");
          node.addEventListener("click", () => window.open(button.url, "_blank", "noopener"));
        } else if (button.callback_data !== undefined) {
          node.addEventListener("click", () => pressInline(view.message_id, button, node));
        } else {
          node.addEventListener("click", () => toast("演示里不支持这种按钮"));
        }
        line.appendChild(node);
      }
      keyboard.appendChild(line);
    }
    return keyboard;
  }

  function renderReplyKeyboard() {
    const chat = state.chats.get(state.current);
    const panel = $("#reply-keyboard");
    const markup = chat && chat.reply_keyboard;
    panel.replaceChildren();
    $("#composer-input").placeholder = (markup && markup.input_field_placeholder) || "输入消息…";
    if (!markup || !markup.keyboard) { panel.hidden = true; return; }
    for (const row of markup.keyboard) {
      const line = el("div", "kb-row");
      for (const button of row) {
        const node = el("button", "reply-btn");
        node.type = "button";
        if (button.request_location) node.appendChild(icon("pin"));
        if (button.request_contact) node.appendChild(icon("phone"));
        node.appendChild(document.createTextNode(button.text));
        node.addEventListener("click", () => pressReply(button));
        line.appendChild(node);
      }
      panel.appendChild(line);
    }
    panel.hidden = false;
  }

  // ---------------------------------------------------------------- acting

  async function run(action) {
    try {
      await action();
    } catch (error) {
      toast(`发送失败：${error.message}`);
    }
  }

  function sendText(text) {
    const trimmed = (text || "").trim();
    if (!trimmed || state.current === null) return;
    return run(() => postJSON(chatPath("text"), { text: trimmed }));
  }

  async function pressInline(messageId, button, node) {
    node.classList.add("busy");
    const previous = state.pressing.get(messageId);
    if (previous) clearTimeout(previous.timer);
    const timer = setTimeout(() => node.classList.remove("busy"), 10000);
    state.pressing.set(messageId, { node, timer });
    try {
      await postJSON(chatPath("press"), { message_id: messageId, data: button.callback_data });
    } catch (error) {
      clearTimeout(timer);
      node.classList.remove("busy");
      state.pressing.delete(messageId);
      pressFailed(error);
    }
  }

  // A button the bot has removed (this page missed the update): say so, then show the chat as it is.
  function pressFailed(error) {
    if (!error.stale) { toast(`发送失败：${error.message}`); return; }
    toast(error.message);
    if (state.current !== null) loadChat(state.current).catch(() => {});
  }

  async function pressReply(button) {
    if (button.request_location) { openPanel("#map-panel"); drawMap(); return; }
    if (button.request_contact) { shareContact(); return; }
    try {
      await postJSON(chatPath("press"), { label: button.text });
    } catch (error) {
      pressFailed(error);
    }
  }

  function shareContact() {
    if (!window.confirm("把您的手机号分享给机器人吗？")) return;
    run(() => postJSON(chatPath("contact"), {}));
  }

  // "照片" sends pictures as photos (several as one album); "文件" sends anything as a document,
  // as Telegram's "send as file" does.
  function upload(files, kind) {
    if (!files || !files.length || state.current === null) return;
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    const caption = $("#composer-input").value.trim();
    if (caption) form.append("caption", caption);
    $("#composer-input").value = "";
    closePanels();
    toast(files.length > 1 ? `正在发送 ${files.length} 个文件…` : "正在发送…");
    run(async () => {
      await api(chatPath(kind), { method: "POST", body: form });
      $("#toast").hidden = true; // the pictures now show in the chat
    });
  }

  // A voice note: "示例语音" sends the OGG sample the demo ships; the 🎤 button records from the
  // microphone (MediaRecorder) while held down or until pressed again, then sends it with its length.
  function sendSampleVoice() {
    closePanels();
    run(() => postJSON(chatPath("voice"), {}));
  }

  const recording = { recorder: null, chunks: [], started: 0 };

  async function toggleRecording() {
    if (state.current === null) return;
    if (recording.recorder) { recording.recorder.stop(); return; }
    if (!navigator.mediaDevices || !window.MediaRecorder) { sendSampleVoice(); return; }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      toast("无法使用麦克风，改发示例语音");
      sendSampleVoice();
      return;
    }
    const type = ["audio/ogg;codecs=opus", "audio/webm;codecs=opus"].find((t) => MediaRecorder.isTypeSupported(t));
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    recording.recorder = recorder;
    recording.chunks = [];
    recording.started = Date.now();
    $("#mic-button").classList.add("recording");
    toast("正在录音… 再按一次 🎤 发送");
    recorder.addEventListener("dataavailable", (event) => recording.chunks.push(event.data));
    recorder.addEventListener("stop", () => {
      stream.getTracks().forEach((track) => track.stop());
      $("#mic-button").classList.remove("recording");
      const seconds = Math.max(1, Math.round((Date.now() - recording.started) / 1000));
      const blob = new Blob(recording.chunks, { type: recorder.mimeType || "audio/ogg" });
      recording.recorder = null;
      const form = new FormData();
      form.append("duration", String(seconds));
      form.append("file", blob, "voice.ogg");
      run(() => api(chatPath("voice"), { method: "POST", body: form }));
    });
    recorder.start();
  }

  // ---------------------------------------------------------------- panels

  function closePanels() {
    for (const id of ["#attach-panel", "#map-panel", "#menu-panel"]) $(id).hidden = true;
    $("#reply-keyboard").classList.remove("folded");
  }

  function openPanel(id) {
    const wasOpen = !$(id).hidden;
    closePanels();
    $(id).hidden = wasOpen;
    // On a small screen the open panel needs the room the reply keyboard takes.
    $("#reply-keyboard").classList.toggle("folded", !wasOpen);
  }

  async function openMenu() {
    const opening = $("#menu-panel").hidden;
    renderMenu();
    openPanel("#menu-panel");
    if (opening) await refreshMenu();
  }

  // The menu as the bot set it for this person now (it grows when they register).
  async function refreshMenu() {
    const userId = state.current;
    if (userId === null) return;
    const { commands } = await api(`api/chats/${userId}/commands`);
    const chat = state.chats.get(userId);
    if (!chat) return;
    const changed = JSON.stringify(chat.commands) !== JSON.stringify(commands);
    chat.commands = commands;
    if (changed && state.current === userId && !$("#menu-panel").hidden) renderMenu();
  }

  function renderChatTitle() {
    const persona = state.personas.find((p) => p.user_id === state.current);
    if (!persona) return;
    $("#chat-name").textContent = `${persona.name}${persona.role_label ? " · " + persona.role_label : ""}`;
  }

  // Labels ("新用户（未登记）" → "居民") and the open chat's menu, re-read from the server.
  async function refreshPeople() {
    try {
      const listed = await api("api/personas");
      let changed = false;
      for (const fresh of listed) {
        const persona = state.personas.find((p) => p.user_id === fresh.user_id);
        if (persona && persona.role_label !== fresh.role_label) {
          persona.role_label = fresh.role_label;
          changed = true;
        }
      }
      if (changed) { renderPersonas(); renderChatTitle(); }
      await refreshMenu();
    } catch (_) { /* the server is restarting: the next refresh will do */ }
  }

  function refreshSoon() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(refreshPeople, REFRESH_AFTER_REPLY_MS);
  }

  function renderMenu() {
    const chat = state.chats.get(state.current);
    const list = $("#command-list");
    list.replaceChildren();
    const commands = (chat && chat.commands) || [];
    if (!commands.length) list.appendChild(el("div", "panel-title", "机器人还没有设置菜单，可以直接输入 /start"));
    for (const command of commands) {
      const item = el("button", "command-item");
      item.type = "button";
      item.append(el("b", null, `/${command.command}`), el("span", null, command.description));
      item.addEventListener("click", () => { closePanels(); sendText(`/${command.command}`); });
      list.appendChild(item);
    }
  }

  // A plain coordinate box around the configured centre: no map tiles offline.
  function mapGeometry() {
    const canvas = $("#map-canvas");
    const map = state.config.map;
    const latSpan = map.span;
    const lonSpan = map.span * (canvas.width / canvas.height) / Math.cos(map.center[0] * Math.PI / 180);
    return { canvas, map, latSpan, lonSpan };
  }

  function toCanvas(lat, lon) {
    const { canvas, map, latSpan, lonSpan } = mapGeometry();
    return [
      (lon - (map.center[1] - lonSpan)) / (2 * lonSpan) * canvas.width,
      ((map.center[0] + latSpan) - lat) / (2 * latSpan) * canvas.height,
    ];
  }

  function drawMap() {
    const { canvas, map } = mapGeometry();
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#f4f1e8";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#ddd6c4";
    ctx.lineWidth = 1;
    for (let i = 1; i < 8; i += 1) {
      const x = (canvas.width / 8) * i;
      const y = (canvas.height / 8) * i;
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, canvas.height); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(canvas.width, y); ctx.stroke();
    }
    const [cx, cy] = toCanvas(map.center[0], map.center[1]);
    ctx.strokeStyle = "#b0a890";
    ctx.beginPath(); ctx.moveTo(cx - 12, cy); ctx.lineTo(cx + 12, cy); ctx.moveTo(cx, cy - 12); ctx.lineTo(cx, cy + 12); ctx.stroke();
    ctx.font = "22px sans-serif";
    for (const point of map.points || []) {
      const [x, y] = toCanvas(point.latitude, point.longitude);
      ctx.fillStyle = "#2a6fb0";
      ctx.beginPath(); ctx.arc(x, y, 7, 0, Math.PI * 2); ctx.fill();
      ctx.fillStyle = "#1a1a1a";
      ctx.fillText(point.label, x + 10, y + 7);
    }
    ctx.fillStyle = "#6b6b6b";
    ctx.font = "18px sans-serif";
    ctx.fillText("北 ↑", canvas.width - 56, 26);
    if (state.marker) {
      const [x, y] = toCanvas(state.marker[0], state.marker[1]);
      ctx.fillStyle = "#c8161d";
      ctx.beginPath();
      ctx.arc(x, y - 22, 12, Math.PI, 0);
      ctx.lineTo(x, y);
      ctx.closePath();
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.beginPath(); ctx.arc(x, y - 22, 5, 0, Math.PI * 2); ctx.fill();
    }
  }

  function setMarker(lat, lon, fillInputs) {
    state.marker = [lat, lon];
    if (fillInputs) {
      $("#lat-input").value = lat.toFixed(6);
      $("#lon-input").value = lon.toFixed(6);
    }
    drawMap();
  }

  function mapClicked(event) {
    const { canvas, map, latSpan, lonSpan } = mapGeometry();
    const rect = canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * canvas.width;
    const y = ((event.clientY - rect.top) / rect.height) * canvas.height;
    const lon = map.center[1] - lonSpan + (x / canvas.width) * 2 * lonSpan;
    const lat = map.center[0] + latSpan - (y / canvas.height) * 2 * latSpan;
    setMarker(lat, lon, true);
  }

  function sendLocation() {
    const lat = parseFloat($("#lat-input").value);
    const lon = parseFloat($("#lon-input").value);
    if (Number.isNaN(lat) || Number.isNaN(lon)) { toast("请先在图上点一下，或填写纬度和经度"); return; }
    closePanels();
    run(() => postJSON(chatPath("location"), { latitude: lat, longitude: lon }));
  }

  // ---------------------------------------------------------------- live events

  function showStatus(text) {
    const status = $("#chat-status");
    status.textContent = text;
    status.classList.add("typing");
    clearTimeout(state.statusTimer);
    state.statusTimer = setTimeout(resetStatus, 4000);
  }

  function resetStatus() {
    const status = $("#chat-status");
    status.classList.remove("typing");
    status.replaceChildren("与「", el("span", null, state.config.bot.name), "」的对话");
  }

  function handleEvent(event) {
    const chat = state.chats.get(event.chat_id);
    const persona = state.personas.find((p) => p.user_id === event.chat_id);
    const isCurrent = event.chat_id === state.current;
    switch (event.kind) {
      case "message":
      case "edited":
      case "deleted": {
        if (chat) mergeMessage(chat, event.message);
        if (persona && event.kind !== "deleted") persona.last_text = preview(event.message);
        if (event.kind === "message" && event.message.from_bot) {
          refreshSoon();
          if (isCurrent) resetStatus();
          else state.unread.set(event.chat_id, (state.unread.get(event.chat_id) || 0) + 1);
        }
        if (isCurrent) renderChat(event.kind === "message" && !event.message.from_bot);
        renderPersonas();
        break;
      }
      case "keyboard":
        if (chat) chat.reply_keyboard = event.reply_keyboard;
        if (isCurrent) renderReplyKeyboard();
        break;
      case "callback_answer": {
        const pressing = state.pressing.get(event.answer.message_id);
        if (pressing) {
          clearTimeout(pressing.timer);
          pressing.node.classList.remove("busy");
          state.pressing.delete(event.answer.message_id);
        }
        if (!isCurrent) break;
        if (event.answer.text) {
          if (event.answer.show_alert) showAlert(event.answer.text);
          else toast(event.answer.text);
        }
        if (event.answer.url) toast(`链接：${event.answer.url}`);
        break;
      }
      case "chat_action":
        if (isCurrent) showStatus(ACTION_TEXT[event.action] || "对方正在处理…");
        break;
      default:
        break;
    }
  }

  function connectEvents() {
    const source = new EventSource("api/events");
    source.onmessage = (message) => handleEvent(JSON.parse(message.data));
    // After a reconnect some events may be missed: reload the open chat.
    source.addEventListener("ready", () => {
      if (state.current !== null) loadChat(state.current);
    });
  }

  // ---------------------------------------------------------------- start

  function bindControls() {
    const input = $("#composer-input");
    $("#composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value;
      input.value = "";
      input.style.height = "";
      sendText(text);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("#composer").requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      input.style.height = "";
      input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
    });
    $("#attach-button").addEventListener("click", () => openPanel("#attach-panel"));
    $("#menu-button").addEventListener("click", openMenu);
    $("#pick-photo").addEventListener("click", () => $("#photo-input").click());
    $("#pick-file").addEventListener("click", () => $("#file-input").click());
    $("#pick-location").addEventListener("click", () => { openPanel("#map-panel"); drawMap(); });
    $("#pick-contact").addEventListener("click", () => { closePanels(); shareContact(); });
    $("#pick-voice").addEventListener("click", sendSampleVoice);
    $("#mic-button").addEventListener("click", toggleRecording);
    for (const [id, kind] of [["#photo-input", "files"], ["#file-input", "document"]]) {
      $(id).addEventListener("change", (event) => {
        upload([...event.target.files], kind);
        event.target.value = "";
      });
    }
    $("#map-canvas").addEventListener("click", mapClicked);
    for (const id of ["#lat-input", "#lon-input"]) {
      $(id).addEventListener("input", () => {
        const lat = parseFloat($("#lat-input").value);
        const lon = parseFloat($("#lon-input").value);
        if (!Number.isNaN(lat) && !Number.isNaN(lon)) setMarker(lat, lon, false);
      });
    }
    $("#map-send").addEventListener("click", sendLocation);
    $("#map-cancel").addEventListener("click", closePanels);
    $("#back-button").addEventListener("click", backToList);
    $("#alert-ok").addEventListener("click", () => { $("#alert").hidden = true; });
    $("#lightbox").addEventListener("click", () => { $("#lightbox").hidden = true; });
  }

  async function start() {
    for (const holder of document.querySelectorAll("[data-icon]")) {
      holder.appendChild(icon(holder.dataset.icon));
    }
    bindControls();
    state.config = await api("api/config");
    document.title = state.config.title;
    $("#title").textContent = state.config.title;
    $("#bot-name").textContent = state.config.bot.name;
    $("#door-sheet").hidden = !state.config.door_sheet;
    state.personas = await api("api/personas");
    renderPersonas();
    connectEvents();
    setInterval(refreshPeople, REFRESH_EVERY_MS);
    const fromHash = parseInt(location.hash.slice(1), 10);
    if (!Number.isNaN(fromHash)) selectPersona(fromHash);
  }

  start().catch((error) => toast(`加载失败：${error.message}`));
})();
