package iameval

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tpl = `{"Resources": {
  "R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r", "AssumeRolePolicyDocument": {},
    "Policies": [{"PolicyName": "inline", "PolicyDocument": {"Statement": [
      {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Fn::Sub": "cdk-q-assets-${AWS::AccountId}-${AWS::Region}"}, "/abc.zip"]]}}]}}]}},
  "P": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "R"}], "PolicyDocument": {"Statement": [
    {"Effect": "Allow", "Action": ["cloudwatch:Describe*"], "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}},
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/safepipe-watch-p"},
    {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"},
    {"Effect": "Deny", "Action": "ssm:GetParameter", "Resource": "arn:aws:ssm:*:*:parameter/secret/*"},
    {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"NumericLessThan": {"aws:x": "1"}}}]}}},
  "Other": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "Q"}], "PolicyDocument": {"Statement": [
    {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}}
}}`

func TestAllowed(t *testing.T) {
	var tt Template
	require.NoError(t, json.Unmarshal([]byte(tpl), &tt))
	env := Env{Partition: "aws", Account: "111111111111", Region: "us-east-1"}
	stmts, err := tt.RoleStatements("R", env)
	require.NoError(t, err)
	id, ok := tt.RoleByName("r", env)
	assert.True(t, ok)
	assert.Equal(t, "R", id)
	for _, c := range []struct {
		call Call
		want bool
	}{
		{Call{Action: "s3:GetObject", Resource: "arn:aws:s3:::cdk-q-assets-111111111111-us-east-1/abc.zip"}, true},
		{Call{Action: "s3:GetObject", Resource: "arn:aws:s3:::cdk-q-assets-111111111111-us-east-1/other.zip"}, false},
		{Call{Action: "S3:getobject", Resource: "arn:aws:s3:::cdk-q-assets-111111111111-us-east-1/abc.zip"}, true},
		{Call{Action: "cloudwatch:DescribeAlarms", Resource: "*", Context: map[string]string{"aws:RequestedRegion": "eu-west-1"}}, true},
		{Call{Action: "cloudwatch:DescribeAlarms", Resource: "*", Context: map[string]string{"aws:RequestedRegion": "ap-south-1"}}, false},
		{Call{Action: "cloudwatch:DescribeAlarms", Resource: "*"}, false},
		{Call{Action: "cloudwatch:PutMetricData", Resource: "*", Context: map[string]string{"aws:RequestedRegion": "eu-west-1"}}, false},
		{Call{Action: "sts:AssumeRole", Resource: "arn:aws:iam::333333333333:role/safepipe-watch-p"}, true},
		{Call{Action: "sts:AssumeRole", Resource: "arn:aws:iam::333333333333:role/safepipe-watch-p2"}, false},
		{Call{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:111111111111:parameter/safepipe/x"}, true},
		{Call{Action: "ssm:GetParameter", Resource: "arn:aws:ssm:us-east-1:111111111111:parameter/secret/x"}, false},
		{Call{Action: "kms:Decrypt", Resource: "*", Context: map[string]string{"aws:x": "0"}}, false},
		{Call{Action: "iam:CreateRole", Resource: "*"}, false},
	} {
		got, why := Allowed(stmts, c.call)
		assert.Equal(t, c.want, got, "%s: %s", c.call, why)
	}
	_, err = tt.RoleStatements("Nope", env)
	assert.Error(t, err)
}

func TestGlob(t *testing.T) {
	assert.True(t, glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c"))
	assert.True(t, glob("a?c", "abc"))
	assert.False(t, glob("a?c", "abbc"))
	assert.True(t, glob("arn:[x]", "arn:[x]"))
	assert.False(t, glob("arn:aws:s3:::b/a", "arn:aws:s3:::b/a/b"))
}
