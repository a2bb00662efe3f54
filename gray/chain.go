package gray

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/safepipe/safepipe/internal/strict"
)

// ReleaseAttribute is the request attribute that carries a release
// decision down a call chain: the edge evaluates the releases once
// (Router.Decide) and sends the chosen release's name under this label;
// every service downstream routes by it (ReleaseSet.ServiceRules), never
// by evaluating the releases again. It is a valid W3C baggage key.
const ReleaseAttribute = "safepipe-release"

// MaxServices bounds the services one release names.
const MaxServices = 64

// ReleaseSet is a gray release over a call chain: each Release routes a
// slice of traffic to canary versions of several services at once (Order
// v1.1 and Email v2.1 for Android users). A request takes at most one
// release, the first by priority whose Match accepts it; a service that a
// release does not name serves that request its stable version, as does
// every service for a request no release takes.
type ReleaseSet struct {
	// Releases, in any order; Priority orders them (lower first).
	// Required, at most MaxRules.
	Releases []Release `json:"releases"`
}

// Release is one release of a ReleaseSet.
type Release struct {
	// Name is unique among all the releases analysed together (every file
	// of one gray check). Required.
	Name string `json:"name"`
	// Priority orders releases: the lowest number is evaluated first.
	// Overlapping releases must not share a priority. Default: 0.
	Priority int `json:"priority"`
	// Match says which requests the release takes. Required.
	Match Match `json:"match"`
	// Services maps each service of the chain the release changes to its
	// canary version, e.g. {order: v1.1, email: v2.1}. A canary version
	// belongs to one release. Required, at most MaxServices.
	Services map[string]string `json:"services"`
	// Source names where the release was read (a file), for messages; it
	// is not part of the file format.
	Source string `json:"-"`
}

func (r *Release) where() string {
	if r.Source != "" {
		return fmt.Sprintf("gray: release %q (%s)", r.Name, r.Source)
	}
	return fmt.Sprintf("gray: release %q", r.Name)
}

// LoadFile reads one gray file, strictly and within the limits of Load: a
// rule set of one service ("rules:") or releases over a chain
// ("releases:"), never both. Exactly one of the results is non-nil when
// the error is nil. Releases are validated on their own; Merge and
// AnalyzeReleases check them together with other files.
func LoadFile(r io.Reader, source string) (*RuleSet, *ReleaseSet, error) {
	b, err := strict.ReadAll(r, MaxRuleBytes)
	if err != nil {
		return nil, nil, fmt.Errorf("gray: %w", err)
	}
	var f struct {
		Stable   string     `json:"stable,omitempty"`
		Rules    *[]Rule    `json:"rules,omitempty"`
		Releases *[]Release `json:"releases,omitempty"`
	}
	if err := strict.YAML(b, &f, ruleLimits); err != nil {
		var se *strict.SyntaxError
		if errors.As(err, &se) {
			return nil, nil, fmt.Errorf("gray: not YAML or JSON: %w", err)
		}
		return nil, nil, eachLine("gray: ", err)
	}
	switch {
	case f.Rules != nil && f.Releases != nil:
		return nil, nil, errors.New("gray: the file has both rules and releases; a file holds one service's rules or releases over a chain")
	case f.Releases != nil:
		if f.Stable != "" {
			return nil, nil, errors.New("gray: stable is a field of a rule set; in releases every service's stable version is the one it serves outside a release")
		}
		rs := &ReleaseSet{Releases: *f.Releases}
		for i := range rs.Releases {
			rs.Releases[i].Source = source
		}
		if err := rs.Validate(); err != nil {
			return nil, nil, eachLine("gray: ", err)
		}
		return nil, rs, nil
	case f.Rules != nil:
		rs := &RuleSet{Stable: f.Stable, Rules: *f.Rules}
		if err := rs.Validate(); err != nil {
			return nil, nil, eachLine("gray: ", err)
		}
		return rs, nil, nil
	}
	return nil, nil, errors.New("gray: the file has neither rules nor releases")
}

// Merge joins release sets read from several files (each release keeps its
// Source) and validates the result: names unique across files.
func Merge(sets ...*ReleaseSet) (*ReleaseSet, error) {
	out := &ReleaseSet{}
	for _, s := range sets {
		if s != nil {
			out.Releases = append(out.Releases, s.Releases...)
		}
	}
	if len(out.Releases) > MaxRules {
		return nil, fmt.Errorf("gray: releases: %d releases in all, over the limit of %d", len(out.Releases), MaxRules)
	}
	return out, out.Validate()
}

// Validate reports every problem at once, naming the release and the
// field.
func (rs *ReleaseSet) Validate() error {
	var errs []error
	if len(rs.Releases) == 0 {
		errs = append(errs, errors.New("gray: releases: the set has no releases"))
	}
	if len(rs.Releases) > MaxRules {
		return fmt.Errorf("gray: releases: %d releases, over the limit of %d", len(rs.Releases), MaxRules)
	}
	seen := map[string]string{}
	for i := range rs.Releases {
		r := &rs.Releases[i]
		where := r.where()
		if r.Name == "" {
			where = fmt.Sprintf("gray: releases[%d]", i)
		}
		if !nameRE.MatchString(r.Name) {
			errs = append(errs, fmt.Errorf("%s: name %q must match %s", where, r.Name, nameRE))
		}
		if r.Name == DefaultStable {
			errs = append(errs, fmt.Errorf("%s: %q names what a service serves outside every release; choose another name", where, r.Name))
		}
		if src, dup := seen[r.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: the name is used by another release (%s)", where, orFile(src)))
		}
		seen[r.Name] = r.Source
		switch {
		case len(r.Services) == 0:
			errs = append(errs, fmt.Errorf("%s: services is empty; a release changes at least one service", where))
		case len(r.Services) > MaxServices:
			errs = append(errs, fmt.Errorf("%s: services has %d services, over the limit of %d", where, len(r.Services), MaxServices))
		}
		for _, svc := range slices.Sorted(maps.Keys(r.Services)) {
			v := r.Services[svc]
			if !nameRE.MatchString(svc) {
				errs = append(errs, fmt.Errorf("%s: service name %q must match %s", where, svc, nameRE))
			}
			if !nameRE.MatchString(v) {
				errs = append(errs, fmt.Errorf("%s: services.%s: version %q must match %s", where, svc, v, nameRE))
			}
			if v == DefaultStable {
				errs = append(errs, fmt.Errorf("%s: services.%s: version %q is what the service serves outside every release; name the canary version", where, svc, v))
			}
		}
		errs = append(errs, r.Match.validate(where+": match", r.Name, 0))
	}
	return errors.Join(errs...)
}

func orFile(src string) string {
	if src == "" {
		return "the same file"
	}
	return src
}

// Services returns every service the releases name, sorted.
func (rs *ReleaseSet) Services() []string {
	set := map[string]bool{}
	for _, r := range rs.Releases {
		for s := range r.Services {
			set[s] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// EdgeRules is the rule set the edge evaluates: one rule per release, its
// target the release's name; unmatched traffic takes no release (the
// stable variant, DefaultStable).
func (rs *ReleaseSet) EdgeRules() *RuleSet {
	out := &RuleSet{Stable: DefaultStable}
	for _, r := range rs.sorted() {
		out.Rules = append(out.Rules, Rule{Name: r.Name, Target: r.Name, Priority: r.Priority, Match: r.Match})
	}
	return out
}

// ServiceRules is service's part of the releases: one rule per release
// that names the service, matching the decision the edge carried
// (ReleaseAttribute equal to the release's name, compared exactly) and
// targeting the service's canary version; every other request gets the
// stable variant. Because a service routes by the edge's decision and not
// by the releases' own conditions, every service of the chain puts a
// request in the same release. It returns nil when no release names the
// service.
func (rs *ReleaseSet) ServiceRules(service string) *RuleSet {
	out := &RuleSet{Stable: DefaultStable}
	for _, r := range rs.sorted() {
		v, ok := r.Services[service]
		if !ok {
			continue
		}
		out.Rules = append(out.Rules, Rule{Name: r.Name, Target: v, Priority: r.Priority,
			Match: Match{Attribute: &Attribute{Name: ReleaseAttribute, In: []string{r.Name}, CaseSensitive: true}}})
	}
	if len(out.Rules) == 0 {
		return nil
	}
	return out
}

// sorted returns the releases by priority, then name.
func (rs *ReleaseSet) sorted() []Release {
	out := slices.Clone(rs.Releases)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority < out[j].Priority
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Router decides a request's release at the edge and tells each service
// its version. Build it once with CompileReleases and share it: its
// methods are safe for concurrent use and do not allocate.
type Router struct {
	engine   *Engine
	versions map[string]map[string]string // release → service → version
}

// CompileReleases validates rs and prepares it for routing.
func CompileReleases(rs *ReleaseSet) (*Router, error) {
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	e, err := Compile(rs.EdgeRules())
	if err != nil {
		return nil, err
	}
	r := &Router{engine: e, versions: map[string]map[string]string{}}
	for _, rel := range rs.Releases {
		r.versions[rel.Name] = maps.Clone(rel.Services)
	}
	return r, nil
}

// Decide evaluates the releases on a request: the name of the release
// that takes it, or "" when none does (every service serves it stable).
func (r *Router) Decide(ctx *Context) string {
	release, rule := r.engine.Evaluate(ctx)
	if rule == nil {
		return ""
	}
	return release
}

// Version is the version service serves a request of release: the
// release's canary version of the service, or DefaultStable when the
// release does not name the service, the release is "" or unknown.
func (r *Router) Version(release, service string) string {
	if v, ok := r.versions[release][service]; ok {
		return v
	}
	return DefaultStable
}

// Release finding kinds (with the kinds of Analyze, whose findings
// AnalyzeReleases reports about releases).
const (
	// FindingSharedCanary: one canary version of a service serves two
	// releases (a shared downstream canary).
	FindingSharedCanary = "shared-canary"
	// FindingReleaseOverlap: some requests match two releases of
	// different priorities; the report names the set and what each
	// service serves them.
	FindingReleaseOverlap = "release-overlap"
)

// AnalyzeReleases checks releases over a chain, as Analyze checks one
// service's rules, and more:
//
//   - a canary version of a service named by two releases is an error
//     (shared-canary): a request routed to it cannot be told apart, a
//     fault in it rolls back both releases, and the seed's shared
//     downstream canary (Z' serving two rules) is exactly this;
//   - releases of equal priority whose conditions intersect are an error
//     (ambiguous-overlap), as are shadowed releases (every request they
//     accept is taken first by others, in whatever services) and releases
//     that match nothing;
//   - releases of different priorities whose conditions intersect are
//     reported (release-overlap, a warning) with the overlapping set (the
//     conjunction of both conditions), an example request class, the
//     release that takes it, and what every service of either release
//     serves it: a request takes one release along the whole chain, so the
//     losing release's other services serve it stable.
//
// The analysis is exact and bounded like Analyze (MaxAnalysisSteps in
// all).
func AnalyzeReleases(rs *ReleaseSet) (*Analysis, error) {
	return analyzeReleases(rs, MaxAnalysisSteps)
}

func analyzeReleases(rs *ReleaseSet, limit int) (*Analysis, error) {
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	edge := rs.EdgeRules()
	// The overlap pass below asks the same questions as the shadow pass of
	// Analyze (one space per release over the releases before it), so it
	// costs what that pass costs: half the budget for each.
	a, err := analyze(edge, limit/2)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Release{}
	desc := map[string]string{} // each release's condition, rendered once
	for i := range rs.Releases {
		r := &rs.Releases[i]
		byName[r.Name] = r
		desc[r.Name] = describe(&r.Match, r.Name)
	}

	// One canary version, one release.
	type canary struct{ service, version string }
	users := map[canary][]string{}
	for _, r := range rs.sorted() {
		for s, v := range r.Services {
			users[canary{s, v}] = append(users[canary{s, v}], r.Name)
		}
	}
	keys := slices.SortedFunc(maps.Keys(users), func(x, y canary) int {
		return strings.Compare(x.service+"\x00"+x.version, y.service+"\x00"+y.version)
	})
	for _, c := range keys {
		names := users[c]
		if len(names) < 2 {
			continue
		}
		for _, n := range names {
			a.Findings = append(a.Findings, Finding{Kind: FindingSharedCanary, Severity: SeverityError, Rule: n, Others: without(names, n),
				Message: fmt.Sprintf("service %s's canary %s serves %d releases (%s): a canary version belongs to one release; give each release its own version of %s, or make them one release",
					c.service, c.version, len(names), strings.Join(names, ", "), c.service)})
		}
	}

	// Overlaps across priorities.
	e, err := Compile(edge)
	if err != nil {
		return nil, err
	}
	rules := e.rules
	equal := map[[2]string]string{} // [loser, winner] of equal priority → an example
	for j := range rules {
		sp := newSpace(rules[:j+1])
		examples := map[int]string{} // higher rule → an example class
		odd := map[int]int{}         // how unusual the example is
		written := writtenValues(rules[:j+1])
		sp.each(func(p *point) {
			if !p.match(&rules[j].node, false) {
				return
			}
			for i := 0; i < j; i++ {
				if !p.match(&rules[i].node, false) {
					continue
				}
				if o, ok := odd[i]; !ok || o > 0 && p.oddness(written) < o {
					examples[i], odd[i] = p.String(), p.oddness(written)
				}
				if p.match(&rules[i].node, true) {
					break // surely taken here: later rules never see it
				}
			}
		})
		reported := 0
		var more []string
		for _, i := range slices.Sorted(maps.Keys(examples)) {
			win, lose := byName[rules[i].rule.Name], byName[rules[j].rule.Name]
			if win.Priority == lose.Priority {
				equal[[2]string{lose.Name, win.Name}] = examples[i]
				continue
			}
			if reported == maxOverlapsPerRelease {
				more = append(more, win.Name)
				continue
			}
			reported++
			a.Findings = append(a.Findings, Finding{Kind: FindingReleaseOverlap, Severity: SeverityWarning, Rule: lose.Name, Others: []string{win.Name},
				Message: fmt.Sprintf("requests in %s ∧ %s (e.g. %s) match both %s and %s; %s takes them (priority %d before %d): %s",
					desc[win.Name], desc[lose.Name], examples[i], win.Name, lose.Name, win.Name, win.Priority, lose.Priority, outcome(win, lose))})
		}
		if len(more) > 0 {
			lose := rules[j].rule.Name
			a.Findings = append(a.Findings, Finding{Kind: FindingReleaseOverlap, Severity: SeverityWarning, Rule: lose, Others: more,
				Message: fmt.Sprintf("%s also overlaps %d more releases of higher priority (%s): a release that overlaps this many others is hard to reason about; narrow it",
					lose, len(more), clip(strings.Join(more, ", "), maxDescribe))})
		}
	}
	// Equal priorities: Analyze's ambiguous-overlap error, told in terms
	// of the chain. Evaluation keeps the order of EdgeRules (priority, then
	// name), so the release whose name sorts first takes the requests.
	for k, f := range a.Findings {
		if f.Kind != FindingOverlap || len(f.Others) != 1 {
			continue
		}
		win, lose := byName[f.Others[0]], byName[f.Rule]
		example, reached := equal[[2]string{lose.Name, win.Name}]
		if !reached {
			// The overlap pass found no request of both that a
			// higher-priority release does not take first.
			a.Findings[k].Message = fmt.Sprintf("requests in %s ∧ %s match both %s and %s, of the same priority (%d): give the narrower release the lower number. (Today higher-priority releases take every such request first.)",
				desc[win.Name], desc[lose.Name], win.Name, lose.Name, win.Priority)
			continue
		}
		a.Findings[k].Message = fmt.Sprintf("requests in %s ∧ %s (e.g. %s) match both %s and %s, of the same priority (%d): give the narrower release the lower number. As written, %s takes them (its name sorts first): %s",
			desc[win.Name], desc[lose.Name], example, win.Name, lose.Name, win.Priority, win.Name, outcome(win, lose))
	}
	for k, f := range a.Findings {
		if f.Kind == FindingMatchNothing {
			a.Findings[k].Message = "the release's conditions accept no request (an empty slice or contradictory conditions)"
		}
	}
	sortFindings(a.Findings, rules)
	return a, nil
}

// outcome says what every service of win and lose serves a request win
// takes.
func outcome(win, lose *Release) string {
	svcs := map[string]bool{}
	for s := range win.Services {
		svcs[s] = true
	}
	for s := range lose.Services {
		svcs[s] = true
	}
	var parts []string
	for k, s := range slices.Sorted(maps.Keys(svcs)) {
		if k == maxOutcomeServices {
			parts = append(parts, fmt.Sprintf("and %d more services", len(svcs)-k))
			break
		}
		if v, ok := win.Services[s]; ok {
			parts = append(parts, fmt.Sprintf("%s serves %s", s, v))
		} else {
			parts = append(parts, fmt.Sprintf("%s serves stable, not %s's %s", s, lose.Name, lose.Services[s]))
		}
	}
	return strings.Join(parts, ", ")
}

// Bounds of the release report: a file of 1 MiB could otherwise ask for
// n² findings, each quoting two conditions and 128 services.
const (
	// maxOverlapsPerRelease is how many release-overlap findings a release
	// gets, one per higher-priority release; one more names the rest.
	maxOverlapsPerRelease = 5
	// maxOutcomeServices is how many services an overlap's outcome lists.
	maxOutcomeServices = 12
	// maxDescribe is the longest rendering of a condition, in bytes.
	maxDescribe = 200
)

// clip shortens s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// describe renders a condition of rule as a set of requests, e.g.
// "device=Android", "city∈{Atlantis, Lemuria}", "(a ∨ b)", at most
// maxDescribe bytes.
func describe(m *Match, rule string) string { return clip(describeAll(m, rule), maxDescribe) }

func describeAll(m *Match, rule string) string {
	switch {
	case m.IDs != nil:
		if len(m.IDs) == 1 {
			return fmt.Sprintf("key=%s", m.IDs[0])
		}
		return fmt.Sprintf("key∈{%s}", strings.Join(m.IDs, ", "))
	case m.Attribute != nil:
		if len(m.Attribute.In) == 1 {
			return fmt.Sprintf("%s=%s", m.Attribute.Name, m.Attribute.In[0])
		}
		return fmt.Sprintf("%s∈{%s}", m.Attribute.Name, strings.Join(m.Attribute.In, ", "))
	case m.Percent != nil:
		to, buckets := m.Percent.bounds()
		unit := "%"
		if buckets == 1000 {
			unit = "‰"
		}
		group := m.Percent.Group
		if group == "" {
			group = rule
		}
		return fmt.Sprintf("bucket(%s)∈(%d, %d]%s", group, m.Percent.From, to, unit)
	case m.Probability != nil:
		return fmt.Sprintf("probability %v", *m.Probability)
	case m.All != nil:
		parts := make([]string, len(m.All))
		for i := range m.All {
			parts[i] = describeAll(&m.All[i], rule)
		}
		return strings.Join(parts, " ∧ ")
	default:
		parts := make([]string, len(m.Any))
		for i := range m.Any {
			parts[i] = describeAll(&m.Any[i], rule)
		}
		return "(" + strings.Join(parts, " ∨ ") + ")"
	}
}

// oddness counts what makes a request class a poor example: no key or an
// allow-listed one, values in another casing than the rules write them
// (written: attribute → the values as written). An example of 0 is an
// ordinary request with the values as written.
func (p *point) oddness(written map[string]map[string]bool) int {
	n := 0
	if p.key != other {
		n++
	}
	for a, v := range p.attrs {
		if v != other && v != absent && !written[a][v] {
			n++
		}
	}
	return n
}

// writtenValues returns, per attribute, the values the rules' conditions
// write.
func writtenValues(rules []compiledRule) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == kAttr {
			if out[n.name] == nil {
				out[n.name] = map[string]bool{}
			}
			for v := range n.set {
				out[n.name][v] = true
			}
			for _, v := range n.values {
				out[n.name][v] = true
			}
		}
		for i := range n.children {
			walk(&n.children[i])
		}
	}
	for i := range rules {
		walk(&rules[i].node)
	}
	return out
}
