package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/safepipe/safepipe/model"
)

// This file is everything verify knows about how safepipe's own
// constructs (constructs/pipeline) render their gates. The rest of the
// package reads gates from CodePipeline semantics alone: CloudWatchAlarm
// and DeploymentWindow rules, rule results, action order. When the gate
// design changes, this is the one file to update.
//
// A fan-in gate watches more alarms than a condition's five rules can: a
// CodeBuild action (its project's variables, or action-level
// EnvironmentVariables), a Commands action or rule, or a LambdaInvoke
// action or rule (its function's variables) whose environment carries
//
//	SAFEPIPE_WATCH    one "ROLE REGION ALARM" line per alarm watched (ROLE is
//	                  "-" or the role ARN the gate assumes to read the alarm)
//	SAFEPIPE_MINUTES  how long it watches: 0 for a blocker (checked once
//	                  before the deploy), more for a bake
//
// verify counts such a gate as a blocker when it runs before the stage's
// deploy actions (or sits in a BeforeEntry condition that fails) and as a
// bake when it runs after them (or sits in an OnSuccess condition that
// rolls back or fails).
const (
	envWatch   = "SAFEPIPE_WATCH"
	envMinutes = "SAFEPIPE_MINUTES"
)

// gateWatches reads a fan-in gate's watches from its environment. ok is
// false when env is not a readable gate.
func gateWatches(env map[string]string, via string) (minutes int, out []Watch, ok bool) {
	lines, found := env[envWatch]
	if !found {
		return 0, nil, false
	}
	m, err := strconv.Atoi(env[envMinutes])
	if err != nil || m < 0 {
		return 0, nil, false
	}
	for _, l := range strings.Split(lines, "\n") {
		f := strings.Fields(l)
		var w Watch
		switch len(f) {
		case 3:
			w = Watch{Account: arnAccount(f[0]), Region: f[1], Alarm: f[2]}
		case 2:
			w = Watch{Region: f[0], Alarm: f[1]}
		default:
			continue
		}
		w.Minutes, w.Via = m, via
		out = append(out, w)
	}
	return m, out, true
}

// safepipe's gate controller (constructs/pipeline, package gates): every
// gated stage has one CloudWatchAlarm rule on an entry gate alarm in its
// BeforeEntry condition and one on a bake gate alarm in its OnSuccess
// condition. Those alarms, in the pipeline's own stack, watch the metrics
// EntryBlocked and BakeBreached (namespace safepipe/gates, dimensions
// Pipeline and Stage) that a Lambda function publishes every minute from
// the alarms it reads. What it reads is gates.json, beside the function's
// code in its asset directory of the cloud assembly:
//
//	{"version": 1, "pipeline": "…", "window": {…},
//	 "organization": {"account", "region", "name", "role"},
//	 "stages": [{"name", "window": bool,
//	             "blockers": [{"account", "region", "name", "role", "stack"}],
//	             "bake": [{…}], "bakeMinutes": n}]}
//
// verify reads gates.json and counts a gate rule as the blockers or the
// bake alarms of its stage. The entry gate of a stage with "window": true
// is closed while the window is closed: it is the stage's window, and
// safepipe emits no DeploymentWindow rule beside it. A DeploymentWindow
// rule beside an alarm rule makes the alarm rule go stale
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html:
// "After the deployment window opens, CodePipeline does not check the
// CloudWatchAlarm alarm again."), so a stage with "window": false and such
// a rule counts no blocker from its gate. The organisation alarm is declared
// external by the configuration.
const (
	gatesFile       = "gates.json"
	gatesVersion    = 1
	gateNamespace   = "safepipe/gates"
	gateMetricEntry = "EntryBlocked"
	gateMetricBake  = "BakeBreached"
)

// gateConfig is the part of gates.json verify reads.
type gateConfig struct {
	// function is the logical ID of the controller function that carries
	// it.
	function     string
	pipeline     string
	organization *gateAlarm
	window       *gateWindow
	stages       map[string]*gateStage
}

// gateWindow is the controller's deployment window: stages with "window":
// true may start only on those days, between those hours, in that zone,
// and not on the holidays.
type gateWindow struct {
	zone               string
	days               []string
	startHour, endHour int
	holidays           []string
}

// String describes the window the way a finding quotes it.
func (w *gateWindow) String() string {
	return fmt.Sprintf("%s %02d:00-%02d:00 %s", strings.Join(w.days, ","), w.startHour, w.endHour, w.zone)
}

// alwaysOpen: every day, all day, no holidays.
func (w *gateWindow) alwaysOpen() bool {
	return len(distinct(w.days)) == 7 && w.startHour == 0 && w.endHour == 24 && len(w.holidays) == 0
}

// neverOpen: no day or no hour.
func (w *gateWindow) neverOpen() bool {
	return len(w.days) == 0 || w.startHour >= w.endHour
}

func distinct(l []string) map[string]bool {
	m := map[string]bool{}
	for _, e := range l {
		m[e] = true
	}
	return m
}

var gateDays = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// parseGateWindow reads the controller's window, reporting what is wrong.
func parseGateWindow(v any, bad func(string, ...any)) *gateWindow {
	m, ok := v.(map[string]any)
	if !ok {
		bad("window is not an object")
		return nil
	}
	w := &gateWindow{zone: str(m["timeZone"])}
	hour := func(k string, lo, hi int) int {
		n, ok := m[k].(json.Number)
		h, err := strconv.Atoi(string(n))
		if !ok || err != nil || h < lo || h > hi {
			bad("window.%s %s is not an hour from %d to %d", k, model.Flatten(m[k]), lo, hi)
		}
		return h
	}
	w.startHour, w.endHour = hour("startHour", 0, 23), hour("endHour", 1, 24)
	days, _ := m["days"].([]any)
	for i, d := range days {
		if ds := str(d); slices.Contains(gateDays, ds) {
			w.days = append(w.days, ds)
		} else {
			bad("window.days[%d] %s is not one of %s", i, model.Flatten(d), strings.Join(gateDays, ", "))
		}
	}
	hs, _ := m["holidays"].([]any)
	for _, h := range hs {
		w.holidays = append(w.holidays, str(h))
	}
	if w.zone == "" {
		bad("window.timeZone is empty")
	}
	return w
}

type gateAlarm struct{ account, region, name, role string }

type gateStage struct {
	name           string
	window         bool
	blockers, bake []gateAlarm
	// rollsBack are the earlier stages the controller rolls back when
	// this one has rolled back (gates.Stage.RollsBack).
	rollsBack []string
}

// readGateAssets reads the gates.json of every Lambda function of t whose
// code is an asset of the assembly directory dir. A function whose asset
// is not in the directory (an assembly copied without its assets) is read
// from its metadata, as in a lone template and as the simulator reads it.
func (r *assemblyReader) readGateAssets(dir string, t *Template) {
	for _, id := range sortedKeys(t.Resources) {
		res := t.Resources[id]
		if res.Type != "AWS::Lambda::Function" {
			continue
		}
		fromMetadata := func() {
			if _, ok := res.Metadata[metadataGates]; !ok {
				return
			}
			if err := readGateMetadataOf(t, id, r.lim); err != nil {
				r.fail("%v", err)
			}
		}
		key := model.Flatten(asMap(res.Properties["Code"])["S3Key"])
		hash, ok := strings.CutSuffix(key, ".zip")
		if !ok || hash == "" || strings.ContainsAny(hash, "/\\${}") {
			fromMetadata()
			continue
		}
		assetDir := path.Join(dir, "asset."+hash)
		if _, err := r.root.Stat(assetDir); err != nil {
			fromMetadata() // an assembly without its assets
			continue
		}
		p := path.Join(assetDir, gatesFile)
		if _, err := r.root.Stat(p); err != nil {
			if _, ok := res.Metadata[metadataGates]; ok {
				// The controller's code is here without the configuration
				// it reads: it refuses every gate, and the metadata is not
				// what it runs.
				r.fail("verify: %s: the gate controller %s's code asset %s has no %s: the function runs without its configuration (resynthesize the assembly)", Escape(t.Path), id, assetDir, gatesFile)
			}
			continue
		}
		b, err := r.readFile(p)
		if err != nil {
			r.fail("%v", err)
			continue
		}
		g, err := parseGateConfig(b, p, r.lim)
		if err != nil {
			r.fail("%v", err)
			continue
		}
		// The template also carries the configuration as metadata (for a
		// lone template and the simulator): it must be what the function
		// runs, or the two tools would judge different gates.
		if meta, ok := res.Metadata[metadataGates]; ok {
			asset, err := DecodeJSON(b, p, r.lim.MaxJSONDepth)
			if err == nil && !reflect.DeepEqual(asset, meta) {
				r.fail("verify: %s: the gate controller %s runs a gates.json that differs from the template's %s metadata (resynthesize the assembly)", Escape(t.Path), id, metadataGates)
				continue
			}
		}
		g.function = id
		t.gates = append(t.gates, g)
	}
}

// metadataGates is the template metadata key under which safepipe's
// pipeline also carries the controller's configuration, on its function
// (constructs/pipeline, MetadataGates): a template read alone has no asset
// directory to find gates.json in.
const metadataGates = "safepipe:gates"

// readGateMetadata reads the controller configuration a lone template
// carries as metadata. A malformed one is an error: the gates it describes
// would otherwise be reported as missing, or worse, guessed.
func readGateMetadata(t *Template, l Limits) error {
	var errs []error
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if _, ok := r.Metadata[metadataGates]; !ok || r.Type != "AWS::Lambda::Function" {
			continue
		}
		errs = append(errs, readGateMetadataOf(t, id, l))
	}
	return errors.Join(errs...)
}

// readGateMetadataOf reads function id's gate configuration metadata.
func readGateMetadataOf(t *Template, id string, l Limits) error {
	name := fmt.Sprintf("%s (%s metadata of %s)", nameOr(t.Path), metadataGates, id)
	b, err := json.Marshal(t.Resources[id].Metadata[metadataGates])
	if err != nil {
		return fmt.Errorf("verify: %s: %w", Escape(name), err)
	}
	g, err := parseGateConfig(b, name, l)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	g.function = id
	t.gates = append(t.gates, g)
	return nil
}

// parseGateConfig reads gates.json strictly.
func parseGateConfig(b []byte, name string, l Limits) (*gateConfig, error) {
	v, err := DecodeJSON(b, name, l.MaxJSONDepth)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid gate configuration:\n%w", name, err)
	}
	doc := asMap(v)
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, errors.New(Escape(fmt.Sprintf("%s: "+format, append([]any{name}, args...)...))))
	}
	if n, _ := doc["version"].(json.Number); string(n) != strconv.Itoa(gatesVersion) {
		bad("version %s; verify reads version %d", model.Flatten(doc["version"]), gatesVersion)
	}
	g := &gateConfig{pipeline: str(doc["pipeline"]), stages: map[string]*gateStage{}}
	alarm := func(where string, v any) (gateAlarm, bool) {
		m, ok := v.(map[string]any)
		if !ok {
			bad("%s is not an object", where)
			return gateAlarm{}, false
		}
		a := gateAlarm{account: str(m["account"]), region: str(m["region"]), name: str(m["name"]), role: str(m["role"])}
		if a.name == "" || a.region == "" {
			bad("%s has no name or region", where)
			return a, false
		}
		return a, true
	}
	if w, present := doc["window"]; present && w != nil {
		g.window = parseGateWindow(w, bad)
	}
	if o, present := doc["organization"]; present && o != nil {
		if a, ok := alarm("organization", o); ok {
			g.organization = &a
		}
	}
	stages, ok := doc["stages"].([]any)
	if !ok {
		bad("stages is not a list")
	}
	for i, s := range stages {
		sm, ok := s.(map[string]any)
		if !ok {
			bad("stages[%d] is not an object", i)
			continue
		}
		st := &gateStage{name: str(sm["name"]), window: sm["window"] == true}
		rb, _ := sm["rollsBack"].([]any)
		for _, e := range rb {
			st.rollsBack = append(st.rollsBack, str(e))
		}
		for _, part := range []struct {
			key string
			dst *[]gateAlarm
		}{{"blockers", &st.blockers}, {"bake", &st.bake}} {
			l, _ := sm[part.key].([]any)
			for j, e := range l {
				if a, ok := alarm(fmt.Sprintf("stages[%d].%s[%d]", i, part.key, j), e); ok {
					*part.dst = append(*part.dst, a)
				}
			}
		}
		g.stages[st.name] = st
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return g, nil
}

// isGateAlarm reports whether an alarm of the pipeline's template is a
// gate alarm of safepipe's controller (namespace safepipe/gates): the
// alarms it stands for are read from gates.json, and without it verify
// cannot tell what it watches, so the rule itself is never a watch.
func isGateAlarm(p Pipeline, alarm string) bool {
	for _, id := range sortedKeys(p.Template.Resources) {
		r := p.Template.Resources[id]
		if r.Type == "AWS::CloudWatch::Alarm" && model.Flatten(r.Properties["Namespace"]) == gateNamespace && model.Flatten(r.Properties["AlarmName"]) == alarm {
			return true
		}
	}
	return false
}

// gateRule is a gate alarm of the controller and the stage it gates.
type gateRule struct {
	cfg   *gateConfig
	stage *gateStage
}

// gateOf finds the controller stage whose gate alarm of that metric is
// named alarm, in the pipeline's own template.
func gateOf(p Pipeline, alarm, metric string) (gateRule, bool) {
	if len(p.Template.gates) == 0 {
		return gateRule{}, false
	}
	for _, id := range sortedKeys(p.Template.Resources) {
		r := p.Template.Resources[id]
		if r.Type != "AWS::CloudWatch::Alarm" || model.Flatten(r.Properties["AlarmName"]) != alarm ||
			model.Flatten(r.Properties["Namespace"]) != gateNamespace || model.Flatten(r.Properties["MetricName"]) != metric {
			continue
		}
		dims := map[string]string{}
		l, _ := r.Properties["Dimensions"].([]any)
		for _, d := range l {
			dims[model.Flatten(asMap(d)["Name"])] = model.Flatten(asMap(d)["Value"])
		}
		for _, g := range p.Template.gates {
			if g.pipeline == dims["Pipeline"] {
				if st, ok := g.stages[dims["Stage"]]; ok {
					return gateRule{g, st}, true
				}
			}
		}
	}
	return gateRule{}, false
}

func (g gateRule) watches(alarms []gateAlarm, minutes int, via string) []Watch {
	out := make([]Watch, 0, len(alarms))
	for _, a := range alarms {
		out = append(out, Watch{Region: a.region, Account: a.account, Alarm: a.name, Minutes: minutes, Via: via + " (gate controller)"})
	}
	return out
}

// controllerBlockers returns the blockers of the stage's entry gate rules.
func controllerBlockers(p Pipeline, s Stage) []Watch {
	var out []Watch
	if s.BeforeEntry == nil || s.BeforeEntry.Result != "FAIL" {
		return nil
	}
	_, windowed := s.WindowRule()
	for _, r := range s.BeforeEntry.Rules {
		if r.Provider != "CloudWatchAlarm" || !watchesAlarm(r) {
			continue
		}
		g, ok := gateOf(p, r.Configuration["AlarmName"], gateMetricEntry)
		if !ok || (windowed && !g.stage.window) {
			continue
		}
		out = append(out, g.watches(g.stage.blockers, 0, "rule "+r.Name)...)
		if g.cfg.organization != nil {
			out = append(out, g.watches([]gateAlarm{*g.cfg.organization}, 0, "rule "+r.Name)...)
		}
	}
	return out
}

// controllerBakes returns the bake alarms of the stage's bake gate rules,
// watched for the rule's WaitTime.
func controllerBakes(p Pipeline, s Stage) []Watch {
	var out []Watch
	if s.OnSuccess == nil || (s.OnSuccess.Result != "ROLLBACK" && s.OnSuccess.Result != "FAIL") {
		return nil
	}
	for _, r := range s.OnSuccess.Rules {
		if r.Provider != "CloudWatchAlarm" || !watchesAlarm(r) {
			continue
		}
		if g, ok := gateOf(p, r.Configuration["AlarmName"], gateMetricBake); ok {
			m, _ := strconv.Atoi(r.Configuration["WaitTime"])
			out = append(out, g.watches(g.stage.bake, m, "rule "+r.Name)...)
		}
	}
	return out
}

// controllerBakeActions returns the bake alarms of the stage's bake
// actions: Lambda invoke actions of the controller's function, after the
// stage's deploy actions, whose UserParameters name the stage's part of a
// bake ({"stage", "part", "parts", "minutes"}; package gates, bake.go).
// Each holds the stage until its part has elapsed with every bake alarm
// OK and fails it on a breach, so the stage's bake is the sum of its
// parts. An action that does not read so is not counted.
func controllerBakeActions(p Pipeline, s Stage) []Watch {
	first, last := s.deployOrder()
	if first == 0 || len(p.Template.gates) == 0 {
		return nil
	}
	type part struct {
		cfg     *gateConfig
		stage   *gateStage
		minutes int
		via     string
	}
	var parts []part
	for _, a := range s.Actions {
		if a.Provider != "Lambda" || a.RunOrder <= last {
			continue
		}
		fn, ok := placeholderRef(a.Configuration["FunctionName"])
		if !ok {
			continue
		}
		var req struct {
			Stage   string `json:"stage"`
			Part    int    `json:"part"`
			Parts   int    `json:"parts"`
			Minutes int    `json:"minutes"`
		}
		if err := json.Unmarshal([]byte(a.Configuration["UserParameters"]), &req); err != nil || req.Minutes <= 0 {
			continue
		}
		for _, g := range p.Template.gates {
			if st, ok := g.stages[req.Stage]; ok && g.function == fn && req.Stage == s.Name {
				parts = append(parts, part{g, st, req.Minutes, "action " + a.Name})
			}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	total := 0
	var via []string
	for _, pt := range parts {
		total += pt.minutes
		via = append(via, pt.via)
	}
	g := gateRule{parts[0].cfg, parts[0].stage}
	return g.watches(g.stage.bake, total, strings.Join(via, ", "))
}

// controllerExternals declares the organisation alarms of the gate
// configurations external: the organisation owns them.
func controllerExternals(templates []*Template) []ExternalAlarm {
	var out []ExternalAlarm
	for _, t := range templates {
		for _, g := range t.gates {
			if o := g.organization; o != nil {
				out = append(out, ExternalAlarm{Alarm: o.name, Account: o.account, Region: o.region,
					Reason: "the organisation alarm of safepipe's gate configuration (" + gatesFile + ")"})
			}
		}
	}
	return out
}

// controllerWindow returns the window of the stage's entry gate: the
// controller keeps the gate alarm in ALARM while the window is closed, so a
// stage whose gate config says "window": true starts only inside it
// (package gates). ok is false when no entry gate of the stage applies one.
func controllerWindow(p Pipeline, s Stage) (w *gateWindow, rule string, ok bool) {
	if s.BeforeEntry == nil {
		return nil, "", false
	}
	for _, r := range s.BeforeEntry.Rules {
		if r.Provider != "CloudWatchAlarm" || !watchesAlarm(r) {
			continue
		}
		if g, found := gateOf(p, r.Configuration["AlarmName"], gateMetricEntry); found && g.stage.window && g.cfg.window != nil {
			return g.cfg.window, r.Name, true
		}
	}
	return nil, "", false
}
