/* The conversation page "/": the list (left), the open conversation's transcript with what the bot
 * understood and cited, its bookings and appeals (right), live through GET /api/stream (EventSource,
 * cookie login). A conversation waiting for a person fills #waiting-badge and beeps.
 * The takeover panel (takeover.js, optional) is told which conversation is open.
 */
(function () {
  "use strict";

  var STATES = { bot: ["机器人", "tag-bot"], waiting: ["等待人工", "tag-waiting"], staff: ["人工处理中", "tag-staff"] };
  var CHANNELS = { wechat: "微信", socketio: "网页聊天", rest: "接口" };
  var PAGE = 50;
  var openId = null;
  var nextBefore = null;
  var lastWaiting = null;
  var listTimer = null;
  var audio = null;

  function $(id) { return document.getElementById(id); }
  function enc(id) { return encodeURIComponent(id); }

  function filters() {
    var params = new URLSearchParams();
    ["q", "f-state", "f-channel"].forEach(function (id) {
      var value = $(id).value.trim();
      if (value) params.set(id.replace("f-", ""), value);
    });
    params.set("limit", PAGE);
    return params;
  }

  function stateTag(state) {
    var s = STATES[state] || [state, ""];
    return '<span class="tag ' + s[1] + '">' + esc(s[0]) + "</span>";
  }

  function item(c) {
    var li = document.createElement("li");
    li.tabIndex = 0;
    li.dataset.senderId = c.sender_id;
    li.dataset.state = c.state;
    if (c.sender_id === openId) li.className = "open";
    li.innerHTML = '<div class="who">' + stateTag(c.state) +
      '<span class="small">' + esc(CHANNELS[c.channel] || c.channel || "") + "</span>" +
      "<strong>" + esc(c.identity_masked || "未留号码") + "</strong>" +
      '<span class="small muted right" style="margin-left:auto">' + esc(fmtTime(c.last_at)) + "</span></div>" +
      '<div class="last">' + esc(c.last_message || "") + "</div>";
    li.addEventListener("click", function () { open(c.sender_id); });
    li.addEventListener("keydown", function (e) { if (e.key === "Enter") open(c.sender_id); });
    return li;
  }

  function loadList(append) {
    var params = filters();
    if (append && nextBefore) params.set("before", nextBefore);
    return api("GET", "/api/conversations?" + params).then(function (page) {
      var list = $("conversation-list");
      if (!append) list.innerHTML = "";
      page.items.forEach(function (c) { list.appendChild(item(c)); });
      nextBefore = page.next_before;
      $("more").classList.toggle("hidden", !nextBefore);
      $("list-empty").classList.toggle("hidden", list.children.length > 0);
    }, function () {});
  }

  // Many updates in a burst (a bot answer is several events): one reload of the list.
  function scheduleList() {
    clearTimeout(listTimer);
    listTimer = setTimeout(function () { loadList(false); }, 150);
  }

  function confidence(value) {
    return value == null ? "" : " · " + Math.round(value * 100) + "%";
  }

  function citationOf(s) {
    return typeof s === "string" ? s : (s.citation || s.source || JSON.stringify(s));
  }

  function line(m) {
    var div = document.createElement("div");
    div.className = "msg msg-" + m.kind;
    var who = m.kind === "staff" ? "工作人员 " + (m.staff_name || "") : m.kind === "note" ? "提示" : "";
    var sources = (m.sources || []).map(citationOf);
    // A cited source is shown once, under the answer, set apart from it.
    var text = sources.reduce(function (t, cited) { return t.replace("\n" + cited, ""); }, m.text);
    var html = (who ? '<span class="meta">' + esc(who) + "</span>" : "") + esc(text);
    if (m.kind === "user" && m.intent) {
      html += '<span class="meta">意图 ' + esc(m.intent) + esc(confidence(m.confidence)) + "</span>";
    }
    sources.forEach(function (cited) { html += '<span class="meta">出处：' + esc(cited) + "</span>"; });
    html += '<span class="meta">' + esc(fmtTime(m.at)) + "</span>";
    div.innerHTML = html;
    return div;
  }

  function linked(detail) {
    var html = "";
    if (detail.bookings.length) {
      html += "<h3>预约</h3><ul>" + detail.bookings.map(function (b) {
        return '<li><a href="/bookings?q=' + enc(b.reference) + '">' + esc(b.reference) + "</a> " + esc(b.service_code) +
          " · " + esc(b.date) + " " + esc(b.start_time) + " · " + esc(b.status) + " · " + esc(b.phone_masked) + "</li>";
      }).join("") + "</ul>";
    }
    if (detail.appeals.length) {
      html += "<h3>诉求</h3><ul>" + detail.appeals.map(function (a) {
        return '<li><a href="/appeals?q=' + enc(a.reference) + '">' + esc(a.reference) + "</a> " + esc(a.category) +
          " · " + esc(a.status) + (a.urgent ? ' <span class="tag tag-urgent">紧急</span>' : "") +
          " · " + esc(a.phone_masked) + "</li>";
      }).join("") + "</ul>";
    }
    $("linked").innerHTML = html;
  }

  function loadConversation(id) {
    return api("GET", "/api/conversations/" + enc(id)).then(function (detail) {
      if (id !== openId) return;
      var c = detail.conversation;
      $("pick").classList.add("hidden");
      $("conversation-head").classList.remove("hidden");
      $("conversation-title").innerHTML = stateTag(c.state) + " " + esc(c.identity_masked || "未留号码");
      $("conversation-meta").textContent = (CHANNELS[c.channel] || c.channel || "") + " · 会话 " + c.sender_id +
        (c.last_user_at ? " · 对方最后发言 " + fmtTime(c.last_user_at) : "") +
        (c.holder ? " · 处理人 " + c.holder : "");
      var box = $("transcript");
      var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      box.innerHTML = "";
      detail.messages.forEach(function (m) { box.appendChild(line(m)); });
      if (!detail.messages.length) box.innerHTML = '<p class="empty">还没有消息。</p>';
      if (atBottom || box.dataset.shown !== id) box.scrollTop = box.scrollHeight;
      box.dataset.shown = id;
      linked(detail);
    }, function () {});
  }

  function open(id) {
    openId = id;
    history.replaceState(null, "", "#c=" + enc(id));
    Array.prototype.forEach.call($("conversation-list").children, function (li) {
      li.classList.toggle("open", li.dataset.senderId === id);
    });
    loadConversation(id);
    var panel = $("takeover-panel");
    if (panel) panel.dataset.senderId = id;
    if (window.takeover) window.takeover.show(id);
  }

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (e) { /* no sound device: the badge still shows */ }
  }

  function updateWaiting() {
    return api("GET", "/api/conversations/waiting-count").then(function (answer) {
      var badge = $("waiting-badge");
      if (badge) {
        badge.textContent = answer.waiting ? String(answer.waiting) : "";
        badge.title = answer.waiting ? answer.waiting + " 个会话在等人工" : "";
      }
      if (lastWaiting !== null && answer.waiting > lastWaiting) beep();
      lastWaiting = answer.waiting;
    }, function () {});
  }

  function listen() {
    var source = new EventSource("/api/stream");
    source.onmessage = function (event) {
      var change = JSON.parse(event.data);
      if (change.type !== "conversation") return;
      scheduleList();
      updateWaiting();
      if (change.sender_id === openId) {
        loadConversation(openId);
        if (window.takeover) window.takeover.show(openId);
      }
    };
    // EventSource reconnects by itself; after a gap, catch up on what was missed.
    source.onopen = function () { scheduleList(); updateWaiting(); };
  }

  consoleReady.then(function (staff) {
    if (!staff) return;
    $("search").addEventListener("submit", function (e) { e.preventDefault(); loadList(false); });
    ["f-state", "f-channel"].forEach(function (id) { $(id).addEventListener("change", function () { loadList(false); }); });
    $("more").addEventListener("click", function () { loadList(true); });
    // Browsers allow sound only after the page was touched once.
    document.addEventListener("click", function () {
      if (!audio && (window.AudioContext || window.webkitAudioContext)) audio = new (window.AudioContext || window.webkitAudioContext)();
    }, { once: true });
    var wanted = /^#c=(.+)$/.exec(location.hash);
    loadList(false).then(function () { if (wanted) open(decodeURIComponent(wanted[1])); });
    updateWaiting();
    listen();
  });
})();
