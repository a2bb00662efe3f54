package release

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsappconfig"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/gray"
	"github.com/safepipe/safepipe/internal/synth"
)

// GrayReleaseProps configure a gray release through AWS AppConfig.
type GrayReleaseProps struct {
	// Rules is the rule set. It must pass gray.Analyze without errors
	// (shadowed rules, overlaps, a variant with two rules). Set Rules or
	// Releases. Default: nil.
	Rules *gray.RuleSet
	// Releases is a gray release over a call chain of which this flag is
	// one part: Service's rules (gray.ReleaseSet.ServiceRules, which route
	// on the edge's decision, gray.ReleaseAttribute), or with Service ""
	// the edge's (gray.ReleaseSet.EdgeRules: the releases' own conditions,
	// each targeting its release's name, which the edge sends downstream).
	// The whole chain must pass gray.AnalyzeReleases without errors, so
	// that every service's flag agrees with the same decisions. Give every
	// service of the chain the same ReleaseSet. Set Rules or Releases.
	// Default: nil.
	Releases *gray.ReleaseSet
	// Service is the service of Releases this flag routes. Default: "" (the
	// edge's flag).
	Service string
	// Flag is the feature flag's name. Required.
	Flag string
	// Application is the AppConfig application. Default: a new
	// application named after the flag.
	Application awsappconfig.IApplication
	// EnvironmentName is the AppConfig environment. Default: "prod".
	EnvironmentName string
	// Alarms roll the deployment back while in ALARM (the aggregate
	// rollback alarm, alarms.RollbackAlarms.Aggregate). Required, at least
	// one: a rollout nobody watches is not a gray release.
	Alarms []awscloudwatch.IAlarm
	// DeploymentDuration is how long the exponential rollout takes to reach
	// every host. Default: 30 minutes.
	DeploymentDuration time.Duration
	// FinalBakeTime is how long AppConfig watches the alarms after the
	// rollout before the deployment completes. Default: 30 minutes.
	FinalBakeTime time.Duration
	// DeploymentStrategy replaces the doubling strategy this construct
	// would create; share one per account and region (AppConfig allows 20
	// strategies). Default: a new exponential strategy, growth factor 2,
	// over DeploymentDuration with FinalBakeTime.
	DeploymentStrategy awsappconfig.IDeploymentStrategy
}

// GrayRelease is a rule set deployed as an AppConfig multi-variant feature
// flag with the doubling rollout (exponential, growth factor 2), a final
// bake and alarm monitors for automatic rollback.
type GrayRelease interface {
	constructs.Construct
	// Application, Environment and Configuration are the AppConfig
	// resources (nil on error).
	Application() awsappconfig.IApplication
	Environment() awsappconfig.IEnvironment
	Configuration() awsappconfig.HostedConfiguration
	// Analysis is the static analysis of the rules (nil if they do not
	// load).
	Analysis() *gray.Analysis
	// Err reports every problem (also synth errors on the construct).
	Err() error
}

type grayRelease struct {
	constructs.Construct
	app      awsappconfig.IApplication
	env      awsappconfig.IEnvironment
	config   awsappconfig.HostedConfiguration
	analysis *gray.Analysis
	err      error
}

func (g *grayRelease) Application() awsappconfig.IApplication          { return g.app }
func (g *grayRelease) Environment() awsappconfig.IEnvironment          { return g.env }
func (g *grayRelease) Configuration() awsappconfig.HostedConfiguration { return g.config }
func (g *grayRelease) Analysis() *gray.Analysis                        { return g.analysis }
func (g *grayRelease) Err() error                                      { return g.err }

// Defaults of GrayReleaseProps.
const (
	DefaultDeploymentDuration = 30 * time.Minute
	DefaultFinalBakeTime      = 30 * time.Minute
)

// NewGrayRelease analyses the rules at synth and, if they are sane,
// renders and deploys them. Problems are reported all at once.
func NewGrayRelease(scope constructs.Construct, id *string, props *GrayReleaseProps) GrayRelease {
	g := &grayRelease{}
	constructs.NewConstruct_Override(g, scope, id)
	var p GrayReleaseProps
	if props != nil {
		p = *props
	}
	g.err = g.build(p)
	synth.Report(g, g.err)
	return g
}

func (g *grayRelease) build(p GrayReleaseProps) error {
	var errs []error
	if p.DeploymentDuration == 0 {
		p.DeploymentDuration = DefaultDeploymentDuration
	}
	if p.FinalBakeTime == 0 {
		p.FinalBakeTime = DefaultFinalBakeTime
	}
	if p.EnvironmentName == "" {
		p.EnvironmentName = "prod"
	}
	if len(p.Alarms) == 0 {
		errs = append(errs, errors.New("release: GrayReleaseProps.Alarms is empty; the rollout needs the aggregate alarm to roll back on"))
	}
	if len(p.Alarms) > 5 {
		errs = append(errs, fmt.Errorf("release: GrayReleaseProps.Alarms has %d alarms; an AppConfig environment takes 5 monitors (pass the aggregate)", len(p.Alarms)))
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"DeploymentDuration", p.DeploymentDuration}, {"FinalBakeTime", p.FinalBakeTime}} {
		if d.v < 0 || d.v > 24*time.Hour || d.v%time.Minute != 0 {
			errs = append(errs, fmt.Errorf("release: GrayReleaseProps.%s is %s; AppConfig takes whole minutes, 0–24h", d.field, d.v))
		}
	}
	rules, err := g.rules(p)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, f := range g.analysis.Findings {
		if f.Severity == gray.SeverityError {
			what := "rule"
			if p.Releases != nil {
				what = "release"
			}
			errs = append(errs, fmt.Errorf("release: gray %s %q: %s: %s", what, f.Rule, f.Kind, f.Message))
		}
	}
	doc, err := gray.AppConfigFlag(rules, p.Flag)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	content, err := json.Marshal(doc) // map keys sorted: deterministic
	if err != nil {
		return err
	}

	g.app = p.Application
	if g.app == nil {
		g.app = awsappconfig.NewApplication(g, jsii.String("Application"), &awsappconfig.ApplicationProps{
			ApplicationName: jsii.String(p.Flag),
			Description:     jsii.String("safepipe gray release of " + p.Flag),
		})
	}
	var monitors []awsappconfig.Monitor
	for _, al := range p.Alarms {
		monitors = append(monitors, awsappconfig.Monitor_FromCloudWatchAlarm(al, nil))
	}
	g.env = awsappconfig.NewEnvironment(g, jsii.String("Environment"), &awsappconfig.EnvironmentProps{
		Application:     g.app,
		EnvironmentName: jsii.String(p.EnvironmentName),
		Monitors:        &monitors,
	})
	strategy := p.DeploymentStrategy
	if strategy == nil {
		strategy = awsappconfig.NewDeploymentStrategy(g, jsii.String("Doubling"), &awsappconfig.DeploymentStrategyProps{
			Description: jsii.String("safepipe doubling rollout: exponential, growth factor 2, then a final bake watching the alarms"),
			RolloutStrategy: awsappconfig.RolloutStrategy_Exponential(&awsappconfig.RolloutStrategyProps{
				GrowthFactor:       jsii.Number(2),
				DeploymentDuration: awscdk.Duration_Minutes(jsii.Number(p.DeploymentDuration.Minutes())),
				FinalBakeTime:      awscdk.Duration_Minutes(jsii.Number(p.FinalBakeTime.Minutes())),
			}),
		})
	}
	g.config = awsappconfig.NewHostedConfiguration(g, jsii.String("Flag"), &awsappconfig.HostedConfigurationProps{
		Application:        g.app,
		Name:               jsii.String(p.Flag),
		Type:               awsappconfig.ConfigurationType_FEATURE_FLAGS,
		Content:            awsappconfig.ConfigurationContent_FromInlineJson(jsii.String(string(content)), nil),
		DeploymentStrategy: strategy,
		DeployTo:           &[]awsappconfig.IEnvironment{g.env},
	})
	return nil
}

// rules analyses the rule set or the chain (g.analysis) and returns the
// rules this flag renders.
func (g *grayRelease) rules(p GrayReleaseProps) (*gray.RuleSet, error) {
	switch {
	case p.Rules != nil && p.Releases != nil:
		return nil, errors.New("release: GrayReleaseProps: set Rules or Releases, not both")
	case p.Rules != nil:
		if p.Service != "" {
			return nil, fmt.Errorf("release: GrayReleaseProps.Service is %q but Releases is nil; Service names a service of a release chain", p.Service)
		}
		a, err := gray.Analyze(p.Rules)
		if err != nil {
			return nil, err
		}
		g.analysis = a
		return p.Rules, nil
	case p.Releases != nil:
		a, err := gray.AnalyzeReleases(p.Releases)
		if err != nil {
			return nil, err
		}
		g.analysis = a
		if p.Service == "" {
			return p.Releases.EdgeRules(), nil
		}
		rs := p.Releases.ServiceRules(p.Service)
		if rs == nil {
			return nil, fmt.Errorf("release: GrayReleaseProps.Service %q: no release names the service (releases name %s)", p.Service, strings.Join(p.Releases.Services(), ", "))
		}
		return rs, nil
	}
	return nil, errors.New("release: GrayReleaseProps: Rules and Releases are nil; set one")
}
