package verify

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Severity ranks findings.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	default:
		return "error"
	}
}

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity's name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	v, err := ParseSeverity(name)
	*s = v
	return err
}

// ParseSeverity reads "info", "warning" or "error".
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(s) {
	case "info":
		return Info, nil
	case "warning", "warn":
		return Warning, nil
	case "error":
		return Error, nil
	}
	return Error, fmt.Errorf("verify: severity %q is not one of info, warning, error", s)
}

// RuleInfo describes one rule.
type RuleInfo struct {
	// ID is stable: "SP001".
	ID string `json:"id"`
	// Name is a short slug: "prod-rollback".
	Name string `json:"name"`
	// Severity of its findings.
	Severity Severity `json:"severity"`
	// Rationale is why the rule exists, in one line.
	Rationale string `json:"rationale"`
	// Fix says what to change, in one line.
	Fix string `json:"fix"`
}

// Finding is one violation of a rule.
type Finding struct {
	Rule     string   `json:"rule"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	// Pipeline is the pipeline's logical ID, when the finding is about one.
	Pipeline string `json:"pipeline,omitempty"`
	// Stage is the pipeline stage, when the finding is about one.
	Stage string `json:"stage,omitempty"`
	// Region is the region concerned, if any.
	Region string `json:"region,omitempty"`
	// Resource is the logical ID of the resource concerned, if any.
	Resource string `json:"resource,omitempty"`
	// Template is the template file, relative to the assembly.
	Template string `json:"template,omitempty"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
	// Suppressed findings are reported but never fail verification.
	Suppressed bool   `json:"suppressed,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Report is the result of a verification.
type Report struct {
	// Findings sorted by pipeline, stage order, rule, region, resource.
	Findings []Finding `json:"findings"`
	// Pipelines and Templates count what was read.
	Pipelines int `json:"pipelines"`
	Templates int `json:"templates"`
	// pipelineTemplates is the template of each pipeline logical ID, for
	// the findings' locations in SARIF ("" when two templates share it).
	pipelineTemplates map[string]string
	// Stages say what verify made of each pipeline stage (the
	// classification the simulator shares, model.Roles), in order.
	Stages []StageReport `json:"stages"`
}

// StageReport is what verify made of one pipeline stage.
type StageReport struct {
	Pipeline string `json:"pipeline"`
	Stage    string `json:"stage"`
	// Deploys: the stage changes something (a stack, a deployment, or
	// through code: SP034).
	Deploys bool `json:"deploys"`
	// Production, and why it was recognised.
	Production bool   `json:"production"`
	Why        string `json:"why,omitempty"`
	// PreProduction names the pre-production role recognised ("" for
	// none).
	PreProduction string `json:"preProduction,omitempty"`
}

// Failed reports whether an unsuppressed finding is at or above threshold.
func (r *Report) Failed(threshold Severity) bool {
	for _, f := range r.Findings {
		if !f.Suppressed && f.Severity >= threshold {
			return true
		}
	}
	return false
}

// Unsuppressed returns the findings at or above threshold that are not
// suppressed.
func (r *Report) Unsuppressed(threshold Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if !f.Suppressed && f.Severity >= threshold {
			out = append(out, f)
		}
	}
	return out
}
