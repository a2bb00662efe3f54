package gray

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Finding kinds.
const (
	FindingShadowed     = "shadowed"
	FindingOverlap      = "ambiguous-overlap"
	FindingOneVariant   = "one-variant-one-rule"
	FindingSplitOrder   = "split-order"
	FindingMatchNothing = "matches-nothing"
	FindingNonSticky    = "non-sticky"
)

// Finding is one problem of a rule set.
type Finding struct {
	Kind     string   `json:"kind"`
	Severity Severity `json:"severity"`
	// Rule is the rule the finding is about.
	Rule string `json:"rule"`
	// Others are the rules involved: the shadowing rules, the overlapping
	// rule, the other rules of the variant.
	Others  []string `json:"others,omitempty"`
	Message string   `json:"message"`
}

// Share is a rule's slice of traffic, for rules with a percentage:
// Nominal is what its own conditions accept, Effective what reaches it
// past higher-priority rules. Both are fractions (0–1) of the requests
// most favourable to the rule: an ordinary key (in no allow-list) and the
// attribute values that the rule accepts and earlier rules claim least.
type Share struct {
	Rule      string  `json:"rule"`
	Target    string  `json:"target"`
	Priority  int     `json:"priority"`
	Nominal   float64 `json:"nominal"`
	Effective float64 `json:"effective"`
	// Sticky is false when a probability decides the rule.
	Sticky bool `json:"sticky"`
	// Percent says whether the rule has a percentage (else the shares
	// are 1 or 0 for ordinary keys).
	Percent bool `json:"percent"`
	// Reachable is false for a shadowed rule or one that matches nothing.
	Reachable bool `json:"reachable"`
}

// Analysis is the result of Analyze.
type Analysis struct {
	Findings []Finding `json:"findings"`
	Shares   []Share   `json:"shares"`
}

// HasErrors reports whether a finding is an error.
func (a *Analysis) HasErrors() bool {
	for _, f := range a.Findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// MaxAnalysisSteps bounds the work of one Analyze call, in steps (about
// the cost of comparing two short strings; see weigh): every condition
// evaluated on every request class of every question, and every condition
// value indexed. The whole analysis is priced before any of it runs; a
// rule set over the bound fails with ErrTooComplex instead of running for
// minutes. On a 2-core machine the analysis runs at 1.5–4 ns a step, so
// the bound is about 2 s at most (BenchmarkAnalyzeAtTheBudget).
const MaxAnalysisSteps = 500_000_000

// ErrTooComplex is wrapped by the error of Analyze for a rule set whose
// exact analysis costs more than MaxAnalysisSteps.
var ErrTooComplex = errors.New("too complex")

// Analyze checks a rule set statically: shadowed rules, ambiguous overlaps
// at equal priority, a variant targeted by several rules, percentage
// rules whose buckets earlier rules take (split order), and the effective
// share of each rule.
//
// The analysis is exact: it partitions requests into classes — each
// allow-listed key, each attribute value a rule names (and its other
// casings), "any other value", "absent", and for ordinary keys each slice
// of the hash buckets the percentage rules cut — such that every rule
// matches all or none of a class, and evaluates the rules on one
// representative of each class. Probability conditions may match or not:
// a rule is never shadowed by one, and a rule that has one is shadowed
// only if its other conditions are.
func Analyze(rs *RuleSet) (*Analysis, error) { return analyze(rs, MaxAnalysisSteps) }

func analyze(rs *RuleSet, limit int) (*Analysis, error) {
	e, err := Compile(rs)
	if err != nil {
		return nil, err
	}
	if _, err := price(e.rules, limit); err != nil {
		return nil, err
	}
	a := &Analysis{Findings: []Finding{}, Shares: []Share{}}
	rules := e.rules

	// One variant, one rule.
	byTarget := map[string][]string{}
	for _, r := range rules {
		byTarget[r.rule.Target] = append(byTarget[r.rule.Target], r.rule.Name)
	}
	for _, t := range slices.Sorted(maps.Keys(byTarget)) {
		if names := byTarget[t]; len(names) > 1 {
			for _, n := range names {
				a.Findings = append(a.Findings, Finding{Kind: FindingOneVariant, Severity: SeverityError, Rule: n, Others: without(names, n),
					Message: fmt.Sprintf("variant %q is the target of %d rules (%s); a canary variant belongs to exactly one rule", t, len(names), strings.Join(names, ", "))})
			}
		}
	}

	for i, r := range rules {
		if hasKind(&r.node, kProb) {
			a.Findings = append(a.Findings, Finding{Kind: FindingNonSticky, Severity: SeverityInfo, Rule: r.rule.Name,
				Message: "a probability decides this rule: a user may get a different variant on every request; never use it when one version writes data the other reads"})
		}
		higher := rules[:i]
		sp := newSpace(rules[:i+1])
		matched, uncovered := false, false
		shadowers := map[string]bool{}
		alone := make([]bool, len(higher)) // higher[j] covers every point by itself
		for j := range alone {
			alone[j] = true
		}
		sp.each(func(p *point) {
			if !p.match(&r.node, false) {
				return
			}
			matched = true
			covered := false
			for j, h := range higher {
				if p.match(&h.node, true) {
					if !covered {
						shadowers[h.rule.Name] = true
					}
					covered = true
				} else {
					alone[j] = false
				}
			}
			if !covered {
				uncovered = true
			}
		})
		for j := range higher {
			if alone[j] && matched {
				shadowers = map[string]bool{higher[j].rule.Name: true}
				break
			}
		}
		switch {
		case !matched:
			a.Findings = append(a.Findings, Finding{Kind: FindingMatchNothing, Severity: SeverityError, Rule: r.rule.Name,
				Message: "the rule's conditions accept no request (an empty slice or contradictory conditions)"})
		case !uncovered:
			names := slices.Sorted(maps.Keys(shadowers))
			a.Findings = append(a.Findings, Finding{Kind: FindingShadowed, Severity: SeverityError, Rule: r.rule.Name, Others: names,
				Message: fmt.Sprintf("never matches: every request it accepts is taken first by %s", strings.Join(names, ", "))})
		}
	}

	// Ambiguous overlaps: equal priority, intersecting sets.
	for i := range rules {
		for j := i + 1; j < len(rules) && rules[j].rule.Priority == rules[i].rule.Priority; j++ {
			sp := newSpace([]compiledRule{rules[i], rules[j]})
			var example string
			sp.each(func(p *point) {
				if example == "" && p.match(&rules[i].node, false) && p.match(&rules[j].node, false) {
					example = p.String()
				}
			})
			if example != "" {
				a.Findings = append(a.Findings, Finding{Kind: FindingOverlap, Severity: SeverityError, Rule: rules[j].rule.Name, Others: []string{rules[i].rule.Name},
					Message: fmt.Sprintf("has the same priority (%d) as %s and both match some requests (e.g. %s): give the narrower rule the lower number", rules[i].rule.Priority, rules[i].rule.Name, example)})
			}
		}
	}

	a.shares(rules)
	sortFindings(a.Findings, rules)
	return a, nil
}

// shares computes nominal and effective shares and reports split order.
func (a *Analysis) shares(rules []compiledRule) {
	shadowed := map[string]bool{}
	for _, f := range a.Findings {
		if f.Kind == FindingShadowed || f.Kind == FindingMatchNothing {
			shadowed[f.Rule] = true
		}
	}
	for i, r := range rules {
		s := Share{Rule: r.rule.Name, Target: r.rule.Target, Priority: r.rule.Priority, Sticky: !hasKind(&r.node, kProb), Percent: hasKind(&r.node, kPct)}
		sp := newSpace(rules[:i+1])
		sp.ordinaryKeyOnly = true
		// Weighted by bucket-cell width within each attribute class; each
		// visits an attribute class's cells one after another, so one
		// running sum (not a map of every class) finds the best.
		var nominal, effective float64
		class := -1
		best := func() {
			if effective > s.Effective || effective == s.Effective && nominal > s.Nominal {
				s.Nominal, s.Effective = nominal, effective
			}
		}
		sp.each(func(p *point) {
			if !p.match(&r.node, false) {
				return
			}
			if p.class != class {
				best()
				class, nominal, effective = p.class, 0, 0
			}
			w := p.weight()
			nominal += w
			taken := false
			for _, h := range rules[:i] {
				if p.match(&h.node, true) {
					taken = true
					break
				}
			}
			if !taken {
				effective += w
			}
		})
		best()
		s.Reachable = !shadowed[s.Rule]
		a.Shares = append(a.Shares, s)
		if !s.Percent || shadowed[s.Rule] || s.Effective+1e-9 >= s.Nominal {
			continue
		}
		// Split order is about slices of the same ordering: earlier rules
		// on the same key and group. (Independent groups overlap by
		// chance; the shares show it, but no order fixes it.)
		mine := pctOrderings(&r.node)
		var takers []string
		for _, h := range rules[:i] {
			for sg := range pctOrderings(&h.node) {
				if mine[sg] {
					takers = append(takers, h.rule.Name)
					break
				}
			}
		}
		if len(takers) > 0 {
			a.Findings = append(a.Findings, Finding{Kind: FindingSplitOrder, Severity: SeverityWarning, Rule: s.Rule, Others: takers,
				Message: fmt.Sprintf("nominally takes %s but effectively %s: earlier rules take part of its buckets; give it a disjoint slice (percent.from) or its own group", pct(s.Nominal), pct(s.Effective))})
		}
	}
}

func pct(f float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", f*100), "0"), ".0") + "%"
}

func sortFindings(fs []Finding, rules []compiledRule) {
	order := map[string]int{}
	for i, r := range rules {
		order[r.rule.Name] = i
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if order[fs[i].Rule] != order[fs[j].Rule] {
			return order[fs[i].Rule] < order[fs[j].Rule]
		}
		return fs[i].Kind < fs[j].Kind
	})
}

// hasKind reports whether a condition contains a k condition.
func hasKind(n *node, k kind) bool {
	if n.kind == k {
		return true
	}
	for i := range n.children {
		if hasKind(&n.children[i], k) {
			return true
		}
	}
	return false
}

func pctOrderings(n *node) map[srcGroup]bool {
	out := map[srcGroup]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == kPct {
			out[srcGroup{n.name, n.group}] = true
		}
		for i := range n.children {
			walk(&n.children[i])
		}
	}
	walk(n)
	return out
}

func without(names []string, n string) []string {
	var out []string
	for _, x := range names {
		if x != n {
			out = append(out, x)
		}
	}
	return out
}
