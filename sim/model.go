package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/internal/strictjson"

	"github.com/safepipe/safepipe/model"
)

// MetadataGates is the template metadata key, on the gate controller's
// function, that carries the gates configuration (constructs/pipeline
// writes it under the same name).
const MetadataGates = "safepipe:gates"

// UnknownRegion stands for the region of an environment-agnostic
// pipeline, where its actions without a Region run.
const UnknownRegion = "(the pipeline's region)"

// Place is an account and a region.
type Place struct{ Account, Region string }

func (p Place) String() string { return p.Account + "/" + p.Region }

// AlarmKey names an alarm: alarm names are unique per account and region.
type AlarmKey struct{ Account, Region, Name string }

func (k AlarmKey) String() string { return fmt.Sprintf("%s (%s/%s)", k.Name, k.Account, k.Region) }

// StackKey names a stack instance: stack names are unique per account and
// region.
type StackKey struct{ Account, Region, Name string }

func (k StackKey) String() string { return fmt.Sprintf("%s (%s/%s)", k.Name, k.Account, k.Region) }

// Model is a cloud assembly read for simulation: the pipeline, its stages
// and gates, and what each stack creates.
type Model struct {
	// Assembly is what was read.
	Assembly *Assembly
	// Pipeline is the simulated pipeline (the first CodePipeline found).
	Pipeline *Pipeline
	// Alarms are the alarms the assembly's stacks create.
	Alarms map[AlarmKey]*AlarmDef
	// Notes are what the simulator does not model in this assembly.
	Notes []string
	// Problems are facts found while reading that break a property
	// statically (collisions, missing alarms); Run reports them as
	// violations.
	problems []Violation
	// problemsRead are numbers out of their documented ranges, found
	// while reading actions: NewModel refuses the input with all of them.
	problemsRead []error
}

// AlarmDef is an alarm a stack creates.
type AlarmDef struct {
	Key AlarmKey
	// Composite alarms evaluate Rule over other alarms.
	Composite bool
	Rule      ruleExpr
	RuleText  string
	// Metric alarms: the metric and how it is evaluated.
	Namespace, MetricName string
	Dimensions            map[string]string
	Period                int // seconds
	EvaluationPeriods     int
	DatapointsToAlarm     int
	Threshold             float64
	Comparison            string
	TreatMissing          string
	// Stacks are the stack instances that create it.
	Stacks []StackKey
}

// Pipeline is a CodePipeline read from its template.
type Pipeline struct {
	// Name is the pipeline's name (its Name property, else its logical ID).
	Name string
	// Stack is the pipeline's stack.
	Stack *Stack
	// Place is the pipeline's account and region.
	Place Place
	// Type is V1 or V2.
	Type string
	// ExecutionMode is QUEUED, SUPERSEDED or PARALLEL.
	ExecutionMode string
	// Stages in order.
	Stages []*Stage
	// Gates is the gate controller's configuration, when the pipeline has
	// one (template metadata "safepipe:gates").
	Gates *gates.Config
	// Access is the pipeline resource's access stack declaration
	// (metadata model.MetadataAccess), nil when it has none.
	Access any
}

// Stage is one pipeline stage.
type Stage struct {
	Index int
	Name  string
	// Actions in declaration order.
	Actions []*Action
	// Conditions (nil when absent).
	BeforeEntry, OnSuccess, OnFailure *Condition
	// Production is true for a production stage (model.Roles, as verify
	// decides it: by name, tag, account, a deployment window in front of
	// it, or coming after one that is).
	Production bool
	// Gate is the stage's entry in the gates configuration, or nil.
	Gate *gates.Stage
	// Wave numbers the production stages that deploy the same regions in a
	// row (a one-box stage and the stages that follow it in those regions);
	// 0 for pre-production.
	Wave int
}

// Action is one stage action.
type Action struct {
	Name, Category, Provider string
	// Place is where the action runs (its Region, the account of the stack
	// it deploys or of its role).
	Place    Place
	RunOrder int
	Config   map[string]string
	// CloudFormation actions.
	StackName, Mode, ChangeSet string
	// Template is the stack the action deploys (its TemplatePath in the
	// assembly), nil when not found.
	Template *Stack
	// CodeBuild actions: the project's environment (with the action's
	// EnvironmentVariables over it). Its build commands are not read: the
	// simulator never runs them.
	Env map[string]string
	// EnvErr says why the action's EnvironmentVariables could not be read
	// ("" when they were, or are absent).
	EnvErr  string
	Timeout int // minutes
	// Bake is set on safepipe's bake action: a Lambda invoke action of
	// the gate controller's function (the resource carrying the
	// "safepipe:gates" metadata) whose UserParameters read as a
	// gates.BakeRequest.
	Bake *gates.BakeRequest
	// BakeErr says why a Lambda invoke action of the controller's function
	// is not read as a bake action ("" when it is, or is another function).
	BakeErr string
	// OpaqueCode: the action runs code (a build, commands, a function) in
	// a stage that deploys nothing the simulator reads, and is taken to
	// deploy where it runs (model.OpaqueDeploy, as verify decides it).
	OpaqueCode bool
}

// DeploysRegion reports whether the action changes what runs in its
// region: a stack update (Deploys), or another action of the Deploy
// category (CodeDeploy, ECS, CodeDeployToECS, AppConfig, S3, …), which
// the simulator runs as opaque.
func (a *Action) DeploysRegion() bool {
	return a.Deploys() || a.OpaqueCode || (strings.EqualFold(a.Category, "Deploy") && a.Provider != "CloudFormation")
}

// Deploys reports whether the action updates a stack (executes a change
// set or creates/updates directly).
func (a *Action) Deploys() bool {
	if a.Provider != "CloudFormation" {
		return false
	}
	switch a.Mode {
	case "CHANGE_SET_EXECUTE", "CREATE_UPDATE", "REPLACE_ON_FAILURE":
		return true
	}
	return false
}

// Key is the stack instance a CloudFormation action works on.
func (a *Action) Key() StackKey {
	return StackKey{Account: a.Place.Account, Region: a.Place.Region, Name: a.StackName}
}

// Condition is a stage condition.
type Condition struct {
	Result string
	Rules  []*Rule
}

// Rule is one rule of a condition.
type Rule struct {
	Name, Provider string
	Place          Place
	Config         map[string]string
	// CloudWatchAlarm: the alarm and how long to wait (minutes).
	Alarm AlarmKey
	Wait  int
	// DeploymentWindow: the parsed cron.
	Window *model.Cron
}

// Regions returns the regions the stage deploys to, sorted.
func (s *Stage) Regions() []string {
	set := map[string]bool{}
	for _, a := range s.Actions {
		if a.DeploysRegion() {
			set[a.Place.Region] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// DeployPlaces returns the stack instances the stage deploys, sorted.
func (s *Stage) DeployKeys() []StackKey {
	set := map[StackKey]bool{}
	for _, a := range s.Actions {
		if a.Deploys() {
			set[a.Key()] = true
		}
	}
	return slices.SortedFunc(maps.Keys(set), compareStackKeys)
}

func compareStackKeys(a, b StackKey) int {
	return strings.Compare(a.Region+"/"+a.Account+"/"+a.Name, b.Region+"/"+b.Account+"/"+b.Name)
}

func compareAlarmKeys(a, b AlarmKey) int {
	return strings.Compare(a.Region+"/"+a.Account+"/"+a.Name, b.Region+"/"+b.Account+"/"+b.Name)
}

var roleAccountRE = regexp.MustCompile(`:iam::([0-9]{12}):`)

// NewModel reads the assembly's pipeline and stacks.
func NewModel(a *Assembly) (*Model, error) {
	m := &Model{Assembly: a, Alarms: map[AlarmKey]*AlarmDef{}}
	var errs []error
	for _, s := range a.Stacks {
		errs = append(errs, m.readAlarms(s))
	}
	for _, s := range a.Stacks {
		for _, id := range slices.Sorted(maps.Keys(s.Template.Resources)) {
			if s.Template.Resources[id].Type != "AWS::CodePipeline::Pipeline" {
				continue
			}
			created, known := newEvaluator(s).Created(s.Template.Resources[id].Condition)
			if !known {
				errs = append(errs, fmt.Errorf("sim: pipeline %s: its Condition %s cannot be told from the parameters' defaults", id, s.Template.Resources[id].Condition))
				continue
			}
			if !created {
				continue
			}
			if m.Pipeline != nil {
				m.Notes = append(m.Notes, fmt.Sprintf("pipeline %s in %s is not simulated: only the first pipeline is", id, s.Path))
				continue
			}
			p, err := m.readPipeline(s, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m.Pipeline = p
		}
	}
	errs = append(errs, m.problemsRead...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if m.Pipeline == nil {
		return nil, errors.New("sim: the input has no AWS::CodePipeline::Pipeline: nothing to simulate")
	}
	m.checkNames()
	return m, nil
}

func (m *Model) readAlarms(s *Stack) error {
	e := newEvaluator(s)
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(s.Template.Resources)) {
		r := s.Template.Resources[id]
		if r.Type != "AWS::CloudWatch::Alarm" && r.Type != "AWS::CloudWatch::CompositeAlarm" {
			continue
		}
		name, _ := e.Str(map[string]any{"Ref": id})
		key := AlarmKey{Account: s.Account, Region: s.Region, Name: name}
		if d, ok := m.Alarms[key]; ok {
			if !slices.Contains(d.Stacks, stackKey(s)) {
				d.Stacks = append(d.Stacks, stackKey(s))
			}
			continue
		}
		d := &AlarmDef{Key: key, Stacks: []StackKey{stackKey(s)}}
		if r.Type == "AWS::CloudWatch::CompositeAlarm" {
			d.Composite = true
			text, _ := e.Str(r.Properties["AlarmRule"])
			expr, err := parseAlarmRule(text, Place{s.Account, s.Region})
			if err != nil {
				errs = append(errs, fmt.Errorf("sim: %s: composite alarm %s: %w", s.Path, id, err))
				continue
			}
			d.Rule, d.RuleText = expr, text
		} else {
			p := r.Properties
			d.Namespace, _ = e.Str(p["Namespace"])
			d.MetricName, _ = e.Str(p["MetricName"])
			d.Dimensions = map[string]string{}
			dims, _ := p["Dimensions"].([]any)
			for _, dm := range dims {
				mm, _ := dm.(map[string]any)
				k, _ := e.Str(mm["Name"])
				v, _ := e.Str(mm["Value"])
				d.Dimensions[k] = v
			}
			var err error
			d.Period, d.EvaluationPeriods, d.DatapointsToAlarm, err = alarmPeriods(e, p)
			if err != nil {
				errs = append(errs, fmt.Errorf("sim: %s: alarm %s: %w", s.Path, id, err))
				continue
			}
			th, _ := e.Str(p["Threshold"])
			d.Threshold, _ = strconv.ParseFloat(th, 64)
			d.Comparison, _ = e.Str(p["ComparisonOperator"])
			d.TreatMissing, _ = e.Str(p["TreatMissingData"])
			if d.TreatMissing == "" {
				d.TreatMissing = "missing"
			}
		}
		m.Alarms[key] = d
	}
	return errors.Join(errs...)
}

// alarmPeriods reads a metric alarm's Period (default 60),
// EvaluationPeriods (default 1) and DatapointsToAlarm (default
// EvaluationPeriods) within CloudWatch's documented ranges
// (model.CheckAlarmPeriods): a template's numbers are never trusted.
func alarmPeriods(e *model.Evaluator, p map[string]any) (period, evals, dps int, err error) {
	num := func(key string, def int) (int, error) {
		v, ok := p[key]
		if !ok || v == nil {
			return def, nil
		}
		s, known := e.Str(v)
		if !known {
			return 0, fmt.Errorf("%s %q cannot be read", key, s)
		}
		return model.Integer(key, s, 1, 604800)
	}
	var errs []error
	period, err1 := num("Period", 60)
	evals, err2 := num("EvaluationPeriods", 1)
	errs = append(errs, err1, err2)
	if err1 == nil && err2 == nil {
		var err3 error
		dps, err3 = num("DatapointsToAlarm", evals)
		errs = append(errs, err3)
		if err3 == nil {
			errs = append(errs, model.CheckAlarmPeriods(period, evals, dps))
		}
	}
	return period, evals, dps, errors.Join(errs...)
}

func intOf(e *model.Evaluator, v any, def int) int {
	if v == nil {
		return def
	}
	s, _ := e.Str(v)
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

func stackKey(s *Stack) StackKey { return StackKey{Account: s.Account, Region: s.Region, Name: s.Name} }

func (m *Model) readPipeline(s *Stack, id string) (*Pipeline, error) {
	e := newEvaluator(s)
	// Fn::If takes the branch of its condition with the parameters'
	// defaults (model.Evaluator.Select), as a deployment without overrides.
	sel, err := e.Select(s.Template.Resources[id].Properties)
	if err != nil {
		return nil, fmt.Errorf("sim: pipeline %s: %w", id, err)
	}
	r := *s.Template.Resources[id]
	r.Properties, _ = sel.(map[string]any)
	p := &Pipeline{Stack: s, Place: Place{s.Account, s.Region}, Access: r.Metadata[model.MetadataAccess]}
	p.Name, _ = e.Str(r.Properties["Name"])
	if p.Name == "" || strings.Contains(p.Name, "${") {
		p.Name = id
	}
	p.Type, _ = e.Str(r.Properties["PipelineType"])
	if p.Type == "" {
		p.Type = "V1"
	}
	p.ExecutionMode, _ = e.Str(r.Properties["ExecutionMode"])
	if p.ExecutionMode == "" {
		p.ExecutionMode = "SUPERSEDED"
	}
	if p.Place.Region == "" {
		p.Place.Region = homeRegion(r.Properties)
	}
	if p.Place.Region == "" {
		// An environment-agnostic pipeline stack: its actions without a
		// Region run in a region the assembly does not name.
		p.Place.Region = UnknownRegion
	}
	var errs []error
	stages, _ := r.Properties["Stages"].([]any)
	str := func(v any) string { x, _ := e.Str(v); return x }
	for _, err := range model.CheckArtifacts(stages, str) {
		errs = append(errs, fmt.Errorf("sim: pipeline %s: %w", p.Name, err))
	}
	names := map[string]bool{}
	for i, sv := range stages {
		sm, _ := sv.(map[string]any)
		st := &Stage{Index: i}
		st.Name, _ = e.Str(sm["Name"])
		if names[st.Name] {
			// "Stage names must be unique within a pipeline"
			// (reference-pipeline-structure): CodePipeline refuses it.
			errs = append(errs, fmt.Errorf("sim: pipeline %s: stage name %s is used twice; CodePipeline stage names are unique", p.Name, model.Escape(st.Name)))
		}
		names[st.Name] = true
		acts, _ := sm["Actions"].([]any)
		for _, av := range acts {
			st.Actions = append(st.Actions, m.readAction(s, e, p, av))
		}
		var err error
		if st.BeforeEntry, err = readCondition(e, p, sm["BeforeEntry"]); err != nil {
			errs = append(errs, fmt.Errorf("sim: stage %s: BeforeEntry: %w", st.Name, err))
		}
		if st.OnSuccess, err = readCondition(e, p, sm["OnSuccess"]); err != nil {
			errs = append(errs, fmt.Errorf("sim: stage %s: OnSuccess: %w", st.Name, err))
		}
		if st.OnFailure, err = readCondition(e, p, sm["OnFailure"]); err != nil {
			errs = append(errs, fmt.Errorf("sim: stage %s: OnFailure: %w", st.Name, err))
		}
		p.Stages = append(p.Stages, st)
	}
	if len(p.Stages) == 0 {
		errs = append(errs, fmt.Errorf("sim: pipeline %s has no stages", p.Name))
	}
	linkChangeSets(p)
	if cfg, err := readGates(s); err != nil {
		errs = append(errs, err)
	} else if cfg != nil {
		p.Gates = cfg
		for i := range cfg.Stages {
			for _, st := range p.Stages {
				if st.Name == cfg.Stages[i].Name {
					st.Gate = &cfg.Stages[i]
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if p.Type != "V2" {
		for _, st := range p.Stages {
			if st.BeforeEntry != nil || st.OnSuccess != nil || st.OnFailure != nil {
				m.Notes = append(m.Notes, "the pipeline is V1: its stage conditions are ignored (conditions are a V2 feature)")
				break
			}
		}
	}
	markProduction(p)
	return p, nil
}

// homeRegion infers a cross-region pipeline's own region from its artifact
// stores: the home store's bucket is a resource of the template (a Ref).
func homeRegion(props map[string]any) string {
	stores, _ := props["ArtifactStores"].([]any)
	for _, sv := range stores {
		sm, _ := sv.(map[string]any)
		as, _ := sm["ArtifactStore"].(map[string]any)
		loc, _ := as["Location"].(map[string]any)
		if _, ok := loc["Ref"]; ok {
			r, _ := sm["Region"].(string)
			return r
		}
	}
	return ""
}

func (m *Model) readAction(s *Stack, e *model.Evaluator, p *Pipeline, av any) *Action {
	am, _ := av.(map[string]any)
	typ, _ := am["ActionTypeId"].(map[string]any)
	a := &Action{Config: map[string]string{}, RunOrder: 1}
	a.Name, _ = e.Str(am["Name"])
	a.Category, _ = typ["Category"].(string)
	a.Provider, _ = typ["Provider"].(string)
	a.Place = p.Place
	if r, _ := am["Region"].(string); r != "" {
		a.Place.Region = r
	}
	if v, ok := am["RunOrder"]; ok && v != nil {
		s, _ := e.Str(v)
		ro, err := model.Integer("RunOrder", s, model.MinRunOrder, model.MaxRunOrder)
		if err != nil {
			m.problemsRead = append(m.problemsRead, fmt.Errorf("sim: action %s: %w (API_ActionDeclaration)", a.Name, err))
		}
		a.RunOrder = max(ro, 1)
	}
	cfg, _ := am["Configuration"].(map[string]any)
	for k, v := range cfg {
		a.Config[k], _ = e.Str(v)
	}
	role, _ := e.Str(am["RoleArn"])
	if mm := roleAccountRE.FindStringSubmatch(role); mm != nil {
		a.Place.Account = mm[1]
	}
	switch a.Provider {
	case "Lambda":
		fn, _ := cfg["FunctionName"].(map[string]any)
		if id, ok := fn["Ref"].(string); ok && len(fn) == 1 {
			if res := s.Template.Resources[id]; res != nil && res.Type == "AWS::Lambda::Function" && res.Metadata[MetadataGates] != nil {
				req, err := gates.ParseBakeRequest([]byte(a.Config["UserParameters"]))
				if err != nil {
					a.BakeErr = err.Error()
				} else {
					a.Bake = &req
				}
			}
		}
	case "CloudFormation":
		a.StackName, a.Mode, a.ChangeSet = a.Config["StackName"], a.Config["ActionMode"], a.Config["ChangeSetName"]
		if tp := a.Config["TemplatePath"]; tp != "" {
			_, rel, _ := strings.Cut(tp, "::")
			a.Template = m.Assembly.Stack(rel)
			if a.Template != nil {
				if a.Template.Account != "" {
					a.Place.Account = a.Template.Account
				}
			}
		}
	case "CodeBuild":
		ref, _ := cfg["ProjectName"].(map[string]any)
		if id, ok := ref["Ref"].(string); ok {
			if proj := s.Template.Resources[id]; proj != nil && proj.Type == "AWS::CodeBuild::Project" {
				a.Env = map[string]string{}
				env, _ := proj.Properties["Environment"].(map[string]any)
				vars, _ := env["EnvironmentVariables"].([]any)
				for _, v := range vars {
					vm, _ := v.(map[string]any)
					k, _ := e.Str(vm["Name"])
					a.Env[k], _ = e.Str(vm["Value"])
				}
				a.Timeout = 60
				if v, ok := proj.Properties["TimeoutInMinutes"]; ok && v != nil {
					s, _ := e.Str(v)
					n, err := model.Integer("TimeoutInMinutes", s, model.MinBuildTimeout, model.MaxBuildTimeout)
					if err != nil {
						m.problemsRead = append(m.problemsRead, fmt.Errorf("sim: project %s: %w", id, err))
					}
					a.Timeout = max(n, model.MinBuildTimeout)
				}
			}
		}
		if err := actionEnv(a); err != nil {
			a.EnvErr = err.Error()
		}
	}
	return a
}

// linkChangeSets gives a CHANGE_SET_EXECUTE action the template of the
// CHANGE_SET_REPLACE action that prepared its change set.
func linkChangeSets(p *Pipeline) {
	for _, st := range p.Stages {
		for _, a := range st.Actions {
			if a.Provider != "CloudFormation" || a.Mode != "CHANGE_SET_EXECUTE" || a.Template != nil {
				continue
			}
			for _, b := range st.Actions {
				if b.Provider == "CloudFormation" && b.Mode == "CHANGE_SET_REPLACE" && b.StackName == a.StackName &&
					b.ChangeSet == a.ChangeSet && b.Place.Region == a.Place.Region && b.RunOrder < a.RunOrder {
					a.Template = b.Template
					a.Place.Account = b.Place.Account
					a.Config["TemplatePath"] = b.Config["TemplatePath"]
				}
			}
		}
	}
}

func readCondition(e *model.Evaluator, p *Pipeline, v any) (*Condition, error) {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil, nil
	}
	c := &Condition{}
	c.Result, _ = m["Result"].(string)
	conds, _ := m["Conditions"].([]any)
	var errs []error
	for _, cv := range conds {
		cm, _ := cv.(map[string]any)
		if c.Result == "" {
			c.Result, _ = cm["Result"].(string)
		}
		rules, _ := cm["Rules"].([]any)
		for _, rv := range rules {
			rm, _ := rv.(map[string]any)
			typ, _ := rm["RuleTypeId"].(map[string]any)
			r := &Rule{Config: map[string]string{}, Place: p.Place}
			r.Name, _ = e.Str(rm["Name"])
			r.Provider, _ = typ["Provider"].(string)
			if reg, _ := rm["Region"].(string); reg != "" {
				r.Place.Region = reg
			}
			role, _ := e.Str(rm["RoleArn"])
			if mm := roleAccountRE.FindStringSubmatch(role); mm != nil {
				r.Place.Account = mm[1]
			}
			cfg, _ := rm["Configuration"].(map[string]any)
			for k, cv := range cfg {
				r.Config[k], _ = e.Str(cv)
			}
			switch r.Provider {
			case "CloudWatchAlarm":
				r.Alarm = AlarmKey{Account: r.Place.Account, Region: r.Place.Region, Name: r.Config["AlarmName"]}
				if w := r.Config["WaitTime"]; w != "" {
					n, err := model.Integer("WaitTime", w, 0, model.MaxWaitTime)
					if err != nil {
						errs = append(errs, fmt.Errorf("rule %s: %w minutes", r.Name, err))
					}
					r.Wait = n
				}
			case "DeploymentWindow":
				cw, err := model.ParseCron(r.Config["Cron"], r.Config["TimeZone"])
				if err != nil {
					errs = append(errs, fmt.Errorf("rule %s: %w", r.Name, err))
				}
				r.Window = cw
			}
			c.Rules = append(c.Rules, r)
		}
	}
	return c, errors.Join(errs...)
}

// readGates finds the gate controller's configuration in the pipeline's
// template and parses it strictly with package gates: the gates.json of
// the function's code asset — what the function runs — when the assembly
// has it, else the copy the template carries as metadata (a lone
// template). When both are there they must say the same: a template whose
// metadata differs from what the function runs would have the simulator
// judge gates the pipeline does not have.
func readGates(s *Stack) (*gates.Config, error) {
	for _, id := range slices.Sorted(maps.Keys(s.Template.Resources)) {
		meta, ok := s.Template.Resources[id].Metadata[MetadataGates]
		if !ok {
			continue
		}
		b, err := decodeJSON(meta)
		if err != nil {
			return nil, fmt.Errorf("sim: %s: %s metadata on %s: %w", s.Path, MetadataGates, id, err)
		}
		fromMeta, err := gates.Parse(bytes.NewReader(b), s.Path+" "+id+" "+MetadataGates)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		asset, ok := s.GateAssets[id]
		if !ok {
			return fromMeta, nil
		}
		fromAsset, err := gates.Parse(bytes.NewReader(asset), s.Path+" "+id+" gates.json")
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		a, _ := json.Marshal(fromAsset)
		m, _ := json.Marshal(fromMeta)
		if !bytes.Equal(a, m) {
			return nil, fmt.Errorf("sim: %s: the gate controller %s runs a gates.json that differs from the template's %s metadata: the simulator would judge gates the pipeline does not have (resynthesize the assembly)", s.Path, id, MetadataGates)
		}
		return fromAsset, nil
	}
	return nil, nil
}

// SetRoles recognises production with rr instead of the default rules
// (model.DefaultRoleRules): `simulate --production PATTERN` names the
// production stages of a pipeline whose names do not say it.
func (m *Model) SetRoles(rr model.RoleRules) {
	for _, st := range m.Pipeline.Stages {
		st.Production, st.Wave = false, 0
	}
	markProductionWith(m.Pipeline, rr)
}

// accessStack reports whether a stack is a pipeline's access stack
// (model.AccessStack): the pipeline's plumbing, no deployment target.
func accessStack(s *Stack) bool {
	var types []string
	for _, r := range s.Template.Resources {
		types = append(types, r.Type)
	}
	return model.AccessStack(s.Template.Metadata, types)
}

func markProduction(p *Pipeline) { markProductionWith(p, model.DefaultRoleRules()) }

func markProductionWith(p *Pipeline, rr model.RoleRules) {
	infos := make([]model.StageInfo, len(p.Stages))
	for i, st := range p.Stages {
		infos[i].Name = st.Name
		for _, a := range st.Actions {
			a.OpaqueCode = false
		}
		infos[i].Windowed = st.Gate != nil && st.Gate.Window
		if st.BeforeEntry != nil {
			for _, r := range st.BeforeEntry.Rules {
				infos[i].Windowed = infos[i].Windowed || r.Provider == "DeploymentWindow"
			}
		}
		for _, a := range st.Actions {
			if !a.DeploysRegion() || a.Template != nil && accessStack(a.Template) ||
				a.Template == nil && a.Provider == "CloudFormation" && model.DeclaredAccess(p.Access, st.Name, a.StackName) {
				continue
			}
			t := model.Target{Account: a.Place.Account, Region: a.Place.Region, Stack: a.StackName}
			if a.Template != nil {
				t.Tags = a.Template.Tags
			}
			infos[i].Targets = append(infos[i].Targets, t)
		}
		if len(infos[i].Targets) > 0 {
			continue
		}
		// A stage that deploys nothing the simulator reads may deploy
		// through code: the same decision as verify's (model.OpaqueDeploy).
		for _, a := range st.Actions {
			if !model.RunsCode(a.Provider) || !opaque(a) || safepipeStep(a) {
				continue
			}
			elsewhere := a.Place.Account != p.Place.Account
			for _, k := range slices.Sorted(maps.Keys(a.Config)) {
				elsewhere = elsewhere || slices.ContainsFunc(model.RoleAccounts(a.Config[k]), func(acct string) bool { return acct != p.Place.Account })
			}
			for _, k := range slices.Sorted(maps.Keys(a.Env)) {
				elsewhere = elsewhere || slices.ContainsFunc(model.RoleAccounts(a.Env[k]), func(acct string) bool { return acct != p.Place.Account })
			}
			if rr.OpaqueDeploy(st.Name, elsewhere) {
				a.OpaqueCode = true
				infos[i].Targets = append(infos[i].Targets, model.Target{Account: a.Place.Account, Region: a.Place.Region})
			}
		}
	}
	roles := model.Roles(p.Place.Account, infos, rr)
	wave := 0
	var last string
	for i, st := range p.Stages {
		if !roles[i].Production {
			continue
		}
		st.Production = true
		key := strings.Join(st.Regions(), ",")
		if key != last {
			wave++
			last = key
		}
		st.Wave = wave
	}
}

// safepipeStep reports whether a build is one of safepipe's own steps (a
// gate check, a server deploy): it names SAFEPIPE_ variables, and the
// simulator models it by what it does, never as an opaque deploy.
func safepipeStep(a *Action) bool {
	for k := range a.Env {
		if strings.HasPrefix(k, "SAFEPIPE_") {
			return true
		}
	}
	return strings.Contains(a.Config["EnvironmentVariables"], "SAFEPIPE_")
}

// Location is the time zone of the pipeline's deployment window (UTC when
// it has none): the zone a start time without an offset is read in.
func (m *Model) Location() *time.Location {
	if g := m.Pipeline.Gates; g != nil {
		if loc, err := time.LoadLocation(g.Window.TimeZone); err == nil {
			return loc
		}
	}
	for _, st := range m.Pipeline.Stages {
		if st.BeforeEntry == nil {
			continue
		}
		for _, r := range st.BeforeEntry.Rules {
			if r.Window != nil {
				return r.Window.Loc
			}
		}
	}
	return time.UTC
}

// actionEnvVar is one of a CodeBuild action's EnvironmentVariables.
type actionEnvVar struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// parseActionEnv reads a CodeBuild action's EnvironmentVariables strictly:
// one JSON array of {name, type, value}, no unknown field, no trailing
// data, no name twice. "Valid Values: PLAINTEXT | SECRETS_MANAGER"
// (API_EnvironmentVariable); a SECRETS_MANAGER value names a secret the
// simulator cannot read: an error.
func parseActionEnv(raw string) ([]actionEnvVar, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var vars []actionEnvVar
	if err := dec.Decode(&vars); err != nil {
		return nil, fmt.Errorf("EnvironmentVariables is not a list of {name, value, type}: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("EnvironmentVariables: trailing data after the JSON array")
	}
	// encoding/json keeps the last of two equal keys and fills "name" from
	// "NAME": strictjson refuses the first (and bounds the nesting), and
	// every key must be spelt as documented.
	if err := strictjson.CheckKeys([]byte(raw)); err != nil {
		return nil, fmt.Errorf("EnvironmentVariables is not a list of {name, value, type}: %w", err)
	}
	var exact []map[string]any
	if err := json.Unmarshal([]byte(raw), &exact); err != nil {
		return nil, fmt.Errorf("EnvironmentVariables is not a list of {name, value, type}: %w", err)
	}
	for i, m := range exact {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if k != "name" && k != "type" && k != "value" {
				return nil, fmt.Errorf("EnvironmentVariables[%d]: key %q (want name, type or value, in lower case)", i, k)
			}
		}
	}
	seen := map[string]bool{}
	var errs []error
	for _, v := range vars {
		if seen[v.Name] {
			errs = append(errs, fmt.Errorf("EnvironmentVariables: %q appears twice", v.Name))
		}
		seen[v.Name] = true
		if v.Type != "" && v.Type != "PLAINTEXT" {
			errs = append(errs, fmt.Errorf("EnvironmentVariables: %q has type %q, whose value the simulator cannot read", v.Name, v.Type))
		}
	}
	return vars, errors.Join(errs...)
}
