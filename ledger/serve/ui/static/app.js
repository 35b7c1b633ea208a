// ledger ui: the runs table, metric charts (uPlot) and parallel coordinates.
// Plain browser JavaScript, no build step. Every value from the server is user data: it is
// put into the page with textContent / DOM properties only, never as HTML.
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const el = (tag, props, children) => {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const c of children || []) node.append(c);
    return node;
  };
  const fmtTime = (ms) => {
    if (ms === null || ms === undefined || ms === "") return "";
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
      `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  };
  const fmtCell = (column, v) => {
    if (v === null || v === undefined) return "";
    if (column === "start_time" || column === "end_time") return fmtTime(v);
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
    return String(v);
  };

  // -- the runs table ------------------------------------------------------------------------
  function runsPage() {
    const form = $("#runs-form");
    const where = $("#where");
    const state = {
      experiment: form.dataset.experiment, sort: form.dataset.sort || "start_time",
      desc: form.dataset.desc !== "0", offset: 0, limit: 100,
      cols: form.dataset.cols ? form.dataset.cols.split(",") : [],
      deleted: $("#deleted").checked, selected: new Set(),
    };
    let seq = 0;
    let last = null;

    function params() {
      const q = new URLSearchParams();
      if (state.experiment) q.set("experiment", state.experiment);
      if (where.value.trim()) q.set("where", where.value.trim());
      q.set("sort", state.sort);
      q.set("desc", state.desc ? "1" : "0");
      if (state.cols.length) q.set("cols", state.cols.join(","));
      if (state.deleted) q.set("deleted", "1");
      return q;
    }

    async function load() {
      const mine = ++seq;
      const q = params();
      history.replaceState(null, "", "/runs?" + q.toString());
      q.set("offset", state.offset);
      q.set("limit", state.limit);
      const resp = await fetch("/api/runs?" + q.toString(), {headers: {accept: "application/json"}});
      const data = await resp.json();
      if (mine !== seq) return;  // a newer request went out meanwhile
      const err = $("#where-error");
      if (!resp.ok) {
        err.textContent = data.caret ? `${data.error}\n${data.caret}` : data.error;
        err.hidden = false;
        where.classList.add("invalid");
        if (data.position) where.setSelectionRange(data.position - 1, data.position);
        return;
      }
      err.hidden = true;
      where.classList.remove("invalid");
      last = data;
      state.cols = data.columns;
      render(data);
    }

    function render(data) {
      const table = $("#runs");
      const head = el("tr", {}, [el("th", {className: "pick"})]);
      for (const c of data.columns) {
        const th = el("th", {textContent: c, title: "sort by " + c});
        th.dataset.column = c;
        if (c === state.sort) th.className = state.desc ? "sorted desc" : "sorted asc";
        if (c.startsWith("metrics.")) th.classList.add("n");
        head.append(th);
      }
      const body = el("tbody");
      for (const row of data.rows) {
        const box = el("input", {type: "checkbox", checked: state.selected.has(row.id)});
        box.dataset.id = row.id;
        const tr = el("tr", {className: row.deleted ? "deleted" : ""}, [el("td", {className: "pick"}, [box])]);
        row.cells.forEach((v, i) => {
          const column = data.columns[i];
          const td = el("td", {className: typeof v === "number" ? "n" : ""});
          const text = fmtCell(column, v);
          if (column === "name" || column === "run_id") {
            td.append(el("a", {href: "/runs/" + row.id, textContent: text || row.id.slice(0, 8)}));
          } else {
            td.textContent = text;
          }
          tr.append(td);
        });
        body.append(tr);
      }
      table.tHead.replaceChildren(head);
      table.tBodies[0].replaceWith(body);
      const end = Math.min(data.offset + data.rows.length, data.total);
      $("#count").textContent = data.total ?
        `runs ${data.offset + 1}–${end} of ${data.total}` : "no runs match";
      $("#prev").disabled = data.offset === 0;
      $("#next").disabled = end >= data.total;
      if (!$("#columns").hidden) chooser(data);
    }

    function chooser(data) {
      const box = $("#columns");
      box.replaceChildren(...data.available.map((c) => {
        const input = el("input", {type: "checkbox", checked: state.cols.includes(c)});
        input.dataset.column = c;
        return el("label", {}, [input, " " + c]);
      }));
    }

    function selectionChanged() {
      const n = state.selected.size;
      $("#chart-button").disabled = n < 1;
      $("#compare-button").disabled = n < 2;
      $("#chart-button").textContent = n ? `Chart ${n} selected` : "Chart selected";
      $("#compare-button").textContent = n > 1 ? `Compare ${n} selected` : "Compare selected";
    }

    let timer = null;
    where.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { state.offset = 0; load(); }, 400);
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      clearTimeout(timer);
      state.offset = 0;
      load();
    });
    $("#deleted").addEventListener("change", (e) => { state.deleted = e.target.checked; state.offset = 0; load(); });
    $("#runs").addEventListener("click", (e) => {
      const th = e.target.closest("th[data-column]");
      if (!th) return;
      const c = th.dataset.column;
      state.desc = c === state.sort ? !state.desc : c === "start_time" || c.startsWith("metrics.");
      state.sort = c;
      state.offset = 0;
      load();
    });
    $("#runs").addEventListener("change", (e) => {
      const id = e.target.dataset.id;
      if (!id) return;
      if (e.target.checked) state.selected.add(id); else state.selected.delete(id);
      selectionChanged();
    });
    $("#columns-button").addEventListener("click", () => {
      $("#columns").hidden = !$("#columns").hidden;
      if (last && !$("#columns").hidden) chooser(last);
    });
    $("#columns").addEventListener("change", () => {
      state.cols = [...document.querySelectorAll("#columns input:checked")].map((i) => i.dataset.column);
      load();
    });
    $("#prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); load(); });
    $("#next").addEventListener("click", () => { state.offset += state.limit; load(); });
    $("#chart-button").addEventListener("click", () => {
      location.href = "/chart?runs=" + [...state.selected].join(",");
    });
    $("#compare-button").addEventListener("click", () => {
      location.href = "/compare?runs=" + [...state.selected].join(",");
    });
    load();
  }

  // -- metric charts ---------------------------------------------------------------------------
  const color = (i, n) => `hsl(${Math.round((i * 360) / Math.max(n, 1) + (i % 2) * 17) % 360}, 70%, 42%)`;

  function smooth(ys, weight) {  // TensorBoard's debiased exponential moving average
    if (!weight) return ys;
    const out = new Array(ys.length);
    let last = 0, n = 0;
    for (let i = 0; i < ys.length; i++) {
      const y = ys[i];
      if (y === null) { out[i] = null; continue; }
      last = last * weight + (1 - weight) * y;
      n++;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  function chartPanel(panel) {
    const ids = panel.dataset.runs;
    const controls = el("div", {className: "toolbar"});
    const keySel = el("select", {id: "chart-key", title: "metric"});
    const xSel = el("select", {id: "chart-x", title: "x axis"}, [
      el("option", {value: "step", textContent: "by step"}),
      el("option", {value: "time", textContent: "by wall clock"}),
      el("option", {value: "relative", textContent: "by time since start (s)"}),
    ]);
    const smoothIn = el("input", {type: "range", min: 0, max: 0.99, step: 0.01, value: 0, id: "chart-smooth"});
    const logIn = el("input", {type: "checkbox", id: "chart-log"});
    const info = el("span", {className: "note"});
    controls.append(keySel, xSel, el("label", {}, ["smoothing ", smoothIn]),
                    el("label", {}, [logIn, " log scale"]), info);
    const box = el("div", {className: "chart"});
    panel.append(controls, box);
    let data = null;
    let plot = null;

    async function fetchData() {
      if (!ids) { info.textContent = "no runs chosen: select runs in the runs table"; return; }
      const q = new URLSearchParams({runs: ids, x: xSel.value,
                                     points: String(Math.max(400, box.clientWidth || 1000))});
      const key = keySel.value || panel.dataset.key;
      if (key) q.set("key", key);
      const resp = await fetch("/api/metrics?" + q.toString());
      const got = await resp.json();
      if (!resp.ok) { info.textContent = got.error; return; }
      data = got;
      keySel.replaceChildren(...got.keys.map((k) => el("option", {value: k, textContent: k, selected: k === got.key})));
      draw();
    }

    function draw() {
      if (plot) { plot.destroy(); plot = null; }
      const weight = +smoothIn.value;
      const log = logIn.checked;
      const shown = data.series;
      if (!shown.length) { info.textContent = "no points for this metric"; return; }
      const tables = shown.map((s) => {
        let ys = smooth(s.y, weight);
        if (log) ys = ys.map((y) => (y !== null && y > 0 ? y : null));
        return [s.x, ys];
      });
      const aligned = tables.length === 1 ? tables[0] : uPlot.join(tables);
      const n = shown.length;
      const series = [{label: data.x === "step" ? "step" : data.x === "time" ? "time" : "seconds"}];
      shown.forEach((s, i) => series.push({
        label: s.name, stroke: color(i, n), width: 1.25, spanGaps: true, points: {show: false},
        value: (u, v) => (v === null || v === undefined ? "–" : String(+v.toPrecision(6))),
      }));
      const width = Math.max(300, box.clientWidth || 900);
      plot = new uPlot({
        width, height: 360, series,
        scales: {x: {time: data.x === "time"}, y: log ? {distr: 3} : {}},
        axes: [{}, {size: 70}],
        legend: {live: true},
        cursor: {focus: {prox: 16}},
        focus: {alpha: 0.3},
        hooks: {draw: [() => {
          panel.dataset.drawn = String(n);
          performance.mark("ledger-chart-drawn");
        }]},
      }, aligned, box);
      const total = shown.reduce((a, s) => a + s.points, 0);
      const drawnPts = shown.reduce((a, s) => a + s.x.length, 0);
      info.textContent = `${n} run${n > 1 ? "s" : ""}, ${total} points (${drawnPts} drawn)`;
    }

    keySel.addEventListener("change", fetchData);
    xSel.addEventListener("change", fetchData);
    smoothIn.addEventListener("input", () => data && draw());
    logIn.addEventListener("change", () => data && draw());
    fetchData();
  }

  // -- parallel coordinates (comparison of runs) ------------------------------------------------
  function parallelCoordinates(canvas, spec) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, top = 40, bottom = h - 30, pad = 60;
    const axes = spec.axes;
    const step = (w - 2 * pad) / Math.max(axes.length - 1, 1);
    ctx.font = "12px sans-serif";
    ctx.textAlign = "center";
    const scale = axes.map((a) => {
      const vals = a.values.filter((v) => v !== null);
      const lo = Math.min(...vals), hi = Math.max(...vals);
      return (v) => (hi === lo ? (top + bottom) / 2 : bottom - ((v - lo) / (hi - lo)) * (bottom - top));
    });
    axes.forEach((a, i) => {
      const x = pad + i * step;
      ctx.strokeStyle = "#999";
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      ctx.fillStyle = "#333";
      ctx.fillText(a.key.length > 22 ? a.key.slice(0, 21) + "…" : a.key, x, top - 22);
      const vals = a.values.filter((v) => v !== null);
      ctx.fillText(String(+Math.max(...vals).toPrecision(4)), x, top - 8);
      ctx.fillText(String(+Math.min(...vals).toPrecision(4)), x, bottom + 16);
    });
    spec.runs.forEach((name, r) => {
      ctx.strokeStyle = color(r, spec.runs.length);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let started = false;
      axes.forEach((a, i) => {
        const v = a.values[r];
        if (v === null) { started = false; return; }
        const x = pad + i * step, y = scale[i](v);
        if (started) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        started = true;
      });
      ctx.stroke();
    });
  }

  function comparePage() {
    const only = $("#only-diff");
    only.addEventListener("change", () => $("#compare").classList.toggle("only-diff", only.checked));
    const canvas = $("#parcoords");
    if (canvas) parallelCoordinates(canvas, JSON.parse($("#parcoords-data").textContent));
  }

  function start() {
    const page = document.body.dataset.page;
    if (page === "runs") runsPage();
    if (page === "compare") comparePage();
    document.querySelectorAll(".chart-panel").forEach(chartPanel);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
