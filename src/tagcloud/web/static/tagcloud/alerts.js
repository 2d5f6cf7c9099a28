// The tracking chart of an alert page: the KPI's course from a week before the alert, with the
// alert day and (for an absolute rule) the threshold marked. Data from a json_script block.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("tracking-chart");
  const src = document.getElementById("tracking-data");
  if (!el || !src || !window.echarts) return;
  const d = JSON.parse(src.textContent);
  const marks = [{ xAxis: d.alert_day }];
  if (d.closed_on && d.days.includes(d.closed_on)) marks.push({ xAxis: d.closed_on });
  const series = {
    type: "line", name: el.dataset.label, data: d.values, connectNulls: false,
    markLine: { symbol: "none", data: marks.concat(d.threshold != null ? [{ yAxis: d.threshold }] : []) },
  };
  const chart = echarts.init(el);
  chart.setOption({
    animation: false, tooltip: { trigger: "axis" }, xAxis: { type: "category", data: d.days },
    yAxis: { type: "value" }, series: [series],
  });
  el.dataset.ready = "1";
});
