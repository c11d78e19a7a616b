// entrasync console: the few things a server-rendered page cannot do alone.
// Test Connection and Sync now call the REST API (session cookie + X-CSRF-Token) and report in a
// toast in the upper right corner; Save is enabled only when the form differs from what is saved.
"use strict";

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";
// The live parts as the server rendered them, taken before any script touches the page.
const liveSeen = new Map([...document.querySelectorAll("[data-live][id]")].map((part) => [part.id, part.outerHTML]));
const TOAST_MS = 10000;

function toast(kind, text) {
  const region = document.getElementById("toasts");
  const box = document.createElement("div");
  box.className = `toast ${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  const span = document.createElement("span");
  span.className = "toast-text";
  span.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => dismiss(box));
  box.append(span, close);
  region.append(box);
  raiseToasts();
  setTimeout(() => dismiss(box), TOAST_MS);
}

// The region is a popover so it sits above an open modal dialog (both live in the top layer;
// showing it again moves it to the top).
function raiseToasts() {
  const region = document.getElementById("toasts");
  if (region.matches(":popover-open")) region.hidePopover();
  if (region.children.length) region.showPopover();
  placeToasts();
}

// Toasts sit in the upper right corner, but never over a button the user may need next (Sync
// now, Delete, Add...): elements marked [data-toast-avoid] push the stack down below them.
function placeToasts() {
  const region = document.getElementById("toasts");
  if (!region.children.length) return;
  const header = document.querySelector(".topbar");
  let top = (header ? header.getBoundingClientRect().bottom : 0) + 8;
  region.style.top = `${top}px`;
  const box = region.getBoundingClientRect();
  const avoid = [...document.querySelectorAll("[data-toast-avoid]")]
    .filter((element) => element.getClientRects().length && !element.closest("dialog:not([open])"))
    .map((element) => element.getBoundingClientRect())
    .sort((a, b) => a.top - b.top);
  for (const rect of avoid) {
    const across = rect.right > box.left && rect.left < box.right;
    if (across && rect.bottom > top && rect.top < top + box.height) top = rect.bottom + 8;
  }
  region.style.top = `${top}px`;
}
window.addEventListener("resize", placeToasts, { passive: true });
window.addEventListener("scroll", placeToasts, { passive: true });

function dismiss(box) {
  box.remove();
  raiseToasts();
}

async function api(method, url, body) {
  const headers = { "x-csrf-token": csrfToken, accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    return { ok: false, status: 0, data: { message: "The console did not answer." } };
  }
  let data = null;
  try {
    data = await response.json();
  } catch (error) {
    data = { message: `HTTP ${response.status}` };
  }
  if (response.status === 401) window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
  return { ok: response.ok, status: response.status, data };
}

function showFieldError(form, field, message) {
  const slot = form.querySelector(`#${CSS.escape(field)}-error`);
  const input = form.elements.namedItem(field);
  if (slot) {
    slot.textContent = message;
    slot.hidden = false;
  }
  if (input && input.setAttribute) input.setAttribute("aria-invalid", "true");
}

function clearFieldErrors(form, fields) {
  for (const field of fields) {
    const slot = form.querySelector(`#${CSS.escape(field)}-error`);
    const input = form.elements.namedItem(field);
    if (slot) {
      slot.textContent = "";
      slot.hidden = true;
    }
    if (input && input.removeAttribute) input.removeAttribute("aria-invalid");
  }
}

function setBusy(button, busy, label) {
  button.disabled = busy;
  button.setAttribute("aria-busy", busy ? "true" : "false");
  if (busy) {
    button.dataset.label = button.textContent;
    button.textContent = label;
  } else if (button.dataset.label) {
    button.textContent = button.dataset.label;
  }
}

// -- dialogs -------------------------------------------------------------------------------
// Delegated, so that parts of the page replaced by a live refresh keep working.
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open-dialog]");
  if (opener) document.getElementById(opener.dataset.openDialog).showModal();
  const closer = event.target.closest("[data-close-dialog]");
  if (closer) closer.closest("dialog").close();
});
for (const dialog of document.querySelectorAll("dialog[data-autoshow]")) {
  dialog.close();
  dialog.showModal();
  const firstError = dialog.querySelector('[aria-invalid="true"]');
  if (firstError) firstError.focus();
}
for (const dialog of document.querySelectorAll("dialog[data-close-to]")) {
  dialog.addEventListener("close", () => history.replaceState(null, "", dialog.dataset.closeTo));
}

// -- toasts rendered by the server ---------------------------------------------------------
for (const close of document.querySelectorAll(".toast-close")) {
  const box = close.closest(".toast");
  close.addEventListener("click", () => dismiss(box));
  setTimeout(() => dismiss(box), TOAST_MS);
}
raiseToasts();

// -- Test Connection -------------------------------------------------------------------------
const TEST_FIELDS = ["tenant", "cloud", "profile_id", "object_types"];
// Every empty field is named at once; a form check is not a failed connection.
const REQUIRED_FIELDS = {
  tenant: "Enter the tenant: a verified domain or the tenant ID.",
  profile_id: "Select a credential profile.",
};

function missingFields(form) {
  const missing = Object.keys(REQUIRED_FIELDS).filter((field) => !form.elements.namedItem(field).value.trim());
  for (const field of missing) showFieldError(form, field, REQUIRED_FIELDS[field]);
  return missing.map((field) => form.querySelector(`label[for="${field}"]`)?.textContent || field);
}

async function testConnection(button) {
  const form = button.form;
  clearFieldErrors(form, TEST_FIELDS);
  const missing = missingFields(form);
  if (missing.length) {
    toast("error", `Check the form: ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} missing.`);
    return;
  }
  const body = {};
  for (const field of ["tenant", "cloud", "profile_id"]) body[field] = form.elements.namedItem(field).value;
  // The types ticked now, saved or not (a form without the choice tests the default types).
  const typeBoxes = [...form.querySelectorAll("input[data-object-type]")];
  if (typeBoxes.length) body.object_types = typeBoxes.filter((box) => box.checked).map((box) => box.dataset.objectType);
  setBusy(button, true, "Testing…");
  try {
    const result = await api("POST", "/api/v1/tenants/test-connection", body);
    if (result.ok && result.data.ok) {
      toast("success", `Connection successful: ${result.data.message}`);
    } else if (result.ok) {
      toast("error", `Connection failed: ${result.data.message}`);
    } else if (result.status === 422) {
      if (result.data.field && TEST_FIELDS.includes(result.data.field)) {
        showFieldError(form, result.data.field, result.data.message);
      }
      toast("error", `Check the form: ${result.data.message}`);
    } else {
      toast("error", `Connection not tested: ${result.data.message}`);
    }
  } finally {
    setBusy(button, false);
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-test-connection]");
  if (button) testConnection(button);
});

// -- Save is enabled only when something changed ----------------------------------------------
function currentValue(input) {
  return input.type === "checkbox" ? String(input.checked) : input.value;
}

function editableInputs(form) {
  return [...form.querySelectorAll("input:not([type=hidden]):not([readonly]), select, textarea")];
}

function initialValue(input) {
  return input.dataset.initial ?? (input.type === "checkbox" ? String(input.defaultChecked) : input.defaultValue);
}

// The inputs whose value differs from what is stored (data-initial) or was first shown.
function editedInputs(form) {
  return editableInputs(form).filter((input) => currentValue(input) !== initialValue(input));
}

function watchForm(form) {
  const save = form.querySelector("[data-save]");
  const refresh = () => {
    save.disabled = editedInputs(form).length === 0;
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();
}

document.querySelectorAll("form[data-save-when-changed]").forEach(watchForm);

// -- Rows per page -----------------------------------------------------------------------------
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.submit());
}

// -- Live refresh ------------------------------------------------------------------------------
// Parts of a page marked [data-live] (each with an id) follow the stored state without a reload:
// the page re-reads its own URL every few seconds with If-None-Match (the console answers 304
// while nothing changed) and swaps each marked part whose HTML changed. Polling rather than a
// push channel: any console replica can answer, and the tag is a hash of the content.
// For other scripts: entrasync.live.on(id, update) takes over one part (update(current, fresh)
// returns true when it handled it), entrasync.live.refresh() refreshes now, and the document
// fires "entrasync:live" with detail.region after a part was replaced.
const LIVE_MS = 5000;
const liveUpdaters = new Map();
let liveTag = null;
let liveTimer = null;

function swapRegion(current, fresh) {
  const focused = current.contains(document.activeElement) ? document.activeElement.id : "";
  const replacement = document.importNode(fresh, true);
  current.replaceWith(replacement);
  liveSeen.set(replacement.id, fresh.outerHTML);
  if (focused) document.getElementById(focused)?.focus();
  document.dispatchEvent(new CustomEvent("entrasync:live", { detail: { region: replacement } }));
}

// Applies a freshly rendered page; true when a part had to be left as it is for now.
function applyLivePage(html) {
  const page = new DOMParser().parseFromString(html, "text/html");
  let heldBack = false;
  for (const current of document.querySelectorAll("[data-live][id]")) {
    const fresh = page.getElementById(current.id);
    if (!fresh || fresh.outerHTML === liveSeen.get(current.id)) continue;
    if (current.matches("dialog[open]") || current.querySelector("dialog[open]")) {
      heldBack = true;
      continue;
    }
    const custom = liveUpdaters.get(current.id);
    if (custom && custom(current, fresh)) {
      heldBack = heldBack || document.getElementById(current.id) === current;
      continue;
    }
    swapRegion(current, fresh);
  }
  return heldBack;
}

async function refreshLive() {
  clearTimeout(liveTimer);
  if (document.hidden) return;
  const headers = { accept: "text/html", "x-live-refresh": "1" };
  if (liveTag) headers["if-none-match"] = liveTag;
  try {
    const response = await fetch(location.href, { headers, credentials: "same-origin", cache: "no-store" });
    // Gone (404), or moved (a deleted tenant's page leads to its kept history): say so once and
    // stop. A redirect to the login page means the session ended: the next click shows it.
    const moved = response.redirected && !new URL(response.url).pathname.startsWith("/login");
    if (response.status === 404 || moved) {
      toast("error", "This was deleted elsewhere: reload the page to see what is kept.");
      return;
    }
    if (response.redirected) return;
    if (response.status === 200) {
      liveTag = response.headers.get("etag");
      // A part held back (an open dialog, unsaved edits) is offered again on the next round.
      if (applyLivePage(await response.text())) liveTag = null;
    }
  } catch (error) {
    // The console did not answer: try again on the next round.
  }
  liveTimer = setTimeout(refreshLive, LIVE_MS);
}

function describeValue(input) {
  if (input.type === "checkbox") return input.dataset.initial === "true" ? "on" : "off";
  if (input.tagName === "SELECT") {
    const option = [...input.options].find((o) => o.value === initialValue(input));
    return option ? option.textContent : initialValue(input);
  }
  return initialValue(input) || "(empty)";
}

// A form with unsaved edits whose record changed meanwhile: the untouched fields take the new
// stored values at once, the edits stay on top, and a notice says what changed, with one click
// to save the edits (or to drop them).
function offerRebase(current, fresh) {
  const form = current.querySelector("form[data-save-when-changed]");
  const next = fresh.querySelector("form[data-save-when-changed]");
  if (!form || !next || !editedInputs(form).length) return false;
  const version = next.elements.namedItem("version")?.value;
  if (version === form.elements.namedItem("version")?.value) return true;
  if (form.querySelector(`.stale-notice[data-version="${CSS.escape(version)}"]`)) return true;
  const changed = editableInputs(form)
    .map((input) => [input, next.elements.namedItem(input.name)])
    .filter(([input, other]) => other && initialValue(other) !== initialValue(input));
  form.querySelector(".stale-notice")?.remove();
  const notice = document.createElement("div");
  notice.className = "conflict stale-notice";
  notice.dataset.version = version;
  notice.setAttribute("role", "alert");
  const title = document.createElement("h3");
  title.textContent = "These settings changed while you were editing them";
  const list = document.createElement("ul");
  for (const [input, other] of changed) {
    const item = document.createElement("li");
    const label = form.querySelector(`label[for="${CSS.escape(input.id)}"]`)?.textContent || input.name;
    item.textContent = `${label}: ${describeValue(input)} → ${describeValue(other)}`;
    list.append(item);
  }
  const actions = document.createElement("div");
  actions.className = "actions";
  const apply = document.createElement("button");
  apply.type = "button";
  apply.className = "button primary";
  apply.textContent = "Apply my edits on top";
  apply.addEventListener("click", () => {
    notice.remove();
    form.requestSubmit();
  });
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "button secondary";
  discard.textContent = "Discard my edits";
  discard.addEventListener("click", () => swapRegion(current, fresh));
  actions.append(apply, discard);
  notice.append(title, list, actions);
  rebaseForm(form, next);
  form.prepend(notice);
  form.dispatchEvent(new Event("change"));
  return true;
}

// Takes the fresh record as the form's base: untouched inputs show its values, edited ones keep
// the user's, and the hidden version (and base_* values) become the fresh ones.
function rebaseForm(form, next) {
  for (const input of editableInputs(form)) {
    const other = next.elements.namedItem(input.name);
    if (!other) continue;
    const untouched = currentValue(input) === initialValue(input);
    if (untouched && input.type === "checkbox") input.checked = other.hasAttribute("checked");
    else if (untouched) input.value = other.value;
    input.dataset.initial = initialValue(other);
  }
  for (const hidden of next.querySelectorAll("input[type=hidden]")) {
    const mine = form.elements.namedItem(hidden.name);
    if (mine && hidden.name !== "csrf_token") mine.value = hidden.value;
  }
}

for (const part of document.querySelectorAll("[data-live][id]")) {
  if (part.querySelector("form[data-save-when-changed]")) liveUpdaters.set(part.id, offerRebase);
}
// The Sync History keeps the runs the user expanded open when new runs arrive.
liveUpdaters.set("history-rows", (current, fresh) => {
  const expanded = '[data-expand-run][aria-expanded="true"]';
  const open = new Set([...current.querySelectorAll(expanded)].map((button) => button.closest("tbody").dataset.run));
  swapRegion(current, fresh);
  for (const run of document.querySelectorAll("#history-rows tbody[data-run]")) {
    if (open.has(run.dataset.run)) run.querySelector("[data-expand-run]")?.click();
  }
  return true;
});
document.addEventListener("entrasync:live", (event) => {
  event.detail.region.querySelectorAll("form[data-save-when-changed]").forEach(watchForm);
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) refreshLive();
});
if (liveSeen.size) liveTimer = setTimeout(refreshLive, LIVE_MS);
window.entrasync = Object.assign(window.entrasync || {}, {
  live: { on: (id, update) => liveUpdaters.set(id, update), refresh: refreshLive },
});

// -- Sync now and the live status ------------------------------------------------------------
const statusLine = document.querySelector("[data-live-status]");
let pollTimer = null;

function describeStatus(status) {
  const last = status.last_sync;
  if (status.running) {
    const parts = status.run_rows.map((row) => `${row.object_type}: ${row.total} read, ${row.changed} changed`);
    return `Sync in progress${parts.length ? " — " + parts.join("; ") : "…"}`;
  }
  if (!last) return "Not synced yet";
  const started = last.last_sync_started_at.replace("T", " ").replace(/\.\d+/, "").replace(/(Z|\+00:00)$/, " UTC");
  return `Last sync ${last.last_sync_status}, started ${started}`;
}

async function pollStatus() {
  clearTimeout(pollTimer);
  const result = await api("GET", statusLine.dataset.liveStatus);
  let next = 10000;
  if (result.ok) {
    statusLine.textContent = describeStatus(result.data);
    statusLine.dataset.running = result.data.running ? "true" : "false";
    if (result.data.running) next = 1500;
  }
  pollTimer = setTimeout(pollStatus, next);
}

if (statusLine) pollTimer = setTimeout(pollStatus, 1000);

for (const button of document.querySelectorAll("[data-sync-now]")) {
  button.addEventListener("click", async () => {
    setBusy(button, true, "Starting…");
    try {
      const result = await api("POST", button.dataset.syncNow);
      if (result.ok && result.data.status === "deferred") {
        toast("success", "Sync queued: it starts when the run in progress ends.");
      } else if (result.ok) {
        toast("success", `Sync started (${result.data.mode || "sync"} run).`);
      } else {
        toast("error", `Sync not started: ${result.data.message}`);
      }
      if (statusLine) pollStatus();
    } finally {
      setBusy(button, false);
    }
  });
}

// -- Sync History: runs expand to their type rows; the changes-only toggle is remembered --------
// Delegated, so a table replaced by a live refresh keeps working.
const CHANGES_COOKIE = "entrasync_history_changes";

document.addEventListener("click", (event) => {
  const expander = event.target.closest("[data-expand-run]");
  if (!expander) return;
  const open = expander.getAttribute("aria-expanded") !== "true";
  expander.setAttribute("aria-expanded", String(open));
  for (const row of expander.closest("tbody").querySelectorAll("tr.type-row")) row.hidden = !open;
});

document.addEventListener("change", (event) => {
  const toggle = event.target.closest("[data-changes-toggle]");
  if (toggle) {
    // A year, path-wide: the choice holds for every tenant's history, after reloads too.
    document.cookie = `${CHANGES_COOKIE}=${toggle.checked ? "1" : "0"}; path=/; max-age=31536000; samesite=strict`;
    toggle.form.submit();
  }
  const submits = event.target.closest("[data-submit-on-change]");
  if (submits) submits.form.submit();
  const purge = event.target.closest("#purge_history");
  if (purge) {
    for (const note of purge.form.querySelectorAll("[data-purge-shows]")) {
      note.hidden = (note.dataset.purgeShows === "on") !== purge.checked;
    }
  }
});
