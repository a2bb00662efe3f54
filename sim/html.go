package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
)

// WriteHTML writes the result as one self-contained page (no network): the
// rollout timeline — stage runs across time grouped by wave, deploy and
// bake, closed-window and holiday shading, the faults and the rollbacks,
// each production region's share of the new version — and the pipeline
// diagram, every stage with its gates. The page draws itself from the
// result's JSON, embedded in it, with a small script.
//
// Every string the page shows went through termsafe.Escape, as in the text
// form: the page inserts text with textContent (never as markup), and an
// escape or a bidirectional override in a name is shown, not applied.
func (r *Result) WriteHTML(w io.Writer) error {
	r, err := r.escaped()
	if err != nil {
		return err
	}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(true) // "<", ">" and "&" escaped: safe inside <script>
	if err := enc.Encode(r); err != nil {
		return err
	}
	return pageTemplate.Execute(w, map[string]any{
		"Title": fmt.Sprintf("safepipe simulate · %s · %s", r.Pipeline, r.Outcome),
		"Data":  template.JS(data.String()),
	})
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #1d2330; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.outcome { display: inline-block; padding: 2px 8px; border-radius: 4px; color: #fff; font-weight: 600; }
.reached { background: #2e7d32; } .stopped { background: #ef6c00; } .violated { background: #c62828; }
#timeline text { font-size: 11px; } .axis line { stroke: #ccc; } .axis text { fill: #555; }
.closed { fill: #eceff1; } .closed.holiday { fill: #fde0dc; }
.bar.wait { fill: #cfd8dc; } .bar.deploy { fill: #1e88e5; } .bar.bake { fill: #90caf9; }
.bar.rollback.deploy { fill: #f57c00; } .bar.rollback.bake { fill: #ffcc80; }
.bar.failed { stroke: #c62828; stroke-width: 2; }
.fault line { stroke: #c62828; stroke-width: 2; stroke-dasharray: 4 2; } .fault text { fill: #c62828; font-weight: 600; }
.wave { fill: #eef3fb; } .wavelabel { fill: #36507a; font-weight: 600; }
.share { fill: #43a047; }
#diagram { display: flex; flex-wrap: wrap; gap: 8px; align-items: stretch; }
#diagram .stage { border: 1px solid #90a4ae; border-radius: 6px; padding: 6px 8px; min-width: 150px; max-width: 230px; font-size: 12px; background: #fafafa; }
#diagram .stage.prod { border-color: #1e88e5; } #diagram .stage .name { font-weight: 600; }
#diagram .stage.Succeeded { background: #e8f5e9; } #diagram .stage.RolledBack, #diagram .stage.Failed, #diagram .stage.Refused { background: #ffebee; }
#diagram .gate { color: #455a64; margin-top: 2px; } #diagram .arrow { align-self: center; color: #90a4ae; }
#violations li { color: #b71c1c; margin-bottom: 4px; } .muted { color: #607d8b; }
</style>
</head>
<body data-rendered="false">
<h1>safepipe simulate</h1>
<div id="summary"></div>
<h2>Rollout timeline</h2>
<div class="muted">Grey: the deployment window is closed (pink: a holiday). Light: waiting at the entry gate; blue: deploying; pale blue: baking; orange: a rollback execution; red dashes: a fault. Green strips: each production region's share of the new version.</div>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg"></svg>
<h2>Pipeline</h2>
<div id="diagram"></div>
<h2>Violations</h2>
<ul id="violations"></ul>
<h2>Notes</h2>
<ul id="notes"></ul>
<script type="application/json" id="data">{{.Data}}</script>
<script>
(function () {
  "use strict";
  var d = JSON.parse(document.getElementById("data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    parent.appendChild(e);
    return e;
  }
  function h(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    parent.appendChild(e);
    return e;
  }
  var t = function (s) { return s ? Date.parse(s) : NaN; };
  var summary = document.getElementById("summary");
  h("span", "outcome " + d.outcome, summary, d.outcome.toUpperCase() + " · exit " + d.exitCode);
  h("div", "", summary, d.pipeline + " — " + d.summary);
  if (d.timeToGlobalHours !== null) {
    h("div", "", summary, "Time to global: " + d.timeToGlobalHours + " h, " + d.businessDays + " business days.");
  }
  h("div", "muted", summary, "Reached " + d.reached.length + " region(s); rolled back " + d.rolledBack.length + "; blast radius " + d.blastRadius.length + ".");

  // Timeline
  var runs = d.stages.filter(function (s) { return s.start || s.arrived; });
  var t0 = t(d.start), t1 = t(d.end);
  runs.forEach(function (s) { [s.arrived, s.start, s.baking, s.end].forEach(function (x) { if (x) { t1 = Math.max(t1, t(x)); } }); });
  if (!(t1 > t0)) { t1 = t0 + 3600000; }
  var left = 190, width = 1000, rowH = 18, top = 24;
  var regions = (d.regions || []).slice().sort(function (a, b) { return a.wave - b.wave || (a.region < b.region ? -1 : 1); });
  var height = top + (runs.length + regions.length + 1) * rowH + 10;
  var svg = document.getElementById("timeline");
  svg.setAttribute("width", left + width + 20);
  svg.setAttribute("height", height);
  var x = function (ms) { return left + (ms - t0) / (t1 - t0) * width; };
  (d.closed || []).forEach(function (c) {
    var a = Math.max(t(c.start), t0), b = Math.min(t(c.end), t1);
    if (b > a) { el("rect", {"class": "closed" + (c.holiday ? " holiday" : ""), x: x(a), y: top, width: x(b) - x(a), height: height - top}, svg); }
  });
  var axis = el("g", {"class": "axis"}, svg);
  var day = 86400000, first = Math.ceil(t0 / day) * day;
  for (var m = first; m <= t1; m += day) {
    el("line", {x1: x(m), x2: x(m), y1: top - 4, y2: height}, axis);
    el("text", {x: x(m) + 2, y: top - 8}, axis, new Date(m).toISOString().slice(5, 10));
  }
  var bars = el("g", {id: "bars"}, svg);
  var lastWave = -1;
  runs.forEach(function (s, i) {
    var y = top + i * rowH;
    var rb = s.execution === "ROLLBACK";
    if (s.wave && s.wave !== lastWave && !rb) {
      el("rect", {"class": "wave", x: 0, y: y, width: 14, height: rowH - 2}, svg);
      el("text", {"class": "wavelabel", x: 2, y: y + 12}, svg, "W" + s.wave);
      lastWave = s.wave;
    }
    el("text", {x: 24, y: y + 12}, svg, s.name + (rb ? " ↩ rollback" : ""));
    var failed = (s.result === "RolledBack" || s.result === "Failed" || s.result === "Refused") ? " failed" : "";
    var seg = function (a, b, kind) {
      if (!(a >= t0) || !(b >= a) || (kind === "wait" && b === a)) { return; }
      var r = el("rect", {"class": "bar " + kind + (rb ? " rollback" : "") + failed, x: x(a), y: y + 2, width: Math.max(1, x(b) - x(a)), height: rowH - 6}, bars);
      el("title", {}, r, s.name + " (" + s.execution + ") " + kind + ": " + s.result + (s.detail ? " — " + s.detail : ""));
    };
    var end = s.end ? t(s.end) : t1;
    if (s.arrived && s.start) { seg(t(s.arrived), t(s.start), "wait"); }
    if (s.start) { seg(t(s.start), s.baking ? t(s.baking) : end, "deploy"); }
    if (s.baking) { seg(t(s.baking), end, "bake"); }
    if (s.arrived && !s.start) { seg(t(s.arrived), end, "wait"); }
  });
  var ry = top + (runs.length + 1) * rowH;
  regions.forEach(function (r, i) {
    var y = ry + i * rowH;
    el("text", {x: 24, y: y + 12}, svg, r.region + " (W" + r.wave + ")");
    var g = el("g", {"class": "region", "data-region": r.region}, svg);
    for (var j = 0; j < r.share.length; j++) {
      var p = r.share[j], a = t(p.at), b = j + 1 < r.share.length ? t(r.share[j + 1].at) : t1;
      if (p.share > 0 && b > a) {
        el("rect", {"class": "share", x: x(a), y: y + 2 + (rowH - 6) * (1 - p.share), width: Math.max(1, x(b) - x(a)), height: (rowH - 6) * p.share}, g);
      }
    }
  });
  d.faults.forEach(function (f) {
    if (!f.fired) { return; }
    var g = el("g", {"class": "fault"}, svg);
    el("line", {x1: x(t(f.fired)), x2: x(t(f.fired)), y1: top, y2: height}, g);
    var fx = x(t(f.fired)), label = "fault " + f.spec;
    el("text", fx > left + width * 0.6 ? {x: fx - 3, y: height - 4, "text-anchor": "end"} : {x: fx + 3, y: height - 4}, g, label);
  });

  // Pipeline diagram: every stage once, with its gates and its result.
  var diagram = document.getElementById("diagram");
  var seen = {};
  d.stages.forEach(function (s) {
    if (s.execution !== "STANDARD" || seen[s.name]) { return; }
    seen[s.name] = true;
    if (diagram.children.length) { h("div", "arrow", diagram, "→"); }
    var box = h("div", "stage " + s.result + (s.production ? " prod" : ""), diagram);
    box.setAttribute("data-stage", s.name);
    h("div", "name", box, s.name + (s.oneBox ? " · one-box" : "") + (s.wave ? " · W" + s.wave : ""));
    h("div", "muted", box, s.result + (s.regions ? " · " + s.regions.length + " region(s)" : ""));
    (s.gates || []).forEach(function (g) { h("div", "gate", box, g); });
  });
  var vl = document.getElementById("violations");
  if (!d.violations.length) { h("li", "muted", vl, "none"); }
  d.violations.forEach(function (v) { h("li", "violation", vl, v.property + (v.stage ? " · " + v.stage : "") + (v.region ? " · " + v.region : "") + ": " + v.detail); });
  var nl = document.getElementById("notes");
  d.notes.forEach(function (n) { h("li", "", nl, n); });
  document.body.setAttribute("data-bars", String(bars.querySelectorAll("rect").length));
  document.body.setAttribute("data-rendered", "true");
})();
</script>
</body>
</html>
`))
