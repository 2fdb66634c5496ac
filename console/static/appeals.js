// 诉求 page: filters → /api/appeals (queue order: urgent first, then the nearest deadline); a row
// opens the drawer, whose step buttons are only the steps this staff member may take now (the
// API refuses any other with the workflow's reason, shown in the drawer). The list, the drawer and
// the changes are records.js's.
"use strict";

const urgentTag = (text) => h("span", { class: "tag tag-urgent" }, text);

const appeals = recordPage({
  path: "/api/appeals",
  cells: (a) => [
    a.reference, a.urgent ? urgentTag("紧急") : "", a.category_label, a.status_label,
    [a.deadline || "未定", a.overdue ? h("span", { class: "tag tag-overdue" }, "超期") : ""],
    a.assignee_label || "—", a.town, a.name, a.phone, short(a.description),
  ],
  summary: (total) => total ? `共 ${total} 件` : "没有符合条件的诉求。",
  render: renderDrawer,
});

function short(text, limit = 30) {
  const flat = text.split(/\s+/).join(" ");
  return flat.length <= limit ? flat : flat.slice(0, limit) + "…";
}

function renderDrawer(a, message) {
  const dispatch = a.next_steps.filter((s) => s.assignee_required);
  const steps = a.next_steps.filter((s) => !s.assignee_required);
  showDrawer({
    reference: a.reference, title: `诉求 ${a.reference}（${a.status_label}）`, message,
    fields: [
      ["紧急", a.urgent ? urgentTag(`紧急（${a.urgent_signals.join("、")}）`) : "否"],
      ["分类", a.category_label],
      ["期限", (a.deadline || "未定") + (a.overdue ? "（已超期）" : "")],
      ["承办", a.assignee_label], ["姓名", a.name], ["手机", a.phone], ["镇村", a.town],
      ["要上门", a.visit_wanted ? "是" : "否"], ["渠道", a.channel], ["登记时间", a.created_at],
      ["诉求内容", a.description], ["老兵看到", a.told],
    ],
    parts: [
      steps.length ? stepForm(a, steps) : null,
      dispatch.length ? assignForm(a, dispatch[0]) : null,
      a.can_extend ? extendForm(a) : null,
      a.status !== "closed" ? noteForm(a) : null,
    ],
    history: "记录",
    lines: a.events.map((e) => `${e.at}  ${e.actor}（${e.role}）  ${e.text}`),
  });
}

function stepForm(a, steps) {
  const note = h("textarea", { name: "note", maxlength: 2000, placeholder: "说明（退单、重办要写原因；答复写答复内容）" });
  return actionForm("steps", () => {},
    h("strong", {}, "办理下一步"), note,
    h("div", { class: "actions" }, steps.map((s) => h("button", {
      type: "button", class: "btn", "data-state": s.to_state,
      onclick: () => appeals.change(a.reference, "transition", { to_state: s.to_state, note: note.value.trim() || null }),
    }, `${s.name} → ${s.label}`))));
}

function assignForm(a, step) {
  return actionForm("assign",
    (form) => appeals.change(a.reference, "assign", { assignee: form.assignee.value.trim(), note: form.note.value.trim() || null }),
    h("strong", {}, `${step.name}（→ ${step.label}）`), " ",
    h("input", { name: "assignee", list: "stations", required: true, maxlength: 64, placeholder: "承办：服务站、镇名、科室或人员" }), " ",
    h("input", { name: "note", maxlength: 2000, placeholder: "说明（可不填）" }), " ",
    h("button", { type: "submit", class: "btn btn-primary" }, step.name));
}

function extendForm(a) {
  return actionForm("extend",
    (form) => appeals.change(a.reference, "extend", { days: Number(form.days.value), reason: form.reason.value.trim() }),
    h("strong", {}, "延期（会告诉老兵原因）"), " ",
    h("input", { type: "number", name: "days", min: 1, max: 10, value: 3, required: true }), " 个工作日 ",
    h("input", { name: "reason", required: true, maxlength: 500, placeholder: "延期原因" }), " ",
    h("button", { type: "submit", class: "btn btn-primary" }, "批准延期"));
}

function noteForm(a) {
  return actionForm("note",
    (form) => appeals.change(a.reference, "notes", { text: form.text.value.trim() }),
    h("strong", {}, "添加工作人员记录（如老兵来电补充；只记录，不通知承办人）"),
    h("textarea", { name: "text", required: true, maxlength: 2000 }),
    h("button", { type: "submit", class: "btn btn-primary" }, "保存记录"));
}

document.addEventListener("DOMContentLoaded", () => appeals.start("/api/appeal-options",
  { status: "states", category: "categories", town: "towns" }, (options, query) => {
    const form = document.getElementById("filters");
    fill(document.getElementById("stations"), options.towns.map((t) => ({ value: t.label, label: t.value })));
    for (const name of ["status", "category", "town", "assignee"]) if (query.get(name)) form[name].value = query.get(name);
    for (const name of ["urgent", "overdue"]) form[name].checked = query.get(name) === "true";
  }));
