package deploy

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"

	"github.com/safepipe/safepipe/alarms"
)

// MaxDeploymentAlarms is the number of alarms a CodeDeploy deployment
// group (and an ECS deployment) takes by default.
const MaxDeploymentAlarms = 10

// deploymentAlarms picks what CodeDeploy or ECS watches during a
// deployment. By default the metric alarms themselves: CodeDeploy and ECS
// document metric alarms, and a deployment service that looked up a
// composite alarm as a metric alarm would not find it. With composite, the
// one-box and aggregate composites (no limit on the number of children).
func deploymentAlarms(field string, a alarms.RollbackAlarms, oneBox, composite bool) ([]awscloudwatch.IAlarm, error) {
	var out []awscloudwatch.IAlarm
	if composite {
		if oneBox {
			out = append(out, a.OneBox())
		}
		return append(out, a.Aggregate()), nil
	}
	if oneBox {
		out = append(out, a.OneBoxMetricAlarms()...)
	}
	out = append(out, a.MetricAlarms()...)
	if len(out) > MaxDeploymentAlarms {
		return nil, fmt.Errorf("deploy: %s: the deployment would watch %d metric alarms, over the %d a deployment takes; declare fewer high-severity alarms or set CompositeAlarms (after checking composite alarms work with the service in your account)", field, len(out), MaxDeploymentAlarms)
	}
	return out, nil
}

// refs converts alarms for CodeDeploy's props.
func refs(as []awscloudwatch.IAlarm) *[]interfacesawscloudwatch.IAlarmRef {
	out := make([]interfacesawscloudwatch.IAlarmRef, len(as))
	for i, a := range as {
		out[i] = a
	}
	return &out
}
