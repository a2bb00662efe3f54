package waves

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// CodePipeline limits the plan respects.
const (
	MaxStages          = 50
	MaxActionsPerStage = 50
)

// StageKind says what a production stage does in each of its regions.
type StageKind string

// The stage kinds.
const (
	KindOneBox   StageKind = "one-box"
	KindZonal    StageKind = "zonal"
	KindRegional StageKind = "regional"
)

// Target is one place a stage deploys to: a region, and for zonal and
// one-box steps of zonal services the AZ ID.
type Target struct {
	// Region is the region code.
	Region string `json:"region"`
	// AZ is the AZ ID, or "" for a regional target.
	AZ string `json:"az"`
	// OneBox is true for the one-box target of a region.
	OneBox bool `json:"oneBox"`
}

// ID is a stable identifier of the target, usable in construct IDs:
// "us-east-1", "us-east-1-use1-az2" or "us-east-1-onebox".
func (t Target) ID() string {
	switch {
	case t.OneBox:
		return t.Region + "-onebox"
	case t.AZ != "":
		return t.Region + "-" + t.AZ
	}
	return t.Region
}

// Wave is a group of regions that take a change together, one step at a time.
type Wave struct {
	// Number is the wave's 1-based position.
	Number int `json:"number"`
	// Name is "W1", "W2", ….
	Name string `json:"name"`
	// Regions are the wave's region codes, sorted.
	Regions []string `json:"regions"`
}

// Stage is one production pipeline stage: a step of a wave, deployed to
// every target in parallel, then baked.
type Stage struct {
	// Name is the pipeline stage name, e.g. "Prod-W1-OneBox", "Prod-W2-Z3",
	// "Prod-W3-Regional"; a stage split to respect the action limit gets a
	// part suffix ("Prod-W5-Z1-P2").
	Name string `json:"name"`
	// Wave is the 1-based wave number.
	Wave int `json:"wave"`
	// Kind is one-box, zonal or regional.
	Kind StageKind `json:"kind"`
	// Step is the AZ position for zonal stages (1-based), else 0.
	Step int `json:"step"`
	// Targets are deployed in parallel, at most one per region.
	Targets []Target `json:"targets"`
	// Bake is how long the stage watches its alarms before promotion.
	Bake time.Duration `json:"-"`
	// BakeMinutes is Bake in minutes, for JSON.
	BakeMinutes int `json:"bakeMinutes"`
	// MinDatapoints is the traffic each region must see before promotion.
	MinDatapoints int `json:"minDatapoints"`
	// Actions is the number of CodePipeline actions the stage needs.
	Actions int `json:"actions"`
	// LastOfWave is true for the last stage of its wave.
	LastOfWave bool `json:"lastOfWave"`
	// Watch are the targets the stage's bake watches: its own targets and,
	// for the last part of a split stage, every earlier part's too, so
	// that every region of the step bakes for the step's full bake.
	Watch []Target `json:"watch"`
}

// Regions returns the stage's region codes, in target order.
func (s Stage) Regions() []string {
	out := make([]string, len(s.Targets))
	for i, t := range s.Targets {
		out[i] = t.Region
	}
	return out
}

// Plan is the result of planning: the waves, and the production stages in
// pipeline order.
type Plan struct {
	// CatalogVersion is the version of the catalog planned from.
	CatalogVersion string `json:"catalogVersion"`
	// Policy is the policy kind.
	Policy PolicyKind `json:"policy"`
	// Shape is the service shape.
	Shape Shape `json:"shape"`
	// Waves in order.
	Waves []Wave `json:"waves"`
	// Stages in pipeline order.
	Stages []Stage `json:"stages"`
	// Window is the deployment window, defaulted.
	Window Window `json:"-"`
	// ExpediteReason is non-empty for an expedited change.
	ExpediteReason string `json:"expediteReason,omitempty"`
	// ReservedStages are the non-production stages counted against the limit.
	ReservedStages int `json:"reservedStages"`
	// NotOptedIn are the catalog's opt-in regions of the partition that the
	// policy leaves out because it does not opt into them (Policy.OptIn),
	// sorted; excluded regions are not listed. Empty for an explicit policy.
	NotOptedIn []string `json:"notOptedIn,omitempty"`
	// LackingServices are the regions the policy left out because they
	// lack a required service (Policy.LackingServices: exclude), each with
	// the services it lacks.
	LackingServices map[string][]string `json:"lackingServices,omitempty"`
}

// Regions returns every region of the plan, in wave order.
func (p *Plan) Regions() []string {
	var out []string
	for _, w := range p.Waves {
		out = append(out, w.Regions...)
	}
	return out
}

// NewPlan plans a policy over a catalog. It never mutates its inputs. The
// error joins every problem in the policy, or names the limit a plan would
// exceed and by how much.
func NewPlan(c *Catalog, policy Policy) (*Plan, error) {
	if c == nil {
		return nil, errors.New("plan: catalog is nil")
	}
	// A catalog built by hand has not been through ParseCatalog.
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := policy.withDefaults()
	if err := p.validate(c); err != nil {
		return nil, err
	}
	waves, err := groupWaves(c, p)
	if err != nil {
		return nil, err
	}
	// Every region of the plan offers what the pipeline needs there:
	// excluded ones never reach here, so what lacks a service now is
	// refused, naming it.
	var lacking []error
	for _, w := range waves {
		for _, code := range w.Regions {
			r, _ := c.Region(code)
			if miss := r.Lacks(p.RequiredServices); len(miss) > 0 {
				lacking = append(lacking, fmt.Errorf("plan: region %s lacks %s, which the pipeline needs there (catalog %s, services from %q); exclude it (policy exclude), or let the policy exclude such regions (lackingServices: exclude)",
					code, strings.Join(miss, ", "), c.Version, c.ServicesSource))
			}
		}
	}
	if err := errors.Join(lacking...); err != nil {
		return nil, err
	}
	// Count the stages before making them, so that a plan far over the
	// limit costs arithmetic, not memory. (Validate bounds the counts, so
	// nothing here overflows.)
	stages := 0
	for _, w := range waves {
		stages += stageCount(c, p, w)
	}
	if n := stages + p.ReservedStages; n > MaxStages {
		return nil, fmt.Errorf("plan: %d production stages + %d reserved stages = %d, over the CodePipeline limit of %d stages by %d (use fewer waves, a regional shape, or fewer pre-production stages)",
			stages, p.ReservedStages, n, MaxStages, n-MaxStages)
	}
	plan := &Plan{
		CatalogVersion: c.Version, Policy: p.Kind, Shape: p.Shape, Waves: waves,
		Window: p.Window, ExpediteReason: p.ExpediteReason, ReservedStages: p.ReservedStages,
	}
	for _, w := range waves {
		plan.Stages = append(plan.Stages, waveStages(c, p, w)...)
	}
	if p.Kind != PolicyExplicit {
		plan.NotOptedIn = notOptedIn(c, p)
		plan.LackingServices = lackingServices(c, p)
	}
	return plan, nil
}

// waveSteps returns, for each step of a wave in order, its number of
// targets: the one-box step, then each AZ step (zonal) or the regional step.
func waveSteps(c *Catalog, p Policy, w Wave) []int {
	steps := []int{len(w.Regions)}
	if p.Shape == ShapeRegional {
		return append(steps, len(w.Regions))
	}
	for _, code := range w.Regions {
		r, _ := c.Region(code)
		for i := range r.AZs { // step i+1 has a target in every region with more than i AZs
			if i+1 == len(steps) {
				steps = append(steps, 0)
			}
			steps[i+1]++
		}
	}
	return steps
}

// stageCount is the number of stages waveStages makes for w.
func stageCount(c *Catalog, p Policy, w Wave) int {
	n := 0
	for _, targets := range waveSteps(c, p, w) {
		n += partsOf(targets, p)
	}
	return n
}

// perPart is how many targets fit in one stage beside the stage's own
// actions; validate guarantees at least one.
func perPart(p Policy) int {
	return (MaxActionsPerStage - p.ActionsPerStage) / p.ActionsPerTarget
}

// partsOf is the number of stages a step of n targets is split into.
func partsOf(n int, p Policy) int {
	if n*p.ActionsPerTarget+p.ActionsPerStage <= MaxActionsPerStage {
		return 1
	}
	return (n + perPart(p) - 1) / perPart(p)
}

// eligible returns the regions the policy may deploy to, sorted by code:
// with lackingServices exclude, not those that lack a required service,
// unless the policy names them (pin, optIn by code), which NewPlan then
// refuses.
func eligible(c *Catalog, p Policy) []Region {
	excluded := toSet(p.Exclude)
	optIn := toSet(p.OptIn)
	var out []Region
	for _, r := range c.Regions {
		if r.Partition != p.Partition || excluded[r.Code] {
			continue
		}
		if r.OptIn && !optIn["*"] && !optIn[r.Code] {
			continue
		}
		if _, pinned := p.Pin[r.Code]; p.LackingServices == LackingExclude && len(r.Lacks(p.RequiredServices)) > 0 && !pinned && !optIn[r.Code] {
			continue
		}
		out = append(out, r)
	}
	return out
}

// lackingServices returns the regions eligible would take but for a
// required service they lack, with the services (exclude only).
func lackingServices(c *Catalog, p Policy) map[string][]string {
	if p.LackingServices != LackingExclude {
		return nil
	}
	in := map[string]bool{}
	for _, r := range eligible(c, p) {
		in[r.Code] = true
	}
	q := p
	q.LackingServices = LackingRefuse
	var out map[string][]string
	for _, r := range eligible(c, q) {
		if !in[r.Code] {
			if out == nil {
				out = map[string][]string{}
			}
			out[r.Code] = r.Lacks(p.RequiredServices)
		}
	}
	return out
}

// notOptedIn returns the opt-in regions of the policy's partition that it
// neither opts into nor excludes, sorted by code.
func notOptedIn(c *Catalog, p Policy) []string {
	excluded, optIn := toSet(p.Exclude), toSet(p.OptIn)
	var out []string
	for _, r := range c.Regions {
		if r.Partition == p.Partition && r.OptIn && !excluded[r.Code] && !optIn["*"] && !optIn[r.Code] {
			out = append(out, r.Code)
		}
	}
	slices.Sort(out)
	return out
}

func toSet(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// Doubling returns the sizes of doubling batches over n items: 1, 2, 4, 8,
// …, the last batch taking the rest; ⌈log2(n+1)⌉ batches in all.
func Doubling(n int) []int {
	var sizes []int
	for size := 1; n > 0; size *= 2 {
		if size > n {
			size = n
		}
		sizes = append(sizes, size)
		n -= size
	}
	return sizes
}

func groupWaves(c *Catalog, p Policy) ([]Wave, error) {
	var groups [][]string
	switch p.Kind {
	case PolicyExplicit:
		for _, w := range p.Waves {
			groups = append(groups, append([]string(nil), w...))
		}
	default:
		pool := eligible(c, p)
		if len(pool) == 0 {
			return nil, fmt.Errorf("plan: no region left to deploy to (partition %q, %d excluded, opt-in regions %v)", p.Partition, len(p.Exclude), p.OptIn)
		}
		// Least traffic first; ties by code, so the plan is deterministic.
		sort.SliceStable(pool, func(i, j int) bool {
			if a, b := pool[i].Tier.rank(), pool[j].Tier.rank(); a != b {
				return a < b
			}
			return pool[i].Code < pool[j].Code
		})
		var sizes []int
		if p.Kind == PolicyAmazon {
			sizes = amazonSizes(len(pool))
		} else {
			sizes = Doubling(len(pool))
		}
		var err error
		groups, err = fill(pool, sizes, p)
		if err != nil {
			return nil, err
		}
	}
	var out []Wave
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		sort.Strings(g)
		out = append(out, Wave{Number: len(out) + 1, Name: fmt.Sprintf("W%d", len(out)+1), Regions: g})
	}
	if len(out) == 0 {
		return nil, errors.New("plan: no region left to deploy to")
	}
	return out, nil
}

// amazonSizes is 1, 1, 3, 12, then the rest.
func amazonSizes(n int) []int {
	var sizes []int
	for _, s := range []int{1, 1, 3, 12} {
		if n <= 0 {
			break
		}
		s = min(s, n)
		sizes = append(sizes, s)
		n -= s
	}
	if n > 0 {
		sizes = append(sizes, n)
	}
	return sizes
}

// fill places the pool, sorted least traffic first, into waves of the given
// sizes. Pinned regions go to their wave first. For the amazon policy, wave 1
// takes the first low-traffic region and wave 2 the first high-traffic one.
func fill(pool []Region, sizes []int, p Policy) ([][]string, error) {
	groups := make([][]string, len(sizes))
	var errs []error
	used := map[string]bool{}
	for _, code := range slices.Sorted(maps.Keys(p.Pin)) {
		w := p.Pin[code]
		if w > len(sizes) {
			errs = append(errs, fmt.Errorf("policy: pin: region %q is pinned to wave %d, but the %s policy makes %d waves here", code, w, p.Kind, len(sizes)))
			continue
		}
		inPool := false
		for _, r := range pool {
			inPool = inPool || r.Code == code
		}
		if !inPool {
			errs = append(errs, fmt.Errorf("policy: pin: region %q is not deployed to (opt-in region not listed in optIn?)", code))
			continue
		}
		groups[w-1] = append(groups[w-1], code)
		used[code] = true
	}
	if len(groups[0]) > 1 {
		errs = append(errs, fmt.Errorf("policy: pin: %d regions pinned to wave 1 %v; the first wave must be a single region", len(groups[0]), groups[0]))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	take := func(w int, want func(Region) bool) {
		for _, r := range pool {
			if len(groups[w]) >= sizes[w] {
				return
			}
			if !used[r.Code] && want(r) {
				groups[w] = append(groups[w], r.Code)
				used[r.Code] = true
			}
		}
	}
	if p.Kind == PolicyAmazon {
		take(0, func(r Region) bool { return r.Tier == TierLow })
		if len(sizes) > 1 && len(groups[1]) < sizes[1] {
			// The highest-traffic region; the first by code among equals.
			best := -1
			for j, r := range pool {
				if !used[r.Code] && (best < 0 || r.Tier.rank() > pool[best].Tier.rank()) {
					best = j
				}
			}
			if best >= 0 {
				groups[1] = append(groups[1], pool[best].Code)
				used[pool[best].Code] = true
			}
		}
	}
	for w := range sizes {
		take(w, func(Region) bool { return true })
	}
	// Pins may push waves past their size; the last wave takes what is left.
	for _, r := range pool {
		if !used[r.Code] {
			groups[len(groups)-1] = append(groups[len(groups)-1], r.Code)
		}
	}
	if len(groups[0]) != 1 {
		return nil, fmt.Errorf("policy: pin: wave 1 would have %d regions %v; the first wave must be a single region", len(groups[0]), groups[0])
	}
	for i, g := range groups {
		if len(g) == 0 {
			return nil, fmt.Errorf("policy: pin: wave %d would be empty (pins took its regions); pin fewer regions to later waves", i+1)
		}
	}
	return groups, nil
}

// waveStages expands a wave into its production stages: a one-box step,
// then one AZ per region per step (zonal) or one regional step.
func waveStages(c *Catalog, p Policy, w Wave) []Stage {
	regions := make([]Region, len(w.Regions))
	maxAZ := 0
	for i, code := range w.Regions {
		regions[i], _ = c.Region(code)
		maxAZ = max(maxAZ, len(regions[i].AZs))
	}
	var stages []Stage
	oneBox := Stage{Name: fmt.Sprintf("Prod-%s-OneBox", w.Name), Wave: w.Number, Kind: KindOneBox, Bake: p.Bakes.OneBox}
	for _, r := range regions {
		t := Target{Region: r.Code, OneBox: true}
		if p.Shape == ShapeZonal {
			t.AZ = r.AZs[0] // the one-box host lives in the region's first AZ
		}
		oneBox.Targets = append(oneBox.Targets, t)
	}
	stages = append(stages, oneBox)
	if p.Shape == ShapeRegional {
		s := Stage{Name: fmt.Sprintf("Prod-%s-Regional", w.Name), Wave: w.Number, Kind: KindRegional}
		for _, r := range regions {
			s.Targets = append(s.Targets, Target{Region: r.Code})
		}
		stages = append(stages, s)
	} else {
		for i := 0; i < maxAZ; i++ {
			s := Stage{Name: fmt.Sprintf("Prod-%s-Z%d", w.Name, i+1), Wave: w.Number, Kind: KindZonal, Step: i + 1, Bake: p.Bakes.Zonal}
			for _, r := range regions {
				if i < len(r.AZs) {
					s.Targets = append(s.Targets, Target{Region: r.Code, AZ: r.AZs[i]})
				}
			}
			stages = append(stages, s)
		}
	}
	last := &stages[len(stages)-1]
	last.LastOfWave = true
	if w.Number == 1 {
		last.Bake = p.Bakes.FirstWave
	} else {
		last.Bake = p.Bakes.LaterWaves
	}
	var out []Stage
	for _, s := range stages {
		out = append(out, split(s, p)...)
	}
	return out
}

// split divides a stage whose actions exceed the per-stage limit into parts
// of as many targets as fit. Parts keep the stage's bake, except that only
// the last part of a wave's last stage carries the wave bake.
func split(s Stage, p Policy) []Stage {
	s.MinDatapoints = p.MinDatapoints
	s.BakeMinutes = int(s.Bake / time.Minute)
	s.Actions = len(s.Targets)*p.ActionsPerTarget + p.ActionsPerStage
	if partsOf(len(s.Targets), p) == 1 {
		s.Watch = append([]Target(nil), s.Targets...)
		return []Stage{s}
	}
	perPart := perPart(p)
	var parts []Stage
	for i := 0; i < len(s.Targets); i += perPart {
		part := s
		part.Targets = s.Targets[i:min(i+perPart, len(s.Targets))]
		part.Watch = append([]Target(nil), part.Targets...)
		if i+perPart >= len(s.Targets) {
			part.Watch = append([]Target(nil), s.Targets...) // the last part watches the whole step
		}
		part.Name = fmt.Sprintf("%s-P%d", s.Name, len(parts)+1)
		part.Actions = len(part.Targets)*p.ActionsPerTarget + p.ActionsPerStage
		part.LastOfWave = s.LastOfWave && i+perPart >= len(s.Targets)
		if i+perPart < len(s.Targets) && s.LastOfWave {
			// Only the last part ends the wave; earlier parts bake like a step.
			part.Bake = p.Bakes.Zonal
			if s.Kind == KindOneBox {
				part.Bake = p.Bakes.OneBox
			}
			part.BakeMinutes = int(part.Bake / time.Minute)
		}
		parts = append(parts, part)
	}
	return parts
}

// Batches splits items, in order, into doubling batches of Doubling(len)
// sizes: 1, 2, 4, 8, …, the last taking the rest. A fleet deployed batch by
// batch exposes one host first, and each batch is at most as large as all
// the batches before it plus one.
func Batches[T any](items []T) [][]T {
	var out [][]T
	i := 0
	for _, n := range Doubling(len(items)) {
		out = append(out, items[i:i+n:i+n])
		i += n
	}
	return out
}
