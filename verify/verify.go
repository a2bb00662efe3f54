package verify

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Assembly verifies a cloud assembly directory (cdk.out), nested stage
// assemblies included. Production stacks are found through the pipeline's
// deploy actions (their TemplatePath), so deployment and alarm rules apply
// to what production really deploys. An assembly without a pipeline has
// its stacks checked as production stacks. Unreadable input is an error.
func Assembly(dir string, cfg *Config) (*Report, error) {
	cc, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	asm, err := ReadAssembly(dir, &cc.limits)
	if err != nil {
		return nil, err
	}
	return run(asm.Templates, cc, true, dir)
}

// Check verifies a cloud assembly already read (ReadAssembly).
func Check(asm *CloudAssembly, cfg *Config) (*Report, error) {
	cc, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return run(asm.Templates, cc, true, asm.Dir)
}

// TemplateReader verifies one CloudFormation template. Rules that need the
// stacks a pipeline deploys (aggregate alarms, the alarm contract,
// production by tag) are skipped.
func TemplateReader(r io.Reader, name string, cfg *Config) (*Report, error) {
	cc, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	t, err := ReadTemplate(r, name, &cc.limits)
	if err != nil {
		return nil, err
	}
	if err := readGateMetadata(t, cc.limits); err != nil {
		return nil, err
	}
	return run([]*Template{t}, cc, false, name)
}

// Path verifies a cloud assembly directory or a template file. A path
// that is neither a directory nor a regular file (a device, a pipe) is
// refused before it is read.
func Path(path string, cfg *Config) (*Report, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("verify: %s", Escape(err.Error()))
	}
	if st.IsDir() {
		return Assembly(path, cfg)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("verify: %s is not a regular file or a directory", Escape(path))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify: %s", Escape(err.Error()))
	}
	defer f.Close()
	return TemplateReader(f, path, cfg)
}

func run(templates []*Template, cc *compiled, assembly bool, name string) (*Report, error) {
	c := &checker{
		cc: cc, templates: templates, asm: assembly,
		order: map[string]int{}, pipelineTemplate: map[string]string{}, checked: map[*Template]bool{},
		contracted: map[*Template]bool{}, reported: map[string]bool{}, hashes: map[*Template]string{},
		aggregateCache: map[string][]*alarm{}, prodTemplates: map[string][]*Template{},
		byPath: map[string]*Template{}, bases: map[string]string{}, waves: map[string]string{},
	}
	for _, t := range templates {
		c.byPath[t.Path] = t
	}
	c.alarms = newAlarmIndex(templates)
	c.external = append(c.external, cc.external...)
	c.external = append(c.external, controllerExternals(templates)...)
	c.metadataExternals(templates)
	rep := &Report{Templates: len(templates)}
	var pipelines []Pipeline
	anything := false
	for _, t := range templates {
		pipelines = append(pipelines, t.Pipelines()...)
		anything = anything || relevant(t)
	}
	if !anything {
		return nil, fmt.Errorf("verify: %s has no CodePipeline pipeline, CodeDeploy deployment group, ECS service, AppConfig deployment or Lambda alias: nothing to verify", Escape(name))
	}
	rep.Pipelines = len(pipelines)
	for _, t := range templates {
		c.templateLimits(t)
		c.trust(t)
	}
	c.twoPhase(templates)
	if assembly {
		c.alarmNameCollisions(templates)
	}
	for _, p := range pipelines {
		c.pipeline(p)
	}
	if len(pipelines) == 0 {
		for _, t := range templates {
			c.resources(t, Finding{Region: t.Region})
			if assembly {
				c.deploymentContract(t)
			}
		}
	}
	c.suppress(templates)
	c.sort()
	rep.Findings = c.findings
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	rep.pipelineTemplates = map[string]string{}
	for _, p := range pipelines {
		if prev, ok := rep.pipelineTemplates[p.LogicalID]; ok && prev != p.Template.Path {
			rep.pipelineTemplates[p.LogicalID] = "" // two templates: no one location
			continue
		}
		rep.pipelineTemplates[p.LogicalID] = p.Template.Path
	}
	rep.Stages = c.stages
	if rep.Stages == nil {
		rep.Stages = []StageReport{}
	}
	return rep, nil
}

// metadataExternals reads external alarms declared in template metadata:
// "safepipe:externalAlarms", a list of {"alarm", "account", "region",
// "aggregate", "reason"} on any resource (the pipeline, typically). A
// declaration without a reason is ignored and reported (SP000).
func (c *checker) metadataExternals(templates []*Template) {
	for _, t := range templates {
		for _, id := range sortedKeys(t.Resources) {
			list, _ := t.Resources[id].Metadata["safepipe:externalAlarms"].([]any)
			for _, item := range list {
				m := asMap(item)
				e := ExternalAlarm{Alarm: str(m["alarm"]), Account: str(m["account"]), Region: str(m["region"]),
					Aggregate: m["aggregate"] == true, Reason: strings.TrimSpace(str(m["reason"]))}
				if e.Alarm == "" || e.Reason == "" {
					c.add(RuleSuppressionReason, Finding{Template: t.Path, Resource: id}, "external alarm %q declared on %s has no reason (or no alarm); it is ignored", e.Alarm, id)
					continue
				}
				c.external = append(c.external, e)
			}
		}
	}
}

// suppress applies the config's suppressions and those in template
// metadata ("safepipe:suppress" on a resource: a list of {rule, stage,
// region, reason}); a suppression without a reason is itself a finding.
func (c *checker) suppress(templates []*Template) {
	type scoped struct {
		s                  Suppression
		template, pipeline string // where a metadata suppression applies
	}
	var all []scoped
	for _, s := range c.cc.suppressions {
		all = append(all, scoped{s: s})
	}
	for _, t := range templates {
		for _, id := range sortedKeys(t.Resources) {
			list, _ := t.Resources[id].Metadata["safepipe:suppress"].([]any)
			for _, item := range list {
				m := asMap(item)
				s := Suppression{Rule: str(m["rule"]), Stage: str(m["stage"]), Region: str(m["region"]), Reason: strings.TrimSpace(str(m["reason"]))}
				sc := scoped{template: t.Path}
				if t.Resources[id].Type == "AWS::CodePipeline::Pipeline" {
					sc.pipeline = id
				} else {
					s.Resource = id
				}
				if s.Reason == "" || s.Rule == "" {
					c.add(RuleSuppressionReason, Finding{Template: t.Path, Resource: id}, "suppression of %q on %s has no reason (or no rule); it is ignored", s.Rule, id)
					continue
				}
				sc.s = s
				all = append(all, sc)
			}
		}
	}
	for i := range c.findings {
		f := &c.findings[i]
		for _, sc := range all {
			switch {
			case f.Rule == RuleSuppressionReason:
				continue
			case sc.pipeline != "" && (f.Pipeline != sc.pipeline || c.pipelineTemplate[f.Pipeline] != sc.template): // on a pipeline: its findings
				continue
			case sc.pipeline == "" && sc.template != "" && f.Template != sc.template: // on a resource: that resource
				continue
			}
			if sc.s.matches(*f) {
				f.Suppressed, f.Reason = true, sc.s.Reason
				break
			}
		}
	}
}

func (c *checker) sort() {
	sort.SliceStable(c.findings, func(i, j int) bool {
		a, b := c.findings[i], c.findings[j]
		if a.Pipeline != b.Pipeline {
			return a.Pipeline < b.Pipeline
		}
		oa, ob := c.order[a.Pipeline+"/"+a.Stage], c.order[b.Pipeline+"/"+b.Stage]
		if oa != ob {
			return oa < ob
		}
		for _, p := range [][2]string{{a.Template, b.Template}, {a.Rule, b.Rule}, {a.Region, b.Region}, {a.Resource, b.Resource}, {a.Message, b.Message}} {
			if p[0] != p[1] {
				return p[0] < p[1]
			}
		}
		return false
	})
}
