package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Assembly verifies a cloud assembly directory (cdk.out), nested stage
// assemblies included. Production stacks are found through the pipeline's
// deploy actions (their TemplatePath), so CodeDeploy and alarm rules apply
// to what production really deploys. An assembly without a pipeline has
// its stacks checked as production stacks. Unreadable input is an error.
func Assembly(dir string, cfg *Config) (*Report, error) {
	cc, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("verify: %s is not a directory (give a cloud assembly, or use a template file)", dir)
	}
	templates, err := readAssembly(os.DirFS(dir), ".", map[string]bool{})
	if err != nil {
		return nil, fmt.Errorf("verify: %s: %w", dir, err)
	}
	return run(templates, cc, true, dir)
}

// TemplateReader verifies one CloudFormation template. Rules that need the
// stacks a pipeline deploys (aggregate alarms) are skipped.
func TemplateReader(r io.Reader, name string, cfg *Config) (*Report, error) {
	cc, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	t, err := ParseTemplate(r, name)
	if err != nil {
		return nil, err
	}
	return run([]*Template{t}, cc, false, name)
}

// Path verifies a cloud assembly directory or a template file.
func Path(path string, cfg *Config) (*Report, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if st.IsDir() {
		return Assembly(path, cfg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return TemplateReader(bytes.NewReader(b), path, cfg)
}

type manifest struct {
	Artifacts map[string]struct {
		Type        string `json:"type"`
		Environment string `json:"environment"`
		Properties  struct {
			TemplateFile  string            `json:"templateFile"`
			Tags          map[string]string `json:"tags"`
			DirectoryName string            `json:"directoryName"`
		} `json:"properties"`
	} `json:"artifacts"`
}

// readAssembly reads the stacks of the assembly in dir and its nested
// assemblies, with paths relative to the root.
func readAssembly(fsys fs.FS, dir string, seen map[string]bool) ([]*Template, error) {
	if seen[dir] {
		return nil, nil
	}
	seen[dir] = true
	b, err := fs.ReadFile(fsys, filepath.ToSlash(filepath.Join(dir, "manifest.json")))
	if err != nil {
		return nil, fmt.Errorf("no cloud assembly manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: malformed manifest: %w", filepath.Join(dir, "manifest.json"), err)
	}
	var out []*Template
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(m.Artifacts)) {
		a := m.Artifacts[id]
		switch a.Type {
		case "aws:cloudformation:stack":
			rel := filepath.ToSlash(filepath.Join(dir, a.Properties.TemplateFile))
			tb, err := fs.ReadFile(fsys, rel)
			if err != nil {
				errs = append(errs, fmt.Errorf("stack %s: %w", id, err))
				continue
			}
			t, err := ParseTemplate(bytes.NewReader(tb), rel)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if parts := strings.Split(a.Environment, "/"); len(parts) == 4 && !strings.HasPrefix(parts[3], "unknown") {
				t.Region = parts[3]
			}
			t.Tags = a.Properties.Tags
			out = append(out, t)
		case "cdk:cloud-assembly":
			nested, err := readAssembly(fsys, filepath.Join(dir, a.Properties.DirectoryName), seen)
			if err != nil {
				errs = append(errs, err)
			}
			out = append(out, nested...)
		}
	}
	return out, errors.Join(errs...)
}

func run(templates []*Template, cc *compiled, assembly bool, name string) (*Report, error) {
	c := &checker{cc: cc, order: map[string]int{}, pipelineTemplate: map[string]string{}}
	if assembly {
		c.byPath = map[string]*Template{}
		for _, t := range templates {
			c.byPath[t.Path] = t
		}
	}
	rep := &Report{Templates: len(templates)}
	var pipelines []Pipeline
	anything := false
	for _, t := range templates {
		pipelines = append(pipelines, t.Pipelines()...)
		anything = anything || relevant(t)
	}
	if !anything {
		return nil, fmt.Errorf("verify: %s has no CodePipeline pipeline, CodeDeploy deployment group or Lambda alias: nothing to verify", name)
	}
	rep.Pipelines = len(pipelines)
	for _, p := range pipelines {
		c.pipeline(p)
	}
	if len(pipelines) == 0 {
		for _, t := range templates {
			c.resources(t, Finding{Region: t.Region}, true)
		}
	}
	c.suppress(templates)
	c.sort()
	rep.Findings = c.findings
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	return rep, nil
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
		for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
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
