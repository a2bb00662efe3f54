package pipeline

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/model"
	"github.com/safepipe/safepipe/verify"
	"github.com/safepipe/safepipe/waves"
)

// Gate renders safety gates (bake, blockers, windows, rollback) onto one
// gated stage: each gamma stage and every production stage. Gates run in
// the order of BasePipelineProps.Gates; each may add stage conditions and
// steps, and must watch every region of the stage.
type Gate interface {
	Gate(s *GatedStage) error
}

// GatedStage is what a Gate sees of one pipeline stage.
type GatedStage struct {
	// Name is the pipeline stage name.
	Name string
	// Environment is gamma or prod.
	Environment Environment
	// Stage is the plan stage (nil for gamma stages).
	Stage *waves.Stage
	// Deployments are the stage's targets, one per region, in order.
	Deployments []Deployment
	// Conditions are the stage's conditions; a gate sets or extends them.
	Conditions *StageConditions
	// Wave is the CDK Pipelines wave of the stage; a gate may add pre or
	// post steps to it.
	Wave pipelines.Wave
	// Window is the plan's deployment window.
	Window waves.Window
	// PipelineName, PipelineAccount and PipelineRegion locate the
	// pipeline (the toolchain).
	PipelineName, PipelineAccount, PipelineRegion string
	// Controller is the pipeline's gate controller, shared by every gate.
	Controller *Controller

	watch  []Deployment
	alarms *alarmIndex
}

// Watch declares an alarm the gate watches: the pipeline fails synth
// unless a stack of the pipeline creates it in that account and region.
func (s *GatedStage) Watch(a WatchedAlarm) {
	s.alarms.watched = append(s.alarms.watched, a)
}

// Created returns the alarm a stack of the pipeline creates in place, as
// far as the pipeline has rendered (this stage included).
func (s *GatedStage) Created(p Place, name string) (CreatedAlarm, bool) {
	return s.alarms.lookup(p, name)
}

// BakeWatch are the deployments the stage's bake watches: its own, and
// for the last part of a split stage every part's (the plan's
// Stage.Watch), so that no region of a step misses the step's bake.
func (s *GatedStage) BakeWatch() []Deployment {
	return append([]Deployment(nil), s.watch...)
}

// renderer turns the plan and pre-production settings into CDK Pipelines
// waves, in pipeline order.
type renderer struct {
	b          *basePipeline
	props      BasePipelineProps
	catalog    *waves.Catalog
	conditions map[string]*StageConditions
	alarms     *alarmIndex
	controller *Controller
	// actions counts each stage's CodePipeline actions as CDK Pipelines
	// will build them; actionsPerTarget is what alpha's target needs.
	actions          map[string]int
	actionsPerTarget int
	deployActions    int // of the last target rendered
	// step and stepBake are the upgrade-downgrade step being rendered.
	step     UpgradeDowngradeStep
	stepBake time.Duration
}

// actionsPerStack is what CDK Pipelines makes of one stack: with change
// sets, "a "Prepare" and "Execute" action for each stack"; without, "the
// stack in one pipeline action" (CodePipelineProps.UseChangeSets).
func (r *renderer) actionsPerStack() int {
	if r.props.ChangeSets {
		return 2
	}
	return 1
}

// renderAlpha renders the alpha stage and measures one target's actions.
func (r *renderer) renderAlpha() error {
	home := waves.Target{Region: r.props.HomeRegion}
	if err := r.stage(StageAlpha, Alpha, r.props.Accounts.PreProd, nil, []waves.Target{home}, false); err != nil {
		return err
	}
	r.actionsPerTarget = r.deployActions
	return nil
}

// checkActions reports every stage whose actions would exceed
// CodePipeline's limit, before CDK Pipelines builds (and silently splits)
// it.
func (r *renderer) checkActions() error {
	var errs []error
	for _, name := range r.b.stageNames {
		if n := r.actions[name]; n > waves.MaxActionsPerStage {
			errs = append(errs, fmt.Errorf("pipeline: stage %s would have %d actions, over CodePipeline's %d (each stack a target deploys is a Prepare and a Deploy action, plus tests and gate steps); set Policy.ActionsPerTarget to the actions of the largest target so that the planner splits the stage, or deploy fewer stacks per target",
				name, n, waves.MaxActionsPerStage))
		}
	}
	return errors.Join(errs...)
}

func (r *renderer) render() error {
	p, plan := r.props, r.b.plan
	var errs []error
	home := waves.Target{Region: p.HomeRegion}
	errs = append(errs, r.stage(StageBeta, Beta, p.Accounts.PreProd, nil, []waves.Target{home}, false))
	var oneBoxes, regions []waves.Target
	for _, code := range p.GammaRegions {
		t := waves.Target{Region: code, OneBox: true}
		if plan.Shape == waves.ShapeZonal {
			if reg, ok := r.catalog.Region(code); ok {
				t.AZ = reg.AZs[0] // as in production, the one-box lives in the first AZ
			}
		}
		oneBoxes = append(oneBoxes, t)
		regions = append(regions, waves.Target{Region: code})
	}
	errs = append(errs,
		r.stage(StageGammaOneBox, Gamma, p.Accounts.PreProd, nil, oneBoxes, true),
		r.stage(StageGamma, Gamma, p.Accounts.PreProd, nil, regions, true),
	)
	if p.Zeta {
		errs = append(errs, r.stage(StageZeta, Zeta, p.Accounts.PreProd, nil, []waves.Target{home}, false))
	}
	if u := p.UpgradeDowngrade; u != nil {
		r.stepBake = u.Bake
		if r.stepBake == 0 {
			r.stepBake = MinUpgradeDowngradeBake
		}
		var later []string
		for _, step := range UpgradeDowngradeSteps {
			r.step = step
			errs = append(errs, r.stage(u.stageName(step), UpDown, p.Accounts.PreProd, nil, []waves.Target{{Region: u.Region}}, true))
			if step != UpgradeHalf {
				later = append(later, u.stageName(step))
			}
		}
		r.step = ""
		// The test region takes one release at a time: its first step
		// waits while another release is in a later step (gates.Stage.Serial).
		r.controller.Serialize(u.stageName(UpgradeHalf), later)
	}
	for i := range plan.Stages {
		s := &plan.Stages[i]
		account := p.Accounts.ProdByWave[s.Wave]
		if account == "" {
			account = p.Accounts.Prod
		}
		errs = append(errs, r.stage(s.Name, Prod, account, s, s.Targets, true))
	}
	if plan.Shape == waves.ShapeZonal {
		for i, s := range plan.Stages {
			r.controller.RollBackWith(s.Name, regionSteps(plan.Stages[:i], s))
		}
	}
	return errors.Join(errs...)
}

// regionSteps are the stages before s, in its wave, that deployed to one
// of its regions: in the zonal shape each step deploys its AZ's own stacks
// and groups, and CodePipeline rolls back the failed stage only, so when s
// rolls back the region's one-box and earlier AZs must go back with it
// (gates.Stage.RollsBack; the gate controller rolls them back).
func regionSteps(before []waves.Stage, s waves.Stage) []string {
	var out []string
	for _, e := range before {
		if e.Wave != s.Wave {
			continue
		}
		if slices.ContainsFunc(e.Regions(), func(r string) bool { return slices.Contains(s.Regions(), r) }) {
			out = append(out, e.Name)
		}
	}
	return out
}

// stage adds one pipeline stage (a CDK Pipelines wave) deploying every
// target in parallel, then lets the gates at it.
func (r *renderer) stage(name string, env Environment, account string, planStage *waves.Stage, targets []waves.Target, gated bool) error {
	if r.conditions[name] != nil {
		return fmt.Errorf("pipeline: stage name %q is used twice", name)
	}
	r.conditions[name] = &StageConditions{}
	r.b.stageNames = append(r.b.stageNames, name)
	wave := r.b.cp.AddWave(jsii.String(name), nil)
	tester, _ := r.props.Service.(Tester)
	deployer, _ := r.props.Service.(Deployer)
	stack := awscdk.Stack_Of(r.b)
	var window waves.Window
	if r.b.plan != nil {
		window = r.b.plan.Window
	}
	gs := &GatedStage{Name: name, Environment: env, Stage: planStage, Conditions: r.conditions[name], Wave: wave, Window: window,
		PipelineName: r.props.PipelineName, PipelineAccount: *stack.Account(), PipelineRegion: *stack.Region(),
		Controller: r.controller, alarms: r.alarms}
	for _, t := range targets {
		d := r.deployment(name, env, account, planStage, t)
		// CDK Pipelines names a one-stage wave after its stage, so a stage
		// with one target takes the pipeline stage's name as its id.
		id := name
		if len(targets) > 1 {
			id = fmt.Sprintf("%s-%s", name, t.ID())
		}
		st, err := newServiceStage(r.props.Service, r.b, id, d, name)
		if err != nil {
			return err
		}
		if st == nil {
			return fmt.Errorf("pipeline: Service returned a nil stage for %s in stage %s", t.ID(), name)
		}
		scan := r.alarms.addStage(st, name)
		stacks := scan.stacks
		r.actions[name] += stacks * r.actionsPerStack()
		for _, a := range r.props.StageAspects {
			awscdk.Aspects_Of(st).Add(a, nil)
		}
		opts := &pipelines.AddStageOpts{}
		var post []pipelines.Step
		if deployer != nil {
			post = append(post, deployer.DeploySteps(d)...)
		}
		r.deployActions = stacks*r.actionsPerStack() + len(post)
		if tester != nil && env != Prod {
			post = append(post, tester.Tests(d)...)
		}
		if len(post) > 0 {
			// Post steps run in order: the deployment's, then the tests.
			for i := 1; i < len(post); i++ {
				post[i].AddStepDependency(post[i-1])
			}
			opts.Post = &post
			r.actions[name] += len(post)
		}
		wave.AddStage(st, opts)
		templates, err := r.alarms.addCreated(st, name, scan)
		if err != nil {
			return err
		}
		if t.OneBox {
			// A one-box step puts the change on a small share of the region
			// (verify SP037): refuse one that moves all of it.
			var errs []error
			for _, tpl := range templates {
				for _, w := range verify.OneBoxWhole(tpl) {
					errs = append(errs, fmt.Errorf("pipeline: stage %s, target %s is a one-box step, and stack %s %s: give the one-box step its own small target (a one-task ECS service or a canary task set with its own alarm, a Lambda alias canary: deploy.LambdaProps.OneBox, a one-instance CodeDeploy group) and deploy the rest of the region in the next step",
						name, t.ID(), tpl.StackName, w.What))
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
		} else if env == Prod {
			// A ramp raises the share on its own clock, counted from the
			// deployment as the bake is (verify SP038): refuse a stage
			// whose bake ends first.
			var errs []error
			for _, tpl := range templates {
				ramps, rerrs := verify.Ramps(tpl)
				for _, err := range rerrs {
					errs = append(errs, fmt.Errorf("pipeline: stage %s, stack %s: %w", name, tpl.StackName, err))
				}
				for _, rp := range ramps {
					if !rp.Ramp.Full() {
						continue
					}
					// A metric alarm can hold the ramp in INSUFFICIENT_DATA
					// past any bake; a composite is in that state only
					// right after it is created (verify SP038;
					// docs/aws-semantics.md Q25).
					if a, ok := r.alarms.lookup(Place{Account: account, Region: t.Region}, rp.Ramp.Alarm); !ok || !a.Composite {
						errs = append(errs, fmt.Errorf("pipeline: stage %s, stack %s: alias controller %s ramps on alarm %q, which is not a composite alarm the stage creates: a metric alarm holds the ramp in INSUFFICIENT_DATA while its metric is silent, past the bake; ramp on the region's aggregate (alarms.RollbackAlarms.Aggregate)",
							name, tpl.StackName, rp.Resource, rp.Ramp.Alarm))
					}
					if need := rp.Ramp.BakeNeeded(); d.Bake < need {
						errs = append(errs, fmt.Errorf("pipeline: stage %s bakes %s, and stack %s's alias controller %s ramps to 100%% over %s: the bake must be at least %s (the holds, %s of the driver's tick per step, and the longest hold again for the full share), or the next stage starts before %s serves the new version alone; shorten the ramp (deploy.Ramp.Steps) or lengthen the bake (waves.Policy.Bakes)",
							name, d.Bake, tpl.StackName, rp.Resource, rp.Ramp.Duration(), need, model.TickSlack, t.Region))
					}
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
		}
		gs.Deployments = append(gs.Deployments, d)
	}
	if !gated {
		return nil
	}
	gs.watch = gs.Deployments
	if planStage != nil && len(planStage.Watch) > len(planStage.Targets) {
		gs.watch = nil
		for _, t := range planStage.Watch {
			gs.watch = append(gs.watch, r.deployment(name, env, account, planStage, t))
		}
	}
	var errs []error
	for _, g := range r.props.Gates {
		if err := g.Gate(gs); err != nil {
			errs = append(errs, fmt.Errorf("pipeline: stage %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// deployment is what the team's service learns of one target.
func (r *renderer) deployment(stage string, env Environment, account string, planStage *waves.Stage, t waves.Target) Deployment {
	stack := awscdk.Stack_Of(r.b)
	region, _ := r.catalog.Region(t.Region)
	bake := r.bake(planStage, t)
	if env == UpDown {
		bake = r.stepBake
	}
	return Deployment{
		UpgradeDowngrade: r.step,
		Environment:      env, Account: account, Target: t, Stage: planStage, Bake: bake,
		Alarms: r.alarmNames(env, t), Region: region, StageName: stage,
		PipelineAccount: *stack.Account(), PipelineRegion: *stack.Region(), PipelineName: r.props.PipelineName,
		pipeline: r.b,
	}
}

// alarmNames is the naming contract of the team's alarms for a target:
// the team, the environment, and the AZ for a per-AZ target.
func (r *renderer) alarmNames(env Environment, t waves.Target) alarms.Names {
	return alarms.Names{Team: r.props.Team, Environment: string(env), Cell: t.AZ}
}

// newServiceStage calls the team's Service. A panic in the team's code (or
// in a CDK call it makes, which jsii raises as a panic) becomes an error
// naming the pipeline stage, the target and the first frame of the team's
// code, instead of a crash or an anonymous message.
func newServiceStage(svc Service, scope constructs.Construct, id string, d Deployment, stage string) (st awscdk.Stage, err error) {
	defer func() {
		if p := recover(); p != nil {
			where := ""
			if f, ok := teamFrame(); ok {
				where = fmt.Sprintf(" (at %s:%d in %s)", f.File, f.Line, f.Function)
			}
			st, err = nil, fmt.Errorf("pipeline: stage %s, target %s: the Service panicked: %v%s", stage, d.Target.ID(), p, where)
		}
	}()
	return svc.NewStage(scope, id, d), nil
}

// libraryPrefixes are the packages whose frames are not the team's code.
var libraryPrefixes = []string{
	"runtime.", "github.com/aws/jsii-runtime-go", "github.com/aws/aws-cdk-go/", "github.com/aws/constructs-go/",
	"github.com/safepipe/safepipe/constructs/pipeline.",
}

// teamFrame returns the innermost frame of the panicking goroutine that is
// not the Go runtime, jsii, the CDK or this package (this package's tests
// count as team code). Called from a deferred function while panicking, the
// stack still holds the frames of the panic.
func teamFrame() (runtime.Frame, bool) { return panicFrame(libraryPrefixes) }

// panicSite is the innermost frame of a panic outside the Go runtime: where
// a bug in safepipe itself is.
func panicSite() string {
	f, ok := panicFrame([]string{"runtime.", "github.com/aws/"})
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (at %s:%d in %s; please report this)", f.File, f.Line, f.Function)
}

// panicFrame returns the first frame below the panic (the frames under
// runtime.gopanic) whose function starts with none of skip; frames in
// _test.go files are never skipped.
func panicFrame(skip []string) (runtime.Frame, bool) {
	pcs := make([]uintptr, 128)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	below := false
	for {
		f, more := frames.Next()
		if f.Function == "runtime.gopanic" {
			below = true
		} else if below && f.Function != "" {
			skipped := false
			for _, p := range skip {
				if strings.HasPrefix(f.Function, p) && !strings.HasSuffix(f.File, "_test.go") {
					skipped = true
					break
				}
			}
			if !skipped {
				return f, true
			}
		}
		if !more {
			return runtime.Frame{}, false
		}
	}
}

// bake is the plan's bake for a production target, or the one-box floor for
// a gamma one-box.
func (r *renderer) bake(s *waves.Stage, t waves.Target) time.Duration {
	if s != nil {
		return s.Bake
	}
	if t.OneBox {
		return waves.FloorOneBox
	}
	return 0
}

// prodStages are the names of the production stages, in order.
func (r *renderer) prodStages() []string {
	if r.b.plan == nil {
		return nil
	}
	out := make([]string, 0, len(r.b.plan.Stages))
	for _, s := range r.b.plan.Stages {
		out = append(out, s.Name)
	}
	return out
}
