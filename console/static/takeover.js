/* The takeover panel under the transcript (<div id="takeover-panel"></div> on the conversation page).
 *
 * Load it after common.js. The conversation page tells it which conversation is open, either way:
 *   window.takeover.show(senderId)        — call it when a conversation is opened or changes (SSE);
 *   panel.dataset.senderId = senderId     — the panel watches this attribute.
 * It reads GET /api/conversations/{id} (state, holder) and GET …/reply-window, and offers
 * 接管 / 交还机器人, a reply box with 常用语 and 插入政策依据 (GET /api/knowledge/search?q=).
 */
(function () {
  "use strict";

  var panel = null;
  var senderId = null;
  var me = null;
  var canned = null; // loaded once
  var loading = 0; // answers of an older show() are ignored
  var drafts = {}; // what staff were writing, per conversation: a live update re-renders the panel

  function enc(id) { return encodeURIComponent(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function loadCanned() {
    if (canned) return Promise.resolve(canned);
    return api("GET", "/api/canned-replies").then(function (items) { canned = items; return items; },
      function () { return []; });
  }

  function show(id) {
    senderId = id || null;
    if (!panel) return;
    panel.innerHTML = "";
    if (!senderId) return;
    var ticket = ++loading;
    var base = "/api/conversations/" + enc(senderId);
    Promise.all([api("GET", base), api("GET", base + "/reply-window"), loadCanned()]).then(function (all) {
      if (ticket !== loading) return;
      render(all[0].conversation, all[1], all[2]);
    }, function () { /* the error is already in a toast */ });
  }

  function render(conversation, window_, cannedItems) {
    panel.innerHTML = "";
    var box = el("div", { className: "takeover" });
    var head = el("div", { className: "takeover-head" });
    var mine = conversation.state === "staff" && me && conversation.holder === me.username;
    var status = conversation.state === "staff"
      ? (mine ? "您正在处理这个对话，机器人已暂停。" : "已由 " + (conversation.holder || "其他人") + " 接管。")
      : conversation.state === "waiting" ? "对方在等人工回复。" : "机器人在回答。";
    head.appendChild(el("span", { className: "takeover-status" }, status));
    if (!mine && conversation.state !== "staff") {
      var take = el("button", { type: "button", className: "btn btn-primary", id: "takeover-take" }, "接管");
      take.addEventListener("click", function () { act("take", take, "已接管，机器人暂停回答。"); });
      head.appendChild(take);
    }
    if (mine || (conversation.state === "staff" && me && me.role === "admin")) {
      var release = el("button", { type: "button", className: "btn", id: "takeover-release" }, "交还机器人");
      release.addEventListener("click", function () { act("release", release, "已交还机器人。"); });
      head.appendChild(release);
    }
    box.appendChild(head);
    box.appendChild(el("p", { className: window_.can_reply ? "takeover-window" : "takeover-window error-text",
                              id: "takeover-window" }, windowText(window_)));
    if (mine) box.appendChild(replyForm(window_, cannedItems));
    panel.appendChild(box);
  }

  function windowText(window_) {
    var text = window_.notice;
    if (window_.path === "direct" && window_.until) text += "（可回复到 " + fmtTime(window_.until, true) + "）";
    return text;
  }

  function act(action, button, done) {
    button.disabled = true;
    api("POST", "/api/conversations/" + enc(senderId) + "/" + action).then(function () {
      toast(done, "ok");
      show(senderId);
    }, function () { button.disabled = false; });
  }

  function replyForm(window_, cannedItems) {
    var form = el("form", { className: "takeover-reply", id: "takeover-form" });
    var tools = el("div", { className: "takeover-tools" });

    var pick = el("select", { id: "takeover-canned", "aria-label": "常用语" });
    pick.appendChild(el("option", { value: "" }, "常用语…"));
    cannedItems.forEach(function (item, index) { pick.appendChild(el("option", { value: String(index) }, item.title)); });
    tools.appendChild(pick);

    var cite = el("button", { type: "button", className: "btn btn-small", id: "takeover-cite" }, "插入政策依据");
    tools.appendChild(cite);
    form.appendChild(tools);

    var results = el("div", { className: "takeover-citations", id: "takeover-citations" });
    form.appendChild(results);

    var text = el("textarea", { id: "takeover-text", maxlength: "1000", rows: "3",
                                placeholder: "回复内容（对方会看到您的名字）" });
    text.value = drafts[senderId] || "";
    text.addEventListener("input", function () { drafts[senderId] = text.value; });
    form.appendChild(text);
    var send = el("button", { type: "submit", className: "btn btn-primary", id: "takeover-send" },
                  window_.path === "template" ? "以模板通知发送" : "发送");
    send.disabled = !window_.can_reply;
    form.appendChild(send);

    pick.addEventListener("change", function () {
      var item = cannedItems[Number(pick.value)];
      if (item) insert(text, item.text);
      pick.value = "";
    });
    cite.addEventListener("click", function () { searchCitations(text, results); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = text.value.trim();
      if (!body) { toast("请先写回复内容", "info"); return; }
      send.disabled = true;
      api("POST", "/api/conversations/" + enc(senderId) + "/reply", { text: body }).then(function (answer) {
        toast(answer.notice, "ok");
        text.value = "";
        delete drafts[senderId];
        send.disabled = false;
      }, function () { send.disabled = false; });
    });
    return form;
  }

  function insert(textarea, snippet) {
    var focused = document.activeElement === textarea;
    var start = focused ? textarea.selectionStart : textarea.value.length;
    var end = focused ? textarea.selectionEnd : start;
    textarea.value = textarea.value.slice(0, start) + snippet + textarea.value.slice(end);
    drafts[senderId] = textarea.value;
    textarea.focus();
    textarea.selectionStart = textarea.selectionEnd = start + snippet.length;
  }

  function searchCitations(textarea, results) {
    // Search with what is selected, else with what staff have written so far.
    var query = textarea.value.slice(textarea.selectionStart, textarea.selectionEnd).trim() || textarea.value.trim();
    if (!query) query = (window.prompt("查哪方面的政策？") || "").trim();
    if (!query) return;
    results.textContent = "正在查…";
    api("GET", "/api/knowledge/search?q=" + encodeURIComponent(query) + "&limit=5").then(function (hits) {
      results.innerHTML = "";
      if (!hits.length) { results.textContent = "没有找到相关条文。"; return; }
      hits.forEach(function (hit) {
        var row = el("button", { type: "button", className: "btn btn-quiet takeover-citation" });
        row.appendChild(el("strong", {}, hit.citation));
        row.appendChild(el("span", {}, " " + hit.excerpt));
        row.addEventListener("click", function () {
          insert(textarea, hit.excerpt + "（" + hit.citation + "）");
          results.innerHTML = "";
        });
        results.appendChild(row);
      });
    }, function () { results.textContent = ""; });
  }

  var STYLE = ".takeover{border-top:1px solid #ccd;margin-top:1rem;padding-top:.8rem}" +
    ".takeover-head{display:flex;gap:.6rem;align-items:center;flex-wrap:wrap}.takeover-status{font-weight:600}" +
    ".takeover-tools{display:flex;gap:.6rem;margin:.5rem 0}.takeover-citations{display:flex;flex-direction:column;" +
    "gap:.3rem;margin-bottom:.5rem}.takeover-citation{text-align:left;white-space:normal}.takeover-reply .btn-primary{margin-top:.4rem}";

  function start() {
    panel = document.getElementById("takeover-panel");
    if (!panel) return;
    var style = document.createElement("style");
    style.textContent = STYLE;
    document.head.appendChild(style);
    new MutationObserver(function () {
      if (panel.dataset.senderId !== senderId) show(panel.dataset.senderId);
    }).observe(panel, { attributes: true, attributeFilter: ["data-sender-id"] });
    if (panel.dataset.senderId || senderId) show(panel.dataset.senderId || senderId);
  }

  window.takeover = { show: show };
  (window.consoleReady || Promise.resolve(null)).then(function (staff) {
    me = staff;
    start();
  });
})();
