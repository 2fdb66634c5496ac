/* The shared shell of every console page (load it first: <script src="/static/common.js"></script>).
 *
 * It puts the top navigation at the start of <body> (leave it out with <body data-shell="none">),
 * with the staff member's name and role, 退出, and the slot <span id="waiting-badge"> beside 会话
 * that the conversation pages fill (set its text; an empty badge is hidden by CSS).
 *
 * Globals for the pages:
 *   api(method, path, body)  -> Promise of the parsed answer (JSON, or text, or null for 204).
 *       Sends the CSRF header on POST/PUT/PATCH/DELETE; a FormData body is sent as is (uploads),
 *       any other body as JSON. 401 sends the browser to /login; any other error shows the server's
 *       Chinese message in a toast and rejects with an Error (error.status, error.shown = true).
 *   consoleReady            -> Promise of the logged-in staff member {username, display_name, role,
 *       role_name, csrf_token} (null while being sent to /login).
 *   toast(text, kind)        -> a short message at the top of the page; kind "ok" | "error" | "info".
 *   esc(text)                -> text made safe to put into innerHTML.
 *   fmtTime(iso, withDate)   -> "12月3日 09:30" (Beijing time) or "09:30" with withDate === false.
 */
(function () {
  "use strict";

  var UNSAFE = { POST: true, PUT: true, PATCH: true, DELETE: true };
  var NAV = [
    { href: "/", text: "会话", badge: true },
    { href: "/ask", text: "代客咨询" },
    { href: "/bookings", text: "预约" },
    { href: "/appeals", text: "诉求" },
    { href: "/dashboard", text: "统计" },
    { href: "/profile", text: "一人一档" },
    { href: "/knowledge", text: "知识库", admin: true },
    { href: "/users", text: "账号", admin: true },
  ];
  var csrfToken = null;

  function goToLogin() {
    var here = location.pathname + location.search;
    location.href = "/login" + (here && here !== "/" ? "?next=" + encodeURIComponent(here) : "");
  }

  function esc(text) {
    return String(text == null ? "" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  var dateFormat = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "numeric",
    day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false });
  var timeFormat = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit",
    minute: "2-digit", hour12: false });

  function fmtTime(iso, withDate) {
    if (!iso) return "";
    var when = new Date(iso);
    if (isNaN(when)) return String(iso);
    if (withDate === false) return timeFormat.format(when);
    var parts = {};
    dateFormat.formatToParts(when).forEach(function (p) { parts[p.type] = p.value; });
    return parts.month + "月" + parts.day + "日 " + parts.hour + ":" + parts.minute;
  }

  function toast(text, kind) {
    var box = document.getElementById("toasts");
    if (!box) {
      box = document.createElement("div");
      box.id = "toasts";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    var item = document.createElement("div");
    item.className = "toast toast-" + (kind || "info");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 4000);
  }

  // The server's words for a refusal: {"detail": "…"} or FastAPI's list of field errors.
  // Framework defaults ("Not Found", "Method Not Allowed") are English: those get our own words.
  function messageOf(status, data) {
    if (data && typeof data.detail === "string" && /[\u4e00-\u9fff]/.test(data.detail)) return data.detail;
    if (data && Array.isArray(data.detail)) return "填写的内容不完整或格式不对，请检查后再试";
    if (status === 404) return "没有找到，可能已被删除";
    if (status === 429) return "操作太频繁，请稍后再试";
    if (status >= 500) return "系统出了点问题，请稍后再试；一直不行请联系管理员";
    return "操作没有成功，请稍后再试";
  }

  function send(method, path, body) {
    var headers = { Accept: "application/json" };
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (UNSAFE[method] && csrfToken) headers["X-CSRF-Token"] = csrfToken;
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  }

  function parse(response) {
    if (response.status === 204) return Promise.resolve(null);
    var type = response.headers.get("Content-Type") || "";
    return type.indexOf("application/json") >= 0 ? response.json() : response.text();
  }

  function fail(status, data) {
    var error = new Error(messageOf(status, data));
    error.status = status;
    error.data = data;
    error.shown = true;
    toast(error.message, "error");
    throw error;
  }

  function api(method, path, body) {
    method = (method || "GET").toUpperCase();
    var ready = UNSAFE[method] && !csrfToken ? consoleReady : Promise.resolve();
    return ready.then(function () { return send(method, path, body); })
      .catch(function () { fail(0, { detail: "网络连不上，请检查网络后再试" }); })
      .then(function (response) {
        if (response.status === 401) {
          goToLogin();
          return new Promise(function () {}); // the page is going away
        }
        // A stale CSRF token (logged in again in another tab): fetch the new one, try once more.
        if (response.status === 403 && UNSAFE[method]) {
          return parse(response).then(function (data) {
            if (!(data && data.detail === "页面已过期，请刷新后重试")) return fail(403, data);
            return loadMe().then(function () { return send(method, path, body); }).then(function (again) {
              if (again.status === 401) { goToLogin(); return new Promise(function () {}); }
              return parse(again).then(function (d) { return again.ok ? d : fail(again.status, d); });
            });
          });
        }
        return parse(response).then(function (data) {
          return response.ok ? data : fail(response.status, data);
        });
      });
  }

  function loadMe() {
    return fetch("/api/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { goToLogin(); return null; }
        if (!response.ok) throw new Error("me " + response.status);
        return response.json();
      })
      .then(function (me) {
        if (me) csrfToken = me.csrf_token;
        return me;
      });
  }

  function logout() {
    api("POST", "/api/logout").then(function () { location.href = "/login"; },
      function () { location.href = "/login"; });
  }

  function buildNav(me) {
    var header = document.createElement("header");
    header.className = "topbar";
    var brand = document.createElement("a");
    brand.className = "brand";
    brand.href = "/";
    brand.textContent = "退役军人服务 · 接线台";
    header.appendChild(brand);

    var nav = document.createElement("nav");
    nav.setAttribute("aria-label", "主菜单");
    NAV.forEach(function (item) {
      if (item.admin && me.role !== "admin") return;
      var link = document.createElement("a");
      link.href = item.href;
      link.textContent = item.text;
      var here = location.pathname;
      if (here === item.href || (item.href !== "/" && here.indexOf(item.href + "/") === 0)) {
        link.className = "current";
        link.setAttribute("aria-current", "page");
      }
      if (item.badge) {
        var badge = document.createElement("span");
        badge.id = "waiting-badge";
        badge.className = "badge";
        badge.title = "等待人工的会话";
        link.appendChild(badge);
      }
      nav.appendChild(link);
    });
    header.appendChild(nav);

    var who = document.createElement("span");
    who.className = "who";
    who.textContent = me.display_name + " · " + me.role_name;
    header.appendChild(who);

    var out = document.createElement("button");
    out.type = "button";
    out.className = "btn btn-quiet";
    out.textContent = "退出";
    out.addEventListener("click", logout);
    header.appendChild(out);

    document.body.insertBefore(header, document.body.firstChild);
  }

  var domReady = new Promise(function (resolve) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve);
    else resolve();
  });

  var consoleReady = Promise.all([loadMe(), domReady]).then(function (both) {
    var me = both[0];
    if (me && document.body.dataset.shell !== "none") buildNav(me);
    return me;
  }, function () {
    toast("系统暂时连不上，请稍后刷新页面", "error");
    return null;
  });

  window.api = api;
  window.consoleReady = consoleReady;
  window.toast = toast;
  window.esc = esc;
  window.fmtTime = fmtTime;
})();
