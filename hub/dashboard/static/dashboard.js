/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tipshare dashboard charts, drawn with the vendored uPlot (static/vendor/uplot).
 *
 * Every element with data-chart="<id>" gets a chart of the JSON in <script type="application/json" id="<id>">
 * (a data island the server wrote; no data is fetched). Kinds: "trends" (lines with 95% interval bands),
 * "bars" (grouped bars with 95% interval whiskers) and "rates" (lines). Hovering shows the numbers of the month
 * or category under the pointer, in a box next to it and in a line below the chart; the table below each chart
 * holds the same numbers for keyboard and screen reader users. Once drawn, the element gets data-rendered="true"
 * and data-series="<label>|<label>|...".
 */
(function () {
  "use strict";

  /* Okabe-Ito: distinguishable with the common colour-vision deficiencies. */
  var PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B"];
  var MINUS = "\u2212";
  var charts = [];

  function color(i) { return PALETTE[i % PALETTE.length]; }

  function translucent(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  /* The page's number separators (grouping, decimal), which the server writes on <html> in its language. */
  var ROOT = document.documentElement;
  var GROUP = ROOT.hasAttribute("data-number-group") ? ROOT.getAttribute("data-number-group") : ",";
  var DECIMAL = ROOT.getAttribute("data-number-decimal") || ".";

  /* A number as the page writes it: two decimals at most, grouped, a real minus sign (like the tables). */
  function count(v) {
    if (v === null || v === undefined) { return "\u2013"; }
    var parts = Math.abs(v).toFixed(2).replace(/\.?0+$/, "").split(".");
    var text = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, GROUP) + (parts[1] ? DECIMAL + parts[1] : "");
    return v < 0 && text !== "0" ? MINUS + text : text;
  }

  function indices(n) {
    var out = [];
    for (var i = 0; i < n; i++) { out.push(i); }
    return out;
  }

  function size(el) {
    var width = Math.max(260, el.clientWidth);
    return { width: width, height: width < 520 ? 240 : 320 };
  }

  /* A category axis: labels at whole indexes, thinned so they do not overlap. */
  function categoryAxis(labels) {
    return {
      stroke: "#1b1f24",
      grid: { show: false },
      splits: function (u) {
        var room = Math.max(1, Math.floor(u.bbox.width / window.devicePixelRatio / 72));
        var step = Math.max(1, Math.ceil(labels.length / room));
        return indices(labels.length).filter(function (i) { return i % step === 0; });
      },
      values: function (u, splits) { return splits.map(function (i) { return labels[i] || ""; }); }
    };
  }

  function valueAxis(unit) {
    return {
      stroke: "#1b1f24",
      grid: { stroke: "#e1e6ec" },
      label: unit,
      labelSize: 24,
      size: 56,
      values: function (u, splits) { return splits.map(count); }
    };
  }

  /* Keep zero on the value axis: these are counts, and a floating baseline misleads. */
  function withZero(u, min, max) {
    if (min === null || max === null) { return [0, 1]; }
    return uPlot.rangeNum(Math.min(0, min), Math.max(0, max), 0.1, true);
  }

  /* The page's words, in its language: the template renders them into the chart's data-text-* attributes. */
  function describeSeries(s, idx, words) {
    var text = s.label + " " + count(s.est[idx]);
    if (s.lo && s.est[idx] !== null) {
      text += " (" + words.interval + " " + count(s.lo[idx]) + " " + words.to + " " + count(s.hi[idx]) + ")";
    }
    if (s.flag && s.flag[idx]) { text += ", " + s.flag[idx]; }
    return text;
  }

  function describe(data, idx, words) {
    return data.x[idx] + ": " + data.series.map(function (s) { return describeSeries(s, idx, words); }).join("; ");
  }

  /* The values under the pointer, next to it: the month (or category), then one line per series. */
  function showTip(u, tip, data, idx, words) {
    if (idx === null || idx === undefined || u.cursor.left < 0) { tip.hidden = true; return; }
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    var head = document.createElement("strong");
    head.textContent = data.x[idx];
    tip.appendChild(head);
    data.series.forEach(function (s, i) {
      var line = document.createElement("span");
      line.className = "chart-tip-line";
      var swatch = document.createElement("span");
      swatch.className = "swatch-box";
      swatch.style.backgroundColor = color(i);
      line.appendChild(swatch);
      line.appendChild(document.createTextNode(describeSeries(s, idx, words)));
      tip.appendChild(line);
    });
    tip.hidden = false;
    var gap = 12;
    var left = u.cursor.left + gap;
    if (left + tip.offsetWidth > u.over.clientWidth) { left = Math.max(0, u.cursor.left - gap - tip.offsetWidth); }
    var top = Math.max(0, Math.min(u.cursor.top + gap, u.over.clientHeight - tip.offsetHeight));
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }

  function readoutHook(el, data) {
    var out = el.parentNode.querySelector(".chart-readout");
    var tip = null;
    return function (u) {
      var idx = u.cursor.idx;
      var words = { interval: el.getAttribute("data-text-interval") || "", to: el.getAttribute("data-text-to") || "" };
      if (out) { out.textContent = idx === null || idx === undefined ? "" : describe(data, idx, words); }
      if (!tip) {
        tip = document.createElement("div");
        tip.className = "chart-tip";
        tip.setAttribute("aria-hidden", "true");
        tip.hidden = true;
        u.over.appendChild(tip);
      }
      showTip(u, tip, data, idx, words);
    };
  }

  function base(el, data, series, extra) {
    var opts = {
      width: size(el).width,
      height: size(el).height,
      series: [{ label: "x" }].concat(series),
      legend: { show: false },
      cursor: { y: false, points: { size: 7 } },
      scales: { x: { time: false, range: [-0.5, data.x.length - 0.5] }, y: { range: withZero } },
      axes: [categoryAxis(data.x), valueAxis(data.unit)],
      hooks: { setCursor: [readoutHook(el, data)] }
    };
    Object.keys(extra).forEach(function (key) { opts[key] = extra[key]; });
    return opts;
  }

  function trends(el, data) {
    var columns = [indices(data.x.length)];
    var series = [];
    var bands = [];
    data.series.forEach(function (s, i) {
      var first = columns.length;
      columns.push(s.est, s.hi, s.lo);
      series.push({ label: s.label, stroke: color(i), width: 2, points: { show: true, size: 5, fill: color(i) } });
      series.push({ label: s.label + " 95% upper", stroke: "transparent", width: 0, points: { show: false } });
      series.push({ label: s.label + " 95% lower", stroke: "transparent", width: 0, points: { show: false } });
      bands.push({ series: [first + 1, first + 2], fill: translucent(color(i), 0.16) });
    });
    return new uPlot(base(el, data, series, { bands: bands }), columns, el);
  }

  function bars(el, data) {
    var n = data.x.length;
    var groups = data.series.length;
    var group = 0.8;
    var width = group / groups;
    var xs = indices(n);
    function left(g) { return xs.map(function (i) { return i - group / 2 + g * width; }); }
    var series = data.series.map(function (s, g) {
      return {
        label: s.label,
        stroke: color(g),
        fill: translucent(color(g), 0.75),
        width: 1,
        points: { show: false },
        paths: uPlot.paths.bars({
          disp: {
            x0: { unit: 1, values: function () { return left(g); } },
            size: { unit: 1, values: function () { return xs.map(function () { return width; }); } }
          }
        })
      };
    });
    function whiskers(u) {
      var ctx = u.ctx;
      ctx.save();
      ctx.lineWidth = Math.max(1, window.devicePixelRatio);
      ctx.strokeStyle = "#1b1f24";
      data.series.forEach(function (s, g) {
        var cap = Math.max(2, (u.valToPos(width, "x", true) - u.valToPos(0, "x", true)) * 0.2);
        xs.forEach(function (i) {
          if (s.lo[i] === null || s.hi[i] === null) { return; }
          var x = u.valToPos(i - group / 2 + (g + 0.5) * width, "x", true);
          var top = u.valToPos(s.hi[i], "y", true);
          var bottom = u.valToPos(s.lo[i], "y", true);
          ctx.beginPath();
          ctx.moveTo(x, top); ctx.lineTo(x, bottom);
          ctx.moveTo(x - cap, top); ctx.lineTo(x + cap, top);
          ctx.moveTo(x - cap, bottom); ctx.lineTo(x + cap, bottom);
          ctx.stroke();
        });
      });
      ctx.restore();
    }
    var opts = base(el, data, series, {});
    opts.hooks.draw = [whiskers];
    /* The whiskers reach the interval bounds, so the value axis must hold them too. */
    var bounds = [];
    data.series.forEach(function (s) { bounds = bounds.concat(s.lo, s.hi); });
    var known = bounds.filter(function (v) { return v !== null; });
    opts.scales.y = { range: function () {
      return withZero(null, known.length ? Math.min.apply(null, known) : 0, known.length ? Math.max.apply(null, known) : 1);
    } };
    return new uPlot(opts, [xs].concat(data.series.map(function (s) { return s.est; })), el);
  }

  function rates(el, data) {
    var series = data.series.map(function (s, i) {
      return { label: s.label, stroke: color(i), width: 2, dash: i ? [6, 4] : undefined, points: { show: true, size: 5, fill: color(i) } };
    });
    var opts = base(el, data, series, {});
    opts.scales.y = { range: [0, 100] };
    return new uPlot(opts, [indices(data.x.length)].concat(data.series.map(function (s) { return s.est; })), el);
  }

  var KINDS = { trends: trends, bars: bars, rates: rates };

  /* A colour key above the chart (hidden from screen readers: the table's column headers name the series). */
  function legend(el, data) {
    var list = document.createElement("ul");
    list.className = "chart-legend";
    list.setAttribute("aria-hidden", "true");
    data.series.forEach(function (s, i) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch-line";
      swatch.style.borderTopColor = color(i);
      if (data.kind === "bars") { swatch.className = "swatch-box"; swatch.style.backgroundColor = color(i); }
      if (data.kind === "rates" && i) { swatch.style.borderTopStyle = "dashed"; }
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(s.label));
      list.appendChild(item);
    });
    el.parentNode.insertBefore(list, el);
  }

  function draw(el) {
    var island = document.getElementById(el.getAttribute("data-chart"));
    if (!island || typeof uPlot === "undefined") { return; }
    var data = JSON.parse(island.textContent);
    var make = KINDS[data.kind];
    if (!make) { return; }
    legend(el, data);
    var chart = make(el, data);
    charts.push({ el: el, chart: chart });
    el.setAttribute("data-series", data.series.map(function (s) { return s.label; }).join("|"));
    el.setAttribute("data-rendered", "true");
  }

  var pending = null;
  function resize() {
    window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      charts.forEach(function (c) { c.chart.setSize(size(c.el)); });
    }, 150);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
    window.addEventListener("resize", resize);
  });
}());
