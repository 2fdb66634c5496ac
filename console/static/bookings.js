// 预约 page: filters → /api/bookings, a row opens the detail drawer, whose buttons are only the
// status changes the booking allows (the API refuses any other with its reason).
"use strict";

const PAGE_SIZE = 50;
const NOTICE = {
  wechat: "已通过微信通知老兵。",
  call: "老兵不是在微信上预约的：已列入待电话通知，请打电话告诉老兵。",
  none: "",
};
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

async function load() {
  const params = filterQuery();
  document.getElementById("csv").href = "/api/bookings.csv?" + params;
  params.set("limit", PAGE_SIZE);
  params.set("offset", offset);
  const page = await api("GET", "/api/bookings?" + params);
  const rows = document.getElementById("rows");
  rows.replaceChildren(...page.items.map((b) => h("tr", { class: "clickable", "data-reference": b.reference, onclick: () => openBooking(b.reference) },
    h("td", {}, b.reference), h("td", {}, b.date), h("td", {}, b.start_time), h("td", {}, b.location),
    h("td", {}, b.service), h("td", {}, b.name), h("td", {}, b.phone), h("td", {}, b.status_label))));
  document.getElementById("summary").textContent = page.total ? `共 ${page.total} 条` : "没有符合条件的预约。";
  const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
  document.getElementById("page").textContent = `第 ${offset / PAGE_SIZE + 1} / ${pages} 页`;
  document.getElementById("prev").disabled = offset === 0;
  document.getElementById("next").disabled = offset + PAGE_SIZE >= page.total;
}

async function openBooking(reference, message) {
  const booking = await api("GET", "/api/bookings/" + encodeURIComponent(reference));
  renderDrawer(booking, message);
}

async function change(reference, path, body) {
  try {
    const booking = await api("POST", `/api/bookings/${encodeURIComponent(reference)}/${path}`, body);
    renderDrawer(booking, { text: ["已保存。", NOTICE[booking.notice] || ""].join(""), ok: true });
    load();
  } catch (error) {
    renderDrawer(await api("GET", "/api/bookings/" + encodeURIComponent(reference)),
                 { text: error.message || String(error), ok: false });
  }
}

function renderDrawer(b, message) {
  const drawer = document.getElementById("drawer");
  document.querySelectorAll("#rows tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.reference === b.reference));
  const field = (label, value) => [h("dt", {}, label), h("dd", {}, value || "—")];
  const steps = b.next_statuses.filter((s) => s.status !== "cancelled");
  const canCancel = b.next_statuses.some((s) => s.status === "cancelled");
  drawer.replaceChildren(...[
    h("button", { type: "button", class: "btn btn-quiet btn-small close", onclick: () => { drawer.hidden = true; } }, "关闭"),
    h("h2", {}, `预约 ${b.reference}（${b.status_label}）`),
    message ? h("p", { class: message.ok ? "result-ok" : "error-text", role: "status" }, message.text) : null,
    h("dl", {}, field("事项", b.service), field("地点", b.location), field("时间", `${b.date} ${b.start_time}`),
      field("姓名", b.name), field("手机", b.phone), field("身份证号", b.id_number), field("渠道", b.channel),
      field("提交时间", b.created_at)),
    steps.length ? h("div", { class: "actions" }, steps.map((s) => h("button", {
      type: "button", class: "btn", "data-status": s.status, onclick: () => change(b.reference, "status", { status: s.status }),
    }, `登记为“${s.label}”`))) : null,
    b.status === "booked" ? rescheduleForm(b) : null,
    canCancel ? cancelForm(b) : null,
    h("h3", {}, "操作记录"),
    h("ol", { class: "events" }, b.events.map((e) => h("li", {}, `${e.at}  ${e.actor}  ${e.change}`))),
  ].filter(Boolean));  // absent parts are null
  drawer.hidden = false;
}

function rescheduleForm(b) {
  const form = h("form", { class: "reschedule" },
    h("strong", {}, "改时间（同一地点，会通知老兵）"), " ",
    h("input", { type: "date", name: "date", required: true, value: b.date }), " ",
    h("input", { type: "time", name: "start_time", required: true, step: 1800, value: b.start_time }), " ",
    h("button", { type: "submit", class: "btn btn-primary" }, "改到这个时间"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    change(b.reference, "reschedule", { date: form.date.value, start_time: form.start_time.value });
  });
  return form;
}

function cancelForm(b) {
  const form = h("form", { class: "cancel" },
    h("strong", {}, "取消预约（释放时段，会通知老兵）"), " ",
    h("input", { name: "reason", placeholder: "取消原因（记入操作记录）", maxlength: 500 }), " ",
    h("button", { type: "submit", class: "btn btn-danger" }, "取消预约"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (window.confirm(`确定取消预约 ${b.reference}？`)) change(b.reference, "cancel", { reason: form.reason.value || null });
  });
  return form;
}

document.addEventListener("DOMContentLoaded", async () => {
  const options = await api("GET", "/api/booking-options");
  const form = document.getElementById("filters");
  fill(form.location, options.locations);
  fill(form.service, options.services);
  fill(form.status, options.statuses);
  form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load(); });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); load(); });
  document.getElementById("next").addEventListener("click", () => { offset += PAGE_SIZE; load(); });
  const wanted = new URLSearchParams(location.search).get("reference");
  await load();
  if (wanted) openBooking(wanted);
});
