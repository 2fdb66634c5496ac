// What the record pages (预约 /bookings, 诉求 /appeals) share: a filtered, paged list whose rows open
// a detail drawer, and the changes made from the drawer. Load after common.js (it uses api()).
// The page holds form#filters, a#csv, tbody#rows, #summary, #page, #prev, #next and aside#drawer;
// records.css styles the drawer, the pager and the filter check boxes.
"use strict";

const PAGE_SIZE = 50;

// An element with attributes (on… ones are listeners) and children (strings become text, never HTML).
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// Adds the options ({value, label}, as the *-options APIs give them) to a <select> or <datalist>.
function fill(select, options) {
  for (const option of options) select.append(h("option", { value: option.value }, option.label));
}

// The list, the drawer's record and its changes, over one API:
//   path      "/api/bookings": list GET path?filters, CSV path.csv?filters, a record GET path/ref,
//             a change POST path/ref/action
//   cells(r)  the table cells of one record (its row opens the drawer)
//   summary(total)  the line above the table
//   render(record, message)  fills the drawer (with showDrawer); message is {text, ok} or absent
//   savedNote(record)  what to add to "已保存。" after a change (optional)
// Returns {load, open, change, start}; the page calls start() when the DOM is ready.
function recordPage({ path, cells, summary, render, savedNote = () => "" }) {
  const form = document.getElementById("filters");
  let offset = 0;

  function filterQuery() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (value.trim()) params.append(key, value.trim());
    }
    return params;
  }

  async function load() {
    const params = filterQuery();
    document.getElementById("csv").href = `${path}.csv?` + params;
    params.set("limit", PAGE_SIZE);
    params.set("offset", offset);
    const page = await api("GET", `${path}?` + params);
    document.getElementById("rows").replaceChildren(...page.items.map((r) => h("tr", {
      class: "clickable", "data-reference": r.reference, onclick: () => open(r.reference),
    }, cells(r).map((cell) => h("td", {}, cell)))));
    document.getElementById("summary").textContent = summary(page.total);
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    document.getElementById("page").textContent = `第 ${offset / PAGE_SIZE + 1} / ${pages} 页`;
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = offset + PAGE_SIZE >= page.total;
  }

  async function open(reference, message) {
    render(await api("GET", `${path}/${encodeURIComponent(reference)}`), message);
  }

  // A refused change shows the record as it is now, with the server's reason.
  async function change(reference, action, body) {
    try {
      const record = await api("POST", `${path}/${encodeURIComponent(reference)}/${action}`, body);
      render(record, { text: "已保存。" + savedNote(record), ok: true });
      load();
    } catch (error) {
      await open(reference, { text: error.message || String(error), ok: false });
    }
  }

  // Fills the filter <select>s from the options API ({select name: options key}), lets the page
  // set up the rest (prepare(options, query of the URL)), lists, and opens ?reference= if given.
  async function start(optionsPath, selects, prepare = () => {}) {
    const options = await api("GET", optionsPath);
    for (const [name, key] of Object.entries(selects)) fill(form[name], options[key]);
    const query = new URLSearchParams(location.search);
    prepare(options, query);
    await load();
    if (query.get("reference")) open(query.get("reference"));
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load(); });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); load(); });
  document.getElementById("next").addEventListener("click", () => { offset += PAGE_SIZE; load(); });
  return { load, open, change, start };
}

// Shows one record in the drawer: its row marked, 关闭, the title, the message of the last change,
// the record's fields ([label, value] pairs), the page's parts (null ones left out) and its history.
function showDrawer({ reference, title, message, fields, parts, history, lines }) {
  const drawer = document.getElementById("drawer");
  document.querySelectorAll("#rows tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.reference === reference));
  drawer.replaceChildren(...[
    h("button", { type: "button", class: "btn btn-quiet btn-small close", onclick: () => { drawer.hidden = true; } }, "关闭"),
    h("h2", {}, title),
    message ? h("p", { class: message.ok ? "result-ok" : "error-text", role: "status" }, message.text) : null,
    h("dl", {}, fields.flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value || "—")])),
    ...parts,
    h("h3", {}, history),
    h("ol", { class: "events" }, lines.map((line) => h("li", {}, line))),
  ].filter(Boolean));
  drawer.hidden = false;
}

// A drawer form that calls send(form) when submitted, instead of leaving the page.
function actionForm(className, send, ...children) {
  return h("form", { class: className, onsubmit: (event) => { event.preventDefault(); send(event.currentTarget); } },
    ...children);
}
