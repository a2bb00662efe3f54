package waves

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/safepipe/safepipe/internal/strict"
)

// PolicyKind names how regions are grouped into waves.
type PolicyKind string

// The wave policies.
const (
	// PolicyAmazon is the shape of the design digest: wave 1 is one
	// low-traffic region, wave 2 one high-traffic region, then waves of 3
	// and 12 regions, then the rest.
	PolicyAmazon PolicyKind = "amazon"
	// PolicyDoubling deploys to 1, 2, 4, 8, … regions; the last wave takes
	// the rest.
	PolicyDoubling PolicyKind = "doubling"
	// PolicyExplicit deploys to the waves the team lists in Policy.Waves.
	PolicyExplicit PolicyKind = "explicit"
)

// Shape says how a service takes a change inside a region.
type Shape string

// The service shapes.
const (
	// ShapeZonal services deploy one AZ per region per step, after a one-box.
	ShapeZonal Shape = "zonal"
	// ShapeRegional services (e.g. Lambda) deploy a region in one step, after
	// a one-box step that sends a small share of traffic to the new version.
	ShapeRegional Shape = "regional"
)

// Bake floors from the design digest. A bake below its floor is an error
// unless the policy is expedited (Policy.ExpediteReason).
const (
	FloorOneBox    = time.Hour
	FloorZonal     = 30 * time.Minute
	FloorFirstWave = 12 * time.Hour
	FloorLaterWave = 2 * time.Hour
)

// MaxStageDuration is the longest bake, and the longest deploy estimate,
// of one stage: 86400 minutes (60 days), the longest a CodePipeline rule
// may run ("timeoutInMinutes … Valid Range: Minimum value of 5. Maximum
// value of 86400.",
// https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleDeclaration.html)
// and the longest configurable action timeout (manual approval, "up to
// 86400 minutes (60 days)",
// https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
// The docs give no maximum for a CloudWatchAlarm rule's WaitTime; a bake
// longer than its rule may run is not one we can promise.
const MaxStageDuration = 86400 * time.Minute

// Limits of a policy.
const (
	// MaxPolicyBytes is the largest policy file read.
	MaxPolicyBytes = 1 << 20
	// MaxHolidays is the most holidays a window may list: a hundred years
	// of ten holidays a year.
	MaxHolidays = 1000
)

var policyLimits = strict.Limits{MaxBytes: MaxPolicyBytes, MaxDepth: 8}

// Bakes are the bake times a stage waits, watching its alarms, before the
// pipeline promotes the change. A zero field takes its default.
type Bakes struct {
	// OneBox is the bake after each one-box step. Default: 1h (floor 1h).
	OneBox time.Duration
	// Zonal is the bake after each zonal step that is not the last of its
	// wave. Default: 1h (floor 30m).
	Zonal time.Duration
	// FirstWave is the bake after the last step of wave 1. Default: 12h
	// (floor 12h).
	FirstWave time.Duration
	// LaterWaves is the bake after the last step of every later wave.
	// Default: 2h (floor 2h).
	LaterWaves time.Duration
}

// Policy says which regions a pipeline deploys to, in which waves, how a
// region takes the change, and how long each step bakes. The zero value is
// the amazon policy over every non-opt-in region of the "aws" partition.
type Policy struct {
	// Kind groups regions into waves. Default: PolicyAmazon.
	Kind PolicyKind
	// Waves lists the regions of each wave, for PolicyExplicit only.
	// Default: none.
	Waves [][]string
	// Partition limits the plan to one AWS partition. Default: "aws".
	Partition string
	// Exclude lists region codes the pipeline never deploys to. Default: none.
	Exclude []string
	// Pin places a region in a wave (1-based), overriding the policy's
	// choice. Default: none.
	Pin map[string]int
	// OptIn lists the opt-in regions to include; opt-in regions not listed
	// are left out. "*" includes every opt-in region. Default: none.
	OptIn []string
	// Shape says how a region takes the change. Default: ShapeZonal.
	Shape Shape
	// Bakes are the bake times per step. Default: see Bakes.
	Bakes Bakes
	// MinDatapoints is the minimum number of datapoints (e.g. requests) a
	// stage's regions must each see before promotion. Default: 100.
	MinDatapoints int
	// ActionsPerTarget is the number of CodePipeline actions one target
	// needs in a stage (CDK Pipelines: prepare and deploy per stack, plus
	// gates). Default: 2.
	ActionsPerTarget int
	// ActionsPerStage is the number of actions every production stage needs
	// besides its targets' (e.g. a post-deployment check). Default: 0.
	ActionsPerStage int
	// ReservedStages is the number of pipeline stages that are not
	// production stages (source, build, pre-production, self-mutation,
	// assets); they count against the 50-stage limit. Default: 0.
	ReservedStages int
	// Window is when production stages may start. Default: see Window.
	Window Window
	// ExpediteReason, when set, marks the change as expedited: bakes may be
	// shorter than their floors. Every stage and every alarm still runs.
	// Default: "" (not expedited).
	ExpediteReason string
	// RequiredServices are the services (endpoint names, Region.Services)
	// every region of the plan must offer; a region whose catalog entry
	// does not list one lacks it. The pipeline construct adds
	// PipelineServices and what the service's shape needs. Default: none.
	RequiredServices []string
	// LackingServices is what the planner does with a region that lacks a
	// required service: LackingRefuse (an error naming the region and the
	// services) or LackingExclude (left out, listed in
	// Plan.LackingServices). A region a policy names itself (waves, pin,
	// optIn by code) is always refused. Default: LackingRefuse.
	LackingServices LackingAction
}

// LackingAction is what the planner does with a region that lacks a
// required service.
type LackingAction string

// The actions.
const (
	LackingRefuse  LackingAction = "refuse"
	LackingExclude LackingAction = "exclude"
)

// ReferencePolicy is the policy of the reference service: the amazon policy
// over every region of the catalog, opt-in regions included, for a service
// of the given shape.
func ReferencePolicy(shape Shape) Policy {
	return Policy{Kind: PolicyAmazon, OptIn: []string{"*"}, Shape: shape,
		RequiredServices: slices.Clone(PipelineServices), LackingServices: LackingExclude}
}

// withDefaults returns a copy of p with every zero field defaulted. It never
// touches the caller's slices or maps.
func (p Policy) withDefaults() Policy {
	q := p
	if q.Kind == "" {
		q.Kind = PolicyAmazon
	}
	if q.Partition == "" {
		q.Partition = "aws"
	}
	if q.Shape == "" {
		q.Shape = ShapeZonal
	}
	if q.Bakes.OneBox == 0 {
		q.Bakes.OneBox = time.Hour
	}
	if q.Bakes.Zonal == 0 {
		q.Bakes.Zonal = time.Hour
	}
	if q.Bakes.FirstWave == 0 {
		q.Bakes.FirstWave = 12 * time.Hour
	}
	if q.Bakes.LaterWaves == 0 {
		q.Bakes.LaterWaves = 2 * time.Hour
	}
	if q.MinDatapoints == 0 {
		q.MinDatapoints = 100
	}
	if q.ActionsPerTarget == 0 {
		q.ActionsPerTarget = 2
	}
	if q.LackingServices == "" {
		q.LackingServices = LackingRefuse
	}
	q.RequiredServices = slices.Compact(slices.Sorted(slices.Values(q.RequiredServices)))
	q.Window = q.Window.withDefaults()
	return q
}

// validate checks a defaulted policy against the catalog and returns every
// problem at once.
func (p Policy) validate(c *Catalog) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch p.Kind {
	case PolicyAmazon, PolicyDoubling:
		if len(p.Waves) > 0 {
			add("policy: waves is set but kind is %q (waves is only for kind %q)", p.Kind, PolicyExplicit)
		}
	case PolicyExplicit:
		if len(p.Waves) == 0 {
			add("policy: kind is %q but waves is empty", p.Kind)
		}
	default:
		add("policy: kind %q is unknown (want amazon, doubling or explicit)", p.Kind)
	}
	switch p.Shape {
	case ShapeZonal, ShapeRegional:
	default:
		add("policy: shape %q is unknown (want zonal or regional)", p.Shape)
	}
	known := func(field, code string) bool {
		r, ok := c.Region(code)
		if !ok {
			add("policy: %s: region %q is not in the catalog (version %s)", field, code, c.Version)
			return false
		}
		if r.Partition != p.Partition {
			add("policy: %s: region %q is in partition %q, not %q", field, code, r.Partition, p.Partition)
			return false
		}
		return true
	}
	excluded := map[string]bool{}
	for _, code := range p.Exclude {
		if excluded[code] {
			add("policy: exclude: region %q is listed twice", code)
		}
		excluded[code] = true
		known("exclude", code)
	}
	for _, code := range slices.Sorted(maps.Keys(p.Pin)) {
		w := p.Pin[code]
		if known("pin", code) && excluded[code] {
			add("policy: pin: region %q is pinned to wave %d but also excluded", code, w)
		}
		if w < 1 {
			add("policy: pin: region %q has wave %d (waves are numbered from 1)", code, w)
		}
		if p.Kind == PolicyExplicit {
			add("policy: pin: region %q is pinned, but kind %q places every region itself", code, p.Kind)
		}
	}
	for _, code := range p.OptIn {
		if code != "*" {
			if known("optIn", code) {
				if r, _ := c.Region(code); !r.OptIn {
					add("policy: optIn: region %q is not an opt-in region", code)
				}
			}
		}
	}
	seen := map[string]int{}
	for i, wave := range p.Waves {
		if len(wave) == 0 {
			add("policy: waves[%d] is empty", i)
		}
		for _, code := range wave {
			if j, dup := seen[code]; dup {
				add("policy: waves[%d]: region %q is already in waves[%d]", i, code, j)
				continue
			}
			seen[code] = i
			if known(fmt.Sprintf("waves[%d]", i), code) && excluded[code] {
				add("policy: waves[%d]: region %q is excluded", i, code)
			}
		}
	}
	if len(p.Waves) > 0 && len(p.Waves[0]) > 1 {
		add("policy: waves[0] has %d regions; the first wave must be a single region", len(p.Waves[0]))
	}
	floors := []struct {
		name  string
		value time.Duration
		floor time.Duration
	}{
		{"bakes.oneBox", p.Bakes.OneBox, FloorOneBox},
		{"bakes.zonal", p.Bakes.Zonal, FloorZonal},
		{"bakes.firstWave", p.Bakes.FirstWave, FloorFirstWave},
		{"bakes.laterWaves", p.Bakes.LaterWaves, FloorLaterWave},
	}
	for _, f := range floors {
		switch {
		case f.value < 0:
			add("policy: %s is %s; a bake cannot be negative", f.name, f.value)
		case f.value > MaxStageDuration:
			add("policy: %s is %s, over the limit of %s (86400 minutes, the longest a CodePipeline rule may run)", f.name, f.value, MaxStageDuration)
		case f.value < f.floor && strings.TrimSpace(p.ExpediteReason) == "":
			add("policy: %s is %s, below the floor of %s (set expediteReason to ship an expedited change)", f.name, f.value, f.floor)
		}
	}
	if p.MinDatapoints < 0 {
		add("policy: minDatapoints is %d; it cannot be negative", p.MinDatapoints)
	}
	// Ranges before arithmetic: targets × actionsPerTarget + actionsPerStage
	// and stages + reservedStages must not wrap around.
	switch {
	case p.ActionsPerTarget < 1:
		add("policy: actionsPerTarget is %d; a target needs at least one action", p.ActionsPerTarget)
	case p.ActionsPerTarget > MaxActionsPerStage:
		add("policy: actionsPerTarget is %d, over the limit of %d (CodePipeline's actions per stage)", p.ActionsPerTarget, MaxActionsPerStage)
	}
	switch {
	case p.ActionsPerStage < 0:
		add("policy: actionsPerStage is %d; it cannot be negative", p.ActionsPerStage)
	case p.ActionsPerStage > MaxActionsPerStage-1:
		add("policy: actionsPerStage is %d, over the limit of %d (CodePipeline's %d actions per stage, less one for a target)", p.ActionsPerStage, MaxActionsPerStage-1, MaxActionsPerStage)
	}
	if p.ActionsPerTarget >= 1 && p.ActionsPerTarget <= MaxActionsPerStage && p.ActionsPerStage >= 0 && p.ActionsPerStage < MaxActionsPerStage {
		if need := p.ActionsPerTarget + p.ActionsPerStage; need > MaxActionsPerStage {
			add("policy: one target needs %d actions (actionsPerTarget %d + actionsPerStage %d), over the CodePipeline limit of %d actions per stage by %d",
				need, p.ActionsPerTarget, p.ActionsPerStage, MaxActionsPerStage, need-MaxActionsPerStage)
		}
	}
	switch {
	case p.ReservedStages < 0:
		add("policy: reservedStages is %d; it cannot be negative", p.ReservedStages)
	case p.ReservedStages > MaxStages-1:
		add("policy: reservedStages is %d, over the limit of %d (a pipeline has at most %d stages, one of them at least production)", p.ReservedStages, MaxStages-1, MaxStages)
	}
	if err := p.Window.validate(); err != nil {
		errs = append(errs, err)
	}
	switch p.LackingServices {
	case LackingRefuse, LackingExclude:
	default:
		add("policy: lackingServices %q is unknown (want refuse or exclude)", p.LackingServices)
	}
	for _, svc := range p.RequiredServices {
		switch {
		case !ServiceNameRE.MatchString(svc):
			add("policy: requiredServices: %q is not a service's endpoint name (%s)", svc, ServiceNameRE)
		case !slices.ContainsFunc(c.Regions, func(r Region) bool { return r.Offers(svc) }):
			// No region offers it: the catalog does not track it (or
			// lists no services), and every region would lack it.
			add("policy: requiredServices: no region of catalog %s lists %q (services from %q): the catalog does not track it; list it in the regions' services (the embedded catalog's are in safepipe regions --format json)", c.Version, svc, c.ServicesSource)
		}
	}
	return errors.Join(errs...)
}

// policyFile is the JSON form of a Policy: durations in minutes, weekdays as
// three-letter names.
type policyFile struct {
	Kind             PolicyKind     `json:"kind"`
	Waves            [][]string     `json:"waves"`
	Partition        string         `json:"partition"`
	Exclude          []string       `json:"exclude"`
	Pin              map[string]int `json:"pin"`
	OptIn            []string       `json:"optIn"`
	Shape            Shape          `json:"shape"`
	Bakes            bakesFile      `json:"bakes"`
	MinDatapoints    int            `json:"minDatapoints"`
	ActionsPerTarget int            `json:"actionsPerTarget"`
	ActionsPerStage  int            `json:"actionsPerStage"`
	ReservedStages   int            `json:"reservedStages"`
	Window           windowFile     `json:"window"`
	ExpediteReason   string         `json:"expediteReason"`
	RequiredServices []string       `json:"requiredServices"`
	LackingServices  LackingAction  `json:"lackingServices"`
}

type bakesFile struct {
	OneBoxMinutes     int `json:"oneBoxMinutes"`
	ZonalMinutes      int `json:"zonalMinutes"`
	FirstWaveMinutes  int `json:"firstWaveMinutes"`
	LaterWavesMinutes int `json:"laterWavesMinutes"`
}

type windowFile struct {
	TimeZone  string   `json:"timeZone"`
	Days      []string `json:"days"`
	StartHour int      `json:"startHour"`
	EndHour   int      `json:"endHour"`
	Holidays  []string `json:"holidays"`
}

// ParsePolicy decodes a policy from JSON. Bakes are given in minutes
// ("bakes": {"oneBoxMinutes": 60}, 0 to 86400), window days as
// "MON".."SUN". The JSON is read as strictly as a catalog (see
// ParseCatalog), at most MaxPolicyBytes. The policy is validated against
// a catalog when it is planned.
func ParsePolicy(data []byte) (Policy, error) {
	var f policyFile
	if err := strict.JSON(data, &f, policyLimits); err != nil {
		return Policy{}, prefixEach("policy: ", "", err)
	}
	var errs []error
	// Minutes are range-checked before they are multiplied: 307446455
	// minutes times time.Minute wraps around to 720 minutes.
	minutes := func(name string, m int) time.Duration {
		switch {
		case m < 0:
			errs = append(errs, fmt.Errorf("policy: bakes.%s is %d; a bake cannot be negative", name, m))
		case m > int(MaxStageDuration/time.Minute):
			errs = append(errs, fmt.Errorf("policy: bakes.%s is %d, over the limit of %d minutes (60 days, the longest a CodePipeline rule may run)", name, m, int(MaxStageDuration/time.Minute)))
		default:
			return time.Duration(m) * time.Minute
		}
		return 0
	}
	bakes := Bakes{
		OneBox:     minutes("oneBoxMinutes", f.Bakes.OneBoxMinutes),
		Zonal:      minutes("zonalMinutes", f.Bakes.ZonalMinutes),
		FirstWave:  minutes("firstWaveMinutes", f.Bakes.FirstWaveMinutes),
		LaterWaves: minutes("laterWavesMinutes", f.Bakes.LaterWavesMinutes),
	}
	p := Policy{
		Kind: f.Kind, Waves: f.Waves, Partition: f.Partition, Exclude: f.Exclude, Pin: f.Pin,
		OptIn: f.OptIn, Shape: f.Shape, MinDatapoints: f.MinDatapoints,
		ActionsPerTarget: f.ActionsPerTarget, ActionsPerStage: f.ActionsPerStage,
		ReservedStages: f.ReservedStages, ExpediteReason: f.ExpediteReason,
		RequiredServices: f.RequiredServices, LackingServices: f.LackingServices,
		Bakes:  bakes,
		Window: Window{TimeZone: f.Window.TimeZone, Holidays: f.Window.Holidays, StartHour: f.Window.StartHour, EndHour: f.Window.EndHour},
	}
	for _, d := range f.Window.Days {
		wd, ok := parseWeekday(d)
		if !ok {
			errs = append(errs, fmt.Errorf("policy: window.days: %q is not a weekday (want MON, TUE, …, SUN)", d))
			continue
		}
		p.Window.Days = append(p.Window.Days, wd)
	}
	if err := errors.Join(errs...); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// LoadPolicyFile reads a policy file (JSON), at most MaxPolicyBytes; see
// ParsePolicy.
func LoadPolicyFile(path string) (Policy, error) {
	b, err := readFile(path, MaxPolicyBytes)
	if err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return Policy{}, prefixEach("policy "+path+": ", "policy: ", err)
	}
	return p, nil
}
