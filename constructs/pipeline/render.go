package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/jsii-runtime-go"

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
}

// renderer turns the plan and pre-production settings into CDK Pipelines
// waves, in pipeline order.
type renderer struct {
	b          *basePipeline
	props      BasePipelineProps
	catalog    *waves.Catalog
	conditions map[string]*StageConditions
}

func (r *renderer) render() error {
	p, plan := r.props, r.b.plan
	var errs []error
	home := waves.Target{Region: p.HomeRegion}
	errs = append(errs,
		r.stage(StageAlpha, Alpha, p.Accounts.PreProd, nil, []waves.Target{home}, false),
		r.stage(StageBeta, Beta, p.Accounts.PreProd, nil, []waves.Target{home}, false),
	)
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
	for i := range plan.Stages {
		s := &plan.Stages[i]
		account := p.Accounts.ProdByWave[s.Wave]
		if account == "" {
			account = p.Accounts.Prod
		}
		errs = append(errs, r.stage(s.Name, Prod, account, s, s.Targets, true))
	}
	return errors.Join(errs...)
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
	stack := awscdk.Stack_Of(r.b)
	gs := &GatedStage{Name: name, Environment: env, Stage: planStage, Conditions: r.conditions[name], Wave: wave, Window: r.b.plan.Window,
		PipelineName: r.props.PipelineName, PipelineAccount: *stack.Account(), PipelineRegion: *stack.Region()}
	for _, t := range targets {
		d := Deployment{Environment: env, Account: account, Target: t, Stage: planStage, Bake: r.bake(planStage, t)}
		// CDK Pipelines names a one-stage wave after its stage, so a stage
		// with one target takes the pipeline stage's name as its id.
		id := name
		if len(targets) > 1 {
			id = fmt.Sprintf("%s-%s", name, t.ID())
		}
		st := r.props.Service.NewStage(r.b, id, d)
		if st == nil {
			return fmt.Errorf("pipeline: Service returned a nil stage for %s in stage %s", t.ID(), name)
		}
		for _, a := range r.props.StageAspects {
			awscdk.Aspects_Of(st).Add(a, nil)
		}
		opts := &pipelines.AddStageOpts{}
		if tester != nil && env != Prod {
			if steps := tester.Tests(env, t.Region); len(steps) > 0 {
				opts.Post = &steps
			}
		}
		wave.AddStage(st, opts)
		gs.Deployments = append(gs.Deployments, d)
	}
	if !gated {
		return nil
	}
	var errs []error
	for _, g := range r.props.Gates {
		if err := g.Gate(gs); err != nil {
			errs = append(errs, fmt.Errorf("pipeline: stage %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
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
