package alarms

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSplit(t *testing.T) {
	ones := func(n, l int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = l
		}
		return out
	}
	cases := []struct {
		name        string
		lengths     []int
		maxChildren int
		maxLength   int
		wantSizes   []int
	}{
		{"empty", nil, 100, 10240, nil},
		{"one group", ones(3, 10), 100, 10240, []int{3}},
		{"exactly the child limit", ones(100, 10), 100, 10240, []int{100}},
		{"one over the child limit", ones(101, 10), 100, 10240, []int{100, 1}},
		{"by length", ones(10, 100), 100, 502, []int{5, 5}},
		{"a child longer than the limit still gets a group", []int{600, 10}, 100, 500, []int{1, 1}},
		{"250 named alarms", ones(250, termLength("orders-checkout-latency-p99")), MaxCompositeChildren, MaxCompositeRuleLength, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			groups := split(c.lengths, c.maxChildren, c.maxLength)
			seen := 0
			for _, g := range groups {
				size := 2
				for _, i := range g {
					assert.Equal(t, seen, i, "children keep their order and each appears once")
					seen++
					size += c.lengths[i]
				}
				assert.LessOrEqual(t, len(g), c.maxChildren)
				if len(g) > 1 {
					assert.LessOrEqual(t, size, c.maxLength)
				}
			}
			assert.Equal(t, len(c.lengths), seen)
			if c.wantSizes != nil || len(c.lengths) == 0 {
				var sizes []int
				for _, g := range groups {
					sizes = append(sizes, len(g))
				}
				assert.Equal(t, c.wantSizes, sizes)
			}
		})
	}
}

func TestTermLengthBoundsTheRealRule(t *testing.T) {
	// The estimate must not be shorter than what CloudWatch will see for
	// the longest partition and region names.
	name := "orders-api-latency-p99"
	arn := "arn:aws-iso-b:cloudwatch:ap-southeast-5:123456789012:alarm:" + name
	real := len(`ALARM("`+arn+`")`) + len(" OR ")
	assert.GreaterOrEqual(t, termLength(name), real)
	assert.Equal(t, termLength(strings.Repeat("x", unknownNameLength)), termLength(""), "an unknown name counts as the longest")
}

func TestNames(t *testing.T) {
	cases := []struct {
		n                                       Names
		aggregate, oneBox, bake, oneBoxBake, hs string
	}{
		{Names{Team: "orders", Environment: "prod"}, "orders-prod-aggregate-rollback", "orders-prod-onebox-rollback", "orders-prod-bake", "orders-prod-onebox-bake", "orders-prod-api-onebox-fault-rate"},
		{Names{Team: "orders", Environment: "alpha"}, "orders-alpha-aggregate-rollback", "orders-alpha-onebox-rollback", "orders-alpha-bake", "orders-alpha-onebox-bake", "orders-alpha-api-onebox-fault-rate"},
		{Names{Team: "pay", Environment: "prod", Cell: "use1-az2"}, "pay-prod-use1-az2-aggregate-rollback", "pay-prod-use1-az2-onebox-rollback", "pay-prod-use1-az2-bake", "pay-prod-use1-az2-onebox-bake", "pay-prod-use1-az2-api-onebox-fault-rate"},
	}
	for _, c := range cases {
		assert.NoError(t, c.n.Validate())
		assert.Equal(t, c.aggregate, c.n.Aggregate())
		assert.Equal(t, c.oneBox, c.n.OneBox())
		assert.Equal(t, c.bake, c.n.Bake(false))
		assert.Equal(t, c.oneBoxBake, c.n.Bake(true))
		assert.Equal(t, c.hs, c.n.HighSeverity("api", true, "fault-rate"))
	}
	// Deployments that share an account and region never share a name.
	all := map[string]Names{}
	for _, n := range []Names{{"orders", "alpha", ""}, {"orders", "beta", ""}, {"orders", "gamma", ""}, {"orders", "prod", ""}, {"orders", "prod", "use1-az1"}, {"orders", "prod", "use1-az2"}} {
		for _, name := range []string{n.Aggregate(), n.OneBox(), n.Bake(false), n.Bake(true), n.LowTraffic(false), n.LowTraffic(true), n.HighSeverity("api", false, "fault-rate")} {
			prev, dup := all[name]
			assert.False(t, dup, "%s is made by %+v and %+v", name, prev, n)
			all[name] = n
		}
	}
	for _, ok := range []string{"orders", "a", "team-2"} {
		assert.True(t, ValidName(ok), ok)
	}
	for _, bad := range []string{"", "Orders", "2team", "team_x", strings.Repeat("a", 41), "a b"} {
		assert.False(t, ValidName(bad), bad)
	}
	err := Names{Team: "Bad", Environment: "", Cell: "use1_az1"}.Validate()
	for _, want := range []string{`Names.Team "Bad"`, `Names.Environment ""`, `Names.Cell "use1_az1"`} {
		assert.ErrorContains(t, err, want)
	}
}

func TestServiceSpecValidate(t *testing.T) {
	cases := []struct {
		name string
		spec ServiceSpec
		want []string // substrings, all must appear; none means valid
	}{
		{"valid lambda", ServiceSpec{Name: "api", Preset: PresetLambda, FaultRate: &Threshold{Value: 1}, LatencyP99: &Threshold{Value: 500}}, nil},
		{"valid custom metric", ServiceSpec{Name: "worker", Metrics: map[Signal]Metric{SignalCPU: {Namespace: "Custom", Name: "Cpu"}}, CPU: &Threshold{Value: 80}}, nil},
		{"no alarm", ServiceSpec{Name: "api", Preset: PresetLambda}, []string{"declares no alarm"}},
		{"bad name", ServiceSpec{Name: "API", Preset: PresetLambda, FaultRate: &Threshold{Value: 1}}, []string{`Name "API"`}},
		{"every problem at once", ServiceSpec{
			Name: "api", Preset: PresetLambda,
			FaultRate:  &Threshold{Value: -1},
			CPU:        &Threshold{Value: 80},
			LatencyP50: &Threshold{Value: 100, EvaluationPeriods: 2, DatapointsToAlarm: 3},
			LatencyP90: &Threshold{Value: 100, Period: 45 * time.Second},
			LogErrors:  &LogErrors{},
			Anomaly:    &AnomalyGuard{},
		}, []string{
			"FaultRate.Value is -1",
			`CPU is set but preset "lambda" has no "cpu" metric`,
			"LatencyP50.DatapointsToAlarm is 3",
			"LatencyP90.Period is 45s",
			"LogErrors.LogGroupName is empty",
			"LogErrors.Threshold.Value is 0",
			"Anomaly.MinRequests is 0",
		}},
		{"fault rate needs requests", ServiceSpec{Name: "ecs", Preset: PresetECS, Metrics: map[Signal]Metric{SignalFaults: {Namespace: "X", Name: "F"}}, FaultRate: &Threshold{Value: 1}}, []string{`FaultRate needs a "requests" metric`}},
		{"evaluation window over a day", ServiceSpec{Name: "api", Preset: PresetLambda, LatencyP99: &Threshold{Value: 1, Period: 30 * time.Minute, EvaluationPeriods: 49, DatapointsToAlarm: 1}}, []string{"over CloudWatch's 24h0m0s"}},
		{"hourly periods may span a week", ServiceSpec{Name: "api", Preset: PresetLambda, LatencyP99: &Threshold{Value: 1, Period: time.Hour, EvaluationPeriods: 48, DatapointsToAlarm: 1}}, nil},
		{"20-second period", ServiceSpec{Name: "api", Preset: PresetLambda, LatencyP99: &Threshold{Value: 1, Period: 20 * time.Second}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.Validate()
			if len(c.want) == 0 {
				assert.NoError(t, err)
				return
			}
			if assert.Error(t, err) {
				for _, w := range c.want {
					assert.Contains(t, err.Error(), w)
				}
				assert.Contains(t, err.Error(), fmt.Sprintf("service %q", c.spec.Name))
			}
		})
	}
}
