// entrasync console: the few things a server-rendered page cannot do alone.
// Test Connection and Sync now call the REST API (session cookie + X-CSRF-Token) and report in a
// toast in the upper right corner; Save is enabled only when the form differs from what is saved.
"use strict";

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";
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
}

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
for (const button of document.querySelectorAll("[data-open-dialog]")) {
  button.addEventListener("click", () => document.getElementById(button.dataset.openDialog).showModal());
}
for (const button of document.querySelectorAll("[data-close-dialog]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}
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
const TEST_FIELDS = ["tenant", "cloud", "profile_id"];
for (const button of document.querySelectorAll("[data-test-connection]")) {
  button.addEventListener("click", async () => {
    const form = button.form;
    clearFieldErrors(form, TEST_FIELDS);
    const body = {};
    for (const field of TEST_FIELDS) body[field] = form.elements.namedItem(field).value;
    setBusy(button, true, "Testing…");
    try {
      const result = await api("POST", "/api/v1/tenants/test-connection", body);
      if (result.ok && result.data.ok) {
        toast("success", `Connection successful: ${result.data.message}`);
      } else if (result.ok) {
        toast("error", `Connection failed: ${result.data.message}`);
      } else {
        if (result.data.field && TEST_FIELDS.includes(result.data.field)) {
          showFieldError(form, result.data.field, result.data.message);
        }
        toast("error", `Connection failed: ${result.data.message}`);
      }
    } finally {
      setBusy(button, false);
    }
  });
}

// -- Save is enabled only when something changed ----------------------------------------------
function currentValue(input) {
  return input.type === "checkbox" ? String(input.checked) : input.value;
}

for (const form of document.querySelectorAll("form[data-save-when-changed]")) {
  const save = form.querySelector("[data-save]");
  const inputs = [...form.querySelectorAll("input:not([type=hidden]):not([readonly]), select, textarea")];
  const initial = new Map(
    inputs.map((input) => [input, input.dataset.initial ?? (input.type === "checkbox" ? String(input.defaultChecked) : input.defaultValue)]),
  );
  const refresh = () => {
    save.disabled = !inputs.some((input) => currentValue(input) !== initial.get(input));
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
  refresh();
}

// -- Rows per page -----------------------------------------------------------------------------
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.submit());
}

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
  const purge = event.target.closest("#purge_history");
  if (purge) {
    for (const note of purge.form.querySelectorAll("[data-purge-shows]")) {
      note.hidden = (note.dataset.purgeShows === "on") !== purge.checked;
    }
  }
});
