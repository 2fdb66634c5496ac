/* 代客咨询: ask the bot for a caller, then book or file an appeal for them. */
(function () {
  "use strict";
  var previous = null;  // the last question asked, for a follow-up
  var options = null;

  function $(id) { return document.getElementById(id); }

  function passageItem(p) {
    return "<li><strong>" + esc(p.title) + "</strong> <span class=\"muted small\">相关度 " +
      p.relevance.toFixed(3) + (p.in_force ? "" : " · 已废止") + "</span><br>" + esc(p.excerpt) +
      "<br><span class=\"small\">" + esc(p.citation) + "</span></li>";
  }

  function showAnswer(body, question) {
    $("answer-card").classList.remove("hidden");
    $("answer").textContent = body.answer || "（助手没有回答）";
    var suggestion = $("suggestion");
    if (body.suggestion) {
      suggestion.classList.remove("hidden");
      suggestion.innerHTML = "助手没有十足把握，猜是：<button class=\"btn btn-small\" type=\"button\">" +
        esc(body.suggestion.title) + "</button>";
      suggestion.querySelector("button").onclick = function () { ask("", body.suggestion.passage_id); };
    } else {
      suggestion.classList.add("hidden");
    }
    $("sources").innerHTML = body.sources.length ? "<h3>出处</h3><ul>" + body.sources.map(passageItem).join("") + "</ul>" : "";
    $("passages").innerHTML = body.passages.map(passageItem).join("") || "<li class=\"muted\">没有</li>";
    if (question) {
      previous = question;
      $("previous").textContent = "上一个问题：" + question;
    }
  }

  function ask(question, passageId) {
    var body = { question: question, previous: $("follow-up").checked ? previous : null };
    if (passageId) body.passage_id = passageId;
    $("answer").textContent = "正在问……";
    api("POST", "/api/ask", body).then(function (answer) { showAnswer(answer, question); },
      function () { $("answer").textContent = ""; });
  }

  $("ask-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var question = $("question").value.trim();
    if (!question) { toast("请输入来电人的问题", "error"); return; }
    ask(question);
  });

  // ---- forms -----------------------------------------------------------------------------
  function fill(select, items) {
    select.innerHTML = items.map(function (i) {
      return "<option value=\"" + esc(i.id) + "\">" + esc(i.name) + "</option>";
    }).join("");
  }

  function locationsFor(serviceId) {
    var service = options.services.filter(function (s) { return s.id === serviceId; })[0];
    fill($("b-location"), options.locations.filter(function (l) { return service.locations.indexOf(l.id) >= 0; }));
  }

  function loadOptions() {
    if (options) return Promise.resolve(options);
    return api("GET", "/api/ask/options").then(function (data) {
      options = data;
      fill($("b-service"), data.services);
      fill($("a-category"), data.categories);
      locationsFor($("b-service").value);
      return data;
    });
  }

  function open(formId) {
    loadOptions().then(function () {
      ["booking-form", "appeal-form", "created"].forEach(function (id) { $(id).classList.add("hidden"); });
      $(formId).classList.remove("hidden");
    }, function () {});
  }

  $("open-booking").addEventListener("click", function () { open("booking-form"); });
  $("open-appeal").addEventListener("click", function () {
    open("appeal-form");
    if (!$("a-description").value && $("question").value) $("a-description").value = $("question").value;
  });
  $("b-service").addEventListener("change", function () { locationsFor(this.value); });

  function created(answer) {
    $("booking-form").classList.add("hidden");
    $("appeal-form").classList.add("hidden");
    $("created").classList.remove("hidden");
    $("created-text").textContent = answer.text;
    $("created-profile").href = "/profile?id=" + answer.profile_id;
    toast("已办好：" + answer.reference, "ok");
  }

  $("booking-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("b-times").innerHTML = "";
    api("POST", "/api/ask/booking", {
      service: $("b-service").value, location: $("b-location").value, when: $("b-when").value,
      name: $("b-name").value, phone: $("b-phone").value, id_number: $("b-id").value,
    }).then(function (answer) { $("b-id").value = ""; created(answer); }, function (error) {
      var times = (error.data && error.data.times) || [];
      $("b-times").innerHTML = times.map(function (t) {
        return "<button class=\"btn btn-small\" type=\"button\" data-value=\"" + esc(t.value) + "\">" + esc(t.title) + "</button>";
      }).join("");
    });
  });

  $("b-times").addEventListener("click", function (event) {
    var value = event.target.getAttribute && event.target.getAttribute("data-value");
    if (value) { $("b-when").value = value; $("b-times").innerHTML = ""; }
  });

  $("a-classify").addEventListener("click", function () {
    var description = $("a-description").value.trim();
    if (!description) return;
    api("POST", "/api/ask/appeal/classify", { description: description }).then(function (proposal) {
      if (proposal.offered.length) $("a-category").value = proposal.offered[0].id;
      $("a-urgent").textContent = proposal.urgent.length ? "紧急：" + proposal.urgent.join("、") : "";
      if (!proposal.confident) toast("类别没有把握，可能是：" + proposal.offered.map(function (o) { return o.name; }).join("、"), "info");
    }, function () {});
  });

  $("appeal-form").addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/api/ask/appeal", {
      description: $("a-description").value, category: $("a-category").value, town: $("a-town").value,
      name: $("a-name").value, phone: $("a-phone").value, visit_wanted: $("a-visit").checked,
    }).then(created, function () {});
  });
})();
