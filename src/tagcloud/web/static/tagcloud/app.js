/* Tagcloud pages: the builder's picker and the profile charts (ECharts, served locally). */
(function () {
  "use strict";
  function json(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : {}; }
  // The page's language (Django sets <html lang>): the few words drawn by script follow it.
  var EN = (document.documentElement.lang || "").indexOf("en") === 0;
  var OPS_LABEL = EN ? { "is": "is", "is_not": "is not", "in": "in", "between": "between" }
                     : { "is": "是", "is_not": "否", "in": "属于", "between": "介于" };

  window.tcPick = function () {
    var cat = json("catalogue-json"), ops = json("operators-json");
    var col = document.getElementById("pick-column");
    var op = document.getElementById("pick-op"), dl = document.getElementById("pick-values");
    var val = document.getElementById("pick-value");
    if (!col || !op) return;
    var meta = cat[col.value] || { kind: "flag", values: [] };
    op.innerHTML = "";
    (ops[meta.kind] || []).forEach(function (o) {
      var opt = document.createElement("option"); opt.value = o; opt.textContent = OPS_LABEL[o] || o; op.appendChild(opt);
    });
    dl.innerHTML = "";
    (meta.values || []).forEach(function (v) { var o = document.createElement("option"); o.value = v; dl.appendChild(o); });
    val.disabled = meta.kind === "flag";
  };

  window.tcAddRow = function () {
    var rows = document.getElementById("rows");
    var first = rows.querySelector(".cond-row");
    var row = first ? first.cloneNode(true) : null;
    if (!row) return;
    row.querySelector("input").value = "";
    rows.appendChild(row);
    row.querySelector("input").focus();
  };

  window.tcFilter = filterPicker;
  function filterPicker() {
    var q = (document.getElementById("pick-search").value || "").trim().toLowerCase();
    var col = document.getElementById("pick-column"), firstShown = null;
    Array.prototype.forEach.call(col.options, function (o) {
      var show = !q || o.textContent.toLowerCase().indexOf(q) >= 0;
      o.hidden = !show;
      if (show && !firstShown) firstShown = o;
    });
    if (firstShown && (col.selectedIndex < 0 || col.options[col.selectedIndex].hidden)) { firstShown.selected = true; tcPick(); }
  }

  function drawCharts(root) {
    if (typeof echarts === "undefined") return;
    (root.querySelectorAll ? root.querySelectorAll(".charts") : []).forEach(function (box) {
      var charts = JSON.parse(box.getAttribute("data-charts") || "[]");
      box.querySelectorAll(".chart").forEach(function (el) {
        var c = charts[+el.getAttribute("data-index")];
        if (!c) return;
        // Enough height for every bar to keep its label readable.
        if (!c.line) el.style.height = Math.max(260, 24 * c.labels.length + 70) + "px";
        var chart = echarts.init(el, null, { renderer: "svg" });
        if (c.line) {
          chart.setOption({
            title: { text: c.title, textStyle: { fontSize: 13 } }, tooltip: { trigger: "axis" }, animation: false,
            grid: { left: 8, right: 24, top: 48, bottom: 8, containLabel: true },
            xAxis: { type: "category", data: c.labels }, yAxis: { type: "value", min: 0 },
            series: [{ type: "line", data: c.values, symbolSize: 8, itemStyle: { color: "#0b6bcb" }, label: { show: true } }]
          });
          return;
        }
        chart.setOption({
          title: { text: c.title, textStyle: { fontSize: 13 } },
          grid: { left: 8, right: 48, top: 36, bottom: 8, containLabel: true },
          tooltip: {}, animation: false,
          xAxis: { type: "value" },
          yAxis: { type: "category", data: c.labels, inverse: true, axisLabel: { width: 130, overflow: "truncate", interval: 0 } },
          series: [{ type: "bar", data: c.values, itemStyle: { color: "#0b6bcb" }, label: { show: true, position: "right" } }]
        });
      });
    });
  }

  function drawMap() {
    var el = document.getElementById("region-map");
    if (!el || typeof echarts === "undefined") return;
    var pts = JSON.parse(el.getAttribute("data-points") || "[]");
    if (!pts.length) { el.textContent = "—"; el.style.height = "auto"; return; }
    var max = Math.max.apply(null, pts.map(function (p) { return p[2]; })) || 1;
    echarts.init(el, null, { renderer: "svg" }).setOption({
      animation: false, grid: { left: 8, right: 70, top: 8, bottom: 8, containLabel: true },
      tooltip: { formatter: function (p) { return p.data[3] + ": " + p.data[2].toLocaleString(); } },
      xAxis: { type: "value", scale: true, name: EN ? "longitude" : "经度", axisLabel: { show: false }, splitLine: { show: false } },
      yAxis: { type: "value", scale: true, name: EN ? "latitude" : "纬度", axisLabel: { show: false }, splitLine: { show: false } },
      series: [{ type: "scatter", data: pts, symbolSize: function (d) { return 6 + 30 * Math.sqrt(d[2] / max); },
                 itemStyle: { color: "#0b6bcb", opacity: 0.6 },
                 label: { show: pts.length <= 40, position: "right", fontSize: 11, color: "#445",
                          formatter: function (p) { return p.data[3]; } } }]
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawMap();
    var col = document.getElementById("pick-column");
    if (col) {
      col.addEventListener("change", tcPick);
      document.getElementById("pick-search").addEventListener("input", filterPicker);
      if (col.selectedIndex < 0 && col.options.length) col.options[0].selected = true;
      tcPick();
    }
    drawCharts(document);
  });
  document.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.detail.target); });
  // Errors of the picker go next to it, not into the row list.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr.status === 422 || e.detail.xhr.status === 503) {
      e.detail.shouldSwap = true; e.detail.isError = false;
      if (e.detail.target && e.detail.target.id === "rows") e.detail.target = document.getElementById("pick-error");
    }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var pe = document.getElementById("pick-error");
    if (pe && e.detail.successful && e.detail.target && e.detail.target.id === "rows") pe.innerHTML = "";
  });
})();
