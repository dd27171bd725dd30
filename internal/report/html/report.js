// Renders the differing rows of a pgparity report one page at a time. Filtering runs over the
// data array, never over the DOM, and every value goes into the page through textContent.
(function () {
  "use strict";
  var PAGE = 100;       // rows per page
  var MAX_TEXT = 300;   // characters put into a cell; the full value is in its title
  var LONG = 40;        // values longer than this get a title and expand on click

  var el = function (id) { return document.getElementById(id); };
  var data = JSON.parse(el("diff-data").textContent);
  var nodes = data.nodes, columns = data.columns, types = data.types || [];
  var keyCols = data.key, rows = data.rows, wholeRow = data.whole_row;
  var state = { page: 0, matches: null, onlyDiff: false };
  var choices = {}; // repair plan: row index -> action chosen in the page
  for (var ri = 0; ri < rows.length; ri++) rows[ri].i = ri;
  var hay = null; // lower-cased search text per row, built on first filter
  var table = el("rows"), head = el("rows-head");

  function fmt(n) { return n.toLocaleString("en-US"); }

  function keyText(r) {
    var parts = [];
    for (var i = 0; i < r.k.length; i++) {
      var v = r.k[i] === null ? "NULL" : r.k[i];
      parts.push((keyCols[i] !== undefined ? keyCols[i] : "key" + (i + 1)) + "=" + v);
    }
    return parts.join(", ");
  }

  function buildHay() {
    hay = new Array(rows.length);
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], parts = [keyText(r)];
      for (var n = 0; n < r.v.length; n++) {
        var vals = r.v[n];
        if (vals === null) { parts.push("missing on " + nodes[n]); continue; }
        for (var c = 0; c < vals.length; c++) parts.push(vals[c] === null ? "null" : vals[c]);
      }
      hay[i] = parts.join("\u0001").toLowerCase();
    }
  }

  function applyFilter(q) {
    var terms = q.toLowerCase().split(/\s+/).filter(function (t) { return t !== ""; });
    if (terms.length === 0) {
      state.matches = null;
    } else {
      if (hay === null) buildHay();
      var out = [];
      outer: for (var i = 0; i < hay.length; i++) {
        for (var t = 0; t < terms.length; t++) if (hay[i].indexOf(terms[t]) < 0) continue outer;
        out.push(i);
      }
      state.matches = out;
    }
    state.page = 0;
    render();
  }

  function total() { return state.matches === null ? rows.length : state.matches.length; }
  function rowAt(i) { return rows[state.matches === null ? i : state.matches[i]]; }

  function th(text, type) {
    var e = document.createElement("th");
    e.textContent = text;
    if (type) {
      var s = document.createElement("span");
      s.className = "type";
      s.textContent = type;
      e.appendChild(s);
    }
    return e;
  }

  function renderHead(vis) {
    var tr = document.createElement("tr");
    tr.appendChild(th("Key", keyCols.join(", ")));
    tr.appendChild(th("Node"));
    if (wholeRow) tr.appendChild(th("Copies"));
    for (var i = 0; i < vis.length; i++) tr.appendChild(th(columns[vis[i]], types[vis[i]]));
    head.replaceChildren(tr);
  }

  function valueCell(v, isDiff) {
    var td = document.createElement("td");
    td.className = "val" + (isDiff ? " diff-cell" : "");
    if (v === null) {
      var s = document.createElement("span");
      s.className = "null";
      s.textContent = "NULL";
      td.appendChild(s);
    } else if (v === "") {
      td.className += " empty";
    } else {
      td.textContent = v.length > MAX_TEXT ? v.slice(0, MAX_TEXT) + "…" : v;
      if (v.length > LONG || v.indexOf("\n") >= 0) {
        td.className += " long";
        td.title = v;
        td.pgValue = v;
      }
    }
    return td;
  }

  function renderRow(r, vis, frag) {
    var body = document.createElement("tbody");
    body.className = "group";
    var diff = {};
    for (var i = 0; i < r.d.length; i++) diff[r.d[i]] = true;
    var countsDiffer = false;
    if (wholeRow && r.c) for (i = 1; i < r.c.length; i++) if (r.c[i] !== r.c[0]) countsDiffer = true;
    for (var n = 0; n < nodes.length; n++) {
      var tr = document.createElement("tr");
      if (n === 0) {
        var k = document.createElement("td");
        k.className = "key";
        k.rowSpan = nodes.length;
        k.textContent = keyText(r);
        k.title = k.textContent;
        if (!wholeRow) k.appendChild(planSelect(r));
        tr.appendChild(k);
      }
      var nd = document.createElement("td");
      nd.className = "node";
      nd.textContent = nodes[n];
      tr.appendChild(nd);
      if (wholeRow) {
        var ct = document.createElement("td");
        ct.className = "count" + (countsDiffer ? " diff-cell" : "");
        ct.textContent = r.c ? fmt(r.c[n]) : "";
        tr.appendChild(ct);
      }
      var vals = r.v[n];
      if (vals === null || vals === undefined) {
        var m = document.createElement("td");
        m.className = "missing";
        m.colSpan = Math.max(1, vis.length);
        m.textContent = "missing on " + nodes[n];
        tr.appendChild(m);
      } else {
        for (var c = 0; c < vis.length; c++) tr.appendChild(valueCell(vals[vis[c]], diff[vis[c]] === true));
      }
      body.appendChild(tr);
    }
    frag.appendChild(body);
  }

  function render() {
    var count = total();
    var pages = Math.max(1, Math.ceil(count / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    var start = state.page * PAGE, end = Math.min(count, start + PAGE);
    var page = [];
    for (var i = start; i < end; i++) page.push(rowAt(i));

    var vis = [];
    for (i = 0; i < columns.length; i++) vis.push(i);
    if (state.onlyDiff) {
      var used = {};
      page.forEach(function (r) { r.d.forEach(function (c) { used[c] = true; }); });
      var only = vis.filter(function (c) { return used[c]; });
      if (only.length > 0) vis = only;
    }

    var old = table.querySelectorAll("tbody");
    for (i = 0; i < old.length; i++) old[i].remove();
    renderHead(vis);
    var frag = document.createDocumentFragment();
    page.forEach(function (r) { renderRow(r, vis, frag); });
    table.appendChild(frag);

    var empty = el("empty");
    if (count === 0) {
      empty.textContent = rows.length === 0 ? "No differing rows." : "No rows match the filter.";
      empty.hidden = false;
      el("rows-wrap").hidden = true;
      el("page-info").textContent = rows.length === 0 ? "0 rows" : "0 of " + fmt(rows.length);
    } else {
      empty.hidden = true;
      el("rows-wrap").hidden = false;
      var info = fmt(start + 1) + "\u2013" + fmt(end) + " of " + fmt(count);
      if (state.matches !== null) info += " (filtered from " + fmt(rows.length) + ")";
      el("page-info").textContent = info;
    }
    el("prev").disabled = state.page === 0;
    el("next").disabled = state.page >= pages - 1;
  }

  // The actions a repair plan knows (docs/repair-plans.md); "" leaves the key to the default.
  function planActions() {
    var a = [["", "repair: default"]];
    for (var n = 0; n < nodes.length; n++) a.push(["take " + nodes[n], "take " + nodes[n]]);
    a.push(["delete", "delete"], ["skip", "skip"]);
    return a;
  }

  function planSelect(r) {
    var sel = document.createElement("select");
    sel.className = "plan-action";
    sel.setAttribute("aria-label", "Repair action for " + keyText(r));
    planActions().forEach(function (a) {
      var o = document.createElement("option");
      o.value = a[0];
      o.textContent = a[1];
      sel.appendChild(o);
    });
    sel.value = choices[r.i] || "";
    sel.addEventListener("change", function () { choose(r.i, sel.value); });
    return sel;
  }

  function choose(i, action) {
    if (action) choices[i] = action; else delete choices[i];
    el("plan-count").textContent = fmt(Object.keys(choices).length);
  }

  // planYAML writes the chosen actions as per-key overrides. Keys are JSON objects, which YAML
  // reads as flow mappings; key values are PostgreSQL's text, compared as text by the plan.
  function planYAML() {
    var idx = Object.keys(choices).map(Number).sort(function (a, b) { return a - b; });
    var out = ["# Repair plan built in the pgparity report of " + el("table-name").textContent + ".",
      "# Use: pgparity table-repair --diff-file DIFF_FILE --plan THIS_FILE [--dry-run]",
      "version: 1"];
    out.push(idx.length ? "overrides:" : "overrides: []");
    idx.forEach(function (i) {
      var r = rows[i], key = {};
      for (var j = 0; j < r.k.length; j++) key[keyCols[j]] = r.k[j];
      out.push("  - key: " + JSON.stringify(key));
      out.push("    action: " + choices[i]);
    });
    out.push("default: " + el("plan-default").value);
    return out.join("\n") + "\n";
  }

  function downloadPlan() {
    var a = document.createElement("a");
    a.href = "data:application/yaml;charset=utf-8," + encodeURIComponent(planYAML());
    a.download = el("table-name").textContent.replace(/[^A-Za-z0-9_.-]+/g, "_") + "_plan.yaml";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  if (!wholeRow) {
    el("plan-tools").hidden = false;
    planActions().slice(1).forEach(function (a) {
      var o = document.createElement("option");
      o.value = a[0];
      o.textContent = a[1];
      el("plan-default").appendChild(o);
    });
    el("plan-default").value = "skip";
    el("plan-download").addEventListener("click", downloadPlan);
  }
  // For scripted use and tests: choose actions and read the plan without clicking.
  window.pgparityPlan = { choose: choose, yaml: planYAML };

  function go(delta) {
    state.page += delta;
    if (state.page < 0) state.page = 0;
    render();
    el("rows-wrap").scrollTop = 0;
  }

  function copyKeys() {
    var count = total(), out = new Array(count);
    for (var i = 0; i < count; i++) {
      var r = rowAt(i), o = {};
      for (var j = 0; j < r.k.length; j++) o[keyCols[j] !== undefined ? keyCols[j] : "key" + (j + 1)] = r.k[j];
      out[i] = o;
    }
    var text = JSON.stringify(out, null, 1);
    var done = function () { el("copy-status").textContent = "Copied " + fmt(count) + " keys"; };
    var fallback = function () {
      var ta = document.createElement("textarea");
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      try { document.execCommand("copy"); done(); } catch (e) { el("copy-status").textContent = "Copy failed"; }
      ta.remove();
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }

  var timer = null;
  el("filter").addEventListener("input", function (e) {
    clearTimeout(timer);
    var q = e.target.value;
    timer = setTimeout(function () { applyFilter(q); }, 150);
  });
  el("filter").addEventListener("keydown", function (e) {
    if (e.key === "Escape") { e.target.value = ""; applyFilter(""); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.target && (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA")) return;
    if (e.key === "/") { e.preventDefault(); el("filter").focus(); }
    else if (e.key === "ArrowRight" && !el("next").disabled) go(1);
    else if (e.key === "ArrowLeft" && !el("prev").disabled) go(-1);
  });
  el("only-diff").addEventListener("change", function (e) { state.onlyDiff = e.target.checked; render(); });
  el("prev").addEventListener("click", function () { go(-1); });
  el("next").addEventListener("click", function () { go(1); });
  el("copy-keys").addEventListener("click", copyKeys);
  table.addEventListener("click", function (e) {
    var td = e.target.closest ? e.target.closest("td.val.long") : null;
    if (!td || td.pgValue === undefined) return;
    var open = td.classList.toggle("expanded");
    td.textContent = open || td.pgValue.length <= MAX_TEXT ? td.pgValue : td.pgValue.slice(0, MAX_TEXT) + "…";
  });

  render();
})();
