/* 一人一档: find a record by phone / openid (made on first look-up), show the whole history,
 * add visits, notes, identities, merge. Phones go only in request bodies. */
(function () {
  "use strict";
  var STATES = { bot: "机器人", waiting: "等待人工", staff: "人工处理中" };
  var record = null;

  function $(id) { return document.getElementById(id); }

  function rows(tableId, items, cells, empty) {
    var body = $(tableId).querySelector("tbody");
    if (!items.length) {
      body.innerHTML = '<tr><td colspan="9" class="muted">' + esc(empty) + "</td></tr>";
      return;
    }
    body.innerHTML = items.map(function (item) {
      return "<tr>" + cells(item).map(function (c) { return "<td>" + c + "</td>"; }).join("") + "</tr>";
    }).join("");
  }

  function show(data) {
    record = data;
    $("record").classList.remove("hidden");
    $("record-id").textContent = "#" + data.id;
    $("record-name").textContent = data.name || "（未填姓名）";
    $("record-identities").textContent = data.identities.map(function (i) {
      return (i.kind === "phone" ? "手机 " : "会话 ") + i.shown;
    }).join("，");
    $("edit-name").value = data.name || "";
    $("edit-notes").value = data.notes || "";
    rows("conversation-table", data.conversations, function (c) {
      return [esc(fmtTime(c.last_at)), esc(c.channel || ""), esc(c.last_message || ""),
        '<span class="tag tag-' + esc(c.state) + '">' + esc(STATES[c.state] || c.state) + "</span>"];
    }, "没有会话");
    rows("booking-table", data.bookings, function (b) {
      return [esc(b.reference), esc(b.service), esc(b.location), esc(b.start), esc(b.status), esc(b.phone)];
    }, "没有预约");
    rows("appeal-table", data.appeals, function (a) {
      return [esc(a.reference) + (a.urgent ? ' <span class="tag tag-urgent">紧急</span>' : ""), esc(a.category),
        esc(a.status), esc(a.description), esc(a.town), esc(fmtTime(a.created_at))];
    }, "没有诉求");
    rows("visit-table", data.visits, function (v) {
      return [esc(v.day), esc(v.kind_label), esc(v.staff), esc(v.note)];
    }, "还没有走访记录");
    if (data.created) toast("新建了一份档案", "info");
  }

  function post(path, body) { return api("POST", path, body).then(show, function () {}); }

  $("find-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var phone = $("find-phone").value.trim(), sender = $("find-sender").value.trim();
    if (!phone && !sender) { toast("请填手机号或会话编号", "error"); return; }
    post("/api/profiles/lookup", phone ? { phone: phone } : { sender_id: sender });
  });

  $("find-name-button").addEventListener("click", function () {
    var name = $("find-name").value.trim();
    if (!name) return;
    api("GET", "/api/profiles?name=" + encodeURIComponent(name)).then(function (found) {
      var table = $("name-results");
      table.classList.remove("hidden");
      rows("name-results", found, function (r) {
        return ['<a href="#" data-id="' + r.id + '">#' + r.id + "</a>", esc(r.name || ""),
          esc(r.identities.map(function (i) { return i.shown; }).join("，"))];
      }, "没有找到");
    }, function () {});
  });

  $("name-results").addEventListener("click", function (event) {
    var id = event.target.getAttribute && event.target.getAttribute("data-id");
    if (!id) return;
    event.preventDefault();
    api("GET", "/api/profiles/" + id).then(show, function () {});
  });

  $("edit-form").addEventListener("submit", function (event) {
    event.preventDefault();
    api("PATCH", "/api/profiles/" + record.id, { name: $("edit-name").value, notes: $("edit-notes").value })
      .then(function (data) { show(data); toast("已保存", "ok"); }, function () {});
  });

  $("identity-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var phone = $("add-phone").value.trim(), sender = $("add-sender").value.trim();
    if (!phone && !sender) return;
    post("/api/profiles/" + record.id + "/identities", phone ? { phone: phone } : { sender_id: sender });
  });

  $("merge-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var other = parseInt($("merge-other").value, 10);
    if (!other) return;
    if (!confirm("确定档案 #" + other + " 和这一份是同一个人，把它并进来吗？")) return;
    post("/api/profiles/" + record.id + "/merge", { other_id: other });
  });

  $("visit-form").addEventListener("submit", function (event) {
    event.preventDefault();
    post("/api/profiles/" + record.id + "/visits",
      { day: $("visit-day").value, kind: $("visit-kind").value, note: $("visit-note").value });
    $("visit-note").value = "";
  });

  $("visit-day").value = new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai" }).format(new Date());
  // /profile?sender_id=… opens that record (links from the conversation page).
  var params = new URLSearchParams(location.search);
  if (params.get("sender_id")) {
    $("find-sender").value = params.get("sender_id");
    consoleReady.then(function () { post("/api/profiles/lookup", { sender_id: params.get("sender_id") }); });
  } else if (params.get("id")) {
    consoleReady.then(function () { api("GET", "/api/profiles/" + params.get("id")).then(show, function () {}); });
  }
})();
