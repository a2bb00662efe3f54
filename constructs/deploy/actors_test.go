package deploy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/internal/iameval"
)

// The runtime actors of this package — the alias controller and the ramp
// driver — run in these tests as written, under Node.js against moto
// (lambda_controller_test.go, ramp_test.go). Every AWS SDK call they make
// there is recorded (recorderJS, preloaded with node -r) and, once the
// tests have run, checked against the role this package synthesizes for
// the actor (TestMain, checkActorCalls): a call added to the code without
// its grant fails the test binary, naming the actor, the call and the
// resource.

// recorderJS wraps the send of every AWS SDK client the actors use and
// appends each call (service, operation, input) to $SAFEPIPE_CALLS.
const recorderJS = `const fs = require("fs");
const seen = new Set();
for (const m of ["@aws-sdk/client-lambda", "@aws-sdk/client-ssm", "@aws-sdk/client-cloudwatch"]) {
  const C = require(m);
  for (const [k, v] of Object.entries(C)) {
    if (!k.endsWith("Client") || typeof v !== "function" || !v.prototype) continue;
    const proto = Object.getPrototypeOf(v.prototype);
    if (!proto || seen.has(proto) || typeof proto.send !== "function") continue;
    seen.add(proto);
    const send = proto.send;
    proto.send = function (cmd, ...rest) {
      fs.appendFileSync(process.env.SAFEPIPE_CALLS, JSON.stringify({ service: this.config.serviceId, op: cmd.constructor.name.replace(/Command$/, ""), input: cmd.input }) + "\n");
      return send.call(this, cmd, ...rest);
    };
  }
}
`

// The actors, by the file their calls are recorded in.
const (
	actorAliasController = "alias-controller"
	actorRampDriver      = "ramp-driver"
)

// sdkCall is one recorded call.
type sdkCall struct {
	Service string         `json:"service"`
	Op      string         `json:"op"`
	Input   map[string]any `json:"input"`
}

// observed are the calls of every actor in this test binary's run.
var observed = struct {
	sync.Mutex
	calls map[string][]sdkCall
}{calls: map[string][]sdkCall{}}

// recordCalls writes the recorder into dir and returns the node arguments
// and environment that record an actor's calls there; t's cleanup adds
// them to observed.
func recordCalls(t *testing.T, dir, actor string) (args, env []string) {
	t.Helper()
	rec := filepath.Join(dir, "record.js")
	if _, err := os.Stat(rec); err != nil {
		if err := os.WriteFile(rec, []byte(recorderJS), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, actor+".calls.jsonl")
	return []string{"-r", rec}, []string{"SAFEPIPE_CALLS=" + file}
}

// collectCalls adds the calls recorded in dir to observed (run before the
// directory is removed).
func collectCalls(t *testing.T, dir string) {
	for _, actor := range []string{actorAliasController, actorRampDriver} {
		f, err := os.Open(filepath.Join(dir, actor+".calls.jsonl"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Error(err)
			continue
		}
		s := bufio.NewScanner(f)
		s.Buffer(nil, 1<<20)
		observed.Lock()
		for s.Scan() {
			var c sdkCall
			if err := json.Unmarshal(s.Bytes(), &c); err != nil {
				t.Errorf("%s: a recorded call: %v", actor, err)
				continue
			}
			observed.calls[actor] = append(observed.calls[actor], c)
		}
		observed.Unlock()
		f.Close()
	}
}

func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := m.Run()
	if code == 0 && len(observed.calls) == 0 {
		fmt.Fprintln(os.Stderr, "note: no runtime actor ran against moto here (node, @aws-sdk or moto_server missing, or -run excluded them): their roles were not checked against their calls")
	}
	if code == 0 && len(observed.calls) > 0 {
		if err := checkActorCalls(); err != nil {
			fmt.Fprintf(os.Stderr, "--- FAIL: runtime actors' calls against their synthesized roles\n%v\nFAIL\n", err)
			code = 1
		}
	}
	jsii.Close()
	os.Exit(code)
}

// The moto world the calls were made in (internal/mototest).
const (
	motoAccount = "123456789012"
	motoRegion  = "us-west-2"
)

// checkActorCalls synthesizes a stack with the function the moto tests
// deploy ("orders"), an alias controller with a ledger and a ramp, and
// evaluates every observed call against the role of the actor that made
// it; and checks that EventBridge may invoke the ramp driver.
func checkActorCalls() error {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Svc"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String(motoAccount), Region: jsii.String(motoRegion)},
	})
	fn := awslambda.NewFunction(stack, jsii.String("Orders"), &awslambda.FunctionProps{
		FunctionName: jsii.String("orders"),
		Runtime:      awslambda.Runtime_NODEJS_LATEST(), Handler: jsii.String("index.h"),
		Code: awslambda.Code_FromInline(jsii.String("exports.h=async()=>1")),
	})
	alarm := awscloudwatch.NewAlarm(stack, jsii.String("Aggregate"), &awscloudwatch.AlarmProps{
		AlarmName: jsii.String(rampAlarm), Metric: fn.MetricErrors(nil), Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
	})
	ctl := NewAliasController(stack, jsii.String("Live"), &AliasControllerProps{
		Function: fn, AliasName: "live", Version: fn.CurrentVersion(), Mode: AliasCanary, Percent: 10, Ledger: "orders-service",
		Ramp: &Ramp{Steps: []RampStep{{After: time.Hour, Percent: 100}}, Alarm: alarm},
	})
	if err := ctl.Err(); err != nil {
		return err
	}
	raw := assertions.Template_FromStack(stack, nil).ToJSON()
	b, err := json.Marshal(raw)
	if err != nil {
		return err
	}
	var tpl iameval.Template
	if err := json.Unmarshal(b, &tpl); err != nil {
		return err
	}
	fnArn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:orders", motoRegion, motoAccount)
	env := iameval.Env{Partition: "aws", Account: motoAccount, Region: motoRegion, Refs: map[string]string{}}
	roles := map[string]string{}
	var errs []error
	for id, r := range tpl.Resources {
		switch r.Type {
		case "AWS::Lambda::Function":
			d, _ := r.Properties["Description"].(string)
			role, _ := r.Properties["Role"].(map[string]any)["Fn::GetAtt"].([]any)
			switch {
			case r.Properties["FunctionName"] == "orders":
				env.Refs[id], env.Refs[id+".Arn"] = "orders", fnArn
			case strings.Contains(d, "points Lambda aliases"):
				roles[actorAliasController] = role[0].(string)
			case strings.Contains(d, "raises a canary's share"):
				roles[actorRampDriver] = role[0].(string)
			}
		case "AWS::SSM::Parameter":
			env.Refs[id] = rampState
		}
	}
	for actor, calls := range observed.calls {
		roleID, ok := roles[actor]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no role of it in the synthesized stack", actor))
			continue
		}
		stmts, err := tpl.RoleStatements(roleID, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		seen := map[string]bool{}
		for _, c := range calls {
			req, err := iamRequest(c, fnArn)
			if errors.Is(err, errOtherFunction) {
				continue // a test's call on a function the stack does not have (TestAliasControllerReportsFailure)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", actor, err))
				continue
			}
			if seen[req.String()] {
				continue
			}
			seen[req.String()] = true
			if ok, why := iameval.Allowed(stmts, req); !ok {
				errs = append(errs, fmt.Errorf("%s calls %s: its role %s does not allow it (%s)", actor, req, roleID, why))
			}
		}
	}
	// EventBridge invokes the driver: "events.amazonaws.com" with the
	// rule's ARN as source (AWS::Lambda::Permission).
	invoked := false
	for _, r := range tpl.Resources {
		if r.Type == "AWS::Lambda::Permission" && r.Properties["Principal"] == "events.amazonaws.com" && r.Properties["SourceArn"] != nil {
			invoked = true
		}
	}
	if !invoked {
		errs = append(errs, errors.New("ramp-driver: no permission lets EventBridge invoke it"))
	}
	return errors.Join(errs...)
}

var errOtherFunction = errors.New("a call on another function")

// iamRequest is the IAM request an SDK call makes: the action is the
// service prefix and the operation; the resource is what the service
// authorization reference names for it.
func iamRequest(c sdkCall, fnArn string) (iameval.Call, error) {
	str := func(k string) string { s, _ := c.Input[k].(string); return s }
	switch c.Service {
	case "Lambda":
		if !slices.Contains([]string{"GetAlias", "CreateAlias", "UpdateAlias", "GetFunctionConfiguration"}, c.Op) {
			break
		}
		arn := str("FunctionName")
		if !strings.HasPrefix(arn, "arn:") {
			arn = strings.TrimSuffix(fnArn, ":function:orders") + ":function:" + arn
		}
		if arn != fnArn {
			return iameval.Call{}, errOtherFunction
		}
		if q := str("Qualifier"); q != "" {
			arn += ":" + q
		}
		return iameval.Call{Action: "lambda:" + c.Op, Resource: arn}, nil
	case "SSM":
		if c.Op != "GetParameter" && c.Op != "PutParameter" {
			break
		}
		return iameval.Call{Action: "ssm:" + c.Op, Resource: fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", motoRegion, motoAccount, strings.TrimPrefix(str("Name"), "/"))}, nil
	case "CloudWatch":
		if c.Op != "DescribeAlarms" {
			break
		}
		// Composite alarms are returned only to DescribeAlarms on "*"
		// (API_DescribeAlarms).
		return iameval.Call{Action: "cloudwatch:DescribeAlarms", Resource: "*"}, nil
	}
	return iameval.Call{}, fmt.Errorf("%s %s: no IAM mapping for this call yet (add it to iamRequest, with the service authorization reference's resource)", c.Service, c.Op)
}
