package release

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/constructs/deploy"
	"github.com/safepipe/safepipe/internal/synth"
)

// WeightedAliasProps configure an alias over the version live at deploy
// time and a candidate: blue/green (Percent 100), a weighted canary, or
// the split of an A/B test.
type WeightedAliasProps struct {
	// Function is the function. Required.
	Function awslambda.IFunction
	// Candidate is the new version (green, the canary, or B). Required.
	Candidate awslambda.IVersion
	// Percent is the candidate's share of invocations, in whole percent,
	// 0–100; the rest stays on the version the alias serves when the stack
	// deploys (read then, not written in code: the stable version is
	// whatever is live in that region). 100 is blue/green's switch; 0 keeps
	// the candidate published but unused. Default: 0.
	Percent int
	// AliasName is the alias. Default: "live".
	AliasName string
	// Ramp raises the candidate's share from Percent in steps after the
	// stack deploys (say 10% → 50% after an hour → 100% after another),
	// while its alarm stays OK, and takes the share away when the alarm
	// fires: one deployment instead of a code change and a pipeline run
	// per step (see deploy.Ramp). Default: none (the share stays Percent
	// until the next deployment).
	Ramp *deploy.Ramp
}

// WeightedAlias is the alias and the versions it serves.
type WeightedAlias interface {
	constructs.Construct
	// AliasArn is the alias's ARN (nil on error).
	AliasArn() *string
	// LiveVersion is the version the alias served when the stack deployed
	// (a token; nil on error): A in an A/B test.
	LiveVersion() *string
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type weightedAlias struct {
	constructs.Construct
	arn, live *string
	err       error
}

func (w *weightedAlias) AliasArn() *string    { return w.arn }
func (w *weightedAlias) LiveVersion() *string { return w.live }
func (w *weightedAlias) Err() error           { return w.err }

// NewWeightedAlias points the alias at the candidate with Percent of
// invocations and at the version live at deploy time with the rest, through
// the deploy package's alias controller: a redeploy of an earlier template
// (a pipeline rollback) repoints the alias at once.
func NewWeightedAlias(scope constructs.Construct, id *string, props *WeightedAliasProps) WeightedAlias {
	w := &weightedAlias{}
	constructs.NewConstruct_Override(w, scope, id)
	var p WeightedAliasProps
	if props != nil {
		p = *props
	}
	if p.AliasName == "" {
		p.AliasName = "live"
	}
	if w.err = p.validate(); w.err != nil {
		synth.Report(w, w.err)
		return w
	}
	mode := deploy.AliasCanary
	if p.Percent == 100 {
		mode = deploy.AliasFull
	}
	res := deploy.NewAliasController(w, jsii.String("Alias"), &deploy.AliasControllerProps{
		Function: p.Function, AliasName: p.AliasName, Version: p.Candidate, Mode: mode, Percent: p.Percent, Ramp: p.Ramp,
	})
	if w.err = res.Err(); w.err != nil {
		return w
	}
	w.arn, w.live = res.AliasArn(), res.LiveVersion()
	return w
}

func (p WeightedAliasProps) validate() error {
	var errs []error
	if p.Function == nil {
		errs = append(errs, errors.New("release: WeightedAliasProps.Function is nil"))
	}
	if p.Candidate == nil {
		errs = append(errs, errors.New("release: WeightedAliasProps.Candidate is nil"))
	} else if v := p.Candidate.Version(); v != nil && *v == "$LATEST" {
		errs = append(errs, errors.New("release: WeightedAliasProps.Candidate is $LATEST; an alias must serve published versions"))
	}
	if p.Percent < 0 || p.Percent > 100 {
		errs = append(errs, fmt.Errorf("release: WeightedAliasProps.Percent is %d; it is the candidate's share in whole percent, 0–100", p.Percent))
	}
	if p.Ramp != nil && p.Percent == 100 {
		errs = append(errs, errors.New("release: WeightedAliasProps.Ramp is set with Percent 100; the candidate already has every invocation"))
	}
	return errors.Join(errs...)
}

// ABTestProps configure an A/B test of two versions behind one alias.
type ABTestProps struct {
	// Alias is the weighted alias (A = Stable, B = Candidate). Required.
	Alias WeightedAliasProps
	// Metrics are the AWS/Lambda metrics compared, per version.
	// Default: Invocations, Errors, Duration.
	Metrics []string
	// DashboardName is the dashboard's name. Default: generated.
	DashboardName string
}

// ABTest is the alias and the dashboard that shows A and B side by side.
type ABTest interface {
	constructs.Construct
	Alias() WeightedAlias
	Dashboard() awscloudwatch.Dashboard
	Err() error
}

type abTest struct {
	constructs.Construct
	alias     WeightedAlias
	dashboard awscloudwatch.Dashboard
	err       error
}

func (a *abTest) Alias() WeightedAlias               { return a.alias }
func (a *abTest) Dashboard() awscloudwatch.Dashboard { return a.dashboard }
func (a *abTest) Err() error                         { return a.err }

// NewABTest splits invocations between A (the version live at deploy time)
// and B (the candidate) with the alias's fixed percent and builds a dashboard of each metric per version (Lambda's
// ExecutedVersion dimension). The split is per request: one user may see
// both versions. For per-user assignment, route with gray rules (package
// gray: a sticky percentage of the user key) and call each version's own
// alias.
func NewABTest(scope constructs.Construct, id *string, props *ABTestProps) ABTest {
	a := &abTest{}
	constructs.NewConstruct_Override(a, scope, id)
	var p ABTestProps
	if props != nil {
		p = *props
	}
	if len(p.Metrics) == 0 {
		p.Metrics = []string{"Invocations", "Errors", "Duration"}
	}
	if p.Alias.Percent <= 0 || p.Alias.Percent >= 100 {
		a.err = fmt.Errorf("release: ABTestProps.Alias.Percent is %d; an A/B test splits traffic, so it must be strictly between 0 and 100", p.Alias.Percent)
		synth.Report(a, a.err)
		return a
	}
	a.alias = NewWeightedAlias(a, jsii.String("Alias"), &p.Alias)
	if a.err = a.alias.Err(); a.err != nil {
		return a
	}
	aliasName := p.Alias.AliasName
	if aliasName == "" {
		aliasName = "live"
	}
	resource := fmt.Sprintf("%s:%s", *p.Alias.Function.FunctionName(), aliasName)
	metric := func(name, label string, version *string) awscloudwatch.IMetric {
		stat := "Sum"
		if name == "Duration" {
			stat = "p90"
		}
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:  jsii.String("AWS/Lambda"),
			MetricName: jsii.String(name),
			Statistic:  jsii.String(stat),
			Period:     awscdk.Duration_Minutes(jsii.Number(5)),
			DimensionsMap: &map[string]*string{
				"FunctionName":    p.Alias.Function.FunctionName(),
				"Resource":        jsii.String(resource),
				"ExecutedVersion": version,
			},
			Label: jsii.String(label + " " + name),
		})
	}
	a.dashboard = awscloudwatch.NewDashboard(a, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{DashboardName: strOrNil(p.DashboardName)})
	for _, m := range p.Metrics {
		a.dashboard.AddWidgets(
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(m + ": A"), Left: &[]awscloudwatch.IMetric{metric(m, "A", a.alias.LiveVersion())}, Width: jsii.Number(12)}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(m + ": B"), Left: &[]awscloudwatch.IMetric{metric(m, "B", p.Alias.Candidate.Version())}, Width: jsii.Number(12)}),
		)
	}
	return a
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}
