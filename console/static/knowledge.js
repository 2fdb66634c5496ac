/* 知识库管理 (admins): upload, list, remove documents; the background job (index rebuild or the
 * evaluation) is polled until it finishes; the gap list. */
(function () {
  "use strict";
  var polling = null;

  function $(id) { return document.getElementById(id); }
  function pct(x) { return (x * 100).toFixed(1) + "%"; }

  function loadDocuments() {
    var all = $("show-all").checked ? "?all=true" : "";
    api("GET", "/api/knowledge/documents" + all).then(function (docs) {
      $("document-table").querySelector("tbody").innerHTML = docs.map(function (d) {
        var remove = d.kind === "import"
          ? "<button class=\"btn btn-small btn-danger\" type=\"button\" data-id=\"" + esc(d.doc_id) + "\" data-title=\"" + esc(d.title) + "\">删除</button>"
          : "<span class=\"muted small\">项目语料</span>";
        return "<tr><td>" + esc(d.doc_id) + "</td><td>" + esc(d.title) + "</td><td>" + esc(d.date) + "</td><td>" +
          (d.in_force ? "现行" : "<span class=\"tag tag-overdue\">已废止</span>") + "</td><td>" + d.passages +
          "</td><td>" + esc(d.updated_at.replace("T", " ")) + "</td><td>" + remove + "</td></tr>";
      }).join("") || "<tr><td colspan=\"7\" class=\"muted\">还没有导入任何文件</td></tr>";
    }, function () {});
  }

  function showEval(table) {
    var rows = table.modes.map(function (m) {
      return "<tr><td>" + esc(m.mode) + "</td><td>" + pct(m.hit1) + "</td><td>" + pct(m.hit3) + "</td><td>" +
        m.mrr.toFixed(3) + "</td><td>" + pct(m.refusal) + "</td><td>" + pct(m.answered) + "</td><td>" +
        m.threshold.toFixed(2) + "</td></tr>";
    }).join("");
    var html = "<p>开发集 " + table.questions + " 个问题（可回答 " + table.answerable + "），语料 " + table.passages + " 段。</p>" +
      "<table class=\"table\"><thead><tr><th>方式</th><th>首条命中</th><th>前三命中</th><th>MRR</th>" +
      "<th>不可回答被拒答</th><th>可回答没被误拒</th><th>阈值</th></tr></thead><tbody>" + rows + "</tbody></table>";
    if (table.judge) {
      var line = function (name, f) {
        return "<tr><td>" + name + "</td><td>" + pct(f.answerable_right) + "</td><td>" + pct(f.confidently_wrong) +
          "</td><td>" + pct(f.unanswerable_refused) + "</td></tr>";
      };
      html += "<h3>留出的 " + table.judge.questions + " 个问题（混合检索首条）</h3><table class=\"table\"><thead><tr>" +
        "<th></th><th>答对</th><th>答错</th><th>不可回答拒答</th></tr></thead><tbody>" +
        line("余弦阈值", table.judge.cosine) + line("相关度判定", table.judge.judge) + "</tbody></table>";
    }
    $("eval-result").innerHTML = html;
  }

  function showJob(job) {
    if (!job) { $("job").textContent = ""; return; }
    $("job").textContent = job.message;
    $("run-eval").disabled = job.state === "running";
    if (job.state === "running") {
      if (!polling) polling = setInterval(pollJob, 2000);
      return;
    }
    clearInterval(polling);
    polling = null;
    if (job.kind === "eval" && job.state === "done" && job.result) showEval(job.result);
    if (job.kind === "rebuild") loadDocuments();
  }

  function pollJob() { api("GET", "/api/knowledge/job").then(showJob, function () {}); }

  function loadGaps() {
    api("GET", "/api/knowledge/gaps?limit=100").then(function (list) {
      $("gap-table").querySelector("tbody").innerHTML = list.map(function (g) {
        return "<tr><td>" + g.count + "</td><td>" + esc(fmtTime(g.last_seen)) + "</td><td>" + esc(g.kind_label) +
          (g.passage_id ? " <span class=\"muted small\">" + esc(g.passage_id) + "</span>" : "") + "</td><td>" +
          esc(g.question) + "</td></tr>";
      }).join("") || "<tr><td colspan=\"4\" class=\"muted\">还没有答不上的问题</td></tr>";
    }, function () {});
  }

  $("upload-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var file = $("upload-file").files[0];
    if (!file) return;
    var form = new FormData();
    form.append("file", file);
    api("POST", "/api/knowledge/documents", form).then(function (done) {
      toast((done.changed ? "已导入：" : "内容没有变化：") + done.title + "，" + done.passages + " 条", "ok");
      $("upload-file").value = "";
      loadDocuments();
      showJob(done.job);
    }, function () {});
  });

  $("document-table").addEventListener("click", function (event) {
    var id = event.target.getAttribute && event.target.getAttribute("data-id");
    if (!id || !confirm("确定删除《" + event.target.getAttribute("data-title") + "》吗？删除后助手不再引用它。")) return;
    api("DELETE", "/api/knowledge/documents/" + encodeURIComponent(id)).then(function (job) {
      toast("已删除", "ok");
      loadDocuments();
      showJob(job);
    }, function () {});
  });

  $("show-all").addEventListener("change", loadDocuments);
  $("run-eval").addEventListener("click", function () {
    api("POST", "/api/knowledge/eval").then(showJob, function () {});
  });

  consoleReady.then(function (me) {
    if (!me) return;
    loadDocuments();
    loadGaps();
    pollJob();
  });
})();
