/* The public web chat: talks to Rasa's socket.io channel (vetbot/rest_channel.py) with the
   vendored socket.io client. Only the session id is kept in localStorage (so a reload continues
   the same conversation), plus the 大字 preference; never what the veteran typed. */
(function () {
  "use strict";

  var SESSION_KEY = "vetbot.chat.session";
  var BIG_TEXT_KEY = "vetbot.chat.big";
  var SLOW_REPLY_MS = 30000;

  var log = document.getElementById("log");
  var form = document.getElementById("send-form");
  var input = document.getElementById("message");
  var sendButton = document.getElementById("send");
  var connection = document.getElementById("connection");
  var typing = document.getElementById("typing");
  var bigText = document.getElementById("big-text");
  var hotlineLink = document.getElementById("hotline");

  var socket = null;
  var ready = false;        // the server confirmed our session: messages may be sent
  var everConfirmed = false;
  var slowTimer = null;
  var hotline = "";

  function stored(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function store(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch (e) { /* private mode: the conversation just won't survive a reload */ }
  }

  /* ---- display ---- */

  function setConnection(state, text) {
    connection.className = "connection " + state;
    connection.textContent = text;
  }

  // Follow the newest message unless the reader scrolled up to read; keep following when the
  // log's box changes (the connection notice or 正在回复… comes and goes).
  var pinned = true;
  function scrollDown() { log.scrollTop = log.scrollHeight; pinned = true; }
  log.addEventListener("scroll", function () {
    pinned = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  });
  if (window.ResizeObserver) {
    new ResizeObserver(function () { if (pinned) log.scrollTop = log.scrollHeight; }).observe(log);
  }

  // Text with its web links made clickable, built from text nodes (never innerHTML).
  function appendText(parent, text) {
    var parts = String(text).split(/(https?:\/\/[^\s，。；）)]+)/);
    parts.forEach(function (part, i) {
      if (i % 2 === 1) {
        var link = document.createElement("a");
        link.href = part; link.textContent = part; link.target = "_blank"; link.rel = "noopener";
        parent.appendChild(link);
      } else if (part) {
        parent.appendChild(document.createTextNode(part));
      }
    });
  }

  function addMessage(kind, text, who) {
    var row = document.createElement("div");
    row.className = "msg " + kind;
    if (who) {
      var label = document.createElement("div");
      label.className = "who";
      label.textContent = who;
      row.appendChild(label);
    }
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    appendText(bubble, text);
    row.appendChild(bubble);
    log.appendChild(row);
    scrollDown();
    return row;
  }

  // The bot's buttons and quick replies: a click sends the payload and shows the title.
  function addChoices(row, choices) {
    var box = document.createElement("div");
    box.className = "choices";
    choices.forEach(function (choice) {
      if (!choice || !choice.title) return;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = choice.title;
      button.addEventListener("click", function () {
        if (send(choice.payload || choice.title, choice.title)) retireChoices();
      });
      box.appendChild(button);
    });
    row.appendChild(box);
    scrollDown();
  }

  // Old choices stay visible but no longer answer: the conversation has moved on.
  function retireChoices() {
    log.querySelectorAll(".choices button").forEach(function (b) { b.disabled = true; });
  }

  function showTyping(on) {
    clearTimeout(slowTimer);
    typing.hidden = !on;
    typing.textContent = "正在回复…";
    if (on) {
      slowTimer = setTimeout(function () {
        typing.textContent = "回复有点慢，请稍等。着急的话请拨打服务热线：" + hotline;
      }, SLOW_REPLY_MS);
    }
  }

  // One message of the channel: {text, quick_replies?, buttons?, staff_name?, attachment?}.
  function receive(message) {
    if (!message || typeof message !== "object") return;
    showTyping(false);
    var who = message.staff_name ? "工作人员 " + message.staff_name + "：" : null;
    var kind = message.staff_name ? "staff" : "bot";
    var row = null;
    if (message.text) row = addMessage(kind, message.text, who);
    var attachment = message.attachment;
    if (attachment && attachment.type === "image" && attachment.payload && /^https?:/.test(attachment.payload.src)) {
      row = row || addMessage(kind, "", who);
      var image = document.createElement("img");
      image.src = attachment.payload.src; image.alt = "图片";
      row.querySelector(".bubble").appendChild(image);
    }
    var choices = message.quick_replies || message.buttons;
    if (choices && choices.length) addChoices(row || addMessage(kind, "", who), choices);
  }

  /* ---- sending ---- */

  function setReady(on) {
    ready = on;
    sendButton.disabled = !on;
  }

  // Returns whether it went out; while the line is down the text stays where it was.
  function send(payload, shown) {
    if (!ready || !payload.trim()) return false;
    socket.emit("user_uttered", { message: payload, session_id: stored(SESSION_KEY) });
    addMessage("user", shown || payload);
    showTyping(true);
    return true;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (send(input.value)) {
      input.value = "";
      retireChoices();
    }
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {  // not while picking pinyin
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });

  /* ---- tools ---- */

  function applyBigText(on) {
    document.body.classList.toggle("big", on);
    bigText.setAttribute("aria-pressed", on ? "true" : "false");
    if (pinned) scrollDown();
  }
  bigText.addEventListener("click", function () {
    var on = !document.body.classList.contains("big");
    applyBigText(on);
    store(BIG_TEXT_KEY, on ? "1" : null);
  });
  applyBigText(stored(BIG_TEXT_KEY) === "1");

  document.getElementById("new-chat").addEventListener("click", function () {
    if (!window.confirm("开始新的对话吗？")) return;
    store(SESSION_KEY, null);
    window.location.reload();
  });

  function welcome(resumed) {
    if (resumed) {
      addMessage("notice", "接着上次的对话，您可以继续问。");
      return;
    }
    var row = addMessage("bot", "您好！请直接打字告诉我您想办的事，比如“优待证怎么申请”。");
    addChoices(row, [{ title: "看看能办哪些事", payload: "/greet" }]);
  }

  /* ---- connection ---- */

  function connect(config) {
    hotline = config.hotline;
    hotlineLink.textContent = hotline;
    hotlineLink.href = "tel:" + hotline.replace(/[^\d+]/g, "");

    socket = window.io(config.socket_url, { path: config.socket_path, reconnectionDelayMax: 5000 });

    // Every (re)connection is a new socket: ask for our session again so the server puts this
    // socket in the room the replies go to.
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: stored(SESSION_KEY) });
    });
    socket.on("session_confirm", function (sessionId) {
      var resumed = sessionId === stored(SESSION_KEY);
      store(SESSION_KEY, sessionId);
      setReady(true);
      setConnection("ok", "");
      if (!everConfirmed) welcome(resumed);
      everConfirmed = true;
    });
    socket.on("bot_uttered", receive);
    socket.on("disconnect", function () {
      setReady(false);
      showTyping(false);
      setConnection("down", "网络断了，正在重新连接…");
    });
    socket.on("connect_error", function () {
      setReady(false);
      setConnection("down", everConfirmed ? "网络断了，正在重新连接…" : "暂时连不上，正在重试…");
    });
  }

  function loadConfig() {
    fetch("/api/chat/config")
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(connect)
      .catch(function () {
        setConnection("down", "暂时连不上，正在重试…");
        setTimeout(loadConfig, 5000);
      });
  }

  if (typeof window.io !== "function") {
    setConnection("down", "页面没有加载完整，请刷新一下。");
  } else {
    loadConfig();
  }
})();
