package release

import (
	"errors"
	"fmt"
	"github.com/safepipe/safepipe/internal/synth"
	"math"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// WeightedAliasProps configure an alias over one or two versions of a
// function: blue/green (Weight 100 or 0), a weighted canary (10 → 90 →
// 100, a value the team changes in code), or the split of an A/B test.
type WeightedAliasProps struct {
	// Function is the function. Required.
	Function awslambda.IFunction
	// Stable is the version the alias serves today (blue, or A). Required:
	// it must exist, so that rollback is instant (repoint the alias).
	Stable awslambda.IVersion
	// Candidate is the new version (green, the canary, or B). Required.
	Candidate awslambda.IVersion
	// Weight is the candidate's share of invocations in percent, 0–100:
	// 100 is blue/green's switch, anything between is a canary or an A/B
	// split. Default: 0.
	Weight float64
	// AliasName is the alias. Default: "live".
	AliasName string
}

// WeightedAlias is the alias and the versions it serves.
type WeightedAlias interface {
	constructs.Construct
	// Alias is nil on error.
	Alias() awslambda.Alias
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type weightedAlias struct {
	constructs.Construct
	alias awslambda.Alias
	err   error
}

func (w *weightedAlias) Alias() awslambda.Alias { return w.alias }
func (w *weightedAlias) Err() error             { return w.err }

// NewWeightedAlias points the alias at the candidate with Weight percent
// and at the stable version with the rest. At most two versions, by
// construction: Stable and Candidate. At Weight 100 the alias points at the
// candidate only (blue/green); Stable stays published, so rolling back is
// setting Weight to 0.
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
	props2 := &awslambda.AliasProps{AliasName: jsii.String(p.AliasName)}
	switch p.Weight {
	case 0:
		props2.Version = p.Stable
	case 100:
		props2.Version = p.Candidate
	default:
		props2.Version = p.Stable
		props2.AdditionalVersions = &[]*awslambda.VersionWeight{{Version: p.Candidate, Weight: jsii.Number(p.Weight / 100)}}
	}
	w.alias = awslambda.NewAlias(w, jsii.String("Alias"), props2)
	return w
}

func (p WeightedAliasProps) validate() error {
	var errs []error
	if p.Function == nil {
		errs = append(errs, errors.New("release: WeightedAliasProps.Function is nil"))
	}
	if p.Stable == nil {
		errs = append(errs, errors.New("release: WeightedAliasProps.Stable is nil: the old version must exist for an instant rollback"))
	}
	if p.Candidate == nil {
		errs = append(errs, errors.New("release: WeightedAliasProps.Candidate is nil"))
	}
	if math.IsNaN(p.Weight) || p.Weight < 0 || p.Weight > 100 {
		errs = append(errs, fmt.Errorf("release: WeightedAliasProps.Weight is %v; it must be 0–100", p.Weight))
	}
	if p.Stable != nil && p.Candidate != nil {
		sv, cv := p.Stable.Version(), p.Candidate.Version()
		if sv != nil && cv != nil && !*awscdk.Token_IsUnresolved(sv) && *sv == *cv {
			errs = append(errs, fmt.Errorf("release: WeightedAliasProps: Stable and Candidate are both version %s", *sv))
		}
		for _, v := range []struct {
			field string
			ver   awslambda.IVersion
		}{{"Stable", p.Stable}, {"Candidate", p.Candidate}} {
			if s := v.ver.Version(); s != nil && *s == "$LATEST" {
				errs = append(errs, fmt.Errorf("release: WeightedAliasProps.%s is $LATEST; an alias must serve published versions", v.field))
			}
		}
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

// NewABTest splits invocations between A and B with the alias's fixed
// weight and builds a dashboard of each metric per version (Lambda's
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
	if p.Alias.Weight <= 0 || p.Alias.Weight >= 100 {
		a.err = fmt.Errorf("release: ABTestProps.Alias.Weight is %v; an A/B test splits traffic, so it must be strictly between 0 and 100", p.Alias.Weight)
		synth.Report(a, a.err)
		return a
	}
	a.alias = NewWeightedAlias(a, jsii.String("Alias"), &p.Alias)
	if a.err = a.alias.Err(); a.err != nil {
		return a
	}
	al := a.alias.Alias()
	resource := fmt.Sprintf("%s:%s", *p.Alias.Function.FunctionName(), *al.AliasName())
	metric := func(name, label string, v awslambda.IVersion) awscloudwatch.IMetric {
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
				"ExecutedVersion": v.Version(),
			},
			Label: jsii.String(label + " " + name),
		})
	}
	a.dashboard = awscloudwatch.NewDashboard(a, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{DashboardName: strOrNil(p.DashboardName)})
	for _, m := range p.Metrics {
		a.dashboard.AddWidgets(
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(m + ": A"), Left: &[]awscloudwatch.IMetric{metric(m, "A", p.Alias.Stable)}, Width: jsii.Number(12)}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(m + ": B"), Left: &[]awscloudwatch.IMetric{metric(m, "B", p.Alias.Candidate)}, Width: jsii.Number(12)}),
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
