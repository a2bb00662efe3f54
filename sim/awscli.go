package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// awsCLI answers the aws stand-in that scripts of safepipe-generated
// CodeBuild actions call, from the simulated state, formatting the output
// as the AWS CLI does (docs/aws-semantics.md Q7, Q16): --query runs on the
// response; --output text prints a JMESPath null as "None", a list of
// scalars tab-separated on one line, and a list of lists one per line;
// with --output text, --query and --max-items, a truncated paginated
// response gets an extra "None" line ("When --output text is combined
// with --query and a paginated response is truncated (for example via
// --max-items), the AWS CLI appends a stray None line to the output.",
// https://github.com/aws/aws-cli/issues/10449).
func (r *runner) awsCLI(sc *scriptRun, args []string, env map[string]string) (string, string, int) {
	var pos []string
	flags := map[string][]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			pos = append(pos, a)
			continue
		}
		name := strings.TrimPrefix(a, "--")
		switch name {
		case "no-cli-pager", "no-paginate", "debug":
			flags[name] = []string{"true"}
			continue
		}
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			i++
			flags[name] = append(flags[name], args[i])
		}
	}
	one := func(k string) string {
		if v := flags[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if len(pos) < 2 {
		return "", "aws: the simulator's stand-in needs SERVICE OPERATION\n", 252
	}
	account := r.p.Place.Account
	if key := env["AWS_ACCESS_KEY_ID"]; strings.HasPrefix(key, "ASIASIM") && len(key) >= 19 {
		account = key[7:19]
	}
	region := one("region")
	if region == "" {
		region = r.p.Place.Region
	}
	var resp any
	paginated, truncated := false, false
	switch pos[0] + " " + pos[1] {
	case "sts get-caller-identity":
		resp = map[string]any{"Account": account, "Arn": "arn:aws:sts::" + account + ":assumed-role/codebuild/sim", "UserId": "SIM"}
	case "sts assume-role":
		role := one("role-arn")
		m := roleAccountRE.FindStringSubmatch(role)
		if m == nil {
			return "", fmt.Sprintf("An error occurred (ValidationError) when calling the AssumeRole operation: %q is not a role ARN\n", role), 254
		}
		resp = map[string]any{"Credentials": map[string]any{"AccessKeyId": "ASIASIM" + m[1] + "0000", "SecretAccessKey": "sim", "SessionToken": "sim",
			"Expiration": fmtTime(r.now.Add(time.Hour))}}
	case "cloudwatch describe-alarms":
		// "If you omit this parameter, only metric alarms are returned, even
		// if composite alarms exist in the account."
		// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html, AlarmTypes)
		types := flags["alarm-types"]
		if len(types) == 0 {
			types = []string{"MetricAlarm"}
		}
		metric, composite := []any{}, []any{}
		for _, n := range flags["alarm-names"] {
			k := AlarmKey{Account: account, Region: region, Name: n}
			st := r.state(k)
			if st == "" {
				continue
			}
			item := map[string]any{"AlarmName": n, "StateValue": st}
			if d := r.alarms[k].def; d != nil && d.Composite {
				if slices.Contains(types, "CompositeAlarm") {
					composite = append(composite, item)
				}
			} else if slices.Contains(types, "MetricAlarm") {
				metric = append(metric, item)
			}
		}
		resp = map[string]any{"MetricAlarms": metric, "CompositeAlarms": composite}
	case "codepipeline get-pipeline-state":
		resp = r.pipelineState(sc)
	case "codepipeline list-pipeline-executions":
		all := r.history()
		paginated = true
		if n, err := strconv.Atoi(one("max-items")); err == nil && n > 0 && n < len(all) {
			all, truncated = all[:n], true
		}
		out := map[string]any{"pipelineExecutionSummaries": all}
		if truncated {
			out["NextToken"] = "sim-next-token"
		}
		resp = out
	case "codepipeline get-pipeline-execution":
		id := one("pipeline-execution-id")
		for _, e := range r.history() {
			if e.(map[string]any)["pipelineExecutionId"] == id {
				resp = map[string]any{"pipelineExecution": e}
			}
		}
		if resp == nil {
			return "", fmt.Sprintf("An error occurred (PipelineExecutionNotFoundException) when calling the GetPipelineExecution operation: %s\n", id), 254
		}
	default:
		return "", fmt.Sprintf("aws %s %s: not modelled by the simulator's stand-in\n", pos[0], pos[1]), 252
	}
	// Round-trip through JSON so that the query sees plain JSON values.
	b, _ := json.Marshal(resp)
	var v any
	_ = json.Unmarshal(b, &v)
	q := one("query")
	if q != "" {
		n, err := parseJmes(q)
		if err != nil {
			return "", fmt.Sprintf("Bad value for --query %s: %v\n", q, err), 252
		}
		v = evalJmes(n, v)
	}
	if one("output") == "text" {
		out := textOutput(v)
		if paginated && truncated && q != "" {
			out += "None\n"
		}
		return out, "", 0
	}
	j, _ := json.MarshalIndent(v, "", "    ")
	return string(j) + "\n", "", 0
}

func textOutput(v any) string {
	scalar := func(x any) string {
		switch y := x.(type) {
		case nil:
			return "None"
		case string:
			return y
		case bool:
			return strconv.FormatBool(y)
		case float64:
			return strconv.FormatFloat(y, 'f', -1, 64)
		}
		b, _ := json.Marshal(x)
		return string(b)
	}
	switch x := v.(type) {
	case []any:
		var lines []string
		var row []string
		for _, e := range x {
			if sub, ok := e.([]any); ok {
				var cells []string
				for _, c := range sub {
					cells = append(cells, scalar(c))
				}
				lines = append(lines, strings.Join(cells, "\t"))
			} else {
				row = append(row, scalar(e))
			}
		}
		if len(row) > 0 {
			lines = append([]string{strings.Join(row, "\t")}, lines...)
		}
		if len(lines) == 0 {
			return ""
		}
		return strings.Join(lines, "\n") + "\n"
	case map[string]any:
		var cells []string
		for _, k := range slices.Sorted(mapsKeys(x)) {
			cells = append(cells, scalar(x[k]))
		}
		return strings.Join(cells, "\t") + "\n"
	}
	return scalar(v) + "\n"
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// history is the pipeline's executions, newest first: the run's own, the
// baseline that deployed what ran before, and Options.Executions older
// ones.
func (r *runner) history() []any {
	var out []any
	for i := len(r.execs) - 1; i >= 0; i-- {
		e := r.execs[i]
		out = append(out, map[string]any{"pipelineExecutionId": e.id, "status": e.status, "executionType": e.kind})
	}
	for i := 0; i <= r.opts.Executions; i++ {
		out = append(out, map[string]any{"pipelineExecutionId": fmt.Sprintf("exec-earlier-%d", i), "status": "Succeeded", "executionType": execStandard})
	}
	return out
}

// pipelineState is GetPipelineState: per stage, its latest execution and
// the latest execution of each action (a running script's build ID is its
// externalExecutionId).
func (r *runner) pipelineState(sc *scriptRun) map[string]any {
	var stages []any
	for _, st := range r.p.Stages {
		var last *stageRun
		for _, sr := range r.runs {
			if sr.st == st {
				last = sr
			}
		}
		s := map[string]any{"stageName": st.Name, "inboundExecutions": []any{}}
		if last != nil {
			status := "InProgress"
			switch last.result {
			case "Succeeded":
				status = "Succeeded"
			case "Failed", "RolledBack", "Refused":
				status = "Failed"
			}
			s["latestExecution"] = map[string]any{"pipelineExecutionId": last.exec.id, "status": status, "type": last.exec.kind}
			var acts []any
			for _, ar := range last.actions {
				le := map[string]any{"status": ar.status}
				if ar.script != nil {
					le["externalExecutionId"] = ar.script.buildID
				}
				acts = append(acts, map[string]any{"actionName": ar.a.Name, "latestExecution": le})
			}
			s["actionStates"] = acts
		}
		stages = append(stages, s)
	}
	return map[string]any{"pipelineName": r.p.Name, "stageStates": stages}
}
