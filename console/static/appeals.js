// 诉求 page: filters → /api/appeals (queue order: urgent first, then the nearest deadline); a row
// opens the drawer, whose step buttons are only the steps this staff member may take now (the
// API refuses any other with the workflow's reason, shown in the drawer).
"use strict";

const PAGE_SIZE = 50;
let offset = 0;

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fill(select, options) {
  for (const option of options) select.append(h("option", { value: option.value }, option.label));
}

function filterQuery() {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(document.getElementById("filters"))) {
    if (value.trim()) params.append(key, value.trim());
  }
  return params;
}

function short(text, limit = 30) {
  const flat = text.split(/\s+/).join(" ");
  return flat.length <= limit ? flat : flat.slice(0, limit) + "…";
}

async function load() {
  const params = filterQuery();
  document.getElementById("csv").href = "/api/appeals.csv?" + params;
  params.set("limit", PAGE_SIZE);
  params.set("offset", offset);
  const page = await api("GET", "/api/appeals?" + params);
  document.getElementById("rows").replaceChildren(...page.items.map((a) => h("tr", {
    "data-reference": a.reference, onclick: () => openAppeal(a.reference),
  },
    h("td", {}, a.reference), h("td", {}, a.urgent ? h("span", { class: "tag tag-urgent" }, "紧急") : ""), h("td", {}, a.category_label),
    h("td", {}, a.status_label),
    h("td", {}, a.deadline || "未定", a.overdue ? h("span", { class: "tag tag-overdue" }, "超期") : ""),
    h("td", {}, a.assignee_label || "—"), h("td", {}, a.town), h("td", {}, a.name), h("td", {}, a.phone),
    h("td", {}, short(a.description)))));
  document.getElementById("summary").textContent = page.total ? `共 ${page.total} 件` : "没有符合条件的诉求。";
  const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
  document.getElementById("page").textContent = `第 ${offset / PAGE_SIZE + 1} / ${pages} 页`;
  document.getElementById("prev").disabled = offset === 0;
  document.getElementById("next").disabled = offset + PAGE_SIZE >= page.total;
}

async function openAppeal(reference, message) {
  renderDrawer(await api("GET", "/api/appeals/" + encodeURIComponent(reference)), message);
}

async function act(reference, path, body) {
  try {
    const appeal = await api("POST", `/api/appeals/${encodeURIComponent(reference)}/${path}`, body);
    renderDrawer(appeal, { text: "已保存。", ok: true });
    load();
  } catch (error) {
    await openAppeal(reference, { text: error.message || String(error), ok: false });
  }
}

function renderDrawer(a, message) {
  const drawer = document.getElementById("drawer");
  document.querySelectorAll("#rows tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.reference === a.reference));
  const field = (label, value) => [h("dt", {}, label), h("dd", {}, value || "—")];
  const dispatch = a.next_steps.filter((s) => s.assignee_required);
  const steps = a.next_steps.filter((s) => !s.assignee_required);
  drawer.replaceChildren(...[
    h("button", { type: "button", class: "btn btn-quiet btn-small close", onclick: () => { drawer.hidden = true; } }, "关闭"),
    h("h2", {}, `诉求 ${a.reference}（${a.status_label}）`),
    message ? h("p", { class: message.ok ? "result-ok" : "error-text", role: "status" }, message.text) : null,
    h("dl", {},
      field("紧急", a.urgent ? h("span", { class: "tag tag-urgent" }, `紧急（${a.urgent_signals.join("、")}）`) : "否"),
      field("分类", a.category_label),
      field("期限", (a.deadline || "未定") + (a.overdue ? "（已超期）" : "")),
      field("承办", a.assignee_label), field("姓名", a.name), field("手机", a.phone), field("镇村", a.town),
      field("要上门", a.visit_wanted ? "是" : "否"), field("渠道", a.channel), field("登记时间", a.created_at),
      field("诉求内容", a.description), field("老兵看到", a.told)),
    steps.length ? stepForm(a, steps) : null,
    dispatch.length ? assignForm(a, dispatch[0]) : null,
    a.can_extend ? extendForm(a) : null,
    a.status !== "closed" ? noteForm(a) : null,
    h("h3", {}, "记录"),
    h("ol", { class: "events" }, a.events.map((e) => h("li", {}, `${e.at}  ${e.actor}（${e.role}）  ${e.text}`))),
  ].filter(Boolean));  // absent parts are null
  drawer.hidden = false;
}

function stepForm(a, steps) {
  const note = h("textarea", { name: "note", maxlength: 2000, placeholder: "说明（退单、重办要写原因；答复写答复内容）" });
  return h("form", { class: "steps", onsubmit: (event) => event.preventDefault() },
    h("strong", {}, "办理下一步"), note,
    h("div", { class: "actions" }, steps.map((s) => h("button", {
      type: "button", class: "btn", "data-state": s.to_state,
      onclick: () => act(a.reference, "transition", { to_state: s.to_state, note: note.value.trim() || null }),
    }, `${s.name} → ${s.label}`))));
}

function assignForm(a, step) {
  const form = h("form", { class: "assign" },
    h("strong", {}, `${step.name}（→ ${step.label}）`), " ",
    h("input", { name: "assignee", list: "stations", required: true, maxlength: 64, placeholder: "承办：服务站、镇名、科室或人员" }), " ",
    h("input", { name: "note", maxlength: 2000, placeholder: "说明（可不填）" }), " ",
    h("button", { type: "submit", class: "btn btn-primary" }, step.name));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(a.reference, "assign", { assignee: form.assignee.value.trim(), note: form.note.value.trim() || null });
  });
  return form;
}

function extendForm(a) {
  const form = h("form", { class: "extend" },
    h("strong", {}, "延期（会告诉老兵原因）"), " ",
    h("input", { type: "number", name: "days", min: 1, max: 10, value: 3, required: true }), " 个工作日 ",
    h("input", { name: "reason", required: true, maxlength: 500, placeholder: "延期原因" }), " ",
    h("button", { type: "submit", class: "btn btn-primary" }, "批准延期"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(a.reference, "extend", { days: Number(form.days.value), reason: form.reason.value.trim() });
  });
  return form;
}

function noteForm(a) {
  const form = h("form", { class: "note" },
    h("strong", {}, "添加工作人员记录（如老兵来电补充；只记录，不通知承办人）"),
    h("textarea", { name: "text", required: true, maxlength: 2000 }),
    h("button", { type: "submit", class: "btn btn-primary" }, "保存记录"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(a.reference, "notes", { text: form.text.value.trim() });
  });
  return form;
}

document.addEventListener("DOMContentLoaded", async () => {
  const options = await api("GET", "/api/appeal-options");
  const form = document.getElementById("filters");
  fill(form.status, options.states);
  fill(form.category, options.categories);
  fill(form.town, options.towns);
  fill(document.getElementById("stations"), options.towns.map((t) => ({ value: t.label, label: t.value })));
  const query = new URLSearchParams(location.search);
  for (const name of ["status", "category", "town", "assignee"]) if (query.get(name)) form[name].value = query.get(name);
  for (const name of ["urgent", "overdue"]) form[name].checked = query.get(name) === "true";
  form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load(); });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); load(); });
  document.getElementById("next").addEventListener("click", () => { offset += PAGE_SIZE; load(); });
  await load();
  if (query.get("reference")) openAppeal(query.get("reference"));
});
