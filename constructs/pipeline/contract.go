package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/verify"
)

// The alarm contract. A gate watches alarms by name in an account and
// region; a service stack creates them. The names come from one value
// (Deployment.Alarms), and the pipeline also reads back what every service
// stage really creates, so that a gate watching an alarm no stack creates,
// or two stacks creating one alarm name in an account and region (the
// second stack's deployment would fail: alarm names are unique per account
// and region, see alarms.Names), is a synth error instead of a gate that
// passes forever or a deployment that fails.

// Place is an account and region.
type Place struct {
	Account, Region string
}

func (p Place) String() string { return p.Account + "/" + p.Region }

// CreatedAlarm is a named CloudWatch alarm a service stage creates.
type CreatedAlarm struct {
	// Place is where the alarm is created: its stack's account and region.
	Place
	// Name is the alarm name.
	Name string
	// Stack is the CloudFormation stack that creates it.
	Stack string
	// Stage is the pipeline stage that first deploys the stack.
	Stage string
	// Composite is true for a composite alarm.
	Composite bool
}

// WatchedAlarm is an alarm a gate watches: the pipeline checks, at synth,
// that a stack of the pipeline creates it in that account and region.
type WatchedAlarm struct {
	// Place is the alarm's account and region.
	Place
	// Name is the alarm name.
	Name string
	// Stage is the pipeline stage whose gate watches it.
	Stage string
	// Why says what watches it ("blocker", "bake", …), for messages.
	Why string
}

// alarmIndex is what every service stage of the pipeline creates, by
// account and region.
type alarmIndex struct {
	created map[Place]map[string]CreatedAlarm
	watched []WatchedAlarm
	errs    []error
	// ledgers are the two-phase ledgers each stage's stacks keep.
	ledgers map[string][]LedgerAt
}

// LedgerKeeper is a construct that keeps a two-phase ledger (package
// twophase): deploy's Lambda alias controller. The pipeline finds them in
// every service stage to gate activations.
type LedgerKeeper interface {
	LedgerParameter() string
}

// LedgerAt is a ledger and where it lives.
type LedgerAt struct {
	Place
	Parameter string
}

func newAlarmIndex() *alarmIndex {
	return &alarmIndex{created: map[Place]map[string]CreatedAlarm{}, ledgers: map[string][]LedgerAt{}}
}

// stageScan is what the pipeline learns of a service stage from its
// constructs before CDK Pipelines synthesizes it.
type stageScan struct {
	// stacks is the number of stacks CDK Pipelines will deploy (nested
	// stacks deploy with their parent).
	stacks int
	// nested are the stage's nested stacks, whose templates CDK writes as
	// file assets beside their parents'.
	nested []nestedTemplate
}

type nestedTemplate struct {
	file  string // the template file in the stage's assembly
	place Place
	stack string // its root stack's name, then the ids of the nested stacks down to it
}

// nestedName names a nested stack by the stack CloudFormation deploys it
// with: "<root stack name>/<id>/<id>".
func nestedName(n awscdk.NestedStack) string {
	name := *n.Node().Id()
	for p := n.NestedStackParent(); p != nil; {
		up, ok := p.(awscdk.NestedStack)
		if !ok {
			return *p.StackName() + "/" + name
		}
		name = *up.Node().Id() + "/" + name
		p = up.NestedStackParent()
	}
	return name
}

// addStage scans the constructs of st: its stacks and nested stacks, and
// the two-phase ledgers it keeps. The alarms come from the synthesized
// templates (addCreated), after wave.AddStage.
func (x *alarmIndex) addStage(st awscdk.Stage, stage string) stageScan {
	var scan stageScan
	concrete := func(s awscdk.Stack) (Place, bool) {
		if *awscdk.Token_IsUnresolved(s.Account()) || *awscdk.Token_IsUnresolved(s.Region()) {
			return Place{}, false
		}
		return Place{*s.Account(), *s.Region()}, true
	}
	for _, c := range *st.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		switch a := c.(type) {
		case awscdk.NestedStack:
			// A nested stack's account and region are its parent's.
			if p, ok := concrete(a); ok {
				scan.nested = append(scan.nested, nestedTemplate{file: *a.TemplateFile(), place: p, stack: nestedName(a)})
			}
		case awscdk.Stack:
			scan.stacks++
		case LedgerKeeper:
			if p, ok := concrete(awscdk.Stack_Of(c)); ok {
				x.ledgers[stage] = append(x.ledgers[stage], LedgerAt{p, a.LedgerParameter()})
			}
		}
	}
	return scan
}

// addCreated records the alarms the stage's stack templates create, nested
// stacks included, with their names as CloudFormation will create them:
// what the templates say, so a name an escape hatch overrides counts and
// the construct's original name does not. Alarms whose name is not a
// literal (unknown until deployment) and stacks without a concrete account
// and region are skipped: nothing can be checked against them.
//
// Reading the templates costs two jsii round trips per stage instead of
// three per alarm. wave.AddStage has synthesized the stage already (CDK
// Pipelines reads the stacks it deploys from the stage's assembly), so
// Synth returns that assembly; the options are the ones CDK Pipelines
// passes, so a stage synthesized here first is synthesized the same way.
func (x *alarmIndex) addCreated(st awscdk.Stage, stage string, scan stageScan) ([]*verify.Template, error) {
	dir := *st.Synth(&awscdk.StageSynthesisOptions{ValidateOnSynthesis: jsii.Bool(true)}).Directory()
	ca, err := verify.ReadAssembly(dir, nil)
	if err != nil {
		return nil, fmt.Errorf("pipeline: stage %s: reading the alarms its stacks create: %w", stage, err)
	}
	templates := ca.Templates
	for _, t := range ca.Templates {
		if t.Account != "" && t.Region != "" {
			x.addTemplate(t, Place{t.Account, t.Region}, t.StackName, stage)
		}
	}
	if len(scan.nested) == 0 {
		return templates, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("pipeline: stage %s: %w", stage, err)
	}
	defer root.Close()
	var errs []error
	for _, n := range scan.nested {
		t, err := readNested(root, n.file)
		if err != nil {
			errs = append(errs, fmt.Errorf("pipeline: stage %s: reading the alarms nested stack %s creates: %w", stage, n.stack, err))
			continue
		}
		x.addTemplate(t, n.place, n.stack, stage)
		templates = append(templates, t)
	}
	return templates, errors.Join(errs...)
}

// addTemplate records the named alarms of t, deployed as stack in place.
func (x *alarmIndex) addTemplate(t *verify.Template, place Place, stack, stage string) {
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		r := t.Resources[id]
		if r.Type != "AWS::CloudWatch::Alarm" && r.Type != "AWS::CloudWatch::CompositeAlarm" {
			continue
		}
		if name, ok := r.Properties["AlarmName"].(string); ok {
			x.add(CreatedAlarm{Place: place, Name: name, Stack: stack, Stage: stage, Composite: r.Type == "AWS::CloudWatch::CompositeAlarm"})
		}
	}
}

// readNested reads a nested stack's template inside the stage's assembly.
func readNested(root *os.Root, file string) (*verify.Template, error) {
	f, err := root.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return verify.ReadTemplate(f, file, nil)
}

func (x *alarmIndex) add(a CreatedAlarm) {
	byName := x.created[a.Place]
	if byName == nil {
		byName = map[string]CreatedAlarm{}
		x.created[a.Place] = byName
	}
	prev, ok := byName[a.Name]
	switch {
	case !ok:
		byName[a.Name] = a
	case prev.Stack != a.Stack:
		x.errs = append(x.errs, fmt.Errorf("pipeline: alarm %q is created by two stacks in account %s, region %s: %s (stage %s) and %s (stage %s); alarm names are unique per account and region, so the second deployment would fail (name alarms with Deployment.Alarms, which carries the environment and cell)",
			a.Name, a.Account, a.Region, prev.Stack, prev.Stage, a.Stack, a.Stage))
	}
}

// lookup returns the alarm a stack creates in place, if any.
func (x *alarmIndex) lookup(p Place, name string) (CreatedAlarm, bool) {
	a, ok := x.created[p][name]
	return a, ok
}

// check reports every watched alarm that no stack of its account and
// region creates — one error per alarm name, with every stage and place
// that watches it, since one naming mistake misses the alarm in every
// region (a line per stage and region buried the fix under hundreds) —
// and every collision, all at once.
func (x *alarmIndex) check() error {
	errs := append([]error(nil), x.errs...)
	type missing struct {
		whys   []string            // "entry gate", "bake", in order met
		stages map[string][]string // why → stages
		places []Place
		near   []string
	}
	var order []string
	miss := map[string]*missing{}
	seen := map[WatchedAlarm]bool{}
	for _, w := range x.watched {
		if seen[w] {
			continue
		}
		seen[w] = true
		if _, ok := x.lookup(w.Place, w.Name); ok {
			continue
		}
		m := miss[w.Name]
		if m == nil {
			m = &missing{stages: map[string][]string{}}
			miss[w.Name] = m
			order = append(order, w.Name)
		}
		if !slices.Contains(m.whys, w.Why) {
			m.whys = append(m.whys, w.Why)
		}
		if !slices.Contains(m.stages[w.Why], w.Stage) {
			m.stages[w.Why] = append(m.stages[w.Why], w.Stage)
		}
		if !slices.Contains(m.places, w.Place) {
			m.places = append(m.places, w.Place)
		}
		for _, p := range slices.SortedFunc(maps.Keys(x.created), func(a, b Place) int {
			return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region))
		}) {
			if p.Region == w.Region && p.Account != w.Account {
				if _, ok := x.created[p][w.Name]; ok {
					if n := fmt.Sprintf("it exists in account %s", p.Account); !slices.Contains(m.near, n) {
						m.near = append(m.near, n)
					}
				}
			}
		}
	}
	for _, name := range order {
		m := miss[name]
		var who []string
		for _, why := range m.whys {
			st := m.stages[why]
			who = append(who, fmt.Sprintf("the %s of stage%s %s", why, plural(len(st)), listSome(st, 6)))
		}
		byAccount := map[string][]string{}
		var accounts []string
		for _, p := range m.places {
			if _, ok := byAccount[p.Account]; !ok {
				accounts = append(accounts, p.Account)
			}
			byAccount[p.Account] = append(byAccount[p.Account], p.Region)
		}
		var where []string
		for _, a := range accounts {
			where = append(where, fmt.Sprintf("account %s, region%s %s", a, plural(len(byAccount[a])), listSome(byAccount[a], 6)))
		}
		hint := "create it in the service stack with alarms.NewRollbackAlarms and Deployment.Alarms, or declare it external"
		if like := x.alike(name, m.places); len(like) > 0 {
			hint = fmt.Sprintf("the stacks there create %s (a name typed twice? take the names from Deployment.Alarms); ", listSome(like, 3)) + hint
		}
		if len(m.near) > 0 {
			hint = strings.Join(m.near, ", ") + "; " + hint
		}
		errs = append(errs, fmt.Errorf("pipeline: alarm %q: %s watch%s it in %s, and no stack of the pipeline creates it there: %s",
			name, strings.Join(who, " and "), map[bool]string{true: "", false: "es"}[len(who) > 1 || len(m.stages[m.whys[0]]) > 1], strings.Join(where, "; "), hint))
	}
	return errors.Join(errs...)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// listSome lists at most max items, then how many more.
func listSome(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

// alike lists, quoted, the alarms created in any of places whose names are
// within a few edits of name (a team or environment misspelt) or end as it
// does after its team part (another team name), closest first.
func (x *alarmIndex) alike(name string, places []Place) []string {
	type near struct {
		name string
		d    int
	}
	var found []near
	seen := map[string]bool{}
	for _, p := range places {
		for created := range x.created[p] {
			if seen[created] {
				continue
			}
			seen[created] = true
			if d := editDistance(name, created, 3); d <= 3 {
				found = append(found, near{created, d})
			} else if _, rest, ok := strings.Cut(name, "-"); ok && strings.HasSuffix(created, "-"+rest) {
				// The same alarm under another team name.
				found = append(found, near{created, 4})
			}
		}
	}
	slices.SortFunc(found, func(a, b near) int { return cmp.Or(cmp.Compare(a.d, b.d), strings.Compare(a.name, b.name)) })
	var out []string
	for _, f := range found {
		out = append(out, strconv.Quote(f.name))
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, or limit+1 once it
// is over limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
