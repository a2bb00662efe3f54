package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
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

// addStage records the named alarms of every stack in st, deployed by
// pipeline stage stage, and returns the number of stacks CDK Pipelines
// will deploy (nested stacks deploy with their parent). Alarms whose name
// is a token (unknown at synth) are skipped: nothing can be checked
// against them.
func (x *alarmIndex) addStage(st awscdk.Stage, stage string) (stacks int) {
	type stackInfo struct {
		place Place
		name  string
	}
	// By stack: jsii hands back the same Go value for the same JavaScript
	// object, so the value is the key, and each alarm costs one Stack.of
	// round trip instead of three (Stack.of, node, path). A stack type of
	// the team's that cannot be a map key is looked up every time.
	byStack := map[awscdk.Stack]stackInfo{}
	info := func(c constructs.IConstruct) (stackInfo, bool) {
		s := awscdk.Stack_Of(c)
		key := reflect.TypeOf(s).Comparable()
		if key {
			if si, ok := byStack[s]; ok {
				return si, si.name != ""
			}
		}
		si := stackInfo{}
		if !*awscdk.Token_IsUnresolved(s.Account()) && !*awscdk.Token_IsUnresolved(s.Region()) {
			si = stackInfo{place: Place{*s.Account(), *s.Region()}, name: *s.StackName()}
		}
		if key {
			byStack[s] = si
		}
		return si, si.name != ""
	}
	for _, c := range *st.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		var name *string
		composite := false
		switch a := c.(type) {
		case awscdk.NestedStack:
			continue
		case awscdk.Stack:
			stacks++
			continue
		case awscloudwatch.CfnAlarm:
			name = a.AlarmName()
		case awscloudwatch.CfnCompositeAlarm:
			name, composite = a.AlarmName(), true
		case LedgerKeeper:
			if si, ok := info(c); ok {
				x.ledgers[stage] = append(x.ledgers[stage], LedgerAt{si.place, a.LedgerParameter()})
			}
			continue
		default:
			continue
		}
		if name == nil || *awscdk.Token_IsUnresolved(name) {
			continue
		}
		si, ok := info(c)
		if !ok {
			continue
		}
		x.add(CreatedAlarm{Place: si.place, Name: *name, Stack: si.name, Stage: stage, Composite: composite})
	}
	return stacks
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
// region creates, and every collision, all at once.
func (x *alarmIndex) check() error {
	errs := append([]error(nil), x.errs...)
	seen := map[WatchedAlarm]bool{}
	for _, w := range x.watched {
		if seen[w] {
			continue
		}
		seen[w] = true
		if _, ok := x.lookup(w.Place, w.Name); ok {
			continue
		}
		var near []string
		for _, p := range slices.SortedFunc(maps.Keys(x.created), func(a, b Place) int {
			return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region))
		}) {
			if p.Region == w.Region && p.Account != w.Account {
				if _, ok := x.created[p][w.Name]; ok {
					near = append(near, fmt.Sprintf("it exists in account %s", p.Account))
				}
			}
		}
		hint := "create it in the service stack with alarms.NewRollbackAlarms and Deployment.Alarms, or declare it external"
		if len(near) > 0 {
			hint = strings.Join(near, ", ") + "; " + hint
		}
		errs = append(errs, fmt.Errorf("pipeline: stage %s: the %s watches alarm %q in account %s, region %s, and no stack of the pipeline creates it there (%s)",
			w.Stage, w.Why, w.Name, w.Account, w.Region, hint))
	}
	return errors.Join(errs...)
}
