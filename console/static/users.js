/* The /users page (admins): the accounts, new account, disable, new password, the audit log. */
(function () {
  "use strict";
  var PAGE = 50;
  var ACTIONS = { login: "登录", login_failed: "登录失败", login_blocked: "登录被拦（次数过多）", logout: "退出",
    user_add: "新建账号", user_disable: "停用账号", user_reset_password: "重设密码" };
  var auditOffset = 0;

  function loadUsers() {
    return api("GET", "/api/users").then(function (users) {
      var rows = users.map(function (u) {
        var actions = u.active
          ? '<button class="btn btn-small" data-reset="' + esc(u.username) + '">重设密码</button> ' +
            '<button class="btn btn-small btn-danger" data-disable="' + esc(u.username) + '">停用</button>'
          : "";
        return "<tr><td>" + esc(u.username) + "</td><td>" + esc(u.display_name) + "</td><td>" +
          esc(u.role_name) + "</td><td>" + (u.active ? '<span class="tag tag-ok">使用中</span>'
          : '<span class="tag">已停用</span>') + "</td><td>" + esc(fmtTime(u.created_at)) + "</td><td>" +
          actions + "</td></tr>";
      });
      document.querySelector("#user-table tbody").innerHTML = rows.join("");
    });
  }

  document.getElementById("user-table").addEventListener("click", function (event) {
    var target = event.target;
    var name = target.getAttribute("data-disable");
    if (name && confirm("停用账号 " + name + "？停用后立即退出登录。")) {
      api("POST", "/api/users/" + encodeURIComponent(name) + "/disable").then(function () {
        toast("已停用 " + name, "ok");
        loadUsers();
        loadAudit();
      }, function () {});
      return;
    }
    name = target.getAttribute("data-reset");
    if (name) {
      resetName = name;
      document.getElementById("reset-name").textContent = name;
      resetForm.reset();
      resetDialog.showModal();
    }
  });

  // The new password is typed into a password field (never a prompt that shows it).
  var resetDialog = document.getElementById("reset-dialog");
  var resetForm = document.getElementById("reset-form");
  var resetName = null;
  document.getElementById("reset-cancel").addEventListener("click", function () { resetDialog.close(); });
  resetForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = resetName;
    api("POST", "/api/users/" + encodeURIComponent(name) + "/reset-password", { password: resetForm.password.value })
      .then(function () {
        resetDialog.close();
        toast("已重设 " + name + " 的密码", "ok");
        loadAudit();
      }, function () {});
  });

  document.getElementById("add-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    api("POST", "/api/users", { username: form.username.value.trim(), display_name: form.display_name.value.trim(),
      role: form.role.value, password: form.password.value })
      .then(function (user) {
        toast("已新建账号 " + user.username, "ok");
        form.reset();
        loadUsers();
        loadAudit();
      }, function () {});
  });

  function loadAudit() {
    var form = document.getElementById("audit-filter");
    var query = new URLSearchParams({ limit: PAGE, offset: auditOffset });
    if (form.username.value.trim()) query.set("username", form.username.value.trim());
    if (form.action.value.trim()) query.set("action", form.action.value.trim());
    if (form.since.value) query.set("since", form.since.value + "T00:00:00+08:00");
    return api("GET", "/api/audit?" + query).then(function (page) {
      document.querySelector("#audit-table tbody").innerHTML = page.items.map(function (e) {
        var target = e.target_type ? e.target_type + " " + (e.target_id || "") : "";
        return "<tr><td>" + esc(fmtTime(e.at)) + "</td><td>" + esc(e.username) + "</td><td>" +
          esc(ACTIONS[e.action] || e.action) + "</td><td>" + esc(target) + '</td><td class="small">' +
          esc(e.detail ? JSON.stringify(e.detail) : "") + "</td></tr>";
      }).join("");
      var last = Math.min(page.offset + page.items.length, page.total);
      document.getElementById("audit-count").textContent =
        page.total ? "第 " + (page.offset + 1) + "–" + last + " 条，共 " + page.total + " 条" : "没有记录";
      document.getElementById("audit-prev").disabled = page.offset === 0;
      document.getElementById("audit-next").disabled = last >= page.total;
    }, function () {});
  }

  document.getElementById("audit-filter").addEventListener("submit", function (event) {
    event.preventDefault();
    auditOffset = 0;
    loadAudit();
  });
  document.getElementById("audit-prev").addEventListener("click", function () {
    auditOffset = Math.max(0, auditOffset - PAGE);
    loadAudit();
  });
  document.getElementById("audit-next").addEventListener("click", function () {
    auditOffset += PAGE;
    loadAudit();
  });

  consoleReady.then(function (me) {
    if (!me) return;
    loadUsers().catch(function () {});
    loadAudit();
  });
})();
