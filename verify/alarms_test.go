package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyAssembly copies an assembly fixture into a temp dir, editing each
// file's text.
func copyAssembly(t *testing.T, src string, edit func(rel, s string) string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(target), 0o755))
		return os.WriteFile(target, []byte(edit(filepath.ToSlash(rel), string(b))), 0o644)
	})
	require.NoError(t, err)
	return dir
}

// TestAggregateByRole: the aggregate role goes to what an alarm does, never
// to its name.
func TestAggregateByRole(t *testing.T) {
	// Renamed everywhere: still the aggregate, by what it ORs.
	dir := copyAssembly(t, "testdata/assembly-pass", func(_, s string) string {
		return strings.ReplaceAll(s, "orders-aggregate-rollback", "orders-prod-use1-health")
	})
	rep, err := Assembly(dir, nil)
	require.NoError(t, err)
	assert.Empty(t, rep.Findings)

	// An AND composite is in ALARM only when all its children are: it
	// does not play the role, nor do the bake composites built on it.
	dir = copyAssembly(t, "testdata/assembly-pass", func(rel, s string) string {
		if !strings.Contains(rel, "Prod-W1-") || !strings.HasSuffix(rel, ".template.json") {
			return s
		}
		var tpl map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &tpl))
		agg := tpl["Resources"].(map[string]any)["AggregateAlarm"].(map[string]any)["Properties"].(map[string]any)
		agg["AlarmRule"] = map[string]any{"Fn::Join": []any{"", []any{"ALARM(\"", map[string]any{"Fn::GetAtt": []any{"ApiFaultRate", "Arn"}}, "\") AND ALARM(\"", map[string]any{"Fn::GetAtt": []any{"LowTraffic", "Arn"}}, "\")"}}}
		b, _ := json.Marshal(tpl)
		return string(b)
	})
	rep, err = Assembly(dir, nil)
	require.NoError(t, err)
	got := rulesOf(rep)
	assert.Equal(t, 1, got[RuleAggregate], "%+v", rep.Findings)
	assert.Equal(t, 2, got[RuleBlocker], "Prod-W1-OneBox and Prod-W1-Regional block on an alarm that is not the aggregate")
	assert.Equal(t, 2, got[RuleBakeMissing])

	// The config can name it.
	rep, err = Assembly(dir, &Config{Aggregate: "^orders-aggregate-rollback$", BakeAlarm: "-bake$"})
	require.NoError(t, err)
	assert.Zero(t, rulesOf(rep)[RuleBlocker])
	assert.Zero(t, rulesOf(rep)[RuleBakeMissing])
}

// TestExternalAlarms: an alarm no stack creates passes the contract only
// when declared external with a reason, in the config or in metadata.
func TestExternalAlarms(t *testing.T) {
	rep, err := Assembly("testdata/assembly-fail-SP022", nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleAlarmContract: 2}, rulesOf(rep))

	rep, err = Assembly("testdata/assembly-fail-SP022", &Config{ExternalAlarms: []ExternalAlarm{
		{Alarm: "org-deployment-freeze", Region: "us-west-2", Reason: "the organisation's freeze alarm, owned by the platform team"},
		{Alarm: "orders-api-p99-latency", Account: "333333333333", Reason: "created by the observability stack"},
	}})
	require.NoError(t, err)
	assert.Empty(t, rep.Findings)

	withMetadata := func(decl string) string {
		return copyAssembly(t, "testdata/assembly-fail-SP022", func(rel, s string) string {
			if rel != "Pipeline.template.json" {
				return s
			}
			var tpl map[string]any
			require.NoError(t, json.Unmarshal([]byte(s), &tpl))
			var d any
			require.NoError(t, json.Unmarshal([]byte(decl), &d))
			res := tpl["Resources"].(map[string]any)["PipelineCodePipeline"].(map[string]any)
			res["Metadata"] = map[string]any{"safepipe:externalAlarms": d}
			b, _ := json.Marshal(tpl)
			return string(b)
		})
	}
	rep, err = Assembly(withMetadata(`[{"alarm": "org-deployment-freeze", "region": "us-west-2", "reason": "organisation freeze"}]`), nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleAlarmContract: 1}, rulesOf(rep), "the declared one passes, the other not")
	rep, err = Assembly(withMetadata(`[{"alarm": "org-deployment-freeze", "region": "us-west-2"}]`), nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleAlarmContract: 2, RuleSuppressionReason: 1}, rulesOf(rep), "no reason: ignored, and reported")
}

// TestTrafficFloorsAreNotHighSeverity: when no deployment watches alarms
// (safepipe's alias controller leaves rollback to the pipeline's gates),
// every metric alarm of the region counts as high severity, except floors
// on traffic: an alarm that fires when a metric falls below a threshold and
// treats missing data as breaching guards promotion, it is not a failure
// the aggregate must carry.
func TestTrafficFloorsAreNotHighSeverity(t *testing.T) {
	noDeploymentAlarms := func(floor bool) func(string, string) string {
		return func(rel, s string) string {
			if !strings.Contains(rel, "Prod-") || !strings.HasSuffix(rel, ".template.json") {
				return s
			}
			var tpl map[string]any
			require.NoError(t, json.Unmarshal([]byte(s), &tpl))
			res := tpl["Resources"].(map[string]any)
			for _, r := range res {
				props := r.(map[string]any)["Properties"].(map[string]any)
				delete(props, "AlarmConfiguration")
			}
			if low, ok := res["LowTraffic"]; ok && floor {
				low.(map[string]any)["Properties"].(map[string]any)["TreatMissingData"] = "breaching"
			}
			b, _ := json.Marshal(tpl)
			return string(b)
		}
	}
	dir := copyAssembly(t, "testdata/assembly-pass", noDeploymentAlarms(true))
	rep, err := Assembly(dir, nil)
	require.NoError(t, err)
	got := rulesOf(rep)
	assert.Zero(t, got[RuleAggregate]+got[RuleBlocker]+got[RuleBakeMissing], "%v", got)

	// A below-threshold alarm that does not treat missing data as
	// breaching may be a failure signal (availability below 99%): it
	// must be in the aggregate.
	dir = copyAssembly(t, "testdata/assembly-pass", noDeploymentAlarms(false))
	rep, err = Assembly(dir, nil)
	require.NoError(t, err)
	got = rulesOf(rep)
	assert.NotZero(t, got[RuleBlocker], "%v", got)
}

// TestAggregateByCells: a zonal service keeps one aggregate per AZ stack
// (alarm names are unique per region, and a composite can only OR alarms
// that exist, so no single composite can OR the alarms of AZ stacks deployed
// later). A gate that watches every cell's aggregate watches the region: the
// cells' pure-OR composites play the aggregate role together. Watching some
// of them does not.
func TestAggregateByCells(t *testing.T) {
	const cell2 = "orders-cell2-aggregate-rollback"
	fixture := func(watchEntry, watchBake, aggregate bool) string {
		return copyAssembly(t, "testdata/assembly-pass", func(rel, s string) string {
			switch {
			case strings.Contains(rel, "Prod-W1-") && strings.HasSuffix(rel, ".template.json"):
				// A second cell: its high-severity alarm, and its aggregate.
				var tpl map[string]any
				require.NoError(t, json.Unmarshal([]byte(s), &tpl))
				res := tpl["Resources"].(map[string]any)
				var db map[string]any
				b, _ := json.Marshal(res["ApiFaultRate"])
				require.NoError(t, json.Unmarshal(b, &db))
				db["Properties"].(map[string]any)["AlarmName"] = "orders-cell2-api-fault-rate"
				res["Cell2FaultRate"] = db
				// The second cell's deployment watches it.
				dg := res["DeploymentGroup"].(map[string]any)["Properties"].(map[string]any)["AlarmConfiguration"].(map[string]any)
				dg["Alarms"] = append(dg["Alarms"].([]any), map[string]any{"Name": map[string]any{"Ref": "Cell2FaultRate"}})
				if aggregate {
					res["Cell2Aggregate"] = map[string]any{"Type": "AWS::CloudWatch::CompositeAlarm", "Properties": map[string]any{
						"AlarmName": cell2,
						"AlarmRule": map[string]any{"Fn::Join": []any{"", []any{"(ALARM(\"", map[string]any{"Fn::GetAtt": []any{"Cell2FaultRate", "Arn"}}, "\"))"}}},
					}}
				}
				b, _ = json.Marshal(tpl)
				return string(b)
			case rel == "Pipeline.template.json":
				if watchEntry {
					s = strings.ReplaceAll(s, "us-east-1 orders-aggregate-rollback", `us-east-1 orders-aggregate-rollback\narn:aws:iam::333333333333:role/cdk-hnb659fds-lookup-role-333333333333-us-east-1 us-east-1 `+cell2)
				}
				if !watchBake {
					return s
				}
				var tpl map[string]any
				require.NoError(t, json.Unmarshal([]byte(s), &tpl))
				for _, r := range tpl["Resources"].(map[string]any) {
					if r.(map[string]any)["Type"] != "AWS::CodePipeline::Pipeline" {
						continue
					}
					for _, st := range r.(map[string]any)["Properties"].(map[string]any)["Stages"].([]any) {
						st := st.(map[string]any)
						if !strings.HasPrefix(st["Name"].(string), "Prod-W1-") {
							continue
						}
						cond := st["OnSuccess"].(map[string]any)["Conditions"].([]any)[0].(map[string]any)
						rules := cond["Rules"].([]any)
						var second map[string]any
						b, _ := json.Marshal(rules[0])
						require.NoError(t, json.Unmarshal(b, &second))
						second["Name"] = "Bake-us-east-1-cell2"
						second["Configuration"].(map[string]any)["AlarmName"] = cell2
						cond["Rules"] = append(rules, second)
					}
				}
				b, _ := json.Marshal(tpl)
				return string(b)
			}
			return s
		})
	}
	for _, tc := range []struct {
		name                         string
		watchEntry, watchBake, cell2 bool
		want                         map[string]int
	}{
		{"every cell's aggregate watched at entry and bake", true, true, true, map[string]int{}},
		{"the second cell not watched at entry", false, true, true, map[string]int{RuleBlocker: 2}},
		{"the second cell not watched in the bake", true, false, true, map[string]int{RuleBakeMissing: 2}},
		{"the second cell has no aggregate", false, false, false, map[string]int{RuleAggregate: 1, RuleBlocker: 2, RuleBakeMissing: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Assembly(fixture(tc.watchEntry, tc.watchBake, tc.cell2), nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, rulesOf(rep), "%+v", rep.Findings)
		})
	}
}
