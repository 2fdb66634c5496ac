// 预约 page: filters → /api/bookings, a row opens the detail drawer, whose buttons are only the
// status changes the booking allows (the API refuses any other with its reason). The list, the
// drawer and the changes are records.js's.
"use strict";

const NOTICE = {
  wechat: "已通过微信通知老兵。",
  call: "老兵不是在微信上预约的：已列入待电话通知，请打电话告诉老兵。",
  none: "",
};

const bookings = recordPage({
  path: "/api/bookings",
  cells: (b) => [b.reference, b.date, b.start_time, b.location, b.service, b.name, b.phone, b.status_label],
  summary: (total) => total ? `共 ${total} 条` : "没有符合条件的预约。",
  render: renderDrawer,
  savedNote: (b) => NOTICE[b.notice] || "",
});

function renderDrawer(b, message) {
  const steps = b.next_statuses.filter((s) => s.status !== "cancelled");
  const canCancel = b.next_statuses.some((s) => s.status === "cancelled");
  showDrawer({
    reference: b.reference, title: `预约 ${b.reference}（${b.status_label}）`, message,
    fields: [["事项", b.service], ["地点", b.location], ["时间", `${b.date} ${b.start_time}`],
      ["姓名", b.name], ["手机", b.phone], ["身份证号", b.id_number], ["渠道", b.channel],
      ["提交时间", b.created_at]],
    parts: [
      steps.length ? h("div", { class: "actions" }, steps.map((s) => h("button", {
        type: "button", class: "btn", "data-status": s.status,
        onclick: () => bookings.change(b.reference, "status", { status: s.status }),
      }, `登记为“${s.label}”`))) : null,
      b.status === "booked" ? rescheduleForm(b) : null,
      canCancel ? cancelForm(b) : null,
    ],
    history: "操作记录",
    lines: b.events.map((e) => `${e.at}  ${e.actor}  ${e.change}`),
  });
}

function rescheduleForm(b) {
  return actionForm("reschedule",
    (form) => bookings.change(b.reference, "reschedule", { date: form.date.value, start_time: form.start_time.value }),
    h("strong", {}, "改时间（同一地点，会通知老兵）"), " ",
    h("input", { type: "date", name: "date", required: true, value: b.date }), " ",
    h("input", { type: "time", name: "start_time", required: true, step: 1800, value: b.start_time }), " ",
    h("button", { type: "submit", class: "btn btn-primary" }, "改到这个时间"));
}

function cancelForm(b) {
  return actionForm("cancel", (form) => {
    if (window.confirm(`确定取消预约 ${b.reference}？`)) bookings.change(b.reference, "cancel", { reason: form.reason.value || null });
  },
    h("strong", {}, "取消预约（释放时段，会通知老兵）"), " ",
    h("input", { name: "reason", placeholder: "取消原因（记入操作记录）", maxlength: 500 }), " ",
    h("button", { type: "submit", class: "btn btn-danger" }, "取消预约"));
}

document.addEventListener("DOMContentLoaded", () => bookings.start("/api/booking-options",
  { location: "locations", service: "services", status: "statuses" }));
