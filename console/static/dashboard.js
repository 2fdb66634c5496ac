// 统计 page: /api/dashboard?days=N drawn with the vendored Chart.js; the overdue and urgent appeals
// and the unanswered questions as tables (an appeal's number opens it on /appeals).
"use strict";

const charts = {};

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", { class: "table" },
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", {}, title)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))));
}

function bar(id, labels, datasets, horizontal) {
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(document.getElementById(id), {
    type: "bar",
    data: { labels, datasets },
    options: {
      indexAxis: horizontal ? "y" : "x",
      animation: false,
      plugins: { legend: { display: datasets.length > 1 } },
      scales: { [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

function counts(id, rows, label, horizontal) {
  bar(id, rows.map((r) => r.label), [{ label, data: rows.map((r) => r.count), backgroundColor: "#3b6fb6" }], horizontal);
}

function groups(id, rows) {
  bar(id, rows.map((r) => r.key), [
    { label: "件数", data: rows.map((r) => r.total), backgroundColor: "#3b6fb6" },
    { label: "办结", data: rows.map((r) => r.closed), backgroundColor: "#4a9a4a" },
    { label: "超期", data: rows.map((r) => r.late), backgroundColor: "#c0392b" },
  ], false);
}

function appealRows(appeals) {
  return appeals.map((a) => [
    h("a", { href: "/appeals?reference=" + encodeURIComponent(a.reference) }, a.reference),
    a.category_label, a.status_label, a.deadline || "未定", a.assignee_label || "—", a.town, a.name, a.phone,
  ]);
}

const APPEAL_HEADERS = ["编号", "分类", "状态", "期限", "承办", "镇村", "姓名", "手机"];

async function load(days) {
  const d = await api("GET", "/api/dashboard?days=" + encodeURIComponent(days));
  document.getElementById("range").textContent =
    `预约：${d.bookings_from} 至 ${d.bookings_to}（不含已取消，已取消 ${d.bookings_cancelled} 个）；诉求：${d.appeals_from} 起登记的`;
  document.getElementById("overdue").replaceChildren(table(APPEAL_HEADERS, appealRows(d.overdue_appeals), "没有超期的诉求。"));
  document.getElementById("urgent").replaceChildren(table(APPEAL_HEADERS, appealRows(d.urgent_appeals), "没有紧急的未办结诉求。"));
  document.getElementById("gaps").replaceChildren(table(["问题", "次数", "最近一次", "结果"],
    d.knowledge_gaps.map((g) => [g.question, g.count, g.last_seen.replace("T", " ").slice(0, 16),
                                 g.kind === "refused" ? "答不上" : "只给了“您是想问”"]),
    "这段时间没有答不上的问题。"));
  counts("bookings-day", d.bookings_per_day, "预约数", false);
  counts("bookings-service", d.bookings_per_service, "预约数", true);
  counts("bookings-location", d.bookings_per_location, "预约数", true);
  groups("appeals-category", d.appeals_per_category);
  groups("appeals-town", d.appeals_per_town);
  groups("appeals-month", d.appeals_per_month);
}

document.addEventListener("DOMContentLoaded", () => {
  const select = document.querySelector("#window select");
  select.addEventListener("change", () => load(select.value));
  load(select.value);
});
